"""mnist_lessons.widgets: the drawing pad, from Python and in a browser beside a live kernel."""

from __future__ import annotations

import base64
import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from itertools import pairwise
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from mnist_lessons.checks import ParameterError
from mnist_lessons.predict import prepare_image
from mnist_lessons.widgets import (
    TOP_K,
    DigitPad,
    draw_digit_pad,
    prepare_image_bytes,
)

from .browser import start_chromium
from .widget_drawings import STROKES, blank_png, draw_png, template_model


@pytest.fixture(scope="module")
def model():
    return template_model()


def send(pad: DigitPad, data: bytes, name: str = "drawing.png") -> None:
    """Does what the front end does: one state message with the file and a new request number.

    ``set_state`` is where ipywidgets delivers a front end's message; binary values arrive as
    memoryviews.
    """
    pad.set_state({"input_file": memoryview(data), "input_name": name, "request": pad.request + 1})


def decode_data_url(url: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url[len(prefix) :]))))


@pytest.mark.parametrize("digit", sorted(STROKES))
@pytest.mark.parametrize(
    "variation",
    [{}, {"scale": 0.5, "offset": (0.2, -0.15)}, {"width": 34, "scale": 1.2}, {"size": 500}],
    ids=["as-drawn", "small-off-centre", "thick", "large-canvas"],
)
def test_a_drawing_sent_by_the_front_end_is_prepared_and_classified(model, digit, variation):
    pad = DigitPad(model)
    png = draw_png(STROKES[digit], **variation)
    send(pad, png)

    assert pad.answered == pad.request == 1
    assert pad.message == ""
    assert pad.prediction is not None and pad.prediction.digit == digit
    assert len(pad.top) == TOP_K and pad.top[0][0] == digit
    assert pad.top == [[d, p] for d, p in pad.prediction.top(TOP_K)]
    probabilities = [p for _, p in pad.top]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1 + 1e-6
    expected = prepare_image(np.asarray(Image.open(io.BytesIO(png))))
    np.testing.assert_allclose(pad.prepared, expected, atol=1e-6)
    shown = decode_data_url(pad.image)
    assert shown.shape == (28, 28) and shown.dtype == np.uint8
    np.testing.assert_array_equal(shown, np.round(expected * 255).astype(np.uint8))


def test_each_request_is_answered_even_when_the_file_is_unchanged(model):
    pad = DigitPad(model)
    png = draw_png(STROKES[7])
    for number in (1, 2, 3):
        send(pad, png)
        assert pad.answered == number and pad.prediction.digit == 7


def test_a_blank_canvas_shows_the_message_instead_of_raising(model):
    pad = DigitPad(model)
    send(pad, draw_png(STROKES[1]))
    send(pad, blank_png())
    assert pad.message.startswith("The image is blank")
    assert pad.top == [] and pad.image == ""
    assert pad.prediction is None and pad.prepared is None
    assert pad.answered == 2


def test_clearing_empties_the_result(model):
    pad = DigitPad(model)
    send(pad, draw_png(STROKES[0]))
    assert pad.top
    send(pad, b"", name="")
    assert (pad.top, pad.image, pad.message, pad.prediction) == ([], "", "", None)
    assert pad.answered == 2


def test_an_uploaded_photo_is_prepared_as_the_same_file_by_path(model, tmp_path):
    drawn = Image.open(io.BytesIO(draw_png(STROKES[7], size=400, scale=0.7, offset=(0.1, 0.1))))
    path = tmp_path / "seven.jpg"
    drawn.convert("RGB").save(path, quality=85)
    pad = DigitPad(model)
    send(pad, path.read_bytes(), name="seven.jpg")
    assert pad.prediction.digit == 7 and pad.message == ""
    np.testing.assert_allclose(pad.prepared, prepare_image(path), atol=1e-6)


def test_an_unreadable_upload_shows_the_image_error_naming_the_file(model):
    pad = DigitPad(model)
    send(pad, b"this is not an image", name="notes.png")
    assert pad.message.startswith("Cannot read notes.png as an image")
    assert "Use a PNG or JPEG file" in pad.message
    assert "digit-pad-" not in pad.message  # the temporary folder is not shown
    assert pad.prediction is None and pad.top == []


def test_classify_from_python_returns_the_prediction(model):
    pad = draw_digit_pad(model, size=200)
    assert pad.size == 200
    prediction = pad.classify(draw_png(STROKES[1]))
    assert prediction is pad.prediction and prediction.digit == 1
    assert pad.answered == 0  # no front-end request was answered


def test_any_object_with_a_keras_style_predict_method_is_a_model():
    class AlwaysFour:
        def predict(self, batch, verbose=0):
            assert batch.shape[1:] == (28, 28, 1) and batch.dtype == np.float32
            probabilities = np.full((len(batch), 10), 0.02, np.float32)
            probabilities[:, 4] = 0.82
            return probabilities

    pad = DigitPad(AlwaysFour())
    send(pad, draw_png(STROKES[0]))
    assert pad.top[0] == [4, pytest.approx(0.82)]


def test_prepare_image_bytes_matches_prepare_image_on_the_file(tmp_path):
    png = draw_png(STROKES[0])
    (tmp_path / "zero.png").write_bytes(png)
    np.testing.assert_array_equal(
        prepare_image_bytes(png, "zero.png"), prepare_image(tmp_path / "zero.png")
    )
    with pytest.raises(TypeError, match="data must be the bytes of an image file"):
        prepare_image_bytes(str(tmp_path / "zero.png"))


def test_bad_arguments_say_what_was_wrong(model):
    with pytest.raises(TypeError, match="model must be a trained classifier with a predict"):
        DigitPad("three_conv_dense64")
    with pytest.raises(ParameterError, match="size must be an integer from 112 to 1024"):
        DigitPad(model, size=50)


def test_the_output_has_a_stable_text_fallback_for_static_pages(model):
    data, _ = DigitPad(model)._repr_mimebundle_()
    assert data["text/plain"] == DigitPad.STATIC_TEXT
    assert "Jupyter or Colab" in data["text/plain"]
    assert "model_id" in data["application/vnd.jupyter.widget-view+json"]


def test_the_front_end_names_every_element_tests_look_for():
    from mnist_lessons import widgets

    for name in (
        "digit-pad-canvas",
        "digit-pad-prediction",
        "digit-pad-clear",
        "digit-pad-upload",
        "digit-pad-preview",
        "digit-pad-message",
    ):
        assert f'"{name}"' in widgets._ESM, name
    assert "__THROTTLE_MS__" not in widgets._ESM


# --- In a browser, beside a live kernel --------------------------------------------------------


@pytest.fixture(scope="module")
def trained_model_path(mnist, tmp_path_factory) -> Path:
    """The fast-training chapter's network without batch normalisation, trained briefly (~97 %).

    Without batch normalisation because a few hundred steps leave its moving averages short of
    the data's statistics, and the model then scores poorly in inference mode.
    """
    from mnist_lessons.backend import keras
    from mnist_lessons.data import prepare_data
    from mnist_lessons.speedrun import RECIPE_99, build_fast_model
    from mnist_lessons.train import set_seed

    set_seed(0)
    data = prepare_data(mnist, validation_size=0, train_limit=12000)
    network = build_fast_model(RECIPE_99.changed(batch_norm=False))
    network.compile(
        optimizer=keras.optimizers.Adam(0.002),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    network.fit(data.x_train, data.y_train, batch_size=128, epochs=3, verbose=0)
    _, accuracy = network.evaluate(data.x_test, data.y_test, verbose=0)
    assert accuracy > 0.95, f"the pad's model reached only {accuracy:.1%} on the test set"
    path = tmp_path_factory.mktemp("model") / "pad.keras"
    network.save(path)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def lab(tmp_path, trained_model_path):
    """JupyterLab on 127.0.0.1 without a token, rooted in a temporary folder with pad.ipynb."""
    root = tmp_path / "root"
    root.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "from mnist_lessons.backend import keras\n"
            "from mnist_lessons.widgets import DigitPad\n\n"
            f"model = keras.saving.load_model({str(trained_model_path)!r})\n"
            "pad = DigitPad(model)\n"
            "pad"
        )
    ]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, root / "pad.ipynb")

    port = free_port()
    settings = tmp_path / "jupyter"
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(settings / "config"),
        "JUPYTER_RUNTIME_DIR": str(settings / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(settings / "lab-workspaces"),
    }
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("jupyter-lab")),
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.allow_root=True",  # CI runs as root
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if server.poll() is not None:
            raise AssertionError(f"JupyterLab exited: {(tmp_path / 'lab.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_for(answers, 120, "JupyterLab to answer")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def browser():
    driver = start_chromium(height=1200, logs=("browser",))
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def draw(driver, canvas, strokes, steps_per_segment: int = 6) -> None:
    """Draws polylines (0–1 canvas coordinates) on ``canvas`` with the mouse's pointer events."""
    from selenium.webdriver.common.action_chains import ActionChains

    width, height = canvas.size["width"], canvas.size["height"]
    for stroke in strokes:
        points = [stroke[0]]
        for (x0, y0), (x1, y1) in pairwise(stroke):
            points += [
                (x0 + (x1 - x0) * k / steps_per_segment, y0 + (y1 - y0) * k / steps_per_segment)
                for k in range(1, steps_per_segment + 1)
            ]
        # Offsets count from the element's centre; moves are relative, so keep whole pixels.
        pixels = [(round((x - 0.5) * width), round((y - 0.5) * height)) for x, y in points]
        actions = ActionChains(driver, duration=20)
        actions.move_to_element_with_offset(canvas, *pixels[0]).click_and_hold()
        for (x0, y0), (x1, y1) in pairwise(pixels):
            actions.move_by_offset(x1 - x0, y1 - y0)
        actions.release().perform()


def settled_prediction(driver, timeout: float = 120) -> str:
    """The prediction's text once Python has answered every request the pad sent."""
    script = (
        "const pad = document.querySelector('.digit-pad');"
        "if (!pad || pad.dataset.busy !== 'false') return null;"
        "const shown = pad.querySelector('.digit-pad-prediction').textContent;"
        "const message = pad.querySelector('.digit-pad-message').textContent;"
        "return shown || message ? [shown, message] : null;"
    )
    shown, message = wait_for(lambda: driver.execute_script(script), timeout, "a prediction")
    assert message == "", message
    return shown


@pytest.mark.slow
def test_drawing_on_the_pad_in_jupyterlab_shows_the_digit_clear_empties_it_upload_works(
    lab, browser, tmp_path
):
    from selenium.webdriver.common.by import By

    browser.get(f"{lab}/lab/tree/pad.ipynb")
    ready = (
        "const app = window.jupyterapp;"
        "const panel = app && app.shell.currentWidget;"
        "const kernel = panel && panel.sessionContext && panel.sessionContext.session"
        "  && panel.sessionContext.session.kernel;"
        "return !!(panel && panel.content && kernel && kernel.status === 'idle');"
    )
    wait_for(lambda: browser.execute_script(ready), 120, "the notebook and an idle kernel")
    browser.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    canvas = wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, ".digit-pad-canvas"), 180, "the pad"
    )[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    clear = browser.find_element(By.CSS_SELECTOR, ".digit-pad-clear")
    prediction = browser.find_element(By.CSS_SELECTOR, ".digit-pad-prediction")
    assert browser.find_element(By.CSS_SELECTOR, ".digit-pad-upload").is_displayed()

    for digit in (1, 0, 7):
        draw(browser, canvas, STROKES[digit])
        shown = settled_prediction(browser)
        if shown != str(digit):
            drawn = browser.execute_script("return arguments[0].toDataURL('image/png')", canvas)
            (tmp_path / f"drawn-{digit}.png").write_bytes(base64.b64decode(drawn.split(",")[1]))
            browser.save_screenshot(str(tmp_path / f"page-{digit}.png"))
        top = browser.find_element(By.CSS_SELECTOR, ".digit-pad-top").text.replace("\n", " ")
        assert shown == str(digit), f"drew {digit}, the pad shows {top}; see {tmp_path}"
        preview = browser.find_element(By.CSS_SELECTOR, ".digit-pad-preview")
        assert preview.get_attribute("src").startswith("data:image/png;base64,")
        assert len(browser.find_elements(By.CSS_SELECTOR, ".digit-pad-candidate")) == TOP_K
        clear.click()
        wait_for(
            lambda: browser.execute_script(
                "return document.querySelector('.digit-pad').dataset.busy === 'false'"
            ),
            60,
            "the pad to be cleared",
        )
        assert prediction.text == ""
        assert browser.find_elements(By.CSS_SELECTOR, ".digit-pad-candidate") == []

    photo = tmp_path / "seven.jpg"
    Image.open(io.BytesIO(draw_png(STROKES[7], size=600, scale=0.6))).save(photo, quality=85)
    browser.find_element(By.CSS_SELECTOR, ".digit-pad-file").send_keys(str(photo))
    assert settled_prediction(browser) == "7"


def test_a_rule_that_rejects_the_drawing_makes_the_pad_say_it_is_not_sure(model):
    from mnist_lessons.unfamiliar import RejectionRule

    doubtful = DigitPad(model, rule=RejectionRule("max_probability", 1.5, 0.01))
    send(doubtful, draw_png(STROKES[7]))
    assert doubtful.unsure == DigitPad.UNSURE_TEXT and doubtful.rejected
    assert doubtful.top and doubtful.prediction is not None  # the ranking is still there
    send(doubtful, b"")
    assert doubtful.unsure == "" and not doubtful.rejected

    sure = DigitPad(model, rule=RejectionRule("max_probability", 0.0, 0.01))
    send(sure, draw_png(STROKES[7]))
    assert sure.unsure == "" and not sure.rejected
    plain = DigitPad(model)
    send(plain, draw_png(STROKES[7]))
    assert plain.unsure == ""
    with pytest.raises(TypeError, match="rule must be a RejectionRule"):
        DigitPad(model, rule=0.9)

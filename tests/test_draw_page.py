"""The "Draw a digit" page: the ONNX export, the runtime's files, and the page in Chromium.

The fast tests export untrained models and check the runtime fetcher with fake tarballs. The slow
ones train a model on MNIST, build a one-page Jupyter Book holding book/draw.md with the book's
own configuration, and draw digits on the page with pointer events in headless Chromium.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import io
import json
import math
import re
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

from mnist_lessons.export import (
    MODEL_FILE,
    SCRIPT_FILE,
    export_for_page,
    export_onnx,
    float32_copy,
)
from mnist_lessons.predict import centre_digit

from .browser import build_book, start_chromium

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import fetch_onnxruntime  # noqa: E402

CANVAS = 280


def onnx_probabilities(path: Path, images: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28, 1)
    return session.run(None, {session.get_inputs()[0].name: batch})[0]


def digit_images(n: int = 16) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.random((n, 28, 28, 1), dtype=np.float32)


# --- the export (fast: untrained models) ---------------------------------------------------


def test_importing_the_export_module_does_not_import_keras():
    code = "import sys, mnist_lessons.export; print('keras' in sys.modules, 'onnx' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_exported_float32_model_gives_keras_probabilities(tmp_path):
    from mnist_lessons.models import build_model

    model = build_model("three_conv_dense64", precision="float32")
    path = export_onnx(model, tmp_path / "sub" / "m.onnx")
    assert path == tmp_path / "sub" / "m.onnx" and path.stat().st_size > 300_000
    images = digit_images()
    expected = model.predict(images, verbose=0)
    got = onnx_probabilities(path, images)
    assert got.shape == (16, 10) and got.dtype == np.float32
    assert np.abs(got - expected).max() <= 1e-4


def test_mixed_precision_model_is_exported_in_float32(tmp_path):
    import onnx

    from mnist_lessons.models import build_model, precision_of

    model = build_model("two_conv_dropout", precision="mixed_bfloat16")
    path = export_onnx(model, tmp_path / "m.onnx")
    graph = onnx.load(str(path)).graph
    bfloat16 = onnx.TensorProto.BFLOAT16
    assert not [
        node.name
        for node in graph.node
        if node.op_type == "Cast"
        and any(a.name == "to" and a.i == bfloat16 for a in node.attribute)
    ]
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert precision_of(model) == "mixed_bfloat16"  # the model itself is left as it was
    images = digit_images()
    float32 = float32_copy(model).predict(images, verbose=0)
    assert np.abs(onnx_probabilities(path, images) - float32).max() <= 1e-4


def test_export_for_page_writes_the_model_and_its_script(tmp_path):
    from mnist_lessons.models import build_model

    model = build_model("one_conv_wide_dense", precision="float32")
    page = export_for_page(model, tmp_path / "draw", name="one conv")
    assert page.onnx == tmp_path / "draw" / MODEL_FILE
    assert page.script == tmp_path / "draw" / SCRIPT_FILE
    text = page.script.read_text()
    assert text.splitlines()[1].startswith("window.digitModel = {")
    embedded = json.loads(text.splitlines()[1].removeprefix("window.digitModel = ").rstrip(";"))
    assert embedded["name"] == "one conv"
    assert base64.b64decode(embedded["base64"]) == page.onnx.read_bytes()
    assert page.size == page.onnx.stat().st_size


def test_export_for_page_carries_the_rejection_rule(tmp_path):
    from mnist_lessons.models import build_model
    from mnist_lessons.unfamiliar import RejectionRule

    model = build_model("one_conv_wide_dense", precision="float32")
    rule = RejectionRule("entropy", -1.25, 0.01)
    page = export_for_page(model, tmp_path / "draw", rule=rule)
    embedded = json.loads(
        page.script.read_text().splitlines()[1].removeprefix("window.digitModel = ").rstrip(";")
    )
    assert embedded["rejection"] == {"score": "entropy", "threshold": -1.25, "share": 0.01}
    without = export_for_page(model, tmp_path / "plain")
    assert '"rejection": null' in without.script.read_text()
    with pytest.raises(TypeError, match="rule must be a RejectionRule"):
        export_for_page(model, tmp_path / "bad", rule=0.5)


def test_the_committed_page_model_carries_a_rule_chosen_on_validation():
    text = (ROOT / "book" / "_static" / "draw" / SCRIPT_FILE).read_text()
    embedded = json.loads(text.splitlines()[1].removeprefix("window.digitModel = ").rstrip(";"))
    rejection = embedded["rejection"]
    assert rejection["score"] in ("max_probability", "entropy")
    assert rejection["share"] == 0.01
    # Minus an entropy in bits lies in [−log2 10, 0]; a maximum probability in [0.1, 1].
    low = -math.log2(10) if rejection["score"] == "entropy" else 0.1
    assert low < rejection["threshold"] < (0 if rejection["score"] == "entropy" else 1)


def test_export_refuses_what_it_cannot_export(tmp_path):
    from mnist_lessons.backend import keras
    from mnist_lessons.models import build_model

    with pytest.raises(TypeError, match="model must be a Keras model"):
        export_onnx("three_conv_dense64", tmp_path / "m.onnx")
    layers = keras.layers
    wide = keras.Sequential([keras.Input((32, 32, 3)), layers.Flatten(), layers.Dense(10)])
    with pytest.raises(ValueError, match=r"Received: input shape \(32, 32, 3\)"):
        export_onnx(wide, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="path must name an .onnx file"):
        export_onnx(build_model("three_conv_dense64", precision="float32"), tmp_path / "m.keras")
    assert not list(tmp_path.iterdir())


# --- the runtime's files (fast: fake tarballs) ---------------------------------------------


def fake_package(files: dict[str, bytes]):
    """A ``pack`` for `fetch_onnxruntime.fetch` writing a tarball of ``files`` under dist/."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(f"package/dist/{name}")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    data = buffer.getvalue()
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()

    def pack(spec, folder):
        assert spec == f"onnxruntime-web@{fetch_onnxruntime.VERSION}"
        (folder / "package.tgz").write_bytes(data)
        return folder / "package.tgz"

    return pack, integrity


RUNTIME = {
    "ort.wasm.min.js": b"var ort = {};",
    "ort-wasm-simd-threaded.mjs": b"export default function () {}",
    "ort-wasm-simd-threaded.wasm": b"\0asm\1\0\0\0",
}


def test_fetch_writes_the_runtime_and_its_embedded_copy(tmp_path):
    pack, integrity = fake_package(RUNTIME)
    target = fetch_onnxruntime.fetch(tmp_path, pack=pack, integrity=integrity)
    assert target == tmp_path / "draw" / "ort"
    for name, content in RUNTIME.items():
        assert (target / name).read_bytes() == content
    script = (target / fetch_onnxruntime.EMBEDDED).read_text()
    embedded = json.loads(script.splitlines()[-1].removeprefix("window.ortWasmEmbedded = ")[:-1])
    assert embedded["mjs"] == RUNTIME["ort-wasm-simd-threaded.mjs"].decode()
    assert base64.b64decode(embedded["wasm"]) == RUNTIME["ort-wasm-simd-threaded.wasm"]

    def no_second_pack(spec, folder):
        raise AssertionError("fetched again although the files were there")

    assert fetch_onnxruntime.fetch(tmp_path, pack=no_second_pack) == target


def test_fetch_refuses_a_tarball_with_another_checksum(tmp_path):
    pack, _ = fake_package(RUNTIME)
    with pytest.raises(fetch_onnxruntime.FetchError, match="does not match the pinned checksum"):
        fetch_onnxruntime.fetch(tmp_path, pack=pack)
    assert not (tmp_path / "draw").exists()


# --- the page in a browser (slow) ------------------------------------------------------------


def ellipse(cx, cy, rx, ry, start=0.0, turn=1.0, points=40):
    return [
        (
            cx + rx * math.sin(start + 2 * math.pi * turn * k / points),
            cy - ry * math.cos(start + 2 * math.pi * turn * k / points),
        )
        for k in range(points + 1)
    ]


# Each digit as a person might draw it on the 280×280 canvas: a list of strokes (polylines).
DIGITS = {
    0: [ellipse(140, 140, 55, 85)],
    1: [[(150, 50), (145, 140), (138, 230)]],
    2: [
        [(85, 100), (100, 65), (140, 50), (180, 65), (190, 100), (175, 135), (90, 225), (205, 225)]
    ],
    3: [
        [
            (85, 70),
            (130, 50),
            (180, 62),
            (185, 100),
            (140, 133),
            (185, 160),
            (190, 200),
            (150, 228),
            (88, 215),
        ]
    ],
    4: [[(105, 50), (88, 150), (205, 150)], [(172, 60), (172, 235)]],
    5: [
        [(188, 55), (100, 55), (92, 130), (140, 115), (185, 140), (190, 185), (160, 222), (95, 220)]
    ],
    6: [
        [
            (175, 55),
            (130, 80),
            (100, 130),
            (92, 180),
            (110, 220),
            (150, 228),
            (185, 200),
            (182, 160),
            (145, 140),
            (102, 162),
        ]
    ],
    7: [[(80, 60), (200, 60), (125, 235)]],
    8: [
        [
            (140 + 45 * math.sin(2 * t), 140 + 85 * math.sin(t))
            for t in np.linspace(0, 2 * math.pi, 49)
        ]
    ],
    9: [ellipse(140, 100, 45, 45, start=math.pi / 2, turn=-1.0), [(185, 100), (180, 235)]],
}


@pytest.fixture(scope="module")
def trained_model(mnist):
    """three_conv_dense64 after one epoch on 20,000 MNIST images, in the default precision."""
    from mnist_lessons.data import prepare_data
    from mnist_lessons.train import set_seed, train

    set_seed(0)
    data = prepare_data(mnist, validation_size=1000, train_limit=20000, seed=0)
    return train("three_conv_dense64", data, epochs=1, batch_size=64).model


@pytest.fixture(scope="module")
def page_rule(mnist, trained_model):
    """The rejection rule the page gets, chosen as the errors chapter chooses its own."""
    from mnist_lessons.data import prepare_data
    from mnist_lessons.unfamiliar import choose_rule

    data = prepare_data(mnist, validation_size=1000, train_limit=20000, seed=0)
    return choose_rule(trained_model, data.x_val, seed=2).rule


def spiral(turns: float = 2.0, points: int = 38):
    """A scribble: an open spiral from the middle of the canvas outwards."""
    return [
        (140 + (10 + 3 * k) * math.cos(k / 3), 140 + (10 + 3 * k) * math.sin(k / 3))
        for k in range(points)
    ]


def book_config() -> dict:
    """The book's _config.yml with what the drawing page needs added (see the report)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    sphinx_config = config["sphinx"]["config"]
    sphinx_config["html_static_path"] = ["book/_static", "_build/onnxruntime-web"]
    return config


@pytest.fixture(scope="module")
def site(tmp_path_factory, trained_model, page_rule):
    """A one-page book holding book/draw.md, built with the book's settings, warnings as errors.

    Returns ``(html folder, page model)``.
    """
    book = tmp_path_factory.mktemp("drawbook")
    (book / "book" / "_static").mkdir(parents=True)
    shutil.copytree(
        ROOT / "book" / "_static" / "draw",
        book / "book" / "_static" / "draw",
        ignore=shutil.ignore_patterns(MODEL_FILE, SCRIPT_FILE),
    )
    shutil.copy(ROOT / "book" / "draw.md", book / "book" / "draw.md")
    shutil.copytree(ROOT / "book" / "images", book / "book" / "images")
    shutil.copytree(ROOT / "tools" / "sphinx", book / "tools" / "sphinx")
    shutil.copy(ROOT / "references.bib", book / "references.bib")  # the config names it
    (book / "_config.yml").write_text(yaml.safe_dump(book_config()))
    (book / "_toc.yml").write_text("format: jb-book\nroot: book/draw\n")
    fetch_onnxruntime.fetch(book / "_build" / "onnxruntime-web")
    page_model = export_for_page(trained_model, book / "book" / "_static" / "draw", rule=page_rule)
    html = build_book(book)
    assert (html / "book" / "draw.html").is_file()
    return html, page_model


@pytest.fixture(scope="module")
def browser():
    driver = start_chromium(height=1600, logs=("browser", "performance"))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(120)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def server(site):
    html, _ = site

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def open_page(browser, url: str) -> float:
    """Opens the page, waits until the model is loaded; returns the milliseconds that took."""
    browser.get(url)
    browser.get_log("browser")  # start each page with an empty log
    return browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.digitPad.ready.then(() => done(window.digitPad.readyMs),"
        " (e) => done('failed: ' + e.message));"
    )


def draw(browser, strokes, pointer: str = "mouse") -> dict:
    """Draws ``strokes`` with pointer events; returns the page's input and probabilities."""
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    from selenium.webdriver.common.by import By

    canvas = browser.find_element(By.ID, "digit-canvas")
    kind = {
        "mouse": interaction.POINTER_MOUSE,
        "pen": interaction.POINTER_PEN,
        "touch": interaction.POINTER_TOUCH,
    }[pointer]
    for stroke in strokes:
        actions = ActionBuilder(browser, mouse=PointerInput(kind, pointer), duration=0)
        # Selenium's offsets are from the element's centre.
        offsets = [(round(x - CANVAS / 2), round(y - CANVAS / 2)) for x, y in stroke]
        actions.pointer_action.move_to(canvas, *offsets[0]).pointer_down()
        for dx, dy in offsets[1:]:
            actions.pointer_action.move_to(canvas, dx, dy)
        actions.pointer_action.pointer_up()
        actions.perform()
    return browser.execute_async_script(
        "const done = arguments[arguments.length - 1]; const pad = window.digitPad;"
        "pad.busy.then(() => done({"
        " input: pad.lastInput && Array.from(pad.lastInput),"
        " probabilities: pad.lastProbabilities && Array.from(pad.lastProbabilities),"
        " alpha: Array.from(pad.alpha()), ms: pad.lastInferenceMs,"
        " prediction: document.getElementById('digit-prediction').textContent,"
        " top: Array.from(document.querySelectorAll('#digit-top li')).map(li => li.textContent),"
        " rejected: pad.lastRejected,"
        " unsure: document.getElementById('digit-unsure').hidden ? ''"
        "   : document.getElementById('digit-unsure').textContent"
        "}));"
    )


def clear(browser):
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, "digit-clear").click()


def severe_log(browser) -> list:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.mark.slow
def test_page_prepares_strokes_as_python_does_and_predicts_as_onnxruntime(
    browser, server, site, trained_model
):
    _, page_model = site
    ready_ms = open_page(browser, f"{server}/book/draw.html")
    assert isinstance(ready_ms, float | int), ready_ms
    assert browser.find_element("id", "digit-prediction").text == ""
    for digit, pointer in ((2, "pen"), (8, "mouse"), (4, "touch")):
        shown = draw(browser, DIGITS[digit], pointer)
        alpha = np.array(shown["alpha"], dtype=np.float64).reshape(CANVAS, CANVAS)
        assert alpha.max() == 255, "the strokes left no ink on the canvas"
        page_input = np.array(shown["input"], dtype=np.float32).reshape(28, 28)
        python_input = centre_digit(alpha / 255)
        difference = np.abs(page_input - python_input).max()
        assert difference <= 1 / 255, digit

        probabilities = np.array(shown["probabilities"], dtype=np.float32)
        from_onnx = onnx_probabilities(page_model.onnx, page_input)[0]
        assert np.abs(probabilities - from_onnx).max() <= 1e-4
        from_keras = float32_copy(trained_model).predict(page_input[None, ..., None], verbose=0)
        assert np.abs(probabilities - from_keras[0]).max() <= 1e-4
        assert shown["prediction"] == str(int(probabilities.argmax()))
        assert len(shown["top"]) == 3 and shown["top"][0].startswith(shown["prediction"])
        print(
            f"\ndigit {digit} drawn with {pointer}: prediction {shown['prediction']}, "
            f"preparation and model {shown['ms']:.1f} ms, largest pixel difference from "
            f"centre_digit {difference:.1e}"
        )
        clear(browser)
    print(f"model loaded {ready_ms:.0f} ms after navigation; model {page_model.size:,} bytes")
    assert not severe_log(browser)


@pytest.mark.slow
def test_page_recognises_digits_drawn_as_a_person_would(browser, server):
    open_page(browser, f"{server}/book/draw.html")
    predictions = {}
    for digit, strokes in DIGITS.items():
        predictions[digit] = draw(browser, strokes)["prediction"]
        clear(browser)
    print("\ndrawn → predicted:", predictions)
    right = sum(predicted == str(digit) for digit, predicted in predictions.items())
    assert right >= 9, predictions


@pytest.mark.slow
@pytest.mark.parametrize("how", ["file", "http"])
def test_page_loads_the_model_and_predicts_without_errors(browser, server, site, how):
    html, _ = site
    url = (html / "book" / "draw.html").as_uri() if how == "file" else f"{server}/book/draw.html"
    ready_ms = open_page(browser, url)
    assert isinstance(ready_ms, float | int), ready_ms
    shown = draw(browser, DIGITS[7])
    print(
        f"\n{how}: model loaded {ready_ms:.0f} ms after navigation, first prediction "
        f"{shown['ms']:.0f} ms after the stroke ended: {ready_ms + shown['ms']:.0f} ms"
    )
    assert shown["prediction"] in list("0123456789")
    assert not severe_log(browser)
    clear(browser)


@pytest.mark.slow
def test_page_says_it_is_not_sure_about_a_scribble_and_sure_about_a_clear_digit(
    browser, server, page_rule
):
    from mnist_lessons.unfamiliar import confidence

    open_page(browser, f"{server}/book/draw.html")
    scribble = draw(browser, [spiral()])
    clear(browser)
    seven = draw(browser, DIGITS[7])
    clear(browser)
    print(
        f"\nrule: {page_rule.score} below {page_rule.threshold:.3f}; scribble "
        f"{confidence(np.array([scribble['probabilities']]), page_rule.score)[0]:.3f}, seven "
        f"{confidence(np.array([seven['probabilities']]), page_rule.score)[0]:.3f}"
    )
    assert scribble["rejected"] is True and scribble["unsure"] == "Not sure this is a digit."
    assert scribble["prediction"] in list("0123456789")  # the ranking is still shown
    assert seven["rejected"] is False and seven["unsure"] == "" and seven["prediction"] == "7"
    for shown in (scribble, seven):  # the page applies the rule as Python does
        rejected = page_rule.rejects(np.array([shown["probabilities"]], dtype=np.float64))[0]
        assert shown["rejected"] == bool(rejected)
    after = browser.execute_script(
        "return [window.digitPad.lastRejected, document.getElementById('digit-unsure').hidden]"
    )
    assert after == [None, True]  # clearing takes the doubt away too


@pytest.mark.slow
def test_clear_empties_the_canvas_and_the_prediction(browser, server):
    open_page(browser, f"{server}/book/draw.html")
    shown = draw(browser, DIGITS[0])
    assert shown["prediction"] != ""
    clear(browser)
    state = browser.execute_script(
        "return [document.getElementById('digit-prediction').textContent,"
        " document.querySelectorAll('#digit-top li').length,"
        " Math.max(...window.digitPad.alpha()), window.digitPad.lastInput];"
    )
    assert state == ["", 0, 0, None]


@pytest.mark.slow
def test_nothing_is_requested_from_another_machine(browser, server, site):
    html, _ = site
    page = (html / "book" / "draw.html").read_text()
    sources = re.findall(r"<(?:script|link)\b[^>]*\b(?:src|href)=\"([^\"]+)\"", page)
    assert any(src.endswith("ort.wasm.min.js") for src in sources)
    remote = [src for src in sources if re.match(r"(https?:)?//", src)]
    assert not remote, remote
    for script in (html / "_static" / "draw").glob("*.js"):
        assert not re.search(r"https?://", script.read_text()), script.name

    browser.get_log("performance")
    open_page(browser, f"{server}/book/draw.html")
    draw(browser, DIGITS[1])
    requested = set()
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.add(message["params"]["request"]["url"])
    assert any(url.endswith("ort-wasm-simd-threaded.wasm") for url in requested), requested
    elsewhere = [url for url in requested if not url.startswith((server, "data:", "blob:"))]
    assert not elsewhere, elsewhere
    assert not severe_log(browser)

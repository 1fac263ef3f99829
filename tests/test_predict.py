"""mnist_lessons.predict: a reader's own images, prepared as MNIST would have made them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mnist_lessons.predict import (
    ImageError,
    predict_digits,
    prepare_image,
    prepare_image_steps,
)


def centre_of_mass(image):
    ys, xs = np.indices(image.shape)
    return (ys * image).sum() / image.sum(), (xs * image).sum() / image.sum()


def correlation(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.fixture(scope="module")
def digits(mnist):
    (x_train, y_train), _ = mnist
    return x_train[:8], y_train[:8]


def redraw(digit, canvas=(300, 220), scale=7.0, offset=(40, 25), dark_on_light=True):
    """The MNIST digit drawn large, off-centre, on a bigger canvas, optionally dark on light."""
    big = Image.fromarray(digit).resize((int(28 * scale), int(28 * scale)), Image.BILINEAR)
    page = np.zeros(canvas, np.uint8)
    big = np.asarray(big)
    h, w = min(big.shape[0], canvas[0] - offset[0]), min(big.shape[1], canvas[1] - offset[1])
    page[offset[0] : offset[0] + h, offset[1] : offset[1] + w] = big[:h, :w]
    return 255 - page if dark_on_light else page


def test_output_is_mnist_shaped_and_centred(digits):
    prepared = prepare_image(redraw(digits[0][0]))
    assert prepared.shape == (28, 28) and prepared.dtype == np.float32
    assert prepared.min() >= 0.0 and prepared.max() == pytest.approx(1.0, abs=0.02)
    cy, cx = centre_of_mass(prepared)
    assert abs(cy - 14) <= 0.05 and abs(cx - 14) <= 0.05
    rows = np.flatnonzero(prepared.max(axis=1) > 0)
    cols = np.flatnonzero(prepared.max(axis=0) > 0)
    assert max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) in (20, 21)  # 20 + sub-pixel shift


@pytest.mark.parametrize(
    ("canvas", "scale", "offset", "dark_on_light"),
    [
        ((300, 220), 7.0, (40, 25), True),  # large, off-centre, dark ink on paper
        ((120, 400), 3.0, (10, 300), True),  # wide page, digit near the right edge
        ((64, 64), 1.5, (5, 12), False),  # small, already white on black
        ((500, 500), 12.0, (120, 90), False),
    ],
)
def test_redrawn_digits_come_back_like_the_original(digits, canvas, scale, offset, dark_on_light):
    for digit in digits[0]:
        prepared = prepare_image(redraw(digit, canvas, scale, offset, dark_on_light))
        assert correlation(prepared, digit / 255.0) > 0.85


def test_files_grey_rgb_jpeg_and_transparent_png(digits, tmp_path):
    digit = redraw(digits[0][1])
    reference = prepare_image(digit)
    Image.fromarray(digit).save(tmp_path / "grey.png")
    Image.fromarray(digit).convert("RGB").save(tmp_path / "rgb.jpg", quality=90)
    ink = Image.fromarray(255 - digit)  # alpha = ink, colour black: a drawing app's export
    rgba = Image.merge("RGBA", [Image.new("L", ink.size, 0)] * 3 + [ink])
    rgba.save(tmp_path / "transparent.png")
    for name in ("grey.png", "rgb.jpg", "transparent.png"):
        assert correlation(prepare_image(tmp_path / name), reference) > 0.97, name


def test_arrays_in_zero_to_one_and_with_channels(digits):
    digit = redraw(digits[0][2])
    reference = prepare_image(digit)
    np.testing.assert_allclose(prepare_image(digit / 255.0), reference, atol=0.02)
    rgb = np.repeat(digit[..., None], 3, axis=2)
    np.testing.assert_allclose(prepare_image(rgb), reference, atol=0.02)


def test_steps_are_returned_in_order(digits):
    steps = prepare_image_steps(redraw(digits[0][3]))
    assert list(steps) == ["grey", "white_on_black", "ink", "cropped", "boxed", "centred"]
    assert max(steps["boxed"].shape) == 20
    assert steps["white_on_black"][0, 0] < 10  # paper became black


def test_predictions_on_redrawn_digits(digits):
    class Oracle:
        """Predicts by nearest neighbour among the original digits."""

        def predict(self, batch, verbose=0):
            flat = (digits[0] / 255.0).reshape(len(digits[0]), -1)
            scores = batch.reshape(len(batch), -1) @ flat.T
            probabilities = np.full((len(batch), 10), 0.01)
            probabilities[np.arange(len(batch)), digits[1][scores.argmax(axis=1)]] = 0.91
            return probabilities

    predictions = predict_digits(Oracle(), [redraw(d) for d in digits[0]])
    assert [p.digit for p in predictions] == digits[1].tolist()
    assert predictions[0].confidence == pytest.approx(0.91)
    assert predictions[0].top(2)[0] == (int(digits[1][0]), pytest.approx(0.91))


def test_a_blank_image_is_an_error():
    with pytest.raises(ImageError, match="The image is blank"):
        prepare_image(np.full((50, 50), 200, np.uint8))


def test_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(ImageError, match="No image file at .*missing.png"):
        prepare_image(tmp_path / "missing.png")


def test_an_unreadable_file_is_an_error(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not an image")
    with pytest.raises(ImageError, match="Cannot read .*notes.png as an image"):
        prepare_image(path)


@pytest.mark.parametrize("bad", [np.zeros((2, 3, 4, 5)), np.zeros((1, 30)), ["a", "b"]])
def test_bad_arrays_are_errors(bad):
    with pytest.raises(ImageError):
        prepare_image(bad)

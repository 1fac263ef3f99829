"""A reader's own digits: turning any image into what MNIST would have made of it, then classifying.

MNIST's digits were size-normalised to fit a 20×20 box (keeping their aspect ratio), then placed
in a 28×28 field so that their centre of mass sits at pixel (14, 14), white on black.
`prepare_image` repeats those steps for a photo, a scan or a drawing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

from .data import IMAGE_SHAPE, IMAGE_SIZE

FIELD = IMAGE_SIZE
BOX = 20
# Pixels fainter than this fraction of the strongest stroke are treated as background.
INK_THRESHOLD = 0.1


class ImageError(ValueError):
    """Raised when an image cannot be read or holds no digit."""


def _read(image) -> np.ndarray:
    """Returns a 2-D float64 grey array, 0 = black … 255 = white."""
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise ImageError(f"No image file at {path}. Pass the path of a PNG or JPEG file.")
        try:
            with Image.open(path) as opened:
                opened.load()
                if opened.mode in ("RGBA", "LA", "P"):
                    opened = opened.convert("RGBA")
                    # Transparent pixels become white paper, as in a drawing app's export.
                    paper = Image.new("RGBA", opened.size, (255, 255, 255, 255))
                    opened = Image.alpha_composite(paper, opened)
                return np.asarray(opened.convert("L"), dtype=np.float64)
        except (UnidentifiedImageError, OSError) as err:
            raise ImageError(
                f"Cannot read {path} as an image ({err}). Use a PNG or JPEG file."
            ) from err
    array = np.asarray(image)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise ImageError(f"image must be a path or a numeric array. Received: {type(image)}")
    if array.ndim == 3 and array.shape[-1] in (1, 3, 4):
        array = array[..., 0] if array.shape[-1] == 1 else array[..., :3] @ [0.299, 0.587, 0.114]
    if array.ndim != 2:
        raise ImageError(
            f"image must be 2-D (height, width) or (height, width, channels). "
            f"Received: shape={np.asarray(image).shape}"
        )
    if array.size == 0 or min(array.shape) < 2:
        raise ImageError(f"image is too small to hold a digit. Received: shape={array.shape}")
    array = array.astype(np.float64)
    if np.nanmax(array) <= 1.0:
        array = array * 255.0
    if not np.isfinite(array).all():
        raise ImageError("image contains NaN or infinite values.")
    return array


def _border(array: np.ndarray) -> np.ndarray:
    return np.concatenate([array[0], array[-1], array[:, 0], array[:, -1]])


def prepare_image_steps(image) -> dict[str, np.ndarray]:
    """Runs the steps of `prepare_image` and returns every intermediate image, in order.

    Keys: ``"grey"`` (as read, 0–255), ``"white_on_black"`` (inverted if it was dark on
    light), ``"ink"`` (background removed, 0–1), ``"cropped"``, ``"boxed"`` (fitted into 20×20)
    and ``"centred"`` (the final 28×28 float32 in [0, 1]). Arguments and errors as in
    `prepare_image`.
    """
    steps = {"grey": _read(image)}
    grey = steps["grey"]
    if np.median(_border(grey)) > 127:
        grey = 255.0 - grey
    steps["white_on_black"] = grey
    ink = np.clip(grey - np.median(_border(grey)), 0, None)
    peak = ink.max()
    if peak < 16:  # less than ~6 % contrast: nothing that could be a stroke
        raise ImageError(
            "The image is blank: no digit stands out from the background. "
            "Draw the digit in a colour that contrasts with the paper."
        )
    ink = ink / peak
    ink[ink < INK_THRESHOLD] = 0.0
    steps["ink"] = ink
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    digit = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    steps["cropped"] = digit

    height, width = digit.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray((digit * 255).astype(np.uint8)).resize(size, Image.LANCZOS)
    boxed = np.asarray(resized, dtype=np.float64) / 255.0
    steps["boxed"] = boxed

    mass = boxed.sum()
    ys, xs = np.indices(boxed.shape)
    centre_y, centre_x = (ys * boxed).sum() / mass, (xs * boxed).sum() / mass
    # MNIST's centres of mass sit at pixel (14, 14): place the box at the nearest whole pixel,
    # then move the remaining fraction of a pixel by interpolation.
    top = int(np.clip(round(FIELD / 2 - centre_y), 0, FIELD - boxed.shape[0]))
    left = int(np.clip(round(FIELD / 2 - centre_x), 0, FIELD - boxed.shape[1]))
    field = np.zeros((FIELD, FIELD), dtype=np.float64)
    field[top : top + boxed.shape[0], left : left + boxed.shape[1]] = boxed
    residual = (FIELD / 2 - (top + centre_y), FIELD / 2 - (left + centre_x))
    field = ndimage.shift(field, residual, order=1, mode="constant", cval=0.0)
    steps["centred"] = np.clip(field, 0.0, 1.0).astype(np.float32)
    return steps


def prepare_image(image) -> np.ndarray:
    """Turns an image of one digit into a 28×28 MNIST-style array.

    Steps: read as grey; make the digit white on black (dark-on-light input is inverted, judged
    from the border); subtract the background level and drop faint pixels; crop to the digit;
    scale it to fit a 20×20 box keeping its aspect ratio; place it in a 28×28 field with its
    centre of mass at pixel (14, 14), as MNIST's digits have it.

    Args:
        image: a path to a PNG or JPEG (grey, RGB or with transparency) or a numeric array of
            shape (h, w) or (h, w, channels), values 0–255 or 0–1, of any size.

    Returns:
        float32 array of shape (28, 28), values in [0, 1], the digit white on black.

    Raises:
        ImageError: if the file cannot be read, or the image is blank.
    """
    return prepare_image_steps(image)["centred"]


@dataclass(frozen=True)
class Prediction:
    """One classified image: the digit, its probability, and all ten probabilities."""

    digit: int
    confidence: float
    probabilities: np.ndarray

    def top(self, k: int = 3) -> list[tuple[int, float]]:
        """The ``k`` most probable digits with their probabilities."""
        order = np.argsort(-self.probabilities)[:k]
        return [(int(d), float(self.probabilities[d])) for d in order]


def predict_digits(model, images) -> list[Prediction]:
    """Prepares each image with `prepare_image` and classifies it.

    Args:
        model: a trained Keras model taking (n, 28, 28, 1) inputs in [0, 1].
        images: a sequence of paths or arrays (each as `prepare_image` accepts), or an array
            of already prepared images of shape (n, 28, 28).

    Returns:
        One `Prediction` per image, in order.
    """
    if isinstance(images, np.ndarray) and images.ndim == 3 and images.shape[1:] == IMAGE_SHAPE:
        batch = images.astype(np.float32)
    else:
        if isinstance(images, (str, os.PathLike)):
            images = [images]
        batch = np.stack([prepare_image(image) for image in images])
    probabilities = np.asarray(model.predict(batch[..., np.newaxis], verbose=0))
    return [Prediction(int(p.argmax()), float(p.max()), p) for p in probabilities]

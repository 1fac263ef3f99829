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
from skimage import filters, measure

from .checks import check_choice
from .data import IMAGE_SHAPE, IMAGE_SIZE

FIELD = IMAGE_SIZE
BOX = 20
"""A digit's longer side, in pixels, once fitted into MNIST's box."""
CENTRING = ("mass", "box", "none")
"""The ways `prepare_image` can place a digit in the field; MNIST's is ``"mass"``."""
WORK_SIZE = 512
"""Larger images are shrunk to this longer side before cleaning: far more than 20 pixels need."""
MEDIAN_FRACTION = 150
"""The noise filter's width is the image's shorter side over this (no filter below 300 px)."""
NOISE_FREE = 0.5
"""An image whose noise spreads less than this many grey levels is not denoised."""
BLUR_FRACTION = 1 / 300
"""The noise filter's Gaussian blur, as a fraction of the shorter side (a pixel at 300 px)."""
OPENING_FRACTION = 0.25
"""The background estimate's window, as a fraction of the shorter side: wider than a stroke."""
INK_FLOOR = 0.1
"""Ink fainter than this share of a stroke's strength is set to 0 (as MNIST's crop ignored it)."""
FAINT_REACH = 0.1
"""How far the faint parts of strokes may reach beyond Otsu's mask: this share of the digit."""
MIN_CONTRAST = 16
"""The least difference from the paper, in grey levels of 255, that can be a stroke."""
MIN_DIGIT_PIXELS = 12
"""A digit has at least this many pixels above Otsu's threshold."""
NOISE_SIGMAS = 3
"""The paper's noise level is its median plus this many robust standard deviations."""
BORDER_WEIGHT = 0.2
"""A component touching the border counts for this share of its area when finding the digit."""
PART_AREA = 0.05
PART_REACH = 0.25
"""Other parts of the digit: at least PART_AREA of its main part's area, at most PART_REACH of
its size away from the main part's bounding box."""


BORDER_MAJORITY = 0.9
"""The share of the border on one side of Otsu's threshold that marks that side as the paper."""


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


def _round_half_up(value: float) -> int:
    """Rounds .5 up, as JavaScript's ``Math.round`` does (Python's `round` rounds to even)."""
    return int(np.floor(value + 0.5))


def _check_ink(ink) -> np.ndarray:
    ink = np.asarray(ink)
    if ink.ndim != 2 or not np.issubdtype(ink.dtype, np.number):
        raise ImageError(
            f"ink must be a 2-D numeric array (height, width). Received: shape={ink.shape}, "
            f"dtype={ink.dtype}"
        )
    ink = ink.astype(np.float64)
    if not np.isfinite(ink).all() or ink.min() < 0.0 or ink.max() > 1.0:
        raise ImageError(
            "ink must hold finite values in [0, 1] (0 = background). Received: values from "
            f"{np.nanmin(ink)} to {np.nanmax(ink)}"
        )
    if not (ink > 0).any():
        raise ImageError("ink is all zero: there is no digit to centre.")
    return ink


def fit_box(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Crops ``ink`` to its digit and scales it so that the longer side is `BOX` pixels.

    Args:
        ink: float array of shape (h, w), values in [0, 1], the digit white on a background of
            exactly 0.

    Returns:
        ``(cropped, boxed)``: the bounding box of ``ink > 0`` (float64, values in [0, 1]) and
        that box resized to ``BOX`` pixels along its longer side, the shorter side
        ``round(BOX * short / long)`` (halves rounded up, at least 1), float32 in [0, 1].
        The resize is PIL's ``BOX`` filter (each output pixel the area-weighted mean of the
        input pixels it covers) on a float32 ``"F"`` image, so it involves no 8-bit rounding.

    Raises:
        ImageError: if ``ink`` is not 2-D, has values outside [0, 1], or is all zero.
    """
    ink = _check_ink(ink)
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    cropped = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = cropped.shape
    longer = max(height, width)
    # Integer arithmetic, so that another implementation gets the same size: round half up.
    size = (
        max(1, (2 * BOX * width + longer) // (2 * longer)),
        max(1, (2 * BOX * height + longer) // (2 * longer)),
    )
    image = Image.fromarray(cropped.astype(np.float32), mode="F")
    boxed = np.asarray(image.resize(size, Image.BOX), dtype=np.float32)
    return cropped, np.clip(boxed, 0.0, 1.0)


def place_by_mass(boxed: np.ndarray) -> np.ndarray:
    """Places a fitted digit in a 28×28 field with its centre of mass at pixel (14, 14).

    The box goes to the whole-pixel position nearest to that (halves rounded up, kept inside
    the field), then the rest, less than a pixel, is moved by bilinear interpolation
    (``scipy.ndimage.shift`` with ``order=1``, zeros shifted in), as MNIST's digits were.

    Args:
        boxed: float array of shape (h, w) with h, w ≤ 28, values in [0, 1], not all zero.

    Returns:
        float32 array of shape (28, 28), values in [0, 1].
    """
    boxed = np.asarray(boxed, dtype=np.float64)
    mass = boxed.sum()
    ys, xs = np.indices(boxed.shape)
    centre_y, centre_x = (ys * boxed).sum() / mass, (xs * boxed).sum() / mass
    top = int(np.clip(_round_half_up(FIELD / 2 - centre_y), 0, FIELD - boxed.shape[0]))
    left = int(np.clip(_round_half_up(FIELD / 2 - centre_x), 0, FIELD - boxed.shape[1]))
    field = np.zeros((FIELD, FIELD), dtype=np.float64)
    field[top : top + boxed.shape[0], left : left + boxed.shape[1]] = boxed
    residual = (FIELD / 2 - (top + centre_y), FIELD / 2 - (left + centre_x))
    field = ndimage.shift(field, residual, order=1, mode="constant", cval=0.0)
    return np.clip(field, 0.0, 1.0).astype(np.float32)


def centre_digit(ink: np.ndarray) -> np.ndarray:
    """Crops, scales and centres a cleaned digit as MNIST did: the last stage of `prepare_image`.

    Crops to the bounding box of ``ink > 0``, resizes so that the longer side is 20 pixels
    keeping the aspect ratio (`fit_box`), and places the result in a 28×28 field with its
    centre of mass at pixel (14, 14) (`place_by_mass`).

    Args:
        ink: float array of shape (h, w), values in [0, 1], the digit white on a background of
            exactly 0 (any pixel above 0 counts as part of the digit).

    Returns:
        float32 array of shape (28, 28), values in [0, 1].

    Raises:
        ImageError: if ``ink`` is not 2-D, has values outside [0, 1], or is all zero.
    """
    _, boxed = fit_box(ink)
    return place_by_mass(boxed)


def _working_copy(grey: np.ndarray) -> np.ndarray:
    """The image shrunk (by area averaging) so that its longer side is at most `WORK_SIZE`."""
    longer = max(grey.shape)
    if longer <= WORK_SIZE:
        return grey.copy()
    height, width = (max(1, round(side * WORK_SIZE / longer)) for side in grey.shape)
    image = Image.fromarray(grey.astype(np.float32), mode="F")
    return np.asarray(image.resize((width, height), Image.BOX), dtype=np.float64)


def _odd(value: float) -> int:
    return max(1, int(value) // 2 * 2 + 1)


def _border(array: np.ndarray) -> np.ndarray:
    """The pixels along the image's four edges, as one flat array."""
    return np.concatenate([array[0], array[-1], array[1:-1, 0], array[1:-1, -1]])


def _ink_is_dark(denoised: np.ndarray) -> bool:
    """Whether the digit is darker than the paper around it.

    First the border: a photo of one digit has paper all round it, so when most of the border
    falls on one side of Otsu's threshold, that side is the paper, whatever the strokes'
    thickness. When the border is split (a shadow across it), the paper is taken to be most of
    the image: a wide median filter follows it, shadows and gradients included, and the digit is
    the long tail of what differs from it, on one side.
    """
    shrink = min(1.0, 64 / min(denoised.shape))
    small = ndimage.zoom(denoised, shrink, order=1) if shrink < 1 else denoised
    if np.ptp(small) >= 1.0:  # a grey level of contrast at least (a blank page has less)
        bright_border = float((_border(small) > filters.threshold_otsu(small)).mean())
        if bright_border >= BORDER_MAJORITY:
            return True
        if bright_border <= 1 - BORDER_MAJORITY:
            return False
    paper = ndimage.median_filter(small, size=_odd(min(small.shape) / 3), mode="nearest")
    difference = small - paper
    return -np.percentile(difference, 0.5) > np.percentile(difference, 99.5)


def _denoise(grey: np.ndarray) -> np.ndarray:
    """A median filter against specks of a pixel or two, then a slight blur against the rest.

    An image without noise (a drawing, a screenshot) is returned as it is, its strokes' edges
    untouched. The noise is measured as the robust spread of what a 3×3 median filter removes.
    """
    removed = grey - ndimage.median_filter(grey, size=3, mode="nearest")
    spread = 1.4826 * np.median(np.abs(removed - np.median(removed)))
    if spread < NOISE_FREE:
        return grey.copy()
    shorter = min(grey.shape)
    denoised = ndimage.median_filter(grey, size=_odd(shorter / MEDIAN_FRACTION), mode="nearest")
    return ndimage.gaussian_filter(denoised, shorter * BLUR_FRACTION, mode="nearest")


def _background(white_on_black: np.ndarray) -> np.ndarray:
    """The paper's level under the digit: a grey opening wider than any stroke.

    An opening (a minimum filter, then a maximum filter, over the same square) removes every
    bright structure narrower than its window, the strokes, and keeps what is wider: a
    gradient of light exactly where it is straight, a shadow's edge exactly. The image is
    extended beyond its border by odd reflection (continuing its slope), so that the light
    falling off towards an edge is followed there too.
    """
    size = _odd(min(white_on_black.shape) * OPENING_FRACTION)
    pad = size // 2
    extended = np.pad(white_on_black, pad, mode="reflect", reflect_type="odd")
    opened = ndimage.grey_opening(extended, size=(size, size), mode="nearest")
    return np.clip(opened[pad:-pad, pad:-pad] if pad else opened, 0.0, None)


def _keep_digit(mask: np.ndarray) -> np.ndarray:
    """The connected components of ``mask`` that form the digit, as a boolean array.

    The digit's main part is the largest component, a component touching the image's border
    counting for a fifth of its area (a page edge, a finger, a stray line from outside). Other
    components are kept if they are at least `PART_AREA` of the main part's area and lie within
    `PART_REACH` of its size from its bounding box (a 5's separate bar, a broken stroke);
    specks and marks elsewhere are dropped.
    """
    labels = measure.label(mask, connectivity=2)
    areas = np.bincount(labels.ravel())[1:]
    if not len(areas):
        return np.zeros_like(mask)
    # Nothing smaller than this can be the main part or another part: skip describing specks.
    smallest = PART_AREA * BORDER_WEIGHT * areas.max()
    regions = [r for r in measure.regionprops(labels) if areas[r.label - 1] >= smallest]
    height, width = mask.shape

    def touches_border(region) -> bool:
        top, left, bottom, right = region.bbox
        return top == 0 or left == 0 or bottom == height or right == width

    def weight(region) -> float:
        return region.area * (BORDER_WEIGHT if touches_border(region) else 1.0)

    main = max(regions, key=weight)
    top, left, bottom, right = main.bbox
    reach = PART_REACH * max(bottom - top, right - left)
    keep = [main.label]
    for region in regions:
        if region.label == main.label or region.area < PART_AREA * main.area:
            continue
        if touches_border(region) and not touches_border(main):
            continue
        r_top, r_left, r_bottom, r_right = region.bbox
        gap_y = max(top - r_bottom, r_top - bottom, 0)
        gap_x = max(left - r_right, r_left - right, 0)
        if max(gap_y, gap_x) <= reach:
            keep.append(region.label)
    return np.isin(labels, keep)


def prepare_image_steps(image, centre: str = "mass") -> dict[str, np.ndarray]:
    """Runs the steps of `prepare_image` and returns every intermediate image, in order.

    Keys, in order:

    - ``"grey"``: the image as read, float64, 0 = black … 255 = white, its own size.
    - ``"denoised"``: shrunk (by area averaging) to at most `WORK_SIZE` pixels along its longer
      side and median-filtered against sensor noise and specks of a pixel or two, 0–255.
    - ``"white_on_black"``: inverted if the digit was darker than the paper, 0–255.
    - ``"background"``: the paper's level everywhere, shadows and gradients included: a
      morphological opening larger than any stroke, which removes the digit and keeps the
      lighting (even a sharp shadow edge), 0–255.
    - ``"flattened"``: ``white_on_black - background``, scaled so that the digit's strokes are
      about 1, float64 in [0, 1]; even paper is now 0 everywhere.
    - ``"mask"``: bool, ``flattened`` above Otsu's threshold.
    - ``"ink"``: the components of the mask that form the digit (`_keep_digit`), grown into
      the fainter pixels that join them (their soft edges, faint ends of strokes: hysteresis),
      with their grey levels from ``flattened`` less the paper's noise level, and nothing
      fainter than `INK_FLOOR`; float64 in [0, 1], background exactly 0: what `centre_digit`
      takes.
    - ``"cropped"``: the digit's bounding box; ``"boxed"``: fitted into 20×20; ``"centred"``:
      the final 28×28 float32 in [0, 1] (for ``centre="none"``, the whole ``ink`` image, see
      `prepare_image`).

    Arguments and errors as in `prepare_image`.
    """
    check_choice("centre", centre, CENTRING)
    steps = {"grey": _read(image)}
    working = _working_copy(steps["grey"])
    steps["denoised"] = _denoise(working)
    dark_ink = _ink_is_dark(steps["denoised"])
    steps["white_on_black"] = 255.0 - steps["denoised"] if dark_ink else steps["denoised"]
    steps["background"] = _background(steps["white_on_black"])
    contrast = np.clip(steps["white_on_black"] - steps["background"], 0.0, None)
    if dark_ink:
        # Light multiplies: ink in a shadow is as much darker than the paper around it, as a
        # share of the paper's brightness, as ink in full light. Dividing by the paper's
        # brightness makes the strokes equally strong on both sides of a shadow's edge.
        paper_brightness = np.maximum(255.0 - steps["background"], MIN_CONTRAST)
        contrast = contrast * (255.0 / paper_brightness)
    if contrast.max() < MIN_CONTRAST:
        raise ImageError(
            "The image is blank: no digit stands out from the background. "
            "Draw the digit in a colour that contrasts with the paper."
        )
    mask = contrast > filters.threshold_otsu(contrast)
    digit = _keep_digit(mask)
    paper = contrast[~mask]
    noise = np.median(paper) + NOISE_SIGMAS * 1.4826 * np.median(np.abs(paper - np.median(paper)))
    # MNIST's strokes are saturated in the middle: about half of the pixels above 0.5 are at 1.
    level = np.median(contrast[digit]) if digit.any() else 0.0
    if level - noise < MIN_CONTRAST or digit.sum() < MIN_DIGIT_PIXELS:
        raise ImageError(
            "Nothing in the image looks like a digit: only specks or faint marks stand out "
            "from the background. Photograph one digit, large, in even light."
        )
    steps["flattened"] = np.clip(contrast / level, 0.0, 1.0)
    steps["mask"] = mask
    ink = np.clip((contrast - noise) / (level - noise), 0.0, 1.0)
    # Hysteresis: the strokes' soft edges and faint parts, below Otsu's threshold, are kept
    # where they join the digit's components. Fainter still is a halo (blur, interpolation)
    # that would widen the crop and so shrink the digit.
    # Only near the digit, so that a shadow's edge or a smudge touching it is not taken in.
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    reach = FAINT_REACH * max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    near = ndimage.distance_transform_edt(~digit) <= reach
    faint, _ = ndimage.label(((ink >= INK_FLOOR) & near) | digit, structure=np.ones((3, 3)))
    support = np.isin(faint, np.unique(faint[digit]))
    steps["ink"] = np.where(support & (ink >= INK_FLOOR), ink, 0.0)
    if centre == "none":
        height, width = steps["ink"].shape
        side = max(height, width)
        square = np.zeros((side, side))
        top, left = (side - height) // 2, (side - width) // 2
        square[top : top + height, left : left + width] = steps["ink"]
        steps["cropped"] = square
        resized = Image.fromarray(square.astype(np.float32), mode="F").resize(
            (FIELD, FIELD), Image.BOX
        )
        steps["boxed"] = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
        steps["centred"] = steps["boxed"]
        return steps
    steps["cropped"], steps["boxed"] = fit_box(steps["ink"])
    if centre == "mass":
        steps["centred"] = place_by_mass(steps["boxed"])
    else:
        field = np.zeros((FIELD, FIELD), dtype=np.float32)
        height, width = steps["boxed"].shape
        top, left = (FIELD - height) // 2, (FIELD - width) // 2
        field[top : top + height, left : left + width] = steps["boxed"]
        steps["centred"] = field
    return steps


def prepare_image(image, centre: str = "mass") -> np.ndarray:
    """Turns an image of one digit (a photo, a scan, a drawing) into a 28×28 MNIST-style array.

    Steps (`prepare_image_steps` returns each): read as grey; shrink to at most `WORK_SIZE`
    pixels and median-filter the noise; make the digit white on black (judged from which way
    it differs from the paper around it); estimate the paper's level everywhere (uneven light
    and shadows) by a morphological opening and subtract it; threshold by Otsu's method; keep
    the connected components that form the digit and drop specks and stray marks; keep the
    strokes' grey levels (their soft edges) inside them; then `centre_digit`: crop, scale to
    fit 20×20 keeping the aspect ratio, place with the centre of mass at pixel (14, 14).

    Args:
        image: a path to a PNG or JPEG (grey, RGB or with transparency) or a numeric array of
            shape (h, w) or (h, w, channels), values 0–255 or 0–1, of any size, dark ink on
            light paper or light on dark.
        centre: ``"mass"`` (MNIST's way, the default); ``"box"``: the 20×20-fitted digit placed
            with its bounding box in the middle of the field, not its centre of mass;
            ``"none"``: no cropping and no centring, the whole cleaned image padded to a square
            and shrunk to 28×28, so that the digit stays where and as small as it was in the
            photo.

    Returns:
        float32 array of shape (28, 28), values in [0, 1], the digit white on black.

    Raises:
        ImageError: if the file cannot be read, the image is blank, or nothing in it looks
            like a digit.
        ParameterError: if ``centre`` is not one of ``"mass"``, ``"box"``, ``"none"``.
    """
    return prepare_image_steps(image, centre=centre)["centred"]


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

"""Fabricated phone photos of real MNIST digits, one defect at a time or all together.

`photograph(digit, defect, seed)` draws an MNIST digit large, as dark ink on light paper, on a
page of 300–600 pixels a side, then gives it one of `DEFECTS`: what a phone camera, the light
in a room, the paper and a careless hand do to a photo of a handwritten digit. Everything is
seeded, so a test sees the same photos every run.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

PAPER = 225.0
INK = 35.0


def _page(digit: np.ndarray, rng: np.random.Generator, rotation: float = 0.0) -> tuple:
    """The digit as ink on paper, with a random page size and position.

    Returns:
        ``(page, ink)``: the page, float64 grey 0–255, and the digit's ink coverage on it
        (float64 in [0, 1], 1 = full ink), both of shape (h, w).
    """
    height, width = (int(side) for side in rng.integers(300, 601, size=2))
    digit_size = int(rng.uniform(0.45, 0.8) * min(height, width))
    big = Image.fromarray(np.asarray(digit, np.uint8)).resize(
        (digit_size, digit_size), Image.BICUBIC
    )
    coverage = np.clip(np.asarray(big, np.float64) / 255.0, 0.0, 1.0)
    if rotation:
        coverage = np.clip(ndimage.rotate(coverage, rotation, reshape=False, order=1), 0, 1)
    top = int(rng.integers(0, height - digit_size + 1))
    left = int(rng.integers(0, width - digit_size + 1))
    ink = np.zeros((height, width))
    ink[top : top + digit_size, left : left + digit_size] = coverage
    return PAPER - (PAPER - INK) * ink, ink


def _noise(page, rng, sigma=18.0):
    return page + rng.normal(0.0, sigma, page.shape)


def _gradient(page, rng, low=0.45):
    """Light falling off across the page in a random direction, to ``low`` of full."""
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.indices(page.shape) / max(page.shape)
    ramp = np.cos(angle) * xs + np.sin(angle) * ys
    ramp = (ramp - ramp.min()) / np.ptp(ramp)
    return page * (low + (1.0 - low) * ramp)


def _shadow(page, rng):
    """A soft-edged shadow over a random half-plane (a hand or a phone) and a dark blob."""
    height, width = page.shape
    ys, xs = np.indices(page.shape)
    angle = rng.uniform(0, 2 * np.pi)
    through = (rng.uniform(0.2, 0.8) * height, rng.uniform(0.2, 0.8) * width)
    side = np.cos(angle) * (xs - through[1]) + np.sin(angle) * (ys - through[0])
    half_plane = 1.0 / (1.0 + np.exp(-side / (0.01 * max(page.shape))))
    centre = (rng.uniform(0, height), rng.uniform(0, width))
    radius = 0.25 * min(page.shape)
    blob = np.exp(-((ys - centre[0]) ** 2 + (xs - centre[1]) ** 2) / (2 * radius**2))
    return page * (1.0 - 0.45 * half_plane) * (1.0 - 0.3 * blob)


def _texture(page, rng):
    """Paper grain (smoothed noise) and fibres (short faint streaks)."""
    grain = ndimage.gaussian_filter(rng.normal(0.0, 1.0, page.shape), 1.5)
    fibres = ndimage.gaussian_filter(rng.normal(0.0, 1.0, page.shape), (0.7, 6.0))
    grain, fibres = grain / grain.std(), fibres / fibres.std()
    return page + 9.0 * grain + 7.0 * fibres


def _specks(page, rng, ink):
    """Dust and dots everywhere, and one stray pen mark away from the digit."""
    page = page.copy()
    height, width = page.shape
    for _ in range(40):
        y, x, r = rng.uniform(4, height - 4), rng.uniform(4, width - 4), rng.uniform(0.8, 3.0)
        top, left = int(y) - 4, int(x) - 4
        ys, xs = np.mgrid[top : top + 9, left : left + 9]
        dot = np.clip(r + 0.5 - np.hypot(ys - y, xs - x), 0.0, 1.0)
        patch = page[top : top + 9, left : left + 9]
        patch -= (patch - INK) * dot * rng.uniform(0.4, 1.0)
    # The stray mark: a short stroke near the corner farthest from the digit, a third of the
    # digit's height long.
    rows = np.flatnonzero(ink.any(axis=1))
    length = 0.3 * (rows[-1] - rows[0] + 1)
    centre = np.array(ndimage.center_of_mass(ink))
    corners = [np.array(c) * page.shape for c in ((0.1, 0.1), (0.1, 0.9), (0.9, 0.1), (0.9, 0.9))]
    y0, x0 = max(corners, key=lambda corner: np.hypot(*(corner - centre)))
    angle = rng.uniform(0, np.pi)
    t = np.linspace(-0.5, 0.5, 200)[:, None]
    points = np.hstack([y0 + t * length * np.sin(angle), x0 + t * length * np.cos(angle)])
    mark = np.zeros(page.shape)
    mark[
        np.clip(points[:, 0].astype(int), 0, height - 1),
        np.clip(points[:, 1].astype(int), 0, width - 1),
    ] = 1.0
    mark = np.clip(ndimage.gaussian_filter(mark, 2.0) * 6.0, 0.0, 1.0)
    return page - (page - INK) * mark


def _blur(page, rng):
    """Out of focus, or shaken: a Gaussian blur of 1–1.5 % of the page."""
    return ndimage.gaussian_filter(page, rng.uniform(0.01, 0.015) * min(page.shape))


def _invert(page):
    """Light ink on dark paper: chalk on a board, a screenshot of a dark drawing app."""
    return 255.0 - page


def _colour(page, rng):
    """An RGB photo: yellowish paper in warm light, blue ink."""
    paper = np.array([240.0, 222.0, 170.0]) * rng.uniform(0.9, 1.0)
    ink = np.array([30.0, 45.0, 120.0])
    share = (PAPER - page) / (PAPER - INK)  # 0 on paper, 1 in full ink
    return paper - (paper - ink) * share[..., None]


DEFECTS = (
    "clean",
    "noise",
    "gradient",
    "shadow",
    "texture",
    "specks",
    "rotation",
    "blur",
    "light_on_dark",
    "colour",
    "combined",
)
"""The kinds of photo `photograph` makes; ``"combined"`` has every defect at once."""


def photograph(digit: np.ndarray, defect: str, seed: int = 0) -> np.ndarray:
    """A fabricated photo of an MNIST digit written in dark ink on light paper.

    Args:
        digit: uint8 array of shape (28, 28), an MNIST image (white on black).
        defect: one of `DEFECTS`.
        seed: seeds the page size, the digit's size and place, and the defect.

    Returns:
        uint8 array of shape (h, w) with h, w in 300–600, or (h, w, 3) for ``"colour"`` and
        ``"combined"``; light on dark for ``"light_on_dark"`` and ``"combined"``.
    """
    if defect not in DEFECTS:
        raise ValueError(f"defect must be one of {', '.join(DEFECTS)}. Received: {defect!r}")
    rng = np.random.default_rng(seed)
    rotation = rng.uniform(-10, 10) if defect in ("rotation", "combined") else 0.0
    if rotation and abs(rotation) < 5:
        rotation = 5.0 * np.sign(rotation) + rotation
    page, ink = _page(digit, rng, rotation)
    if defect == "combined":
        page = _specks(page, rng, ink)
        page = _texture(page, rng)
        page = _shadow(page, rng)
        page = _gradient(page, rng, low=0.7)
        page = _blur(page, rng)
        page = _colour(page, rng)
        page = _noise(255.0 - page, rng, sigma=12.0)
    elif defect == "noise":
        page = _noise(page, rng)
    elif defect == "gradient":
        page = _gradient(page, rng)
    elif defect == "shadow":
        page = _shadow(page, rng)
    elif defect == "texture":
        page = _texture(page, rng)
    elif defect == "specks":
        page = _specks(page, rng, ink)
    elif defect == "blur":
        page = _blur(page, rng)
    elif defect == "light_on_dark":
        page = _invert(page)
    elif defect == "colour":
        page = _colour(page, rng)
    return np.clip(np.round(page), 0, 255).astype(np.uint8)

"""Digits drawn as strokes, as a reader draws them on the pad, and a model that knows them.

The strokes are shared by the widget's tests: the fast tier draws them with PIL and classifies
them with `template_model`, a Keras model with fixed weights; the browser test draws the same
strokes with the mouse on the pad's canvas.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw

from mnist_lessons.predict import prepare_image


def _ellipse(cx, cy, rx, ry, points=24):
    return [
        (cx + rx * math.sin(2 * math.pi * i / points), cy - ry * math.cos(2 * math.pi * i / points))
        for i in range(points + 1)
    ]


STROKES = {
    0: [_ellipse(0.5, 0.5, 0.22, 0.33)],
    1: [[(0.52, 0.15), (0.48, 0.85)]],
    7: [[(0.28, 0.2), (0.72, 0.2), (0.42, 0.85)]],
}
"""Polylines per digit, in canvas coordinates from 0 (left/top) to 1 (right/bottom)."""


def draw_png(strokes, size=280, width=None, scale=1.0, offset=(0.0, 0.0)) -> bytes:
    """PNG bytes of ``strokes`` drawn in black on a white square canvas, as the pad sends them.

    ``scale`` shrinks or grows the drawing about the centre, ``offset`` moves it (fractions of
    the canvas), ``width`` is the pen's width in pixels (the pad's: ``size / 14``).
    """
    canvas = Image.new("L", (size, size), 255)
    pen = ImageDraw.Draw(canvas)
    for stroke in strokes:
        points = [
            (
                ((x - 0.5) * scale + 0.5 + offset[0]) * size,
                ((y - 0.5) * scale + 0.5 + offset[1]) * size,
            )
            for x, y in stroke
        ]
        pen.line(points, fill=0, width=round(width or size / 14), joint="curve")
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


def blank_png(size=280) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (size, size), 255).save(buffer, format="PNG")
    return buffer.getvalue()


def template_model(sharpness: float = 10.0):
    """A Keras model with fixed weights that scores an image against each digit of `STROKES`.

    Its dense layer's kernel holds each drawn digit as `prepare_image` makes it, normalised: the
    logit of a digit is the cosine of the input with its template (times ``sharpness``), and
    digits with no template get logit 0 (the bias is zero).
    """
    from mnist_lessons.backend import keras

    kernel = np.zeros((28 * 28, 10), np.float32)
    for digit, strokes in STROKES.items():
        template = prepare_image(np.asarray(Image.open(io.BytesIO(draw_png(strokes))))).ravel()
        kernel[:, digit] = template / np.linalg.norm(template)
    # The input's own norm is folded into the sharpness: a prepared digit's norm is about 8-12.
    kernel *= sharpness / 10
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.layers[-1].set_weights([kernel, np.zeros(10, np.float32)])
    return model

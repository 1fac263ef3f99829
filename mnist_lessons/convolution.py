"""How a convolution sees a digit: the operations by hand, the shape and parameter arithmetic.

The chapter "How a convolution sees a digit" computes one output pixel by hand, then calls these
functions for whole images, checks them against Keras's own layers, and counts what a network's
layers hold. Everything here is NumPy, except where a Keras model is read.

A deep-learning "convolution" slides the kernel over the image without flipping it (what signal
processing calls a cross-correlation); `cross_correlate` does exactly what `keras.layers.Conv2D`
does with ``padding="valid"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from .activations import as_image_batch, class_score_function
from .backend import keras
from .checks import check_int
from .data import IMAGE_SIZE
from .models import layer_table
from .tables import MarkdownTable, markdown_table

HAND_KERNELS: dict[str, np.ndarray] = {
    # Bright to the right of dark: the left-hand edges of a white stroke give large values, its
    # right-hand edges large negative ones (a Sobel kernel).
    "vertical edges": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32),
    # The same turned a quarter: bright below dark, the top edges of a stroke.
    "horizontal edges": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float32),
    # Every pixel of the 3×3 neighbourhood weighted equally: a blur.
    "blur": np.full((3, 3), 1 / 9, dtype=np.float32),
}
"""Three hand-made 3×3 kernels, float32, by name."""


def _check_image(image, name: str = "image") -> np.ndarray:
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (height, width) or (height, width, 1). "
            f"Received: shape={array.shape}"
        )
    return array


def output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """The output length of a convolution or pooling along one axis: ⌊(n + 2p − k) / s⌋ + 1.

    Args:
        size: input length n (e.g. 28).
        kernel: kernel or pooling window length k.
        stride: step between windows s.
        padding: zeros added on each side p.

    Raises:
        ValueError: if the window does not fit, e.g. ``"kernel=5 does not fit in size=3 with
            padding=0"``.
    """
    size = check_int("size", size, minimum=1)
    kernel = check_int("kernel", kernel, minimum=1)
    stride = check_int("stride", stride, minimum=1)
    padding = check_int("padding", padding, minimum=0)
    if kernel > size + 2 * padding:
        raise ValueError(f"kernel={kernel} does not fit in size={size} with padding={padding}")
    return (size + 2 * padding - kernel) // stride + 1


def cross_correlate(image, kernel, stride: int = 1) -> np.ndarray:
    """Slides ``kernel`` over ``image`` and sums the products at each position ("valid" padding).

    Output pixel (i, j) is ``(image[i*s : i*s+k, j*s : j*s+k] * kernel).sum()``.

    Args:
        image: array of shape (h, w) or (h, w, 1).
        kernel: array of shape (k, k).
        stride: step between positions.

    Returns:
        float32 array of shape (output_size(h, k, stride), output_size(w, k, stride)).
    """
    image = _check_image(image)
    kernel = _check_image(kernel, "kernel")
    kh, kw = kernel.shape
    rows = output_size(image.shape[0], kh, stride)
    cols = output_size(image.shape[1], kw, stride)
    windows = np.lib.stride_tricks.sliding_window_view(image, (kh, kw))[::stride, ::stride]
    return np.einsum("ijkl,kl->ij", windows[:rows, :cols], kernel).astype(np.float32)


def relu(x) -> np.ndarray:
    """max(x, 0), element by element: negative responses become 0."""
    return np.maximum(np.asarray(x, dtype=np.float32), 0.0)


def max_pool(feature_map, size: int = 2) -> np.ndarray:
    """The largest value in each non-overlapping ``size``×``size`` window (stride = size).

    A trailing row or column that does not fill a window is dropped, as Keras's
    ``MaxPooling2D`` does: an 11×11 map pools to 5×5.
    """
    feature_map = _check_image(feature_map, "feature_map")
    size = check_int("size", size, minimum=1)
    rows = output_size(feature_map.shape[0], size, size)
    cols = output_size(feature_map.shape[1], size, size)
    trimmed = feature_map[: rows * size, : cols * size]
    return trimmed.reshape(rows, size, cols, size).max(axis=(1, 3))


def shift_images(images, dy: int, dx: int) -> np.ndarray:
    """Moves every image ``dy`` pixels down and ``dx`` right (negative: up, left), filling with 0.

    Args:
        images: array of shape (n, h, w) or (n, h, w, 1).

    Returns:
        An array of the same shape and dtype; what moves out of the field is lost.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be (n, h, w) or (n, h, w, 1). Received: {images.shape}")
    height, width = images.shape[1:3]
    if abs(dy) >= height or abs(dx) >= width:
        raise ValueError(f"a shift of ({dy}, {dx}) moves a {height}×{width} image out of view")
    shifted = np.zeros_like(images)
    src_rows = slice(max(0, -dy), height - max(0, dy))
    dst_rows = slice(max(0, dy), height - max(0, -dy))
    src_cols = slice(max(0, -dx), width - max(0, dx))
    dst_cols = slice(max(0, dx), width - max(0, -dx))
    shifted[:, dst_rows, dst_cols] = images[:, src_rows, src_cols]
    return shifted


@dataclass(frozen=True)
class ShiftRobustness:
    """Test accuracy of several models as the test digits move away from the centre.

    Attributes:
        shifts: the shift lengths in pixels, e.g. (0, 1, 2, 3, 4).
        accuracy: model name → accuracies (0–1), one per shift length, each the mean over the
            four directions (up, down, left, right).
    """

    shifts: tuple[int, ...]
    accuracy: dict[str, tuple[float, ...]]

    def table(self) -> MarkdownTable:
        names = list(self.accuracy)
        return markdown_table(
            ["shift (pixels)", *names],
            [
                [str(s), *(f"{self.accuracy[n][i]:.4f}" for n in names)]
                for i, s in enumerate(self.shifts)
            ],
            align="r" * (1 + len(names)),
        )


def moved_correct(model, images, labels, shift: int) -> np.ndarray:
    """Which of ``images`` ``model`` still classifies correctly when moved ``shift`` pixels up,
    down, left and right (one direction after another).

    Args:
        model: a trained Keras model taking (n, 28, 28, 1) in [0, 1].
        images: float32 (n, 28, 28, 1) in [0, 1]. labels: int (n,) class indices.
        shift: pixels, 0 for the images as they are.

    Returns:
        bool (n,) for shift 0, else (4n,): up, down, left, right.
    """
    labels = np.asarray(labels)
    shift = check_int("shift", shift, minimum=0, maximum=IMAGE_SIZE - 1)
    moves = [(0, 0)] if shift == 0 else [(-shift, 0), (shift, 0), (0, -shift), (0, shift)]
    return np.concatenate(
        [
            np.asarray(
                model.predict(shift_images(images, dy, dx), batch_size=1000, verbose=0)
            ).argmax(1)
            == labels
            for dy, dx in moves
        ]
    )


def shift_robustness(models: dict, images, labels, shifts=(0, 1, 2, 3, 4)) -> ShiftRobustness:
    """Scores each model on ``images`` moved by each shift length in the four directions.

    Args:
        models: name → trained Keras model taking (n, 28, 28, 1) in [0, 1].
        images: float32 (n, 28, 28, 1) in [0, 1].
        labels: int (n,) class indices.
        shifts: non-negative shift lengths in pixels.
    """
    shifts = tuple(check_int("shift", s, minimum=0, maximum=IMAGE_SIZE - 1) for s in shifts)
    accuracy = {
        name: tuple(float(moved_correct(model, images, labels, s).mean()) for s in shifts)
        for name, model in models.items()
    }
    return ShiftRobustness(shifts, accuracy)


@dataclass(frozen=True)
class ShiftResponse:
    """How each layer of a network answers when its input digits move to the right.

    Attributes:
        shifts: the shifts of the input, in pixels.
        layers: the layers measured, input side first.
        sizes: each layer's output width (its map's columns; 0 for a layer without a map).
        steps: how many input pixels one pixel of each layer's map steps over (the product of
            the strides up to it; 0 for a layer without a map).
        baseline: layer → the same distance between the maps of two different digits (each
            image against the next one): the scale a difference is read against.
        map_shift: layer → the whole-pixel shift of its map that best matches, per input shift.
        equivariance: layer → the relative difference, per input shift, between the map of the
            moved digits and the map of the digits moved by ``map_shift`` (0: equivariant).
        invariance: layer → the relative difference between the output for the moved digits and
            the output for the digits as they are (0: invariant).
        changed: the share of the images whose predicted digit changes, per input shift.
    """

    shifts: tuple[int, ...]
    layers: tuple[str, ...]
    sizes: dict[str, int]
    steps: dict[str, int]
    baseline: dict[str, float]
    map_shift: dict[str, tuple[int, ...]]
    equivariance: dict[str, tuple[float, ...]]
    invariance: dict[str, tuple[float, ...]]
    changed: tuple[float, ...]

    def table(self, labels: dict[str, str] | None = None) -> MarkdownTable:
        """One row per layer with a map: for each shift, its equivariance error in percent and
        the map shift that matched best; a last row with the share of predicted digits that
        changed. ``labels`` renames layers."""
        labels = labels or {}
        rows = [
            [
                labels.get(name, name),
                str(self.sizes[name]),
                str(self.steps[name]),
                *(
                    f"{error * 100:.0f} % ({moved} px)"
                    for error, moved in zip(
                        self.equivariance[name], self.map_shift[name], strict=True
                    )
                ),
                f"{self.baseline[name] * 100:.0f} %",
            ]
            for name in self.layers
            if self.sizes[name]
        ]
        rows.append(["answers changed", "–", "–", *(f"{c * 100:.1f} %" for c in self.changed), "–"])
        return markdown_table(
            [
                "layer",
                "map width",
                "step (px)",
                *(f"digit moved {s} px" for s in self.shifts),
                "another digit",
            ],
            rows,
            align="lrr" + "r" * len(self.shifts) + "r",
        )


def _relative(moved: np.ndarray, reference: np.ndarray) -> float:
    return float(np.linalg.norm(moved - reference) / max(np.linalg.norm(reference), 1e-12))


def shift_response(model, images, layers, shifts=(1, 2, 3, 4)) -> ShiftResponse:
    """Moves ``images`` right by each shift and measures, layer by layer, equivariance (the map
    moves with the digit) and invariance (the output stays the same).

    For a layer with a map (n, h, w, c), the map of the moved digits, F(Tx), is compared with the
    map of the digits as they are, moved right by k whole pixels, for every k from 0 to the
    input shift, on the columns both have; the best k is kept. A layer that halves the map's
    width can follow a shift of 2 pixels by moving 1, but not a shift of 1. The invariance
    error compares F(Tx) with F(x) itself (k = 0, over every column).

    Args:
        model: a trained Keras model with named layers.
        images: float32 (n, 28, 28, 1) in [0, 1].
        layers: names of the layers whose outputs to measure, input side first; the last is
            usually the softmax output.
        shifts: input shifts in pixels, each 1 or more.
    """
    images = as_image_batch(images)
    shifts = tuple(check_int("shift", s, minimum=1, maximum=IMAGE_SIZE - 1) for s in shifts)
    layers = tuple(layers)
    probe = keras.Model(model.inputs[0], [model.get_layer(n).output for n in layers])

    def outputs(batch):
        values = probe.predict(batch, batch_size=1000, verbose=0)
        values = values if isinstance(values, list | tuple) else [values]
        return [np.asarray(v, dtype=np.float64) for v in values]

    base = outputs(images)
    sizes = {n: (b.shape[2] if b.ndim == 4 else 0) for n, b in zip(layers, base, strict=True)}
    steps, stride = {}, 1
    for layer in model.layers:
        spatial = _spatial(layer)
        stride *= spatial[1] if spatial else 1
        if layer.name in sizes:
            steps[layer.name] = stride if sizes[layer.name] else 0
    baseline = {n: _relative(np.roll(b, 1, axis=0), b) for n, b in zip(layers, base, strict=True)}
    map_shift = {n: [] for n in layers}
    equivariance = {n: [] for n in layers}
    invariance = {n: [] for n in layers}
    changed = []
    for shift in shifts:
        moved = outputs(shift_images(images, 0, shift))
        for name, before, after in zip(layers, base, moved, strict=True):
            invariance[name].append(_relative(after, before))
            if before.ndim != 4:
                continue
            width = before.shape[2]
            errors = {
                k: _relative(after[:, :, k:], before[:, :, : width - k])
                for k in range(0, min(shift, width - 1) + 1)
            }
            best = min(errors, key=errors.get)
            map_shift[name].append(best)
            equivariance[name].append(errors[best])
        changed.append(float((moved[-1].argmax(-1) != base[-1].argmax(-1)).mean()))
    return ShiftResponse(
        shifts,
        layers,
        sizes,
        steps,
        baseline,
        {n: tuple(v) for n, v in map_shift.items()},
        {n: tuple(v) for n, v in equivariance.items()},
        {n: tuple(v) for n, v in invariance.items()},
        tuple(changed),
    )


def _spatial(layer) -> tuple[int, int] | None:
    """(window, stride) for a layer that looks at a neighbourhood, None for one that does not."""
    if isinstance(layer, keras.layers.Conv2D):
        return layer.kernel_size[0], layer.strides[0]
    if isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
        return layer.pool_size[0], layer.strides[0]
    return None


def parameter_formula(layer) -> str:
    """How a layer's parameter count is made, as arithmetic, e.g. ``(3·3·1 + 1)·32 = 320``."""
    count = layer.count_params()
    if isinstance(layer, keras.layers.Conv2D):
        kh, kw = layer.kernel_size
        c_in = layer.input.shape[-1]
        bias = " + 1" if layer.use_bias else ""
        return f"({kh}·{kw}·{c_in}{bias})·{layer.filters} = {count:,}"
    if isinstance(layer, keras.layers.Dense):
        bias = " + 1" if layer.use_bias else ""
        return f"({layer.input.shape[-1]:,}{bias})·{layer.units} = {count:,}"
    return "0 (no weights)" if count == 0 else f"{count:,}"


def formula_count(layer) -> int:
    """A Conv2D or Dense layer's parameters from its shape: (k·k·c_in + 1)·c_out or (n + 1)·m."""
    if isinstance(layer, keras.layers.Conv2D):
        kh, kw = layer.kernel_size
        return (kh * kw * layer.input.shape[-1] + int(layer.use_bias)) * layer.filters
    if isinstance(layer, keras.layers.Dense):
        return (layer.input.shape[-1] + int(layer.use_bias)) * layer.units
    return layer.count_params()


def layer_arithmetic(model: keras.Model) -> list[dict]:
    """One row per layer: its output shape, its parameters by formula and as Keras counts them,
    and the receptive field of one output pixel (how many input pixels across it can see).

    The receptive field grows as r ← r + (k − 1)·j and the spacing of neighbouring outputs, in
    input pixels, as j ← j·s, for each layer with window k and stride s.
    """
    field, jump = 1, 1
    rows = layer_table(model)
    for layer, row in zip(model.layers, rows, strict=True):
        spatial = _spatial(layer)
        if spatial is not None:
            window, stride = spatial
            field, jump = field + (window - 1) * jump, jump * stride
        row["keras_params"] = row.pop("params")
        row["formula"] = parameter_formula(layer)
        row["formula_params"] = formula_count(layer)
        row["receptive_field"] = field if len(row["output_shape"]) == 3 else None
    return rows


def layer_arithmetic_table(model: keras.Model) -> MarkdownTable:
    """`layer_arithmetic` as a Markdown table."""
    return markdown_table(
        ["layer", "type", "output shape", "parameters: formula", "Keras counts", "receptive field"],
        [
            [
                f"`{r['layer']}`",
                r["type"],
                "×".join(str(d) for d in r["output_shape"]),
                r["formula"],
                f"{r['keras_params']:,}",
                ""
                if r["receptive_field"] is None
                else f"{r['receptive_field']}×{r['receptive_field']}",
            ]
            for r in layer_arithmetic(model)
        ],
        align="llllrr",
    )


def logits(model: keras.Model, images) -> np.ndarray:
    """The ten scores a model computes before its final softmax (its logits).

    Args:
        model: a Keras model ending in a softmax, as a ``Dense`` layer's activation or as a
            separate ``Activation`` layer (see `activations.class_score_function`).
        images: float32 (n, 28, 28, 1) in [0, 1].

    Returns:
        float32 array (n, 10); ``softmax(logits)`` is what ``model.predict`` returns.
    """
    scores = class_score_function(model, "logit")(as_image_batch(images))
    return np.asarray(keras.ops.convert_to_numpy(scores), dtype=np.float32)


def softmax(scores) -> np.ndarray:
    """exp(z) / Σ exp(z) along the last axis, float32 (SciPy's, which subtracts max z first)."""
    return special.softmax(np.asarray(scores, dtype=np.float64), axis=-1).astype(np.float32)


def most_similar_filters(filters, kernels: dict[str, np.ndarray]) -> dict[str, tuple[int, float]]:
    """For each named kernel, the learned filter that looks most like it, and how much.

    Similarity is the cosine of the angle between the two as vectors of weights: 1 for the
    same pattern at any strength, 0 for an unrelated one, −1 for its negative.

    Args:
        filters: a first-layer kernel, float (k, k, 1, c_out), e.g.
            `activations.first_layer_filters(model)`.
        kernels: name → (k, k) array, e.g. `HAND_KERNELS`.

    Returns:
        name → (filter index, cosine similarity in [−1, 1]).
    """
    filters = np.asarray(filters, dtype=np.float64)
    if filters.ndim != 4 or filters.shape[2] != 1:
        raise ValueError(f"filters must have shape (k, k, 1, c_out). Received: {filters.shape}")
    flat = filters[:, :, 0, :].reshape(-1, filters.shape[-1])
    flat = flat / np.maximum(np.linalg.norm(flat, axis=0), 1e-12)
    found = {}
    for name, kernel in kernels.items():
        kernel = np.asarray(kernel, dtype=np.float64)
        if kernel.shape != filters.shape[:2]:
            raise ValueError(
                f"kernel {name!r} is {kernel.shape}, the filters are {filters.shape[:2]}"
            )
        vector = kernel.ravel()
        norm = np.linalg.norm(vector)
        cosines = flat.T @ (vector / norm) if norm else np.zeros(flat.shape[1])
        best = int(np.argmax(cosines))
        found[name] = (best, float(cosines[best]))
    return found

"""Looking inside a trained CNN: filters, feature maps, the images a channel likes, saliency.

The figures of CS231n's "Visualizing what ConvNets learn" and of CNN Explainer, for the book's
Keras models: `first_layer_filters` (the weights of the first convolution), `feature_maps`
(what each convolution makes of a batch of digits), `filter_health` (dead and noisy filters),
`top_activating` (the digits that excite a channel most) and `saliency` (which pixels the class
score is most sensitive to). The plots that draw them live in `mnist_lessons.plots`.

Every function takes images as MNIST stores them after `mnist_lessons.data` has scaled them:
float arrays (n, 28, 28) or (n, 28, 28, 1) with values in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .backend import input_gradient, keras
from .checks import check_int
from .data import IMAGE_SIZE
from .tables import MarkdownTable, markdown_table

POOLING_LAYERS = (
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
)
"""The pooling layers `feature_maps` adds when asked for pooling."""

ACTIVATION_LAYERS = (keras.layers.Activation, keras.layers.ReLU)
"""Layers that are a convolution's activation when they follow it directly."""

BATCH_SIZE = 256
"""Images per forward pass: bounds the memory the largest feature maps take at once."""


def as_image_batch(images, name: str = "images") -> np.ndarray:
    """Returns ``images`` as a float32 array (n, 28, 28, 1), after checking shape and range.

    Args:
        images: array (n, 28, 28) or (n, 28, 28, 1), values in [0, 1].
        name: the argument's name, for the error message.

    Raises:
        ValueError: the shape is not one of those, the batch is empty, or a value lies outside
            [0, 1] (uint8 images 0–255 must be divided by 255 first).
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 1):
        raise ValueError(
            f"{name} must have shape (n, 28, 28) or (n, 28, 28, 1). "
            f"Received: {name}.shape={np.shape(images)}"
        )
    if len(x) == 0:
        raise ValueError(f"{name} is empty: give at least one image.")
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise ValueError(
            f"{name} must hold values in [0, 1] (divide uint8 images by 255). "
            f"Received values from {np.nanmin(x)} to {np.nanmax(x)}"
        )
    return x


def _built(model: keras.Model) -> keras.Model:
    """``model``, built for 28×28×1 inputs if it was not yet (a Sequential without an Input)."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model. Received: {type(model).__name__}")
    if not model.built:
        model.build((None, IMAGE_SIZE, IMAGE_SIZE, 1))
    return model


def _input(model: keras.Model):
    """The model's input tensor (a list only for a model with several inputs)."""
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def conv_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's Conv2D layers, input side first."""
    return [layer for layer in _built(model).layers if isinstance(layer, keras.layers.Conv2D)]


def _after_activation(model: keras.Model, conv: keras.layers.Layer) -> keras.layers.Layer:
    """The layer whose output is ``conv``'s output after its activation.

    That is ``conv`` itself, unless the model applies the activation as a separate layer right
    after it (as ``three_conv_three_pool`` does with ``relu1``, ``relu2``, …).
    """
    index = model.layers.index(conv)
    following = model.layers[index + 1] if index + 1 < len(model.layers) else None
    linear = getattr(conv, "activation", None) is keras.activations.linear
    if linear and isinstance(following, ACTIVATION_LAYERS):
        return following
    return conv


def _named_layers(model, layers, pooling: bool) -> dict[str, keras.layers.Layer]:
    """``{name: layer whose output is reported under that name}`` for `feature_maps`."""
    if layers is None:
        chosen = {}
        for layer in model.layers:
            if isinstance(layer, keras.layers.Conv2D):
                chosen[layer.name] = _after_activation(model, layer)
            elif pooling and isinstance(layer, POOLING_LAYERS):
                chosen[layer.name] = layer
        if not chosen:
            raise ValueError(f"model {model.name!r} has no Conv2D layer to look inside.")
        return chosen
    if isinstance(layers, (str, keras.layers.Layer)):
        layers = [layers]
    names = [layer if isinstance(layer, str) else layer.name for layer in layers]
    known = {layer.name: layer for layer in model.layers}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ValueError(
            f"layers must name layers of model {model.name!r}: {', '.join(known)}. "
            f"Received: layers={names!r}"
        )
    return {
        name: _after_activation(model, known[name])
        if isinstance(known[name], keras.layers.Conv2D)
        else known[name]
        for name in names
    }


def feature_maps(
    model: keras.Model,
    images,
    layers: Sequence[str | keras.layers.Layer] | str | None = None,
    *,
    pooling: bool = False,
) -> dict[str, np.ndarray]:
    """What the model's layers make of a batch of images, layer by layer.

    A convolution's maps are reported after its activation: where the model applies the
    activation as a separate layer right after the convolution (``conv1`` then ``relu1``), the
    maps under ``"conv1"`` are that layer's output.

    Args:
        model: a model of the book's registry (`mnist_lessons.models.build_model`), trained or
            not, or any Keras model on 28×28×1 inputs whose ``layers`` run in order.
        images: array (n, 28, 28) or (n, 28, 28, 1), values in [0, 1].
        layers: names (or layers) to report, in that order; every Conv2D if None.
        pooling: with ``layers=None``, also report each pooling layer's output.

    Returns:
        ``{layer name: float32 array (n, h, w, channels)}``, input side first; after a ReLU
        the values are ≥ 0.
    """
    model = _built(model)
    x = as_image_batch(images)
    chosen = _named_layers(model, layers, pooling)
    extractor = keras.Model(_input(model), [layer.output for layer in chosen.values()])
    batches = [[] for _ in chosen]
    for start in range(0, len(x), BATCH_SIZE):
        outputs = extractor(x[start : start + BATCH_SIZE], training=False)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        for batch, output in zip(batches, outputs, strict=True):
            batch.append(np.asarray(keras.ops.convert_to_numpy(output), dtype=np.float32))
    return {name: np.concatenate(batch) for name, batch in zip(chosen, batches, strict=True)}


def first_layer_filters(model: keras.Model) -> np.ndarray:
    """The kernel of the model's first Conv2D layer.

    Returns:
        float32 array (k, k, c_in, c_out): for the book's models (3, 3, 1, 32) and the like, one
        k×k filter per output channel; a trained filter's weights are typically within ±0.5.
    """
    convs = conv_layers(model)
    if not convs:
        raise ValueError(f"model {model.name!r} has no Conv2D layer: it has no filters to show.")
    return np.asarray(keras.ops.convert_to_numpy(convs[0].kernel), dtype=np.float32)


def high_frequency_share(kernel: np.ndarray) -> np.ndarray:
    """How rough each filter is: its energy at high spatial frequencies, per output channel.

    The mean squared difference between horizontally and vertically neighbouring weights,
    divided by twice the mean squared weight. It is 0 for a constant filter, small for a smooth
    one (a blob, a gentle edge), about 1 for white noise and 2 for a checkerboard: a trained
    first-layer filter near 1 looks like noise (CS231n: too little training or regularization).

    Args:
        kernel: array (k, k, c_in, c_out), a Conv2D kernel; input channels count together.

    Returns:
        float64 array (c_out,), values in [0, 2]; 0 for a filter whose weights are all zero.
    """
    w = np.asarray(kernel, dtype=np.float64)
    if w.ndim != 4 or min(w.shape[:2]) < 2:
        raise ValueError(
            f"kernel must have shape (k, k, c_in, c_out) with k ≥ 2. Received: {w.shape}"
        )
    squared_steps = np.concatenate(
        [
            (np.diff(w, axis=0) ** 2).reshape(-1, w.shape[-1]),
            (np.diff(w, axis=1) ** 2).reshape(-1, w.shape[-1]),
        ]
    ).mean(axis=0)
    energy = (w**2).reshape(-1, w.shape[-1]).mean(axis=0)
    return np.divide(squared_steps, 2 * energy, out=np.zeros_like(energy), where=energy > 0)


@dataclass(frozen=True)
class FilterHealth:
    """Per-filter diagnostics of one convolution, from `filter_health`.

    Attributes:
        layer: the Conv2D layer's name.
        weight_norm: float64 array (c_out,), each filter's L2 norm (bias left out).
        dead_fraction: float64 array (c_out,), 0–1: the share of the images for which the
            channel's output (after the activation) is zero everywhere. 1 means the channel
            never fires on these images: a dead ReLU.
        high_frequency: float64 array (c_out,), 0–2, `high_frequency_share` of each filter:
            about 1 or more looks like noise.
        images: how many images ``dead_fraction`` was measured on.
    """

    layer: str
    weight_norm: np.ndarray
    dead_fraction: np.ndarray
    high_frequency: np.ndarray
    images: int

    def dead(self, threshold: float = 1.0) -> np.ndarray:
        """Indices of the channels silent on at least ``threshold`` of the images."""
        return np.flatnonzero(self.dead_fraction >= threshold)

    def noisy(self, threshold: float = 0.9) -> np.ndarray:
        """Indices of the filters whose `high_frequency` share is at least ``threshold``.

        A 3×3 filter has only 12 neighbouring pairs, so the share is coarse: a Sobel edge
        filter scores 0.5, a lone centre weight 1.5. Compare a trained model's filters with
        a freshly initialised one's (random weights: about 1) rather than trusting one cut-off.
        """
        return np.flatnonzero(self.high_frequency >= threshold)

    def table(self) -> MarkdownTable:
        """One row per filter: channel, weight norm, share of images dead, high frequency."""
        return markdown_table(
            ["channel", "weight norm", "dead on", "high frequency"],
            [
                [c, f"{norm:.3f}", f"{dead:.1%}", f"{rough:.2f}"]
                for c, (norm, dead, rough) in enumerate(
                    zip(self.weight_norm, self.dead_fraction, self.high_frequency, strict=True)
                )
            ],
            align="rrrr",
        )


def filter_health(
    model: keras.Model, images, layer: str | keras.layers.Layer | None = None
) -> FilterHealth:
    """Which filters of a convolution are dead (never fire) or noisy (look like noise).

    Args:
        model: a Keras model on 28×28×1 inputs.
        images: array (n, 28, 28) or (n, 28, 28, 1), values in [0, 1], e.g. a few hundred
            validation images.
        layer: the Conv2D layer (or its name); the first one if None. Kernels smaller than 2×2
            have no neighbours, so their ``high_frequency`` is reported as NaN.

    Returns:
        A `FilterHealth` with one entry per output channel.
    """
    convs = conv_layers(model)
    if layer is None:
        if not convs:
            raise ValueError(f"model {model.name!r} has no Conv2D layer to diagnose.")
        conv = convs[0]
    else:
        name = layer if isinstance(layer, str) else layer.name
        conv = next((c for c in convs if c.name == name), None)
        if conv is None:
            raise ValueError(
                f"layer must name a Conv2D layer of model {model.name!r}: "
                f"{', '.join(c.name for c in convs)}. Received: layer={name!r}"
            )
    kernel = np.asarray(keras.ops.convert_to_numpy(conv.kernel), dtype=np.float64)
    maps = feature_maps(model, images, [conv.name])[conv.name]
    silent = (np.abs(maps) <= 0).all(axis=(1, 2))
    rough = (
        high_frequency_share(kernel)
        if min(kernel.shape[:2]) >= 2
        else np.full(kernel.shape[-1], np.nan)
    )
    return FilterHealth(
        layer=conv.name,
        weight_norm=np.sqrt((kernel**2).reshape(-1, kernel.shape[-1]).sum(axis=0)),
        dead_fraction=silent.mean(axis=0),
        high_frequency=rough,
        images=len(maps),
    )


@dataclass(frozen=True)
class TopActivations:
    """The images that excite each of a layer's channels most, from `top_activating`.

    Attributes:
        layer: the layer's name.
        channels: the channels asked for, in that order.
        indices: int64 array (len(channels), k): row ``i`` holds the indices (into the images
            given) of the k images with the largest maximum activation in ``channels[i]``,
            largest first.
        values: float32 array (len(channels), k): those maximum activations.
    """

    layer: str
    channels: tuple[int, ...]
    indices: np.ndarray
    values: np.ndarray


def top_activating(
    model: keras.Model,
    layer: str | keras.layers.Layer,
    images,
    channels: Sequence[int] | int,
    k: int = 8,
) -> TopActivations:
    """For each channel, the k images whose strongest response in it is the largest.

    An image's response in a channel is the maximum of that channel's map (after the
    activation), over every position: "does this feature appear anywhere in the digit?".

    Args:
        model: a Keras model on 28×28×1 inputs.
        layer: the layer (or its name) whose channels to rank by, e.g. ``"conv2"``.
        images: array (n, 28, 28) or (n, 28, 28, 1), values in [0, 1], e.g. the test images.
        channels: channel numbers of that layer, each from 0 to channels − 1.
        k: images per channel, from 1 to n.

    Returns:
        A `TopActivations`.
    """
    x = as_image_batch(images)
    k = check_int("k", k, minimum=1, maximum=len(x))
    name = layer if isinstance(layer, str) else layer.name
    maps = feature_maps(model, x, [name])[name]
    if maps.ndim != 4:
        raise ValueError(
            f"layer {name!r} outputs shape {maps.shape[1:]}, not a (h, w, channels) map: "
            "choose a convolution or pooling layer."
        )
    channels = (channels,) if isinstance(channels, (int, np.integer)) else tuple(channels)
    if not channels:
        raise ValueError("channels is empty: give at least one channel number.")
    count = maps.shape[-1]
    channels = tuple(check_int("channel", c, minimum=0, maximum=count - 1) for c in channels)
    peaks = maps.max(axis=(1, 2))[:, list(channels)].T  # (channels, n)
    # A stable sort on the negated peaks keeps the lower index first among ties.
    indices = np.argsort(-peaks, axis=1, kind="stable")[:, :k]
    values = np.take_along_axis(peaks, indices, axis=1)
    return TopActivations(name, channels, indices.astype(np.int64), values.astype(np.float32))


def class_score_function(model: keras.Model, score: str = "logit") -> Callable:
    """A function from an image batch to the model's per-class scores, for gradients.

    Args:
        model: a Keras model on 28×28×1 inputs whose last layer gives the class probabilities
            (the book's models end in a Dense layer with a softmax, or a separate softmax
            Activation layer) or, if it has no softmax, the class scores themselves.
        score: ``"logit"``: the scores before the final softmax, as in Simonyan et al. 2014;
            ``"log_probability"``: the log of the softmax's output.

    Returns:
        A function: tensor (n, 28, 28, 1) → tensor (n, classes), in the backend's tensors.
    """
    if score not in ("logit", "log_probability"):
        raise ValueError(f"score must be logit or log_probability. Received: score={score!r}")
    model = _built(model)
    last = model.layers[-1]
    softmax = keras.activations.softmax
    if score == "log_probability":

        def log_probability(x):
            probabilities = keras.ops.cast(model(x, training=False), "float32")
            return keras.ops.log(keras.ops.maximum(probabilities, 1e-30))

        return log_probability
    if isinstance(last, keras.layers.Activation) and last.activation is softmax:
        body = keras.Model(_input(model), model.layers[-2].output)
        return lambda x: keras.ops.cast(body(x, training=False), "float32")
    if isinstance(last, keras.layers.Dense) and last.activation is softmax:
        body = keras.Model(_input(model), last.input)

        def dense_logits(x):
            features = keras.ops.cast(body(x, training=False), "float32")
            logits = keras.ops.matmul(features, keras.ops.cast(last.kernel, "float32"))
            return logits + keras.ops.cast(last.bias, "float32") if last.use_bias else logits

        return dense_logits
    return lambda x: keras.ops.cast(model(x, training=False), "float32")


def saliency(
    model: keras.Model,
    images,
    labels: Sequence[int] | None = None,
    *,
    score: str = "logit",
    smoothing_samples: int = 0,
    noise: float = 0.15,
    seed: int = 0,
) -> np.ndarray:
    """How strongly each pixel sways the class score: |∂ score / ∂ pixel| (a saliency map).

    The vanilla gradient of Simonyan et al. 2014, or SmoothGrad (Smilkov et al. 2017): the
    mean of the absolute gradients at ``smoothing_samples`` copies of each image with Gaussian
    noise of standard deviation ``noise`` added (the copies may leave [0, 1]).

    Args:
        model: a Keras model on 28×28×1 inputs (see `class_score_function`).
        images: array (n, 28, 28) or (n, 28, 28, 1), values in [0, 1].
        labels: the class whose score to explain for each image (n integers 0–9); the
            model's predicted class if None.
        score: ``"logit"`` (before the softmax) or ``"log_probability"``.
        smoothing_samples: 0 for the plain gradient, else SmoothGrad's number of noisy copies.
        noise: SmoothGrad's noise standard deviation, in pixel units (0.15 = 15 % of the range).
        seed: SmoothGrad's noise seed.

    Returns:
        float32 array (n, 28, 28), values ≥ 0; zero where a pixel cannot change the score.
    """
    x = as_image_batch(images)
    smoothing_samples = check_int("smoothing_samples", smoothing_samples, minimum=0)
    if not noise > 0:
        raise ValueError(f"noise must be a positive standard deviation. Received: noise={noise!r}")
    scores = class_score_function(model, score)
    if labels is None:
        labels = np.concatenate(
            [
                np.argmax(keras.ops.convert_to_numpy(scores(x[i : i + BATCH_SIZE])), axis=1)
                for i in range(0, len(x), BATCH_SIZE)
            ]
        )
    labels = np.asarray(labels)
    if labels.shape != (len(x),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be {len(x)} integers, one class per image. "
            f"Received: labels of shape {labels.shape} and dtype {labels.dtype}"
        )
    classes = int(keras.ops.shape(scores(x[:1]))[-1])
    if labels.min() < 0 or labels.max() >= classes:
        raise ValueError(f"labels must be classes from 0 to {classes - 1}. Received: {labels}")

    def chosen_score(batch, batch_labels):
        one_hot = keras.ops.one_hot(keras.ops.convert_to_tensor(batch_labels), classes)
        return keras.ops.sum(scores(batch) * one_hot)

    rng = np.random.default_rng(seed)
    result = np.zeros(x.shape[:3], dtype=np.float32)
    for start in range(0, len(x), BATCH_SIZE):
        batch, batch_labels = x[start : start + BATCH_SIZE], labels[start : start + BATCH_SIZE]
        if smoothing_samples == 0:
            gradient = np.abs(input_gradient(lambda b, y=batch_labels: chosen_score(b, y), batch))
        else:
            gradient = np.zeros_like(batch)
            for _ in range(smoothing_samples):
                noisy = batch + rng.normal(0, noise, batch.shape).astype(np.float32)
                gradient += np.abs(
                    input_gradient(lambda b, y=batch_labels: chosen_score(b, y), noisy)
                )
            gradient /= smoothing_samples
        result[start : start + len(batch)] = gradient.max(axis=-1)
    return result

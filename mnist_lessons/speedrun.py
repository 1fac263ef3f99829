"""Fast-training recipes: how quickly a small CNN reaches 99 % (and 99.5 %) on MNIST.

A recipe fixes the network, the batch size, the number of epochs, the learning-rate schedule, the
augmentation and the label smoothing. `run_recipe` trains one recipe once, timing the whole of
``model.fit`` (graph tracing included), and only then scores the test set.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from .backend import keras
from .checks import check_int
from .data import IMAGE_SIZE, NUM_CLASSES, PreparedData
from .evaluate import evaluate_model
from .train import DEFAULT_STEPS_PER_EXECUTION, set_seed

layers = keras.layers


@dataclass(frozen=True)
class Recipe:
    """One fast-training recipe.

    Attributes:
        name: a short label.
        widths: filters of the two convolutions.
        dense: units of the hidden dense layer (0 for none).
        epochs: passes over the training images.
        batch_size: images per step.
        peak_learning_rate: the top of the one-cycle schedule.
        warmup_fraction: share of the steps spent rising to the peak.
        label_smoothing: weight moved from the true class to the others (0 for none).
        shift: maximum random translation in pixels, applied to each epoch's images (0 for none).
        rotation: maximum random rotation in degrees (0 for none).
        zoom: maximum relative change of scale, e.g. 0.1 for 90 % to 110 % (0 for none).
        dropout: dropout rate before the output layer.
        second_pool: pool after the second convolution (faster, fewer features for the head).
        batch_norm: batch-normalise each convolution's output; without it each convolution has a
            bias and the network must train at a lower learning rate, but each step is cheaper.
    """

    name: str
    widths: tuple[int, int] = (32, 64)
    dense: int = 0
    epochs: int = 3
    batch_size: int = 128
    peak_learning_rate: float = 0.02
    warmup_fraction: float = 0.25
    label_smoothing: float = 0.0
    shift: int = 0
    rotation: float = 0.0
    zoom: float = 0.0
    dropout: float = 0.0
    second_pool: bool = True
    batch_norm: bool = True

    def changed(self, **changes) -> Recipe:
        """A copy of this recipe with the given fields changed, e.g. ``changed(epochs=1)``."""
        return replace(self, **changes)


class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from ``peak / 10`` to ``peak``, then cosine decay to ``peak / 1000``."""

    def __init__(self, peak: float, total_steps: int, warmup_fraction: float = 0.25):
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.warmup_steps = max(1, int(total_steps * warmup_fraction))

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warm = self.peak / 10 + (self.peak - self.peak / 10) * step / self.warmup_steps
        progress = (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        progress = keras.ops.clip(progress, 0.0, 1.0)
        floor = self.peak / 1000
        decay = floor + (self.peak - floor) * 0.5 * (1 + keras.ops.cos(math.pi * progress))
        return keras.ops.where(step < self.warmup_steps, warm, decay)

    def get_config(self):
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_fraction": self.warmup_steps / max(1, self.total_steps),
        }


def _conv_block(filters: int, size: int, strides: int, padding: str, index: int, norm: bool):
    # With batch normalisation the convolution needs no bias, and the ReLU follows the norm.
    conv = layers.Conv2D(
        filters,
        size,
        strides=strides,
        padding=padding,
        use_bias=not norm,
        activation=None if norm else "relu",
        name=f"conv{index}",
    )
    if not norm:
        return [conv]
    return [conv, layers.BatchNormalization(name=f"bn{index}"), layers.ReLU(name=f"relu{index}")]


def build_fast_model(recipe: Recipe) -> keras.Sequential:
    """A 5×5 stride-2 convolution, a 3×3 convolution, each followed by a ReLU and pooled.

    The stride-2 first layer does the work of a convolution and a pooling at a quarter of the
    cost: on a CPU, the convolutions at full 28×28 resolution are where the other architectures
    spend most of their time. With ``recipe.batch_norm`` each convolution is batch-normalised,
    which lets the network train at a high learning rate from the first step.
    """
    first, second = recipe.widths
    model_layers = [
        keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="image"),
        *_conv_block(first, 5, 2, "same", 1, recipe.batch_norm),
        layers.MaxPooling2D(2, name="pool1"),
        *_conv_block(second, 3, 1, "valid", 2, recipe.batch_norm),
    ]
    if recipe.second_pool:
        model_layers.append(layers.MaxPooling2D(2, name="pool2"))
    model_layers.append(layers.Flatten(name="flatten"))
    if recipe.dense:
        model_layers.append(layers.Dense(recipe.dense, activation="relu", name="dense"))
    if recipe.dropout:
        model_layers.append(layers.Dropout(recipe.dropout, name="dropout"))
    model_layers.append(layers.Dense(NUM_CLASSES, activation="softmax", name="digit"))
    # Keras's torch backend refuses a "." in a model's name ("99.5_percent").
    return keras.Sequential(model_layers, name="fast_" + recipe.name.replace(".", "_"))


def _image_size(images: np.ndarray) -> tuple[int, int, int]:
    """The number, height and width of a batch of images shaped (n, height, width, channels)."""
    if images.ndim != 4:
        raise ValueError(f"images must have shape (n, height, width, channels), got {images.shape}")
    n, height, width, _ = images.shape
    return n, height, width


def random_shift(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Moves each image by up to ``max_shift`` pixels in each direction, filling with zeros.

    Every image gets its own offset, drawn uniformly from the ``(2 * max_shift + 1) ** 2``
    possible ones. The images that share an offset are moved together with one slice copy, so a
    pass over 55,000 images takes a few hundredths of a second rather than the half second that
    per-pixel fancy indexing would.

    Args:
        images: an array of shape ``(n, height, width, channels)``.
        max_shift: the largest move in pixels, at least 0 and less than the image's size.
        rng: the source of the offsets.

    Returns:
        A new array of the same shape and dtype (``images`` itself when ``max_shift`` is 0).
    """
    if isinstance(max_shift, bool) or not isinstance(max_shift, (int, np.integer)):
        raise TypeError(f"max_shift must be an int, got {type(max_shift).__name__}")
    n, height, width = _image_size(images)
    if not 0 <= max_shift < min(height, width):
        raise ValueError(
            f"max_shift must be between 0 and {min(height, width) - 1}, got {max_shift}"
        )
    if max_shift == 0:
        return images
    side = 2 * max_shift + 1
    offsets = rng.integers(0, side, n) * side + rng.integers(0, side, n)
    # The indices of the images, grouped by offset: group k holds the images with offset k.
    ends = np.cumsum(np.bincount(offsets, minlength=side * side))
    groups = np.split(np.argsort(offsets, kind="stable"), ends[:-1])
    shifted = np.zeros_like(images)
    for offset, group in enumerate(groups):
        # The image moves down by dy and right by dx (negative values move it up or left).
        dy, dx = offset // side - max_shift, offset % side - max_shift
        shifted[group, max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = images[
            group, max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)
        ]
    return shifted


def random_affine(
    images: np.ndarray,
    rng: np.random.Generator,
    rotation: float = 10.0,
    zoom: float = 0.1,
    shift: float = 2.0,
) -> np.ndarray:
    """Rotates, scales and moves each image by its own random amount, filling with zeros.

    Each image is turned about its centre by up to ``rotation`` degrees, scaled by a factor
    between ``1 - zoom`` and ``1 + zoom``, and moved by up to ``shift`` pixels along each axis
    (not only by whole pixels), all drawn uniformly. Pixel values are interpolated bilinearly.
    The whole batch is one call to `keras.ops.image.affine_transform`, not one call per image,
    which keeps a fresh move of every training image in each epoch cheap.

    Args:
        images: an array of shape ``(n, height, width, channels)``.
        rng: the source of the random amounts.
        rotation: the largest rotation in degrees, 0 to 180.
        zoom: the largest relative change of scale, 0 to less than 1.
        shift: the largest move in pixels, at least 0.

    Returns:
        A new float32 array of the same shape.
    """
    for name, value in (("rotation", rotation), ("zoom", zoom), ("shift", shift)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not 0 <= rotation <= 180:
        raise ValueError(f"rotation must be between 0 and 180 degrees, got {rotation}")
    if not 0 <= zoom < 1:
        raise ValueError(f"zoom must be at least 0 and below 1, got {zoom}")
    if shift < 0:
        raise ValueError(f"shift must be at least 0, got {shift}")
    n, height, width = _image_size(images)
    angle = np.deg2rad(rng.uniform(-rotation, rotation, n))
    scale = rng.uniform(1 - zoom, 1 + zoom, n)
    move_x, move_y = rng.uniform(-shift, shift, n), rng.uniform(-shift, shift, n)
    # The transform maps each output pixel back to the input pixel it is read from: the inverse
    # of "scale, rotate about the centre, then move".
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    transform = np.stack(
        [
            cos,
            -sin,
            centre_x - cos * (centre_x + move_x) + sin * (centre_y + move_y),
            sin,
            cos,
            centre_y - sin * (centre_x + move_x) - cos * (centre_y + move_y),
            np.zeros(n),
            np.zeros(n),
        ],
        axis=1,
    ).astype(np.float32)
    moved = keras.ops.image.affine_transform(
        images.astype(np.float32, copy=False), transform, data_format="channels_last"
    )
    return keras.ops.convert_to_numpy(moved)


def time_verdict(seconds: float, target: float) -> str:
    """A phrase setting a median training time against its target, for the chapter's text."""
    if seconds <= target:
        return f"within the {target:g}-second target"
    return f"{seconds - target:.1f} seconds over the {target:g}-second target on this machine"


@dataclass
class SpeedrunResult:
    """One training run of a recipe."""

    recipe: str
    seed: int
    seconds: float
    test_accuracy: float
    val_accuracy: float | None


def run_recipe(recipe: Recipe, data: PreparedData, seed: int = 0) -> SpeedrunResult:
    """Trains ``recipe`` once on ``data.x_train`` and scores it on the test set afterwards.

    Args:
        recipe: the recipe.
        data: prepared arrays with sparse labels; ``x_val`` may be empty.
        seed: seeds the weights, the shuffling and the shifts.

    Returns:
        A `SpeedrunResult`; ``seconds`` is the wall time of ``model.fit`` alone.
    """
    check_int("epochs", recipe.epochs, minimum=1)
    check_int("batch_size", recipe.batch_size, minimum=1)
    if data.y_train.ndim != 1:
        raise ValueError("run_recipe needs sparse labels: prepare_data(..., one_hot=False)")
    set_seed(seed)
    model = build_fast_model(recipe)
    steps = math.ceil(len(data.x_train) / recipe.batch_size) * recipe.epochs
    schedule = OneCycle(recipe.peak_learning_rate, steps, recipe.warmup_fraction)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing),
        metrics=["accuracy"],
        steps_per_execution=DEFAULT_STEPS_PER_EXECUTION,
    )
    y_train = np.eye(NUM_CLASSES, dtype=np.float32)[data.y_train]
    start = time.perf_counter()
    affine = bool(recipe.rotation or recipe.zoom)
    if affine or recipe.shift:
        # Each epoch sees every image moved by a fresh random amount; the training function is
        # traced once and reused across these calls.
        rng = np.random.default_rng(seed)
        for epoch in range(recipe.epochs):
            moved = (
                random_affine(data.x_train, rng, recipe.rotation, recipe.zoom, recipe.shift)
                if affine
                else random_shift(data.x_train, recipe.shift, rng)
            )
            model.fit(
                moved,
                y_train,
                batch_size=recipe.batch_size,
                epochs=epoch + 1,
                initial_epoch=epoch,
                verbose=0,
            )
    else:
        model.fit(
            data.x_train, y_train, batch_size=recipe.batch_size, epochs=recipe.epochs, verbose=0
        )
    seconds = time.perf_counter() - start
    val = evaluate_model(model, data.x_val, data.y_val).accuracy if len(data.x_val) else None
    test = evaluate_model(model, data.x_test, data.y_test).accuracy
    return SpeedrunResult(recipe.name, seed, seconds, test, val)


RECIPE_99 = Recipe(name="99_percent", epochs=3, batch_size=128, peak_learning_rate=0.02)
RECIPE_995 = Recipe(
    name="99.5_percent",
    widths=(32, 128),
    dense=128,
    epochs=15,
    batch_size=128,
    peak_learning_rate=0.003,
    shift=2,
    rotation=10,
    zoom=0.1,
    dropout=0.25,
    second_pool=False,
    batch_norm=False,
)

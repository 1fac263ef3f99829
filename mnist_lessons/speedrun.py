"""Fast-training recipes: how quickly a small CNN reaches 99 % (and 99.5 %) on MNIST.

A recipe fixes the network, its arithmetic precision, the batch size, the number of epochs, the
learning-rate schedule, the augmentation, the label smoothing and whether the test images are
scored with test-time augmentation. `run_recipe` trains one recipe once, timing the whole of
``model.fit`` (graph tracing included), and only then scores the test set; test-time
augmentation, where a recipe uses it, is timed too and counted with the training. `ablation`
trains a recipe with one ingredient changed at a time, over seeds, and tabulates what each change
did; `layer_cost` counts what one layer hands on and computes, and `seconds_per_step` times a
training step away from tracing and epoch starts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .backend import keras, training_batches
from .checks import check_choice, check_int
from .convolution import shift_images
from .data import IMAGE_SIZE, NUM_CLASSES, PreparedData, encode_labels
from .evaluate import evaluate_model
from .models import check_precision, default_precision, layer_flops, with_precision
from .tables import MarkdownTable, markdown_table
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
            bias and a ReLU, and the network must train at a lower learning rate.
        norm_after_pool: with ``batch_norm``, pool each convolution's map before normalising it
            (convolution, pooling, batch normalisation, ReLU), so that the normalisation and the
            ReLU see a quarter of the values (a sixteenth after a stride-1 first layer); False
            for the usual order (convolution, batch normalisation, ReLU, pooling).
        first_kernel: the first convolution's kernel size (5: a 5×5 window).
        first_stride: the first convolution's stride, 1 or 2. The first pooling then pools
            ``4 // first_stride`` pixels, so that the second convolution always sees a 7×7 map.
        schedule: ``"one_cycle"`` (`OneCycle` up to ``peak_learning_rate``) or ``"constant"``
            (Adam at ``peak_learning_rate`` throughout).
        precision: ``"float32"``, ``"mixed_bfloat16"`` (weights in float32, the layers'
            arithmetic in bfloat16, the output layer in float32), or None for the machine's
            default, `models.default_precision` (mixed bfloat16 on a CPU with bfloat16
            instructions under TensorFlow, float32 elsewhere, GPUs included).
        test_shifts: score each test (and validation) image by the mean of the network's
            probabilities for it and for four copies moved by one pixel up, down, left and right
            (`shift_averaged_probabilities`, test-time augmentation); `run_recipe` counts the
            time this scoring of the test set takes in the run's seconds.
        head: how the last convolution's map reaches the output layer: ``"flatten"`` (every
            position has its own weights) or ``"global_average"`` (each filter's map is averaged
            over the positions first, so the head cannot tell where a feature was).
        bn_momentum: how much of its running mean and variance a batch-normalisation layer keeps
            at each step (Keras's default, 0.99; the rest comes from the batch).
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
    first_kernel: int = 5
    first_stride: int = 2
    schedule: str = "one_cycle"
    norm_after_pool: bool = True
    precision: str | None = "float32"
    test_shifts: bool = False
    head: str = "flatten"
    bn_momentum: float = 0.99

    def changed(self, **changes) -> Recipe:
        """A copy of this recipe with the given fields changed, e.g. ``changed(epochs=1)``."""
        return replace(self, **changes)


LATER_FIELDS = {"head": "flatten", "bn_momentum": 0.99}
"""Recipe fields added after the first studies were recorded, with their defaults. A study
records such a field only where a recipe changes it, so the earlier records still match their
arms' settings."""
HEADS = ("flatten", "global_average")


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


def _conv_block(
    filters: int,
    size: int,
    strides: int,
    padding: str,
    index: int,
    recipe: Recipe,
    pool: int = 0,
) -> list:
    """A convolution and what follows it in ``recipe``'s order, pooled over ``pool`` pixels
    (0 for no pooling)."""
    # With batch normalisation the convolution needs no bias, and the ReLU follows the norm.
    norm = recipe.batch_norm
    conv = layers.Conv2D(
        filters,
        size,
        strides=strides,
        padding=padding,
        use_bias=not norm,
        activation=None if norm else "relu",
        name=f"conv{index}",
    )
    pooling = [layers.MaxPooling2D(pool, name=f"pool{index}")] if pool else []
    if not norm:
        return [conv, *pooling]
    normalise = [
        layers.BatchNormalization(momentum=recipe.bn_momentum, name=f"bn{index}"),
        layers.ReLU(name=f"relu{index}"),
    ]
    if recipe.norm_after_pool:
        return [conv, *pooling, *normalise]
    return [conv, *normalise, *pooling]


FIRST_STRIDES = (1, 2)
"""The first convolution's strides `build_fast_model` can build (see `Recipe.first_stride`)."""


def build_fast_model(recipe: Recipe) -> keras.Sequential:
    """A 5×5 stride-2 convolution, a 3×3 convolution, each pooled and followed by a ReLU.

    The stride-2 first layer computes its 5×5 window at every second position only, so its output
    map, 14×14, has a quarter of the values a stride-1 layer would produce; the window is wider
    than the stride, so every input pixel still reaches the layer. `layer_cost` counts the
    difference. With ``recipe.first_stride=1`` the first pooling is 4×4 instead of 2×2, so the
    rest of the network is unchanged. With ``recipe.batch_norm`` each convolution is
    batch-normalised, which lets the network train at a high learning rate from the first step;
    by default (``recipe.norm_after_pool``) the pooled map is normalised, not the full one. Max
    pooling takes the same maxima before a ReLU as after it (the ReLU never changes which value is
    largest), and normalising with a positive scale does not change them either; what changes is
    that the batch's statistics are taken over the maxima.
    """
    check_int("first_kernel", recipe.first_kernel, minimum=1)
    check_choice("head", recipe.head, HEADS)
    check_int(
        "first_stride", recipe.first_stride, minimum=min(FIRST_STRIDES), maximum=max(FIRST_STRIDES)
    )
    first, second = recipe.widths
    model_layers = [
        keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="image"),
        *_conv_block(
            first,
            recipe.first_kernel,
            recipe.first_stride,
            "same",
            1,
            recipe,
            pool=4 // recipe.first_stride,
        ),
        *_conv_block(second, 3, 1, "valid", 2, recipe, pool=2 if recipe.second_pool else 0),
        layers.Flatten(name="flatten")
        if recipe.head == "flatten"
        else layers.GlobalAveragePooling2D(name="global_average"),
    ]
    if recipe.dense:
        model_layers.append(layers.Dense(recipe.dense, activation="relu", name="dense"))
    if recipe.dropout:
        model_layers.append(layers.Dropout(recipe.dropout, name="dropout"))
    model_layers.append(layers.Dense(NUM_CLASSES, activation="softmax", name="digit"))
    # Keras's torch backend refuses a "." in a model's name ("99.5_percent").
    model = keras.Sequential(model_layers, name="fast_" + recipe.name.replace(".", "_"))
    precision = recipe_precision(recipe)
    return model if precision == "float32" else with_precision(model, precision)


def recipe_precision(recipe: Recipe) -> str:
    """The precision ``recipe``'s network computes in on this machine (see `Recipe.precision`)."""
    if recipe.precision is None:
        return default_precision()
    return check_precision(recipe.precision, "precision")


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


TEST_SHIFTS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
"""The moves (down, right) in pixels of the views `shift_averaged_probabilities` averages: the
image itself, then one pixel up, down, left and right."""


def shift_averaged_probabilities(
    model: keras.Model, images: np.ndarray, batch_size: int = 1000
) -> np.ndarray:
    """Test-time augmentation: each image's class probabilities averaged over the image and its
    copies moved by one pixel up, down, left and right (`TEST_SHIFTS`).

    A digit moved by a pixel is the same digit; averaging the network's answers over such views
    smooths out a prediction that depends on exactly where the strokes fall. Each view is a
    separate call to ``predict``: for the 10,000 test images, five calls of 10 batches took 1.4 s
    on the machine that built the book where one call over all five views, 50 batches (more than
    the 32 that Keras runs per execution), took 2.7 s the first time.

    Returns:
        float32 array (n, 10), each row summing to 1.
    """
    return _averaged(_view_probabilities(model, images, batch_size))


def _view_probabilities(model: keras.Model, images: np.ndarray, batch_size: int = 1000):
    """The probabilities for each view of `TEST_SHIFTS` in turn, (views, n, 10); the first view
    is the images themselves (`convolution.shift_images` moves them)."""
    return np.stack(
        [
            np.asarray(
                model.predict(shift_images(images, down, right), batch_size=batch_size, verbose=0),
                np.float32,
            )
            for down, right in TEST_SHIFTS
        ]
    )


def _averaged(views: np.ndarray) -> np.ndarray:
    return views.mean(axis=0, dtype=np.float64).astype(np.float32)


def _correct(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float((probabilities.argmax(axis=1) == labels).mean())


def _accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray, test_shifts: bool) -> float:
    if not test_shifts:
        return evaluate_model(model, x, y).accuracy
    return _correct(shift_averaged_probabilities(model, x), y)


SCHEDULES = ("one_cycle", "constant")
"""The learning-rate schedules `run_recipe` knows (see `Recipe.schedule`)."""


def time_verdict(seconds: float, target: float) -> str:
    """A phrase setting a median training time against its target, for the chapter's text."""
    if seconds <= target:
        return f"{seconds:.1f} seconds, within the {target:g}-second target"
    return (
        f"{seconds:.1f} seconds, {seconds - target:.1f} over the {target:g}-second target on this "
        "machine"
    )


@dataclass
class SpeedrunResult:
    """One training run of a recipe.

    Attributes:
        recipe: the recipe's name.
        seed: the run's seed.
        seconds: the time counted for the run: training, plus ``scoring_seconds``.
        test_accuracy: on the test set, scored as the recipe scores it.
        val_accuracy: on the validation set (None without one).
        scoring_seconds: the time test-time augmentation took to score the test set (0 for a
            recipe without it, whose plain scoring is not counted, as for the peers).
        unshifted_test_accuracy: for a recipe with test-time augmentation, the same network's
            test accuracy scored on the images alone, as a recipe without it is scored (not
            timed); None for a recipe without it.
        test_correct: bool array (test images,), which test images the run got right, as
            scored for ``test_accuracy`` (what McNemar's test pairs two runs by).
        unshifted_test_correct: the same for ``unshifted_test_accuracy``, or None.
        model: the trained network (for measurements a study adds after the run).
    """

    recipe: str
    seed: int
    seconds: float
    test_accuracy: float
    val_accuracy: float | None
    scoring_seconds: float = 0.0
    unshifted_test_accuracy: float | None = None
    test_correct: np.ndarray | None = field(default=None, repr=False, compare=False)
    unshifted_test_correct: np.ndarray | None = field(default=None, repr=False, compare=False)
    model: keras.Model | None = field(default=None, repr=False, compare=False)


def compiled_model(recipe: Recipe, images: int, seed: int) -> keras.Sequential:
    """``recipe``'s network, seeded and compiled for ``recipe.epochs`` passes over ``images``."""
    check_int("epochs", recipe.epochs, minimum=1)
    check_int("batch_size", recipe.batch_size, minimum=1)
    check_choice("schedule", recipe.schedule, SCHEDULES)
    set_seed(seed)
    model = build_fast_model(recipe)
    steps = math.ceil(images / recipe.batch_size) * recipe.epochs
    learning_rate = (
        OneCycle(recipe.peak_learning_rate, steps, recipe.warmup_fraction)
        if recipe.schedule == "one_cycle"
        else recipe.peak_learning_rate
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing),
        metrics=["accuracy"],
        steps_per_execution=DEFAULT_STEPS_PER_EXECUTION,
    )
    return model


class _StepClock(keras.callbacks.Callback):
    """Records the step index and the time whenever Keras reports a finished batch."""

    def __init__(self):
        super().__init__()
        self.ticks: list[tuple[int, float]] = []

    def on_train_batch_end(self, batch, logs=None):
        self.ticks.append((batch, time.perf_counter()))


def seconds_per_step(recipe: Recipe, data: PreparedData, steps: int = 96, seed: int = 0) -> float:
    """The wall time of one training step of ``recipe``, away from tracing and epoch starts.

    Trains a fresh model for ``steps`` batches of ``recipe.batch_size`` images (the training
    images repeated if there are fewer) in one call to ``fit``, and times the steps between the
    first and the last batch that Keras reports: graph tracing, the first steps and the stalls at
    the start of an epoch are left out, so two recipes' costs per step can be compared in seconds
    rather than whole runs.

    Args:
        recipe: the recipe; its epochs do not matter.
        data: prepared arrays with sparse labels.
        steps: batches to train; Keras reports one every ``steps_per_execution`` batches, so this
            must cover at least two reports.
        seed: seeds the weights.

    Returns:
        Seconds per step, for a batch of ``recipe.batch_size`` images.
    """
    check_int("steps", steps, minimum=2 * DEFAULT_STEPS_PER_EXECUTION)
    model = compiled_model(recipe, steps * recipe.batch_size, seed)
    chosen = np.arange(steps * recipe.batch_size) % len(data.x_train)
    clock = _StepClock()
    model.fit(
        data.x_train[chosen],
        encode_labels(data.y_train[chosen], one_hot=True),
        batch_size=recipe.batch_size,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[clock],
    )
    (first_step, first_time), (last_step, last_time) = clock.ticks[0], clock.ticks[-1]
    return (last_time - first_time) / (last_step - first_step)


def training_inputs(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> dict:
    """What to pass ``model.fit`` for training on ``x`` and ``y``, reshuffled every epoch and
    by every call to ``fit``.

    On TensorFlow the data go through `backend.training_batches` (no ``tf.data`` autotuning, so
    no stall at each epoch's start); elsewhere the arrays go to ``fit`` as they are.
    """
    batches = training_batches(x, y, batch_size, seed)
    if batches is None:
        return {"x": x, "y": y, "batch_size": batch_size}
    return {"x": batches, "shuffle": False}


def fit_recipe(
    model: keras.Model,
    recipe: Recipe,
    x_train: np.ndarray,
    y_train: np.ndarray,
    seed: int,
    epochs: int,
    callbacks: list | None = None,
) -> None:
    """Trains ``model``, compiled for ``recipe``, for ``epochs`` passes over ``x_train`` and its
    one-hot labels ``y_train``, the way `run_recipe` does: with the recipe's augmentation drawn
    afresh for every epoch. ``callbacks`` are Keras callbacks for ``fit``.

    Everything this does counts as training time: the augmentation, the input pipeline, the
    graph tracing of the first call to ``fit``.
    """
    affine = bool(recipe.rotation or recipe.zoom)
    if not (affine or recipe.shift):
        inputs = training_inputs(x_train, y_train, recipe.batch_size, seed)
        model.fit(**inputs, epochs=epochs, verbose=0, callbacks=callbacks)
        return
    # Each epoch sees every image moved by a fresh random amount; the training function is traced
    # once and reused across these calls.
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        moved = (
            random_affine(x_train, rng, recipe.rotation, recipe.zoom, recipe.shift)
            if affine
            else random_shift(x_train, recipe.shift, rng)
        )
        inputs = training_inputs(moved, y_train, recipe.batch_size, seed + epoch)
        model.fit(**inputs, epochs=epoch + 1, initial_epoch=epoch, verbose=0, callbacks=callbacks)


def run_recipe(
    recipe: Recipe, data: PreparedData, seed: int = 0, callbacks: list | None = None
) -> SpeedrunResult:
    """Trains ``recipe`` once on ``data.x_train`` and scores it on the test set afterwards.

    Args:
        recipe: the recipe.
        data: prepared arrays with sparse labels; ``x_val`` may be empty.
        seed: seeds the weights, the shuffling and the shifts.
        callbacks: Keras callbacks for the training (a study's progress bar).

    Returns:
        A `SpeedrunResult`. Its ``seconds`` are the wall time of training (`fit_recipe`), plus,
        for a recipe with ``test_shifts``, that of scoring the test set with them (tracing the
        prediction function included).
    """
    if data.y_train.ndim != 1:
        raise ValueError("run_recipe needs sparse labels: prepare_data(..., one_hot=False)")
    model = compiled_model(recipe, len(data.x_train), seed)
    y_train = encode_labels(data.y_train, one_hot=True)
    start = time.perf_counter()
    fit_recipe(model, recipe, data.x_train, y_train, seed, recipe.epochs, callbacks)
    seconds = time.perf_counter() - start
    scoring, unshifted = 0.0, None
    if recipe.test_shifts:
        # The test set first, so that the tracing of the prediction function falls in its time.
        # Its first view is the images themselves: their unshifted score, at no extra cost.
        start = time.perf_counter()
        views = _view_probabilities(model, data.x_test)
        correct = _averaged(views).argmax(axis=1) == data.y_test
        scoring = time.perf_counter() - start
        unshifted = views[0].argmax(axis=1) == data.y_test
    else:
        correct = evaluate_model(model, data.x_test, data.y_test).predictions == data.y_test
    val = _accuracy(model, data.x_val, data.y_val, recipe.test_shifts) if len(data.x_val) else None
    return SpeedrunResult(
        recipe.name,
        seed,
        seconds + scoring,
        float(correct.mean()),
        val,
        scoring,
        None if unshifted is None else float(unshifted.mean()),
        test_correct=correct,
        unshifted_test_correct=unshifted,
        model=model,
    )


RECIPE_99 = Recipe(name="99_percent", epochs=2, batch_size=128, peak_learning_rate=0.02)
RECIPE_995 = Recipe(
    name="99.5_percent",
    widths=(32, 96),
    dense=128,
    epochs=5,
    batch_size=128,
    peak_learning_rate=0.01,
    label_smoothing=0.1,
    shift=2,
    dropout=0.25,
    second_pool=False,
    precision=None,
    test_shifts=True,
)
"""The 99.5 % recipe: the 99 % recipe's batch-normalised network with a wider second convolution
and no second pooling, a hidden layer with dropout, random shifts and label smoothing in
training, the machine's default precision, and test-time shifts in scoring."""


def without_each_ingredient(recipe: Recipe, skip: Collection[str] = ()) -> dict[str, Recipe]:
    """The 99 % recipe with each of its ingredients removed in turn, by what was removed.

    Each copy is named after its change (``no_batch_norm``, ``constant_rate``, ``norm_first``,
    ``first_3x3``) and keeps every other setting of ``recipe``, including any epochs or batch size
    changed for a short run. Removing the one-cycle schedule means Adam at its default constant
    rate, 0.001; removing the pooling before normalisation means the usual order (convolution,
    batch normalisation, ReLU, pooling).
    The copies whose names are in ``skip`` are left out.
    """
    changes = {
        "batch normalisation (same peak rate)": recipe.changed(
            name="no_batch_norm", batch_norm=False
        ),
        "one-cycle schedule (constant 0.001)": recipe.changed(
            name="constant_rate", schedule="constant", peak_learning_rate=0.001
        ),
        "normalising after pooling (before it)": recipe.changed(
            name="norm_first", norm_after_pool=False
        ),
        "5×5 stride-2 first layer (3×3 stride 1)": recipe.changed(
            name="first_3x3", first_kernel=3, first_stride=1
        ),
    }
    return {label: changed for label, changed in changes.items() if changed.name not in skip}


def seeds_reaching(accuracies: Sequence[float], target: float, test_images: int) -> int:
    """How many of the runs' test accuracies reach ``target`` (0–1), e.g. 0.995.

    Accuracies are counts of correct images out of ``test_images``, so they are compared as whole
    images: 9,950 of 10,000 reaches 0.995 whatever the rounding of the float.
    """
    accuracies = np.asarray(accuracies, dtype=float)
    if accuracies.size == 0:
        raise ValueError("accuracies is empty: there are no runs to judge.")
    return int((np.round(accuracies * test_images) >= round(target * test_images)).sum())


@dataclass(frozen=True)
class Goal:
    """A goal the fast-training chapter sets a recipe against, and the verdict on a set of runs.

    Attributes:
        accuracy: the mean test accuracy over seeds to reach (0–1).
        seconds: the median training time to stay within, on the machine that runs it.
        min_seeds: the fewest seeds a verdict counts; with fewer, the verdict says so.
        floor: if given, no seed may score below it (0–1).
        peer_speedup: if given, the recipe's median time to ``accuracy`` must be at most the
            fastest peer's, measured in the same run the same way, divided by this.
    """

    accuracy: float
    seconds: float
    min_seeds: int
    floor: float | None = None
    peer_speedup: float | None = None

    def _mean_established(self, accuracies: np.ndarray) -> bool:
        """Whether the runs show a mean of at least ``accuracy``: the 95 % interval of the mean
        over seeds lies at or above it (`stats.mean_against_target`). Where every seed scored the
        same, that score itself; one seed establishes nothing."""
        from .stats import mean_against_target

        return mean_against_target(accuracies, self.accuracy)[0] == "at or above"

    def rows(
        self,
        accuracies: Sequence[float],
        median_seconds: float,
        test_images: int,
        peer_seconds: float | None = None,
        seconds_to_accuracy: float | None = None,
    ) -> list[dict]:
        """The goal part by part: what it asks, what the runs measured, and whether that is met.

        Args:
            accuracies: each seed's test accuracy.
            median_seconds: the runs' median training time.
            test_images: the size of the test set (accuracies are counted in whole images).
            peer_seconds: the fastest peer's median time to ``accuracy`` in the same run (None if
                no peer reached it); used only when ``peer_speedup`` is set.
            seconds_to_accuracy: the recipe's own median time to ``accuracy``, measured as the
                peer's is (`peers.median_seconds_to`: a run that missed it counts as the
                slowest), to set against ``peer_seconds``; None (the default) when every seed
                reached it, so that the median training time is that time. Pass ``math.inf``
                when fewer than half the recipe's runs reached it.

        Returns:
            One dict per part, ``{"part", "asks", "measured", "met"}``; ``met`` is a bool.
        """
        from .stats import mean_against_target

        accuracies = np.asarray(accuracies, dtype=float)
        name = f"{self.accuracy * 100:g} %"
        where, interval = mean_against_target(accuracies, self.accuracy)
        if interval is not None:
            mean = f"{interval.estimate:.4f} ({interval.low:.4f} to {interval.high:.4f})"
        else:
            mean = f"{accuracies.mean():.4f}" + (
                " (one seed: no interval)" if where == "one seed" else ""
            )
        reaching = seeds_reaching(accuracies, self.accuracy, test_images)
        lowest = f"lowest {accuracies.min():.4f}"
        rows = [
            {
                "part": "mean test accuracy",
                "asks": f"{name}, with the 95 % interval of the mean at or above it",
                "measured": mean,
                "met": where == "at or above",
            },
            {
                "part": "seeds",
                "asks": f"at least {self.min_seeds}",
                "measured": f"{accuracies.size} ({reaching} reach {name}; {lowest})",
                "met": accuracies.size >= self.min_seeds,
            },
        ]
        if self.floor is not None:
            below = accuracies.size - seeds_reaching(accuracies, self.floor, test_images)
            rows.append(
                {
                    "part": "every seed",
                    "asks": f"none below {self.floor * 100:g} %",
                    "measured": f"{below} below",
                    "met": below == 0,
                }
            )
        rows.append(
            {
                "part": "median training time",
                "asks": f"at most {self.seconds:g} s",
                "measured": f"{median_seconds:.1f} s",
                "met": median_seconds <= self.seconds,
            }
        )
        if self.peer_speedup is not None:
            asks = f"{self.peer_speedup:g} times the fastest peer's speed to {name}"
            ours = median_seconds if seconds_to_accuracy is None else seconds_to_accuracy
            if peer_seconds is None:
                measured, met = f"no peer reached {name}", True
            elif math.isinf(ours):
                measured, met = f"fewer than half the runs reached {name}", False
            else:
                speedup = peer_seconds / ours
                measured = f"{speedup:.2f} times ({ours:.1f} s against {peer_seconds:.1f} s)"
                met = speedup >= self.peer_speedup
            rows.append({"part": "pace", "asks": asks, "measured": measured, "met": met})
        return rows

    def table(self, *args, **kwargs) -> MarkdownTable:
        """`rows` as a Markdown table (same arguments)."""
        return markdown_table(
            ["part of the goal", "asks for", "measured", "met"],
            [
                [r["part"], r["asks"], r["measured"], "yes" if r["met"] else "**no**"]
                for r in self.rows(*args, **kwargs)
            ],
        )

    def verdict(self, *args, **kwargs) -> str:
        """One sentence: "Goal met." or "Goal not met: …" naming the parts missed (arguments as
        for `rows`)."""
        missed = [r["part"] for r in self.rows(*args, **kwargs) if not r["met"]]
        if not missed:
            return "Goal met."
        listed = ", ".join(missed[:-1]) + " and " + missed[-1] if len(missed) > 1 else missed[0]
        return f"Goal not met on {listed}."


GOAL_99 = Goal(accuracy=0.99, seconds=4, min_seeds=10, peer_speedup=2)
"""The 99 % recipe's goal: a mean of 99 % over at least 10 seeds, a median of at most 4 seconds
of training, and at least twice as fast as the fastest published recipe trained beside it."""

GOAL_995 = Goal(accuracy=0.995, seconds=30, min_seeds=5, floor=0.994)
"""The 99.5 % recipe's goal: a mean of 99.5 % over at least 5 seeds with no seed below 99.4 %, in
a median of at most 30 seconds of training."""


@dataclass(frozen=True)
class LayerCost:
    """What one convolution of a built model keeps and costs, per image.

    Attributes:
        output_shape: the layer's output (height, width, channels).
        parameters: its weights (kernel, and bias if it has one).
        flops: its forward pass, two operations per multiply-add.
    """

    output_shape: tuple[int, int, int]
    parameters: int
    flops: int

    @property
    def values(self) -> int:
        """How many numbers the layer hands on per image, for every layer after it to process."""
        return math.prod(self.output_shape)


def layer_cost(model: keras.Model, name: str = "conv1") -> LayerCost:
    """Counts a Conv2D layer's output shape, parameters and forward operations per image."""
    layer = model.get_layer(name)
    if not isinstance(layer, layers.Conv2D):
        raise ValueError(f"layer {name!r} is a {layer.__class__.__name__}, not a Conv2D")
    _, height, width, channels = layer.output.shape
    return LayerCost((height, width, channels), layer.count_params(), layer_flops(model)[name])


RECIPE_SETTINGS = {
    "widths": "filters of the two convolutions",
    "first_kernel": "first convolution's kernel (pixels)",
    "first_stride": "first convolution's stride",
    "dense": "hidden dense units (0: none)",
    "batch_norm": "batch normalisation",
    "norm_after_pool": "pool before normalising",
    "bn_momentum": "normalisation momentum",
    "second_pool": "pool after the second convolution",
    "head": "head (flatten or global average)",
    "dropout": "dropout before the output",
    "epochs": "epochs",
    "batch_size": "batch size",
    "schedule": "learning-rate schedule",
    "peak_learning_rate": "peak learning rate",
    "warmup_fraction": "share of steps warming up",
    "label_smoothing": "label smoothing",
    "shift": "random shift in training (pixels)",
    "rotation": "random rotation in training (degrees)",
    "zoom": "random zoom in training",
    "test_shifts": "test-time shifts",
    "precision": "precision",
}
"""Each `Recipe` field (but its name) in words, in the order `recipe_table` lists them."""


def recipe_table(*recipes: Recipe) -> MarkdownTable:
    """The recipes' settings side by side, one row per setting, one column per recipe.

    A precision of None is shown as what it means on this machine (`models.default_precision`).
    """
    if not recipes:
        raise ValueError("recipe_table needs at least one recipe")

    def shown(recipe: Recipe, field_name: str) -> str:
        value = getattr(recipe, field_name)
        if field_name == "precision":
            return recipe_precision(recipe)
        if field_name == "widths":
            return ", ".join(str(w) for w in value)
        if isinstance(value, bool):
            return "yes" if value else "no"
        return f"{value:g}" if isinstance(value, float) else str(value).replace("_", "-")

    return markdown_table(
        ["setting", *(recipe.name.replace("_percent", " % recipe") for recipe in recipes)],
        [
            [words, *(shown(recipe, field_name) for recipe in recipes)]
            for field_name, words in RECIPE_SETTINGS.items()
        ],
        align="l" + "r" * len(recipes),
    )

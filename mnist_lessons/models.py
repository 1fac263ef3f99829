"""The five documented architectures, as builder functions in one registry.

Each builder returns an uncompiled `keras.Sequential` for 28×28×1 inputs scaled to [0, 1], ending
in a 10-way softmax. `REFERENCES` holds what each original write-up documented and reported;
the chapters and the comparison read those facts from here.
"""

from __future__ import annotations

import functools
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .backend import BFLOAT16_MEASURED, gpu_available, keras
from .checks import check_int
from .data import IMAGE_SIZE
from .tables import MarkdownTable, markdown_table

layers = keras.layers


INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)

PRECISIONS = ("float32", "mixed_bfloat16")
"""The numeric precisions a model can be built in (see `default_precision`)."""

PRECISION_VARIABLE = "MNIST_LESSONS_PRECISION"

BFLOAT16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
"""Processor flags (as /proc/cpuinfo names them) for bfloat16 arithmetic in hardware."""


@dataclass(frozen=True)
class Reference:
    """What one reference write-up documented and reported.

    Attributes:
        write_up: the write-up's id, "000" … "004".
        title: a short description of the architecture.
        params: the parameter count the write-up's summary gives (or, for 003, the
            reconstruction's).
        epochs: documented number of training epochs.
        batch_size: documented batch size (Keras's default of 32 where none is given).
        optimizer: Keras optimizer name.
        optimizer_config: keyword arguments for that optimizer.
        reported: the figures the write-up reports, e.g. ``{"test_accuracy": 0.9895}``.
        validation: how the write-up validated, in a few words.
        reconstructed: what this book had to fill in because the write-up does not say it.
    """

    write_up: str
    title: str
    params: int
    epochs: int
    batch_size: int
    optimizer: str
    reported: dict[str, float]
    validation: str
    reconstructed: str
    optimizer_config: dict = field(default_factory=dict)

    @property
    def reported_test_accuracy(self) -> float:
        return self.reported["test_accuracy"]

    @property
    def reported_step(self) -> float:
        """What the reported test accuracy was rounded to: 0.01 for a figure in whole percent
        (write-up 002's "around 97 %"), 0 for one given to four decimals."""
        percent = self.reported_test_accuracy * 100
        return 0.01 if abs(percent - round(percent)) < 1e-6 else 0.0

    @property
    def reported_text(self) -> str:
        """The reported test accuracy as the write-up gave it: "0.9895", "about 97 % (96.5 to
        97.5 %)"."""
        from .stats import reported_text

        return reported_text(self.reported_test_accuracy, self.reported_step)

    def make_optimizer(self) -> keras.optimizers.Optimizer:
        """Returns a fresh instance of the documented optimizer."""
        return keras.optimizers.get({"class_name": self.optimizer, "config": self.optimizer_config})


def three_conv_dense64() -> keras.Sequential:
    """Three 3×3 convolutions with two poolings and a 64-unit dense layer (93,322 parameters).

    Source: reference write-up 000. Every layer is documented; the optimizer (Adam) and batch
    size (32) are not, and take Keras's usual defaults.
    """
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE, name="image"),
            layers.Conv2D(32, 3, activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(64, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Conv2D(64, 3, activation="relu", name="conv3"),
            layers.Flatten(name="flatten"),
            layers.Dense(64, activation="relu", name="dense"),
            layers.Dense(10, activation="softmax", name="digit"),
        ],
        name="three_conv_dense64",
    )


def two_conv_dropout() -> keras.Sequential:
    """Two 4×4 convolutions, each pooled and followed by dropout, and a 256-unit head (150,858).

    Source: reference write-up 001. The layers and sizes are documented; the dropout rates are
    not, so this uses the common 0.25 after each convolution block and 0.5 before the output.
    """
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE, name="image"),
            layers.Conv2D(32, 4, activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Dropout(0.25, name="dropout1"),
            layers.Conv2D(32, 4, activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Dropout(0.25, name="dropout2"),
            layers.Flatten(name="flatten"),
            layers.Dense(256, activation="relu", name="dense"),
            layers.Dropout(0.5, name="dropout3"),
            layers.Dense(10, activation="softmax", name="digit"),
        ],
        name="two_conv_dropout",
    )


def one_conv_wide_dense() -> keras.Sequential:
    """One same-padded 3×3 convolution feeding two 256-unit dense layers (1,674,570 parameters).

    Source: reference write-up 002. Its summary fixes the layers and sizes; the activations of
    the two dense layers and the dropout rate are not given, so this uses ReLU and 0.2.
    Almost all of the parameters sit in the first dense layer (6,272 × 256).
    """
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE, name="image"),
            layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Flatten(name="flatten"),
            layers.Dense(256, activation="relu", name="dense1"),
            layers.Dense(256, activation="relu", name="dense2"),
            layers.Dropout(0.2, name="dropout"),
            layers.Dense(10, activation="softmax", name="digit"),
        ],
        name="one_conv_wide_dense",
    )


def keras_classic_cnn() -> keras.Sequential:
    """The classic Keras MNIST example: two convolutions, one pooling, dropout (1,199,882).

    Source: reference write-up 003, which does not list its layers. Its training log (12 epochs
    on 60,000 images, validated on the 10,000 test images, test loss 0.0304) matches the
    long-standing ``mnist_cnn.py`` example of Keras, so the whole model is reconstructed from
    that example, with its optimizer (Adadelta, learning rate 1.0) and batch size (128).
    """
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE, name="image"),
            layers.Conv2D(32, 3, activation="relu", name="conv1"),
            layers.Conv2D(64, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool"),
            layers.Dropout(0.25, name="dropout1"),
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="dense"),
            layers.Dropout(0.5, name="dropout2"),
            layers.Dense(10, activation="softmax", name="digit"),
        ],
        name="keras_classic_cnn",
    )


def three_conv_three_pool() -> keras.Sequential:
    """Three 64-filter convolutions, each pooled, and a 64→32 dense head (81,066 parameters).

    Source: reference write-up 004. Every layer is documented, with the activations as separate
    layers as the write-up has them; the optimizer (Adam) and batch size (32) are not given.
    The third pooling leaves a 1×1×64 map, so the head sees only 64 features.
    """
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE, name="image"),
            layers.Conv2D(64, 3, name="conv1"),
            layers.Activation("relu", name="relu1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(64, 3, name="conv2"),
            layers.Activation("relu", name="relu2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Conv2D(64, 3, name="conv3"),
            layers.Activation("relu", name="relu3"),
            layers.MaxPooling2D(2, name="pool3"),
            layers.Flatten(name="flatten"),
            layers.Dense(64, name="dense1"),
            layers.Activation("relu", name="relu4"),
            layers.Dense(32, name="dense2"),
            layers.Activation("relu", name="relu5"),
            layers.Dense(10, name="logits"),
            layers.Activation("softmax", name="digit"),
        ],
        name="three_conv_three_pool",
    )


ARCHITECTURES: dict[str, Callable[[], keras.Sequential]] = {
    "three_conv_dense64": three_conv_dense64,
    "two_conv_dropout": two_conv_dropout,
    "one_conv_wide_dense": one_conv_wide_dense,
    "keras_classic_cnn": keras_classic_cnn,
    "three_conv_three_pool": three_conv_three_pool,
}

REFERENCES: dict[str, Reference] = {
    "three_conv_dense64": Reference(
        write_up="000",
        title="Three convolutions and a 64-unit dense layer",
        params=93_322,
        epochs=3,
        batch_size=32,
        optimizer="adam",
        reported={"val_accuracy": 0.9884, "test_accuracy": 0.9895},
        validation="a validation split taken from the training set",
        reconstructed="optimizer and batch size (Adam, 32)",
    ),
    "two_conv_dropout": Reference(
        write_up="001",
        title="Two 4×4 convolutions with dropout",
        params=150_858,
        epochs=10,
        batch_size=32,
        optimizer="adam",
        reported={
            "train_loss": 0.0288,
            "train_accuracy": 0.9906,
            "test_loss": 0.0285,
            "test_accuracy": 0.9934,
        },
        validation="none reported",
        reconstructed="dropout rates (0.25, 0.25, 0.5) and optimizer (Adam)",
    ),
    "one_conv_wide_dense": Reference(
        write_up="002",
        title="One convolution and a wide dense head",
        params=1_674_570,
        epochs=10,
        batch_size=32,
        optimizer="adam",
        reported={"train_accuracy": 0.9971, "test_accuracy": 0.97},
        validation="none reported",
        reconstructed="dense activations (ReLU), dropout rate (0.2) and optimizer (Adam)",
    ),
    "keras_classic_cnn": Reference(
        write_up="003",
        title="The classic Keras MNIST example",
        params=1_199_882,
        epochs=12,
        batch_size=128,
        optimizer="adadelta",
        optimizer_config={"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-7},
        reported={"test_loss": 0.0304, "best_val_accuracy": 0.9914, "test_accuracy": 0.9899},
        validation="the 10,000 test images (a leak: this book holds out a validation split)",
        reconstructed="every layer, the optimizer (Adadelta, learning rate 1.0) and batch size "
        "(128), from the Keras example its log matches",
    ),
    "three_conv_three_pool": Reference(
        write_up="004",
        title="Three pooled 64-filter convolutions",
        params=81_066,
        epochs=5,
        batch_size=32,
        optimizer="adam",
        reported={"test_loss": 0.0569, "test_accuracy": 0.9838},
        validation="none reported",
        reconstructed="optimizer and batch size (Adam, 32)",
    ),
}

BY_WRITE_UP = {ref.write_up: name for name, ref in REFERENCES.items()}


@dataclass(frozen=True)
class Variant:
    """One documented architecture with one thing changed: the chapters' ablations.

    Attributes:
        architecture: the name in `ARCHITECTURES` it changes.
        change: what is different, as a phrase ("without its three dropout layers").
        remove: names of the layers left out.
        configure: ``{layer name: {config key: value}}`` for layers kept with a new setting.
    """

    architecture: str
    change: str
    remove: tuple[str, ...] = ()
    configure: dict[str, dict] = field(default_factory=dict)

    def build(self) -> keras.Sequential:
        base = ARCHITECTURES[self.architecture]()
        names = {layer.name for layer in base.layers}
        unknown = (set(self.remove) | set(self.configure)) - names
        if unknown:
            raise ValueError(f"{self.architecture} has no layer {', '.join(sorted(unknown))}")
        kept = []
        for layer in base.layers:
            if layer.name in self.remove:
                continue
            config = {**layer.get_config(), **self.configure.get(layer.name, {})}
            kept.append(layer.__class__.from_config(config))
        return keras.Sequential([keras.Input(INPUT_SHAPE, name="image"), *kept])


VARIANTS: dict[str, Variant] = {
    "two_conv_no_dropout": Variant(
        "two_conv_dropout",
        "without its three dropout layers",
        remove=("dropout1", "dropout2", "dropout3"),
    ),
    "one_conv_linear_dense": Variant(
        "one_conv_wide_dense",
        "with linear 256-unit dense layers (no ReLU), which together act as one linear map",
        configure={"dense1": {"activation": "linear"}, "dense2": {"activation": "linear"}},
    ),
    "three_conv_two_pool": Variant(
        "three_conv_three_pool",
        "without the third pooling layer, so the head sees a 3×3×64 map",
        remove=("pool3",),
    ),
}
"""The ablations the architecture chapters run, by name."""


def dense_baseline(hidden: int = 117) -> keras.Sequential:
    """A network with no convolution: the 784 pixels, one ReLU dense layer, a softmax.

    The convolution chapter's baseline. With the default 117 hidden units it holds 93,025
    parameters, within 0.5 % of write-up 000's CNN (93,322), so the two differ in how they use
    their weights rather than in how many they have.

    Args:
        hidden: units in the hidden layer, at least 1.
    """
    hidden = check_int("hidden", hidden, minimum=1)
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE, name="image"),
            layers.Flatten(name="flatten"),
            layers.Dense(hidden, activation="relu", name="dense"),
            layers.Dense(10, activation="softmax", name="digit"),
        ],
        name="dense_baseline",
    )


def check_architecture(name: str) -> str:
    """Returns ``name`` if it is registered, else raises a ValueError listing the names."""
    if not isinstance(name, str) or name not in ARCHITECTURES:
        raise ValueError(
            f"Unknown architecture {name!r}. Choose one of: {', '.join(ARCHITECTURES)}"
        )
    return name


def check_precision(precision, source: str = "precision") -> str:
    """Returns ``precision`` if it is one of `PRECISIONS`, else raises a ValueError."""
    if precision not in PRECISIONS:
        raise ValueError(
            f"{source} must be one of {', '.join(PRECISIONS)}. Received: {precision!r}"
        )
    return precision


def _cpu_flags(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> set[str]:
    try:
        text = Path(cpuinfo).read_text()
    except OSError:  # not Linux, or no /proc
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def default_precision() -> str:
    """The precision `build_model` uses when none is given.

    ``mixed_bfloat16`` (weights and updates in float32, layer arithmetic in bfloat16) on a
    machine without a GPU whose processor has bfloat16 instructions (``avx512_bf16`` or
    ``amx_bf16``): there the convolutions run faster (`python -m mnist_lessons bench` measures
    by how much). ``float32`` everywhere else, including GPUs without bfloat16 support, where it
    would be emulated, and on the JAX and PyTorch backends, where it has not been measured. The
    environment variable ``MNIST_LESSONS_PRECISION`` overrides the choice.
    """
    chosen = os.environ.get(PRECISION_VARIABLE)
    if chosen:
        return check_precision(chosen, f"${PRECISION_VARIABLE}")
    return _hardware_precision()


@functools.cache
def _hardware_precision() -> str:
    # The devices and the processor do not change while the process runs: look once.
    if gpu_available() or not BFLOAT16_MEASURED:
        return "float32"
    return "mixed_bfloat16" if BFLOAT16_CPU_FLAGS & _cpu_flags() else "float32"


def with_precision(model: keras.Sequential, precision: str) -> keras.Sequential:
    """A fresh copy of ``model`` computing in ``precision`` (new weights, same layers).

    The output layer stays in float32 so that probabilities and the loss keep full precision,
    as Keras's mixed-precision guide recommends.
    """
    check_precision(precision)
    last = model.layers[-1].name

    def clone(layer):
        config = layer.get_config()
        config["dtype"] = "float32" if layer.name == last else precision
        return layer.__class__.from_config(config)

    return keras.models.clone_model(model, clone_function=clone)


def precision_of(model: keras.Model) -> str:
    """``mixed_bfloat16`` if any layer of ``model`` computes in bfloat16, else ``float32``."""
    names = {layer.dtype_policy.name for layer in model.layers}
    return "mixed_bfloat16" if "mixed_bfloat16" in names else "float32"


IGNORED_SETTINGS = frozenset({"name", "dtype", "trainable"})
"""Layer settings that do not change what a layer computes (`architecture_differences`)."""


def architecture_differences(model: keras.Model, name: str) -> list[str]:
    """Where ``model`` differs from the registered architecture ``name``, layer by layer.

    Two networks are the same architecture when their layers have the same types in the same
    order, with the same settings (filters, kernel sizes, activations, rates …); layer names and
    precisions may differ. Building the registered network to compare with does not move the
    random state, so a model built after this check gets the weights it would have got before.

    Returns:
        One sentence per difference, e.g. ``"layer 3 (dense1): units is 128, not 256"``; empty
        when the two are the same.
    """
    state = random.getstate()  # Keras draws default initializer seeds from Python's generator
    try:
        expected = ARCHITECTURES[check_architecture(name)]()
    finally:
        random.setstate(state)
    ours, theirs = list(model.layers), list(expected.layers)
    differences = []
    if len(ours) != len(theirs):
        differences.append(f"it has {len(ours)} layers, not {len(theirs)}")
    for index, (mine, want) in enumerate(zip(ours, theirs, strict=False), start=1):
        where = f"layer {index} ({mine.name})"
        if type(mine) is not type(want):
            differences.append(f"{where} is a {type(mine).__name__}, not a {type(want).__name__}")
            continue
        got, need = mine.get_config(), want.get_config()
        for key in sorted((got.keys() | need.keys()) - IGNORED_SETTINGS):
            if got.get(key) != need.get(key):
                differences.append(f"{where}: {key} is {got.get(key)!r}, not {need.get(key)!r}")
    return differences


def build_model(
    name: str,
    precision: str | None = None,
    *,
    network: Callable[[], keras.Sequential] | None = None,
) -> keras.Sequential:
    """Builds the named architecture from `ARCHITECTURES` or `VARIANTS` (uncompiled).

    Args:
        name: a key of `ARCHITECTURES` or of `VARIANTS`.
        precision: one of `PRECISIONS`; `default_precision()` if None.
        network: a function that builds the architecture ``name`` as a chapter writes it out;
            it must build the registered network (`architecture_differences` finds none), and
            then gives exactly the weights the registry's builder would. None: the registry's.

    Raises:
        ValueError: for an unknown name or precision, or a ``network`` that builds another
            architecture (the message names the first differences).
    """
    if network is not None:
        model = network()
        differences = architecture_differences(model, name)
        if differences:
            raise ValueError(
                f"The network given is not the book's {name}: {'; '.join(differences[:3])}. "
                "Write it out as the chapter does; to train a changed network, follow chapter "
                "000's steps (build, train, evaluate_model) instead."
            )
    elif name in VARIANTS:
        model = VARIANTS[name].build()
        model.name = name
    else:
        model = ARCHITECTURES[check_architecture(name)]()
    precision = default_precision() if precision is None else check_precision(precision)
    return model if precision == "float32" else with_precision(model, precision)


def layer_markdown(model: keras.Model) -> MarkdownTable:
    """`layer_table` as a Markdown table: layer, type, output shape, parameters."""
    return markdown_table(
        ["layer", "type", "output shape", "parameters"],
        [
            [f"`{r['layer']}`", r["type"], r["output_shape"], f"{r['params']:,}"]
            for r in layer_table(model)
        ],
        align="lllr",
    )


def layer_table(model: keras.Model) -> list[dict]:
    """One row per layer: name, type, output shape and parameter count."""
    return [
        {
            "layer": layer.name,
            "type": type(layer).__name__,
            "output_shape": tuple(layer.output.shape[1:]),
            "params": layer.count_params(),
        }
        for layer in model.layers
    ]


def layer_flops(model: keras.Model) -> dict[str, int]:
    """Multiply-adds ×2 of one image's forward pass, per Conv2D and Dense layer, by name."""
    flops = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            _, h, w, c_out = layer.output.shape
            flops[layer.name] = 2 * kh * kw * layer.input.shape[-1] * c_out * h * w
        elif isinstance(layer, keras.layers.Dense):
            flops[layer.name] = 2 * layer.input.shape[-1] * layer.units
    return {name: int(value) for name, value in flops.items()}


def describe_layer(layer: keras.layers.Layer) -> str:
    """A layer in a few words, as a diagram labels it: "Conv 32, 3×3, ReLU", "Max pool 2×2",
    "Dropout 0.25", "Dense 10, softmax"."""

    def activation(layer) -> str:
        name = getattr(getattr(layer, "activation", None), "__name__", "linear")
        return "" if name == "linear" else f", {'ReLU' if name == 'relu' else name}"

    if isinstance(layer, keras.layers.Conv2D):
        kh, kw = layer.kernel_size
        text = f"Conv {layer.filters}, {kh}×{kw}"
        if tuple(layer.strides) != (1, 1):
            text += f", stride {layer.strides[0]}"
        if layer.padding == "same":
            text += ", same"
        return text + activation(layer)
    if isinstance(layer, keras.layers.MaxPooling2D):
        ph, pw = layer.pool_size
        return f"Max pool {ph}×{pw}"
    if isinstance(layer, keras.layers.Dropout):
        return f"Dropout {layer.rate:g}"
    if isinstance(layer, keras.layers.Dense):
        return f"Dense {layer.units}" + activation(layer)
    if isinstance(layer, keras.layers.Activation):
        return activation(layer)[2:] or "linear"
    if isinstance(layer, keras.layers.BatchNormalization):
        return "Batch norm"
    if isinstance(layer, keras.layers.GlobalAveragePooling2D):
        return "Global average pool"
    return type(layer).__name__

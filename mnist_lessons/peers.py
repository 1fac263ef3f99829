"""Published fast MNIST recipes, ported to Keras and timed beside the book's own.

Two peers:

- ``tuomaso``: the final recipe of tuomaso/train_mnist_fast (``8_Final_00s76.ipynb``), written in
  PyTorch: a 5×5 convolution of 24 filters and a 3×3 one of 32, each max-pooled *before* its ReLU,
  a dense layer of 256, no dropout; Adam at 0.01 with betas (0.7, 0.9) under PyTorch's
  ``OneCycleLR``; one epoch at batch 256. Its README reports a mean of 99.04 % over 30 runs.
- ``keras_io``: keras-io's ``examples/vision/mnist_convnet.py``: two 3×3 convolutions of 32 and 64
  filters, each max-pooled, dropout 0.5 and the classifier; Adam's defaults; 15 epochs at batch
  128 ("~99 % test accuracy").

`run_peer` trains one epoch at a time, timing ``model.fit`` alone the way `speedrun.run_recipe`
does (graph tracing included), and scores the test set between epochs, outside the timer, so that
it can say when the run first reached an accuracy and stop there.

Where the port had to choose (each `Peer` lists its choices in ``choices``): both train on the
book's 55,000 training images, the same as the book's recipes, not on the 60,000 (tuomaso) or
54,000 (keras-io) of their sources; PyTorch's layer initialisation and Adam's epsilon are
reproduced for tuomaso's recipe; the flattening order differs (channels last), which does not
change what the network can learn.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .backend import keras
from .checks import ParameterError, check_choice, check_int
from .data import IMAGE_SIZE, NUM_CLASSES, PreparedData, encode_labels
from .evaluate import evaluate_model
from .speedrun import (
    RECIPE_99,
    Recipe,
    SpeedrunResult,
    run_recipe,
    seeds_reaching,
    training_inputs,
)
from .tables import MarkdownTable, markdown_table
from .train import DEFAULT_STEPS_PER_EXECUTION, set_seed

layers = keras.layers

# tuomaso/train_mnist_fast's data_saver.py standardises with torchvision's MNIST mean and std.
TORCH_MNIST_MEAN = 0.1307
TORCH_MNIST_STD = 0.3081


class TorchOneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """PyTorch's ``OneCycleLR`` learning rate with its defaults, as a Keras schedule.

    Cosine annealing from ``peak / div_factor`` up to ``peak`` over the first ``pct_start`` of the
    steps (ending at step ``pct_start * total_steps - 1``), then cosine annealing down to
    ``peak / div_factor / final_div_factor`` at the last step. Momentum is not cycled (the peer's
    ``cycle_momentum=False``).
    """

    def __init__(
        self,
        peak: float,
        total_steps: int,
        pct_start: float = 0.3,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
    ):
        self.peak = float(peak)
        self.total_steps = check_int("total_steps", total_steps, minimum=2)
        self.pct_start = float(pct_start)
        self.div_factor = float(div_factor)
        self.final_div_factor = float(final_div_factor)

    def __call__(self, step):
        ops = keras.ops
        step = ops.cast(step, "float32")
        initial = self.peak / self.div_factor
        final = initial / self.final_div_factor
        peak_step = float(self.pct_start * self.total_steps) - 1.0
        last_step = float(self.total_steps - 1)

        def anneal(start, end, fraction):
            return end + (start - end) / 2.0 * (1.0 + ops.cos(math.pi * fraction))

        rising = anneal(initial, self.peak, ops.clip(step / peak_step, 0.0, 1.0))
        falling_fraction = ops.clip((step - peak_step) / (last_step - peak_step), 0.0, 1.0)
        falling = anneal(self.peak, final, falling_fraction)
        return ops.where(step <= peak_step, rising, falling)

    def get_config(self):
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
        }


def _torch_initialised(layer_class, fan_in: int, **kwargs):
    """A Conv2D or Dense layer initialised as PyTorch initialises ``nn.Conv2d`` and ``nn.Linear``:
    weights and bias uniform in ±1/√fan_in (Kaiming-uniform with a = √5)."""
    bound = 1.0 / math.sqrt(fan_in)
    return layer_class(
        **kwargs,
        kernel_initializer=keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform"),
        bias_initializer=keras.initializers.RandomUniform(-bound, bound),
    )


def build_tuomaso() -> keras.Sequential:
    """tuomaso/train_mnist_fast's final network: pooling before each ReLU, no dropout."""
    return keras.Sequential(
        [
            keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="image"),
            layers.Rescaling(
                1 / TORCH_MNIST_STD, offset=-TORCH_MNIST_MEAN / TORCH_MNIST_STD, name="standardise"
            ),
            _torch_initialised(layers.Conv2D, 1 * 5 * 5, filters=24, kernel_size=5, name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.ReLU(name="relu1"),
            _torch_initialised(layers.Conv2D, 24 * 3 * 3, filters=32, kernel_size=3, name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.ReLU(name="relu2"),
            layers.Flatten(name="flatten"),
            _torch_initialised(
                layers.Dense, 5 * 5 * 32, units=256, activation="relu", name="dense"
            ),
            _torch_initialised(
                layers.Dense, 256, units=NUM_CLASSES, activation="softmax", name="digit"
            ),
        ],
        name="peer_tuomaso",
    )


def build_keras_io() -> keras.Sequential:
    """keras-io's ``mnist_convnet`` network, layer for layer, with Keras's initialisers."""
    return keras.Sequential(
        [
            keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="image"),
            layers.Conv2D(32, 3, activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(64, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dropout(0.5, name="dropout"),
            layers.Dense(NUM_CLASSES, activation="softmax", name="digit"),
        ],
        name="peer_keras_io",
    )


def _tuomaso_optimizer(total_steps: int):
    # PyTorch's Adam: epsilon 1e-8 (Keras's default is 1e-7).
    return keras.optimizers.Adam(
        TorchOneCycle(0.01, total_steps), beta_1=0.7, beta_2=0.9, epsilon=1e-8
    )


def _keras_io_optimizer(total_steps: int):
    return keras.optimizers.Adam()


@dataclass(frozen=True)
class Peer:
    """A published recipe, ported.

    Attributes:
        name: the key in `PEERS`.
        source: where it is published.
        build: builds the network (uncompiled).
        optimizer: builds the optimizer, given the run's total number of steps.
        epochs: the published number of epochs.
        batch_size: the published batch size.
        reported: the test accuracy its source reports for the whole recipe.
        reported_as: how the source states it.
        choices: details the port had to choose.
    """

    name: str
    source: str
    build: Callable[[], keras.Model]
    optimizer: Callable[[int], keras.optimizers.Optimizer]
    epochs: int
    batch_size: int
    reported: float
    reported_as: str
    choices: tuple[str, ...]


_SAME_DATA = (
    "trains on the book's 55,000 training images (the book's recipes train on the same), "
    "not on its source's {source_images}"
)

PEERS: dict[str, Peer] = {
    "tuomaso": Peer(
        name="tuomaso",
        source="tuomaso/train_mnist_fast, 8_Final_00s76.ipynb (PyTorch)",
        build=build_tuomaso,
        optimizer=_tuomaso_optimizer,
        epochs=1,
        batch_size=256,
        reported=0.9904,
        reported_as="mean 99.04 % over 30 runs, ± 0.066 (its README and notebook, which do not say "
        "whether the ± is a standard deviation or an interval)",
        choices=(
            _SAME_DATA.format(source_images="60,000, shuffled once and not reshuffled"),
            "standardises with its mean 0.1307 and std 0.3081 in a Rescaling layer",
            "PyTorch's initialisation (uniform ±1/√fan_in for weights and biases) and Adam "
            "epsilon 1e-8; PyTorch's OneCycleLR defaults (30 % rising, cosine both ways, "
            "from peak/25 to peak/25/10⁴) as `TorchOneCycle`",
            "softmax and cross-entropy in place of log-softmax and the negative log-likelihood "
            "(the same loss)",
        ),
    ),
    "keras_io": Peer(
        name="keras_io",
        source="keras-team/keras-io, examples/vision/mnist_convnet.py",
        build=build_keras_io,
        optimizer=_keras_io_optimizer,
        epochs=15,
        batch_size=128,
        reported=0.99,
        reported_as='"~99 % test accuracy" (its description)',
        choices=(_SAME_DATA.format(source_images="54,000 (60,000 less a 10 % validation split)"),),
    ),
}


def _reaches(accuracy: float, target: float, test_images: int) -> bool:
    """Whether one test accuracy reaches ``target``, counted in whole images."""
    return seeds_reaching([accuracy], target, test_images) == 1


@dataclass(frozen=True)
class PeerRun:
    """One run of a peer, its validation split scored after every epoch and its test set once,
    after the last epoch trained.

    Attributes:
        peer: the peer's name.
        seed: the seed.
        epoch_seconds: cumulative ``fit`` wall time at the end of each epoch trained.
        epoch_val_accuracies: validation accuracy at the end of each epoch trained (what a run
            stops on: the test set never chooses when to stop).
        test_accuracy: test accuracy after the last epoch trained, scored once.
        scored_after: the epoch (1-based) each time and accuracy was taken at; empty for every
            epoch from the first (a run of the book's recipe is scored once, at its end).
    """

    peer: str
    seed: int
    epoch_seconds: tuple[float, ...]
    epoch_val_accuracies: tuple[float, ...]
    test_accuracy: float
    scored_after: tuple[int, ...] = ()

    @property
    def epochs(self) -> tuple[int, ...]:
        """The epoch each score was taken after."""
        return self.scored_after or tuple(range(1, len(self.epoch_val_accuracies) + 1))

    @property
    def seconds(self) -> float:
        """Training time of every epoch trained."""
        return self.epoch_seconds[-1]

    def _first_reaching(self, target: float, images: int) -> int | None:
        """The index of the first validation score that reaches ``target``, or None."""
        return next(
            (i for i, a in enumerate(self.epoch_val_accuracies) if _reaches(a, target, images)),
            None,
        )

    def seconds_to(self, target: float, images: int) -> float | None:
        """Training time up to the first epoch whose validation accuracy (on ``images``
        validation images) reaches ``target``, None if none did; whole images are compared, as
        `speedrun.seeds_reaching` does."""
        first = self._first_reaching(target, images)
        return None if first is None else self.epoch_seconds[first]

    def epochs_to(self, target: float, images: int) -> int | None:
        """The first epoch (1-based) whose validation accuracy reaches ``target``, or None."""
        first = self._first_reaching(target, images)
        return None if first is None else self.epochs[first]

    @classmethod
    def from_speedrun(cls, result: SpeedrunResult, epochs: int) -> PeerRun:
        """A run of ``epochs`` epochs of one of the book's recipes, scored once at its end."""
        if result.val_accuracy is None:
            raise ValueError(
                "A run of the book's recipe joins a race only with a validation split: train it "
                "on data prepared with validation_size > 0."
            )
        return cls(
            result.recipe,
            result.seed,
            (result.seconds,),
            (result.val_accuracy,),
            result.test_accuracy,
            (epochs,),
        )


def run_peer(
    peer: str | Peer,
    data: PreparedData,
    seed: int = 0,
    *,
    epochs: int | None = None,
    stop_at: float | None = None,
) -> PeerRun:
    """Trains a peer's recipe on ``data.x_train``, one epoch at a time, timing ``fit`` alone,
    and scores the test set once, after the last epoch trained.

    Args:
        peer: a key of `PEERS`, or a `Peer`.
        data: prepared arrays with sparse labels (``prepare_data``'s default) and a validation
            split.
        seed: seeds the weights, the shuffling and the dropout.
        epochs: epochs to train at most (default: the published number). The learning-rate
            schedule, if any, spans these epochs.
        stop_at: stop after the first epoch whose **validation** accuracy reaches this (0–1).

    Returns:
        A `PeerRun`.

    Raises:
        ParameterError: an unknown peer, or epochs below 1.
        ValueError: one-hot labels, or no validation split.
    """
    if isinstance(peer, str):
        peer = PEERS[check_choice("peer", peer, tuple(PEERS))]
    epochs = peer.epochs if epochs is None else check_int("epochs", epochs, minimum=1)
    if stop_at is not None and not 0 < stop_at <= 1:
        raise ParameterError(
            f"stop_at must be an accuracy between 0 and 1, e.g. 0.99. Received: stop_at={stop_at}"
        )
    if data.y_train.ndim != 1:
        raise ValueError("run_peer needs sparse labels: prepare_data(..., one_hot=False)")
    if len(data.y_val) == 0:
        raise ValueError(
            "run_peer scores a validation split after every epoch: prepare the data with "
            "validation_size > 0 (the book holds out 5,000 images)."
        )
    set_seed(seed)
    model = peer.build()
    total_steps = math.ceil(len(data.x_train) / peer.batch_size) * epochs
    model.compile(
        optimizer=peer.optimizer(total_steps),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=DEFAULT_STEPS_PER_EXECUTION,
    )
    y_train = encode_labels(data.y_train, one_hot=True)
    seconds, accuracies = [], []
    start = time.perf_counter()
    # Built once and reshuffled by every call to fit, not rebuilt (and the images copied) per epoch.
    inputs = training_inputs(data.x_train, y_train, peer.batch_size, seed)
    elapsed = time.perf_counter() - start
    for epoch in range(epochs):
        start = time.perf_counter()
        model.fit(**inputs, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
        elapsed += time.perf_counter() - start
        seconds.append(elapsed)
        accuracies.append(evaluate_model(model, data.x_val, data.y_val).accuracy)
        if stop_at is not None and _reaches(accuracies[-1], stop_at, len(data.y_val)):
            break
    test_accuracy = evaluate_model(model, data.x_test, data.y_test).accuracy
    return PeerRun(peer.name, seed, tuple(seconds), tuple(accuracies), test_accuracy)


def median_seconds_to(runs: Sequence[PeerRun], target: float, images: int) -> float | None:
    """The median over runs of the time to ``target`` on the validation split (of ``images``
    images), a run that never reached it counting as slower than every other; None if half or
    more of the runs never reached it."""
    if not runs:
        raise ValueError("runs is empty: there is no run to take the median of.")
    times = [math.inf if (t := run.seconds_to(target, images)) is None else t for run in runs]
    median = float(np.median(times))
    return None if math.isinf(median) else median


@dataclass(frozen=True)
class RaceEntry:
    """One recipe's runs in a side-by-side comparison, and how it stands against a target.

    Attributes:
        label: the recipe's name in the table.
        runs: its runs, one per seed.
        epochs: the epochs it was set to train (a run stopped at a target may train fewer).
        batch_size: its batch size.
    """

    label: str
    runs: tuple[PeerRun, ...]
    epochs: int
    batch_size: int

    def seconds_to(self, target: float, images: int) -> float | None:
        """`median_seconds_to` over this entry's runs."""
        return median_seconds_to(self.runs, target, images)

    def reaching(self, target: float, images: int) -> int:
        """How many runs reached ``target`` on the validation split at some epoch."""
        return sum(run.seconds_to(target, images) is not None for run in self.runs)

    @property
    def accuracies(self) -> np.ndarray:
        return np.array([run.test_accuracy for run in self.runs])

    @property
    def median_seconds(self) -> float:
        return float(np.median([run.seconds for run in self.runs]))


def race_table(entries: Sequence[RaceEntry], images: int, target: float = 0.99) -> MarkdownTable:
    """The entries side by side, the first being the one the others are measured against.

    Columns: runs, epochs trained (mean, for runs stopped at a target), batch, test accuracy at the
    end (mean and lowest, scored once per run), runs whose validation accuracy reached ``target``
    (on ``images`` validation images), median seconds of training, median seconds to ``target``
    on validation (`median_seconds_to`), and that time as a multiple of the first entry's.
    """
    if not entries:
        raise ValueError("entries is empty: there is nothing to compare.")
    first = entries[0].seconds_to(target, images)
    name = f"{target * 100:g} %"
    rows = []
    for entry in entries:
        to_target = entry.seconds_to(target, images)
        trained = np.mean([run.epochs[-1] for run in entry.runs])
        ratio = f"{to_target / first:.2f}×" if to_target is not None and first is not None else "–"
        rows.append(
            [
                entry.label,
                len(entry.runs),
                f"{trained:g} of {entry.epochs}",
                entry.batch_size,
                f"{entry.accuracies.mean():.4f} ({entry.accuracies.min():.4f})",
                f"{entry.reaching(target, images)} of {len(entry.runs)}",
                f"{entry.median_seconds:.1f}",
                "not reached" if to_target is None else f"{to_target:.1f}",
                ratio,
            ]
        )
    return markdown_table(
        [
            "recipe",
            "runs",
            "epochs trained",
            "batch",
            "test accuracy, mean (lowest)",
            f"runs reaching {name} on validation",
            "median seconds",
            f"median seconds to {name} on validation",
            f"time to {name} against the first",
        ],
        rows,
        align="lrrrrrrrr",
    )


def race(
    data: PreparedData,
    seeds: Sequence[int],
    peers: Sequence[str] = tuple(PEERS),
    recipe: Recipe = RECIPE_99,
    *,
    stop_at: float | None = 0.99,
    log: Callable[[str], None] = print,
) -> list[RaceEntry]:
    """Trains ``recipe`` and each peer once per seed, in turn, and returns them side by side.

    For each seed the book's recipe runs first, then each peer with the same seed, so that a slow
    spell of a shared machine falls on all of them. A peer stops at the first epoch whose
    validation accuracy reaches ``stop_at`` (None: it trains its published number of epochs); a
    one-epoch peer is unaffected.

    Args:
        data: prepared arrays with sparse labels.
        seeds: the seeds, one run of each recipe per seed.
        peers: keys of `PEERS`.
        recipe: the book's recipe.
        stop_at: see above.
        log: called with one line per finished run.

    Returns:
        One `RaceEntry` for the book's recipe, then one per peer: the input of `race_table`.
    """
    seeds = [check_int("seed", s, minimum=0) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty: a race needs at least one seed.")
    peers = [PEERS[check_choice("peer", name, tuple(PEERS))] for name in peers]
    ours: list[PeerRun] = []
    theirs: dict[str, list[PeerRun]] = {peer.name: [] for peer in peers}
    for seed in seeds:
        ours.append(PeerRun.from_speedrun(run_recipe(recipe, data, seed=seed), recipe.epochs))
        log(f"seed {seed}: {recipe.name}: {ours[-1].seconds:.1f} s, {ours[-1].test_accuracy:.4f}")
        for peer in peers:
            run = run_peer(peer, data, seed, stop_at=stop_at)
            theirs[peer.name].append(run)
            log(
                f"seed {seed}: {peer.name}: {run.seconds:.1f} s over {len(run.epoch_seconds)} "
                f"epoch(s), {run.test_accuracy:.4f}"
            )
    entries = [RaceEntry(f"book: {recipe.name}", tuple(ours), recipe.epochs, recipe.batch_size)]
    entries += [
        RaceEntry(peer.name, tuple(theirs[peer.name]), peer.epochs, peer.batch_size)
        for peer in peers
    ]
    return entries

"""Training: seeding, compiling with the documented optimizer, fitting, and resuming."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .backend import STEPS_PER_EXECUTION, keras
from .checks import MAX_SEED, check_int
from .data import NUM_CLASSES, PreparedData
from .models import (
    REFERENCES,
    build_model,
    check_architecture,
    check_precision,
    default_precision,
    precision_of,
)

# Steps run per call into the compiled training function, chosen for the backend in use (see
# `backend.STEPS_PER_EXECUTION`).
DEFAULT_STEPS_PER_EXECUTION = STEPS_PER_EXECUTION

STATE_FILE = "state.json"
MODEL_FILE = "model.keras"


"""The largest seed NumPy's legacy generator (which Keras seeds) accepts."""


class CheckpointError(ValueError):
    """A checkpoint folder cannot be resumed: it is unreadable, or belongs to another run."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint folder holds a different training run from the one asked for.

    Attributes:
        folder: the checkpoint folder.
        saved: what the checkpoint records about its run (empty for a checkpoint from before
            checkpoints recorded it).
        requested: the same for the run asked for.
    """

    def __init__(self, message: str, folder: Path, saved: dict, requested: dict):
        super().__init__(message)
        self.folder, self.saved, self.requested = folder, saved, requested


def set_seed(seed: int) -> None:
    """Seeds Python, NumPy and the backend so that a run can be repeated.

    Args:
        seed: an integer from 0 to ``2**32 - 1``.

    Raises:
        ParameterError: ``"seed must be an integer from 0 to 4294967295. Received: seed=-1"``.
    """
    keras.utils.set_random_seed(check_int("seed", seed, minimum=0, maximum=MAX_SEED))


@dataclass
class TrainingResult:
    """What `train` returns.

    Attributes:
        model: the trained Keras model.
        history: per-epoch metrics, e.g. ``history["val_accuracy"][-1]``; one entry per epoch.
        epoch_seconds: wall-clock seconds of each epoch (training and validation).
        resumed_from: the number of epochs restored from a checkpoint (0 for a fresh run).
    """

    model: keras.Model
    history: dict[str, list[float]]
    epoch_seconds: list[float] = field(default_factory=list)
    resumed_from: int = 0

    @property
    def epochs(self) -> int:
        return len(self.epoch_seconds)

    @property
    def seconds_per_epoch(self) -> float:
        """Median epoch time, robust to a slow first epoch (tracing and warm-up)."""
        return float(np.median(self.epoch_seconds)) if self.epoch_seconds else float("nan")

    @property
    def total_seconds(self) -> float:
        return float(np.sum(self.epoch_seconds))

    def first(self, epochs: int) -> TrainingResult:
        """The first ``epochs`` epochs of this run: what a run stopped there would have
        recorded (the model is this one, whatever weights it now holds)."""
        if not 1 <= epochs <= self.epochs:
            raise ValueError(f"epochs must be from 1 to {self.epochs}. Received: epochs={epochs}")
        history = {key: values[:epochs] for key, values in self.history.items()}
        return TrainingResult(self.model, history, self.epoch_seconds[:epochs], self.resumed_from)

    def table(self) -> str:
        """One line per epoch: seconds and every recorded metric."""
        keys = [k for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in self.history]
        lines = [f"{'epoch':>5} {'seconds':>8} " + " ".join(f"{k:>12}" for k in keys)]
        for i, seconds in enumerate(self.epoch_seconds):
            values = " ".join(f"{self.history[k][i]:>12.4f}" for k in keys)
            lines.append(f"{i + 1:>5} {seconds:>8.1f} {values}")
        return "\n".join(lines)


class _EpochTimer(keras.callbacks.Callback):
    def __init__(self, seconds: list[float]):
        super().__init__()
        self.seconds = seconds

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


class _Checkpoint(keras.callbacks.Callback):
    """Saves the model (with its optimizer state) and the history after every epoch.

    Both files are written under a temporary name and renamed, so an interruption at any moment
    leaves the previous epoch's checkpoint intact.
    """

    def __init__(self, folder: Path, history: dict, seconds: list[float], meta: dict):
        super().__init__()
        self.folder, self.history, self.seconds, self.meta = folder, history, seconds, meta

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        tmp_model = self.folder / "model.tmp.keras"
        self.model.save(tmp_model)
        os.replace(tmp_model, self.folder / MODEL_FILE)
        state = {
            **self.meta,
            "epochs_done": epoch + 1,
            "history": self.history,
            "epoch_seconds": self.seconds,
        }
        tmp_state = self.folder / (STATE_FILE + ".tmp")
        tmp_state.write_text(json.dumps(state, indent=1))
        os.replace(tmp_state, self.folder / STATE_FILE)


def compile_model(model: keras.Model, optimizer="adam") -> keras.Model:
    """Compiles for integer labels (or one-hot rows) with cross-entropy and accuracy."""
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=DEFAULT_STEPS_PER_EXECUTION,
    )
    return model


def epochs_and_batch_size(
    model: str | keras.Model, epochs: int | None = None, batch_size: int | None = None
) -> tuple[int, int]:
    """The number of epochs and the batch size `train` uses for ``model``, checked.

    None means the architecture's documented number (for a Keras model: 1 epoch, batch 32).

    Raises:
        ParameterError: e.g. ``"epochs must be an integer of at least 1. Received: epochs=0"``.
    """
    reference = REFERENCES[check_architecture(model)] if isinstance(model, str) else None
    if epochs is None:
        epochs = reference.epochs if reference else 1
    if batch_size is None:
        batch_size = reference.batch_size if reference else 32
    return (
        check_int("epochs", epochs, minimum=1),
        check_int("batch_size", batch_size, minimum=1),
    )


def _class_indices(labels: np.ndarray) -> np.ndarray:
    """Labels as class indices, whether given as indices or as one-hot rows."""
    return labels.argmax(axis=1) if labels.ndim == 2 else labels


def _plain(value):
    """A JSON-ready copy of an identity value (NumPy scalars become Python ones)."""
    return value.item() if isinstance(value, np.generic) else value


def run_identity(
    model: str | keras.Model, data: PreparedData, *, batch_size: int, precision: str
) -> dict:
    """What a checkpoint of a training run records about the run, to be resumed only by it.

    The architecture (or, for a Keras model, its name), the batch size, the precision, the
    settings `prepare_data` chose the training images with (``data.settings``) and their number.
    The number of epochs is not part of it: a finished run can be continued for more.
    """
    identity = {
        "model": model if isinstance(model, str) else model.name,
        "batch_size": int(batch_size),
        "precision": precision,
    }
    for key, value in getattr(data, "settings", {}).items():
        identity[key] = _plain(value)
    identity["train_images"] = len(data.x_train)
    return identity


def _describe(identity: dict, keys) -> str:
    return ", ".join(
        f"{key}={identity[key]!r}" if key in identity else f"{key} not recorded" for key in keys
    )


def check_resumable(folder: str | os.PathLike, state: dict, requested: dict) -> None:
    """Raises `CheckpointMismatchError` unless ``state`` is a checkpoint of ``requested``.

    Args:
        folder: the checkpoint folder, for the message.
        state: the checkpoint's saved state (``state.json``).
        requested: `run_identity` of the run asked for.
    """
    folder = Path(folder)
    fix = f"To keep it, train into a different folder; to replace it, delete {folder} first."
    saved = state.get("identity")
    if not isinstance(saved, dict):
        raise CheckpointMismatchError(
            f"{folder} holds a checkpoint from an older version of mnist_lessons that does not "
            "record which run it belongs to, so it cannot be resumed by this request "
            f"({_describe(requested, requested)}). {fix}",
            folder,
            {},
            requested,
        )
    keys = list(saved) + [key for key in requested if key not in saved]
    differing = [
        key
        for key in keys
        if key not in saved or key not in requested or saved[key] != requested[key]
    ]
    if differing:
        raise CheckpointMismatchError(
            f"{folder} holds a checkpoint of a different training run: it was saved for "
            f"{_describe(saved, differing)}, and this request is for "
            f"{_describe(requested, differing)}. {fix}",
            folder,
            saved,
            requested,
        )


def _read_state(folder: Path) -> dict | None:
    if not (folder / STATE_FILE).is_file() or not (folder / MODEL_FILE).is_file():
        return None
    try:
        state = json.loads((folder / STATE_FILE).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        state, reason = None, str(err)
    else:
        reason = "it is not a JSON object"
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{folder / STATE_FILE} is unreadable ({reason}), so the checkpoint in {folder} "
            f"cannot be resumed. Delete {folder} to start afresh, or train into another folder."
        )
    return state


def load_checkpoint(folder: str | os.PathLike) -> tuple[keras.Model, dict] | None:
    """Returns ``(model, state)`` from a checkpoint folder, or None if it holds none."""
    folder = Path(folder)
    state = _read_state(folder)
    if state is None:
        return None
    return keras.models.load_model(folder / MODEL_FILE), state


def train(
    model: str | keras.Model,
    data: PreparedData,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    optimizer=None,
    checkpoint_dir: str | os.PathLike | None = None,
    verbose: int = 0,
    callbacks: list | None = None,
    precision: str | None = None,
) -> TrainingResult:
    """Trains a model, validating after every epoch on ``data.x_val``.

    Args:
        model: an architecture name from `ARCHITECTURES` (compiled with its documented
            optimizer) or a Keras model (compiled with ``optimizer``, Adam by default, unless it
            is already compiled).
        data: the prepared arrays; labels may be indices or one-hot.
        epochs: number of epochs; the architecture's documented number if None.
        batch_size: the architecture's documented batch size if None, else 32.
        optimizer: overrides the optimizer.
        checkpoint_dir: if given, the model and history are saved there after every epoch, and
            a later call with the same folder and the same run resumes after the last finished
            epoch (or, asking for no more epochs than are done, returns without training). The
            same run: the same architecture (for a Keras model, the same ``model.name``), batch
            size, precision and training images (``data.settings`` and their number); a call
            with more epochs continues a finished run.
        verbose: 0 silent, 1 progress bar, 2 one line per epoch.
        callbacks: extra Keras callbacks.
        precision: for an architecture name, the precision to build it in (see
            `models.default_precision`, which is used if None); a Keras model keeps its own.

    Returns:
        A `TrainingResult`.

    Raises:
        ParameterError: for ``epochs`` or ``batch_size`` out of range, e.g. ``"epochs must be an
            integer of at least 1. Received: epochs=0"``.
        CheckpointMismatchError: if ``checkpoint_dir`` holds a checkpoint of a different run,
            or one from before checkpoints recorded their run; nothing is trained or written.
    """
    if not isinstance(data, PreparedData):
        raise TypeError(
            f"data must be a PreparedData from prepare_data(). Received: {type(data).__name__}"
        )
    reference = None
    if isinstance(model, str):
        reference = REFERENCES[check_architecture(model)]
    elif not isinstance(model, keras.Model):
        raise TypeError(
            f"model must be an architecture name or a keras.Model. Received: {type(model).__name__}"
        )
    elif precision is not None:
        raise ValueError(
            "precision applies only when model is an architecture name; build a Keras model in "
            "the precision you want with models.build_model(name, precision) instead"
        )
    if precision is not None:
        check_precision(precision)
    epochs, batch_size = epochs_and_batch_size(model, epochs, batch_size)
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2. Received: verbose={verbose!r}")
    if len(data.x_train) < NUM_CLASSES:
        raise ValueError(f"data has only {len(data.x_train)} training images.")

    history: dict[str, list[float]] = {}
    seconds: list[float] = []
    initial_epoch = 0
    if reference is not None:
        precision = precision if precision is not None else default_precision()
    else:
        precision = precision_of(model)
    identity = run_identity(model, data, batch_size=batch_size, precision=precision)
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    state = _read_state(folder) if folder is not None else None
    if state is not None:
        check_resumable(folder, state, identity)
        keras_model = keras.models.load_model(folder / MODEL_FILE)
        history = {k: list(v) for k, v in state["history"].items()}
        seconds = list(state["epoch_seconds"])
        initial_epoch = int(state["epochs_done"])
    else:
        if isinstance(model, str):
            keras_model = build_model(model, precision)
            compile_model(keras_model, optimizer or reference.make_optimizer())
        else:
            keras_model = model
            if optimizer is not None or getattr(keras_model, "optimizer", None) is None:
                compile_model(keras_model, optimizer or "adam")

    fit_callbacks = [_EpochTimer(seconds), *(callbacks or [])]
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"identity": identity, "epochs": epochs}
        fit_callbacks.append(_Checkpoint(folder, history, seconds, meta))

    if initial_epoch < epochs:
        validation = (data.x_val, _class_indices(data.y_val)) if len(data.x_val) else None
        fit = keras_model.fit(
            data.x_train,
            _class_indices(data.y_train),
            batch_size=batch_size,
            epochs=epochs,
            initial_epoch=initial_epoch,
            validation_data=validation,
            callbacks=fit_callbacks,
            verbose=verbose,
        )
        if folder is None:
            history = {k: [float(v) for v in vals] for k, vals in fit.history.items()}
    return TrainingResult(keras_model, history, seconds, resumed_from=initial_epoch)


def save_history(result: TrainingResult, path: str | os.PathLike) -> Path:
    """Writes the history and epoch times as JSON."""
    path = Path(path)
    path.write_text(
        json.dumps({"history": result.history, "epoch_seconds": result.epoch_seconds}, indent=1)
    )
    return path

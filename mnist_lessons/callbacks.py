"""Keras callbacks that let one training run answer more than one question.

`EpochEvaluation` scores a fixed set of images after every epoch with the model in inference
mode (dropout off), so a chapter can set the training accuracy Keras reports (a running mean
over an epoch in which the weights change, with dropout on) beside the accuracy of the weights
the epoch ended with. `WeightSnapshots` keeps the weights of chosen epochs and of the epoch with
the lowest validation loss, so a long run also yields the model a shorter run would have ended
with, and the one early stopping would have kept.

Both are passed to `train.train` (or `writeup.run_writeup`) through ``callbacks``; they run after
the epoch's timer, so the time they take is not counted as training time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .backend import keras
from .evaluate import evaluate_model


class EpochEvaluation(keras.callbacks.Callback):
    """Loss, accuracy and confidence on fixed images after every epoch, dropout off.

    Attributes:
        name: what the images are, e.g. ``"test"``.
        history: per-epoch lists under ``loss``, ``accuracy`` and ``error_confidence`` (the
            mean probability the model gave its wrong answers; nan when none is wrong).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, name: str, batch_size: int = 1000):
        """
        Args:
            x: float32 images (n, 28, 28, 1) in [0, 1].
            y: int class indices (n,) or one-hot rows (n, 10).
            name: what the images are, for tables and plots.
            batch_size: images per prediction batch (does not change the result).
        """
        super().__init__()
        labels = np.asarray(y)
        self.labels = labels.argmax(axis=1) if labels.ndim == 2 else labels.astype(np.int64)
        if len(self.labels) != len(x):
            raise ValueError(
                f"x and y differ in length: {len(x)} images, {len(self.labels)} labels"
            )
        self.x, self.name, self.batch_size = x, name, batch_size
        self.history: dict[str, list[float]] = {"loss": [], "accuracy": [], "error_confidence": []}

    def on_epoch_end(self, epoch, logs=None):
        evaluation = evaluate_model(self.model, self.x, self.labels, self.batch_size)
        wrong = evaluation.predictions != evaluation.labels
        self.history["loss"].append(evaluation.loss)
        self.history["accuracy"].append(evaluation.accuracy)
        self.history["error_confidence"].append(
            float(evaluation.confidence()[wrong].mean()) if wrong.any() else math.nan
        )


class WeightSnapshots(keras.callbacks.Callback):
    """Keeps the weights of chosen epochs and of the epoch with the lowest validation loss, and
    stops training early when asked to.

    With ``patience``, training stops once that many epochs have passed without a new lowest
    ``monitor``, but never before ``min_epochs``: Keras's ``EarlyStopping`` with the weights
    kept here instead of restored, so the chapter can evaluate both.

    Attributes:
        at: ``{epoch: weights}`` for each epoch in ``epochs`` that ran (epochs count from 1).
        best_epoch: the epoch (from 1) with the lowest ``monitor`` so far, or None.
        best_weights: that epoch's weights, or None.
    """

    def __init__(
        self,
        epochs: Iterable[int] = (),
        monitor: str = "val_loss",
        patience: int | None = None,
        min_epochs: int = 1,
    ):
        """
        Args:
            epochs: epochs (from 1) whose weights to keep.
            monitor: the logged metric to minimise, ``val_loss`` by default.
            patience: stop after this many epochs without a new lowest ``monitor``; None
                never stops.
            min_epochs: never stop before this many epochs have run.
        """
        super().__init__()
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be at least 1 or None. Received: patience={patience}")
        self.epochs, self.monitor = set(epochs), monitor
        self.patience, self.min_epochs = patience, min_epochs
        self.at: dict[int, list[np.ndarray]] = {}
        self.best_epoch: int | None = None
        self.best_weights: list[np.ndarray] | None = None
        self._best = math.inf

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done in self.epochs:
            self.at[done] = self.model.get_weights()
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KeyError(
                f"WeightSnapshots watches {self.monitor!r}, which this training does not log; it "
                f"logs {sorted(logs or {})}"
            )
        if value < self._best:
            self._best, self.best_epoch = float(value), done
            self.best_weights = self.model.get_weights()
        if (
            self.patience is not None
            and done >= self.min_epochs
            and done - self.best_epoch >= self.patience
        ):
            self.model.stop_training = True


class EpochLog(keras.callbacks.Callback):
    """Keeps what Keras logs at each epoch's end, across several calls to ``fit`` (Keras's own
    History starts afresh with each call, and the fast recipes call ``fit`` once per epoch)."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))


class EpochProgress(keras.callbacks.Callback):
    """Calls ``report(epoch, epochs)`` after each epoch (a study's progress bar)."""

    def __init__(self, report, epochs: int):
        super().__init__()
        self.report, self.epochs = report, epochs

    def on_epoch_end(self, epoch, logs=None):
        self.report(epoch + 1, self.epochs)

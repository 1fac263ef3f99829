"""Evaluation: test metrics, confusion matrix, per-class report, and where the model errs."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from .backend import keras
from .data import NUM_CLASSES
from .tables import MarkdownTable, markdown_table


@dataclass
class Evaluation:
    """A model's results on a labelled set.

    Attributes:
        loss: mean cross-entropy.
        accuracy: fraction correct, 0–1.
        probabilities: float32 array (n, 10), each row sums to 1.
        predictions: int64 array (n,) of predicted digits.
        labels: int64 array (n,) of true digits.
        confusion: int64 array (10, 10); row = true digit, column = predicted digit.
    """

    loss: float
    accuracy: float
    probabilities: np.ndarray
    predictions: np.ndarray
    labels: np.ndarray
    confusion: np.ndarray

    @property
    def error_count(self) -> int:
        return int((self.predictions != self.labels).sum())

    @property
    def correct(self) -> np.ndarray:
        """Which test images the model got right, in test-set order."""
        return self.predictions == self.labels

    def interval(self):
        """The accuracy with its 95 % Wilson interval on these images (`stats.wilson_interval`)."""
        from .stats import wilson_interval

        return wilson_interval(int(self.correct.sum()), len(self.labels))

    def against(self, other: Evaluation):
        """This model against ``other`` on the same test images: McNemar's exact test
        (`stats.mcnemar`), the right test for two trained models scored on one test set."""
        from .stats import mcnemar

        if len(other.labels) != len(self.labels) or not np.array_equal(other.labels, self.labels):
            raise ValueError(
                "Both models must be scored on the same test images, in the same order. "
                f"Received: {len(self.labels):,} and {len(other.labels):,} labels that differ"
            )
        return mcnemar(self.correct, other.correct)

    def per_class(self) -> list[dict]:
        """Precision, recall, F1 and support for each digit (scikit-learn's definitions)."""
        precision, recall, f1, support = precision_recall_fscore_support(
            self.labels, self.predictions, labels=range(NUM_CLASSES), zero_division=0
        )
        return [
            {
                "digit": d,
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": int(s),
            }
            for d, p, r, f, s in zip(
                range(NUM_CLASSES), precision, recall, f1, support, strict=True
            )
        ]

    def per_class_table(self) -> MarkdownTable:
        """`per_class` as a Markdown table: digit, precision, recall, F1, images."""
        return markdown_table(
            ["digit", "precision", "recall", "F1", "images"],
            [
                [
                    r["digit"],
                    f"{r['precision']:.4f}",
                    f"{r['recall']:.4f}",
                    f"{r['f1']:.4f}",
                    f"{r['support']:,}",
                ]
                for r in self.per_class()
            ],
            align="rrrrr",
        )

    def per_class_accuracy(self) -> np.ndarray:
        """Fraction of each true digit classified correctly (the recall), shape (10,)."""
        totals = self.confusion.sum(axis=1)
        return np.divide(
            np.diag(self.confusion), totals, out=np.zeros(NUM_CLASSES), where=totals > 0
        )

    def most_confused_pairs(self, top: int = 5) -> list[tuple[int, int, int]]:
        """The ``top`` largest off-diagonal cells as ``(true digit, predicted digit, count)``."""
        off = self.confusion.copy()
        np.fill_diagonal(off, 0)
        order = np.argsort(-off, axis=None, kind="stable")[:top]
        pairs = [(int(i // NUM_CLASSES), int(i % NUM_CLASSES)) for i in order]
        return [(t, p, int(off[t, p])) for t, p in pairs if off[t, p] > 0]

    def misclassified(self) -> np.ndarray:
        """Indices of the wrong predictions, the most confident mistakes first."""
        wrong = np.flatnonzero(self.predictions != self.labels)
        confidence = self.probabilities[wrong, self.predictions[wrong]]
        return wrong[np.argsort(-confidence, kind="stable")]

    def confidence(self) -> np.ndarray:
        """The probability the model gave its own prediction, shape (n,)."""
        return self.probabilities[np.arange(len(self.predictions)), self.predictions]


def evaluate_model(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int = 1000,
    weights: list[np.ndarray] | None = None,
) -> Evaluation:
    """Evaluates a trained model.

    Args:
        model: a trained model ending in a softmax over 10 digits.
        x: float32 images (n, 28, 28, 1) in [0, 1].
        y: int class indices (n,) or one-hot rows (n, 10).
        batch_size: images per prediction batch (does not change the result).
        weights: other weights for ``model`` to be evaluated with, e.g. an earlier epoch's
            (`callbacks.WeightSnapshots`); the model gets its own back afterwards.

    Returns:
        An `Evaluation`.
    """
    labels = np.asarray(y)
    labels = labels.argmax(axis=1) if labels.ndim == 2 else labels.astype(np.int64)
    if len(labels) != len(x):
        raise ValueError(f"x and y differ in length: {len(x)} images, {len(labels)} labels")
    if weights is not None:
        own = model.get_weights()
        model.set_weights(weights)
    try:
        probabilities = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), np.float32)
    finally:
        if weights is not None:
            model.set_weights(own)
    picked = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1.0)
    predictions = probabilities.argmax(axis=1).astype(np.int64)
    return Evaluation(
        loss=float(-np.log(picked).mean()),
        accuracy=float((predictions == labels).mean()),
        probabilities=probabilities,
        predictions=predictions,
        labels=labels,
        confusion=confusion_matrix(labels, predictions, labels=range(NUM_CLASSES)),
    )


def check_accuracy(name: str, measured: float, reference: float, margin: float = 0.003) -> float:
    """Fails when ``measured`` is more than ``margin`` below ``reference``.

    Used by the chapters to assert their trained result, so that a regression stops the run
    instead of being published.

    Returns:
        ``measured - reference`` (positive when the run beats the reference).
    """
    if measured < reference - margin:
        raise AssertionError(
            f"{name}: measured accuracy {measured:.4f} is more than {margin:.4f} below the "
            f"reference {reference:.4f}"
        )
    return measured - reference


def standard_error(accuracy: float, n: int) -> float:
    """The standard error of an accuracy measured on ``n`` independent test images.

    ``sqrt(p (1 - p) / n)``, as a fraction: about 0.001 (0.1 points) for 99 % on MNIST's
    10,000 test images: the scatter that the test set's finite size alone gives one accuracy.
    It is not a test of two models (see `stats.mcnemar` for that) and leaves out the spread
    between seeds (see `stats.seed_interval`).

    Raises:
        ValueError: if ``accuracy`` is outside [0, 1] or ``n`` is not positive.
    """
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy must be between 0 and 1. Received: accuracy={accuracy}")
    if n <= 0:
        raise ValueError(f"n must be a positive number of images. Received: n={n}")
    return float(np.sqrt(accuracy * (1.0 - accuracy) / n))


def save_results(path: str | os.PathLike, **results) -> Path:
    """Writes a chapter's results (plain numbers, strings and lists) as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return path


def load_results(path: str | os.PathLike) -> dict | None:
    """Reads results written by `save_results`; None if the file does not exist."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None

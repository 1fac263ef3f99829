"""Baselines without a convolution: what "99 %" is worth against simpler classifiers.

Each baseline trains on the same split as the book's networks (the training images left after
the validation split) and is scored once on the 10,000 test images:

- ``class_means``: each digit's mean training image; a test image gets the digit whose mean is
  nearest in pixel space (fast.ai's "pixel similarity" baseline);
- ``nearest_neighbour``: the label of the nearest training image (k = 1) or the vote of the k
  nearest, on the pixels or on a PCA projection;
- ``logistic_regression``: a linear model (softmax regression) fitted by scikit-learn's L-BFGS,
  on the pixels or on a PCA projection.

Every baseline is deterministic given its settings: none needs seeds. `run_baseline` returns
which test images it got right, so that McNemar's test pairs it with a network image by image,
and the seconds its fitting and its scoring took.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .checks import check_choice, check_int
from .data import NUM_CLASSES


def _flat(images) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim < 2:
        raise ValueError(f"images must be a batch (n, 28, 28[, 1]). Received: {images.shape}")
    return images.reshape(len(images), -1)


class ClassMeans:
    """Each class's mean training image; predicts the class whose mean is nearest (Euclidean)."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> ClassMeans:
        y = np.asarray(y)
        missing = sorted(set(range(NUM_CLASSES)) - set(y.tolist()))
        if missing:
            raise ValueError(f"the training labels hold no example of digits {missing}")
        self.means_ = np.stack([x[y == c].mean(axis=0) for c in range(NUM_CLASSES)])
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        # ‖x − m‖² = ‖x‖² − 2 x·m + ‖m‖²; the first term is the same for every class.
        scores = x @ self.means_.T - 0.5 * (self.means_**2).sum(axis=1)
        return scores.argmax(axis=1)


@dataclass(frozen=True)
class Baseline:
    """One baseline's settings.

    Attributes:
        name: a short key ("knn_pca50").
        label: what it is, for tables ("1-nearest neighbour, 50 PCA components").
        kind: ``"class_means"``, ``"nearest_neighbour"`` or ``"logistic_regression"``.
        components: PCA components to project onto first (0: the raw pixels).
        neighbours: k for a nearest-neighbour baseline.
    """

    name: str
    label: str
    kind: str
    components: int = 0
    neighbours: int = 1


KINDS = ("class_means", "nearest_neighbour", "logistic_regression")

BASELINES = (
    Baseline("class_means", "nearest class mean (pixels)", "class_means"),
    Baseline("logistic", "logistic regression (pixels)", "logistic_regression"),
    Baseline(
        "logistic_pca50",
        "logistic regression (50 PCA components)",
        "logistic_regression",
        components=50,
    ),
    Baseline("knn", "1-nearest neighbour (pixels)", "nearest_neighbour"),
    Baseline(
        "knn_pca50", "1-nearest neighbour (50 PCA components)", "nearest_neighbour", components=50
    ),
    Baseline(
        "knn3_pca50",
        "3-nearest neighbours (50 PCA components)",
        "nearest_neighbour",
        components=50,
        neighbours=3,
    ),
)
"""The baselines the book measures, cheapest first."""


@dataclass
class BaselineResult:
    """One baseline, fitted on the training images and scored on the test images.

    Attributes:
        baseline: its settings.
        correct: bool (test images,), which test images it got right.
        fit_seconds: wall time of fitting (PCA included).
        predict_seconds: wall time of predicting every test image (projection included).
        val_correct: bool (validation images,), which validation images it got right, where it
            was given some (to choose between baselines without the test set); else None.
    """

    baseline: Baseline
    correct: np.ndarray = field(repr=False)
    fit_seconds: float
    predict_seconds: float
    val_correct: np.ndarray | None = field(default=None, repr=False)

    @property
    def val_accuracy(self) -> float | None:
        return None if self.val_correct is None else float(self.val_correct.mean())

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean())

    def interval(self):
        """The test accuracy with its 95 % Wilson interval (`stats.wilson_interval`)."""
        from .stats import wilson_interval

        return wilson_interval(int(self.correct.sum()), len(self.correct))


def _model(baseline: Baseline):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    if baseline.kind == "class_means":
        return ClassMeans()
    if baseline.kind == "nearest_neighbour":
        return KNeighborsClassifier(n_neighbors=baseline.neighbours, algorithm="brute")
    return LogisticRegression(max_iter=1000)


def run_baseline(
    baseline: Baseline,
    x_train,
    y_train,
    x_test,
    y_test,
    *,
    x_val=None,
    y_val=None,
    clock: Callable[[], float] = time.perf_counter,
) -> BaselineResult:
    """Fits ``baseline`` on the training images and scores it on the test images.

    Args:
        baseline: one of `BASELINES`, or settings of one's own.
        x_train, x_test: float32 images in [0, 1], (n, 28, 28[, 1]) or flat (n, 784).
        y_train, y_test: int class indices.
        x_val, y_val: validation images and labels, also scored (not timed), so that a choice
            between baselines need not look at the test set; None to skip.
        clock: where the seconds come from (the tests pass a fake).
    """
    check_choice("kind", baseline.kind, KINDS)
    components = check_int("components", baseline.components, minimum=0, maximum=784)
    check_int("neighbours", baseline.neighbours, minimum=1)
    x_train, x_test = _flat(x_train), _flat(x_test)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ValueError(
            f"images and labels differ in length: {len(x_train)} and {len(y_train)} for "
            f"training, {len(x_test)} and {len(y_test)} for testing"
        )
    start = clock()
    projection = None
    if components:
        from sklearn.decomposition import PCA

        projection = PCA(components, random_state=0).fit(x_train)
        x_train = projection.transform(x_train)
    model = _model(baseline).fit(x_train, y_train)
    fitted = clock()
    if projection is not None:
        x_test = projection.transform(x_test)
    predictions = np.asarray(model.predict(x_test))
    done = clock()
    val_correct = None
    if x_val is not None:
        x_val, y_val = _flat(x_val), np.asarray(y_val)
        if len(x_val) != len(y_val):
            raise ValueError(f"{len(x_val)} validation images but {len(y_val)} labels")
        if projection is not None:
            x_val = projection.transform(x_val)
        val_correct = np.asarray(model.predict(x_val)) == y_val
    return BaselineResult(
        baseline, predictions == y_test, fitted - start, done - fitted, val_correct
    )

"""Calibration: does a model's confidence match how often it is right, and temperature scaling.

Following Guo et al. 2017, "On Calibration of Modern Neural Networks": the predictions are
grouped into equal-width bins of confidence (the largest probability), and a calibrated model is
right in each bin as often as its mean confidence there says (`reliability`). The expected
calibration error (`expected_calibration_error`) is the count-weighted mean gap. Temperature
scaling divides the logits by one number T > 0 (`fit_temperature`, `apply_temperature`): it
changes the confidence but never the predicted class, so the accuracy stays what it was.

Fit the temperature on the validation split, never on the test set, then measure the test
set's calibration before and after: a temperature fitted on the test images would be tuned on
the very answers it is then scored against. NumPy and SciPy only; no Keras.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from .checks import check_int
from .stats import Interval

SMALLEST_PROBABILITY = float(np.finfo(np.float32).tiny)
"""Probabilities are clipped to this before their log is taken, so that a 0 (a float32 softmax
that underflowed) becomes a very negative logit instead of −∞."""

TEMPERATURE_BOUNDS = (0.05, 20.0)
"""The range `fit_temperature` searches: far wider than the 1–3 Guo et al. found."""


def _check_probabilities(probabilities, name: str = "probabilities") -> np.ndarray:
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2 or len(p) == 0:
        raise ValueError(
            f"{name} must be an array (n, classes) with n ≥ 1 and at least two classes. "
            f"Received: {name}.shape={p.shape}"
        )
    if not np.isfinite(p).all() or p.min() < 0 or p.max() > 1:
        raise ValueError(f"{name} must hold probabilities in [0, 1], one row per image.")
    worst = float(np.abs(p.sum(axis=1) - 1).max())
    if worst > 1e-3:
        raise ValueError(
            f"every row of {name} must sum to 1 (the model's softmax output). "
            f"Received a row summing to 1 {'+' if p.sum(axis=1).max() > 1 else '-'} {worst:.3g}"
        )
    return p


def _check_labels(labels, n: int, classes: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"labels must be {n} integers, one true class per row. "
            f"Received: labels of shape {y.shape} and dtype {y.dtype}"
        )
    if y.min() < 0 or y.max() >= classes:
        raise ValueError(
            f"labels must be classes from 0 to {classes - 1}. "
            f"Received values from {y.min()} to {y.max()}"
        )
    return y.astype(np.int64)


@dataclass(frozen=True)
class Reliability:
    """Confidence against accuracy in equal-width confidence bins (a reliability diagram).

    Bin ``b`` of ``B`` holds the predictions whose confidence lies in (b/B, (b + 1)/B] (the
    first bin also holds a confidence of exactly 0).

    Attributes:
        edges: float64 array (B + 1,), 0 to 1.
        confidence: float64 array (B,), the mean confidence in each bin; NaN where empty.
        accuracy: float64 array (B,), the fraction right in each bin, 0–1; NaN where empty.
        count: int64 array (B,), the predictions in each bin.
    """

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray

    @property
    def total(self) -> int:
        """How many predictions were binned."""
        return int(self.count.sum())

    @property
    def gap(self) -> np.ndarray:
        """Accuracy − confidence per bin: negative where the model is over-confident."""
        return self.accuracy - self.confidence

    @property
    def ece(self) -> float:
        """Guo et al.'s expected calibration error: Σ |accuracy − confidence| · count / n."""
        filled = self.count > 0
        return float((np.abs(self.gap[filled]) * self.count[filled]).sum() / self.total)

    @property
    def mce(self) -> float:
        """The maximum calibration error: the largest |accuracy − confidence| of any bin."""
        return float(np.abs(self.gap[self.count > 0]).max())


def reliability(probabilities, labels, bins: int = 15) -> Reliability:
    """Bins the predictions by confidence and measures each bin's accuracy.

    Args:
        probabilities: float array (n, classes), rows summing to 1 (a softmax's output).
        labels: int array (n,), the true classes.
        bins: how many equal-width bins to split [0, 1] into (15, as Guo et al.).

    Returns:
        A `Reliability`.
    """
    p = _check_probabilities(probabilities)
    y = _check_labels(labels, len(p), p.shape[1])
    bins = check_int("bins", bins, minimum=1)
    confidence = p.max(axis=1)
    correct = p.argmax(axis=1) == y
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, confidence, minlength=bins) / count
        accuracy = np.bincount(which, correct.astype(np.float64), minlength=bins) / count
    return Reliability(np.linspace(0, 1, bins + 1), mean_confidence, accuracy, count)


def expected_calibration_error(probabilities, labels, bins: int = 15) -> float:
    """Guo et al.'s ECE: Σ over bins |accuracy − confidence| · count / n, from 0 to 1.

    0 for a calibrated model; a model that is 99 % confident and right 95 % of the time has an
    ECE of 0.04. Arguments as for `reliability`.
    """
    return reliability(probabilities, labels, bins).ece


def negative_log_likelihood(probabilities, labels) -> float:
    """Mean −log p(true class): the cross-entropy that temperature scaling minimises."""
    p = _check_probabilities(probabilities)
    y = _check_labels(labels, len(p), p.shape[1])
    return float(-np.log(np.maximum(p[np.arange(len(p)), y], SMALLEST_PROBABILITY)).mean())


def logits_from_probabilities(probabilities) -> np.ndarray:
    """Logits that give back ``probabilities`` under a softmax: log p (clipped above 0).

    A softmax's logits are known only up to a constant per row, which the softmax ignores;
    log p is the one whose log-sum-exp is 0. Returns float64 (n, classes), values ≤ 0.
    """
    p = _check_probabilities(probabilities)
    return np.log(np.maximum(p, SMALLEST_PROBABILITY))


def _as_logits(scores, logits: bool | None) -> np.ndarray:
    z = np.asarray(scores, dtype=np.float64)
    if logits is None:
        p_like = z.ndim == 2 and np.isfinite(z).all() and z.min() >= 0 and z.max() <= 1
        logits = not (p_like and np.allclose(z.sum(axis=1), 1, atol=1e-3))
    if not logits:
        return logits_from_probabilities(z)
    if z.ndim != 2 or z.shape[1] < 2 or len(z) == 0 or not np.isfinite(z).all():
        raise ValueError(
            "logits must be a finite array (n, classes) with n ≥ 1 and at least two classes. "
            f"Received shape {z.shape}"
        )
    return z


def fit_temperature(probabilities_or_logits, labels, *, logits: bool | None = None) -> float:
    """The temperature T > 0 that minimises the NLL of softmax(logits / T) on held-out data.

    Fit it on the validation split, never on the test set: the test set then measures how well
    the fitted temperature carries over (`apply_temperature`, `expected_calibration_error`).
    T > 1 softens over-confident predictions, T < 1 sharpens under-confident ones.

    The book's models end in a softmax, so their probabilities are given: their log is taken
    as the logits (it differs from the network's own logits by a constant per row, which the
    softmax ignores), clipped at `SMALLEST_PROBABILITY` so that a 0 stays finite.

    Args:
        probabilities_or_logits: float array (n, classes): a softmax's output (rows in [0, 1]
            summing to 1), or the logits before it.
        labels: int array (n,), the true classes of the validation images.
        logits: whether the first argument holds logits; if None it is taken for
            probabilities when every row is in [0, 1] and sums to 1, else for logits.

    Returns:
        The temperature, within `TEMPERATURE_BOUNDS`, as a float (found to about 1e-5
        relative precision by SciPy's bounded scalar search over log T).
    """
    z = _as_logits(probabilities_or_logits, logits)
    y = _check_labels(labels, len(z), z.shape[1])
    rows = np.arange(len(z))

    def nll(log_temperature: float) -> float:
        return float(-log_softmax(z / np.exp(log_temperature), axis=1)[rows, y].mean())

    low, high = np.log(TEMPERATURE_BOUNDS)
    found = minimize_scalar(nll, bounds=(low, high), method="bounded", options={"xatol": 1e-5})
    return float(np.exp(found.x))


def apply_temperature(probabilities, temperature: float) -> np.ndarray:
    """The probabilities a softmax gives after its logits are divided by ``temperature``.

    Args:
        probabilities: float array (n, classes), rows summing to 1.
        temperature: T > 0, from `fit_temperature` on the validation split.

    Returns:
        float32 array (n, classes), rows summing to 1; each row's largest entry stays where it
        was, so the predictions (and the accuracy) do not change.
    """
    number = isinstance(temperature, (int, float, np.integer, np.floating))
    if (
        isinstance(temperature, bool)
        or not number
        or not np.isfinite(temperature)
        or temperature <= 0
    ):
        raise ValueError(
            f"temperature must be a positive number. Received: temperature={temperature!r}"
        )
    z = logits_from_probabilities(probabilities)
    return softmax(z / float(temperature), axis=1).astype(np.float32)


BOOTSTRAP_RESAMPLES = 2000
"""How many resamples of the test images `calibration_change` draws."""


@dataclass(frozen=True)
class CalibrationChange:
    """How temperature scaling (or any change of the probabilities) moved the calibration of
    the same answers, with paired bootstrap intervals over the test images.

    Attributes:
        ece: the change in ECE (after − before), in percentage points, with its interval.
        nll: the change in mean negative log-likelihood (after − before), with its interval.
    """

    ece: Interval
    nll: Interval

    def sentence(self) -> str:
        """The ECE's change in words: "lowered the ECE by 0.05 points (95 % bootstrap interval
        0.01 to 0.09)", or "left the ECE where it was, as far as these images can tell (…)"."""
        e = self.ece
        interval = f"{e.method} {e.low:+.2f} to {e.high:+.2f}"
        if e.high < 0:
            return f"lowered the ECE by {-e.estimate:.2f} points ({interval})"
        if e.low > 0:
            return f"raised the ECE by {e.estimate:.2f} points ({interval})"
        return (
            f"moved the ECE by {e.estimate:+.2f} points, a change these test images cannot "
            f"tell from none ({interval})"
        )


def calibration_change(
    before,
    after,
    labels,
    bins: int = 15,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    confidence: float = 0.95,
) -> CalibrationChange:
    """The change in ECE and in loss from ``before`` to ``after`` on the same answers, with
    95 % percentile intervals from a paired bootstrap: each resample draws the test images with
    replacement and scores both sets of probabilities on the same draw.

    The intervals say how much the change would move on another test set like this one. They
    leave out the seed: another trained network would have its own change.

    Args:
        before, after: probabilities (n, classes) for the same n images, e.g. before and after
            temperature scaling.
        labels: the true classes, shape (n,).
        bins: as for `reliability`.
        resamples: bootstrap resamples, at least 100.
        seed: seeds the resampling.
    """
    p0 = _check_probabilities(before, "before")
    p1 = _check_probabilities(after, "after")
    if p0.shape != p1.shape:
        raise ValueError(
            f"before and after must score the same images. Received: shapes {p0.shape} and "
            f"{p1.shape}"
        )
    y = _check_labels(labels, len(p0), p0.shape[1])
    resamples = check_int("resamples", resamples, minimum=100)
    rng = np.random.default_rng(seed)
    ece_changes, nll_changes = np.empty(resamples), np.empty(resamples)
    for i in range(resamples):
        draw = rng.integers(0, len(y), len(y))
        ece_changes[i] = (
            expected_calibration_error(p1[draw], y[draw], bins)
            - expected_calibration_error(p0[draw], y[draw], bins)
        ) * 100
        nll_changes[i] = negative_log_likelihood(p1[draw], y[draw]) - negative_log_likelihood(
            p0[draw], y[draw]
        )
    tail = (1 - confidence) / 2 * 100
    method = f"{confidence * 100:g} % paired bootstrap interval over {len(y):,} images:"

    def interval(point: float, draws: np.ndarray) -> Interval:
        low, high = np.percentile(draws, [tail, 100 - tail])
        return Interval(point, float(low), float(high), len(y), method)

    return CalibrationChange(
        ece=interval(
            (expected_calibration_error(p1, y, bins) - expected_calibration_error(p0, y, bins))
            * 100,
            ece_changes,
        ),
        nll=interval(negative_log_likelihood(p1, y) - negative_log_likelihood(p0, y), nll_changes),
    )

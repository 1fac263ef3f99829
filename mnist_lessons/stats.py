"""What a set of runs allows the book to conclude: intervals, paired tests and verdict sentences.

Every distribution and test comes from SciPy's `scipy.stats`; this module only chooses the right
one for each question the book asks and words its answer.

- One recipe trained over several seeds: the mean test accuracy with a 95 % t-interval
  (`seed_interval`), and the range a single further run would fall in (`prediction_interval`),
  which is what a write-up's one reported figure should be set against.
- Two recipes trained on the same seeds: the mean of the per-seed differences with its
  t-interval and a paired t-test (`paired_difference`).
- Two trained models scored on the same test images: McNemar's exact test on the images one gets
  right and the other wrong (`mcnemar`).
- One accuracy on one test set: the Wilson interval (`wilson_interval`).
- A change applied to every seed: the sign test on how many seeds it raised (`sign_test`).
- Several differences tested together: Holm's adjustment of their p-values (`holm`).

`Difference.sentence` writes every verdict in the book from these, in one form: "higher by 0.22
points (95 % interval 0.08 to 0.36 over 5 seeds; paired t-test p = 0.01)", or, where the
interval covers zero, "no difference detected at 5 seeds (...)". It never calls two results level
or one above the other on point estimates alone.

Accuracies are fractions (0.9911); differences are reported in percentage points (0.22).

Each test is at 95 %: where a chapter sets several arms against one reference, about one in
twenty of the differences that are not there would still read as detected, and the chapter says
how many it tested.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
"""The confidence level of every interval in the book."""


def _values(values: Sequence[float], name: str, at_least: int) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or len(array) < at_least:
        raise ValueError(
            f"{name} needs at least {at_least} values in a flat sequence. "
            f"Received: {len(array) if array.ndim == 1 else array.shape} values"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite numbers. Received: {values!r}")
    return array


def p_text(p: float) -> str:
    """``"p = 0.020"``: three decimals below 0.1, so that a p of 0.0496 never reads as 0.05."""
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def points_text(value: float) -> str:
    """A signed difference in points: two decimals, three where two would round it to zero,
    and "0.000" without a sign where even three would."""
    if abs(value) < 0.0005:
        return "0.000"
    return f"{value:+.3f}" if abs(value) < 0.005 else f"{value:+.2f}"


SPREAD_TOLERANCE = 1e-9
"""Differences closer than this (in points) are the same: float noise, not spread."""


def _check_spread(values: np.ndarray, name: str) -> None:
    if np.ptp(values) * 100 < SPREAD_TOLERANCE:
        raise ValueError(
            f"{name}: every run scored the same ({values[0]:.4f}), so their spread, and with it "
            "an interval, cannot be estimated; train more seeds or report the runs as they are"
        )


def _level(confidence: float) -> str:
    """``0.95`` → ``"95 %"``, the book's way of writing a percentage."""
    return f"{confidence * 100:g} %"


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


@dataclass(frozen=True)
class Interval:
    """An estimate with its interval.

    Attributes:
        estimate: the point estimate (a mean, or an accuracy).
        low, high: the interval's ends.
        n: how many values (seeds, or test images) it rests on.
        method: what the interval is, in words ("95 % t-interval over 5 seeds").
        sd: the standard deviation over the values (ddof=1), where there are values.
    """

    estimate: float
    low: float
    high: float
    n: int
    method: str
    sd: float | None = None

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def text(self, digits: int = 4) -> str:
        """``"0.9911 (95 % interval over 10 seeds: 0.9905 to 0.9917)"``."""
        low, high = f"{self.low:.{digits}f}", f"{self.high:.{digits}f}"
        return f"{self.estimate:.{digits}f} ({self.method} {low} to {high})"


def seed_interval(accuracies: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The mean over seeds with its t-interval (`scipy.stats.t`).

    Args:
        accuracies: one figure per seed (at least 2).
    """
    values = _values(accuracies, "seed_interval", 2)
    _check_spread(values, "seed_interval")
    n, mean, sd = len(values), float(values.mean()), float(values.std(ddof=1))
    low, high = stats.t.interval(confidence, n - 1, loc=mean, scale=sd / math.sqrt(n))
    return Interval(
        mean, float(low), float(high), n, f"{_level(confidence)} interval over {_seeds(n)}:", sd
    )


def prediction_interval(accuracies: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Where one further run of the same recipe would land, from the runs so far.

    The t prediction interval ``mean ± t · sd · √(1 + 1/n)``: the right yardstick for a single
    figure someone else reported for the recipe (one run, one seed).
    """
    values = _values(accuracies, "prediction_interval", 2)
    _check_spread(values, "prediction_interval")
    n, mean, sd = len(values), float(values.mean()), float(values.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd * math.sqrt(1 + 1 / n)
    return Interval(
        mean,
        mean - half,
        mean + half,
        n,
        f"{_level(confidence)} prediction interval for one run, from {_seeds(n)}:",
        sd,
    )


def mean_against_target(
    accuracies: Sequence[float], target: float, confidence: float = CONFIDENCE
) -> tuple[str, Interval | None]:
    """Where a recipe's mean over seeds lies against a target accuracy, judged by the 95 %
    interval of the mean (`seed_interval`).

    Returns:
        ``(where, interval)``: ``where`` is "at or above" (the whole interval is), "below" (the
        whole interval is), "covers" (the interval straddles the target) or "one seed" (no
        interval can be made). Where every seed scored the same there is no spread and no
        interval (None): that one score is set against the target.
    """
    values = _values(accuracies, "mean_against_target", 1)
    if len(values) < 2:
        return "one seed", None
    if np.ptp(values) * 100 < SPREAD_TOLERANCE:
        return ("at or above" if values[0] >= target else "below"), None
    interval = seed_interval(values, confidence)
    if interval.low >= target:
        return "at or above", interval
    if interval.high < target:
        return "below", interval
    return "covers", interval


def wilson_interval(correct: int, total: int, confidence: float = CONFIDENCE) -> Interval:
    """One accuracy on one test set, with its Wilson score interval (`scipy.stats.binomtest`)."""
    if not (isinstance(correct, int | np.integer) and isinstance(total, int | np.integer)):
        raise ValueError(
            f"correct and total must be whole counts. Received: correct={correct!r}, "
            f"total={total!r}"
        )
    if total < 1 or not 0 <= correct <= total:
        raise ValueError(
            f"correct must lie between 0 and total, and total be at least 1. "
            f"Received: correct={correct}, total={total}"
        )
    ci = stats.binomtest(int(correct), int(total)).proportion_ci(confidence, method="wilson")
    return Interval(
        correct / total,
        float(ci.low),
        float(ci.high),
        int(total),
        f"{_level(confidence)} Wilson interval on {total:,} images:",
    )


@dataclass(frozen=True)
class Difference:
    """How much one arm differs from another, with an interval and a test.

    Attributes:
        points: the estimated difference, first minus second, in percentage points.
        low, high: the interval of the difference, in points (None for tests without one).
        p_value: the test's two-sided p-value.
        test: the test's name ("paired t-test", "McNemar's exact test", "sign test").
        n: seeds (or discordant images, for McNemar's test).
        unit: what ``n`` counts ("seeds", "images on which the two disagree").
        confidence: the interval's level.
        note: counts the test rests on, said before it ("5 of 5 raised").
        direction: +1 or −1 where the test's own count, not the sign of ``points``, says which
            way the difference goes (the sign test's seeds raised against lowered).
        counts: for McNemar's test, the images only the first gets right and those only the
            second does; None for the other tests.
    """

    points: float
    low: float | None
    high: float | None
    p_value: float
    test: str
    n: int
    unit: str = "seeds"
    confidence: float = CONFIDENCE
    note: str = ""
    direction: int | None = None
    counts: tuple[int, int] | None = None

    @property
    def detected(self) -> bool:
        """Whether the data tell the arms apart: the interval excludes zero (or, for a test
        without an interval, p is below 1 − confidence)."""
        if self.low is not None and self.high is not None:
            return self.low > 0 or self.high < 0
        return self.p_value < 1 - self.confidence

    def evidence(self, count: bool = True) -> str:
        """The interval and the test, as the words in a verdict's brackets: "95 % interval
        +0.08 to +0.36 points over 5 seeds; paired t-test p = 0.01". ``count=False`` leaves the
        number of seeds out where the sentence has said it."""
        over = f" over {self.n} {self.unit}" if count else ""
        if self.low is not None and self.high is not None:
            interval = f"{points_text(self.low)} to {points_text(self.high)} points{over}"
            test = f"{self.test} {p_text(self.p_value)}"
            return f"{_level(self.confidence)} interval {interval}; {test}"
        parts = [f"{self.n} {self.unit}"] if count else []
        parts += [self.note] if self.note else []
        return "; ".join([*parts, f"{self.test} {p_text(self.p_value)}"])

    def sentence(self, higher: str = "higher", lower: str = "lower") -> str:
        """The verdict: "higher by 0.22 points (…)", "lower by …", or "no difference detected
        at 5 seeds (…)" where the interval covers zero."""
        if not self.detected:
            if self.unit == "seeds":
                return f"no difference detected at {_seeds(self.n)} ({self.evidence(count=False)})"
            return f"no difference detected ({self.evidence()})"
        direction = self.direction if self.direction is not None else np.sign(self.points)
        word = higher if direction > 0 else lower
        median = "a median of " if self.test == "sign test" else ""
        size = points_text(abs(self.points)).lstrip("+")
        return f"{word} by {median}{size} points ({self.evidence()})"


def paired_difference(
    first: Sequence[float], second: Sequence[float], confidence: float = CONFIDENCE
) -> Difference:
    """Two arms trained on the same seeds, seed by seed: the mean of ``first − second`` with its
    t-interval and the paired t-test (`scipy.stats.ttest_rel`).

    Args:
        first, second: one accuracy per seed, in the same seed order (at least 2 each).

    Where every seed differs by the same amount the t-test is undefined, and the sign test's
    answer (`sign_test`) is returned instead.
    """
    a = _values(first, "paired_difference", 2)
    b = _values(second, "paired_difference", 2)
    if len(a) != len(b):
        raise ValueError(
            f"paired_difference needs one value per seed in each arm. Received: {len(a)} and "
            f"{len(b)} values"
        )
    differences = (a - b) * 100
    mean = float(differences.mean())
    if np.ptp(differences) < SPREAD_TOLERANCE:
        # Every seed moved by the same amount: the t-test's spread is zero (or float noise) and
        # its interval meaningless. The sign test still asks how often that could be chance.
        return sign_test(a, b)
    result = stats.ttest_rel(a * 100, b * 100)
    ci = result.confidence_interval(confidence)
    return Difference(
        mean,
        float(ci.low),
        float(ci.high),
        float(result.pvalue),
        "paired t-test",
        len(a),
        confidence=confidence,
    )


def unpaired_difference(
    first: Sequence[float], second: Sequence[float], confidence: float = CONFIDENCE
) -> Difference:
    """Two arms treated as unrelated samples: Welch's t-test (`scipy.stats.ttest_ind` with
    unequal variances). The book uses it only to show what pairing gains: where both arms were
    trained on the same seeds, `paired_difference` is the right test."""
    a = _values(first, "unpaired_difference", 2)
    b = _values(second, "unpaired_difference", 2)
    result = stats.ttest_ind(a * 100, b * 100, equal_var=False)
    ci = result.confidence_interval(confidence)
    return Difference(
        float((a.mean() - b.mean()) * 100),
        float(ci.low),
        float(ci.high),
        float(result.pvalue),
        "Welch's t-test",
        len(a),
        confidence=confidence,
    )


def mcnemar(first_correct: Sequence[bool], second_correct: Sequence[bool]) -> Difference:
    """Two models scored on the same test images: McNemar's exact test.

    Only the images on which the two disagree carry evidence: ``b`` that only the first gets
    right, ``c`` that only the second does. Under no difference each is equally likely, so the
    p-value is a two-sided binomial test of ``b`` in ``b + c`` at one half
    (`scipy.stats.binomtest`).

    Returns:
        A `Difference` whose ``points`` is the accuracy difference (first − second) and whose
        ``n`` is ``b + c``; it has no interval.
    """
    a = np.asarray(first_correct, dtype=bool)
    b_ = np.asarray(second_correct, dtype=bool)
    if a.shape != b_.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(
            "mcnemar needs one right-or-wrong flag per test image for each model, on the same "
            f"images. Received: shapes {a.shape} and {b_.shape}"
        )
    only_first = int(np.sum(a & ~b_))
    only_second = int(np.sum(~a & b_))
    discordant = only_first + only_second
    p = 1.0 if discordant == 0 else float(stats.binomtest(only_first, discordant).pvalue)
    points = (only_first - only_second) / len(a) * 100
    return Difference(
        points,
        None,
        None,
        p,
        "McNemar's exact test",
        discordant,
        "images on which these two networks disagree",
        counts=(only_first, only_second),
    )


def sign_test(first: Sequence[float], second: Sequence[float]) -> Difference:
    """A change applied to every seed: how many seeds it raised, against a fair coin
    (`scipy.stats.binomtest`); ties are left out.

    Returns:
        A `Difference` with the median change in points, no interval, and the sign test's p; its
        direction is the majority of the seeds that changed.
    """
    a = _values(first, "sign_test", 1)
    b = _values(second, "sign_test", 1)
    if len(a) != len(b):
        raise ValueError(
            f"sign_test needs one value per seed in each arm. Received: {len(a)} and {len(b)}"
        )
    differences = (a - b) * 100
    raised = int(np.sum(differences > SPREAD_TOLERANCE))
    lowered = int(np.sum(differences < -SPREAD_TOLERANCE))
    untied = raised + lowered
    p = 1.0 if untied == 0 else float(stats.binomtest(raised, untied).pvalue)
    note = f"{raised} of {untied} raised"
    if untied and 2.0 ** (1 - untied) >= 1 - CONFIDENCE:
        note += f" (with {untied}, the sign test cannot reach p < {1 - CONFIDENCE:g})"
    return Difference(
        float(np.median(differences)),
        None,
        None,
        p,
        "sign test",
        len(a),
        note=note,
        direction=(raised > lowered) - (raised < lowered),
    )


def rounded_range(reported: float, step: float) -> tuple[float, float]:
    """Every value a figure rounded to ``step`` could have been: within half a step of it
    (``step=0`` for a figure given exactly: the figure itself, twice)."""
    return reported - step / 2, reported + step / 2


def reported_text(reported: float, step: float) -> str:
    """A reported figure as its write-up gave it: "0.9895", or for a figure rounded to whole
    percent (``step=0.01``, write-up 002's "around 97 %") "about 97 % (96.5 to 97.5 %)"."""
    if step >= 0.01:
        low, high = rounded_range(reported, step)
        return f"about {reported * 100:.0f} % ({low * 100:g} to {high * 100:g} %)"
    return f"{reported:.4f}"


def where_reported(interval: Interval, reported: float, step: float = 0.0) -> str:
    """ "inside", "above" or "below": where a reported figure falls against ``interval``.

    A figure rounded to ``step`` stands for every value within half a step of it; it counts as
    inside where any of those values is.
    """
    low, high = rounded_range(reported, step)
    if high < interval.low:
        return "below"
    if low > interval.high:
        return "above"
    return "inside"


def against_reported(accuracies: Sequence[float], reported: float, step: float = 0.0) -> str:
    """Whether a single reported figure lies inside the spread of a recipe's runs: the verdict
    for "reported against measured", from `prediction_interval`.

    Args:
        accuracies: the recipe's test accuracy on each seed.
        reported: the figure a write-up reported for one run.
        step: what the figure was rounded to (0.01 for a whole percent; 0 for a figure given to
            four decimals).
    """
    interval = prediction_interval(accuracies)
    where = where_reported(interval, reported, step)
    return (
        f"the reported {reported_text(reported, step)} lies {where} the range one run of this "
        f"recipe lands in ({interval.method} {interval.low:.4f} to {interval.high:.4f})"
    )


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of several p-values from one family of tests.

    Testing m differences at 5 % each finds, by chance alone, about one in twenty of the
    differences that are not there. Holm's adjustment keeps the chance of even one such false
    finding in the whole family at 5 %: the smallest p-value is multiplied by m, the next by
    m − 1, and so on, each kept at least as large as the one before and at most 1. A difference
    is detected where its adjusted p-value is below 0.05.
    """
    p = _values(p_values, "holm", 1)
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"holm needs p-values between 0 and 1. Received: {list(p_values)!r}")
    m = len(p)
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


@dataclass(frozen=True)
class ClassErrors:
    """One class's error rate on a test set.

    Attributes:
        digit: the true class. images: test images of it. errors: how many were misclassified.
        interval: the error rate with its 95 % Wilson interval (`wilson_interval`).
    """

    digit: int
    images: int
    errors: int
    interval: Interval


def class_errors(labels: Sequence[int], predictions: Sequence[int]) -> list[ClassErrors]:
    """Each class's error rate, with a Wilson interval over its own test images."""
    labels, predictions = _labels_and_predictions(labels, predictions)
    if predictions.ndim != 1:
        raise ValueError(
            f"class_errors takes one run's predictions, (n,). Received {predictions.shape}"
        )
    rows = []
    for digit in np.unique(labels):
        mine = labels == digit
        errors = int((predictions[mine] != digit).sum())
        rows.append(
            ClassErrors(
                int(digit), int(mine.sum()), errors, wilson_interval(errors, int(mine.sum()))
            )
        )
    return rows


@dataclass(frozen=True)
class Confusion:
    """One cell of a confusion matrix, tested against chance.

    Attributes:
        true, predicted: the classes.
        count: test images of ``true`` answered ``predicted`` (for several runs, images whose
            most frequent wrong answer it is).
        errors: the test images of ``true`` answered wrongly (by any of the runs).
        expected: the count if every mistake picked one of the other classes at random,
            ``errors / (classes − 1)``.
        p_value: the exact one-sided binomial test that the cell holds more than that.
        adjusted: the p-value after Holm's adjustment over every cell tested.
        runs: how many runs the counts come from.
    """

    true: int
    predicted: int
    count: int
    errors: int
    expected: float
    p_value: float
    adjusted: float
    runs: int = 1


def _labels_and_predictions(labels, predictions) -> tuple[np.ndarray, np.ndarray]:
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.ndim != 1 or predictions.shape[-1:] != labels.shape or len(labels) == 0:
        raise ValueError(
            "labels must be a 1-D array, and predictions the same length (or one row of that "
            f"length per run). Received shapes {labels.shape} and {predictions.shape}"
        )
    return labels, predictions


def confusions_beyond_chance(
    labels: Sequence[int], predictions, classes: int = 10
) -> tuple[list[Confusion], int]:
    """The confusions that happen more often than chance would give them.

    Chance here means: a mistake on a ``true`` digit is equally likely to land on any of the
    other ``classes − 1``. Every off-diagonal cell of a digit with any mistake gets an exact
    one-sided binomial test (`scipy.stats.binomtest`) of its share of that digit's mistakes
    against 1/(classes − 1). With mistakes on every digit that is ``classes × (classes − 1)``
    tests, and Holm's adjustment (`holm`) covers them all.

    Args:
        labels: the true classes, (n,).
        predictions: one run's answers, (n,); or several runs' answers on the same images,
            (runs, n). With several runs the unit is still the image, not the run: an image any
            run got wrong counts once, in the cell of its most frequent wrong answer (the
            smallest such digit on a tie). An image every run gets wrong is one finding, not one
            per run.

    Returns:
        ``(confusions, tests)``: the cells below 0.05 after the adjustment, the largest count
        first, and how many cells were tested.
    """
    labels, predictions = _labels_and_predictions(labels, predictions)
    runs = predictions.reshape(-1, len(labels))
    wrong_any = (runs != labels).any(axis=0)
    answers = np.full(len(labels), -1)
    for i in np.flatnonzero(wrong_any):
        wrongs = runs[:, i][runs[:, i] != labels[i]]
        answers[i] = np.bincount(wrongs, minlength=classes).argmax()
    share = 1 / (classes - 1)
    cells = []
    for true in range(classes):
        wrong = answers[(labels == true) & wrong_any]
        if not len(wrong):
            continue
        for predicted in range(classes):
            if predicted == true:
                continue
            count = int((wrong == predicted).sum())
            p = stats.binomtest(count, len(wrong), share, alternative="greater").pvalue
            cells.append((true, predicted, count, len(wrong), len(wrong) * share, float(p)))
    if not cells:
        return [], 0
    adjusted = holm([cell[-1] for cell in cells])
    found = [
        Confusion(*cell, float(a), len(runs))
        for cell, a in zip(cells, adjusted, strict=True)
        if a < 0.05
    ]
    return sorted(found, key=lambda c: (-c.count, c.true, c.predicted)), len(cells)

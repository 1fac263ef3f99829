"""Tests for mnist_lessons.baselines."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mnist_lessons.baselines import BASELINES, Baseline, ClassMeans, run_baseline


@pytest.fixture(scope="module")
def split(mnist):
    (x, y), (x_test, y_test) = mnist
    scale = np.float32(1 / 255)
    return x[:3000] * scale, y[:3000], x_test[:1000] * scale, y_test[:1000]


def test_class_means_predict_the_nearest_mean():
    x = np.array([[0, 0], [0, 2], [10, 0], [10, 2]], np.float32)
    y = np.array([0, 0, 1, 1])
    model = ClassMeans()
    model.means_ = np.zeros((10, 2), np.float32) + 100  # every other class far away
    model.means_[:2] = [[0, 1], [10, 1]]
    assert model.predict(np.array([[1, 1], [9, 0]], np.float32)).tolist() == [0, 1]
    with pytest.raises(ValueError, match="no example of digits"):
        ClassMeans().fit(x, y)


@pytest.mark.parametrize("baseline", BASELINES, ids=lambda b: b.name)
def test_every_baseline_beats_chance_by_far_and_is_deterministic(baseline, split):
    ticks = itertools.count()
    result = run_baseline(baseline, *split, clock=lambda: float(next(ticks)))
    assert result.correct.shape == (1000,)
    assert result.accuracy > 0.75, f"{baseline.label}: {result.accuracy}"
    assert result.fit_seconds == 1.0 and result.predict_seconds == 1.0
    interval = result.interval()
    assert interval.low < result.accuracy < interval.high
    again = run_baseline(baseline, *split)
    assert np.array_equal(again.correct, result.correct)


def test_nearest_neighbour_on_the_training_images_is_perfect(split):
    x, y, _, _ = split
    result = run_baseline(Baseline("knn", "1-NN", "nearest_neighbour"), x, y, x[:200], y[:200])
    assert result.accuracy == 1.0


@pytest.mark.parametrize(
    ("baseline", "message"),
    [
        (Baseline("x", "x", "forest"), "kind"),
        (Baseline("x", "x", "nearest_neighbour", components=-1), "components"),
        (Baseline("x", "x", "nearest_neighbour", neighbours=0), "neighbours"),
    ],
)
def test_bad_settings_are_refused(baseline, message, split):
    with pytest.raises(ValueError, match=message):
        run_baseline(baseline, *split)


def test_images_and_labels_must_match(split):
    x, y, x_test, y_test = split
    with pytest.raises(ValueError, match="differ in length"):
        run_baseline(BASELINES[0], x, y[:-1], x_test, y_test)


def test_validation_images_are_scored_with_the_same_fitted_model(split):
    x, y, x_test, y_test = split
    baseline = BASELINES[-1]  # PCA, then 3 neighbours: the projection must be applied too
    with_val = run_baseline(
        baseline, x[500:], y[500:], x_test, y_test, x_val=x[:500], y_val=y[:500]
    )
    same = run_baseline(baseline, x[500:], y[500:], x[:500], y[:500])
    assert np.array_equal(with_val.val_correct, same.correct)
    assert with_val.val_accuracy == same.accuracy
    assert run_baseline(baseline, x, y, x_test, y_test).val_accuracy is None
    with pytest.raises(ValueError, match="500 validation images but 499 labels"):
        run_baseline(baseline, x, y, x_test, y_test, x_val=x[:500], y_val=y[:499])

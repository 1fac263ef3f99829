"""mnist_lessons.calibration: reliability bins, ECE and temperature scaling on known data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from mnist_lessons import calibration


def confident(confidence: float, right: int, wrong: int) -> tuple[np.ndarray, np.ndarray]:
    """Two-class predictions of class 0 with the given confidence, ``right`` of them right."""
    p = np.tile([confidence, 1 - confidence], (right + wrong, 1))
    labels = np.array([0] * right + [1] * wrong)
    return p, labels


def synthetic(n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits, and labels drawn from their softmax: softmax(z) is calibrated by construction."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, (n, 10))
    p = softmax(z, axis=1)
    labels = (p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    return z, labels


def test_reliability_bins_by_confidence():
    p_high, y_high = confident(0.95, right=8, wrong=2)
    p_low, y_low = confident(0.6, right=3, wrong=2)
    result = calibration.reliability(np.vstack([p_high, p_low]), np.r_[y_high, y_low], bins=10)
    np.testing.assert_allclose(result.edges, np.linspace(0, 1, 11))
    assert list(result.count) == [0, 0, 0, 0, 0, 5, 0, 0, 0, 10]  # 0.6 is in (0.5, 0.6]
    np.testing.assert_allclose(result.confidence[[5, 9]], [0.6, 0.95])
    np.testing.assert_allclose(result.accuracy[[5, 9]], [0.6, 0.8])
    assert np.isnan(result.accuracy[0]) and result.total == 15
    np.testing.assert_allclose(result.gap[[5, 9]], [0.0, -0.15], atol=1e-12)
    assert result.ece == pytest.approx(10 / 15 * 0.15)
    assert result.mce == pytest.approx(0.15)


def test_ece_of_calibrated_and_overconfident_predictions():
    assert calibration.expected_calibration_error(*confident(0.9, right=90, wrong=10)) == (
        pytest.approx(0.0, abs=1e-12)
    )
    # 90 % confident, right 70 % of the time: a gap of 0.2 on every prediction.
    assert calibration.expected_calibration_error(*confident(0.9, right=70, wrong=30)) == (
        pytest.approx(0.2)
    )
    z, labels = synthetic()
    calibrated = calibration.expected_calibration_error(softmax(z, axis=1), labels)
    overconfident = calibration.expected_calibration_error(softmax(3 * z, axis=1), labels)
    assert calibrated < 0.015  # only the sampling noise of 20,000 draws
    assert overconfident > 0.2


def test_fit_temperature_recovers_a_known_temperature():
    z, labels = synthetic()
    sharpened = softmax(3 * z, axis=1)
    assert calibration.fit_temperature(sharpened, labels) == pytest.approx(3.0, abs=0.2)
    assert calibration.fit_temperature(3 * z, labels) == pytest.approx(3.0, abs=0.2)
    assert calibration.fit_temperature(z / 2, labels, logits=True) == pytest.approx(0.5, abs=0.05)
    # The logits from probabilities differ from z by a constant per row: the same temperature.
    assert calibration.fit_temperature(sharpened, labels) == pytest.approx(
        calibration.fit_temperature(3 * z, labels, logits=True), rel=1e-4
    )


def test_apply_temperature_calibrates_and_keeps_the_predictions():
    z, labels = synthetic()
    sharpened = softmax(3 * z, axis=1)
    temperature = calibration.fit_temperature(sharpened, labels)
    scaled = calibration.apply_temperature(sharpened, temperature)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(scaled.argmax(axis=1), sharpened.argmax(axis=1))
    np.testing.assert_allclose(
        calibration.apply_temperature(sharpened, 3.0), softmax(z, axis=1), atol=1e-6
    )
    assert calibration.expected_calibration_error(scaled, labels) < 0.015
    assert calibration.negative_log_likelihood(scaled, labels) < (
        calibration.negative_log_likelihood(sharpened, labels)
    )
    # T = 1 changes nothing.
    np.testing.assert_allclose(calibration.apply_temperature(sharpened, 1), sharpened, atol=1e-6)


def test_probabilities_of_zero_stay_finite():
    p = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], np.float32)
    labels = np.array([0, 1, 1])
    assert np.isfinite(calibration.logits_from_probabilities(p)).all()
    assert np.isfinite(calibration.negative_log_likelihood(p, labels))
    temperature = calibration.fit_temperature(p, labels)
    assert calibration.TEMPERATURE_BOUNDS[0] <= temperature <= calibration.TEMPERATURE_BOUNDS[1]
    assert temperature > 1  # a confident mistake calls for softening


def test_negative_log_likelihood_value():
    p = np.array([[0.5, 0.5], [0.8, 0.2]])
    assert calibration.negative_log_likelihood(p, [0, 1]) == pytest.approx(
        -(np.log(0.5) + np.log(0.2)) / 2
    )


def test_bad_arguments_are_refused():
    p, labels = confident(0.9, right=3, wrong=1)
    with pytest.raises(ValueError, match="must sum to 1"):
        calibration.reliability(p * 0.5, labels)
    with pytest.raises(ValueError, match=r"probabilities must be an array \(n, classes\)"):
        calibration.reliability(p[:, 0], labels)
    with pytest.raises(ValueError, match="labels must be 4 integers"):
        calibration.reliability(p, labels[:3])
    with pytest.raises(ValueError, match="labels must be classes from 0 to 1"):
        calibration.expected_calibration_error(p, labels + 1)
    with pytest.raises(ValueError, match="bins must be an integer of at least 1"):
        calibration.reliability(p, labels, bins=0)
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        calibration.apply_temperature(p, 0)
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        calibration.apply_temperature(p, float("nan"))
    with pytest.raises(ValueError, match="logits must be a finite array"):
        calibration.fit_temperature(np.array([[np.inf, 0.0]]), [0])


def test_calibration_change_pairs_the_same_images_in_every_resample():
    from mnist_lessons.calibration import apply_temperature, calibration_change

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2000, 10)) * 4
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    # Right about 90 % of the time, less confident than that on average: under-confident.
    labels = np.where(
        rng.random(2000) < 0.9, probabilities.argmax(axis=1), rng.integers(0, 10, 2000)
    )
    same = calibration_change(probabilities, probabilities, labels, resamples=200)
    assert (same.ece.estimate, same.ece.low, same.ece.high) == (0.0, 0.0, 0.0)
    assert same.sentence().startswith("moved the ECE by +0.00 points, a change these test")
    softer = calibration_change(
        probabilities, apply_temperature(probabilities, 3.0), labels, resamples=200
    )
    assert 0 < softer.ece.low <= softer.ece.estimate <= softer.ece.high
    assert softer.nll.low > 0  # softening an under-confident model raises the loss
    assert softer.sentence().startswith("raised the ECE by")
    assert "95 % paired bootstrap interval over 2,000 images:" in softer.sentence()
    sharper = calibration_change(
        probabilities, apply_temperature(probabilities, 0.5), labels, resamples=200
    )
    assert sharper.ece.high < 0 and sharper.sentence().startswith("lowered the ECE by")
    with pytest.raises(ValueError, match="must score the same images"):
        calibration_change(probabilities, probabilities[:10], labels)

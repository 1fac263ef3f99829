"""Tests for mnist_lessons.adversarial."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_lessons import adversarial
from mnist_lessons.data import prepare_data
from mnist_lessons.speedrun import RECIPE_99, run_recipe


@pytest.fixture(scope="module")
def trained(mnist):
    data = prepare_data(mnist, validation_size=0, train_limit=4000, seed=0, one_hot=False)
    run = run_recipe(RECIPE_99.changed(epochs=2), data, seed=0)
    return run.model, data.x_test[:300], data.y_test[:300]


def test_the_loss_gradient_is_that_of_each_image_alone(trained):
    model, x, y = trained
    together = adversarial.loss_gradient(model, x[:6], y[:6])
    alone = adversarial.loss_gradient(model, x[2:3], y[2:3])
    assert together.shape == x[:6].shape
    np.testing.assert_allclose(together[2], alone[0], rtol=1e-4, atol=1e-6)
    assert np.abs(together).max() > 0


def test_fgsm_moves_each_pixel_by_at_most_epsilon_within_range(trained):
    model, x, y = trained
    attacked = adversarial.fgsm(model, x, y, 0.1)
    assert np.abs(attacked - x).max() <= 0.1 + 1e-6
    assert attacked.min() >= 0 and attacked.max() <= 1
    np.testing.assert_array_equal(adversarial.fgsm(model, x, y, 0), x)


def test_accuracy_falls_as_epsilon_grows_and_iterating_hurts_at_least_as_much(trained):
    model, x, y = trained
    curve = adversarial.attack_curve(model, x, y, [0, 0.1, 0.25])
    assert curve.accuracy[0] > 0.9
    assert curve.accuracy[0] > curve.accuracy[1] > curve.accuracy[2]
    iterative = adversarial.attack_curve(model, x, y, [0.1], attack="iterative")
    assert iterative.accuracy[0] <= curve.accuracy[1] + 0.02
    moved = adversarial.iterative_fgsm(model, x, y, 0.1)
    assert np.abs(moved - x).max() <= 0.1 + 1e-6


def test_the_curve_attacks_each_size_as_fgsm_alone_would(trained):
    model, x, y = trained
    curve = adversarial.attack_curve(model, x, y, [0.05, 0.2])
    for epsilon, correct in zip(curve.epsilons, curve.correct, strict=True):
        alone = adversarial.fgsm(model, x, y, epsilon)
        answers = np.asarray(model.predict(alone, verbose=0)).argmax(axis=1)
        np.testing.assert_array_equal(correct, answers == y)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, x, y: adversarial.fgsm(m, x, y, 1.5), "epsilon must be"),
        (lambda m, x, y: adversarial.attack_curve(m, x, y, [0.1], attack="pgd"), "attack"),
        (lambda m, x, y: adversarial.loss_gradient(m, x, y[:-1]), "labels"),
    ],
)
def test_bad_arguments_are_refused(trained, call, message):
    model, x, y = trained
    with pytest.raises(ValueError, match=message):
        call(model, x, y)

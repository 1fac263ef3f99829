"""Tests for mnist_lessons.learning: the gradient by hand, the descent loop, per-step values,
the range test and batch normalisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mnist_lessons import learning
from mnist_lessons.backend import keras
from mnist_lessons.speedrun import RECIPE_99, build_fast_model
from mnist_lessons.train import set_seed


@pytest.fixture(scope="module")
def digits(mnist):
    (x, y), _ = mnist
    return (x[:2000].astype(np.float32) / 255)[..., None], y[:2000].astype(np.int64)


def random_weights(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.05, (784, 10)).astype(np.float32), rng.normal(0, 0.1, 10).astype(
        np.float32
    )


def test_the_loss_at_zero_weights_is_log_ten(digits):
    x, y = digits
    weights, bias = np.zeros((784, 10), np.float32), np.zeros(10, np.float32)
    assert float(learning.linear_loss(weights, bias, x, y)) == pytest.approx(math.log(10))


def test_the_gradient_by_hand_is_automatic_differentiation_s(digits):
    x, y = digits
    weights, bias = random_weights()
    by_hand, _ = learning.hand_gradient(weights, bias, x[:64], y[:64])
    automatic = learning.autodiff_gradient(weights, bias, x[:64], y[:64])
    assert by_hand.shape == automatic.shape == (784, 10)
    assert np.abs(by_hand - automatic).max() < 1e-5 * np.abs(automatic).max() + 1e-8
    assert np.abs(automatic).max() > 1e-3, "a gradient of zeros would pass trivially"


def test_the_gradient_by_hand_matches_finite_differences_for_weights_and_biases(digits):
    x, y = digits
    weights, bias = random_weights(1)
    d_weights, d_bias = learning.hand_gradient(weights, bias, x[:32], y[:32])
    weights64, bias64 = weights.astype(np.float64), bias.astype(np.float64)
    flat = x[:32].reshape(32, -1).astype(np.float64)

    def loss(w, b):
        scores = flat @ w + b
        top = scores.max(axis=1, keepdims=True)
        log_sum = np.log(np.exp(scores - top).sum(axis=1)) + top[:, 0]
        return float(np.mean(log_sum - scores[np.arange(32), y[:32]]))

    h = 1e-6
    for i, j in [(406, 3), (300, 7), (500, 0)]:
        up, down = weights64.copy(), weights64.copy()
        up[i, j] += h
        down[i, j] -= h
        assert d_weights[i, j] == pytest.approx(
            (loss(up, bias64) - loss(down, bias64)) / (2 * h), abs=1e-6
        )
    up, down = bias64.copy(), bias64.copy()
    up[2] += h
    down[2] -= h
    assert d_bias[2] == pytest.approx(
        (loss(weights64, up) - loss(weights64, down)) / (2 * h), abs=1e-6
    )


def test_descent_lowers_the_loss_and_learns_the_digits(digits):
    x, y = digits
    run = learning.descend(x, y, batch_size=64, learning_rate=0.5, steps=150, seed=0)
    assert not run.diverged and run.steps == 150
    assert run.loss[0] == pytest.approx(math.log(10), rel=1e-5)
    assert run.loss[-1] < 0.6 * run.loss[0]
    assert run.checkpoints[-1] == 150
    assert run.accuracy(x, y) > 0.8


def test_full_batch_descent_is_the_same_whatever_the_seed(digits):
    x, y = digits
    first = learning.descend(x, y, batch_size=len(x), learning_rate=0.5, steps=5, seed=0)
    second = learning.descend(x, y, batch_size=len(x), learning_rate=0.5, steps=5, seed=7)
    np.testing.assert_allclose(first.batch_loss, second.batch_loss, rtol=1e-6)
    assert np.all(np.diff(first.batch_loss) < 0), "full-batch steps at a small rate go downhill"


def test_too_high_a_rate_diverges_and_stops(digits):
    x, y = digits
    run = learning.descend(x, y, batch_size=64, learning_rate=100.0, steps=200)
    assert run.diverged and run.steps < 200


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0, "learning_rate": 0.1, "steps": 5}, "batch_size"),
        ({"batch_size": 64, "learning_rate": -1, "steps": 5}, "learning_rate must be a positive"),
        ({"batch_size": 64, "learning_rate": 0.1, "steps": 0}, "steps"),
    ],
)
def test_descend_refuses_bad_settings(digits, kwargs, message):
    x, y = digits
    with pytest.raises(ValueError, match=message):
        learning.descend(x, y, **kwargs)


def test_batch_values_recover_each_batch_from_keras_s_running_means():
    values = np.array([0.2, 0.5, 0.9, 0.4])
    sizes = np.array([128, 128, 128, 16])
    running = np.cumsum(values * sizes) / np.cumsum(sizes)
    np.testing.assert_allclose(learning.batch_values(running, sizes), values)
    with pytest.raises(ValueError, match="differ in length"):
        learning.batch_values(running, sizes[:3])
    np.testing.assert_array_equal(learning.epoch_batch_sizes(300, 128), [128, 128, 44])


def test_step_log_keeps_every_step_and_its_values_average_to_the_epoch_s(digits):
    x, y = digits
    set_seed(0)
    model = build_fast_model(RECIPE_99)
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"], steps_per_execution=1)
    log = learning.StepLog()
    model.fit(
        x[:1000],
        keras.utils.to_categorical(y[:1000], 10),
        batch_size=128,
        epochs=2,
        verbose=0,
        callbacks=[log],
    )
    sizes = learning.epoch_batch_sizes(1000, 128)
    assert [len(r) for r in log.running["accuracy"]] == [len(sizes)] * 2
    for epoch, running in enumerate(log.running["accuracy"]):
        values = learning.batch_values(running, sizes)
        assert np.all((values > -1e-4) & (values < 1 + 1e-4))
        assert np.average(values, weights=sizes) == pytest.approx(
            log.epoch_end["accuracy"][epoch], abs=1e-4
        )


def test_the_range_test_ramps_the_rate_geometrically_and_finds_a_minimum(digits):
    x, y = digits
    set_seed(0)
    test = learning.range_test(
        build_fast_model(RECIPE_99.changed(schedule="constant")), x, y, steps=15, batch_size=64
    )
    assert len(test.rates) == len(test.loss) == len(test.smoothed) <= 15
    ratios = test.rates[1:] / test.rates[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-6)
    assert test.rates[0] == pytest.approx(1e-5)
    assert test.lowest in test.rates and test.steepest <= test.lowest
    with pytest.raises(ValueError, match="needs 12,800 images"):
        learning.range_test(build_fast_model(RECIPE_99), x, y, steps=100, batch_size=128)


@pytest.fixture
def norm_layer():
    layer = keras.layers.BatchNormalization()
    layer.build((None, 5, 5, 3))
    rng = np.random.default_rng(0)
    layer.gamma.assign(rng.uniform(0.5, 2, 3).astype(np.float32))
    layer.beta.assign(rng.normal(0, 1, 3).astype(np.float32))
    layer.moving_mean.assign(rng.normal(0, 1, 3).astype(np.float32))
    layer.moving_variance.assign(rng.uniform(0.5, 2, 3).astype(np.float32))
    return layer


def test_batch_normalisation_by_hand_is_keras_s_in_both_modes(norm_layer):
    values = np.random.default_rng(1).normal(3, 2, (16, 5, 5, 3)).astype(np.float32)
    gamma, beta = norm_layer.gamma, norm_layer.beta
    inference = learning.batch_norm_by_hand(
        values, gamma, beta, norm_layer.epsilon, norm_layer.moving_mean, norm_layer.moving_variance
    )
    np.testing.assert_allclose(
        np.asarray(norm_layer(values, training=False)), inference, rtol=1e-5, atol=1e-5
    )
    training = learning.batch_norm_by_hand(values, gamma, beta, norm_layer.epsilon)
    np.testing.assert_allclose(
        np.asarray(norm_layer(values, training=True)), training, rtol=1e-4, atol=1e-4
    )
    assert np.abs(training - inference).max() > 0.1, "the two modes differ on these values"


def test_a_running_statistic_keeps_momentum_to_the_power_of_the_steps():
    assert learning.running_weight(0.99, 16) == pytest.approx(0.8515, abs=1e-4)
    assert learning.running_weight(0.9, 0) == 1.0


def test_reestimating_sets_the_running_statistics_to_the_images_and_restores_momentum(digits):
    x, _ = digits
    set_seed(0)
    model = build_fast_model(RECIPE_99)
    before = learning.running_statistics_gap(model, x[:1000])
    assert min(before.values()) > 0.1, "a fresh network's running statistics are far off"
    learning.reestimate_batch_norm(model, x[:1000], batch_size=250, batches=4)
    after = learning.running_statistics_gap(model, x[:1000])
    assert max(after.values()) < 1e-3
    assert all(layer.momentum == 0.99 for layer in learning.batch_norm_layers(model))
    with pytest.raises(ValueError, match="no batch-normalisation layer"):
        learning.reestimate_batch_norm(build_fast_model(RECIPE_99.changed(batch_norm=False)), x)


def test_gradient_noise_shrinks_like_one_over_the_square_root_of_the_batch(digits):
    x, y = digits
    weights, bias = random_weights(2)
    noise = learning.gradient_noise(weights, bias, x, y, [1, 16, 256, len(x)], draws=40)
    assert noise[len(x)] == 0.0
    assert noise[1] > noise[16] > noise[256] > 0
    # The root-mean-square error of a mean of `size` draws without replacement from N images:
    # sigma * sqrt((N - size) / (size * (N - 1))), so the ratio for 1 and 16 images is close to
    # 4, and for 16 and 256 images close to 4 * sqrt(1744 / 1984) = 3.75.
    assert noise[1] / noise[16] == pytest.approx(4.0, rel=0.2)
    assert noise[16] / noise[256] == pytest.approx(3.75, rel=0.2)

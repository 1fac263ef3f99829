"""mnist_lessons.activations: feature maps, filters, their health, top images and saliency."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_lessons import activations
from mnist_lessons.backend import keras
from mnist_lessons.models import ARCHITECTURES, build_model

IMAGES = np.random.default_rng(0).random((6, 28, 28)).astype(np.float32)

# Each architecture's convolutions (and, with pooling=True, poolings) and their output shapes.
EXPECTED_MAPS = {
    "three_conv_dense64": {
        "conv1": (26, 26, 32),
        "pool1": (13, 13, 32),
        "conv2": (11, 11, 64),
        "pool2": (5, 5, 64),
        "conv3": (3, 3, 64),
    },
    "two_conv_dropout": {
        "conv1": (25, 25, 32),
        "pool1": (12, 12, 32),
        "conv2": (9, 9, 32),
        "pool2": (4, 4, 32),
    },
    "one_conv_wide_dense": {"conv1": (28, 28, 32), "pool1": (14, 14, 32)},
    "keras_classic_cnn": {"conv1": (26, 26, 32), "conv2": (24, 24, 64), "pool": (12, 12, 64)},
    "three_conv_three_pool": {
        "conv1": (26, 26, 64),
        "pool1": (13, 13, 64),
        "conv2": (11, 11, 64),
        "pool2": (5, 5, 64),
        "conv3": (3, 3, 64),
        "pool3": (1, 1, 64),
    },
}


def test_every_architecture_has_its_expected_maps():
    assert set(EXPECTED_MAPS) == set(ARCHITECTURES)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_feature_maps_of_every_architecture(name):
    model = build_model(name, precision="float32")
    expected = EXPECTED_MAPS[name]
    convs = {k: v for k, v in expected.items() if k.startswith("conv")}
    assert [layer.name for layer in activations.conv_layers(model)] == list(convs)

    maps = activations.feature_maps(model, IMAGES)
    assert {k: v.shape[1:] for k, v in maps.items()} == convs
    assert all(v.dtype == np.float32 and len(v) == len(IMAGES) for v in maps.values())
    # Every convolution's maps are reported after its ReLU, also where it is a separate layer.
    assert all(v.min() >= 0 for v in maps.values())

    with_pooling = activations.feature_maps(model, IMAGES[..., np.newaxis], pooling=True)
    assert list(with_pooling) == list(expected)
    assert {k: v.shape[1:] for k, v in with_pooling.items()} == expected


def test_feature_maps_work_in_mixed_precision_and_return_float32():
    model = build_model("three_conv_dense64", precision="mixed_bfloat16")
    maps = activations.feature_maps(model, IMAGES[:2], ["conv2"])
    assert list(maps) == ["conv2"] and maps["conv2"].dtype == np.float32


def test_separate_activation_layer_is_applied():
    model = build_model("three_conv_three_pool", precision="float32")
    raw = activations.feature_maps(model, IMAGES, ["conv1"])["conv1"]
    # The same numbers as the relu1 layer's own output: conv1's output after its ReLU.
    np.testing.assert_array_equal(raw, activations.feature_maps(model, IMAGES, ["relu1"])["relu1"])


def _hand_set_model(kernel: np.ndarray, bias: float) -> keras.Sequential:
    """A model of one 3×3 convolution (one filter, ReLU) with the given weights; no Input layer."""
    model = keras.Sequential(
        [
            keras.layers.Conv2D(1, 3, activation="relu", name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax", name="digit"),
        ]
    )
    model.build((None, 28, 28, 1))
    model.get_layer("conv").set_weights([kernel[:, :, None, None], np.array([bias])])
    return model


def test_feature_maps_equal_a_numpy_convolution_for_a_hand_set_kernel():
    kernel = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]], np.float32)
    bias = -0.1
    model = _hand_set_model(kernel, bias)
    maps = activations.feature_maps(model, IMAGES)["conv"]
    # Keras's Conv2D is a cross-correlation, "valid" padding: out[i, j] = Σ x[i+a, j+b] k[a, b].
    windows = np.lib.stride_tricks.sliding_window_view(IMAGES, (3, 3), axis=(1, 2))
    expected = np.maximum(np.einsum("nijab,ab->nij", windows, kernel) + bias, 0)
    assert maps.shape == (6, 26, 26, 1)
    np.testing.assert_allclose(maps[..., 0], expected, atol=1e-5)


def test_feature_maps_reject_bad_input():
    model = build_model("three_conv_dense64", precision="float32")
    with pytest.raises(ValueError, match=r"shape \(n, 28, 28\)"):
        activations.feature_maps(model, np.zeros((2, 32, 32)))
    with pytest.raises(ValueError, match="divide uint8 images by 255"):
        activations.feature_maps(model, np.full((1, 28, 28), 255.0))
    with pytest.raises(ValueError, match="images is empty"):
        activations.feature_maps(model, np.zeros((0, 28, 28)))
    with pytest.raises(ValueError, match="layers must name layers of model"):
        activations.feature_maps(model, IMAGES, ["conv9"])


def test_first_layer_filters_are_the_first_kernel():
    model = build_model("two_conv_dropout", precision="float32")
    filters = activations.first_layer_filters(model)
    assert filters.shape == (4, 4, 1, 32) and filters.dtype == np.float32
    np.testing.assert_array_equal(filters, model.get_layer("conv1").get_weights()[0])
    dense_only = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten()])
    with pytest.raises(ValueError, match="has no Conv2D layer"):
        activations.first_layer_filters(dense_only)


def test_high_frequency_share_of_known_patterns():
    constant = np.ones((3, 3, 1, 1))
    checkerboard = ((-1.0) ** np.add.outer(np.arange(4), np.arange(4)))[:, :, None, None]
    ramp = np.add.outer(np.arange(3.0), np.zeros(3))[:, :, None, None]  # rows 0, 1, 2
    noise = np.random.default_rng(1).normal(size=(64, 64, 1, 1))
    kernels = np.concatenate(
        [constant, checkerboard[:3, :3], ramp, np.zeros((3, 3, 1, 1))], axis=-1
    )
    np.testing.assert_allclose(
        activations.high_frequency_share(kernels),
        # Ramp: 6 vertical steps of 1 and 6 horizontal of 0 over 12; energy (0 + 1 + 4) / 3.
        [0.0, 2.0, (6 / 12) / (2 * 5 / 3), 0.0],
    )
    assert activations.high_frequency_share(noise)[0] == pytest.approx(1.0, abs=0.05)


def test_filter_health_finds_a_dead_channel():
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Conv2D(3, 3, activation="relu", name="conv")]
    )
    kernel = np.zeros((3, 3, 1, 3), np.float32)
    kernel[1, 1, 0, 0] = 1.0  # passes the pixel through: fires wherever the image has ink
    kernel[:, :, 0, 1] = -1.0  # negative on a non-negative image: never fires
    kernel[0, 0, 0, 2] = 1.0  # a corner weight: the same pixel, seen one place over
    images = np.zeros((4, 28, 28), np.float32)
    images[:2, 10, 10] = 1.0  # two images with ink, two blank
    model.get_layer("conv").set_weights([kernel, np.zeros(3, np.float32)])

    health = activations.filter_health(model, images)
    assert health.layer == "conv" and health.images == 4
    np.testing.assert_allclose(health.dead_fraction, [0.5, 1.0, 0.5])
    np.testing.assert_allclose(health.weight_norm, [1.0, 3.0, 1.0])
    assert list(health.dead()) == [1]
    # A lone centre weight is as rough as noise gets (a flat spectrum); a constant filter is 0.
    np.testing.assert_allclose(health.high_frequency, [1.5, 0.0, 0.75])
    assert list(health.noisy()) == [0]
    table = health.table()
    assert table.splitlines()[0] == "| channel | weight norm | dead on | high frequency |"
    assert "| 1 | 3.000 | 100.0% | 0.00 |" in table
    with pytest.raises(ValueError, match="layer must name a Conv2D layer"):
        activations.filter_health(model, images, layer="dense")


def test_top_activating_ranks_images_by_their_peak():
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Conv2D(2, 1, use_bias=False, name="conv")]
    )
    model.get_layer("conv").set_weights([np.array([[[[1.0, -1.0]]]], np.float32)])
    images = np.zeros((5, 28, 28), np.float32)
    for i, peak in enumerate([0.2, 0.9, 0.5, 0.7, 0.1]):
        images[i, 3, 4] = peak
    top = activations.top_activating(model, "conv", images, channels=[0, 1], k=3)
    assert top.layer == "conv" and top.channels == (0, 1)
    np.testing.assert_array_equal(top.indices[0], [1, 3, 2])
    np.testing.assert_allclose(top.values[0], [0.9, 0.7, 0.5])
    # Channel 1 is −pixel: every image peaks at 0 (the blank background); ties keep order.
    np.testing.assert_array_equal(top.indices[1], [0, 1, 2])
    np.testing.assert_allclose(top.values[1], 0.0)
    with pytest.raises(ValueError, match="k must be an integer from 1 to 5"):
        activations.top_activating(model, "conv", images, channels=0, k=6)
    with pytest.raises(ValueError, match="channel must be an integer from 0 to 1"):
        activations.top_activating(model, "conv", images, channels=[2], k=3)


def _patch_model(softmax: bool) -> tuple[keras.Sequential, np.ndarray]:
    """A linear classifier that looks only at rows 5–9, columns 10–14 of the image."""
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax" if softmax else None, name="digit"),
        ]
    )
    patch = np.zeros((28, 28, 1, 10), np.float32)
    patch[5:10, 10:15] = np.random.default_rng(2).normal(size=(5, 5, 1, 10))
    model.get_layer("digit").set_weights([patch.reshape(784, 10), np.zeros(10, np.float32)])
    return model, patch


@pytest.mark.parametrize("softmax", [True, False])
def test_saliency_is_the_logit_gradient_and_zero_outside_the_patch(softmax):
    model, patch = _patch_model(softmax)
    labels = np.array([3, 7, 0, 3, 9, 1])
    result = activations.saliency(model, IMAGES, labels)
    assert result.shape == (6, 28, 28) and result.dtype == np.float32
    # A linear logit's gradient is its weight: |w| of the explained class, inside the patch only.
    expected = np.abs(np.moveaxis(patch[:, :, 0, labels], -1, 0))
    np.testing.assert_allclose(result, expected, rtol=1e-5)
    outside = np.ones((28, 28), bool)
    outside[5:10, 10:15] = False
    assert (result[:, outside] == 0).all() and (result[:, ~outside] > 0).all()


def test_saliency_explains_the_predicted_class_by_default():
    model, _ = _patch_model(softmax=True)
    predicted = np.argmax(model.predict(IMAGES, verbose=0), axis=1)
    np.testing.assert_allclose(
        activations.saliency(model, IMAGES),
        activations.saliency(model, IMAGES, predicted),
    )


def test_saliency_of_the_log_probability_and_smoothgrad():
    model, _ = _patch_model(softmax=True)
    labels = np.zeros(6, dtype=np.int64)
    x = IMAGES[..., np.newaxis]
    log_p = activations.saliency(model, x, labels, score="log_probability")
    # ∂ log p_c / ∂x = w_c − Σ_j p_j w_j, still zero outside the patch but not |w_c|.
    probabilities = model.predict(x, verbose=0)
    w = model.get_layer("digit").get_weights()[0]
    expected = np.abs(w[:, 0] - probabilities @ w.T).reshape(6, 28, 28)
    np.testing.assert_allclose(log_p, expected, rtol=1e-4, atol=1e-6)
    smooth = activations.saliency(model, x, labels, smoothing_samples=3, seed=0)
    # The logit is linear: every noisy copy has the same gradient.
    np.testing.assert_allclose(smooth, activations.saliency(model, x, labels), rtol=1e-5)
    with pytest.raises(ValueError, match="score must be logit or log_probability"):
        activations.saliency(model, x, score="probability")
    with pytest.raises(ValueError, match="labels must be classes from 0 to 9"):
        activations.saliency(model, x, np.full(6, 10))
    with pytest.raises(ValueError, match="labels must be 6 integers"):
        activations.saliency(model, x, [1, 2])


@pytest.mark.parametrize("name", ["three_conv_dense64", "three_conv_three_pool"])
def test_saliency_of_registry_models(name):
    model = build_model(name, precision="float32")
    result = activations.saliency(model, IMAGES[:2])
    assert result.shape == (2, 28, 28) and (result >= 0).all() and result.max() > 0


def test_input_gradient_of_a_known_function():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    gradient = activations.input_gradient(lambda t: keras.ops.sum(t**2), x)
    np.testing.assert_allclose(gradient, 2 * x)

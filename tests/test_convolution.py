"""mnist_lessons.convolution: the operations by hand agree with Keras, and the arithmetic counts."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from mnist_lessons import convolution, plots
from mnist_lessons.backend import keras
from mnist_lessons.convolution import (
    HAND_KERNELS,
    cross_correlate,
    layer_arithmetic,
    max_pool,
    output_size,
    relu,
    shift_images,
    shift_robustness,
)
from mnist_lessons.models import ARCHITECTURES, build_model, dense_baseline

RNG = np.random.default_rng(0)


def test_one_output_pixel_is_the_sum_of_the_products_under_the_kernel():
    image = RNG.random((28, 28)).astype(np.float32)
    kernel = HAND_KERNELS["vertical edges"]
    feature_map = cross_correlate(image, kernel)
    assert feature_map.shape == (26, 26)
    for row, col in [(0, 0), (10, 15), (25, 25)]:
        by_hand = (image[row : row + 3, col : col + 3] * kernel).sum()
        assert feature_map[row, col] == pytest.approx(by_hand, abs=1e-5)


def test_the_vertical_edge_kernel_answers_left_edges_positive_and_right_edges_negative():
    image = np.zeros((10, 10), dtype=np.float32)
    image[:, 4:7] = 1.0  # a vertical white stroke, columns 4–6
    feature_map = cross_correlate(image, HAND_KERNELS["vertical edges"])
    # Output column j covers input columns j..j+2: column 2 straddles the stroke's left edge.
    assert feature_map[4, 2] > 0 and feature_map[4, 5] < 0
    assert feature_map[4, 0] == 0 and feature_map[4, 4] == 0  # flat regions give nothing
    assert np.abs(cross_correlate(image, HAND_KERNELS["horizontal edges"])).max() == 0


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_cross_correlate_matches_keras_conv2d(stride):
    image = RNG.random((28, 28)).astype(np.float32)
    kernels = np.stack(list(HAND_KERNELS.values()), axis=-1)[:, :, np.newaxis, :]
    layer = keras.layers.Conv2D(3, 3, strides=stride, use_bias=False)
    layer.build((None, 28, 28, 1))
    layer.set_weights([kernels])
    out = keras.ops.convert_to_numpy(layer(image[np.newaxis, :, :, np.newaxis]))[0]
    for i, kernel in enumerate(HAND_KERNELS.values()):
        np.testing.assert_allclose(out[:, :, i], cross_correlate(image, kernel, stride), atol=1e-5)


def test_relu_and_max_pool_match_keras_and_pooling_floors():
    feature_map = RNG.normal(size=(11, 11)).astype(np.float32)
    np.testing.assert_array_equal(relu(feature_map), np.where(feature_map > 0, feature_map, 0))
    pooled = max_pool(feature_map)
    assert pooled.shape == (5, 5)
    keras_pooled = keras.ops.convert_to_numpy(
        keras.layers.MaxPooling2D(2)(feature_map[np.newaxis, :, :, np.newaxis])
    )[0, :, :, 0]
    np.testing.assert_allclose(pooled, keras_pooled)
    assert pooled[0, 0] == feature_map[:2, :2].max()


def test_output_size_is_the_shape_arithmetic():
    assert output_size(28, 3) == 26
    assert output_size(28, 3, padding=1) == 28
    assert output_size(28, 3, stride=2) == 13
    assert output_size(11, 2, stride=2) == 5
    with pytest.raises(ValueError, match="does not fit"):
        output_size(3, 5)
    with pytest.raises(ValueError, match="stride"):
        output_size(28, 3, stride=0)


def test_shift_images_moves_pixels_and_fills_with_zero():
    images = np.zeros((2, 28, 28, 1), dtype=np.float32)
    images[:, 10, 10] = 1.0
    moved = shift_images(images, 3, -2)
    assert moved[0, 13, 8, 0] == 1.0 and moved.sum() == 2.0
    assert moved.shape == images.shape and moved.dtype == images.dtype
    edge = np.zeros((1, 28, 28), dtype=np.float32)
    edge[0, 0, :] = 1.0
    assert shift_images(edge, -1, 0).sum() == 0  # moved out of the field: lost
    with pytest.raises(ValueError, match="out of view"):
        shift_images(images, 28, 0)
    # Each image's dot moves with its own value; (0, 0) changes nothing; past the edge, it is lost.
    dots = np.zeros((20, 12, 12, 1), np.float32)
    dots[np.arange(20), 5, 6, 0] = np.arange(1, 21)
    moved = shift_images(dots, 1, -2)
    np.testing.assert_array_equal(moved[:, 6, 4, 0], dots[:, 5, 6, 0])
    assert np.count_nonzero(moved) == len(dots)
    np.testing.assert_array_equal(shift_images(dots, 0, 0), dots)
    assert not shift_images(dots, 0, 6).any()  # the dot moved past the right edge
    with pytest.raises(ValueError, match=r"a shift of \(12, 0\) moves a 12×12 image out of view"):
        shift_images(dots, 12, 0)


def test_shift_robustness_averages_the_four_directions():
    class Columns:
        """Predicts the digit from where the ink is: the column of the brightest pixel."""

        def predict(self, x, batch_size=None, verbose=0):
            column = x[:, :, :, 0].max(axis=1).argmax(axis=1)
            return np.eye(10)[np.clip(column - 9, 0, 9)]

    images = np.zeros((10, 28, 28, 1), dtype=np.float32)
    for digit in range(10):
        images[digit, 5:20, 9 + digit] = 1.0
    result = shift_robustness({"columns": Columns()}, images, np.arange(10), shifts=(0, 1))
    assert result.shifts == (0, 1)
    # Unshifted: all right. Moved up or down: still right; left or right: only the clipped ends.
    assert result.accuracy["columns"][0] == 1.0
    assert result.accuracy["columns"][1] == pytest.approx((1 + 1 + 0.1 + 0.1) / 4)
    assert "| 1 | 0.5500 |" in result.table()


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_the_parameter_formula_gives_keras_counts_for_every_architecture(name):
    model = build_model(name, "float32")
    rows = layer_arithmetic(model)
    assert [r["formula_params"] for r in rows] == [r["keras_params"] for r in rows]
    assert sum(r["formula_params"] for r in rows) == model.count_params()


def test_receptive_fields_of_write_up_000():
    rows = {r["layer"]: r for r in layer_arithmetic(build_model("three_conv_dense64", "float32"))}
    assert [rows[n]["receptive_field"] for n in ("conv1", "pool1", "conv2", "pool2", "conv3")] == [
        3,
        4,
        8,
        10,
        18,
    ]
    assert rows["flatten"]["receptive_field"] is None
    assert rows["conv2"]["formula"] == "(3·3·32 + 1)·64 = 18,496"
    assert rows["digit"]["formula"] == "(64 + 1)·10 = 650"


def test_the_dense_baseline_matches_write_up_000_in_size():
    baseline = dense_baseline()
    assert baseline.count_params() == (784 + 1) * 117 + (117 + 1) * 10 == 93_025
    cnn = build_model("three_conv_dense64", "float32").count_params()
    assert abs(baseline.count_params() - cnn) / cnn < 0.005
    with pytest.raises(ValueError, match="hidden"):
        dense_baseline(0)


def test_logits_through_softmax_are_the_models_probabilities():
    model = build_model("three_conv_dense64", "float32")
    images = RNG.random((4, 28, 28, 1)).astype(np.float32)
    scores = convolution.logits(model, images)
    assert scores.shape == (4, 10)
    np.testing.assert_allclose(
        convolution.softmax(scores), model.predict(images, verbose=0), atol=1e-6
    )
    np.testing.assert_allclose(convolution.softmax(np.array([0.0, np.log(3.0)])), [0.25, 0.75])


def test_plot_helpers_draw_every_map_and_curve():
    maps = {"digit": RNG.random((28, 28)), "edges": RNG.normal(size=(26, 26))}
    fig = plots.maps_row(maps)
    axes = [ax for ax in fig.axes if ax.images]
    assert len(axes) == 2 and axes[1].get_title() == "edges\n26×26"
    assert axes[1].images[0].get_cmap().name == plots.WEIGHT_CMAP  # signed: diverging
    assert axes[0].images[0].get_cmap().name == plots.DIGIT_CMAP
    fig = plots.maps_row({"after ReLU": np.abs(maps["edges"])}, activations=True)
    assert fig.axes[0].images[0].get_cmap().name == plots.ACTIVATION_CMAP
    robustness = convolution.ShiftRobustness((0, 1), {"a": (0.9, 0.8), "b": (0.7, 0.6)})
    ax = plots.shift_robustness_curves(robustness)
    assert len(ax.lines) == 2
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.9, 0.8])


def test_most_similar_filters_finds_a_planted_kernel_at_any_scale():
    filters = RNG.normal(size=(3, 3, 1, 8))
    filters[:, :, 0, 5] = 0.2 * HAND_KERNELS["vertical edges"]  # the same pattern, weaker
    found = convolution.most_similar_filters(filters, {"vertical": HAND_KERNELS["vertical edges"]})
    assert found["vertical"][0] == 5
    assert found["vertical"][1] == pytest.approx(1.0)
    blur = convolution.most_similar_filters(filters, {"blur": HAND_KERNELS["blur"]})["blur"]
    assert -1.0 <= blur[1] <= 1.0 and blur[1] != 0.0
    with pytest.raises(ValueError, match="shape"):
        convolution.most_similar_filters(filters[:, :, 0], HAND_KERNELS)


def test_moved_correct_scores_each_direction_in_turn():
    class Columns:
        """Answers the column of each image's brightest pixel, modulo 10."""

        def predict(self, images, batch_size=None, verbose=0):
            column = images[..., 0].max(axis=1).argmax(axis=1)
            return np.eye(10)[column % 10]

    images = np.zeros((3, 28, 28, 1), np.float32)
    images[np.arange(3), 14, [10, 11, 12], 0] = 1
    labels = np.array([0, 1, 2])
    assert convolution.moved_correct(Columns(), images, labels, 0).tolist() == [True] * 3
    moved = convolution.moved_correct(Columns(), images, labels, 2)
    # Up and down keep the column; left and right move it by 2, so the answer changes.
    assert moved.shape == (12,)
    assert moved.tolist() == [True] * 6 + [False] * 6


def _tiny(strides: int) -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, strides=strides, padding="same", use_bias=False, name="conv"),
            keras.layers.GlobalAveragePooling2D(name="average"),
            keras.layers.Dense(10, activation="softmax", name="digit"),
        ]
    )


def _centred(count: int = 20) -> np.ndarray:
    """Random ink in the middle 12×12 pixels, so that no shift here pushes it out of the field."""
    images = np.zeros((count, 28, 28, 1), np.float32)
    images[:, 8:20, 8:20, 0] = np.random.default_rng(0).random((count, 12, 12))
    return images


def test_a_stride_one_convolution_is_equivariant_to_every_shift():
    images = _centred()
    response = convolution.shift_response(_tiny(1), images, ["conv", "digit"], shifts=(1, 3))
    assert response.map_shift["conv"] == (1, 3)
    assert max(response.equivariance["conv"]) < 1e-5
    assert min(response.invariance["conv"]) > 0.1, "the map itself moved"
    assert response.sizes == {"conv": 28, "digit": 0}
    assert response.steps == {"conv": 1, "digit": 0}
    assert response.baseline["conv"] > 0.3, "two different images have different maps"
    table = str(response.table({"conv": "the convolution"}))
    assert "the convolution" in table and "answers changed" in table


def test_a_stride_two_convolution_follows_even_shifts_only():
    images = _centred()
    response = convolution.shift_response(_tiny(2), images, ["conv", "digit"], shifts=(1, 2, 4))
    odd, two, four = response.equivariance["conv"]
    assert response.map_shift["conv"][1:] == (1, 2)
    assert response.steps["conv"] == 2
    assert two < 1e-5 and four < 1e-5
    assert odd > 0.1
    with pytest.raises(ValueError, match="shift"):
        convolution.shift_response(_tiny(1), images, ["conv"], shifts=(0,))

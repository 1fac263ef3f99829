"""mnist_lessons.speedrun: augmentation, the schedule, the fast networks, one short run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mnist_lessons.convolution import shift_images
from mnist_lessons.data import prepare_data
from mnist_lessons.models import default_precision
from mnist_lessons.speedrun import (
    GOAL_99,
    GOAL_995,
    RECIPE_99,
    RECIPE_995,
    TEST_SHIFTS,
    OneCycle,
    Recipe,
    SpeedrunResult,
    build_fast_model,
    layer_cost,
    random_affine,
    random_shift,
    recipe_precision,
    run_recipe,
    seconds_per_step,
    seeds_reaching,
    shift_averaged_probabilities,
    time_verdict,
    without_each_ingredient,
)


def _dots(n: int = 200, size: int = 12) -> np.ndarray:
    """Images, each with one bright pixel away from the border, at a known place."""
    images = np.zeros((n, size, size, 1), np.float32)
    images[np.arange(n), 5, 6, 0] = np.arange(1, n + 1)
    return images


def test_random_shift_moves_each_image_by_its_own_offset_within_range():
    images = _dots()
    shifted = random_shift(images, 2, np.random.default_rng(0))
    assert shifted.shape == images.shape and shifted.dtype == images.dtype
    moves = set()
    for i, image in enumerate(shifted):
        rows, cols = np.nonzero(image[..., 0])
        assert len(rows) == 1 and image[rows[0], cols[0], 0] == i + 1  # moved, not blurred
        moves.add((rows[0] - 5, cols[0] - 6))
    assert moves <= {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}
    assert len(moves) == 25  # 200 images draw every one of the 25 offsets


def test_random_shift_fills_with_zeros_and_is_reproducible():
    images = np.ones((50, 8, 8, 1), np.float32)
    first = random_shift(images, 1, np.random.default_rng(3))
    np.testing.assert_array_equal(first, random_shift(images, 1, np.random.default_rng(3)))
    # A moved image loses one row or column of ones at the edge it leaves.
    sums = first.sum(axis=(1, 2, 3))
    assert set(np.unique(sums)) <= {64.0, 56.0, 49.0}
    assert 64.0 in sums and 49.0 in sums
    assert random_shift(images, 0, np.random.default_rng(0)) is images


@pytest.mark.parametrize(
    "images, shift, error, message",
    [
        (np.zeros((2, 8, 8, 1)), 1.5, TypeError, "max_shift must be an int"),
        (np.zeros((2, 8, 8, 1)), True, TypeError, "max_shift must be an int"),
        (np.zeros((2, 8, 8, 1)), -1, ValueError, "between 0 and 7"),
        (np.zeros((2, 8, 8, 1)), 8, ValueError, "between 0 and 7"),
        (np.zeros((8, 8)), 1, ValueError, "shape"),
    ],
)
def test_random_shift_rejects_bad_arguments(images, shift, error, message):
    with pytest.raises(error, match=message):
        random_shift(images, shift, np.random.default_rng(0))


def test_random_affine_with_nothing_to_do_returns_the_images():
    images = np.random.default_rng(0).random((20, 28, 28, 1), dtype=np.float32)
    same = random_affine(images, np.random.default_rng(0), rotation=0, zoom=0, shift=0)
    np.testing.assert_allclose(same, images, atol=1e-6)


def test_random_affine_moves_rotates_and_scales_within_its_ranges(mnist):
    (x_train, _), _ = mnist
    images = (x_train[:300, ..., None] / 255).astype(np.float32)
    rng = np.random.default_rng(0)
    moved = random_affine(images, rng, rotation=10, zoom=0.1, shift=2)
    assert moved.shape == images.shape and moved.dtype == np.float32
    assert moved.min() >= 0 and moved.max() <= 1.0 + 1e-6
    assert not np.allclose(moved, images)
    # Ink is roughly conserved: a scale of at most 10 % changes the area by at most about 21 %.
    ratio = moved.sum(axis=(1, 2, 3)) / images.sum(axis=(1, 2, 3))
    assert ratio.min() > 0.75 and ratio.max() < 1.3
    # The centre of the ink moves by at most the shift plus what a small rotation and scale do
    # to an off-centre digit.
    grid = np.arange(28)

    def centre(x):
        mass = x[..., 0].sum(axis=(1, 2))
        return (x[..., 0].sum(axis=2) @ grid / mass, x[..., 0].sum(axis=1) @ grid / mass)

    (row0, col0), (row1, col1) = centre(images), centre(moved)
    assert np.max(np.hypot(row1 - row0, col1 - col0)) < 4
    # The same generator state gives the same images.
    again = random_affine(images, np.random.default_rng(0), rotation=10, zoom=0.1, shift=2)
    np.testing.assert_array_equal(moved, again)


def test_random_affine_turns_a_bar_by_up_to_the_rotation():
    bar = np.zeros((1, 29, 29, 1), np.float32)
    bar[0, 14, 4:25, 0] = 1  # horizontal, through the centre
    images = np.repeat(bar, 100, axis=0)
    turned = random_affine(images, np.random.default_rng(1), rotation=30, zoom=0, shift=0)
    rows, cols = np.mgrid[0:29, 0:29] - 14
    angles = []
    for image in turned[..., 0]:
        # The principal axis of the ink gives the bar's angle.
        w = image / image.sum()
        cov = np.cov(np.stack([cols.ravel(), rows.ravel()]), aweights=w.ravel())
        vx, vy = np.linalg.eigh(cov)[1][:, -1]
        angles.append(np.degrees(np.arctan(vy / vx)))
    angles = np.abs(angles)
    assert angles.max() <= 31 and angles.max() > 20 and angles.min() < 5


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"rotation": "10"}, TypeError, "rotation must be a number"),
        ({"rotation": 200}, ValueError, "rotation must be between 0 and 180"),
        ({"zoom": 1.0}, ValueError, "zoom must be at least 0 and below 1"),
        ({"shift": -1}, ValueError, "shift must be at least 0"),
        ({"shift": None}, TypeError, "shift must be a number"),
    ],
)
def test_random_affine_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        random_affine(np.zeros((2, 8, 8, 1), np.float32), np.random.default_rng(0), **kwargs)


def test_one_cycle_warms_up_to_the_peak_then_decays_to_a_thousandth():
    schedule = OneCycle(0.02, total_steps=1000, warmup_fraction=0.25)
    rates = np.array([float(schedule(step)) for step in range(1001)])
    assert rates[0] == pytest.approx(0.002)
    assert rates.argmax() == 250 and rates.max() == pytest.approx(0.02)
    assert np.all(np.diff(rates[:250]) > 0) and np.all(np.diff(rates[250:]) <= 1e-9)
    assert rates[-1] == pytest.approx(0.02 / 1000)
    assert OneCycle(**schedule.get_config()).warmup_steps == 250


def test_the_fast_networks_with_and_without_batch_normalisation():
    with_norm = build_fast_model(RECIPE_99)
    kinds = [layer.__class__.__name__ for layer in with_norm.layers]
    assert kinds.count("BatchNormalization") == 2 and kinds.count("Conv2D") == 2
    assert with_norm.output_shape == (None, 10)
    plain = build_fast_model(Recipe("plain", widths=(32, 128), second_pool=False, batch_norm=False))
    kinds = [layer.__class__.__name__ for layer in plain.layers]
    assert "BatchNormalization" not in kinds and "ReLU" not in kinds
    convs = [layer for layer in plain.layers if layer.__class__.__name__ == "Conv2D"]
    assert all(c.use_bias and c.activation.__name__ == "relu" for c in convs)
    # 5×5×1×32 + 32, then 3×3×32×128 + 128, then a 5×5×128 map into 10 classes.
    assert plain.count_params() == 832 + 36_992 + 3200 * 10 + 10
    # The 99.5 % recipe keeps batch normalisation (a scale and an offset per filter, and the
    # running mean and variance) and puts a 128-unit hidden layer between its 5×5×96 map and the
    # classes.
    second = build_fast_model(RECIPE_995)
    assert second.get_layer("dense").units == 128
    assert second.count_params() == (
        800 + 4 * 32 + 27_648 + 4 * 96 + 2400 * 128 + 128 + 128 * 10 + 10
    )


def test_run_recipe_trains_and_scores_a_short_augmented_run(mnist, precision):
    data = prepare_data(mnist, validation_size=1000, train_limit=4000, seed=0, one_hot=False)
    # Rotations and scalings too, so that the affine path of the augmentation is trained through;
    # batches of 32, so that batch normalisation's running statistics settle within the 250 steps.
    recipe = RECIPE_995.changed(epochs=2, batch_size=32, rotation=10, zoom=0.1)
    assert recipe.precision is None  # the machine's default: the fixture sets it
    result = run_recipe(recipe, data, seed=0)
    assert result.recipe == recipe.name and result.seed == 0 and result.seconds > 0
    # 250 steps leave the network far from trained and its score spread wide: validation
    # accuracies of 0.83-0.93 over seeds 0-2 in each precision on an Intel Xeon, and 0.765 for
    # seed 0 in mixed bfloat16 on an AMD EPYC. The floor of 0.6 sits below all of them and at six
    # times chance (0.1), so a run that does not train still fails.
    assert 0.6 < result.val_accuracy <= 1 and 0.6 < result.test_accuracy <= 1
    again = run_recipe(recipe, data, seed=0)
    assert again.test_accuracy == pytest.approx(result.test_accuracy, abs=0.003)


def test_run_recipe_needs_sparse_labels_and_positive_settings(mnist):
    one_hot = prepare_data(mnist, validation_size=100, train_limit=500, one_hot=True)
    with pytest.raises(ValueError, match="sparse labels"):
        run_recipe(RECIPE_99, one_hot)
    sparse = prepare_data(mnist, validation_size=100, train_limit=500)
    with pytest.raises(ValueError, match="epochs"):
        run_recipe(RECIPE_99.changed(epochs=0), sparse)
    with pytest.raises(ValueError, match="batch_size must be an integer of at least 1"):
        run_recipe(RECIPE_99.changed(batch_size=12.5), sparse)


def test_time_verdict_sets_the_median_against_its_target():
    assert time_verdict(8.9, 10) == "8.9 seconds, within the 10-second target"
    assert time_verdict(60.0, 60) == "60.0 seconds, within the 60-second target"
    assert time_verdict(60.24, 60) == (
        "60.2 seconds, 0.2 over the 60-second target on this machine"
    )


def test_layer_cost_counts_the_first_layer_from_its_shapes():
    strided = layer_cost(build_fast_model(RECIPE_99))
    # 5×5 window at every second position of 28×28 ("same" padding): a 14×14 map of 32 filters.
    assert strided.output_shape == (14, 14, 32) and strided.values == 6272
    assert strided.parameters == 5 * 5 * 32  # no bias: batch normalisation follows
    assert strided.flops == 2 * 5 * 5 * 32 * 14 * 14 == 313_600
    dense = layer_cost(build_fast_model(RECIPE_99.changed(first_kernel=3, first_stride=1)))
    assert dense.output_shape == (28, 28, 32) and dense.values == 4 * strided.values
    assert dense.parameters == 3 * 3 * 32
    assert dense.flops == 2 * 3 * 3 * 32 * 28 * 28 == 451_584
    with pytest.raises(ValueError, match="'pool1' is a MaxPooling2D, not a Conv2D"):
        layer_cost(build_fast_model(RECIPE_99), "pool1")


def test_the_recipe_normalises_the_pooled_map_and_the_usual_order_normalises_the_full_one():
    def order(recipe):
        return [layer.name for layer in build_fast_model(recipe).layers]

    assert order(RECIPE_99) == [
        "conv1", "pool1", "bn1", "relu1", "conv2", "pool2", "bn2", "relu2", "flatten", "digit"
    ]  # fmt: skip
    assert order(RECIPE_99.changed(norm_after_pool=False)) == [
        "conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2", "pool2", "flatten", "digit"
    ]  # fmt: skip
    # The norm sees the pooled 7×7 map: a quarter of the first convolution's 14×14 values.
    model = build_fast_model(RECIPE_99)
    assert tuple(model.get_layer("bn1").input.shape) == (None, 7, 7, 32)
    assert tuple(model.get_layer("bn2").input.shape) == (None, 2, 2, 64)
    # Same weights either way, and without batch normalisation the order does not apply.
    assert (
        model.count_params()
        == build_fast_model(RECIPE_99.changed(norm_after_pool=False)).count_params()
    )
    plain = Recipe("plain", batch_norm=False)
    assert order(plain) == order(plain.changed(norm_after_pool=False))
    assert order(plain) == ["conv1", "pool1", "conv2", "pool2", "flatten", "digit"]
    # Without a second pooling, the second convolution is normalised as it is.
    assert order(RECIPE_99.changed(second_pool=False))[4:8] == ["conv2", "bn2", "relu2", "flatten"]


def test_a_stride_one_first_layer_pools_more_so_the_rest_is_unchanged():
    strided = build_fast_model(RECIPE_99)
    plain = build_fast_model(RECIPE_99.changed(first_kernel=3, first_stride=1))
    assert plain.get_layer("pool1").pool_size == (4, 4)
    for model in (strided, plain):
        assert tuple(model.get_layer("conv2").input.shape) == (None, 7, 7, 32)
    # Only the first kernel differs: 5×5 against 3×3 weights for each of the 32 filters.
    assert strided.count_params() - plain.count_params() == (25 - 9) * 32
    with pytest.raises(ValueError, match="first_stride must be an integer from 1 to 2"):
        build_fast_model(RECIPE_99.changed(first_stride=3))


def test_without_each_ingredient_changes_one_thing_each():
    changes = without_each_ingredient(RECIPE_99.changed(epochs=1))
    names = [r.name for r in changes.values()]
    assert names == ["no_batch_norm", "constant_rate", "norm_first", "first_3x3"]
    differences = [
        {k for k, v in vars(r).items() if v != getattr(RECIPE_99, k)} - {"name", "epochs"}
        for r in changes.values()
    ]
    assert differences == [
        {"batch_norm"},
        {"schedule", "peak_learning_rate"},
        {"norm_after_pool"},
        {"first_kernel", "first_stride"},
    ]
    assert all(r.epochs == 1 for r in changes.values())


def _runs(name, accuracies, seconds=10.0):
    return tuple(SpeedrunResult(name, i, seconds + i, a, None) for i, a in enumerate(accuracies))


def test_run_recipe_refuses_an_unknown_schedule(mnist):
    sparse = prepare_data(mnist, validation_size=100, train_limit=500)
    with pytest.raises(ValueError, match="schedule must be one of one_cycle, constant"):
        run_recipe(RECIPE_99.changed(schedule="cosine"), sparse)


def _met(rows) -> dict:
    return {r["part"]: r["met"] for r in rows}


def test_goal_rows_name_every_part_and_the_verdict_the_parts_missed():
    # The 99.5 % run committed before the goal: three seeds, mean 0.9950, lowest 0.9946, in 92 s.
    rows = GOAL_995.rows([0.9946, 0.9951, 0.9954], 92.4, 10_000)
    assert [r["part"] for r in rows] == [
        "mean test accuracy",
        "seeds",
        "every seed",
        "median training time",
    ]
    # sd 0.0004 over 3 seeds: t(0.975, 2) = 4.303, so 0.9950 ± 0.0010, reaching below 99.5 %.
    assert rows[0]["measured"] == "0.9950 (0.9940 to 0.9960)"
    assert rows[1]["measured"] == "3 (2 reach 99.5 %; lowest 0.9946)"
    assert (rows[2]["measured"], rows[3]["measured"]) == ("0 below", "92.4 s")
    assert _met(rows) == {
        "mean test accuracy": False,
        "seeds": False,
        "every seed": True,
        "median training time": False,
    }
    assert GOAL_995.verdict([0.9946, 0.9951, 0.9954], 92.4, 10_000) == (
        "Goal not met on mean test accuracy, seeds and median training time."
    )
    # A seed under the floor and a mean under the target are both named.
    assert GOAL_995.verdict([0.9938, 0.9950, 0.9955, 0.9949, 0.9952], 28.0, 10_000) == (
        "Goal not met on mean test accuracy and every seed."
    )
    # A mean of 0.9953 whose interval reaches below 99.5 % does not show the goal's mean.
    close = GOAL_995.verdict([0.9950, 0.9953, 0.9951, 0.9960, 0.9949], 29.5, 10_000)
    assert close == "Goal not met on mean test accuracy."
    assert GOAL_995.verdict([0.9958, 0.9960, 0.9959, 0.9961, 0.9957], 29.5, 10_000) == "Goal met."
    table = GOAL_995.table([0.9958, 0.9960, 0.9959, 0.9961, 0.9957], 31.0, 10_000)
    assert table.splitlines()[0] == "| part of the goal | asks for | measured | met |"
    assert "| median training time | at most 30 s | 31.0 s | **no** |" in table


def test_goal_rows_set_the_recipe_against_the_fastest_peer():
    accuracies = [0.991] * 10
    # The fastest peer took 8.2 s to 99 %: twice as fast means 4.1 s or less.
    pace = GOAL_99.rows(accuracies, 9.4, 10_000, peer_seconds=8.2)[-1]
    assert pace["asks"] == "2 times the fastest peer's speed to 99 %"
    assert (pace["measured"], pace["met"]) == ("0.87 times (9.4 s against 8.2 s)", False)
    assert GOAL_99.verdict(accuracies, 9.4, 10_000, peer_seconds=8.2) == (
        "Goal not met on median training time and pace."
    )
    assert GOAL_99.verdict(accuracies, 3.9, 10_000, peer_seconds=8.2) == "Goal met."
    alone = GOAL_99.rows(accuracies, 3.9, 10_000, peer_seconds=None)[-1]
    assert (alone["measured"], alone["met"]) == ("no peer reached 99 %", True)
    # The pace is the recipe's own time to 99 %, where it differs from its median training time
    # (some seeds below 99 %), set against the peer's time measured the same way.
    to_99 = GOAL_99.rows(accuracies, 3.9, 10_000, peer_seconds=8.2, seconds_to_accuracy=4.6)
    assert to_99[-1]["measured"] == "1.78 times (4.6 s against 8.2 s)"
    never = GOAL_99.rows(accuracies, 3.9, 10_000, peer_seconds=8.2, seconds_to_accuracy=math.inf)
    assert never[-1]["measured"] == "fewer than half the runs reached 99 %"
    # Every seed at the same score: no spread, no interval; the score itself is judged.
    assert GOAL_99.rows(accuracies, 3.9, 10_000)[0]["measured"] == "0.9910"


def test_seconds_per_step_times_steps_after_tracing(mnist):
    # 300 images repeated: 96 steps of 32 need 3,072.
    data = prepare_data(mnist, validation_size=100, train_limit=300, seed=0)
    recipe = RECIPE_99.changed(batch_size=32)
    step = seconds_per_step(recipe, data, steps=96)
    assert 0 < step < 0.5  # milliseconds on any CPU; tracing (seconds) is left out
    with pytest.raises(ValueError, match="steps must be an integer of at least"):
        seconds_per_step(recipe, data, steps=10)


def test_seeds_reaching_compares_whole_images():
    assert seeds_reaching([0.995, 0.9949, 0.9962], 0.995, 10_000) == 2
    assert seeds_reaching([0.1 + 0.2 - 0.3 + 0.99], 0.99, 10_000) == 1  # rounding noise ignored
    with pytest.raises(ValueError, match="accuracies is empty"):
        seeds_reaching([], 0.99, 10_000)


def test_shift_averaged_probabilities_average_the_image_and_four_moved_copies(mnist):
    images = mnist.test[0][:50].astype(np.float32)[..., None] / 255
    model = build_fast_model(RECIPE_99)
    averaged = shift_averaged_probabilities(model, images, batch_size=64)
    assert averaged.shape == (50, 10)
    np.testing.assert_allclose(averaged.sum(axis=1), 1, atol=1e-5)
    views = [model.predict(shift_images(images, *move), verbose=0) for move in TEST_SHIFTS]
    assert TEST_SHIFTS[0] == (0, 0) and len(set(TEST_SHIFTS)) == 5
    np.testing.assert_allclose(averaged, np.mean(views, axis=0), atol=1e-5)
    # The moved views count: the average differs from the plain prediction.
    assert np.abs(averaged - views[0]).max() > 1e-4


def test_a_recipe_computes_in_its_precision_with_a_float32_output():
    mixed = build_fast_model(RECIPE_99.changed(precision="mixed_bfloat16"))
    assert mixed.get_layer("conv1").dtype_policy.name == "mixed_bfloat16"
    assert mixed.get_layer("digit").dtype_policy.name == "float32"
    assert build_fast_model(RECIPE_99).get_layer("conv1").dtype_policy.name == "float32"
    assert recipe_precision(RECIPE_99.changed(precision=None)) == default_precision()
    with pytest.raises(ValueError, match="precision must be one of float32, mixed_bfloat16"):
        build_fast_model(RECIPE_99.changed(precision="float16"))


def test_run_recipe_counts_test_time_augmentation_in_its_seconds(mnist):
    data = prepare_data(mnist, validation_size=500, train_limit=3000, seed=0, one_hot=False)
    plain = run_recipe(RECIPE_99.changed(epochs=1), data, seed=0)
    assert plain.scoring_seconds == 0 and plain.unshifted_test_accuracy is None
    shifted = run_recipe(RECIPE_99.changed(epochs=1, test_shifts=True), data, seed=0)
    assert 0 < shifted.scoring_seconds < shifted.seconds
    assert 0.8 < shifted.test_accuracy <= 1 and 0.8 < shifted.val_accuracy <= 1
    # The same weights (same seed), scored over five views instead of one: a few images change.
    assert shifted.unshifted_test_accuracy == pytest.approx(plain.test_accuracy, abs=0.003)
    assert shifted.test_accuracy != shifted.unshifted_test_accuracy


def test_recipe_table_lists_every_setting_side_by_side():
    from dataclasses import fields

    from mnist_lessons.speedrun import RECIPE_SETTINGS, recipe_table

    assert set(RECIPE_SETTINGS) == {f.name for f in fields(RECIPE_99)} - {"name"}
    table = recipe_table(RECIPE_99, RECIPE_995).splitlines()
    assert table[0] == "| setting | 99 % recipe | 99.5 % recipe |"
    assert len(table) == 2 + len(RECIPE_SETTINGS)
    assert "| filters of the two convolutions | 32, 64 | 32, 96 |" in table
    assert "| learning-rate schedule | one-cycle | one-cycle |" in table
    assert table[-1].startswith("| precision | float32 | ")
    with pytest.raises(ValueError, match="at least one recipe"):
        recipe_table()


def test_the_head_and_the_normalisation_momentum_are_recipe_settings():
    average = build_fast_model(RECIPE_99.changed(head="global_average", bn_momentum=0.9))
    assert average.get_layer("global_average").__class__.__name__ == "GlobalAveragePooling2D"
    assert average.get_layer("digit").kernel.shape == (64, 10)
    assert {layer.momentum for layer in average.layers if hasattr(layer, "moving_mean")} == {0.9}
    flat = build_fast_model(RECIPE_99)
    assert flat.get_layer("digit").kernel.shape == (2 * 2 * 64, 10)
    with pytest.raises(ValueError, match="head"):
        build_fast_model(RECIPE_99.changed(head="attention"))

"""The statistics behind every verdict: each function against the formula it stands for."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mnist_lessons.stats import (
    against_reported,
    holm,
    mcnemar,
    mean_against_target,
    paired_difference,
    points_text,
    prediction_interval,
    seed_interval,
    sign_test,
    wilson_interval,
)

# Five seeds of a recipe, and of the same recipe with one thing changed (made up, but of the
# size the book measures).
WITH = [0.9926, 0.9920, 0.9931, 0.9918, 0.9925]
WITHOUT = [0.9904, 0.9899, 0.9912, 0.9901, 0.9903]


def test_the_seed_interval_is_the_mean_plus_or_minus_t_standard_errors():
    interval = seed_interval(WITH)
    mean, sd = np.mean(WITH), np.std(WITH, ddof=1)
    half = 2.7764451051977987 * sd / math.sqrt(5)  # t(0.975, 4 degrees of freedom)
    assert interval.estimate == pytest.approx(mean)
    assert (interval.low, interval.high) == pytest.approx((mean - half, mean + half))
    assert interval.n == 5 and interval.sd == pytest.approx(sd)
    assert interval.text() == "0.9924 (95 % interval over 5 seeds: 0.9918 to 0.9930)"
    assert interval.contains(0.992) and not interval.contains(0.990)


def test_a_prediction_interval_is_wider_by_the_root_of_one_plus_one_over_n():
    mean_interval, one_run = seed_interval(WITH), prediction_interval(WITH)
    ratio = (one_run.high - one_run.low) / (mean_interval.high - mean_interval.low)
    assert ratio == pytest.approx(math.sqrt(1 + 5))  # √(1 + 1/n) / √(1/n)
    assert "prediction interval for one run, from 5 seeds" in one_run.text()


def test_one_seed_gives_no_interval():
    with pytest.raises(ValueError, match="at least 2 values"):
        seed_interval([0.99])
    with pytest.raises(ValueError, match="finite"):
        seed_interval([0.99, float("nan")])


def test_the_paired_difference_is_the_t_interval_of_the_per_seed_differences():
    difference = paired_difference(WITH, WITHOUT)
    per_seed = (np.array(WITH) - np.array(WITHOUT)) * 100
    half = 2.7764451051977987 * per_seed.std(ddof=1) / math.sqrt(5)
    assert difference.points == pytest.approx(per_seed.mean())
    assert (difference.low, difference.high) == pytest.approx(
        (per_seed.mean() - half, per_seed.mean() + half)
    )
    t = per_seed.mean() / (per_seed.std(ddof=1) / math.sqrt(5))
    assert t > 10 and difference.p_value < 0.001 and difference.detected
    assert difference.sentence() == (
        "higher by 0.20 points (95 % interval +0.18 to +0.23 points over 5 seeds; "
        "paired t-test p < 0.001)"
    )
    assert paired_difference(WITHOUT, WITH).sentence().startswith("lower by 0.20 points")


def test_an_interval_that_covers_zero_detects_no_difference():
    noisy = [a + d for a, d in zip(WITH, [0.0004, -0.0006, 0.0002, -0.0003, 0.0001], strict=True)]
    difference = paired_difference(noisy, WITH)
    assert difference.low < 0 < difference.high and not difference.detected
    assert difference.sentence().startswith("no difference detected at 5 seeds (95 % interval")
    assert "above" not in difference.sentence() and "level" not in difference.sentence()


def test_paired_arms_need_the_same_seeds():
    with pytest.raises(ValueError, match="one value per seed in each arm"):
        paired_difference(WITH, WITHOUT[:4])


def test_identical_arms_have_no_spread_and_no_difference():
    difference = paired_difference(WITH, WITH)
    assert difference.points == 0 and difference.p_value == 1 and not difference.detected


def test_a_constant_difference_is_not_certain_but_left_to_the_sign_test():
    """Every seed one image better: the t-test's spread is zero (or float noise, 1e-18), and a
    zero-width interval with p = 0 would claim certainty from two seeds."""
    first = [0.9901 + 0.0001, 0.9911 + 0.0001, 0.9890 + 0.0001]
    second = [0.9901, 0.9911, 0.9890]
    difference = paired_difference(first, second)
    assert difference.test == "sign test" and difference.low is None
    assert difference.p_value == pytest.approx(0.25) and not difference.detected
    assert difference.points == pytest.approx(0.01)


def test_the_sign_test_takes_its_direction_from_the_seeds_not_the_mean():
    first = [0.9902] * 9 + [0.9800]
    second = [0.9900] * 9 + [0.9900]
    result = sign_test(first, second)
    assert np.mean(first) < np.mean(second)  # one large drop outweighs nine small gains
    assert result.detected and result.sentence().startswith(
        "higher by a median of 0.02 points (10 seeds;"
    )


def test_p_values_near_the_threshold_keep_three_decimals():
    from mnist_lessons.stats import Difference

    close = Difference(0.1, None, None, 0.0496, "sign test", 10)
    assert close.detected and close.evidence().endswith("sign test p = 0.050")
    tiny = Difference(0.001, 0.0004, 0.0016, 0.02, "paired t-test", 5)
    assert tiny.sentence() == (
        "higher by 0.001 points (95 % interval 0.000 to +0.002 points over 5 seeds; paired "
        "t-test p = 0.020)"
    )


def test_runs_that_all_score_the_same_have_no_interval():
    with pytest.raises(ValueError, match="every run scored the same \\(0.9900\\)"):
        seed_interval([0.99, 0.99, 0.99])
    with pytest.raises(ValueError, match="cannot be estimated"):
        against_reported([0.99, 0.99], 0.9901)


def test_mcnemar_counts_only_the_images_the_two_models_disagree_on():
    first = np.array([True] * 90 + [True] * 8 + [False] * 2)
    second = np.array([True] * 90 + [False] * 8 + [True] * 2)
    result = mcnemar(first, second)
    assert result.n == 10 and result.counts == (8, 2)  # right only by the first; the second
    # Exact two-sided binomial: P(X ≤ 2) + P(X ≥ 8) for X ~ B(10, 1/2) = 2 · 56 / 1024.
    assert result.p_value == pytest.approx(112 / 1024)
    assert result.points == pytest.approx(6.0)
    assert not result.detected
    assert result.sentence() == (
        "no difference detected (10 images on which these two networks disagree; McNemar's "
        "exact test p = 0.11)"
    )
    much = mcnemar(np.r_[first, [True] * 20], np.r_[second, [False] * 20])
    assert much.detected and much.sentence().startswith("higher by 21.67 points (30 images")
    agreeing = mcnemar(first, first)
    assert agreeing.n == 0 and agreeing.p_value == 1
    with pytest.raises(ValueError, match="on the same images"):
        mcnemar(first, second[:50])


def test_the_wilson_interval_matches_its_formula():
    correct, total = 9926, 10_000
    interval = wilson_interval(correct, total)
    z, p = 1.959963984540054, correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total**2))
    assert (interval.low, interval.high) == pytest.approx((centre - half, centre + half))
    assert interval.text() == "0.9926 (95 % Wilson interval on 10,000 images: 0.9907 to 0.9941)"
    with pytest.raises(ValueError, match="correct must lie between 0 and total"):
        wilson_interval(10, 5)
    with pytest.raises(ValueError, match="whole counts"):
        wilson_interval(0.99, 100)


def test_the_sign_test_counts_the_seeds_a_change_raised():
    shifted = [0.9951, 0.9950, 0.9955, 0.9948, 0.9952]
    plain = [0.9947, 0.9946, 0.9950, 0.9945, 0.9949]
    result = sign_test(shifted, plain)
    assert result.p_value == pytest.approx(2 / 32)  # 5 of 5, two-sided
    assert result.sentence() == (
        "no difference detected at 5 seeds (5 of 5 raised (with 5, the sign test cannot reach "
        "p < 0.05); sign test p = 0.062)"
    )
    ten = sign_test(shifted * 2, plain * 2)
    assert ten.p_value == pytest.approx(2 / 1024) and ten.detected
    assert ten.sentence("raised", "lowered") == (
        "raised by a median of 0.04 points (10 seeds; 10 of 10 raised; sign test p = 0.002)"
    )


def test_a_reported_figure_is_set_against_where_one_run_lands():
    assert against_reported(WITH, 0.9938).startswith("the reported 0.9938 lies inside the range")
    assert " lies above the range " in against_reported(WITH, 0.9960)
    assert " lies below the range " in against_reported(WITH, 0.9880)


def test_a_rounded_figure_counts_as_every_value_it_could_have_been_rounded_from():
    # "About 99 %" stands for 98.5 to 99.5 %: it overlaps WITH's range for one run, so inside.
    assert against_reported(WITH, 0.99, step=0.01).startswith(
        "the reported about 99 % (98.5 to 99.5 %) lies inside the range"
    )
    # "About 97 %" stands for at most 97.5 %: below the range.
    assert " lies below the range " in against_reported(WITH, 0.97, step=0.01)
    # The same figure given to four decimals is a point, and below as well.
    assert " lies below the range " in against_reported(WITH, 0.99)


def test_holm_multiplies_the_smallest_p_by_the_number_of_tests_and_keeps_the_order():
    # Worked by hand: sorted 0.01, 0.02, 0.04 times 3, 2, 1 give 0.03, 0.04, 0.04.
    np.testing.assert_allclose(holm([0.04, 0.01, 0.02]), [0.04, 0.03, 0.04])
    # Step-down: a later product smaller than an earlier one is raised to it.
    np.testing.assert_allclose(holm([0.001, 0.04, 0.045]), [0.003, 0.08, 0.08])
    # Never above 1.
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])
    assert holm([0.03]).tolist() == [0.03]
    with pytest.raises(ValueError, match="between 0 and 1"):
        holm([0.5, 1.5])


def test_a_difference_too_small_to_print_has_no_sign():
    assert points_text(-0.0001) == "0.000"
    assert points_text(0.003) == "+0.003"
    assert points_text(-0.25) == "-0.25"


def test_a_mean_is_set_against_a_target_by_its_interval():
    assert mean_against_target(WITH, 0.99)[0] == "at or above"
    assert mean_against_target(WITH, 0.995)[0] == "below"
    where, interval = mean_against_target(WITH, float(np.mean(WITH)))
    assert where == "covers" and interval.contains(float(np.mean(WITH)))
    assert mean_against_target([0.99], 0.98) == ("one seed", None)
    assert mean_against_target([0.991, 0.991], 0.99) == ("at or above", None)


def test_rounded_range_is_every_value_within_half_a_step():
    from mnist_lessons.stats import rounded_range

    low, high = rounded_range(0.97, 0.01)
    assert (round(low, 6), round(high, 6)) == (0.965, 0.975)
    assert rounded_range(0.9895, 0.0) == (0.9895, 0.9895)


def test_class_errors_count_each_digit_with_a_wilson_interval():
    from mnist_lessons.stats import class_errors, wilson_interval

    labels = np.repeat(np.arange(3), 100)
    predictions = labels.copy()
    predictions[:7] = 1  # seven 0s wrong
    predictions[100:102] = 2  # two 1s wrong
    rows = class_errors(labels, predictions)
    assert [(r.digit, r.images, r.errors) for r in rows] == [(0, 100, 7), (1, 100, 2), (2, 100, 0)]
    assert rows[0].interval.estimate == pytest.approx(0.07)
    assert rows[0].interval.low == pytest.approx(wilson_interval(7, 100).low)
    with pytest.raises(ValueError, match="same length"):
        class_errors(labels, predictions[:-1])


def test_only_confusions_well_beyond_chance_survive_holms_adjustment():
    from mnist_lessons.stats import confusions_beyond_chance

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 1000)
    predictions = labels.copy()
    fours = np.flatnonzero(labels == 4)
    predictions[fours[:30]] = 9  # a habit: 30 of the 4s' 39 mistakes are 9s
    for k, i in enumerate(fours[30:39]):
        predictions[i] = [0, 1, 2, 3, 5, 6, 7, 8, 9][k]
    for digit in (1, 2, 3):  # scattered mistakes: one to each other digit
        mine = np.flatnonzero(labels == digit)[:9]
        predictions[mine] = [d for d in range(10) if d != digit]
    found, tests = confusions_beyond_chance(labels, predictions)
    assert tests == 4 * 9  # every cell of each digit with a mistake, empty cells included
    assert [(c.true, c.predicted, c.count, c.errors) for c in found] == [(4, 9, 31, 39)]
    assert found[0].expected == pytest.approx(39 / 9) and found[0].runs == 1
    assert found[0].adjusted >= found[0].p_value and found[0].adjusted < 0.05
    assert confusions_beyond_chance(labels, labels) == ([], 0)
    shuffled = labels.copy()
    wrong = rng.choice(len(labels), 90, replace=False)
    shuffled[wrong] = (labels[wrong] + rng.integers(1, 10, 90)) % 10
    assert confusions_beyond_chance(labels, shuffled)[0] == []


def test_over_several_runs_each_wrong_image_counts_once_under_its_usual_answer():
    from mnist_lessons.stats import class_errors, confusions_beyond_chance

    labels = np.repeat(np.arange(10), 100)
    rng = np.random.default_rng(1)
    fives = np.flatnonzero(labels == 5)
    runs = []
    for run in range(6):
        answers = labels.copy()
        answers[fives[: 4 + run % 3]] = 3  # four to six 5s called 3s, the same ones each time
        answers[fives[10]] = 3 if run else 6  # one image: 3 in five runs, 6 in one
        others = rng.choice(np.flatnonzero(labels != 5), 20, replace=False)
        answers[others] = (labels[others] + rng.integers(1, 10, 20)) % 10
        runs.append(answers)
    found, tests = confusions_beyond_chance(labels, np.stack(runs))
    assert tests == 90
    assert [(c.true, c.predicted, c.count, c.errors, c.runs) for c in found] == [(5, 3, 7, 7, 6)]
    # The same image wrong in every run is one image, however many runs.
    # Counted ten times, p would be (1/9)**10; counted once, it is 1/9.
    always = np.stack([np.where(np.arange(1000) == 7, 1, labels)] * 10)
    assert confusions_beyond_chance(labels, always) == ([], 9)
    with pytest.raises(ValueError, match="one run's predictions"):
        class_errors(labels, np.stack(runs))

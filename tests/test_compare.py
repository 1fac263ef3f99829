"""mnist_lessons.compare: the comparison chapter's reading of the studies, on made-up records
whose answers are known, and on the committed ones."""

from __future__ import annotations

import io

import numpy as np
import pytest

from mnist_lessons import studies
from mnist_lessons.chapter import check_study_parameters
from mnist_lessons.checks import ParameterError
from mnist_lessons.compare import (
    ArchitectureComparison,
    DocumentedSpread,
    budget_text,
    documented_figures,
    documented_spreads,
    documented_table,
    network_name,
)
from mnist_lessons.models import REFERENCES
from mnist_lessons.studies import (
    Outcome,
    StudyResults,
    get_study,
    pack_correct,
    rerun_and_compare,
)

# Per-seed test accuracies: the classic CNN leads the wide dense head by a steady 0.05 points
# (noisy enough that five seeds cannot separate them) and the third-pooling network by about
# 1.5 points (clearly).
ACCURACIES = {
    "keras_classic_cnn": [0.9925, 0.9931, 0.9920, 0.9934, 0.9928],
    "one_conv_wide_dense": [0.9930, 0.9918, 0.9929, 0.9920, 0.9925],
    "two_conv_dropout": [0.9905, 0.9910, 0.9899, 0.9908, 0.9902],
    "three_conv_dense64": [0.9890, 0.9895, 0.9880, 0.9893, 0.9889],
    "three_conv_three_pool": [0.9780, 0.9765, 0.9790, 0.9772, 0.9781],
}


def record(study: str, arm: str, seed: int, accuracy: float, curve=None, seconds=10.0) -> dict:
    rng = np.random.default_rng([seed, len(arm)])
    correct = np.zeros(10_000, dtype=bool)
    correct[rng.permutation(10_000)[: round(accuracy * 10_000)]] = True
    return {
        "study": study,
        "arm": arm,
        "seed": seed,
        "settings": {"precision": "float32"},
        "test_accuracy": accuracy,
        "test_correct": pack_correct(correct),
        "test_images": 10_000,
        "seconds": seconds + seed,
        "history": {"val_accuracy": curve or [0.97, 0.985, 0.989, 0.990, 0.9901 + seed / 10_000]},
        "provenance": {"processor": "Test CPU"},
    }


@pytest.fixture
def comparison() -> ArchitectureComparison:
    records = [
        record("architectures", arm, seed, accuracy)
        for arm, values in ACCURACIES.items()
        for seed, accuracy in enumerate(values)
    ]
    return ArchitectureComparison(StudyResults(get_study("architectures"), tuple(records)))


def test_the_networks_rank_by_mean_and_every_pair_is_tested(comparison):
    assert comparison.ranking == list(ACCURACIES)
    assert comparison.leader == "keras_classic_cnn"
    assert len(comparison.pairs) == 10
    close = comparison.pair("keras_classic_cnn", "one_conv_wide_dense")
    assert close.higher == "keras_classic_cnn"
    assert not close.detected and not close.difference.detected
    assert close.difference.sentence().startswith("no difference detected at 5 seeds")
    far = comparison.pair("three_conv_three_pool", "keras_classic_cnn")
    assert far.lower == "three_conv_three_pool"
    assert far.detected and far.difference.sentence().startswith("higher by 1.50 points")
    assert comparison.top_group == ["keras_classic_cnn", "one_conv_wide_dense"]


def test_holm_adjusted_p_values_are_never_below_the_raw_ones(comparison):
    for pair in comparison.pairs:
        assert pair.difference.p_value <= pair.adjusted_p <= 1
        # A pair told apart after adjustment is told apart before it as well.
        assert not pair.detected or pair.difference.detected
    smallest = min(comparison.pairs, key=lambda p: p.difference.p_value)
    assert smallest.adjusted_p == pytest.approx(min(1, 10 * smallest.difference.p_value))


def test_the_leader_and_runner_up_are_compared_image_by_image(comparison):
    mcnemar = comparison.mcnemar()
    assert mcnemar.test == "McNemar's exact test"
    assert mcnemar.points == pytest.approx((0.9925 - 0.9930) * 100)
    assert mcnemar.n >= 5  # the images on which the two disagree


def test_the_figures_never_rank_on_a_point_estimate(comparison):
    figures = comparison.figures()
    assert figures["arch_leader"] == network_name("keras_classic_cnn", capital=False)
    assert figures["arch_leader"].startswith("the classic Keras")
    assert figures["arch_top_count"] == 2
    assert figures["arch_mcnemar_only_leader"] - figures["arch_mcnemar_only_runner_up"] == -5
    assert figures["arch_pairs"] == 10
    assert figures["arch_detected"] <= figures["arch_detected_unadjusted"]
    assert figures["arch_seeds"] == 5
    assert (
        figures["arch_leader_low"] < figures["arch_leader_accuracy"] < figures["arch_leader_high"]
    )
    text = " ".join(str(v) for v in figures.values())
    for word in ("level with", "above", "ahead"):
        assert word not in text


def test_convergence_is_the_rise_of_the_last_epochs_over_the_ones_before(comparison):
    # Made-up curves of 5 epochs; the last 3 against the 3 before would overlap, so use 2.
    # Last two: 0.990 and 0.9901 + seed / 10,000; the two before: 0.985 and 0.989.
    change = comparison.late_change("keras_classic_cnn", last=2)
    expected = ((0.990 + 0.9901 + 0.0002) / 2 - (0.985 + 0.989) / 2) * 100
    assert change.estimate == pytest.approx(expected)
    assert comparison.early_change("keras_classic_cnn") == pytest.approx((0.990 - 0.97) * 100)
    rising, runs = comparison.rising_runs(last=2)
    assert (rising, runs) == (25, 25)
    table = comparison.cost_table()
    assert "1,199,882" in table  # the classic CNN's parameters, counted from the built model
    assert "24.0" in table  # and its 24 million operations per image


def test_the_table_lists_the_networks_best_first_and_the_pairs_say_if_told_apart(comparison):
    lines = comparison.table().splitlines()
    assert lines[2].startswith(f"| {network_name('keras_classic_cnn')}")
    assert lines[-1].startswith(f"| {network_name('three_conv_three_pool')}")
    pairs = comparison.pairs_table().splitlines()
    assert len(pairs) == 2 + 10
    assert "adjusted for 10 tests" in pairs[0]
    assert pairs[2].startswith(f"| {REFERENCES['keras_classic_cnn'].title} |")
    assert pairs[2].endswith("| no |")
    told_apart = sum(line.endswith("| yes |") for line in pairs[2:])
    assert told_apart == sum(pair.detected for pair in comparison.pairs) >= 6


def test_the_budget_is_described_in_words():
    assert budget_text() == (
        "Adam at a learning rate of 0.001, 10 epochs of 55,000 images at batch size 128 "
        "(4,300 steps)"
    )


def spread(accuracies, reported_name="three_conv_dense64"):
    records = tuple(record("writeups", reported_name, s, a) for s, a in enumerate(accuracies))
    return DocumentedSpread(
        reported_name, StudyResults(get_study("writeups"), records), reported_name
    )


def test_a_reported_figure_is_set_against_where_one_run_lands():
    # 000 reported 0.9895.
    assert spread([0.9890, 0.9900, 0.9885, 0.9902, 0.9893]).where == "inside"
    assert spread([0.9940, 0.9942, 0.9938, 0.9941, 0.9939]).where == "below"
    assert spread([0.9850, 0.9852, 0.9848, 0.9851, 0.9849]).where == "above"
    one = spread([0.9850, 0.9852, 0.9848, 0.9851, 0.9849])
    assert one.prediction.high - one.prediction.low > one.interval.high - one.interval.low


def test_the_committed_studies_give_every_write_up_five_seeds():
    spreads = documented_spreads()
    assert list(spreads) == list(REFERENCES)
    assert {s.results.study.name for s in spreads.values()} == {
        "writeups",
        "dropout",
        "third_pooling",
    }
    for s in spreads.values():
        assert len(s.accuracies) == 5
        assert s.where in {"inside", "above", "below"}
    table = documented_table(spreads)
    assert len(table.splitlines()) == 2 + len(REFERENCES)
    figures = documented_figures(spreads)
    assert figures["documented_count"] == 5
    assert figures["documented_seeds"] == 5


def test_a_rounded_reported_figure_is_drawn_as_the_range_it_stands_for():
    import matplotlib

    matplotlib.use("Agg")
    from mnist_lessons.plots import reported_against_spread

    spreads = {
        name: spread([0.9850, 0.9862, 0.9848, 0.9871, 0.9855], name)
        for name in ("three_conv_dense64", "one_conv_wide_dense")
    }
    ax = reported_against_spread(spreads)
    widths = sorted(
        round(float(abs(line.get_xdata()[1] - line.get_xdata()[0])), 6)
        for line in ax.lines
        if line.get_color() == "C3"
    )
    # One horizontal bar from 96.5 to 97.5 % and its two end ticks; nothing for 000's 0.9895.
    assert widths == [0.0, 0.0, 0.01]
    assert spreads["one_conv_wide_dense"].where == "below"


def test_the_study_parameters_are_checked(tmp_path):
    assert check_study_parameters() == (None, None)
    assert check_study_parameters(study_dir=str(tmp_path), rerun_seed=3) == (tmp_path, 3)
    with pytest.raises(ParameterError, match="study_dir must be a folder of study records"):
        check_study_parameters(study_dir=str(tmp_path / "missing"))
    with pytest.raises(ParameterError, match="rerun_seed must be an integer from 0"):
        check_study_parameters(rerun_seed=-1)
    with pytest.raises(ParameterError, match="rerun_seed must be an integer from 0"):
        check_study_parameters(rerun_seed="0")


def test_rerunning_a_seed_says_how_long_and_sets_the_new_run_beside_the_study(
    comparison, monkeypatch, tmp_path
):
    stream = io.StringIO()
    assert rerun_and_compare("architectures", None, comparison.results, stream=stream) == []
    said = stream.getvalue()
    assert "takes about 60 s on the machine that ran the study (Test CPU)" in said
    assert "No seed given, so nothing is trained here." in said

    def trainer(arm, settings, seed, callbacks):
        correct = np.zeros(10_000, dtype=bool)
        correct[:9925] = True
        return Outcome(0.9925, 0.03, correct, 2.0, settings["precision"], {}, {})

    monkeypatch.setattr(studies, "TRAINERS", dict.fromkeys(studies.TRAINERS, trainer))
    monkeypatch.setattr(studies, "provenance", lambda precision, rate: {"processor": "here"})
    monkeypatch.setattr("mnist_lessons.backend.matmul_gflops", lambda size, repeats: 100.0)
    stream = io.StringIO()
    new = rerun_and_compare("architectures", 0, comparison.results, out=tmp_path, stream=stream)
    assert len(new) == 5
    said = stream.getvalue()
    assert (
        f"{REFERENCES['keras_classic_cnn'].title}: 0.9925 here, 0.9925 in the study; inside" in said
    )
    assert (
        f"{REFERENCES['three_conv_three_pool'].title}: 0.9925 here, 0.9780 in the study; "
        "outside" in said
    )

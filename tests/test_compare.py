"""mnist_lessons.compare: the equal-budget study, its statistics, and the documented tables."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from mnist_lessons import compare
from mnist_lessons.chapter import ChapterParameters, ParameterError
from mnist_lessons.compare import (
    BudgetTrainer,
    EqualBudget,
    EqualBudgetStudy,
    StudyRun,
    documented_results,
    documented_tables,
    equal_budget,
    equal_budget_study,
)
from mnist_lessons.data import prepare_data
from mnist_lessons.models import ARCHITECTURES, REFERENCES
from mnist_lessons.train import set_seed, train


def run(architecture, seed, accuracy, seconds=3.0, params=1000, images=10_000):
    return StudyRun(
        architecture=architecture,
        seed=seed,
        params=params,
        test_accuracy=accuracy,
        test_errors=round((1 - accuracy) * images),
        test_images=images,
        training_seconds=seconds,
    )


@pytest.fixture
def study() -> EqualBudgetStudy:
    """Three architectures over three seeds: 003 ahead of 001 by far more than the noise, 000
    within the noise of 001."""
    runs = [
        *(run("keras_classic_cnn", s, a, 9.0 + s) for s, a in enumerate([0.980, 0.981, 0.982])),
        *(run("two_conv_dropout", s, a, 4.0) for s, a in enumerate([0.970, 0.972, 0.974])),
        *(run("three_conv_dense64", s, a, 2.0) for s, a in enumerate([0.969, 0.971, 0.973])),
    ]
    return EqualBudgetStudy(EqualBudget(seeds=3), runs, seconds=60.0)


def test_summaries_give_mean_and_sample_standard_deviation_over_seeds(study):
    summary = study.summaries()["keras_classic_cnn"]
    assert summary.write_up == "003"
    assert summary.accuracy == pytest.approx(0.981)
    assert summary.accuracy_std == pytest.approx(0.001)  # n - 1 in the denominator
    assert summary.errors == pytest.approx(190)
    assert summary.errors_std == pytest.approx(10)
    assert summary.seconds == pytest.approx(10.0)
    assert summary.seconds_std == pytest.approx(1.0)
    assert summary.standard_error == pytest.approx(np.sqrt(0.981 * 0.019 / 10_000))
    assert study.seeds == [0, 1, 2]
    assert study.architectures == ["keras_classic_cnn", "two_conv_dropout", "three_conv_dense64"]


def test_ranking_and_gaps_against_the_noise(study):
    assert study.ranking() == ["keras_classic_cnn", "two_conv_dropout", "three_conv_dense64"]
    far = study.compare("two_conv_dropout", "keras_classic_cnn")
    assert far.better.write_up == "003" and far.worse.write_up == "001"
    assert far.points == pytest.approx(0.9)
    assert far.noise == pytest.approx(0.2)  # 001's seed spread beats both standard errors
    assert not far.inside
    assert far.sentence().startswith("003 is 0.90 points above 001, 4.5 times the noise")
    near = study.compare("two_conv_dropout", "three_conv_dense64")
    assert near.points == pytest.approx(0.1) and near.inside
    assert "cannot tell them apart" in near.sentence()
    assert study.level_with_best() == ["keras_classic_cnn"]


def test_the_standard_error_is_the_noise_when_seeds_agree():
    runs = [run("two_conv_dropout", s, 0.99) for s in range(3)]
    runs += [run("three_conv_dense64", s, 0.9895) for s in range(3)]
    study = EqualBudgetStudy(EqualBudget(), runs)
    gap = study.compare("two_conv_dropout", "three_conv_dense64")
    assert gap.noise == pytest.approx(100 * np.sqrt(0.9895 * 0.0105 / 10_000))
    assert gap.inside
    assert study.level_with_best() == ["two_conv_dropout", "three_conv_dense64"]


def test_table_rows_hold_mean_and_spread(study):
    lines = study.table().splitlines()
    assert lines[0] == "| write-up | parameters | test accuracy | errors | training s |"
    assert lines[2] == "| 003 | 1,000 | 0.9810 ± 0.0010 | 190 ± 10 | 10.0 ± 1.0 |"
    assert len(lines) == 2 + 3


def test_cost_arrays_and_records(study):
    arrays = study.cost_arrays()
    assert arrays["labels"] == ["003", "001", "000"]
    np.testing.assert_allclose(arrays["accuracy"], [0.981, 0.972, 0.971])
    np.testing.assert_allclose(arrays["accuracy_error"], [0.001, 0.002, 0.002])
    np.testing.assert_allclose(arrays["seconds_error"], [1.0, 0.0, 0.0])
    records = study.records()
    assert len(records) == 9
    assert records[0]["write_up"] == "003" and records[0]["seed"] == 0
    json.dumps(records)


def test_equal_budget_defaults_and_following_the_chapter():
    assert equal_budget() == EqualBudget()
    quick = ChapterParameters(
        epochs=1, batch_size=None, train_limit=2000, seed=5, validation_size=0
    )
    budget = equal_budget(chapter=quick)
    assert (budget.epochs, budget.train_limit, budget.seed) == (1, 2000, 5)
    assert budget.seed_list == [5, 6, 7]
    assert equal_budget(epochs=3, train_limit=500, chapter=quick).epochs == 3
    assert "1 epoch of 2,000 training images at batch size 128, seeds 5, 6, 7" in budget.describe()


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"seeds": 1}, "comparison_seeds must be an integer from 2 to 50. Received: "),
        ({"epochs": 0}, "comparison_epochs must be an integer of at least 1. Received: "),
        ({"train_limit": 5}, "comparison_train_limit must be an integer from 10 to 60000"),
        ({"batch_size": 2.5}, "comparison_batch_size must be an integer from 1 to 60000"),
    ],
)
def test_equal_budget_names_a_bad_value(arguments, message):
    with pytest.raises(ParameterError, match=message):
        equal_budget(**arguments)


def record(name, accuracy, **changes):
    reference = REFERENCES[name]
    return {
        "write_up": reference.write_up,
        "params": reference.params,
        "epochs": reference.epochs,
        "batch_size": reference.batch_size,
        "training_seconds": 100.0,
        "test_accuracy": accuracy,
        "test_errors": round((1 - accuracy) * 10_000),
        "train_images": 55_000,
        "documented": True,
        **changes,
    }


def test_documented_tables_give_the_standard_error_errors_and_verdict():
    results = {
        "three_conv_dense64": record("three_conv_dense64", 0.9893),  # reported 0.9895
        "one_conv_wide_dense": record("one_conv_wide_dense", 0.9866),  # reported 0.97
    }
    recipes, scores = documented_tables(results)
    assert (
        recipes.splitlines()[2] == "| 000 | `three_conv_dense64` | 93,322 | Adam | 3 × 32 | 100 |"
    )
    rows = scores.splitlines()
    assert rows[0] == ("| write-up | test accuracy ± SE | errors | reported | against reported |")
    assert rows[2] == "| 000 | 0.9893 ± 0.0010 | 107 | 0.9895 | level with |"
    assert rows[3] == "| 002 | 0.9866 ± 0.0011 | 134 | 0.9700 | 1.66 above |"


def test_documented_results_reads_every_saved_run_without_training(tmp_path):
    for name in ARCHITECTURES:
        (tmp_path / f"{name}.json").write_text(json.dumps(record(name, 0.99)))
    lines = []
    results = documented_results(
        tmp_path, ChapterParameters(None, None, None, 0, 5000), say=lines.append
    )
    assert list(results) == list(ARCHITECTURES)
    assert len(lines) == 5 and "100 s of training when it was run" in lines[0]


@pytest.fixture(scope="module")
def tiny(mnist):
    """300 training images, no validation split, the first 500 test images."""
    data = prepare_data(mnist, validation_size=0, train_limit=300, seed=0)
    return dataclasses.replace(data, x_test=data.x_test[:500], y_test=data.y_test[:500])


@pytest.mark.slow
def test_a_reused_model_trains_exactly_as_a_freshly_built_one(tiny):
    budget = EqualBudget(epochs=2, batch_size=64, train_limit=300, seeds=2)
    trainer = BudgetTrainer("two_conv_dropout", tiny, budget)  # dropout: random state too
    reused = [trainer.run(seed) for seed in (1, 0, 1)]
    assert reused[0] == dataclasses.replace(reused[2], training_seconds=reused[0].training_seconds)
    set_seed(1)
    fresh = train(
        compare.build_model("two_conv_dropout"),
        tiny,
        epochs=2,
        batch_size=64,
        optimizer=compare.keras.optimizers.Adam(budget.learning_rate),
    )
    predictions = fresh.model.predict(tiny.x_test, verbose=0).argmax(axis=1)
    assert reused[0].test_errors == int((predictions != tiny.y_test).sum())


@pytest.mark.slow
def test_equal_budget_study_trains_each_architecture_once_per_seed(tiny):
    lines = []
    budget = EqualBudget(epochs=1, batch_size=64, train_limit=300, seeds=2, seed=3)
    study = equal_budget_study(
        budget,
        data=tiny,
        architectures=["three_conv_dense64", "two_conv_dropout"],
        say=lines.append,
    )
    assert [(r.write_up, r.seed) for r in study.runs] == [
        ("000", 3),
        ("000", 4),
        ("001", 3),
        ("001", 4),
    ]
    assert {r.test_images for r in study.runs} == {500}
    assert study.runs[0].params == REFERENCES["three_conv_dense64"].params
    for r in study.runs:
        assert 0.0 < r.test_accuracy <= 1.0
        assert r.test_errors == round((1 - r.test_accuracy) * 500)
        assert r.training_seconds > 0
    assert len(lines) == 4 and lines[0].startswith("seed 3, 000 three_conv_dense64: test accuracy")
    assert study.seconds >= sum(r.training_seconds for r in study.runs)


@pytest.mark.slow
def test_a_missing_documented_run_is_announced_with_an_estimate_then_trained(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_LESSONS_RESULTS_DIR", str(tmp_path / "saved"))
    for name in list(ARCHITECTURES)[1:]:
        (tmp_path / f"{name}.json").write_text(json.dumps(record(name, 0.99)))
    lines = []
    quick = ChapterParameters(
        epochs=1, batch_size=None, train_limit=200, seed=0, validation_size=5000
    )
    results = documented_results(tmp_path, quick, say=lines.append)
    announced = next(i for i, line in enumerate(lines) if "so it is trained here" in line)
    assert "1 epoch of 200 images at batch 32, about" in lines[announced]
    assert lines[announced + 1].startswith("In all about")
    assert lines[-1].startswith("000 three_conv_dense64: trained in")
    assert results["three_conv_dense64"]["train_images"] == 200
    assert not (tmp_path / "saved").exists()  # a quick run saves nothing


def test_level_with_best_in_words(study):
    assert study.level_with_best_sentence() == (
        "no other write-up is inside the noise of write-up 003"
    )
    runs = [
        run(name, s, 0.99) for name in ("two_conv_dropout", "three_conv_dense64") for s in (0, 1)
    ]
    assert EqualBudgetStudy(EqualBudget(), runs).level_with_best_sentence() == (
        "write-up 000 is inside the noise of write-up 001"
    )

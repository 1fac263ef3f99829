"""mnist_lessons.writeup: a write-up's procedure in one call, and when it saves its results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnist_lessons.chapter import ParameterError
from mnist_lessons.data import PreparedData
from mnist_lessons.evaluate import Evaluation
from mnist_lessons.models import ARCHITECTURES, REFERENCES, build_model
from mnist_lessons.tables import markdown_table
from mnist_lessons.train import TrainingResult
from mnist_lessons.writeup import (
    RESULTS_ENV,
    WriteupRun,
    read_results,
    results_file,
    run_writeup,
    writeup_settings,
)


@pytest.fixture
def results_env(monkeypatch):
    """No results folder redirection, whatever the test run set."""
    monkeypatch.delenv(RESULTS_ENV, raising=False)


def fake_run(architecture="three_conv_dense64", accuracy=0.99, **settings) -> WriteupRun:
    """A `WriteupRun` with fabricated data and results; the model is built, never trained."""
    labels = np.arange(100) % 10
    predictions = labels.copy()
    predictions[: round((1 - accuracy) * 100)] = (labels[: round((1 - accuracy) * 100)] + 1) % 10
    probabilities = np.eye(10, dtype=np.float32)[predictions]
    evaluation = Evaluation(
        loss=0.05,
        accuracy=float((predictions == labels).mean()),
        probabilities=probabilities,
        predictions=predictions,
        labels=labels,
        confusion=np.zeros((10, 10), np.int64),
    )
    images = np.zeros((20, 28, 28, 1), np.float32)
    data = PreparedData(images, labels[:20], images[:5], labels[:5], images, labels[:20])
    history = {"loss": [0.2, 0.1], "accuracy": [0.95, 0.97], "val_loss": [0.1, 0.09]}
    history["val_accuracy"] = [0.97, 0.98]
    training = TrainingResult(None, history, [2.0, 1.0])
    model = build_model(architecture, "float32")
    return WriteupRun(writeup_settings(architecture, **settings), data, model, training, evaluation)


def test_settings_fill_in_the_documented_values():
    settings = writeup_settings("two_conv_dropout")
    reference = REFERENCES["two_conv_dropout"]
    assert (settings.epochs, settings.batch_size) == (reference.epochs, reference.batch_size)
    assert settings.documented and settings.differences() == []
    assert settings.describe() == (
        f"reference write-up 001: {reference.epochs} epochs, batch size "
        f"{reference.batch_size}, optimizer {reference.optimizer}"
    )


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        ({"epochs": 1}, "epochs 1 instead of 3"),
        ({"batch_size": 64}, "batch_size 64 instead of 32"),
        ({"train_limit": 2000}, "train_limit 2000 instead of every image"),
        ({"validation_size": 1000}, "validation_size 1000 instead of 5000"),
    ],
)
def test_any_change_makes_a_run_undocumented(change, phrase):
    settings = writeup_settings("three_conv_dense64", **change)
    assert not settings.documented
    assert settings.differences() == [phrase]


def test_the_documented_values_given_explicitly_are_still_documented():
    reference = REFERENCES["keras_classic_cnn"]
    settings = writeup_settings(
        "keras_classic_cnn", epochs=reference.epochs, batch_size=reference.batch_size, seed=7
    )
    assert settings.documented


def test_bad_parameters_are_refused_before_anything_runs():
    with pytest.raises(ParameterError, match="Received: epochs=0"):
        run_writeup("three_conv_dense64", epochs=0)
    with pytest.raises(ParameterError, match="architecture must be one of"):
        run_writeup("lenet")


def test_a_quick_run_saves_nothing_and_says_why(tmp_path, results_env):
    run = fake_run(epochs=1, train_limit=2000)
    lines = run.finish(tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert run.saved_to is None
    assert "not saved" in lines[0]
    assert "epochs 1 instead of 3; train_limit 2000 instead of every image" in lines[0]


def test_a_documented_run_is_checked_and_saved_with_every_field(tmp_path, results_env):
    run = fake_run(accuracy=0.99)
    lines = run.finish(tmp_path)
    assert lines[0].startswith("Checked: the test accuracy is within 1.0 points")
    assert run.saved_to == results_file(tmp_path, "three_conv_dense64")
    saved = json.loads(run.saved_to.read_text())
    assert set(saved) == set(run.record())
    assert saved["documented"] is True and saved["precision"] == "float32"
    assert saved["params"] == REFERENCES["three_conv_dense64"].params
    assert saved["test_errors"] == 1 and saved["train_images"] == 20
    assert read_results(tmp_path, "three_conv_dense64") == saved


def test_every_architecture_records_the_same_fields(tmp_path, results_env):
    fields = {name: set(fake_run(name).record()) for name in ARCHITECTURES}
    assert len({frozenset(f) for f in fields.values()}) == 1


def test_a_documented_run_below_the_write_up_stops(tmp_path, results_env):
    run = fake_run(accuracy=0.9)
    with pytest.raises(AssertionError, match="more than 0.0100 below the reference"):
        run.finish(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_environment_redirects_where_documented_runs_save(tmp_path, monkeypatch):
    book_results = tmp_path / "book-results"
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "elsewhere"))
    run = fake_run()
    run.finish(book_results)
    assert not book_results.exists()
    assert run.saved_to == tmp_path / "elsewhere" / "three_conv_dense64.json"


def test_results_of_an_undocumented_run_are_not_read(tmp_path):
    path = results_file(tmp_path, "two_conv_dropout")
    path.write_text(json.dumps({"epochs": 1, "test_accuracy": 0.9}))
    assert read_results(tmp_path, "two_conv_dropout") is None
    path.write_text(json.dumps({"epochs": 1, "documented": False}))
    assert read_results(tmp_path, "two_conv_dropout") is None
    assert read_results(tmp_path, "three_conv_dense64") is None


def test_reported_table():
    run = fake_run(accuracy=0.99)
    table = run.reported_table()
    assert table.splitlines()[:2] == ["| figure | reported | measured |", "| --- | ---: | ---: |"]
    assert "| test accuracy | 0.9895 | 0.9900 |" in table


def test_the_reported_figure_is_set_against_the_recipe_s_spread_over_seeds():
    """Write-up 001's documented recipe is the dropout study's first arm (committed)."""
    from mnist_lessons.stats import prediction_interval
    from mnist_lessons.studies import load_study

    accuracies = load_study("dropout").accuracies("dropout")
    one_run = prediction_interval(accuracies)
    verdict = fake_run("two_conv_dropout", accuracy=0.99).reported_verdict()
    assert verdict["study_name"] == "dropout" and verdict["study_seeds"] == 5
    assert verdict["study_mean"] == pytest.approx(accuracies.mean())
    assert (verdict["study_run_low"], verdict["study_run_high"]) == (one_run.low, one_run.high)
    assert verdict["verdict_sentence"].startswith("the reported 0.9934 lies inside the range")
    assert verdict["run_in_range"] == ("inside" if one_run.contains(0.99) else "outside")
    assert "level with" not in verdict["verdict_sentence"]


def test_markdown_table():
    table = markdown_table(["a", "b"], [[1, "x"], [2.5, "y"]], align="rl")
    assert table == "| a | b |\n| ---: | --- |\n| 1 | x |\n| 2.5 | y |"
    assert table._repr_markdown_() == str(table)
    with pytest.raises(ValueError, match="every row must have 2 cells"):
        markdown_table(["a", "b"], [[1]])


@pytest.mark.slow
def test_run_writeup_trains_evaluates_and_leaves_the_results_alone(
    mnist, tmp_path, results_env, precision
):
    run = run_writeup(
        "three_conv_three_pool",
        epochs=1,
        train_limit=1000,
        results_dir=tmp_path,
        verbose=False,
    )
    assert run.training.epochs == 1 and len(run.data.x_train) == 1000
    assert run.model.count_params() == REFERENCES["three_conv_three_pool"].params
    assert 0.3 < run.evaluation.accuracy <= 1
    assert list(tmp_path.iterdir()) == []
    assert run.record()["documented"] is False
    assert run.record()["precision"] == precision


def test_the_glued_figures_carry_the_wilson_interval_and_the_study_s_verdict(monkeypatch):
    glued = {}
    monkeypatch.setattr(
        "myst_nb.glue", lambda name, value, display=True: glued.update({name: value})
    )
    run = fake_run("two_conv_dropout", accuracy=0.99)
    run.glue()
    # 99 of 100 fabricated test images right: Wilson's 95 % interval is 0.9455 to 0.9982.
    assert (glued["test_accuracy_low"], glued["test_accuracy_high"]) == (
        pytest.approx(0.9455, abs=1e-4),
        pytest.approx(0.9982, abs=1e-4),
    )
    assert glued["verdict_sentence"] == run.reported_verdict()["verdict_sentence"]
    assert not any(key.startswith("accuracy_") for key in glued)


def test_a_variant_is_set_against_its_run_image_by_image():
    from mnist_lessons.writeup import VariantRun

    run = fake_run("two_conv_dropout", accuracy=0.99)
    variant = VariantRun("two_conv_no_dropout", None, None, fake_run(accuracy=0.9).evaluation)
    difference = variant.against(run)
    assert difference.test == "McNemar's exact test"
    assert difference.points == pytest.approx(-9.0) and difference.n == 9
    assert difference.sentence().startswith("lower by 9.00 points (9 images")


def test_a_variant_must_belong_to_the_run_it_is_compared_with():
    from mnist_lessons.writeup import run_variant

    run = fake_run("three_conv_dense64")
    with pytest.raises(ValueError, match="two_conv_no_dropout is a variant of two_conv_dropout"):
        run_variant("two_conv_no_dropout", run)
    with pytest.raises(ValueError, match="Unknown variant 'no_such'. Choose one of: two_conv_no"):
        run_variant("no_such", run)


def test_run_writeup_takes_resolved_settings_but_not_settings_twice():
    from mnist_lessons.data import prepare_data

    rng = np.random.default_rng(0)
    arrays = (
        (rng.integers(0, 256, (300, 28, 28), dtype=np.uint8), np.arange(300) % 10),
        (rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), np.arange(20) % 10),
    )
    settings = writeup_settings("three_conv_three_pool", epochs=1, train_limit=200)
    data = prepare_data(arrays, validation_size=50, train_limit=200)
    with pytest.raises(ValueError, match="either settings or epochs, batch_size"):
        run_writeup(settings, epochs=2, data=data)
    run = run_writeup(settings, data=data, verbose=False)
    assert run.settings is settings and run.training.epochs == 1
    assert run.model.name == "three_conv_three_pool"

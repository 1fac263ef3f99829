"""mnist_lessons.chapter and mnist_lessons.checks: the parameter checks every chapter runs first.

Every bad value a reader can type into a parameters cell is checked here, once, as a unit test;
tests/test_notebooks.py checks that each chapter runs these checks first.
"""

from __future__ import annotations

import numpy as np
import pytest

from mnist_lessons.chapter import ParameterError, check_parameters
from mnist_lessons.checks import check_choice, check_int


def test_defaults_mean_as_documented():
    params = check_parameters()
    assert params.epochs is None and params.batch_size is None and params.train_limit is None
    assert params.seed == 0 and params.validation_size == 5000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"epochs": 0},
            "epochs must be an integer of at least 1. Received: epochs=0",
        ),
        ({"epochs": "abc"}, "Received: epochs='abc'"),
        ({"epochs": 2.5}, "Received: epochs=2.5"),
        ({"epochs": True}, "Received: epochs=True"),
        ({"batch_size": 0}, "batch_size must be an integer from 1 to 60000"),
        ({"batch_size": -1}, "Received: batch_size=-1"),
        (
            {"train_limit": 5},
            "train_limit must be an integer from 10 to 55000. Received: train_limit=5",
        ),
        ({"train_limit": 100000}, "Received: train_limit=100000"),
        ({"train_limit": 59000}, "Received: train_limit=59000"),
        ({"seed": -3}, "seed must be an integer from 0 to 4294967295. Received: seed=-3"),
        (
            {"architecture": "resnet"},
            "architecture must be one of three_conv_dense64, two_conv_dropout, ",
        ),
        ({"architecture": "lenet"}, "Received: architecture='lenet'"),
        ({"validation_size": 40000}, "validation_size must be an integer from 0 to 30000"),
        ({"validation_size": 1.5}, "Received: validation_size=1.5"),
        ({"seeds": 0}, "seeds must be an integer from 1 to 50"),
    ],
)
def test_bad_values_name_the_parameter_and_the_accepted_values(kwargs, message):
    with pytest.raises(ParameterError) as caught:
        check_parameters(**kwargs)
    assert message in str(caught.value)


def test_train_limit_bound_follows_the_validation_size():
    assert check_parameters(train_limit=60000, validation_size=0).train_limit == 60000


def test_numpy_integers_are_integers():
    assert check_parameters(epochs=np.int64(3)).epochs == 3
    assert type(check_int("n", np.int32(4), minimum=1)) is int


@pytest.mark.parametrize(
    ("minimum", "maximum", "value", "sentence"),
    [
        (1, None, 0, "n must be an integer of at least 1. Received: n=0"),
        (None, 5, 6, "n must be an integer of at most 5. Received: n=6"),
        (1, 5, 9, "n must be an integer from 1 to 5. Received: n=9"),
        (None, None, "x", "n must be an integer. Received: n='x'"),
    ],
)
def test_one_sentence_per_mistake(minimum, maximum, value, sentence):
    with pytest.raises(ParameterError) as caught:
        check_int("n", value, minimum=minimum, maximum=maximum)
    assert str(caught.value) == sentence


def test_none_is_refused_unless_it_means_something():
    with pytest.raises(ParameterError, match="Received: n=None"):
        check_int("n", None, minimum=1)
    assert check_int("n", None, minimum=1, none_means="all") is None


def test_check_choice():
    assert check_choice("colour", "red", ["red", "blue"]) == "red"
    with pytest.raises(ParameterError, match="colour must be one of red, blue. Received: "):
        check_choice("colour", "green", ["red", "blue"])


def test_glue_figures_glues_each_name_without_displaying_it(monkeypatch):
    from mnist_lessons.chapter import glue_figures

    calls = []
    monkeypatch.setattr("myst_nb.glue", lambda *args, **kwargs: calls.append((args, kwargs)))
    glue_figures(leak_gain=0.12, best_epoch=7)
    assert calls == [
        (("leak_gain", 0.12), {"display": False}),
        (("best_epoch", 7), {"display": False}),
    ]


def test_chapter_times_lists_each_chapter_at_both_settings(tmp_path):
    from mnist_lessons.chapter import chapter_times

    record = {
        "documented": {
            "data": {"seconds": 12.6, "machine": "m", "date": "2026-12-06"},
            "errors": {"seconds": 310.0, "machine": "m", "date": "2026-12-06"},
        },
        "quick": {"data": {"seconds": 9.2, "machine": "m", "date": "2026-12-06"}},
        "quick_parameters": {"epochs": 1, "train_limit": 3000},
    }
    table = chapter_times(record, {"data": "Data", "errors": "Errors", "intro": "Intro"})
    assert table.splitlines() == [
        "| chapter | documented settings | quick settings |",
        "| --- | ---: | ---: |",
        "| Data | 13 s | 9 s |",
        "| Errors | 5.2 min | not measured |",
        "| Intro | not measured | not measured |",
    ]
    with pytest.raises(ValueError, match="names chapters the book does not have: errors"):
        chapter_times(record, {"data": "Data"})


def test_processor_name_reads_the_model_name_and_the_usable_cores(tmp_path):
    from mnist_lessons.chapter import processor_name

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9R14 96-Core Processor\n")
    name, cores = processor_name(str(cpuinfo)).rsplit(", ", 1)
    assert name == "AMD EPYC 9R14 96-Core Processor"
    assert cores.endswith(" cores") and int(cores.split()[0]) >= 1
    assert processor_name(str(tmp_path / "missing")).endswith(" cores")


def test_execute_records_times_under_their_settings_and_refuses_other_quick_settings(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    from execute import record_timings

    path = tmp_path / "timings.json"
    record_timings(path, {"data": 12.5, "total": 12.5}, {})
    record_timings(path, {"data": 3.0, "total": 3.0}, {"epochs": 1})
    record_timings(path, {"errors": 40.0, "total": 40.0}, {})
    import json

    record = json.loads(path.read_text())
    assert record["documented"]["data"]["seconds"] == 12.5
    assert record["documented"]["errors"]["seconds"] == 40.0
    assert record["quick"] == {"data": record["quick"]["data"]}
    assert record["quick"]["data"]["seconds"] == 3.0
    assert record["quick_parameters"] == {"epochs": 1}
    assert "total" not in record["documented"]
    with pytest.raises(SystemExit, match="quick timings at"):
        record_timings(path, {"data": 2.0}, {"epochs": 2})

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

"""mnist_lessons.chapter: the parameter checks every chapter runs first."""

from __future__ import annotations

import pytest

from mnist_lessons.chapter import ParameterError, check_parameters


def test_defaults_mean_as_documented():
    params = check_parameters()
    assert params.epochs is None and params.batch_size is None and params.train_limit is None
    assert params.seed == 0 and params.validation_size == 5000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs must be a positive integer .*Received: epochs=0"),
        ({"epochs": "abc"}, "epochs must be a positive integer .*Received: epochs='abc'"),
        ({"batch_size": 0}, "batch_size must be an integer from 1 to 60000"),
        ({"train_limit": 5}, "train_limit must be None or an integer from 10 .* to 55000"),
        ({"train_limit": 59000}, "Received: train_limit=59000"),
        ({"seed": -3}, "seed must be an integer from 0"),
        ({"architecture": "resnet"}, "architecture must be one of three_conv_dense64, "),
        ({"validation_size": 40000}, "validation_size must be an integer from 0 to 30000"),
        ({"seeds": 0}, "seeds must be an integer from 1 to 50"),
    ],
)
def test_bad_values_name_the_parameter_and_the_accepted_values(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        check_parameters(**kwargs)


def test_train_limit_bound_follows_the_validation_size():
    assert check_parameters(train_limit=60000, validation_size=0).train_limit == 60000

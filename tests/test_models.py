"""mnist_lessons.models: the registry, parameter counts, reference facts."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mnist_lessons.models import (
    ARCHITECTURES,
    BY_WRITE_UP,
    REFERENCES,
    build_model,
    check_architecture,
    layer_table,
)

EXPECTED_PARAMS = {
    "000": 93_322,
    "001": 150_858,
    "002": 1_674_570,
    "003": 1_199_882,
    "004": 81_066,
}


def test_registry_holds_the_five_write_ups():
    assert sorted(BY_WRITE_UP) == sorted(EXPECTED_PARAMS)
    assert set(ARCHITECTURES) == set(REFERENCES)


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_parameter_count_matches_the_write_up(name):
    model = build_model(name)
    write_up = REFERENCES[name].write_up
    assert model.count_params() == EXPECTED_PARAMS[write_up]
    assert REFERENCES[name].params == EXPECTED_PARAMS[write_up]


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_model_maps_images_to_ten_probabilities(name):
    model = build_model(name)
    assert model.input_shape == (None, 28, 28, 1)
    out = np.asarray(model(np.random.default_rng(0).random((3, 28, 28, 1), np.float32)))
    assert out.shape == (3, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    assert model.layers[-1].name == "digit"


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_builder_docstring_names_its_write_up_and_what_is_reconstructed(name):
    doc = " ".join(ARCHITECTURES[name].__doc__.split())
    assert f"reference write-up {REFERENCES[name].write_up}" in doc
    assert any(
        word in doc
        for word in ("not given", "not documented", "reconstructed", "are not", "does not")
    )


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_reference_facts_are_complete(name):
    ref = REFERENCES[name]
    assert ref.epochs > 0 and ref.batch_size > 0
    assert 0.9 < ref.reported_test_accuracy < 1.0
    assert isinstance(ref.make_optimizer(), keras.optimizers.Optimizer)
    assert ref.reconstructed


def test_documented_training_settings():
    epochs = {ref.write_up: ref.epochs for ref in REFERENCES.values()}
    assert epochs == {"000": 3, "001": 10, "002": 10, "003": 12, "004": 5}
    classic = REFERENCES["keras_classic_cnn"]
    assert classic.batch_size == 128
    optimizer = classic.make_optimizer()
    assert type(optimizer).__name__ == "Adadelta"
    assert float(optimizer.learning_rate) == pytest.approx(1.0)


def test_builders_return_fresh_models():
    a, b = build_model("three_conv_dense64"), build_model("three_conv_dense64")
    assert a is not b
    assert not np.array_equal(
        a.get_layer("conv1").get_weights()[0], b.get_layer("conv1").get_weights()[0]
    )


def test_unknown_architecture_lists_the_accepted_names():
    with pytest.raises(
        ValueError,
        match="Unknown architecture 'lenet'. Choose one of: three_conv_dense64, two_conv_dropout",
    ):
        check_architecture("lenet")


def test_layer_table_sums_to_the_parameter_count():
    model = build_model("three_conv_three_pool")
    rows = layer_table(model)
    assert sum(r["params"] for r in rows) == 81_066
    assert rows[-3]["output_shape"] == (64,) or any(r["output_shape"] == (1, 1, 64) for r in rows)
    flatten = next(r for r in rows if r["type"] == "Flatten")
    assert flatten["output_shape"] == (64,)

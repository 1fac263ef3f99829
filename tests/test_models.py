"""mnist_lessons.models: the registry, parameter counts, reference facts."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mnist_lessons.models import (
    ARCHITECTURES,
    BFLOAT16_CPU_FLAGS,
    BY_WRITE_UP,
    PRECISION_VARIABLE,
    REFERENCES,
    _cpu_flags,
    architecture_differences,
    build_model,
    check_architecture,
    default_precision,
    layer_table,
    precision_of,
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


def test_a_figure_in_whole_percent_is_known_to_be_rounded():
    # Write-up 002 reports "around 97 %"; the others give four decimals.
    rounded = [ref.write_up for ref in REFERENCES.values() if ref.reported_step]
    assert rounded == ["002"]
    assert REFERENCES["one_conv_wide_dense"].reported_text == "about 97 % (96.5 to 97.5 %)"
    assert REFERENCES["three_conv_dense64"].reported_text == "0.9895"


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


@pytest.mark.parametrize("name", ["three_conv_dense64", "keras_classic_cnn"])
def test_mixed_precision_computes_in_bfloat16_with_a_float32_output(name):
    model = build_model(name, "mixed_bfloat16")
    policies = [layer.dtype_policy.name for layer in model.layers]
    assert policies[:-1] == ["mixed_bfloat16"] * (len(policies) - 1)
    assert policies[-1] == "float32"
    assert precision_of(model) == "mixed_bfloat16"
    assert model.count_params() == REFERENCES[name].params
    assert all(w.dtype == "float32" for w in model.weights)  # weights stay float32
    probabilities = keras.ops.convert_to_numpy(model(np.zeros((2, 28, 28, 1), "float32")))
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_float32_models_have_only_float32_layers():
    model = build_model("two_conv_dropout", "float32")
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    assert precision_of(model) == "float32"


def test_an_unknown_precision_is_rejected_with_the_choices():
    with pytest.raises(ValueError, match="float32, mixed_bfloat16. Received: 'float16'"):
        build_model("three_conv_dense64", "float16")


def test_the_environment_variable_chooses_the_default_precision(monkeypatch):
    monkeypatch.setenv(PRECISION_VARIABLE, "float32")
    assert default_precision() == "float32"
    assert precision_of(build_model("three_conv_dense64")) == "float32"
    monkeypatch.setenv(PRECISION_VARIABLE, "mixed_bfloat16")
    assert precision_of(build_model("three_conv_dense64")) == "mixed_bfloat16"
    monkeypatch.setenv(PRECISION_VARIABLE, "half")
    with pytest.raises(ValueError, match=r"\$MNIST_LESSONS_PRECISION must be one of"):
        default_precision()


def test_without_the_variable_the_default_follows_the_processor(monkeypatch):
    monkeypatch.delenv(PRECISION_VARIABLE, raising=False)
    expected = "mixed_bfloat16" if BFLOAT16_CPU_FLAGS & _cpu_flags() else "float32"
    assert default_precision() == expected


def test_the_bfloat16_flags_are_the_avx512_and_amx_ones():
    assert {"avx512_bf16", "amx_bf16"} == BFLOAT16_CPU_FLAGS


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n")
    assert _cpu_flags(cpuinfo) == {"fpu", "sse2", "avx512f", "avx512_bf16"}
    assert _cpu_flags(tmp_path / "missing") == set()


def test_variants_change_only_what_they_say():
    from mnist_lessons.models import VARIANTS

    def layers(model):
        return [(layer.name, type(layer).__name__) for layer in model.layers]

    for name, variant in VARIANTS.items():
        model, base = build_model(name, "float32"), build_model(variant.architecture, "float32")
        assert model.name == name
        assert layers(model) == [entry for entry in layers(base) if entry[0] not in variant.remove]
        for layer_name, config in variant.configure.items():
            changed = model.get_layer(layer_name).get_config()
            assert {k: changed[k] for k in config} == config
    assert build_model("two_conv_no_dropout", "float32").count_params() == 150_858
    assert build_model("one_conv_linear_dense", "float32").count_params() == 1_674_570
    # Without pool3 the head reads 3×3×64 = 576 numbers: 576 × 64 + 64 weights in dense1.
    assert build_model("three_conv_two_pool", "float32").count_params() == 81_066 - 4_160 + 36_928


def test_a_variant_of_a_missing_layer_is_refused():
    from mnist_lessons.models import Variant

    with pytest.raises(ValueError, match="three_conv_dense64 has no layer pool9"):
        Variant("three_conv_dense64", "broken", remove=("pool9",)).build()


def test_layer_flops_count_multiply_adds_twice():
    from mnist_lessons.models import layer_flops

    flops = layer_flops(build_model("keras_classic_cnn", "float32"))
    assert flops == {
        "conv1": 2 * 26 * 26 * 32 * 3 * 3 * 1,
        "conv2": 2 * 24 * 24 * 64 * 3 * 3 * 32,
        "dense": 2 * 9216 * 128,
        "digit": 2 * 128 * 10,
    }


def test_each_layer_is_described_in_a_few_words():
    from mnist_lessons.models import describe_layer

    words = [describe_layer(layer) for layer in build_model("three_conv_dense64", "float32").layers]
    assert words == [
        "Conv 32, 3×3, ReLU",
        "Max pool 2×2",
        "Conv 64, 3×3, ReLU",
        "Max pool 2×2",
        "Conv 64, 3×3, ReLU",
        "Flatten",
        "Dense 64, ReLU",
        "Dense 10, softmax",
    ]
    wide = [describe_layer(layer) for layer in build_model("one_conv_wide_dense", "float32").layers]
    assert wide[0] == "Conv 32, 3×3, same, ReLU" and "Dropout 0.2" in wide
    separate = build_model("three_conv_three_pool", "float32").layers
    assert [describe_layer(layer) for layer in separate[:2]] == ["Conv 64, 3×3", "ReLU"]


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_the_diagram_draws_one_box_per_layer_with_its_shape_and_parameters(name):
    import matplotlib

    matplotlib.use("Agg")
    from mnist_lessons.plots import network_diagram

    model = build_model(name, "float32")
    fig = network_diagram(model)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    # The input, then per layer: its description, then its output's shape with its parameters.
    assert texts[:2] == ["Input image", "28×28×1"]
    assert len(texts) == 2 * (len(model.layers) + 1)
    boxes = [p for p in ax.patches if type(p).__name__ == "FancyBboxPatch"]
    assert len(boxes) == len(model.layers) + 1
    # A long label is broken at a comma onto two lines.
    assert all(len(line) <= 16 or ", " not in line for text in texts for line in text.splitlines())
    shown = sum(
        int(line.split()[0].replace(",", ""))
        for text in texts
        for line in text.splitlines()
        if line.endswith(" params")
    )
    assert shown == model.count_params()
    assert ax.get_title().startswith(f"{model.count_params():,} parameters")
    matplotlib.pyplot.close(fig)


def _written_out() -> keras.Sequential:
    """Write-up 000's network as a chapter writes it: no layer names."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_a_network_written_out_gets_the_registry_weights(precision):
    keras.utils.set_random_seed(7)
    registry = build_model("three_conv_dense64", precision)
    keras.utils.set_random_seed(7)
    written = build_model("three_conv_dense64", precision, network=_written_out)
    assert precision_of(written) == precision
    assert len(written.get_weights()) == len(registry.get_weights()) == 10
    for ours, theirs in zip(written.get_weights(), registry.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_architecture_differences_name_the_layer_and_setting():
    assert architecture_differences(_written_out(), "three_conv_dense64") == []
    changed = keras.Sequential(
        [*_written_out().layers[:-2], keras.layers.Dense(128, activation="relu")]
    )
    found = architecture_differences(changed, "three_conv_dense64")
    assert found[0] == "it has 7 layers, not 8"
    assert any("units is 128, not 64" in line for line in found)
    swapped = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten()])
    assert architecture_differences(swapped, "three_conv_dense64")[1].endswith(
        "is a Flatten, not a Conv2D"
    )


def test_build_model_refuses_a_network_that_is_not_the_named_one():
    with pytest.raises(ValueError, match="not the book's two_conv_dropout.*chapter 000's steps"):
        build_model("two_conv_dropout", "float32", network=_written_out)

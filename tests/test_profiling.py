"""mnist_lessons.profiling: where one epoch of a fast recipe's time goes."""

from __future__ import annotations

import os

import pytest

from mnist_lessons.bench import forward_flops
from mnist_lessons.data import prepare_data
from mnist_lessons.profiling import (
    EXECUTOR,
    INPUT,
    LOSS,
    OPTIMIZER,
    OTHER,
    OVERHEAD_PARTS,
    TRACING,
    part_of,
    profile_recipe,
)
from mnist_lessons.speedrun import RECIPE_99, build_fast_model

from .test_cli import run_writing_json

LAYERS = [layer.name for layer in build_fast_model(RECIPE_99).layers]
MODEL = "fast_99_percent"


@pytest.mark.parametrize(
    "op, expected",
    [
        (f"{MODEL}_1/conv1_1/convolution:_MklNativeConv2D", ("conv1", "forward")),
        (
            f"gradient_tape/{MODEL}_1/conv2_1/convolution/Conv2DBackpropInput:"
            "_MklNativeConv2DBackpropInput",
            ("conv2", "backward"),
        ),
        (f"gradient_tape/{MODEL}_1/bn1_1/moments/sub:Sub", ("bn1", "backward")),
        (f"{MODEL}/pool2/MaxPool2d:_MklNativeMaxPool", ("pool2", "forward")),
        (f"{MODEL}_1/digit_1/Softmax:_MklSoftmax", ("digit", "forward")),
        ("adam/Sqrt_7:Sqrt", (OPTIMIZER, "forward")),
        (
            "compile_loss/categorical_crossentropy/x:SoftmaxCrossEntropyWithLogits",
            (LOSS, "forward"),
        ),
        ("Iterator::Root::Map::BatchV2", (INPUT, "forward")),
        ("GatherV2:GatherV2", (INPUT, "forward")),
        ("AddN_3:AddN", (OTHER, "forward")),
        # A scope of another network, or a layer this network does not have, is not a layer.
        ("other_net_1/conv1_1/convolution:Conv2D", (OTHER, "forward")),
        (f"{MODEL}_1/conv9_1/convolution:Conv2D", (OTHER, "forward")),
    ],
)
def test_each_operation_goes_to_its_layer_and_direction(op, expected):
    assert part_of(op, MODEL, LAYERS) == expected


def test_a_second_optimizer_in_the_process_is_still_the_optimizer():
    assert part_of("adam_1/Mul_18:Mul", MODEL, LAYERS, "adam_1") == (OPTIMIZER, "forward")
    assert part_of("adam_1/Mul_18:Mul", MODEL, LAYERS, "adam") == (OTHER, "forward")


@pytest.fixture(scope="module")
def profile(mnist):
    data = prepare_data(mnist, train_limit=2560, seed=0)
    return profile_recipe(RECIPE_99, data, seed=0)


@pytest.mark.slow
def test_a_profile_counts_every_layer_forward_and_backward(profile):
    parts = {p.part: p for p in profile.parts}
    assert profile.steps == 20 and profile.images == 2560
    assert list(parts)[-len(OVERHEAD_PARTS) :] == list(OVERHEAD_PARTS)
    for name in ("conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2", "pool2", "digit"):
        assert parts[name].forward > 0 and parts[name].backward > 0, name
    for name in (OPTIMIZER, LOSS, INPUT, EXECUTOR, TRACING):
        assert parts[name].seconds > 0, name
    # The convolutions' own kernels are part of their layer's forward time, and ran at a rate.
    for name in ("conv1", "conv2"):
        assert 0 < parts[name].kernel_seconds < parts[name].forward
        assert parts[name].flops_per_image > 0
    assert profile.forward_flops == forward_flops(build_fast_model(RECIPE_99))


@pytest.mark.slow
def test_a_profile_adds_up_to_no_more_than_the_cores_could_do(profile):
    # Self times do not overlap within a thread; across threads they can add up to more than
    # the wall time, but not to more than every core busy for all of it.
    assert 0.3 * profile.wall_seconds < profile.counted_seconds
    assert profile.counted_seconds < (os.cpu_count() + 1) * profile.wall_seconds
    assert profile.plain_seconds > 0 and 0 < profile.matmul_share < 1
    table = profile.table().splitlines()
    assert len(table) == 2 + len(profile.parts) + 1
    shares = [float(line.split("|")[4].strip().rstrip("%")) for line in table[2:-1]]
    assert sum(shares) == pytest.approx(100, abs=len(shares))
    assert f"{profile.steps} steps of 128" in profile.summary()


@pytest.mark.slow
def test_the_profile_command_prints_and_writes_the_profile(tmp_path):
    done, record = run_writing_json(tmp_path, "profile")
    assert "| `conv2` |" in done.stdout and "graph tracing" in done.stdout
    assert record["recipe"] == "99" and record["images"] == 2000 and record["steps"] == 16
    parts = {p["part"]: p for p in record["parts"]}
    assert parts["conv2"]["backward_seconds"] > 0
    assert 0 < record["achieved_gflops"] < record["matmul_gflops"]

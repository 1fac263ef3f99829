"""mnist_lessons.peers: the published recipes' ports, their schedule, runs and the race table;
and the training data path they share with the book's recipes (`speedrun.training_inputs`)."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from mnist_lessons.backend import BACKEND, training_batches
from mnist_lessons.checks import ParameterError
from mnist_lessons.data import prepare_data
from mnist_lessons.peers import (
    PEERS,
    PeerRun,
    RaceEntry,
    TorchOneCycle,
    build_keras_io,
    build_tuomaso,
    median_seconds_to,
    race_table,
    run_peer,
)
from mnist_lessons.speedrun import SpeedrunResult

TORCH_ONE_CYCLE = """
import json, sys, torch
total = int(sys.argv[1])
weight = torch.nn.Parameter(torch.zeros(1))
optimizer = torch.optim.Adam([weight], lr=0.01)
schedule = torch.optim.lr_scheduler.OneCycleLR(
    optimizer, max_lr=0.01, total_steps=total, cycle_momentum=False
)
rates = []
for _ in range(total):
    rates.append(optimizer.param_groups[0]["lr"])
    optimizer.step()
    schedule.step()
print(json.dumps(rates))
"""


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="needs PyTorch, which `make backends` (part of `make test`) installs; `make install` "
    "alone does not",
)
def test_torch_one_cycle_gives_pytorchs_rate_at_every_step():
    total = 215  # one epoch of 55,000 images at batch 256
    done = subprocess.run(
        [sys.executable, "-c", TORCH_ONE_CYCLE, str(total)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    expected = json.loads(done.stdout.strip().splitlines()[-1])
    schedule = TorchOneCycle(0.01, total)
    ours = [float(schedule(step)) for step in range(total)]
    np.testing.assert_allclose(ours, expected, rtol=1e-4)  # float32 against float64
    assert max(ours) == pytest.approx(0.01, rel=1e-3) and ours[0] == pytest.approx(
        0.01 / 25, rel=1e-5
    )
    assert ours[-1] == pytest.approx(0.01 / 25 / 1e4, rel=1e-3)


def test_the_tuomaso_port_pools_before_relu_and_counts_like_pytorch():
    model = build_tuomaso()
    names = [layer.name for layer in model.layers]
    assert names == [
        "standardise",
        "conv1",
        "pool1",
        "relu1",
        "conv2",
        "pool2",
        "relu2",
        "flatten",
        "dense",
        "digit",
    ]
    # 24·5·5 + 24, 32·24·3·3 + 32, 800·256 + 256, 256·10 + 10: PyTorch's Net has the same.
    assert model.count_params() == 624 + 6_944 + 205_056 + 2_570
    assert model.get_layer("flatten").output.shape[1:] == (800,)
    # Standardised with torchvision's MNIST mean and std: paper → -0.42, ink → 2.82.
    standardise = model.get_layer("standardise")
    out = np.asarray(standardise(np.array([[0.0], [1.0]], np.float32)))
    np.testing.assert_allclose(out.ravel(), [-0.1307 / 0.3081, (1 - 0.1307) / 0.3081], rtol=1e-5)
    # PyTorch's initialisation: weights and biases within ±1/√fan_in, and filling that range.
    for name, fan_in in (("conv1", 25), ("conv2", 216), ("dense", 800), ("digit", 256)):
        kernel, bias = (np.asarray(w) for w in model.get_layer(name).get_weights())
        bound = 1 / math.sqrt(fan_in)
        assert np.abs(kernel).max() <= bound and np.abs(bias).max() <= bound
        assert np.abs(kernel).max() > 0.9 * bound


def test_the_keras_io_port_is_the_example_layer_for_layer():
    model = build_keras_io()
    assert model.count_params() == 34_826  # the example's own model.summary()
    assert model.get_layer("dropout").rate == 0.5
    assert PEERS["keras_io"].epochs == 15 and PEERS["keras_io"].batch_size == 128
    assert PEERS["tuomaso"].epochs == 1 and PEERS["tuomaso"].batch_size == 256
    for peer in PEERS.values():
        assert peer.choices and all("55,000" in c for c in peer.choices[:1])


def _run(accuracies, seconds=None, seed=0, test_accuracy=None):
    """A peer's run whose validation accuracy after each epoch is ``accuracies``."""
    seconds = seconds or [float(i + 1) for i in range(len(accuracies))]
    test = accuracies[-1] if test_accuracy is None else test_accuracy
    return PeerRun("p", seed, tuple(seconds), tuple(accuracies), test)


def test_a_run_reaches_a_target_at_its_first_epoch_there():
    run = _run([0.985, 0.9899, 0.9900, 0.9950], [3.0, 6.0, 9.0, 12.0])
    assert run.seconds_to(0.99, 10_000) == 9.0 and run.epochs_to(0.99, 10_000) == 3
    assert run.seconds_to(0.995, 10_000) == 12.0
    assert run.seconds_to(0.996, 10_000) is None and run.epochs_to(0.996, 10_000) is None
    assert run.seconds == 12.0 and run.test_accuracy == 0.995
    # The book's recipe joins by its validation accuracy; its test score is only reported.
    once = PeerRun.from_speedrun(SpeedrunResult("r", 4, 9.5, 0.9870, 0.9912), 3)
    assert once.epochs == (3,) and once.epochs_to(0.99, 5000) == 3
    assert once.seconds_to(0.99, 5000) == 9.5 and once.seed == 4 and once.peer == "r"
    assert once.test_accuracy == 0.9870
    with pytest.raises(ValueError, match="only with a validation split"):
        PeerRun.from_speedrun(SpeedrunResult("r", 4, 9.5, 0.9912, None), 3)


def test_a_run_stops_on_validation_never_on_its_test_score():
    # Validation reaches 99 % at epoch 2; the test score (0.9850) plays no part in it.
    run = _run([0.985, 0.9910], [3.0, 6.0], test_accuracy=0.9850)
    assert run.seconds_to(0.99, 5000) == 6.0 and run.epochs_to(0.99, 5000) == 2


def test_the_median_time_to_a_target_counts_a_miss_as_slowest():
    hit = [_run([0.991], [5.0]), _run([0.992], [7.0]), _run([0.989], [4.0])]
    # 5, 7 and a miss: the median is the 7.
    assert median_seconds_to(hit, 0.99, 10_000) == 7.0
    # 7 and a miss: the median lies halfway to the miss, so half the runs never got there.
    assert median_seconds_to([hit[1], hit[2]], 0.99, 10_000) is None
    # Two misses of three.
    assert median_seconds_to([hit[2], hit[2], hit[0]], 0.99, 10_000) is None
    with pytest.raises(ValueError, match="empty"):
        median_seconds_to([], 0.99, 10_000)


def test_race_table_sets_times_to_the_target_against_the_first_entry():
    ours = RaceEntry(
        "ours",
        tuple(
            PeerRun.from_speedrun(SpeedrunResult("r", s, 4.0 + s, 0.991, 0.991), 2)
            for s in range(3)
        ),
        2,
        128,
    )
    slow = RaceEntry("slow", (_run([0.98, 0.991], [6.0, 12.0]),), 15, 128)
    never = RaceEntry("never", (_run([0.985], [3.0]),), 1, 256)
    table = race_table([ours, slow, never], 10_000)
    lines = table.splitlines()
    assert "median seconds to 99 % on validation" in lines[0]
    assert lines[2].split("|")[1:-1] == [
        " ours ",
        " 3 ",
        " 2 of 2 ",
        " 128 ",
        " 0.9910 (0.9910) ",
        " 3 of 3 ",
        " 5.0 ",
        " 5.0 ",
        " 1.00× ",
    ]
    assert "| 2 of 15 |" in lines[3] and "| 12.0 | 12.0 | 2.40× |" in lines[3]
    assert "| 0 of 1 |" in lines[4] and "not reached | – |" in lines[4]
    with pytest.raises(ValueError, match="empty"):
        race_table([], 10_000)


def test_run_peer_trains_epoch_by_epoch_and_stops_at_a_target(mnist):
    data = prepare_data(mnist, validation_size=500, train_limit=3000, seed=0)
    tuomaso = run_peer("tuomaso", data, seed=0)
    assert tuomaso.peer == "tuomaso" and len(tuomaso.epoch_seconds) == 1
    # 12 steps of one cycle on 3,000 images: well above chance, far from the full run.
    assert 0.5 < tuomaso.test_accuracy <= 1 and tuomaso.seconds > 0
    keras_io = run_peer("keras_io", data, seed=1, epochs=3, stop_at=0.5)
    # Past 50 % on the validation split after its first epoch, so it stops there.
    assert len(keras_io.epoch_val_accuracies) == 1
    assert keras_io.epochs_to(0.5, len(data.y_val)) == 1 and 0.5 < keras_io.test_accuracy <= 1
    longer = run_peer("keras_io", data, seed=1, epochs=2)
    assert len(longer.epoch_seconds) == 2 and longer.epoch_seconds[1] > longer.epoch_seconds[0]
    assert longer.epoch_val_accuracies[1] > 0.8


def test_run_peer_refuses_bad_input(mnist):
    data = prepare_data(mnist, validation_size=100, train_limit=500, seed=0)
    with pytest.raises(ParameterError, match="peer must be one of"):
        run_peer("lecun", data)
    with pytest.raises(ParameterError, match="epochs must be an integer of at least 1"):
        run_peer("tuomaso", data, epochs=0)
    with pytest.raises(ParameterError, match="stop_at must be an accuracy between 0 and 1"):
        run_peer("tuomaso", data, stop_at=99)
    unvalidated = prepare_data(mnist, validation_size=0, train_limit=500, seed=0)
    with pytest.raises(ValueError, match="validation_size > 0"):
        run_peer("tuomaso", unvalidated)
    one_hot = prepare_data(mnist, validation_size=100, train_limit=500, one_hot=True)
    with pytest.raises(ValueError, match="sparse labels"):
        run_peer("tuomaso", one_hot)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the pipeline is TensorFlow's alone")
def test_training_batches_visit_every_image_once_per_epoch_in_a_new_order():
    x = np.arange(50, dtype=np.float32).reshape(50, 1, 1, 1) * np.ones((1, 2, 2, 1), np.float32)
    y = np.eye(10, dtype=np.float32)[np.arange(50) % 10]
    batches = training_batches(x, y, 8, seed=3)
    epochs = []
    for _ in range(2):
        order = []
        for images, labels in batches:
            values = np.asarray(images)[:, 0, 0, 0].astype(int)
            assert len(values) <= 8
            np.testing.assert_array_equal(np.asarray(labels), y[values])  # pairs kept together
            order.extend(values)
        assert sorted(order) == list(range(50))
        epochs.append(order)
    assert epochs[0] != epochs[1] and epochs[0] != list(range(50))
    again = [int(v) for images, _ in training_batches(x, y, 8, seed=3) for v in images[:, 0, 0, 0]]
    assert again == epochs[0]  # the same seed, the same first epoch

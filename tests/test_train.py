"""mnist_lessons.train: seeding, a short run that learns, argument checks, resuming."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from mnist_lessons.models import build_model, precision_of
from mnist_lessons.train import TrainingResult, load_checkpoint, set_seed, train

ROOT = Path(__file__).resolve().parent.parent


def test_one_epoch_on_a_few_thousand_images_beats_a_sanity_accuracy(small_data):
    set_seed(0)
    result = train("three_conv_dense64", small_data, epochs=1)
    assert isinstance(result, TrainingResult)
    assert result.epochs == 1 and len(result.history["loss"]) == 1
    assert result.history["val_accuracy"][0] > 0.80
    assert result.epoch_seconds[0] > 0
    assert result.model.optimizer.__class__.__name__ == "Adam"


def test_same_seed_same_result(small_data):
    histories = []
    for _ in range(2):
        set_seed(7)
        histories.append(train("three_conv_three_pool", small_data, epochs=1).history["loss"])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-5)


def test_the_table_has_one_line_per_epoch(small_data):
    set_seed(0)
    result = train(build_model("three_conv_three_pool"), small_data, epochs=2, batch_size=64)
    lines = result.table().splitlines()
    assert len(lines) == 3
    assert lines[0].split() == ["epoch", "seconds", "loss", "accuracy", "val_loss", "val_accuracy"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs must be a positive integer. Received: epochs=0"),
        ({"epochs": "3"}, "epochs must be a positive integer. Received: epochs='3'"),
        ({"epochs": True}, "epochs must be a positive integer"),
        ({"batch_size": -1}, "batch_size must be a positive integer. Received: batch_size=-1"),
        ({"verbose": 5}, "verbose must be 0, 1 or 2"),
    ],
)
def test_bad_arguments_are_rejected_before_training(small_data, kwargs, message):
    with pytest.raises(ValueError, match=message):
        train("three_conv_dense64", small_data, **kwargs)


def test_bad_model_and_data_types(small_data):
    with pytest.raises(ValueError, match="Unknown architecture 'nope'"):
        train("nope", small_data)
    with pytest.raises(TypeError, match="model must be an architecture name or a keras.Model"):
        train(42, small_data)
    with pytest.raises(TypeError, match="data must be a PreparedData"):
        train("three_conv_dense64", (small_data.x_train, small_data.y_train))
    with pytest.raises(ValueError, match="precision applies only when model is an architecture"):
        train(build_model("three_conv_dense64"), small_data, precision="float32")
    with pytest.raises(ValueError, match="precision must be one of"):
        train("three_conv_dense64", small_data, precision="fp8")


def test_train_builds_a_named_architecture_in_the_precision_asked_for(small_data):
    result = train("three_conv_three_pool", small_data, epochs=1, precision="float32")
    assert precision_of(result.model) == "float32"


@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_set_seed_rejects_non_integers(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        set_seed(seed)


def test_checkpoint_resume_continues_after_the_last_finished_epoch(small_data, tmp_path):
    set_seed(0)
    first = train("three_conv_three_pool", small_data, epochs=1, checkpoint_dir=tmp_path)
    assert load_checkpoint(tmp_path)[1]["epochs_done"] == 1
    resumed = train("three_conv_three_pool", small_data, epochs=3, checkpoint_dir=tmp_path)
    assert resumed.resumed_from == 1
    assert len(resumed.history["loss"]) == 3
    assert resumed.history["loss"][0] == pytest.approx(first.history["loss"][0])
    # A finished run is not retrained.
    again = train("three_conv_three_pool", small_data, epochs=3, checkpoint_dir=tmp_path)
    assert again.resumed_from == 3 and len(again.history["loss"]) == 3


def test_a_killed_training_run_resumes_from_its_checkpoint(tmp_path):
    """Starts the command line, kills it with SIGKILL after its first epoch, and resumes."""
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "mnist_lessons",
        "train",
        "--arch",
        "three_conv_dense64",
        "--epochs",
        "40",
        "--train-limit",
        "2000",
        "--validation-size",
        "500",
        "--output",
        str(out),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    state = out / "checkpoint" / "state.json"
    deadline = time.monotonic() + 240
    while not state.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state.exists(), process.stderr.read().decode() if process.poll() else "no checkpoint"
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = json.loads(state.read_text())["epochs_done"]
    assert 1 <= done_before < 40, "the run must really have been interrupted mid-way"
    history_before = json.loads(state.read_text())["history"]["loss"]

    resume = [
        *command[: command.index("--epochs") + 1],
        str(done_before + 1),
        *command[command.index("--epochs") + 2 :],
    ]
    finished = subprocess.run(
        resume, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert finished.returncode == 0, finished.stderr
    assert f"Resumed after epoch {done_before}" in finished.stdout
    history = json.loads((out / "history.json").read_text())["history"]
    assert len(history["loss"]) == done_before + 1
    assert history["loss"][:done_before] == pytest.approx(history_before)
    assert (out / "three_conv_dense64.keras").is_file()
    model = keras.models.load_model(out / "three_conv_dense64.keras")
    assert model.count_params() == 93_322

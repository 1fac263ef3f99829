"""mnist_lessons.train: seeding, a short run that learns, argument checks, resuming.

The argument checks and the checkpoint identity checks run on fabricated images and train
nothing; the tests that train a model, or need the real MNIST, are marked slow.
"""

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

from mnist_lessons.checks import ParameterError
from mnist_lessons.data import prepare_data
from mnist_lessons.models import REFERENCES, build_model, precision_of
from mnist_lessons.train import (
    MODEL_FILE,
    STATE_FILE,
    CheckpointError,
    CheckpointMismatchError,
    TrainingResult,
    check_resumable,
    epochs_and_batch_size,
    load_checkpoint,
    run_identity,
    set_seed,
    train,
)

ROOT = Path(__file__).resolve().parent.parent


def fabricated(**settings):
    """`prepare_data` on 400 random 28×28 training images (no MNIST needed)."""
    rng = np.random.default_rng(0)
    arrays = (
        (rng.integers(0, 256, (400, 28, 28), dtype=np.uint8), np.arange(400) % 10),
        (rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), np.arange(20) % 10),
    )
    return prepare_data(arrays, **{"validation_size": 100, "train_limit": 200, **settings})


@pytest.fixture(scope="module")
def fake_data():
    return fabricated()


def identity(**changes):
    """The identity of the reference request: three_conv_dense64, batch 32, float32."""
    options = {"batch_size": 32, "precision": "float32"}
    model = changes.pop("model", "three_conv_dense64")
    options.update({k: changes.pop(k) for k in list(changes) if k in options})
    return run_identity(model, fabricated(**changes), **options)


# Argument checks: nothing is trained.


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs must be an integer of at least 1. Received: epochs=0"),
        ({"epochs": "3"}, "epochs must be an integer of at least 1. Received: epochs='3'"),
        ({"epochs": True}, "epochs must be an integer of at least 1. Received: epochs=True"),
        (
            {"batch_size": -1},
            "batch_size must be an integer of at least 1. Received: batch_size=-1",
        ),
    ],
)
def test_bad_numbers_are_rejected_before_training_in_the_checks_words(fake_data, kwargs, message):
    with pytest.raises(ParameterError) as caught:
        train("three_conv_dense64", fake_data, **kwargs)
    assert str(caught.value) == message


def test_a_bad_verbose_is_rejected(fake_data):
    with pytest.raises(ValueError, match="verbose must be 0, 1 or 2"):
        train("three_conv_dense64", fake_data, verbose=5)


def test_epochs_and_batch_size_default_to_the_documented_ones():
    reference = REFERENCES["three_conv_dense64"]
    assert epochs_and_batch_size("three_conv_dense64") == (reference.epochs, reference.batch_size)
    assert epochs_and_batch_size("three_conv_dense64", 3, 16) == (3, 16)
    assert epochs_and_batch_size(build_model("three_conv_dense64")) == (1, 32)
    with pytest.raises(ParameterError, match=r"^epochs must be an integer of at least 1\."):
        epochs_and_batch_size("three_conv_dense64", 0)


def test_bad_model_and_data_types(fake_data):
    with pytest.raises(ValueError, match="Unknown architecture 'nope'"):
        train("nope", fake_data)
    with pytest.raises(TypeError, match="model must be an architecture name or a keras.Model"):
        train(42, fake_data)
    with pytest.raises(TypeError, match="data must be a PreparedData"):
        train("three_conv_dense64", (fake_data.x_train, fake_data.y_train))
    with pytest.raises(ValueError, match="precision applies only when model is an architecture"):
        train(build_model("three_conv_dense64"), fake_data, precision="float32")
    with pytest.raises(ValueError, match="precision must be one of"):
        train("three_conv_dense64", fake_data, precision="fp8")


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True, 2**32])
def test_set_seed_rejects_anything_but_an_integer_from_0_to_2_to_the_32_minus_1(seed):
    with pytest.raises(
        ParameterError,
        match=rf"^seed must be an integer from 0 to 4294967295\. Received: seed={seed!r}$",
    ):
        set_seed(seed)
    set_seed(2**32 - 1)


# The identity of a checkpoint: what a run must match to resume it.


def test_the_identity_records_the_model_batch_size_precision_and_training_images(fake_data):
    recorded = run_identity("three_conv_dense64", fake_data, batch_size=32, precision="float32")
    assert recorded == {
        "model": "three_conv_dense64",
        "batch_size": 32,
        "precision": "float32",
        "validation_size": 100,
        "train_limit": 200,
        "seed": 0,
        "one_hot": False,
        "train_images": 200,
    }
    assert json.loads(json.dumps(recorded)) == recorded
    model = build_model("two_conv_dropout", "float32")
    assert run_identity(model, fake_data, batch_size=32, precision="float32")["model"] == model.name


def test_the_same_request_may_resume(tmp_path):
    check_resumable(tmp_path, {"identity": identity()}, identity())


@pytest.mark.parametrize(
    ("change", "saved_text", "asked_text"),
    [
        ({"model": "two_conv_dropout"}, "model='three_conv_dense64'", "model='two_conv_dropout'"),
        ({"batch_size": 64}, "batch_size=32", "batch_size=64"),
        ({"precision": "mixed_bfloat16"}, "precision='float32'", "precision='mixed_bfloat16'"),
        (
            {"train_limit": 150},
            "train_limit=200, train_images=200",
            "train_limit=150, train_images=150",
        ),
        ({"seed": 1}, "seed=0", "seed=1"),
        ({"validation_size": 50}, "validation_size=100", "validation_size=50"),
        ({"one_hot": True}, "one_hot=False", "one_hot=True"),
    ],
)
def test_a_different_request_is_refused_naming_the_folder_both_requests_and_the_fix(
    tmp_path, change, saved_text, asked_text
):
    with pytest.raises(CheckpointMismatchError) as caught:
        check_resumable(tmp_path, {"identity": identity()}, identity(**change))
    message = str(caught.value)
    assert message == (
        f"{tmp_path} holds a checkpoint of a different training run: it was saved for "
        f"{saved_text}, and this request is for {asked_text}. To keep it, train into a "
        f"different folder; to replace it, delete {tmp_path} first."
    )
    assert "\n" not in message
    assert isinstance(caught.value, ValueError)
    assert caught.value.folder == tmp_path and caught.value.saved == identity()


def test_only_the_differing_keys_are_named(tmp_path):
    with pytest.raises(CheckpointMismatchError) as caught:
        check_resumable(tmp_path, {"identity": identity()}, identity(batch_size=64, seed=3))
    message = str(caught.value)
    assert "saved for batch_size=32, seed=0, and this request is for batch_size=64, seed=3" in (
        message
    )
    assert "model=" not in message and "precision=" not in message


def test_a_key_only_one_side_records_is_a_difference(tmp_path):
    saved = {k: v for k, v in identity().items() if k != "seed"}
    with pytest.raises(CheckpointMismatchError, match="saved for seed not recorded, and this"):
        check_resumable(tmp_path, {"identity": saved}, identity())


def test_a_checkpoint_without_an_identity_is_refused(tmp_path):
    legacy = {"model": "three_conv_dense64", "epochs": 2, "batch_size": 64, "epochs_done": 2}
    with pytest.raises(CheckpointMismatchError) as caught:
        check_resumable(tmp_path, legacy, identity())
    message = str(caught.value)
    assert message.startswith(
        f"{tmp_path} holds a checkpoint from an older version of mnist_lessons that does not "
        "record which run it belongs to, so it cannot be resumed by this request "
        "(model='three_conv_dense64', batch_size=32, precision='float32', validation_size=100,"
    )
    assert message.endswith(f"delete {tmp_path} first.") and "\n" not in message


def _write_checkpoint(folder: Path, state: dict) -> dict[str, bytes]:
    """A checkpoint folder by hand: ``state`` and a model file that is never read."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STATE_FILE).write_text(json.dumps(state))
    (folder / "model.keras").write_bytes(b"not read: the identity is checked first")
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def _history(epochs: int) -> dict:
    return {"history": {"loss": [1.0] * epochs}, "epoch_seconds": [1.0] * epochs}


def test_train_refuses_a_legacy_checkpoint_and_leaves_it_as_it_was(fake_data, tmp_path):
    legacy = {"model": "three_conv_dense64", "epochs": 2, "batch_size": 64, "epochs_done": 2}
    before = _write_checkpoint(tmp_path, {**legacy, **_history(2)})
    with pytest.raises(CheckpointMismatchError, match="from an older version of mnist_lessons"):
        train("three_conv_dense64", fake_data, epochs=3, batch_size=64, checkpoint_dir=tmp_path)
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


def test_train_refuses_another_runs_checkpoint_and_leaves_it_as_it_was(fake_data, tmp_path):
    saved = run_identity("three_conv_dense64", fake_data, batch_size=64, precision="float32")
    before = _write_checkpoint(tmp_path, {"identity": saved, "epochs_done": 1, **_history(1)})
    with pytest.raises(CheckpointMismatchError, match="saved for batch_size=64, and this request"):
        train(
            "three_conv_dense64",
            fake_data,
            epochs=2,
            batch_size=32,
            precision="float32",
            checkpoint_dir=tmp_path,
        )
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


# Training.


@pytest.mark.slow
def test_one_epoch_on_a_few_thousand_images_beats_a_sanity_accuracy(small_data, precision):
    set_seed(0)
    result = train("three_conv_dense64", small_data, epochs=1)
    assert precision_of(result.model) == precision
    assert isinstance(result, TrainingResult)
    assert result.epochs == 1 and len(result.history["loss"]) == 1
    assert result.history["val_accuracy"][0] > 0.80
    assert result.epoch_seconds[0] > 0
    assert result.model.optimizer.__class__.__name__ == "Adam"


@pytest.mark.slow
def test_same_seed_same_result(small_data):
    histories = []
    for _ in range(2):
        set_seed(7)
        histories.append(train("three_conv_three_pool", small_data, epochs=1).history["loss"])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-5)


@pytest.mark.slow
def test_the_table_has_one_line_per_epoch(small_data):
    set_seed(0)
    result = train(build_model("three_conv_three_pool"), small_data, epochs=2, batch_size=64)
    lines = result.table().splitlines()
    assert len(lines) == 3
    assert lines[0].split() == ["epoch", "seconds", "loss", "accuracy", "val_loss", "val_accuracy"]


@pytest.mark.slow
def test_train_builds_a_named_architecture_in_the_precision_asked_for(small_data):
    result = train("three_conv_three_pool", small_data, epochs=1, precision="float32")
    assert precision_of(result.model) == "float32"


@pytest.mark.slow
def test_checkpoint_resume_continues_after_the_last_finished_epoch(small_data, tmp_path):
    set_seed(0)
    first = train("three_conv_three_pool", small_data, epochs=1, checkpoint_dir=tmp_path)
    state = load_checkpoint(tmp_path)[1]
    assert state["epochs_done"] == 1
    assert state["identity"]["model"] == "three_conv_three_pool"
    assert state["identity"]["train_images"] == len(small_data.x_train)
    resumed = train("three_conv_three_pool", small_data, epochs=3, checkpoint_dir=tmp_path)
    assert resumed.resumed_from == 1
    assert len(resumed.history["loss"]) == 3
    assert resumed.history["loss"][0] == pytest.approx(first.history["loss"][0])
    # A finished run is not retrained, and asking for fewer epochs returns it as it is.
    again = train("three_conv_three_pool", small_data, epochs=3, checkpoint_dir=tmp_path)
    assert again.resumed_from == 3 and len(again.history["loss"]) == 3
    fewer = train("three_conv_three_pool", small_data, epochs=2, checkpoint_dir=tmp_path)
    assert fewer.resumed_from == 3 and len(fewer.history["loss"]) == 3


@pytest.mark.slow
def test_a_real_checkpoint_is_not_resumed_by_another_batch_size_or_subset(mnist, tmp_path):
    data = prepare_data(mnist, validation_size=100, train_limit=200, seed=0)
    set_seed(0)
    train("three_conv_dense64", data, epochs=1, batch_size=32, checkpoint_dir=tmp_path)
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    with pytest.raises(CheckpointMismatchError, match="batch_size=32, and this request is for"):
        train("three_conv_dense64", data, epochs=2, batch_size=16, checkpoint_dir=tmp_path)
    reseeded = prepare_data(mnist, validation_size=100, train_limit=200, seed=1)
    with pytest.raises(CheckpointMismatchError, match="saved for seed=0, and this request"):
        train("three_conv_dense64", reseeded, epochs=2, batch_size=32, checkpoint_dir=tmp_path)
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


@pytest.mark.slow
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
        command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
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
        resume, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert finished.returncode == 0, finished.stderr
    assert f"Resumed after epoch {done_before}" in finished.stdout
    history = json.loads((out / "history.json").read_text())["history"]
    assert len(history["loss"]) == done_before + 1
    assert history["loss"][:done_before] == pytest.approx(history_before)
    assert (out / "three_conv_dense64.keras").is_file()
    model = keras.models.load_model(out / "three_conv_dense64.keras")
    assert model.count_params() == 93_322


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "\udcff"])
def test_an_unreadable_checkpoint_state_is_a_clear_error(tmp_path, content):
    (tmp_path / STATE_FILE).write_text(content, errors="surrogateescape")
    (tmp_path / MODEL_FILE).write_bytes(b"")
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(tmp_path)
    message = str(caught.value)
    assert str(tmp_path / STATE_FILE) in message and "is unreadable" in message
    assert f"Delete {tmp_path} to start afresh" in message

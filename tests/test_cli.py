"""The command line, end to end on a small subset.

Every command runs in a temporary working directory, so that nothing (``runs/`` in particular)
is written into the source tree. The argument checks need neither MNIST nor training; the tests
that load the real MNIST or train are marked slow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import mnist_lessons.data
import mnist_lessons.train
from mnist_lessons.__main__ import main
from mnist_lessons.checks import ParameterError
from mnist_lessons.models import build_model
from mnist_lessons.sources import DataError

TINY = ["--train-limit", "200", "--validation-size", "100"]


def run(*args, cwd: Path, timeout=300, env=None):
    return subprocess.run(
        [sys.executable, "-m", "mnist_lessons", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


def error_line(done) -> str:
    """The one line a failed command writes to stderr, after checking that it is one line."""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), done.stderr
    return lines[0]


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def in_process(args, capsys) -> tuple[int, str, str]:
    """Runs `main` here (no new interpreter to start): exit status, stdout, stderr."""
    try:
        status = main(args)
    except SystemExit as exit:
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("command", ["data", "train", "predict", "bench", "race", "profile"])
def test_help(command, capsys):
    status, out, _ = in_process([command, "--help"], capsys)
    assert status == 0
    assert "usage: python -m mnist_lessons " + command in out


def test_train_help_names_the_default_output_folder(capsys):
    _, out, _ = in_process(["train", "--help"], capsys)
    assert "(default: runs/ARCH)" in " ".join(out.split())


# Bad arguments: one line in the library's words, exit status 2, before MNIST is loaded.


def test_epochs_0_is_one_line_in_the_librarys_words(tmp_path):
    done = run("train", "--arch", "three_conv_dense64", "--epochs", "0", cwd=tmp_path)
    assert done.returncode == 2
    assert error_line(done) == "error: epochs must be an integer of at least 1. Received: epochs=0"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["train", "--arch", "three_conv_dense64", "--batch-size", "-4"],
            "batch_size must be an integer of at least 1. Received: batch_size=-4",
        ),
        (
            ["train", "--arch", "three_conv_dense64", "--seed", "-1"],
            "seed must be an integer from 0 to 4294967295. Received: seed=-1",
        ),
        (["bench", "--epochs", "1"], "epochs must be an integer of at least 2. Received: epochs=1"),
        (["race", "--seeds", "0"], "seeds must be an integer of at least 1. Received: seeds=0"),
    ],
)
def test_out_of_range_numbers_get_the_librarys_sentence(
    monkeypatch, tmp_path, capsys, args, message
):
    monkeypatch.chdir(tmp_path)
    assert in_process(args, capsys) == (2, "", f"error: {message}\n")
    assert list(tmp_path.iterdir()) == []


def test_the_command_line_and_train_say_the_same_about_epochs_0(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParameterError) as caught:
        mnist_lessons.train.epochs_and_batch_size("three_conv_dense64", 0)
    status, _, err = in_process(["train", "--arch", "three_conv_dense64", "--epochs", "0"], capsys)
    assert status == 2 and err == f"error: {caught.value}\n"
    assert str(caught.value) == "epochs must be an integer of at least 1. Received: epochs=0"


def test_argparse_still_refuses_what_is_not_a_number_or_a_choice(capsys):
    status, _, err = in_process(["train", "--arch", "lenet", "--epochs", "1"], capsys)
    assert status == 2 and "invalid choice: 'lenet'" in err
    status, _, err = in_process(["train", "--arch", "three_conv_dense64", "--epochs", "2x"], capsys)
    assert status == 2 and "--epochs: invalid int value: '2x'" in err


def test_predict_without_a_model_file(tmp_path, capsys):
    status, _, err = in_process(["predict", "--model", str(tmp_path / "none.keras"), "x"], capsys)
    assert status == 2 and err.startswith("error: no model file at") and err.count("\n") == 1
    (tmp_path / "broken.keras").write_text("not a model")
    status, _, err = in_process(["predict", "--model", str(tmp_path / "broken.keras"), "x"], capsys)
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"error: cannot load a model from {tmp_path / 'broken.keras'}")


def test_an_unusable_backend_is_one_line(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "nonsense"}
    done = run("train", "--arch", "three_conv_dense64", cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert error_line(done).startswith("error: KERAS_BACKEND must be one of")


def test_the_librarys_errors_are_one_line_and_bugs_keep_their_traceback(
    monkeypatch, tmp_path, capsys
):
    monkeypatch.chdir(tmp_path)
    args = ["train", "--arch", "three_conv_dense64", "--epochs", "1"]

    def no_mnist(**kwargs):
        raise DataError("MNIST could not be loaded: nothing verified")

    monkeypatch.setattr(mnist_lessons.data, "prepare_data", no_mnist)
    assert main(args) == 2
    assert capsys.readouterr().err == "error: MNIST could not be loaded: nothing verified\n"

    def a_bug(**kwargs):
        raise ValueError("a bug, not a bad argument")

    monkeypatch.setattr(mnist_lessons.data, "prepare_data", a_bug)
    with pytest.raises(ValueError, match="a bug, not a bad argument"):
        main(args)
    monkeypatch.setattr(mnist_lessons.data, "prepare_data", lambda **kwargs: 1 + "")
    with pytest.raises(TypeError):
        main(args)


# Training for real, on a few hundred images.


@pytest.mark.slow
def test_data_says_where_mnist_came_from(tmp_path):
    done = run("data", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "MNIST verified: 60,000 training and 10,000 test images" in done.stdout
    assert "source: " in done.stdout


@pytest.mark.slow
def test_a_train_limit_out_of_range_is_one_line(tmp_path):
    done = run("train", "--arch", "three_conv_dense64", "--train-limit", "5", cwd=tmp_path)
    assert done.returncode == 2
    assert error_line(done).startswith(
        "error: train_limit must be an integer from 10 to 55000. Received: train_limit=5"
    )


@pytest.mark.slow
def test_two_architectures_train_into_two_folders_by_default(tmp_path):
    first = run("train", "--arch", "three_conv_dense64", "--epochs", "2", *TINY, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = run("train", "--arch", "two_conv_dropout", "--epochs", "3", *TINY, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "Resumed" not in second.stdout
    assert "saved runs/two_conv_dropout/two_conv_dropout.keras" in second.stdout
    runs = tmp_path / "runs"
    assert sorted(p.name for p in runs.iterdir()) == ["three_conv_dense64", "two_conv_dropout"]
    model = keras.models.load_model(runs / "two_conv_dropout" / "two_conv_dropout.keras")
    assert model.count_params() == build_model("two_conv_dropout").count_params()
    assert model.count_params() != build_model("three_conv_dense64").count_params()
    history = json.loads((runs / "two_conv_dropout" / "history.json").read_text())
    assert len(history["history"]["loss"]) == 3
    assert not (runs / "three_conv_dense64" / "two_conv_dropout.keras").exists()


@pytest.mark.slow
def test_another_architecture_in_the_same_folder_is_refused_in_one_line(tmp_path):
    out = tmp_path / "shared"
    first = run(
        "train",
        "--arch",
        "three_conv_dense64",
        "--epochs",
        "2",
        *TINY,
        "--output",
        str(out),
        cwd=tmp_path,
    )
    assert first.returncode == 0, first.stderr
    before = files(out)
    second = run(
        "train",
        "--arch",
        "two_conv_dropout",
        "--epochs",
        "3",
        *TINY,
        "--output",
        str(out),
        cwd=tmp_path,
    )
    assert second.returncode == 2
    line = error_line(second)
    assert line.startswith(
        f"error: {out / 'checkpoint'} holds a checkpoint of a different training run"
    )
    assert "model='three_conv_dense64'" in line and "model='two_conv_dropout'" in line
    assert f"delete {out / 'checkpoint'}" in line and "different folder" in line
    assert files(out) == before


@pytest.mark.slow
def test_the_same_request_resumes(tmp_path):
    out = tmp_path / "run"
    command = ["train", "--arch", "three_conv_dense64", *TINY, "--output", str(out)]
    first = run(*command, "--epochs", "1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    loss_before = json.loads((out / "history.json").read_text())["history"]["loss"]
    resumed = run(*command, "--epochs", "2", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"Resumed after epoch 1 from {out / 'checkpoint'}" in resumed.stdout
    loss = json.loads((out / "history.json").read_text())["history"]["loss"]
    assert len(loss) == 2 and loss[0] == pytest.approx(loss_before[0])


@pytest.mark.slow
def test_train_then_predict_end_to_end(tmp_path, mnist):
    out = tmp_path / "run"
    done = run(
        "train",
        "--arch",
        "three_conv_dense64",
        "--epochs",
        "2",
        "--train-limit",
        "3000",
        "--validation-size",
        "1000",
        "--seed",
        "1",
        "--precision",
        "float32",
        "--output",
        str(out),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Epoch 2/2" in done.stdout and "in float32" in done.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["test_accuracy"] > 0.85
    assert metrics["precision"] == "float32"
    assert f"test accuracy {metrics['test_accuracy']:.4f}" in done.stdout
    history = json.loads((out / "history.json").read_text())
    assert len(history["history"]["val_accuracy"]) == 2
    model = out / "three_conv_dense64.keras"
    assert model.is_file()

    _, (x_test, y_test) = mnist
    paths = []
    for i in range(5):
        page = np.full((140, 100), 255, np.uint8)
        page[30:86, 20:76] = 255 - np.asarray(Image.fromarray(x_test[i]).resize((56, 56)))
        Image.fromarray(page).save(tmp_path / f"digit{i}.png")
        paths.append(str(tmp_path / f"digit{i}.png"))
    (tmp_path / "broken.png").write_text("not an image")
    done = run("predict", "--model", str(model), *paths, str(tmp_path / "broken.png"), cwd=tmp_path)
    assert done.returncode == 1  # one unreadable image
    lines = done.stdout.splitlines()
    assert len(lines) == 5
    predicted = [int(line.split(": ")[1].split()[0]) for line in lines]
    assert sum(p == y for p, y in zip(predicted, y_test[:5], strict=True)) >= 4
    assert "broken.png: error: Cannot read" in done.stderr


def run_writing_json(tmp_path: Path, command: str, *args: str):
    """Runs ``command`` on 2,000 training images with ``--json`` into ``tmp_path``; returns the
    finished process and the JSON it wrote, after checking that it succeeded."""
    target = tmp_path / f"{command}.json"
    done = run(command, *args, "--train-limit", "2000", "--json", str(target), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done, json.loads(target.read_text())


@pytest.mark.slow
def test_bench_writes_json_records(tmp_path):
    done, (record,) = run_writing_json(
        tmp_path, "bench", "--arch", "three_conv_three_pool", "--epochs", "2"
    )
    assert record["architecture"] == "three_conv_three_pool"
    assert record["library_images_per_s"] > 0 and record["bare_images_per_s"] > 0
    assert record["precision"] in ("float32", "mixed_bfloat16")
    assert record["library_float32_images_per_s"] > 0
    assert f"library path in {record['precision']}" in done.stdout
    assert 0 < record["library_fraction_of_matmul"] < 1
    assert "three_conv_three_pool" in done.stdout and "GFLOP/s" in done.stdout


@pytest.mark.slow
def test_race_times_the_book_recipe_beside_a_peer_and_writes_json(tmp_path):
    done, records = run_writing_json(tmp_path, "race", "--peer", "tuomaso", "--seeds", "2")
    assert set(records["runs"]) == {"book: 99_percent", "tuomaso"}
    for runs in records["runs"].values():
        assert [r["seed"] for r in runs] == [0, 1]
        assert all(len(r["epoch_seconds"]) == len(r["epoch_val_accuracies"]) >= 1 for r in runs)
        assert all(0.1 < r["test_accuracy"] <= 1 for r in runs)
    assert len(records["matmul_gflops"]) == 2 and min(records["matmul_gflops"]) > 0
    lines = done.stdout.splitlines()
    # Seed by seed, the book's recipe first and the peer straight after it.
    runs = [line.split(":")[1].strip() for line in lines if line.startswith("seed ")]
    assert runs == ["99_percent", "tuomaso", "99_percent", "tuomaso"]
    assert any(line.startswith("| book: 99_percent | 2 |") for line in lines)
    assert any(line.startswith("| tuomaso | 2 | 1 of 1 | 256 |") for line in lines)
    assert "GFLOP/s" in done.stdout

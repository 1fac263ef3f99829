"""The command line, end to end on a small subset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def run(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "mnist_lessons", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("command", ["data", "train", "predict", "bench"])
def test_help(command):
    done = run(command, "--help")
    assert done.returncode == 0
    assert "usage: python -m mnist_lessons " + command in done.stdout


def test_data_says_where_mnist_came_from():
    done = run("data")
    assert done.returncode == 0, done.stderr
    assert "MNIST verified: 60,000 training and 10,000 test images" in done.stdout
    assert "source: " in done.stdout


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
    done = run("predict", "--model", str(model), *paths, str(tmp_path / "broken.png"))
    assert done.returncode == 1  # one unreadable image
    lines = done.stdout.splitlines()
    assert len(lines) == 5
    predicted = [int(line.split(": ")[1].split()[0]) for line in lines]
    assert sum(p == y for p, y in zip(predicted, y_test[:5], strict=True)) >= 4
    assert "broken.png: error: Cannot read" in done.stderr


def test_bad_arguments_get_clear_errors(tmp_path):
    done = run("train", "--arch", "lenet", "--epochs", "1")
    assert done.returncode == 2 and "invalid choice: 'lenet'" in done.stderr
    done = run("train", "--arch", "three_conv_dense64", "--epochs", "0")
    assert done.returncode == 2 and "--epochs: must be a positive integer, got '0'" in done.stderr
    done = run(
        "train", "--arch", "three_conv_dense64", "--train-limit", "5", "--output", str(tmp_path)
    )
    assert done.returncode == 2 and "train_limit must be at least 10" in done.stderr
    done = run("predict", "--model", str(tmp_path / "none.keras"), "x.png")
    assert done.returncode == 2 and "no model file at" in done.stderr


def test_bench_writes_json_records(tmp_path):
    target = tmp_path / "bench.json"
    done = run(
        "bench",
        "--arch",
        "three_conv_three_pool",
        "--epochs",
        "2",
        "--train-limit",
        "2000",
        "--json",
        str(target),
    )
    assert done.returncode == 0, done.stderr
    (record,) = json.loads(target.read_text())
    assert record["architecture"] == "three_conv_three_pool"
    assert record["library_images_per_s"] > 0 and record["bare_images_per_s"] > 0
    assert record["precision"] in ("float32", "mixed_bfloat16")
    assert record["library_float32_images_per_s"] > 0
    assert f"library path in {record['precision']}" in done.stdout
    assert 0 < record["library_fraction_of_matmul"] < 1
    assert "three_conv_three_pool" in done.stdout and "GFLOP/s" in done.stdout

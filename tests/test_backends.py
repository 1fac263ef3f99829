"""The library and the chapters on Keras's three backends: TensorFlow (the default), JAX, PyTorch.

Every chapter runs unchanged at small settings with ``KERAS_BACKEND`` set to JAX and to PyTorch
(in `make test`, four chapters, two on each; every chapter on both with
``MNIST_LESSONS_EVERY_BACKEND=1``);
the 99 % recipe reaches the same accuracy on each backend as on TensorFlow, within the spread
over seeds; and the library imports and fits on each backend whether the reader imports it or the
backend's package first. Each backend runs in its own process (a Jupyter kernel or a subprocess):
Keras picks its backend once, when it is first imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .test_notebooks import CHAPTERS, execute_quick, outputs_text

ROOT = Path(__file__).resolve().parent.parent
OTHER_BACKENDS = ("jax", "torch")
SEEDS = (0, 1, 2)
RECIPE_SCRIPT = """
import json
import sys

from mnist_lessons.backend import BACKEND
from mnist_lessons.data import prepare_data
from mnist_lessons.sources import load_mnist
from mnist_lessons.speedrun import RECIPE_99, run_recipe

data = prepare_data(load_mnist(), validation_size=0, train_limit=20000, seed=0)
recipe = RECIPE_99.changed(epochs=3)
runs = [run_recipe(recipe, data, seed=seed) for seed in json.loads(sys.argv[1])]
print(json.dumps({
    "backend": BACKEND,
    "accuracies": [run.test_accuracy for run in runs],
    "seconds": [run.seconds for run in runs],
}))
"""


def run_python(
    arguments: list[str], *, backend: str, cwd: Path = ROOT, timeout: float = 900, **env: str
):
    """Runs this Python with ``arguments`` in a fresh process, ``KERAS_BACKEND=backend`` and
    any other environment variables given."""
    return subprocess.run(
        [sys.executable, *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "KERAS_BACKEND": backend, **env},
        cwd=cwd,
        check=False,
    )


# What `make test` runs of the chapters on each other backend: one architecture chapter (their
# shared path, writeup.run_writeup and run_variant, with its per-epoch callbacks) and one of the
# chapters with the most backend-dependent code: errors (gradients through backend.input_gradient,
# calibration, prediction) on JAX, fast-training (the recipes, the peers, step timing) on PyTorch.
SAMPLED_CHAPTERS = {
    "jax": ("001-two-conv-dropout", "errors"),
    "torch": ("002-one-conv-wide-dense", "fast-training"),
}


def chapter_backends(every: bool) -> list[tuple[str, Path]]:
    """Which chapter runs on which backend: every chapter on JAX and on PyTorch if ``every``, else
    the ones ``SAMPLED_CHAPTERS`` names."""
    if every:
        return [(backend, path) for path in CHAPTERS for backend in OTHER_BACKENDS]
    by_stem = {path.stem: path for path in CHAPTERS}
    return [(b, by_stem[stem]) for b in OTHER_BACKENDS for stem in SAMPLED_CHAPTERS[b]]


# `make test` (hence .ci/run) runs every chapter on TensorFlow twice, at its documented settings
# under nbval and at small settings in the Colab stage, and four of them on JAX or PyTorch, so that
# the whole suite fits CI's time; the GitHub workflow's backend jobs, one machine per backend, set
# MNIST_LESSONS_EVERY_BACKEND=1 and run every chapter on their backend.
EVERY_BACKEND = os.environ.get("MNIST_LESSONS_EVERY_BACKEND") == "1"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "path"),
    chapter_backends(EVERY_BACKEND),
    ids=lambda value: value.stem if isinstance(value, Path) else value,
)
def test_chapter_runs_unchanged_on(backend, path, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", backend)
    notebook = execute_quick(path, tmp_path)
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    assert not errors
    assert not [o.text for o in outputs if o.get("name") == "stderr"], "stderr noise"
    if path.stem != "intro":
        assert f"on {backend} " in outputs_text(notebook), "the environment line names the backend"


@pytest.fixture(scope="module")
def recipe_runs():
    """The 99 % recipe (at 3 epochs, on 20,000 training images) over three seeds on each
    backend. Fewer steps leave batch normalisation's moving statistics unsettled, and the test
    accuracy then says more about that than about the backend."""
    found = {}
    for backend in ("tensorflow", *OTHER_BACKENDS):
        done = run_python(["-c", RECIPE_SCRIPT, json.dumps(SEEDS)], backend=backend)
        assert done.returncode == 0, done.stderr[-3000:]
        found[backend] = json.loads(done.stdout.strip().splitlines()[-1])
        assert found[backend]["backend"] == backend
    return found


@pytest.mark.slow
@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_the_99_percent_recipe_reaches_the_same_accuracy_on(backend, recipe_runs):
    reference = np.array(recipe_runs["tensorflow"]["accuracies"])
    measured = np.array(recipe_runs[backend]["accuracies"])
    print(
        f"{backend}: {measured.mean():.4f} ± {measured.std(ddof=1):.4f} against tensorflow "
        f"{reference.mean():.4f} ± {reference.std(ddof=1):.4f} "
        f"(median seconds {np.median(recipe_runs[backend]['seconds']):.1f} against "
        f"{np.median(recipe_runs['tensorflow']['seconds']):.1f})"
    )
    assert measured.min() > 0.97
    # "Within the seed spread": the means differ by no more than the wider of the two ranges
    # over seeds, with a floor of half a point for three-seed ranges that happen to be narrow.
    spread = max(np.ptp(reference), np.ptp(measured), 0.005)
    assert abs(measured.mean() - reference.mean()) <= spread


@pytest.mark.slow
@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_the_benchmark_runs_unchanged_on(backend, tmp_path):
    command = ["-m", "mnist_lessons", "bench", "--arch", "three_conv_three_pool", "--epochs", "2"]
    done = run_python(
        [*command, "--train-limit", "1000", "--json", "bench.json"],
        backend=backend,
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert not done.stderr.strip(), done.stderr[-3000:]
    assert f"on {backend} " in done.stdout
    (record,) = json.loads((tmp_path / "bench.json").read_text())
    assert record["backend"] == backend
    assert record["library_images_per_s"] > 0 and record["bare_images_per_s"] > 0
    assert record["matmul_gflops"] > 0


# In `make test`, on JAX only: on PyTorch the fast-training chapter (above) trains the same recipe
# and both peers through the same functions.
RACE_BACKENDS = OTHER_BACKENDS if EVERY_BACKEND else ("jax",)


@pytest.mark.slow
@pytest.mark.parametrize("backend", RACE_BACKENDS)
def test_the_race_runs_unchanged_on(backend, tmp_path):
    command = ["-m", "mnist_lessons", "race", "--seeds", "1", "--train-limit", "1000"]
    done = run_python([*command, "--json", "race.json"], backend=backend, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not done.stderr.strip(), done.stderr[-3000:]
    assert f"on {backend} " in done.stdout
    runs = json.loads((tmp_path / "race.json").read_text())["runs"]
    assert set(runs) == {"book: 99_percent", "tuomaso", "keras_io"}
    assert all(len(r) == 1 and r[0]["test_accuracy"] > 0.1 for r in runs.values())


# Imports the modules named on the command line in turn, then the library's Keras, and fits; says
# whether triton (PyTorch's CUDA build's compiler) was loaded.
IMPORT_AND_FIT = """
import sys
for name in sys.argv[1:]:
    __import__(name)
import numpy as np
from mnist_lessons.backend import BACKEND, keras

model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy")
model.fit(np.zeros((8, 4), "float32"), np.zeros(8, "int64"), epochs=1, verbose=0)
print(BACKEND, "fitted", "triton" in sys.modules)
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ("tensorflow", *OTHER_BACKENDS))
@pytest.mark.parametrize("library_first", [False, True], ids=["package-first", "library-first"])
def test_the_library_imports_and_fits_in_either_order(backend, library_first):
    """A reader imports the backend's package and then the library, or the other way round; in a
    fresh process each way fits a model. (PyTorch's CUDA build, where the order once crashed, is
    tested in the Colab stage.)"""
    order = ["mnist_lessons.train", backend]  # each backend's package is named as the backend
    done = run_python(
        ["-c", IMPORT_AND_FIT, *(order if library_first else order[::-1])],
        backend=backend,
        timeout=300,
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert done.stdout.split()[:2] == [backend, "fitted"]
    if library_first or backend != "tensorflow":
        # A reader's own `import tensorflow` writes TensorFlow's start-up lines to descriptor 2
        # before the library is loaded (TensorFlow 2.21 whatever TF_CPP_MIN_LOG_LEVEL says); the
        # rest is the library's to keep quiet.
        assert not done.stderr.strip(), done.stderr[-2000:]


def test_a_backend_that_is_not_installed_is_one_clear_sentence(tmp_path):
    """Asking for a backend whose package is missing names it and says how to install it."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        "import importlib.abc, sys\n"
        "class Hide(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'jax' or name.startswith('jax.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Hide())\n"
    )
    done = run_python(
        ["-m", "mnist_lessons", "train", "--arch", "three_conv_dense64"],
        backend="jax",
        cwd=tmp_path,
        timeout=120,
        PYTHONPATH=str(hide),
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: Keras is set to the jax backend, but jax is not installed: install it with "
        "`pip install jax`, or unset KERAS_BACKEND to use TensorFlow."
    )


@pytest.mark.slow
def test_a_profile_on_another_backend_is_one_sentence(tmp_path):
    """The profiler is TensorFlow's: on JAX the command says so before it trains anything."""
    done = run_python(["-m", "mnist_lessons", "profile"], backend="jax", cwd=tmp_path, timeout=300)
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.strip() == (
        "error: Operation profiles need the TensorFlow backend: run with "
        "KERAS_BACKEND=tensorflow (this process runs Keras on jax)."
    )
    assert "MNIST" not in done.stdout

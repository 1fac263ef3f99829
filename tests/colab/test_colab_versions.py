"""The Colab stage: every chapter under papermill on Google Colab's package versions.

`make colab` (which `make test`, hence CI, runs before the main run) builds .venv-colab from
requirements-colab.txt and runs this file there, in that environment's own Jupyter kernel
(``mnist-colab``), with ``--noconftest``: tests/conftest.py serves the library's unit tests. The
main run does not collect it (pyproject.toml ignores tests/colab), and it fails rather than skips
in any other environment: the first tests check the versions.

Colab's Python is 3.12 (3.13 on the newest runtime); this machine and CI have Python 3.11 only, so
this stage checks Colab's packages, not Colab's interpreter.

The environment also holds PyTorch's default build from the package index (a CUDA build, with
triton), as a reader who runs `pip install torch` gets it: three chapters run on
``KERAS_BACKEND=torch`` with it, and the library is imported beside it in both orders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import nbformat
import papermill
import pytest
from jupyter_client.kernelspec import KernelSpecManager

from tests.test_backends import IMPORT_AND_FIT
from tests.test_notebooks import (
    ARCHITECTURE_CHAPTERS,
    CHAPTERS,
    execute_quick,
    outputs_text,
)

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements-colab.txt"
KERNEL = "mnist-colab"
# What a documented run writes: the chapters' results, and the drawing page's exported model.
COMMITTED = (ROOT / "book" / "results", ROOT / "book" / "_static")
# The packages whose versions the chapters' readers meet in Colab, by import name.
MODULES = {
    "tensorflow": "tensorflow",
    "keras": "keras",
    "numpy": "numpy",
    "matplotlib": "matplotlib",
    "scikit-learn": "sklearn",
}


def pinned_versions(path: Path = REQUIREMENTS) -> dict[str, str]:
    """``{distribution: version}`` from a requirements file of ``name==version`` lines."""
    pins = {}
    for line in path.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            name, equals, wanted = requirement.partition("==")
            assert equals and wanted.strip(), f"{path.name}: not an exact pin: {line!r}"
            pins[name.strip()] = wanted.strip()
    return pins


PINS = pinned_versions()
# The chapters that also run on PyTorch's CUDA build (see the PyTorch tests below).
TORCH_CHAPTERS = ("data", "000-three-conv-dense64", "fast-training")

# matplotlib 3.10.0 calls pyparsing's camelCase names, which pyparsing 3.3 deprecates; Python's
# default filters hide that warning in a kernel (Colab's too), but pytest would list it.
pytestmark = pytest.mark.filterwarnings(
    "ignore:'\\w+' deprecated - use:DeprecationWarning:matplotlib.*"
)


def committed_results() -> dict[Path, bytes]:
    return {p: p.read_bytes() for d in COMMITTED for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture
def results_untouched(monkeypatch, tmp_path):
    """Chapters save results into a temporary folder (the variable the root conftest.py sets for
    the main run, which --noconftest leaves out here); afterwards book/results and book/_static
    must be as they were, and are put back if not, so that this stage never leaves the working
    tree changed."""
    monkeypatch.setenv("MNIST_LESSONS_RESULTS_DIR", str(tmp_path / "results"))
    before = committed_results()
    yield
    after = committed_results()
    for path in set(after) - set(before):
        path.unlink()
    for path, content in before.items():
        if after.get(path) != content:
            path.write_bytes(content)
    assert after == before, "a quick run changed book/results or book/_static"


def test_this_environment_has_colabs_versions():
    assert set(MODULES) <= set(PINS), "requirements-colab.txt must pin Colab's five packages"
    installed = {name: version(name) for name in PINS}
    assert installed == PINS
    for name, module in MODULES.items():
        imported = __import__(module)
        assert imported.__version__ == PINS[name], f"{module}.__version__"


def test_the_kernel_runs_this_environment(tmp_path):
    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    assert Path(spec.argv[0]) == Path(sys.executable)
    probe = nbformat.v4.new_notebook()
    probe.cells.append(
        nbformat.v4.new_code_cell(
            "import json, sys\n"
            f"modules = {MODULES!r}\n"
            "print(json.dumps({'executable': sys.executable, **{n: __import__(m).__version__ "
            "for n, m in modules.items()}}))"
        )
    )
    nbformat.write(probe, tmp_path / "probe.ipynb")
    papermill.execute_notebook(
        str(tmp_path / "probe.ipynb"),
        str(tmp_path / "probe-out.ipynb"),
        kernel_name=KERNEL,
        progress_bar=False,
    )
    (output,) = nbformat.read(tmp_path / "probe-out.ipynb", as_version=4).cells[0].outputs
    seen = json.loads(output.text)
    assert Path(seen.pop("executable")) == Path(sys.executable)
    assert seen == {name: PINS[name] for name in MODULES}


def chapter_runs() -> list[tuple[str, Path]]:
    """Every chapter on TensorFlow, then `TORCH_CHAPTERS` on PyTorch's CUDA build."""
    by_stem = {path.stem: path for path in CHAPTERS}
    return [("tensorflow", p) for p in CHAPTERS] + [("torch", by_stem[s]) for s in TORCH_CHAPTERS]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "path"),
    chapter_runs(),
    ids=lambda value: value.stem if isinstance(value, Path) else value,
)
def test_chapter_runs_on_colabs_versions(backend, path, tmp_path, monkeypatch, results_untouched):
    monkeypatch.setenv("KERAS_BACKEND", backend)
    notebook = execute_quick(path, tmp_path, kernel_name=KERNEL)
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    assert not errors
    stderr = [o.text for o in outputs if o.get("name") == "stderr"]
    assert not stderr, "stderr output in the chapter:\n" + "".join(stderr)
    text = outputs_text(notebook)
    if path.stem != "intro":
        assert f"on {backend} " in text, "the environment line names the backend"
    if path in ARCHITECTURE_CHAPTERS:
        assert "not saved: this run differs from the documented one" in text
        assert "train_limit 2000 instead of every image" in text


# PyTorch as readers get it: the default build from the package index, a CUDA build that brings
# triton (requirements-colab.txt pins it). Its import order beside TensorFlow is what
# mnist_lessons.backend gets right; requirements-backends.txt's CPU wheel, which the main run
# uses, has no triton and could not show a mistake there.


def test_torch_is_the_default_cuda_build_with_triton():
    import torch

    assert torch.__version__.partition("+")[0] == PINS["torch"]
    assert torch.version.cuda, "the CPU wheel is installed, not the default CUDA build"
    assert version("triton"), "the CUDA build's triton is missing"


@pytest.mark.parametrize(
    "order", [("torch", "mnist_lessons.train"), ("mnist_lessons.train", "torch")], ids="-then-".join
)
def test_the_library_imports_and_fits_beside_the_cuda_build(order):
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_AND_FIT, *order],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": "torch"},
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert done.stdout.split() == ["torch", "fitted", "True"]  # triton was loaded, and survived
    assert not done.stderr.strip(), done.stderr[-2000:]

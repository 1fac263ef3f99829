"""Every chapter under papermill: small parameters run, injected values are honoured, and bad
values stop in the cell that checks them with an error naming the parameter."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from chapters import chapters  # noqa: E402

CHAPTERS = chapters()
QUICK = {"epochs": 1, "train_limit": 2000, "seed": 0}


def declared_parameters(path: Path) -> set[str]:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if "parameters" in cell.metadata.get("tags", []):
            return {
                line.split("=")[0].strip()
                for line in cell.source.splitlines()
                if "=" in line and not line.startswith((" ", "#"))
            }
    return set()


def execute(path: Path, tmp_path: Path, **parameters) -> nbformat.NotebookNode:
    output = tmp_path / path.name
    papermill.execute_notebook(
        str(path),
        str(output),
        parameters=parameters,
        cwd=str(path.parent),
        kernel_name="python3",
        progress_bar=False,
    )
    return nbformat.read(output, as_version=4)


def test_the_table_of_contents_lists_every_notebook():
    on_disk = set((ROOT / "book").glob("*.ipynb"))
    assert set(CHAPTERS) == on_disk
    assert len(CHAPTERS) >= 10


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_with_small_parameters(path, tmp_path):
    declared = declared_parameters(path)
    parameters = {k: v for k, v in QUICK.items() if k in declared}
    if "results_dir" in declared:
        parameters["results_dir"] = str(tmp_path / "results")
    notebook = execute(path, tmp_path, **parameters)
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.get("name") == "stderr"], "stderr noise in a chapter"
    if path.stem[:3].isdigit():
        (result,) = (tmp_path / "results").glob("*.json")
        assert json.loads(result.read_text())["train_images"] == 2000


def test_every_training_chapter_declares_the_standard_parameters():
    for path in CHAPTERS:
        if path.stem == "intro":
            continue
        missing = {"epochs", "batch_size", "train_limit", "seed"} - declared_parameters(path)
        assert not missing, f"{path.name} lacks {missing}"


def test_injected_epochs_are_honoured(tmp_path):
    path = ROOT / "book" / "004-three-conv-three-pool.ipynb"
    execute(
        path,
        tmp_path,
        epochs=2,
        batch_size=64,
        train_limit=1000,
        results_dir=str(tmp_path / "results"),
    )
    saved = json.loads((tmp_path / "results" / "three_conv_three_pool.json").read_text())
    assert saved["epochs"] == 2 and saved["batch_size"] == 64
    assert len(saved["history"]["val_accuracy"]) == 2


@pytest.mark.parametrize(
    ("chapter", "parameters", "names"),
    [
        ("000-three-conv-dense64", {"epochs": 0}, ["epochs", "positive integer", "epochs=0"]),
        ("001-two-conv-dropout", {"epochs": "abc"}, ["epochs", "epochs='abc'"]),
        (
            "002-one-conv-wide-dense",
            {"train_limit": 100000},
            ["train_limit", "from 10", "to 55000", "train_limit=100000"],
        ),
        ("003-keras-classic-cnn", {"train_limit": 5}, ["train_limit", "train_limit=5"]),
        ("004-three-conv-three-pool", {"batch_size": -1}, ["batch_size", "from 1 to 60000"]),
        (
            "errors",
            {"architecture": "lenet"},
            ["architecture must be one of three_conv_dense64", "'lenet'"],
        ),
        ("comparison", {"seed": -1}, ["seed must be an integer from 0"]),
        ("data", {"validation_size": 1.5}, ["validation_size", "validation_size=1.5"]),
    ],
)
def test_bad_parameters_stop_in_the_checking_cell(chapter, parameters, names, tmp_path):
    path = ROOT / "book" / f"{chapter}.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        execute(path, tmp_path, **parameters)
    error = caught.value
    assert error.ename == "ParameterError"
    for name in names:
        assert name in error.evalue
    notebook = nbformat.read(tmp_path / path.name, as_version=4)
    failed = next(
        c
        for c in notebook.cells
        if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs)
    )
    assert "check_parameters(" in failed.source, "the error must come from the checking cell"
    # Papermill adds markdown cells that mark the error; the order of the chapter's own cells
    # is what matters: the checking cell comes straight after the injected parameters.
    cells = [
        c for c in notebook.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])
    ]
    injected = next(
        i for i, c in enumerate(cells) if "injected-parameters" in c.metadata.get("tags", [])
    )
    assert cells.index(failed) == injected + 1

"""The chapters as notebooks: what a reader can change, and what a quick run does.

The static checks (the parameters cell, the check that follows it, how much code the
architecture chapters share) are quick. The bad values a reader can type are unit tests of the
checking helper (tests/test_chapter.py); here one chapter shows that such a value stops in the
cell that checks it, and another that injected parameters are honoured.

In `make test`, every chapter runs under papermill at the small settings below on TensorFlow in
the Colab stage (tests/colab, Colab's package versions, which also checks that a quick run saves
nothing and changes no committed file), and at its documented settings under nbval, in this
environment's TensorFlow; four of them also run at the small settings on JAX or PyTorch
(tests/test_backends.py; every chapter on both with MNIST_LESSONS_EVERY_BACKEND=1).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from chapters import chapters  # noqa: E402

CHAPTERS = chapters()
ARCHITECTURE_CHAPTERS = [p for p in CHAPTERS if p.stem[:3].isdigit()]
# Small settings that still run every cell: one epoch on 2,000 images, and the fewest seeds each
# loop of runs needs (two wherever a spread over seeds is computed).
QUICK = {
    "epochs": 1,
    "train_limit": 2000,
    "seed": 0,
    "seeds": 2,
    "seeds_995": 1,
    "ablation_seeds": 2,
    "probe_images": 500,
}
STANDARD = {"epochs", "batch_size", "train_limit", "seed"}
STUDY_READER = {"study_dir", "rerun_seed"}
STUDY_READERS = {"comparison"}
CHECKS = ("check_parameters(", "writeup_settings(", "run_writeup(", "check_study_parameters(")
MAX_SHARED_LINES = 32


def code_cells(path: Path) -> list[nbformat.NotebookNode]:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def declared_parameters(path: Path) -> set[str]:
    for cell in code_cells(path):
        if "parameters" in cell.metadata.get("tags", []):
            return {
                line.split("=")[0].strip()
                for line in cell.source.splitlines()
                if "=" in line and not line.startswith((" ", "#"))
            }
    return set()


BOILERPLATE = re.compile(r"^(?:[()\[\]{},:]*|\w+,|from .* import .*|import .*|#.*)$")
"""Lines that carry no procedure: brackets alone, one name of a list, imports, comments."""


def code_lines(path: Path) -> list[str]:
    """The lines of procedure in a chapter's code: not the Colab cell, the imports or the
    parameters cell that every chapter has, nor the cell that writes the chapter's network out
    in Keras (that cell is the chapter's lesson, and networks are alike line by line)."""
    cells = code_cells(path)[1:]  # the first is the Colab install cell
    return [
        line.strip()
        for c in cells
        if "return keras.Sequential(" not in c.source
        and "parameters" not in c.metadata.get("tags", [])
        for line in c.source.splitlines()
        if line.strip() and not BOILERPLATE.match(line.strip())
    ]


def execute(
    path: Path, tmp_path: Path, kernel_name: str = "python3", **parameters
) -> nbformat.NotebookNode:
    """Runs a chapter under papermill from book/, writing the executed copy into ``tmp_path``."""
    output = tmp_path / path.name
    papermill.execute_notebook(
        str(path),
        str(output),
        parameters=parameters,
        cwd=str(path.parent),
        kernel_name=kernel_name,
        progress_bar=False,
    )
    return nbformat.read(output, as_version=4)


def execute_quick(
    path: Path, tmp_path: Path, kernel_name: str = "python3"
) -> nbformat.NotebookNode:
    """Runs a chapter as ``execute`` does, at the ``QUICK`` settings its parameters declare."""
    declared = declared_parameters(path)
    return execute(path, tmp_path, kernel_name, **{k: v for k, v in QUICK.items() if k in declared})


def outputs_text(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(
        o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs
    )


def test_the_table_of_contents_lists_every_notebook():
    on_disk = set((ROOT / "book").glob("*.ipynb"))
    assert set(CHAPTERS) == on_disk
    assert len(CHAPTERS) >= 10


@pytest.mark.parametrize("path", [p for p in CHAPTERS if p.stem != "intro"], ids=lambda p: p.stem)
def test_the_parameters_cell_is_checked_first(path):
    """Each training chapter declares the standard parameters (a chapter that only reads the
    studies, the study folder and the seed to train again), and its next code cell checks them,
    so a bad value stops before anything runs."""
    expected = STUDY_READER if path.stem in STUDY_READERS else STANDARD
    assert declared_parameters(path) >= expected, f"{path.name} lacks {expected}"
    cells = code_cells(path)
    index = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    following = cells[index + 1].source
    assert any(check in following for check in CHECKS), following[:200]


def test_the_colab_cell_is_one_install_line_that_runs_only_in_colab():
    for path in CHAPTERS:
        first = code_cells(path)[0].source
        installs = [line.strip() for line in first.splitlines() if "install" in line]
        assert installs[-1].startswith('%pip install -q "mnist-lessons @ git+https://'), path
        assert 'if "google.colab" in sys.modules:' in first, path


PAGE_WIDTH = 80
"""Characters of code a line of the rendered column shows without a horizontal scroll bar."""


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_code_on_the_page_fits_the_column(path):
    """Every line of a code cell the page shows (folded or not) fits the column; cells removed
    from the page, and the Colab install line with its URL, are exempt."""
    wide = [
        line
        for cell in code_cells(path)
        if not {"remove-cell", "remove-input"} & set(cell.metadata.get("tags", []))
        for line in cell.source.splitlines()
        if len(line) > PAGE_WIDTH and not line.lstrip().startswith("%pip install")
    ]
    assert not wide, "\n".join(wide)


@pytest.mark.parametrize("path", ARCHITECTURE_CHAPTERS[1:], ids=lambda p: p.stem)
def test_architecture_chapters_share_little_code(path):
    """Chapters 001–004 call the procedure that chapter 000 walks through, rather than copy it."""
    others = {
        line for other in ARCHITECTURE_CHAPTERS if other != path for line in code_lines(other)
    }
    shared = [line for line in code_lines(path) if line in others]
    assert len(shared) <= MAX_SHARED_LINES, shared


@pytest.mark.slow
def test_injected_parameters_are_honoured(tmp_path):
    path = ROOT / "book" / "004-three-conv-three-pool.ipynb"
    notebook = execute(path, tmp_path, epochs=2, batch_size=64, train_limit=1000)
    text = outputs_text(notebook)
    assert "reference write-up 004: 2 epochs, batch size 64" in text
    assert "train x (1000, 28, 28, 1)" in text
    table = text[text.index("epoch  seconds") :].splitlines()
    assert [line.split()[0] for line in table[1:3]] == ["1", "2"]


@pytest.mark.slow
def test_a_bad_value_stops_in_the_cell_that_checks_it(tmp_path):
    path = ROOT / "book" / "001-two-conv-dropout.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        execute(path, tmp_path, epochs=0)
    assert caught.value.ename == "ParameterError"
    assert "epochs must be an integer of at least 1" in caught.value.evalue
    assert "Received: epochs=0" in caught.value.evalue
    notebook = nbformat.read(tmp_path / path.name, as_version=4)
    cells = [
        c
        for c in notebook.cells
        if c.cell_type == "code" and "papermill-error-cell-tag" not in c.metadata.get("tags", [])
    ]
    failed = next(
        i for i, c in enumerate(cells) if any(o.output_type == "error" for o in c.outputs)
    )
    injected = next(
        i for i, c in enumerate(cells) if "injected-parameters" in c.metadata.get("tags", [])
    )
    assert failed == injected + 1
    assert "writeup_settings(" in cells[failed].source


GLUE_CALLS = ("glue", "glue_figures")
IDENTIFIER = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")
MATH_SYMBOLS = {"c_in", "c_out", "z_i", "z_j"} | {
    "s_j",
    "s_k",
    "s_y",
    "x_i",
    "b_j",
    "p_j",
    "p_y",
    "r_k",
    "v_k",
    "n_k",
}
"""Subscripted symbols of the formulas of the convolution and training chapters, written as plain
text (the book sets no TeX: MathJax would load from a CDN that an offline reader lacks)."""


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_cell_on_the_page_only_glues(path):
    """A cell whose every statement glues values (or calls a run's ``glue()``) is plumbing: it
    is removed from the page (``remove-cell``) and still runs under nbval."""
    import ast

    for cell in code_cells(path):
        if {"remove-cell", "remove-input"} & set(cell.metadata.get("tags", [])):
            continue
        # IPython's magics become a plain call, so that the cell parses as Python.
        source = re.sub(r"^(\s*)%.*$", r"\1magic()", cell.source, flags=re.MULTILINE)
        body = ast.parse(source).body
        calls = [
            node.value.func
            for node in body
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
        ]
        names = [getattr(f, "id", getattr(f, "attr", "")) for f in calls]
        only_glue = body and len(names) == len(body) and all(n in GLUE_CALLS for n in names)
        assert not only_glue, f"{path.stem}: a visible cell only glues:\n{cell.source[:300]}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_prose_names_no_variable(path):
    """The prose says what a figure is in words: no glued name or variable (``leak_gain``)
    appears outside code spans and roles."""
    text = "\n".join(
        c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"
    )
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)  # display maths
    text = re.sub(r"\$[^$\n]+\$", "", text)  # inline maths
    text = re.sub(r"\{[a-z:]+\}`[^`]*`", "", text)  # roles: glue, cite, term, ref
    text = re.sub(r"`[^`]*`", "", text)  # code spans
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    text = re.sub(r"^\([\w-]+\)=$", "", text, flags=re.MULTILINE)  # labels
    leaked = set(IDENTIFIER.findall(text)) - MATH_SYMBOLS
    assert not leaked, f"{path.stem}: {sorted(leaked)}"

"""The book as readers get it: the strict HTML build, then every page in headless Chromium."""

from __future__ import annotations

import functools
import http.server
import re
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from .browser import build_book, start_chromium

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from chapters import chapters  # noqa: E402
from check_notebooks import problems  # noqa: E402

CHAPTERS = chapters()


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_committed_notebook_is_executed_and_clean(path):
    assert problems(path) == []


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    """Builds the book once with warnings as errors, into a temporary folder."""
    out = tmp_path_factory.mktemp("book")
    # ONNX Runtime Web for the drawing page (`make ort`): the build copies it into _static.
    subprocess.run([sys.executable, str(ROOT / "tools" / "fetch_onnxruntime.py")], check=True)
    return build_book(ROOT, out)


def page(html: Path, notebook: Path) -> Path:
    return html / "book" / f"{notebook.stem}.html"


@pytest.mark.slow
def test_build_writes_every_chapter_with_its_figures(html):
    for notebook in CHAPTERS:
        text = page(html, notebook).read_text()
        assert "<img" in text, f"{notebook.stem} has no figure"
        assert "Failed to format" not in text
    assert (html / "index.html").is_file()
    draw = (html / "book" / "draw.html").read_text()
    for element in ('id="digit-canvas"', 'id="digit-prediction"', 'id="digit-clear"'):
        assert element in draw
    for script in ("ort/ort.wasm.min.js", "model.js", "draw.js"):
        assert (html / "_static" / "draw" / script).is_file(), script


@pytest.mark.slow
def test_glued_numbers_appear_in_the_prose(html):
    text = page(html, ROOT / "book" / "001-two-conv-dropout.ipynb").read_text()
    assert "150,858" in text
    assert "reference write-up" in text


@pytest.fixture(scope="module")
def browser():
    driver = start_chromium(height=2000, logs=("browser",))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def server(html):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(html))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.slow
@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_page_loads_with_images_no_console_errors_and_its_own_colab_link(browser, server, notebook):
    browser.get(f"{server}/book/{notebook.stem}.html")
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    heading = browser.execute_script("return document.querySelector('main h1')?.textContent")
    assert heading and "404" not in browser.title, f"{notebook.stem}: no chapter heading"
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.currentSrc, i.complete, i.naturalWidth])"
    )
    assert images, "no images on the page"
    broken = [src for src, complete, width in images if not complete or width == 0]
    assert not broken, f"images that did not decode: {broken}"
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors
    links = browser.execute_script(
        "return Array.from(document.querySelectorAll('a[href*=\"colab.research.google.com\"]'))"
        ".map(a => a.href)"
    )
    assert links, "no Colab launch link"
    assert all(link.endswith(f"/blob/main/book/{notebook.name}") for link in links), links


GLUE_REFERENCE = re.compile(r"\{glue(?::(?:text|any|figure|math))?\}`([A-Za-z0-9_]+)")
MEASURED_ANSWERS = {
    "000-three-conv-dense64": ["long_run_epochs", "best_epoch"],
    "001-two-conv-dropout": ["no_dropout_test_accuracy"],
    "002-one-conv-wide-dense": ["linear_test_accuracy"],
    "003-keras-classic-cnn": ["leak_gain"],
    "004-three-conv-three-pool": ["pool_study_sentence"],
    "comparison": ["documented_widest_points", "arch_leader_unadjusted"],
    "fast-training": [
        "speedrun995_min_accuracy",
        "speedrun_seconds",
        "peer_seconds_to_99",
        "norm_first_step_ratio",
    ],
    "fast-training-time": ["profile_matmul_share", "recipe_step_ms", "precision_step_ratio"],
    "convolution": ["mlp_params", "mlp_test_accuracy", "cnn_params", "cnn_test_accuracy"],
    "training": ["gradient_gap", "schedule_verdict", "reestimate_verdict", "tuned_verdict"],
    "invariance": ["flat_changed_four", "moved_reading", "centred_reading", "combined_vs_shifts"],
    "baselines": ["best_baseline_accuracy", "mcnemar_p", "best_error", "beyond_chance", "gap_p"],
    "knows": [
        "features_tsne",
        "rejected_right",
        "caught_scribbles",
        "fgsm_10",
        "recipe_995_fgsm_points",
        "wide_iterative_points",
    ],
    "errors": ["ece_before", "ece_after", "temperature", "withheld_right"],
}


def glued_names(path: Path) -> set[str]:
    notebook = nbformat.read(path, as_version=4)
    return {
        output.metadata["scrapbook"]["name"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "scrapbook" in output.get("metadata", {})
    }


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_figure_the_prose_cites_is_glued_by_the_committed_run(path):
    notebook = nbformat.read(path, as_version=4)
    cited = {
        name
        for cell in notebook.cells
        if cell.cell_type == "markdown"
        for name in GLUE_REFERENCE.findall(cell.source)
    }
    assert cited, f"{path.stem} cites no measured figure"
    assert cited <= glued_names(path), sorted(cited - glued_names(path))


@pytest.mark.parametrize("stem", MEASURED_ANSWERS)
def test_each_chapter_glues_the_answer_to_its_question(stem):
    glued = glued_names(ROOT / "book" / f"{stem}.ipynb")
    assert set(MEASURED_ANSWERS[stem]) <= glued


DEFINITIONS = {
    "def-batch": ["batch", "epoch"],
    "def-validation": ["validation"],
    "def-convolution": ["kernel", "filter", "convolution", "feature map"],
    "def-stride": ["stride", "padding"],
    "def-relu": ["ReLU"],
    "def-pooling": ["Max pooling"],
    "def-softmax": ["logits", "Softmax", "cross-entropy"],
    "def-precision": ["Precision", "recall"],
    "def-calibration": ["calibrated", "reliability diagram", "expected calibration error"],
    "def-saliency": ["saliency map", "gradient"],
    "def-gradient": ["gradient"],
    "def-descent": ["gradient descent"],
    "def-batch-norm": ["running statistics"],
    "def-running-mean": ["running mean"],
    "def-invariance": ["equivariant", "invariant"],
    "def-baseline": ["baseline"],
    "def-nearest-neighbour": ["nearest class mean", "k-nearest-neighbour", "logistic regression"],
    "def-pca": ["principal component analysis"],
    "def-embedding": ["embedding"],
    "def-tsne": ["t-SNE"],
    "def-unfamiliar": ["unfamiliar input"],
    "def-rejection": ["maximum probability", "entropy", "rejection rule"],
    "def-adversarial": ["fast gradient sign method", "adversarial example"],
}
"""Each term's label, and the words defined (in bold) in the paragraphs after it."""


def _markdown(path: Path) -> str:
    return "\n".join(
        c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"
    )


def test_each_term_is_defined_in_bold_where_its_label_is_and_the_intro_links_there():
    labels = {}
    for path in CHAPTERS:
        text = _markdown(path)
        for match in re.finditer(r"^\(([\w-]+)\)=\n", text, flags=re.MULTILINE):
            assert match.group(1) not in labels, f"{match.group(1)} is defined twice"
            labels[match.group(1)] = (path.stem, text[match.end() : match.end() + 1500])
    intro = _markdown(ROOT / "book" / "intro.ipynb")
    for label, words in DEFINITIONS.items():
        assert label in labels, f"no chapter has the label ({label})="
        _, following = labels[label]
        for word in words:
            assert f"**{word.lower()}" in following.lower(), (
                f"{word!r} is not defined in bold after {label}"
            )
        assert re.search(rf"<{label}>`", intro), f"the intro does not link to {label}"
    for path in CHAPTERS:
        for target in re.findall(r"\{ref\}`[^`<]*<([\w-]+)>`", _markdown(path)):
            assert target in labels, f"{path.stem} links to a missing label {target}"


BIB_KEY = re.compile(r"^@\w+\{([\w:-]+),", flags=re.MULTILINE)
CITE = re.compile(r"\{cite(?::\w+)?\}`([^`]+)`")
TERM = re.compile(r"\{term\}`(?:[^`<]*<([^>]+)>|([^`<]+))`")


def _all_markdown() -> dict[str, str]:
    texts = {path.stem: _markdown(path) for path in CHAPTERS}
    for md in ("draw", "glossary", "references"):
        texts[md] = (ROOT / "book" / f"{md}.md").read_text()
    return texts


def test_every_citation_names_a_source_in_the_bibliography_and_every_source_is_cited():
    keys = set(BIB_KEY.findall((ROOT / "references.bib").read_text()))
    cited = {}
    for stem, text in _all_markdown().items():
        for group in CITE.findall(text):
            for key in group.split(","):
                cited.setdefault(key.strip(), set()).add(stem)
    missing = sorted(set(cited) - keys)
    assert not missing, f"cited but not in references.bib: {missing}"
    uncited = sorted(keys - set(cited))
    assert not uncited, f"in references.bib but cited nowhere: {uncited}"
    # The five write-ups are credited where the book introduces them and in their chapters.
    for n, stem in enumerate(
        [
            "000-three-conv-dense64",
            "001-two-conv-dropout",
            "002-one-conv-wide-dense",
            "003-keras-classic-cnn",
            "004-three-conv-three-pool",
        ]
    ):
        assert {"intro", stem} <= cited[f"writeup00{n}"]


def test_every_term_link_names_a_glossary_entry():
    glossary = (ROOT / "book" / "glossary.md").read_text()
    body = glossary.split("```{glossary}", 1)[1].split("```", 1)[0]
    entries = {line.strip().lower() for line in body.splitlines() if line and not line[0].isspace()}
    assert len(entries) >= 30
    for stem, text in _all_markdown().items():
        for explicit, plain in TERM.findall(text):
            term = (explicit or plain).strip().lower()
            assert term in entries, f"{stem} links the term {term!r}, which the glossary lacks"


def test_the_glossary_and_references_are_in_the_table_of_contents():
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert files[-2:] == ["book/glossary", "book/references"]
    assert "references.bib" in yaml.safe_load((ROOT / "_config.yml").read_text())["bibtex_bibfiles"]


@pytest.mark.slow
def test_every_built_page_meets_the_readability_limits(html):
    """At most 2,500 words of prose, a mean sentence of at most 20 words and at most three
    sentences over 40 words, counted by tools/readability.py on the strict build."""
    from readability import LONG_SENTENCE, read_book

    readings = read_book(html / "book")
    assert {r.page for r in readings} >= {p.stem for p in CHAPTERS} | {"draw", "glossary"}
    over = [
        f"{r.page}: {r.words} words, mean {r.mean_sentence}, {r.long_sentences} over "
        f"{LONG_SENTENCE} (longest {r.longest}); see python tools/readability.py --page {r.page}"
        for r in readings
        if r.words > 2500 or r.mean_sentence > 20 or r.long_sentences > 3
    ]
    assert not over, "\n".join(over)

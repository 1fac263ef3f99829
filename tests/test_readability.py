"""tools/readability.py: the figures it reports, on a page whose answers are counted by hand."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from readability import main, read_page, sentences, words  # noqa: E402

PAGE = (
    """<html><body><nav><p>Not prose: the navigation.</p></nav><article>
<h1>A page</h1>
<p>The model scores 0.9912 on the test set. Is that good? It is, e.g. for a network this small.</p>
<ul><li>One item with <code>run_writeup</code> in it.</li></ul>
<div class="cell_output"><p>Printed output is not prose.</p></div>
<pre>code = "is not prose either"</pre>
<table><tr><td>Nor is a table.</td></tr></table>
<p>"""
    + " ".join(["word"] * 45)
    + """.</p>
<img src="figure.png">
</article></body></html>"""
)


def test_sentences_split_at_their_ends_but_not_at_decimals_or_abbreviations():
    assert sentences("It scores 0.9912. Is that good? Yes, e.g. here. (A bracket.)") == [
        "It scores 0.9912.",
        "Is that good?",
        "Yes, e.g. here.",
        "(A bracket.)",
    ]
    assert words("It scores 0.9912 — a figure.") == 5  # the dash is not a word


def test_a_page_is_read_as_its_prose_only(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(PAGE)
    reading, long = read_page(path)
    # The title has no full stop, so it runs into the first sentence (2 + 8 words); then 3 + 8,
    # the list item's 6 and one of 45 words; nothing from the navigation, the output, the code
    # or the table.
    assert reading.sentences == 5
    assert reading.words == 10 + 3 + 8 + 6 + 45
    assert reading.long_sentences == 1 and len(long) == 1
    assert reading.longest == 45
    assert reading.mean_sentence == round(72 / 5, 1)
    assert reading.figures == 1


def test_text_without_a_full_stop_runs_into_the_next_sentence(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<article><h2>Steps</h2><p>Do these:</p><ul><li>load the images</li>"
        "<li>train the network.</li></ul><p>Then score it.</p></article>"
    )
    reading, _ = read_page(path)
    # "Steps Do these: load the images train the network." and "Then score it."
    assert (reading.sentences, reading.words, reading.longest) == (2, 12, 9)


def test_the_command_prints_a_table_and_refuses_a_missing_folder(tmp_path, capsys):
    (tmp_path / "page.html").write_text(PAGE)
    assert main(["--html", str(tmp_path)]) == 0
    assert "| page | 72 | 5 | 14.4 | 1 | 45 | 1 |" in capsys.readouterr().out
    import pytest

    with pytest.raises(SystemExit, match="Build the book first"):
        main(["--html", str(tmp_path / "missing")])

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
    # 3 sentences in the first paragraph (8 + 3 + 8 words), 1 in the list item (6 words), and
    # one of 45 words; nothing from the navigation, the output, the code or the table.
    assert reading.sentences == 5
    assert reading.words == 8 + 3 + 8 + 6 + 45
    assert reading.long_sentences == 1 and len(long) == 1
    assert reading.longest == 45
    assert reading.mean_sentence == round(70 / 5, 1)
    assert reading.figures == 1


def test_the_command_prints_a_table_and_refuses_a_missing_folder(tmp_path, capsys):
    (tmp_path / "page.html").write_text(PAGE)
    assert main(["--html", str(tmp_path)]) == 0
    assert "| page | 70 | 5 | 14.0 | 1 | 45 | 1 |" in capsys.readouterr().out
    import pytest

    with pytest.raises(SystemExit, match="Build the book first"):
        main(["--html", str(tmp_path / "missing")])

"""How each built page reads: words of prose, mean sentence length, long sentences, figures.

Reads the HTML that `jupyter-book build .` writes (``_build/html/book/*.html``) and measures the
prose a reader sees: paragraphs and list items of the page's article, including folded answers,
but not code, printed output, tables or figure captions. Glued values count as the words they
render as.

    python tools/readability.py                 # every page, as a table
    python tools/readability.py --page errors   # one page, with its sentences over 40 words
    python tools/readability.py --json          # the figures, for a test or a closing note

Sentences are split at ".", "?" or "!" followed by a space and a capital letter, a digit or an
opening bracket, except after common abbreviations ("e.g.", "et al.", "Fig."). A sentence ends
only there: a heading, a list item or a paragraph that does not end with ".", "?" or "!" (a title,
a list item without a full stop, a paragraph ending in a colon before a figure) runs on into the
text after it, as it would for a reader of the page's text alone. The count is the strict one on
purpose. Words are whitespace-separated tokens that hold a letter or a digit.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html" / "book"

LONG_SENTENCE = 40
"""A sentence of more than this many words counts as long."""

ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "etc.", "vs.", "Fig.", "cf.", "approx.", "no.")

# Code blocks, printed output, tables and captions are not prose; inline code in a sentence is.
SKIP = (
    "pre, table, figcaption, .cell_output, .output, .highlight, .MathJax, .math, "
    "script, style, nav, summary, .headerlink, .bd-toc, .prev-next-area, .footnote, .citation"
)

SPLIT = re.compile(r"(?<=[.?!])[\"')\]]?\s+(?=[A-Z0-9(\"'])")
WORD = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class PageReading:
    """One page's figures.

    Attributes:
        page: the page's file stem ("errors").
        words: words of prose.
        sentences: how many sentences.
        mean_sentence: mean words per sentence.
        long_sentences: sentences of more than `LONG_SENTENCE` words.
        longest: the longest sentence's words.
        figures: images in the page (plots and drawn figures).
    """

    page: str
    words: int
    sentences: int
    mean_sentence: float
    long_sentences: int
    longest: int
    figures: int


BLOCKS = ["h1", "h2", "h3", "h4", "p", "li", "dt", "dd"]
ENDS = re.compile(r"[.?!][\"')\]]?$")


def prose_blocks(html: str) -> list[str]:
    """The page's prose in reading order, code and output left out: each heading, paragraph and
    list item, joined to the next one where it does not end a sentence."""
    soup = BeautifulSoup(html, "html.parser")
    article = soup.select_one("article") or soup.select_one("main") or soup
    for element in article.select(SKIP):
        element.decompose()
    blocks, running = [], ""
    for element in article.find_all(BLOCKS):
        if element.find(BLOCKS):
            continue  # a container: its inner blocks are counted on their own
        text = " ".join(element.get_text(" ").split()).replace("\u00b6", "").strip()
        if not WORD.search(text):
            continue
        running = f"{running} {text}".strip()
        if ENDS.search(running):
            blocks.append(running)
            running = ""
    if running:
        blocks.append(running)
    return blocks


def sentences(block: str) -> list[str]:
    """A block of prose split into sentences."""
    protected = block
    for abbreviation in ABBREVIATIONS:
        protected = protected.replace(abbreviation, abbreviation.replace(".", "\u2024"))
    parts = [p.strip() for p in SPLIT.split(protected) if p.strip()]
    return [p.replace("\u2024", ".") for p in parts]


def words(sentence: str) -> int:
    return sum(1 for token in sentence.split() if WORD.search(token))


def figure_count(html: str) -> int:
    soup = BeautifulSoup(html, "html.parser")
    article = soup.select_one("article") or soup
    return len(article.find_all("img"))


def read_page(path: Path) -> tuple[PageReading, list[str]]:
    """The page's figures, and its sentences of more than `LONG_SENTENCE` words."""
    html = path.read_text(encoding="utf-8")
    found = [s for block in prose_blocks(html) for s in sentences(block)]
    lengths = [words(s) for s in found] or [0]
    long = [s for s, n in zip(found, lengths, strict=False) if n > LONG_SENTENCE]
    reading = PageReading(
        page=path.stem,
        words=sum(lengths),
        sentences=len(found),
        mean_sentence=round(sum(lengths) / max(1, len(found)), 1),
        long_sentences=len(long),
        longest=max(lengths),
        figures=figure_count(html),
    )
    return reading, long


def read_book(folder: Path = HTML) -> list[PageReading]:
    pages = sorted(folder.glob("*.html"))
    if not pages:
        raise SystemExit(f"No built pages in {folder}. Build the book first: jupyter-book build .")
    return [read_page(p)[0] for p in pages]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=HTML, help="folder of built pages")
    parser.add_argument("--page", help="one page's stem, with its long sentences")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.page:
        path = args.html / f"{args.page}.html"
        if not path.exists():
            parser.error(
                f"no page {path}; the pages are: "
                + ", ".join(p.stem for p in sorted(args.html.glob("*.html")))
            )
        reading, long = read_page(path)
        print(json.dumps(asdict(reading), indent=1))
        for sentence in long:
            print(f"\n[{words(sentence)} words] {sentence}")
        return 0
    readings = read_book(args.html)
    if args.json:
        print(json.dumps([asdict(r) for r in readings], indent=1))
        return 0
    print(
        "| page | words | sentences | mean words per sentence | over 40 words | longest | figures |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in readings:
        print(
            f"| {r.page} | {r.words:,} | {r.sentences} | {r.mean_sentence} | "
            f"{r.long_sentences} | {r.longest} | {r.figures} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Executes every chapter with papermill, in table-of-contents order, and reports wall times.

    python tools/execute.py [--out DIR] [--only NAME ...] -- [papermill parameter options]

For example ``-- -p epochs 1 -p train_limit 3000`` for a quick pass. The chapters run in the
order of the table of contents, except the introduction, which runs last: its table of run times
reads what ``--record`` wrote for the others. Parameters a chapter does
not declare are ignored by that chapter (papermill warns and goes on).

With no parameters (the documented settings) the executed notebooks replace the chapters in
``book/``: that is how the committed book is made. With parameters they go to
``_build/executed/`` unless ``--out`` says otherwise, so a quick pass never changes a committed
file (and the chapters save results only from runs at the documented settings).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import papermill

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chapters import ROOT, chapters


def parse_parameters(options: list[str]) -> dict:
    """Turns ``-p name value`` pairs into a dict, with values parsed as YAML scalars."""
    import yaml

    parameters, i = {}, 0
    while i < len(options):
        if options[i] not in ("-p", "--parameters") or i + 2 >= len(options):
            raise SystemExit(f"expected `-p NAME VALUE`, got {shlex.join(options[i:])!r}")
        parameters[options[i + 1]] = yaml.safe_load(options[i + 2])
        i += 3
    return parameters


def record_timings(path: Path, timings: dict, parameters: dict) -> None:
    """Merges chapter times into ``path``: ``{"documented": {stem: entry}, "quick": {...},
    "quick_parameters": {...}}``, each entry with the seconds, the processor and the date."""
    import datetime

    from mnist_lessons.backend import gpu_available
    from mnist_lessons.chapter import processor_name

    record = json.loads(path.read_text()) if path.exists() else {}
    settings = "quick" if parameters else "documented"
    if parameters:
        if record.get("quick_parameters", parameters) != parameters:
            raise SystemExit(
                f"{path} holds quick timings at {record['quick_parameters']}, not {parameters}; "
                "record these in another file, or delete its quick entries first"
            )
        record["quick_parameters"] = parameters
    machine = ("GPU, " if gpu_available() else "") + processor_name()
    today = datetime.date.today().isoformat()
    entries = record.setdefault(settings, {})
    for stem, seconds in timings.items():
        if stem != "total":
            entries[stem] = {"seconds": seconds, "machine": machine, "date": today}
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        help="folder for executed notebooks (default: book/ at the documented settings, "
        "_build/executed/ with parameters)",
    )
    parser.add_argument("--only", nargs="*", help="chapter file stems to run (default: all)")
    parser.add_argument("--timings", help="write per-chapter wall seconds to this JSON file")
    parser.add_argument(
        "--record",
        help="merge each chapter's wall seconds into this JSON file (book/results/timings.json "
        "is what the introduction's table reads), under the settings it ran at",
    )
    parser.add_argument("papermill_options", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    options = [o for o in args.papermill_options if o != "--"]
    parameters = parse_parameters(options)
    out = Path(args.out or ("_build/executed" if parameters else "book"))
    out.mkdir(parents=True, exist_ok=True)
    timings = {}
    start_all = time.perf_counter()
    # The introduction's table of run times reads the other chapters' times: it runs last.
    order = sorted(chapters(), key=lambda notebook: notebook.stem == "intro")
    for notebook in order:
        if args.only and notebook.stem not in args.only:
            continue
        start = time.perf_counter()
        papermill.execute_notebook(
            str(notebook),
            str(out / notebook.name),
            parameters=parameters,
            cwd=str(notebook.parent),
            kernel_name="python3",
            progress_bar=False,
        )
        timings[notebook.stem] = round(time.perf_counter() - start, 1)
        print(f"{notebook.relative_to(ROOT)}: {timings[notebook.stem]:.0f} s", flush=True)
    timings["total"] = round(time.perf_counter() - start_all, 1)
    print(f"all chapters: {timings['total']:.0f} s")
    if args.timings:
        Path(args.timings).write_text(json.dumps(timings, indent=1) + "\n")
    if args.record:
        record_timings(Path(args.record), timings, parameters)
    return 0


if __name__ == "__main__":
    sys.exit(main())

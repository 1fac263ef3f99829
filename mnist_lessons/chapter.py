"""What every chapter does around its lesson: check its parameters cell, glue its figures."""

from __future__ import annotations

from dataclasses import dataclass

from .checks import MAX_SEED, ParameterError, check_choice, check_int
from .data import NUM_CLASSES

TRAIN_IMAGES = 60000
TEST_IMAGES = 10000

__all__ = [
    "TEST_IMAGES",
    "TRAIN_IMAGES",
    "ChapterParameters",
    "ParameterError",
    "check_parameters",
    "glue_figures",
]


@dataclass(frozen=True)
class ChapterParameters:
    """A chapter's validated parameters."""

    epochs: int | None
    batch_size: int | None
    train_limit: int | None
    seed: int
    validation_size: int
    architecture: str | None = None
    seeds: int = 1


def check_parameters(
    *,
    epochs=None,
    batch_size=None,
    train_limit=None,
    seed=0,
    validation_size=5000,
    architecture=None,
    seeds=1,
) -> ChapterParameters:
    """Validates the values of a chapter's parameters cell.

    ``None`` for ``epochs`` or ``batch_size`` means "as documented"; ``None`` for
    ``train_limit`` means "every training image".

    Raises:
        ParameterError: naming the parameter, the value received and the values accepted, in
            the same words the library and the command line use (`mnist_lessons.checks`).
    """
    epochs = check_int("epochs", epochs, minimum=1, none_means="the documented number")
    batch_size = check_int(
        "batch_size", batch_size, minimum=1, maximum=TRAIN_IMAGES, none_means="the documented size"
    )
    validation_size = check_int(
        "validation_size", validation_size, minimum=0, maximum=TRAIN_IMAGES // 2
    )
    train_limit = check_int(
        "train_limit",
        train_limit,
        minimum=NUM_CLASSES,
        maximum=TRAIN_IMAGES - validation_size,
        none_means="every training image",
    )
    seed = check_int("seed", seed, minimum=0, maximum=MAX_SEED)
    seeds = check_int("seeds", seeds, minimum=1, maximum=50)
    if architecture is not None:
        from .models import ARCHITECTURES

        check_choice("architecture", architecture, ARCHITECTURES)
    return ChapterParameters(
        epochs, batch_size, train_limit, seed, validation_size, architecture, seeds
    )


def glue_figures(**figures) -> None:
    """Glues every ``name=value`` for the chapter's prose (`myst_nb.glue`, not displayed)."""
    from myst_nb import glue

    for name, value in figures.items():
        glue(name, value, display=False)


def check_study_parameters(*, study_dir=None, rerun_seed=None) -> tuple:
    """Validates the parameters of a chapter that reads the book's studies.

    Args:
        study_dir: a folder of study records (``<study>.jsonl``), or None for the committed ones.
        rerun_seed: a seed to train again in the chapter and set beside the study's record, or
            None to read only.

    Returns:
        ``(study_dir as a Path or None, rerun_seed)``.

    Raises:
        ParameterError: naming the parameter, the value received and what is accepted.
    """
    from pathlib import Path

    if study_dir is not None:
        if not isinstance(study_dir, str | Path) or not Path(study_dir).is_dir():
            raise ParameterError(
                "study_dir must be a folder of study records (<study>.jsonl), or None for the "
                f"book's committed studies. Received: study_dir={study_dir!r}"
            )
        study_dir = Path(study_dir)
    rerun_seed = check_int(
        "rerun_seed", rerun_seed, minimum=0, maximum=MAX_SEED, none_means="read only"
    )
    return study_dir, rerun_seed


def processor_name(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The processor's name and how many cores this process may use, e.g. "AMD EPYC 9R14, 2
    cores"; the platform's name where /proc/cpuinfo is missing."""
    import os
    import platform

    name = platform.processor() or platform.machine()
    try:
        with open(cpuinfo) as lines:
            name = next(
                (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
                name,
            )
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name}, {cores} cores"


def chapter_times(record: dict, titles: dict[str, str]):
    """The introduction's table of how long each chapter takes to run, from the record that
    ``tools/execute.py --record`` keeps.

    Args:
        record: the parsed record: ``{"documented": {stem: {"seconds", "machine", "date"}},
            "quick": {...}, "quick_parameters": {...}}``.
        titles: the chapter's title for each notebook stem, in the order to list them.

    Returns:
        A `tables.MarkdownTable` with one row per chapter: documented and quick settings, in
        minutes (seconds under two minutes); "not measured" where the record has no entry.

    Raises:
        ValueError: if a chapter in the record is not in ``titles`` (a renamed chapter whose
            times would be lost).
    """
    from .tables import markdown_table

    unknown = (set(record.get("documented", {})) | set(record.get("quick", {}))) - set(titles)
    if unknown:
        raise ValueError(
            "the timings record names chapters the book does not have: "
            f"{', '.join(sorted(unknown))}. "
            "Re-run tools/execute.py --record for the renamed chapters and remove the old entries."
        )

    def shown(settings: str, stem: str) -> str:
        entry = record.get(settings, {}).get(stem)
        if entry is None:
            return "not measured"
        seconds = entry["seconds"]
        return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"

    return markdown_table(
        ["chapter", "documented settings", "quick settings"],
        [
            [title, shown("documented", stem), shown("quick", stem)]
            for stem, title in titles.items()
        ],
        align="lrr",
    )

"""What every chapter does around its lesson: check its parameters cell, glue its figures."""

from __future__ import annotations

from dataclasses import dataclass

from .checks import MAX_SEED, ParameterError, check_choice, check_int
from .data import NUM_CLASSES

TRAIN_IMAGES = 60000

__all__ = [
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

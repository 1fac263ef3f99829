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

"""Helpers the book's chapters share: checking their parameters and recording their results."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import NUM_CLASSES
from .models import ARCHITECTURES

TRAIN_IMAGES = 60000


class ParameterError(ValueError):
    """A chapter parameter has a value the chapter cannot run with."""


def _integer(name: str, value, minimum: int, maximum: int | None, accepted: str) -> int:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, np.integer))
        and value >= minimum
        and (maximum is None or value <= maximum)
    )
    if not ok:
        raise ParameterError(f"{name} must be {accepted}. Received: {name}={value!r}")
    return int(value)


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
        ParameterError: naming the parameter, the value received and the values accepted.
    """
    if epochs is not None:
        epochs = _integer(
            "epochs", epochs, 1, None, "a positive integer (or None for the documented number)"
        )
    if batch_size is not None:
        batch_size = _integer(
            "batch_size",
            batch_size,
            1,
            TRAIN_IMAGES,
            f"an integer from 1 to {TRAIN_IMAGES} (or None for the documented size)",
        )
    validation_size = _integer(
        "validation_size",
        validation_size,
        0,
        TRAIN_IMAGES // 2,
        f"an integer from 0 to {TRAIN_IMAGES // 2}",
    )
    if train_limit is not None:
        available = TRAIN_IMAGES - validation_size
        train_limit = _integer(
            "train_limit",
            train_limit,
            NUM_CLASSES,
            available,
            f"None or an integer from {NUM_CLASSES} (one image per digit) to "
            f"{available} (the training images left after validation)",
        )
    seed = _integer("seed", seed, 0, 2**32 - 1, "an integer from 0 to 2**32 - 1")
    seeds = _integer("seeds", seeds, 1, 50, "an integer from 1 to 50 (runs per recipe)")
    if architecture is not None and architecture not in ARCHITECTURES:
        raise ParameterError(
            f"architecture must be one of {', '.join(ARCHITECTURES)}. "
            f"Received: architecture={architecture!r}"
        )
    return ChapterParameters(
        epochs, batch_size, train_limit, seed, validation_size, architecture, seeds
    )


def results_path(results_dir: str | os.PathLike, architecture: str) -> Path:
    """Where an architecture chapter saves its results, for the comparison to read."""
    return Path(results_dir) / f"{architecture}.json"

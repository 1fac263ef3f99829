"""Preparing MNIST for a Keras model: scaling, labels, a stratified validation split, subsets.

`prepare_data` turns what `mnist_lessons.sources.load_mnist` returns into float32 images of shape
(n, 28, 28, 1) in [0, 1] and integer (or one-hot) labels, holding out a validation split that is
stratified by class and reproducible from a seed. Where MNIST comes from, and how it is verified,
is `mnist_lessons.sources`.

This module needs NumPy only: importing it does not import Keras or TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .checks import MAX_SEED, check_int
from .sources import MnistArrays, load_mnist

NUM_CLASSES = 10
IMAGE_SIZE = 28
"""MNIST images are IMAGE_SIZE × IMAGE_SIZE pixels; every shape in the library derives from it."""
IMAGE_SHAPE = (IMAGE_SIZE, IMAGE_SIZE)


def _check_images(images: np.ndarray, name: str = "images") -> np.ndarray:
    images = np.asarray(images)
    if images.ndim not in (3, 4) or images.shape[1:3] != IMAGE_SHAPE:
        raise ValueError(
            f"{name} must have shape (n, {IMAGE_SIZE}, {IMAGE_SIZE}) or "
            f"(n, {IMAGE_SIZE}, {IMAGE_SIZE}, 1). Received: shape={images.shape}"
        )
    return images


def scale_images(images: np.ndarray) -> np.ndarray:
    """Scales uint8 images to float32 in [0, 1] and adds a channel axis.

    Args:
        images: uint8 array of shape (n, 28, 28), values 0–255.

    Returns:
        float32 array of shape (n, 28, 28, 1), values in [0, 1].
    """
    images = _check_images(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if np.issubdtype(images.dtype, np.floating) and images.size and images.max() <= 1.0:
        return images.astype(np.float32)
    return (images.astype(np.float32) / 255.0).astype(np.float32)


def encode_labels(labels: np.ndarray, one_hot: bool = False) -> np.ndarray:
    """Returns labels as int64 class indices, or as float32 one-hot rows of width 10.

    Args:
        labels: integer array of shape (n,), values 0–9.
        one_hot: whether to return shape (n, 10) one-hot rows instead of indices.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be a 1-D array. Received: shape={labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(
            f"labels must be in 0–9. Received values from {labels.min()} to {labels.max()}"
        )
    indices = labels.astype(np.int64)
    if not one_hot:
        return indices
    return np.eye(NUM_CLASSES, dtype=np.float32)[indices]


def stratified_indices(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Picks ``size`` indices with every class represented in proportion, reproducibly.

    Classes get ``size`` split by their share of ``labels`` (largest remainders get the rest).

    Args:
        labels: class indices of shape (n,).
        size: how many indices to pick, from 10 to n.
        seed: a non-negative integer; the same seed picks the same indices.

    Returns:
        int64 array of ``size`` distinct indices into ``labels``, in shuffled order.
    """
    labels = np.asarray(labels)
    size = check_int("size", size, minimum=NUM_CLASSES, maximum=len(labels))
    seed = check_int("seed", seed, minimum=0, maximum=MAX_SEED)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts / counts.sum() * size
    take = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - take), kind="stable")[: size - take.sum()]:
        take[i] += 1
    picked = [
        rng.permutation(np.flatnonzero(labels == c))[:n] for c, n in zip(classes, take, strict=True)
    ]
    return rng.permutation(np.concatenate(picked))


@dataclass
class PreparedData:
    """Model-ready arrays.

    Attributes:
        x_train, x_val, x_test: float32 arrays of shape (n, 28, 28, 1), values in [0, 1].
        y_train, y_val, y_test: int64 class indices of shape (n,), or float32 one-hot (n, 10).
        settings: how `prepare_data` made them: ``{"validation_size": ..., "train_limit": ...,
            "seed": ..., "one_hot": ...}``, the values it used (empty if built by hand). Two
            `PreparedData` with the same settings from the same MNIST hold the same images.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    settings: dict = field(default_factory=dict)

    def summary(self) -> str:
        """One line per split with its shape, dtype and value range."""
        rows = []
        for split in ("train", "val", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            rows.append(
                f"{split:<5} x {x.shape!s:<18} {x.dtype}  [{x.min():.1f}, {x.max():.1f}]"
                f"   y {y.shape!s:<10} {y.dtype}"
            )
        return "\n".join(rows)


def prepare_data(
    arrays: MnistArrays | None = None,
    *,
    validation_size: int = 5000,
    train_limit: int | None = None,
    one_hot: bool = False,
    seed: int = 0,
) -> PreparedData:
    """Scales the images, encodes the labels, and holds out a stratified validation split.

    The validation images come out of the training set; the test set is left untouched so that
    no choice made while training can see it.

    Args:
        arrays: ``(x_train, y_train), (x_test, y_test)`` as `mnist_lessons.sources.load_mnist`
            returns them; loaded with its defaults if None.
        validation_size: how many training images to hold out (stratified by class); 0 for none.
        train_limit: if given, keep only this many of the remaining training images, balanced
            across classes (at least 10).
        one_hot: one-hot labels instead of class indices.
        seed: a non-negative integer that makes the split and the subset reproducible.

    Returns:
        A `PreparedData` whose ``settings`` record these four arguments.

    Raises:
        ParameterError: if ``validation_size``, ``train_limit`` or ``seed`` is not an integer
            in its range.
    """
    if arrays is None:
        arrays = load_mnist()
    (x_train, y_train), (x_test, y_test) = arrays
    n = len(y_train)
    validation_size = check_int(
        "validation_size", validation_size, minimum=0, maximum=n - NUM_CLASSES
    )
    seed = check_int("seed", seed, minimum=0, maximum=MAX_SEED)
    if validation_size:
        val_idx = stratified_indices(y_train, validation_size, seed)
        keep = np.ones(n, dtype=bool)
        keep[val_idx] = False
        train_idx = np.flatnonzero(keep)
    else:
        val_idx = np.array([], dtype=np.int64)
        train_idx = np.arange(n)
    if train_limit is not None:
        train_limit = check_int(
            "train_limit", train_limit, minimum=NUM_CLASSES, maximum=len(train_idx)
        )
        train_idx = train_idx[stratified_indices(y_train[train_idx], train_limit, seed + 1)]
    else:
        train_idx = np.random.default_rng(seed).permutation(train_idx)
    return PreparedData(
        x_train=scale_images(x_train[train_idx]),
        y_train=encode_labels(y_train[train_idx], one_hot),
        x_val=scale_images(x_train[val_idx])
        if validation_size
        else np.zeros((0, *IMAGE_SHAPE, 1), np.float32),
        y_val=encode_labels(y_train[val_idx], one_hot),
        x_test=scale_images(x_test),
        y_test=encode_labels(y_test, one_hot),
        settings={
            "validation_size": validation_size,
            "train_limit": train_limit,
            "seed": seed,
            "one_hot": bool(one_hot),
        },
    )

"""Plots for the book. Each helper takes ``ax=None``, draws, and returns what it drew on.

None of them calls ``plt.show()``: a notebook shows the figure itself, a script saves it.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .data import NUM_CLASSES


def _axes(ax: Axes | None, figsize=(5, 4)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _image(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x[..., 0] if x.ndim == 3 else x


def sample_grid(
    images: np.ndarray,
    labels: Sequence[int],
    predictions: Sequence[int] | None = None,
    *,
    columns: int = 10,
    title: str = "Sample digits",
    fig: Figure | None = None,
) -> Figure:
    """Draws images in a grid, titled by label (and prediction, red when wrong).

    Args:
        images: array (n, 28, 28) or (n, 28, 28, 1), any numeric range.
        labels: the true digit of each image.
        predictions: if given, shown as "label → prediction".
        columns: images per row.
        title: the figure's title.
        fig: draw into this figure instead of a new one.

    Returns:
        The Figure; ``fig.axes`` holds one Axes per image.
    """
    n = len(images)
    if n == 0:
        raise ValueError("images is empty: there is nothing to draw.")
    rows = int(np.ceil(n / columns))
    cols = min(columns, n)
    if fig is None:
        fig = plt.figure(figsize=(1.1 * cols, 1.3 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i >= n:
            continue
        ax.imshow(_image(images[i]), cmap="gray_r")
        if predictions is None:
            ax.set_title(str(int(labels[i])), fontsize=10)
        else:
            wrong = int(predictions[i]) != int(labels[i])
            ax.set_title(
                f"{int(labels[i])}→{int(predictions[i])}",
                fontsize=9,
                color="tab:red" if wrong else "black",
            )
    for ax in axes.flat[n:]:
        fig.delaxes(ax)
    fig.suptitle(title)
    return fig


def label_distribution(
    labels: np.ndarray, ax: Axes | None = None, *, title: str | None = None, **bar_kwargs
) -> Axes:
    """Bar chart of how many images each digit has."""
    ax = _axes(ax)
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=NUM_CLASSES)
    bars = ax.bar(range(NUM_CLASSES), counts, **bar_kwargs)
    ax.bar_label(bars, fontsize=7)
    ax.set_xticks(range(NUM_CLASSES))
    ax.set_xlabel("digit")
    ax.set_ylabel("images")
    ax.set_title(title or f"Label distribution ({len(labels):,} images)")
    return ax


def training_curves(
    history: dict[str, list[float]],
    ax: Sequence[Axes] | None = None,
    *,
    title: str = "Training curves",
) -> np.ndarray:
    """Loss and accuracy per epoch, training against validation, side by side.

    Args:
        history: per-epoch metrics with keys ``loss``, ``accuracy`` and, if validated,
            ``val_loss`` and ``val_accuracy``.
        ax: a pair of Axes (loss, accuracy); new ones if None.
        title: the figure's title.

    Returns:
        The two Axes.
    """
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
        fig.suptitle(title)
    axes = np.asarray(ax).ravel()
    if axes.size != 2:
        raise ValueError(f"ax must be a pair of Axes (loss, accuracy). Received {axes.size}")
    for panel, metric in zip(axes, ("loss", "accuracy"), strict=True):
        if metric not in history:
            raise KeyError(f"history has no {metric!r}; it holds {sorted(history)}")
        epochs = np.arange(1, len(history[metric]) + 1)
        panel.plot(epochs, history[metric], "o-", label="training")
        if f"val_{metric}" in history:
            panel.plot(epochs, history[f"val_{metric}"], "s--", label="validation")
        panel.set_xlabel("epoch")
        panel.set_ylabel(metric)
        panel.set_title(metric.capitalize())
        panel.set_xticks(epochs)
        panel.grid(alpha=0.3)
        panel.legend()
    return axes


def confusion_heatmap(
    confusion: np.ndarray,
    ax: Axes | None = None,
    *,
    title: str = "Confusion matrix",
    normalize: bool = False,
) -> Axes:
    """Heatmap of a 10×10 confusion matrix (rows: true digit, columns: predicted), with counts."""
    confusion = np.asarray(confusion)
    if confusion.shape != (NUM_CLASSES, NUM_CLASSES):
        raise ValueError(f"confusion must have shape (10, 10). Received: {confusion.shape}")
    ax = _axes(ax, figsize=(5.5, 4.8))
    shown = confusion / confusion.sum(axis=1, keepdims=True).clip(min=1) if normalize else confusion
    # A log-like scale keeps the few mistakes visible beside the large diagonal.
    image = ax.imshow(np.sqrt(shown), cmap="Blues")
    threshold = np.sqrt(shown).max() / 2
    for i in range(NUM_CLASSES):
        for j in range(NUM_CLASSES):
            value = shown[i, j]
            text = f"{value:.2f}" if normalize else str(int(value))
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if np.sqrt(value) > threshold else "black",
            )
    ax.set_xticks(range(NUM_CLASSES))
    ax.set_yticks(range(NUM_CLASSES))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, label="√count" if not normalize else "√fraction")
    return ax


def misclassified_gallery(
    images: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    indices: Sequence[int],
    *,
    limit: int = 20,
    probabilities: np.ndarray | None = None,
    title: str = "Misclassified test images",
) -> Figure:
    """The images at ``indices`` (mistakes, typically), titled true → predicted (confidence)."""
    indices = list(indices)[:limit]
    if not indices:
        raise ValueError("indices is empty: there are no misclassified images to show.")
    fig = sample_grid(images[indices], labels[indices], predictions[indices], title=title)
    if probabilities is not None:
        for ax, i in zip(fig.axes, indices, strict=False):
            ax.set_title(
                f"{labels[i]}→{predictions[i]} {probabilities[i, predictions[i]]:.0%}",
                fontsize=8,
                color="tab:red",
            )
    return fig


def per_class_accuracy(
    accuracy: Sequence[float], ax: Axes | None = None, *, title: str = "Per-class accuracy"
) -> Axes:
    """Bar chart of the fraction of each digit classified correctly."""
    accuracy = np.asarray(accuracy, dtype=float)
    ax = _axes(ax)
    bars = ax.bar(range(NUM_CLASSES), accuracy, color="tab:green")
    ax.bar_label(bars, labels=[f"{a:.3f}" for a in accuracy], fontsize=7)
    low = max(0.0, float(accuracy.min()) - 0.02)
    ax.set_ylim(low, 1.0 + (1.0 - low) * 0.08)
    ax.set_xticks(range(NUM_CLASSES))
    ax.set_xlabel("digit")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    return ax


def confidence_histogram(
    confidence: np.ndarray,
    correct: np.ndarray,
    ax: Axes | None = None,
    *,
    title: str = "How confident are the predictions?",
) -> Axes:
    """Histograms of the predicted-class probability for right and for wrong answers."""
    ax = _axes(ax)
    bins = np.linspace(0, 1, 21)
    ax.hist(confidence[correct], bins=bins, alpha=0.6, label="correct", density=True)
    ax.hist(confidence[~correct], bins=bins, alpha=0.6, label="wrong", density=True)
    ax.set_xlabel("probability of the predicted digit")
    ax.set_ylabel("density")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    return ax

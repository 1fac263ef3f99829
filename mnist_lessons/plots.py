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
    marks: dict[str, int] | None = None,
    extra: dict[str, dict[str, list[float]]] | None = None,
) -> np.ndarray:
    """Loss and accuracy per epoch, training against validation, side by side.

    Args:
        history: per-epoch metrics with keys ``loss``, ``accuracy`` and, if validated,
            ``val_loss`` and ``val_accuracy``.
        ax: a pair of Axes (loss, accuracy); new ones if None.
        title: the figure's title.
        marks: ``{label: epoch}`` drawn as labelled vertical lines on both panels, e.g. the
            epoch with the lowest validation loss.
        extra: more curves, ``{label: {"loss": [...], "accuracy": [...]}}``, one value per
            epoch (e.g. `callbacks.EpochEvaluation.history`), drawn dotted.

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
        for label, curves in (extra or {}).items():
            values = curves[metric]
            panel.plot(np.arange(1, len(values) + 1), values, "^:", label=label)
        colors = ("0.35", "tab:red", "tab:green")
        for (label, epoch), color in zip((marks or {}).items(), colors, strict=False):
            marked = f"{label} ({epoch})"
            panel.axvline(epoch, color=color, linestyle="-.", linewidth=1, label=marked)
        panel.set_xlabel("epoch")
        panel.set_ylabel(metric)
        panel.set_title(metric.capitalize())
        panel.set_xticks(epochs)
        panel.grid(alpha=0.3)
        panel.legend()
    return axes


def per_epoch(
    curves: dict[str, Sequence[float]],
    ax: Axes | None = None,
    *,
    ylabel: str,
    title: str = "",
    mark: tuple[str, int] | None = None,
) -> Axes:
    """One line per named metric against the epoch (epochs count from 1).

    Args:
        curves: ``{label: values}``, one value per epoch.
        ax: the Axes to draw on; a new one if None.
        ylabel: what the values are.
        title: the Axes' title.
        mark: ``(label, epoch)`` drawn as a labelled vertical line.
    """
    ax = _axes(ax, figsize=(5, 3.6))
    for (label, values), style in zip(curves.items(), ("o-", "s--", "^:", "d-."), strict=False):
        ax.plot(np.arange(1, len(values) + 1), values, style, label=label)
    if mark is not None:
        label = f"{mark[0]} ({mark[1]})"
        ax.axvline(mark[1], color="0.35", linestyle="-.", linewidth=1, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


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


def augmentation_grid(
    originals: np.ndarray,
    versions: Sequence[np.ndarray],
    labels: Sequence[int],
    *,
    row_titles: Sequence[str] | None = None,
    title: str = "Training digits before and after augmentation",
    fig: Figure | None = None,
) -> Figure:
    """Each digit in a column: the original on top, each transformed version below it.

    Args:
        originals: array (n, 28, 28) or (n, 28, 28, 1), any numeric range.
        versions: arrays shaped like ``originals``, e.g. one random transformation each.
        labels: the true digit of each image, shown above its column.
        row_titles: one per row (the originals' row first); default "original", "draw 1", ….
        title: the figure's title.
        fig: draw into this figure instead of a new one.

    Returns:
        The Figure; ``fig.axes`` holds the images row by row, originals first.
    """
    n = len(originals)
    if n == 0:
        raise ValueError("originals is empty: there is nothing to draw.")
    if not versions:
        raise ValueError("versions is empty: give at least one transformed copy of the images.")
    shapes = {np.shape(v) for v in versions}
    if shapes != {np.shape(originals)}:
        raise ValueError(
            f"every version must have the originals' shape {np.shape(originals)}. "
            f"Received: {sorted(shapes)}"
        )
    rows = [originals, *versions]
    row_titles = list(row_titles or ["original", *(f"draw {i}" for i in range(1, len(rows)))])
    if len(row_titles) != len(rows):
        raise ValueError(f"row_titles must have {len(rows)} entries. Received {len(row_titles)}")
    if fig is None:
        fig = plt.figure(figsize=(1.0 * n + 0.8, 1.05 * len(rows) + 0.5), layout="constrained")
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, images in enumerate(rows):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(_image(images[c]), cmap="gray_r")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(str(int(labels[c])), fontsize=10)
            if c == 0:
                ax.set_ylabel(row_titles[r], fontsize=9)
    fig.suptitle(title)
    return fig


def accuracy_error_bars(
    x: Sequence[float],
    accuracy: Sequence[float],
    accuracy_error: Sequence[float],
    labels: Sequence[str],
    ax: Axes | None = None,
    *,
    x_error: Sequence[float] | None = None,
    xlabel: str = "",
    log_x: bool = True,
    label: str | None = None,
    title: str | None = None,
) -> Axes:
    """Test accuracy against a cost (parameters, seconds), each point with its error bars.

    Args:
        x: the cost of each point.
        accuracy: fractions 0–1, one per point.
        accuracy_error: half the height of each vertical bar (a standard deviation over seeds,
            or the test set's standard error), as a fraction.
        labels: the name written beside each point, e.g. a write-up's id.
        x_error: half the width of each horizontal bar, if any.
        xlabel: the x-axis title.
        log_x: a logarithmic x axis (costs that span orders of magnitude).
        label: the legend entry of these points; no legend if None.
        title: the Axes' title.

    Returns:
        The Axes; its ``containers`` hold the `ErrorbarContainer` drawn.
    """
    columns = [np.asarray(v, dtype=float) for v in (x, accuracy, accuracy_error)]
    if x_error is not None:
        columns.append(np.asarray(x_error, dtype=float))
    if len({len(c) for c in columns} | {len(labels)}) != 1:
        raise ValueError(
            "x, accuracy, accuracy_error, labels (and x_error) must have one entry per point. "
            f"Received lengths {[len(c) for c in columns]} and {len(labels)} labels"
        )
    ax = _axes(ax, figsize=(5.5, 4))
    ax.errorbar(
        columns[0],
        columns[1],
        yerr=columns[2],
        xerr=columns[3] if x_error is not None else None,
        fmt="o",
        capsize=4,
        label=label,
    )
    for name, px, py in zip(labels, columns[0], columns[1], strict=True):
        ax.annotate(str(name), (px, py), textcoords="offset points", xytext=(6, 4))
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    if label is not None:
        ax.legend()
    if title is not None:
        ax.set_title(title)
    return ax


def accuracy_against_cost(
    labels: Sequence[str],
    params: Sequence[int],
    seconds: Sequence[float],
    accuracy: Sequence[float],
    accuracy_error: Sequence[float],
    *,
    seconds_error: Sequence[float] | None = None,
    axes: Sequence[Axes] | None = None,
    title: str | None = None,
) -> np.ndarray:
    """Two panels of `accuracy_error_bars`: against parameters, and against training seconds.

    Returns:
        The two Axes (parameters, seconds).
    """
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
        if title:
            fig.suptitle(title)
    axes = np.asarray(axes).ravel()
    if axes.size != 2:
        raise ValueError(f"axes must be a pair of Axes (parameters, seconds). Received {axes.size}")
    accuracy_error_bars(
        params, accuracy, accuracy_error, labels, axes[0], xlabel="parameters (log scale)"
    )
    accuracy_error_bars(
        seconds,
        accuracy,
        accuracy_error,
        labels,
        axes[1],
        x_error=seconds_error,
        xlabel="training seconds (log scale)",
    )
    axes[0].set_title("Test accuracy against parameters")
    axes[1].set_title("Test accuracy against training time")
    return axes

"""Plots for the book. Each helper takes ``ax=None``, draws, and returns what it drew on.

None of them calls ``plt.show()``: a notebook shows the figure itself, a script saves it.
Every digit is drawn in `DIGIT_CMAP`: dark ink on a white page, the same in every chapter.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.lines
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .data import NUM_CLASSES

DIGIT_CMAP = "gray_r"
"""The colormap of every digit the book draws: 0 white, 1 black (dark ink on white paper)."""

WEIGHT_CMAP = "RdBu_r"
"""Filter weights: a diverging map, centred on 0 (red positive, blue negative, white zero)."""

ACTIVATION_CMAP = "viridis"
"""Feature maps: a perceptually uniform map; after a ReLU, dark purple is exactly 0."""

SALIENCY_CMAP = "inferno"
"""Saliency maps: black where a pixel does not matter, bright where it matters most."""


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
        ax.imshow(_image(images[i]), cmap=DIGIT_CMAP)
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
    mask_diagonal: bool = False,
) -> Axes:
    """Heatmap of a 10×10 confusion matrix (rows: true digit, columns: predicted), with counts.

    Args:
        confusion: int array (10, 10), e.g. `evaluate.Evaluation.confusion`.
        ax: the Axes to draw on; a new one if None.
        title: the Axes' title.
        normalize: show each row as fractions of its true digit's images.
        mask_diagonal: leave the diagonal (the right answers) grey and out of the colour
            scale, so that the mistakes get the whole scale; its numbers are still written, in
            grey. A good model's diagonal is 0.97–1.00 of each row, which otherwise leaves
            every mistake the colour of 0.

    Returns:
        The Axes; ``ax.texts`` holds the 100 numbers, row by row.
    """
    confusion = np.asarray(confusion)
    if confusion.shape != (NUM_CLASSES, NUM_CLASSES):
        raise ValueError(f"confusion must have shape (10, 10). Received: {confusion.shape}")
    ax = _axes(ax, figsize=(5.5, 4.8))
    shown = confusion / confusion.sum(axis=1, keepdims=True).clip(min=1) if normalize else confusion
    diagonal = np.eye(NUM_CLASSES, dtype=bool)
    # A log-like scale keeps the few mistakes visible beside the large diagonal.
    scaled = np.ma.masked_array(np.sqrt(shown), mask=diagonal if mask_diagonal else None)
    cmap = plt.get_cmap("Blues").with_extremes(bad="0.85")
    image = ax.imshow(scaled, cmap=cmap)
    threshold = scaled.max() / 2
    for i in range(NUM_CLASSES):
        for j in range(NUM_CLASSES):
            value = shown[i, j]
            text = f"{value:.2f}" if normalize else str(int(value))
            if mask_diagonal and i == j:
                color = "0.35"
            else:
                color = "white" if np.sqrt(value) > threshold else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(NUM_CLASSES))
    ax.set_yticks(range(NUM_CLASSES))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title)
    label = "√fraction" if normalize else "√count"
    if mask_diagonal:
        label += " (mistakes only)"
    ax.figure.colorbar(image, ax=ax, label=label)
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
    accuracy: Sequence[float],
    ax: Axes | None = None,
    *,
    totals: Sequence[int] | None = None,
    title: str = "Per-class accuracy",
) -> Axes:
    """Each digit's accuracy as a dot, with its 95 % Wilson interval (`stats.wilson_interval`)
    when ``totals``, the number of test images of each digit, is given.

    Dots rather than bars: a bar is read by its length from zero, and these accuracies differ in
    their last few points, so the axis does not start at zero; the intervals show which of those
    differences the test set can resolve.
    """
    from .stats import wilson_interval

    accuracy = np.asarray(accuracy, dtype=float)
    ax = _axes(ax)
    digits = np.arange(NUM_CLASSES)
    low = float(accuracy.min())
    if totals is not None:
        intervals = [
            wilson_interval(int(np.rint(a * n)), int(n))
            for a, n in zip(accuracy, totals, strict=True)
        ]
        below = accuracy - np.array([i.low for i in intervals])
        above = np.array([i.high for i in intervals]) - accuracy
        ax.errorbar(digits, accuracy, yerr=[below, above], fmt="none", ecolor="0.5", capsize=3)
        low = min(low, min(i.low for i in intervals))
    ax.scatter(digits, accuracy, color="tab:green", zorder=3)
    for digit, value in zip(digits, accuracy, strict=True):
        ax.annotate(
            f"{value:.3f}", (digit, value), textcoords="offset points", xytext=(6, -3), fontsize=7
        )
    low = max(0.0, low - 0.005)
    ax.set_ylim(low, 1.0 + (1.0 - low) * 0.05)
    ax.set_xticks(digits)
    ax.set_xlabel("digit")
    ax.set_ylabel("accuracy" + (" (bars: 95 % Wilson interval)" if totals is not None else ""))
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
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
            ax.imshow(_image(images[c]), cmap=DIGIT_CMAP)
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


# --- Inside the network (`mnist_lessons.activations`) and calibration ------------------------


def _figure(fig: Figure | None, size: tuple[float, float]) -> Figure:
    return fig if fig is not None else plt.figure(figsize=size, layout="constrained")


def _bare(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def filter_grid(
    filters: np.ndarray,
    fig: Figure | None = None,
    *,
    input_channel: int = 0,
    columns: int = 8,
    title: str = "First-layer filters",
) -> Figure:
    """Each filter of a convolution as a small image, on one colour scale centred on 0.

    Args:
        filters: array (k, k, c_in, c_out), e.g. `activations.first_layer_filters(model)`,
            or (k, k, c_out).
        fig: draw into this figure instead of a new one.
        input_channel: which input channel's weights to show when c_in > 1.
        columns: filters per row.
        title: the figure's title.

    Returns:
        The Figure: one Axes per filter (titled by its channel), then the colour bar's.
    """
    w = np.asarray(filters, dtype=float)
    if w.ndim == 3:
        w = w[:, :, np.newaxis, :]
    if w.ndim != 4 or w.shape[-1] == 0:
        raise ValueError(f"filters must have shape (k, k, c_in, c_out). Received: {w.shape}")
    if not 0 <= input_channel < w.shape[2]:
        raise ValueError(
            f"input_channel must be from 0 to {w.shape[2] - 1}. Received: {input_channel}"
        )
    w = w[:, :, input_channel, :]
    n = w.shape[-1]
    cols = min(columns, n)
    rows = int(np.ceil(n / cols))
    fig = _figure(fig, (0.9 * cols + 1.2, 0.95 * rows + 0.5))
    axes = fig.subplots(rows, cols, squeeze=False)
    limit = float(np.abs(w).max()) or 1.0
    image = None
    for c, ax in enumerate(axes.flat):
        if c >= n:
            fig.delaxes(ax)
            continue
        image = ax.imshow(
            w[:, :, c], cmap=WEIGHT_CMAP, vmin=-limit, vmax=limit, interpolation="nearest"
        )
        ax.set_title(str(c), fontsize=7)
        _bare(ax)
    fig.colorbar(image, ax=axes[:, -1].tolist(), label="weight", shrink=0.9)
    fig.suptitle(f"{title} ({w.shape[0]}×{w.shape[1]}, {n} filters)")
    return fig


def feature_map_grid(
    maps: np.ndarray,
    fig: Figure | None = None,
    *,
    name: str = "",
    columns: int = 8,
    limit: int | None = None,
    title: str | None = None,
) -> Figure:
    """One image's feature maps after a layer, a small image per channel, on one scale.

    Args:
        maps: array (h, w, channels): one image's maps, e.g. ``feature_maps(...)["conv1"][0]``.
        fig: draw into this figure instead of a new one.
        name: the layer's name, for the title.
        columns: channels per row.
        limit: show only the first ``limit`` channels; all if None.
        title: the figure's title; by default the layer's name and the maps' shape.

    Returns:
        The Figure: one Axes per channel shown, then the colour bar's.
    """
    maps = np.asarray(maps, dtype=float)
    if maps.ndim != 3:
        raise ValueError(
            "maps must be one image's maps, shape (h, w, channels): index the batch first, "
            f"e.g. maps[0]. Received: {maps.shape}"
        )
    h, w, count = maps.shape
    n = count if limit is None else max(1, min(limit, count))
    cols = min(columns, n)
    rows = int(np.ceil(n / cols))
    fig = _figure(fig, (0.95 * cols + 1.2, 1.0 * rows + 0.6))
    axes = fig.subplots(rows, cols, squeeze=False)
    low, high = float(maps.min()), float(maps.max())
    image = None
    for c, ax in enumerate(axes.flat):
        if c >= n:
            fig.delaxes(ax)
            continue
        image = ax.imshow(maps[:, :, c], cmap=ACTIVATION_CMAP, vmin=low, vmax=max(high, low + 1e-9))
        ax.set_title(str(c), fontsize=7)
        _bare(ax)
    fig.colorbar(image, ax=axes[:, -1].tolist(), label="activation", shrink=0.9)
    shown = "" if n == count else f", first {n} channels"
    fig.suptitle(title or f"{name + ' output: ' if name else ''}{h}×{w}×{count}{shown}")
    return fig


def layer_by_layer(
    image: np.ndarray,
    feature_maps_dict: dict[str, np.ndarray],
    fig: Figure | None = None,
    *,
    index: int = 0,
    channels: int = 6,
    title: str = "One digit through the network",
) -> Figure:
    """The digit on the left, then a row per layer with its most active channels for it.

    Each row shows the ``channels`` channels with the largest mean activation on this digit,
    on that row's colour scale, labelled with the layer's name and output shape: down the
    rows the maps get smaller and more numerous, and less like the digit.

    Args:
        image: the digit, (28, 28) or (28, 28, 1), or a batch (n, 28, 28[, 1]) from which
            ``index`` picks it.
        feature_maps_dict: ``{layer name: maps}`` from `activations.feature_maps` (arrays
            (n, h, w, c), of which ``index`` is taken) or one image's maps (h, w, c).
        fig: draw into this figure instead of a new one.
        index: which image of a batch to show.
        channels: channels per layer.
        title: the figure's title.

    Returns:
        The Figure: the digit's Axes first, then each layer's row of Axes.
    """
    if not feature_maps_dict:
        raise ValueError("feature_maps_dict is empty: give at least one layer's maps.")
    digit = np.asarray(image)
    if digit.ndim == 4 or (digit.ndim == 3 and digit.shape[-1] != 1):
        digit = digit[index]
    rows = len(feature_maps_dict)
    fig = _figure(fig, (1.1 * (channels + 2), 1.15 * rows + 0.6))
    grid = fig.add_gridspec(rows, channels + 1, width_ratios=[2] + [1] * channels)
    digit_ax = fig.add_subplot(grid[:, 0])
    digit_ax.imshow(_image(digit), cmap=DIGIT_CMAP)
    digit_ax.set_title("input 28×28", fontsize=9)
    _bare(digit_ax)
    for row, (name, maps) in enumerate(feature_maps_dict.items()):
        maps = np.asarray(maps, dtype=float)
        if maps.ndim == 4:
            maps = maps[index]
        if maps.ndim != 3:
            raise ValueError(f"the maps of {name!r} must be (n, h, w, c) or (h, w, c).")
        strongest = np.argsort(-maps.mean(axis=(0, 1)), kind="stable")[:channels]
        low, high = float(maps.min()), float(maps.max())
        for col, c in enumerate(strongest):
            ax = fig.add_subplot(grid[row, col + 1])
            ax.imshow(maps[:, :, c], cmap=ACTIVATION_CMAP, vmin=low, vmax=max(high, low + 1e-9))
            ax.set_title(f"ch {c}", fontsize=7)
            _bare(ax)
            if col == 0:
                h, w, count = maps.shape
                ax.set_ylabel(f"{name}\n{h}×{w}×{count}", fontsize=8)
    fig.suptitle(title)
    return fig


def top_activating_grid(
    images: np.ndarray,
    top,
    fig: Figure | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """A row per channel: the digits that excite it most, each titled by its peak activation.

    A channel whose peak is 0 on every image shown is labelled "(silent)": after a ReLU it
    never fired on them, and its row shows arbitrary images.

    Args:
        images: the images `activations.top_activating` ranked, (n, 28, 28[, 1]).
        top: its `activations.TopActivations`.
        fig: draw into this figure instead of a new one.
        title: the figure's title; by default names the layer.

    Returns:
        The Figure: one Axes per image, row by row.
    """
    images = np.asarray(images)
    rows, k = top.indices.shape
    if top.indices.max() >= len(images):
        raise ValueError(
            f"top ranks {top.indices.max() + 1} or more images, but {len(images)} were given: "
            "pass the images that top_activating ranked."
        )
    fig = _figure(fig, (1.0 * k + 0.8, 1.1 * rows + 0.5))
    axes = fig.subplots(rows, k, squeeze=False)
    for r, channel in enumerate(top.channels):
        for c in range(k):
            ax = axes[r, c]
            ax.imshow(_image(images[top.indices[r, c]]), cmap=DIGIT_CMAP)
            ax.set_title(f"{top.values[r, c]:.2f}", fontsize=7)
            _bare(ax)
        silent = "\n(silent)" if top.values[r].max() <= 0 else ""  # a dead ReLU: all zero
        axes[r, 0].set_ylabel(f"ch {channel}{silent}", fontsize=9)
    fig.suptitle(title or f"Images that excite {top.layer} most (peak activation)")
    return fig


def reliability_diagram(
    reliability,
    ax: Axes | None = None,
    *,
    label: str = "model",
    color: str | None = None,
    show_gap: bool = True,
    show_counts: bool = True,
    title: str = "Reliability diagram",
) -> Axes:
    """Accuracy against confidence per bin, beside the diagonal of perfect calibration, with
    the number of answers in each bin written above its bar (a bin of a handful of answers has a
    noisy accuracy: read its bar with that count in mind).

    Bars below the diagonal are over-confident bins. Call it twice on the same Axes to overlay
    two models, or one model before and after temperature scaling: later calls draw their bars
    as outlines in the next colour (pass ``show_gap=False`` to them to keep the picture clear).

    Args:
        reliability: a `calibration.Reliability`.
        ax: the Axes to draw on; a new one if None.
        label: the legend's name for these bars; the ECE is added to it.
        color: the bars' colour; by default the next of matplotlib's colours on this Axes.
        show_gap: shade, hatched, the gap between each bin's accuracy and its confidence.
        show_counts: write each bin's count above its bar (only for the first set of bars on
            the Axes, since every set bins the same answers differently only by confidence).
        title: the Axes' title.

    Returns:
        The Axes; ``ax.containers`` holds the accuracy bars (and the gap bars).
    """
    ax = _axes(ax, figsize=(4.8, 6.4))
    previous = [c for c in ax.containers if c.patches and c.patches[0].get_gid() == "reliability"]
    color = color or f"C{len(previous)}"
    filled = reliability.count > 0
    left = reliability.edges[:-1][filled]
    width = np.diff(reliability.edges)[filled]
    accuracy = reliability.accuracy[filled]
    bars = ax.bar(
        left,
        accuracy,
        width=width,
        align="edge",
        # A second set of bars on the same Axes is drawn as outlines, so both stay visible.
        facecolor="none" if previous else color,
        alpha=None if previous else 0.75,
        edgecolor=color if previous else "black",
        linewidth=2 if previous else 0.6,
        label=f"{label} (ECE {reliability.ece:.2%})",
    )
    for patch in bars.patches:
        patch.set_gid("reliability")
    if show_counts and not previous:
        for x, w, a, n in zip(left, width, accuracy, reliability.count[filled], strict=True):
            ax.annotate(
                f"{n:,}",
                (x + w / 2, a),
                textcoords="offset points",
                xytext=(0, 3),
                ha="center",
                fontsize=7,
                rotation=90,
                annotation_clip=False,
                gid="bin-count",
            )
    if show_gap:
        ax.bar(
            left,
            reliability.confidence[filled] - accuracy,
            bottom=accuracy,
            width=width,
            align="edge",
            facecolor="none",
            edgecolor="tab:red",
            hatch="//",
            linewidth=0.6,
            label=f"gap ({label})",
        )
    if not any(line.get_gid() == "diagonal" for line in ax.lines):
        ax.plot([0, 1], [0, 1], "--", color="0.3", linewidth=1, label="perfect calibration")
        ax.lines[-1].set_gid("diagonal")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.12 if show_counts else 1)
    ax.set_xlabel("confidence (largest probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), frameon=False)
    return ax


def saliency_grid(
    images: np.ndarray,
    saliency: np.ndarray,
    titles: Sequence[str] | None = None,
    *,
    overlay: bool = False,
    fig: Figure | None = None,
    title: str = "Which pixels sway the score",
) -> Figure:
    """Each digit above its saliency map (or with the map laid over it).

    Each map is scaled to its own maximum: the figure compares where, not how much.

    Args:
        images: array (n, 28, 28) or (n, 28, 28, 1).
        saliency: array (n, 28, 28), ≥ 0, e.g. `activations.saliency(model, images)`.
        titles: one per image, e.g. "7 → 7"; none if None.
        overlay: one row, the map drawn translucent over the digit, instead of two rows.
        fig: draw into this figure instead of a new one.
        title: the figure's title.

    Returns:
        The Figure: the digits' Axes row, then (unless ``overlay``) the maps' row.
    """
    images = np.asarray(images)
    saliency = np.asarray(saliency, dtype=float)
    n = len(images)
    if n == 0:
        raise ValueError("images is empty: there is nothing to draw.")
    if saliency.shape != (n, *_image(images[0]).shape):
        raise ValueError(
            f"saliency must have one map per image, shape ({n}, 28, 28). Received: {saliency.shape}"
        )
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles must have {n} entries, one per image. Received {len(titles)}")
    rows = 1 if overlay else 2
    fig = _figure(fig, (1.1 * n + 0.4, 1.2 * rows + 0.5))
    axes = fig.subplots(rows, n, squeeze=False)
    for i in range(n):
        peak = saliency[i].max() or 1.0
        axes[0, i].imshow(_image(images[i]), cmap=DIGIT_CMAP)
        target = axes[0, i] if overlay else axes[1, i]
        target.imshow(
            saliency[i] / peak, cmap=SALIENCY_CMAP, vmin=0, vmax=1, alpha=0.6 if overlay else 1
        )
        if titles is not None:
            axes[0, i].set_title(str(titles[i]), fontsize=9)
        for ax in axes[:, i]:
            _bare(ax)
    if not overlay:
        axes[0, 0].set_ylabel("digit", fontsize=9)
        axes[1, 0].set_ylabel("saliency", fontsize=9)
    fig.suptitle(title)
    return fig


def maps_row(
    maps: dict[str, np.ndarray],
    *,
    signed: bool | None = None,
    activations: bool = False,
    title: str | None = None,
    fig: Figure | None = None,
) -> Figure:
    """Draws named 2-D maps side by side, each titled with its name and shape.

    Args:
        maps: title → 2-D array (a digit, a feature map, a kernel).
        signed: draw with a diverging colormap centred on 0 (blue negative, red positive) and a
            colour bar; by default, for any map with negative values. Maps without negative
            values are drawn as digits are throughout the book (`DIGIT_CMAP`), unless
            ``activations`` is set.
        activations: draw non-negative maps as feature maps (`ACTIVATION_CMAP`, with a colour
            bar), as `feature_map_grid` and `layer_by_layer` do.
        title: the figure's title.
        fig: a Matplotlib figure to draw on; a new one if None.

    Returns:
        The figure.
    """
    if fig is None:
        fig = plt.figure(figsize=(2.6 * len(maps), 2.9), layout="constrained")
    axes = fig.subplots(1, len(maps), squeeze=False)[0]
    for ax, (name, array) in zip(axes, maps.items(), strict=True):
        array = _image(np.asarray(array, dtype=np.float32))
        if array.ndim != 2:
            raise ValueError(f"map {name!r} must be 2-D. Received: shape={array.shape}")
        diverging = bool((array < 0).any()) if signed is None else signed
        if diverging:
            limit = float(np.abs(array).max()) or 1.0
            image = ax.imshow(array, cmap=WEIGHT_CMAP, vmin=-limit, vmax=limit)
            fig.colorbar(image, ax=ax, shrink=0.75)
        else:
            cmap = ACTIVATION_CMAP if activations else DIGIT_CMAP
            image = ax.imshow(array, cmap=cmap, vmin=0, vmax=max(float(array.max()), 1e-9))
            if activations:
                fig.colorbar(image, ax=ax, shrink=0.75)
        ax.set_title(f"{name}\n{array.shape[0]}×{array.shape[1]}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return fig


def shift_robustness_curves(robustness, ax: Axes | None = None) -> Axes:
    """Each model's test accuracy against the shift length, one line per model.

    Args:
        robustness: a `mnist_lessons.convolution.ShiftRobustness`.
        ax: the Axes to draw on; a new one if None.

    Returns:
        The Axes.
    """
    ax = _axes(ax, figsize=(5, 3.6))
    for name, accuracy in robustness.accuracy.items():
        ax.plot(robustness.shifts, accuracy, marker="o", label=name)
    ax.set_xticks(robustness.shifts)
    ax.set_xlabel("shift (pixels, mean over up, down, left, right)")
    ax.set_ylabel("test accuracy")
    ax.set_title("Accuracy on moved test digits")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


AS_READ_STEPS = ("grey", "denoised")
"""Preparation steps that are still the photo as it looks (paper light or dark, as it was)."""


def preparation_steps(
    steps_by_image: dict[str, dict[str, np.ndarray]],
    *,
    title: str = "prepare_image, step by step",
    fig: Figure | None = None,
) -> Figure:
    """One row per image, one column per step of `mnist_lessons.predict.prepare_image_steps`.

    The steps that are still the photo as read (`AS_READ_STEPS`) are drawn as the photo looks,
    on a grey scale from black (0) to white (255); the later ones, where ink is high and the
    background 0 (on a 0–255 or a 0–1 scale), are drawn in `DIGIT_CMAP` like every digit in
    the book. Each panel is titled
    with its step and its size (width×height).

    Args:
        steps_by_image: image name → that image's steps, in order.
        title: the figure's title.
        fig: draw into this figure instead of a new one.

    Returns:
        The Figure.
    """
    if not steps_by_image:
        raise ValueError("steps_by_image is empty: pass at least one image's steps.")
    columns = max(len(steps) for steps in steps_by_image.values())
    fig = _figure(fig, (1.6 * columns, 1.9 * len(steps_by_image)))
    axes = fig.subplots(len(steps_by_image), columns, squeeze=False)
    for row, (image_name, steps) in zip(axes, steps_by_image.items(), strict=True):
        for ax, (step, array) in zip(row, steps.items(), strict=False):
            array = np.asarray(array, dtype=np.float64)
            if step in AS_READ_STEPS:
                ax.imshow(array, cmap="gray", vmin=0, vmax=255)
            else:
                ax.imshow(array, cmap=DIGIT_CMAP, vmin=0, vmax=255 if array.max() > 1 else 1)
            ax.set_title(f"{step} {array.shape[1]}×{array.shape[0]}", fontsize=7)
            _bare(ax)
        for ax in row[len(steps) :]:
            ax.set_axis_off()
        row[0].set_ylabel(image_name, fontsize=7)
    fig.suptitle(title)
    return fig


def study_points(results, arms: Sequence[str] | None = None, ax: Axes | None = None) -> Axes:
    """A study's test accuracy per seed, arm by arm, with each arm's mean and 95 % interval.

    Each run is a small dot (its seed's position jittered a little sideways, the same jitter in
    every arm, so that a reader can follow one seed across arms); the mean is a bar and the
    interval a line through it (`stats.seed_interval`).

    Args:
        results: a `studies.StudyResults`.
        arms: which arms, in order (default: all, as `StudyResults.arm_names` lists them).

    Returns:
        The Axes; the arms' labels are its y tick labels, top to bottom.
    """
    names = list(arms) if arms is not None else results.arm_names()
    ax = _axes(ax, figsize=(6.5, 0.6 * len(names) + 1.2))
    seeds = sorted({s for name in names for s in results.seeds(name)})
    jitter = {s: 0.25 * (i / max(1, len(seeds) - 1) - 0.5) for i, s in enumerate(seeds)}
    for row, name in enumerate(names):
        y = len(names) - 1 - row
        accuracies = results.accuracies(name)
        offsets = [jitter[s] for s in results.seeds(name)]
        ax.scatter(accuracies, y + np.array(offsets), s=14, color="0.45", zorder=2)
        if len(accuracies) >= 2:
            interval = results.interval(name)
            ax.plot([interval.low, interval.high], [y, y], color="C0", lw=2.5, zorder=3)
            ax.plot([interval.estimate] * 2, [y - 0.3, y + 0.3], color="C0", lw=2.5, zorder=3)
    ax.set_yticks(range(len(names)), [results.label(n) for n in reversed(names)])
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.set_xlabel("test accuracy (dots: seeds; bar and line: mean and its 95 % interval)")
    # Few enough ticks that four-decimal labels never run into each other.
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter(useOffset=False))
    ax.grid(axis="x", alpha=0.3)
    return ax


def study_curves(
    results, key: str = "val_accuracy", arms: Sequence[str] | None = None, ax: Axes | None = None
) -> Axes:
    """Each run's per-epoch ``key`` (validation accuracy by default) as a thin line, and each
    arm's mean over its runs as a thick one, coloured by arm: the evidence that the budget let
    every arm converge (the curves flatten before the last epoch).
    """
    names = list(arms) if arms is not None else [a.name for a in results.study.arms]
    ax = _axes(ax, figsize=(6, 4))
    for colour, name in enumerate(names):
        runs = [
            r["history"][key] for r in results.records if r["arm"] == name and key in r["history"]
        ]
        for values in runs:
            ax.plot(range(1, len(values) + 1), values, color=f"C{colour}", alpha=0.25, lw=0.8)
        if runs:
            epochs = min(len(values) for values in runs)
            mean = np.mean([values[:epochs] for values in runs], axis=0)
            ax.plot(
                range(1, epochs + 1),
                mean,
                color=f"C{colour}",
                lw=2.2,
                label=f"{results.label(name)} (mean of {len(runs)})",
            )
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel(key.replace("val_", "validation ").replace("_", " "))
    ax.grid(alpha=0.3)
    if names:
        ax.legend(fontsize="small")
    return ax


def reported_against_spread(spreads, ax: Axes | None = None) -> Axes:
    """Each write-up's documented recipe over seeds (dots), the range one run lands in (a
    line: the 95 % prediction interval) and the figure the write-up reported (a cross; a
    figure given in whole percent also gets a red bar over every value it could have been
    rounded from).

    Args:
        spreads: `compare.documented_spreads`'s dictionary.
    """
    from .compare import network_name
    from .stats import rounded_range

    names = list(spreads)
    ax = _axes(ax, figsize=(7, 0.7 * len(names) + 1.4))
    for row, name in enumerate(names):
        spread = spreads[name]
        y = len(names) - 1 - row
        prediction = spread.prediction
        ax.plot([prediction.low, prediction.high], [y, y], color="C0", lw=2.5, zorder=2)
        ax.scatter(spread.accuracies, [y] * len(spread.accuracies), s=16, color="0.3", zorder=3)
        ax.scatter(
            [spread.reported],
            [y],
            marker="x",
            s=70,
            color="C3",
            zorder=4,
            label="reported by the write-up" if row == 0 else None,
        )
        step = spread.reference.reported_step
        if step:
            low, high = rounded_range(spread.reported, step)
            ax.plot([low, high], [y, y], color="C3", lw=1.5, alpha=0.7, zorder=4)
            ax.plot([low, low], [y - 0.15, y + 0.15], color="C3", lw=1.5, alpha=0.7, zorder=4)
            ax.plot([high, high], [y - 0.15, y + 0.15], color="C3", lw=1.5, alpha=0.7, zorder=4)
            ax.annotate(
                "given as a whole percent",
                (spread.reported, y),
                xytext=(0, -14),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize="x-small",
                color="C3",
            )
    ax.plot([], [], color="C0", lw=2.5, label="where one run lands (95 % prediction interval)")
    ax.scatter([], [], s=16, color="0.3", label="this book's runs, one per seed")
    ax.set_yticks(range(len(names)), [network_name(n) for n in reversed(names)])
    ax.set_ylim(-0.6, len(names) - 0.1)
    ax.set_xlabel("test accuracy")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize="small", loc="lower left", bbox_to_anchor=(0, 1.0), ncol=1, frameon=False)
    return ax


def evidence_figure(results, first: str, second: str, standard_error: float) -> Figure:
    """The book's method in two panels, from one study.

    Left: ``first``'s test accuracy seed by seed, its mean with the 95 % interval over seeds,
    and the test set's standard error as a band around the mean, for scale. Right: ``first``
    and ``second`` seed by seed, each seed's pair joined by a line, so that the reader sees the
    per-seed differences the paired test is computed from (whether the two arms move together
    from seed to seed is what pairing can gain; the lines show whether they do).

    Args:
        results: a `studies.StudyResults`.
        standard_error: the test set's standard error of one accuracy near the mean.
    """
    seeds = results.common_seeds(first, second)
    a, b = results.accuracies(first, seeds), results.accuracies(second, seeds)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.6), layout="constrained", sharey=True)
    interval = results.interval(first)
    left.scatter(seeds, a, color="0.3", zorder=3, label="one run per seed")
    left.axhline(interval.estimate, color="C0", lw=2, label="mean over seeds")
    left.axhspan(
        interval.low, interval.high, color="C0", alpha=0.25, label="95 % interval of the mean"
    )
    left.axhspan(
        interval.estimate - standard_error,
        interval.estimate + standard_error,
        facecolor="none",
        edgecolor="C3",
        hatch="//",
        label="± one standard error of the test set",
    )
    left.set_xlabel("seed")
    left.set_ylabel("test accuracy")
    left.set_title(results.label(first))
    left.set_xticks(seeds)
    left.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    for x, y in zip(a, b, strict=True):
        right.plot([0, 1], [x, y], color="0.6", lw=1)
    right.scatter([0] * len(a), a, color="C0", zorder=3)
    right.scatter([1] * len(b), b, color="C1", zorder=3)
    right.set_xticks([0, 1], [results.label(first), results.label(second)])
    right.set_xlim(-0.4, 1.4)
    right.set_title("The same seeds, paired")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    return fig


def _two_lines(label: str, width: int = 16) -> str:
    """A box's label on two lines, broken at the comma nearest its middle, when it is longer
    than ``width`` characters and has a comma to break at."""
    if len(label) <= width or ", " not in label:
        return label
    commas = [i for i in range(len(label)) if label.startswith(", ", i)]
    cut = min(commas, key=lambda i: abs(i - len(label) / 2))
    return label[:cut] + "\n" + label[cut + 2 :]


def network_diagram(model, title: str | None = None, per_row: int = 8) -> Figure:
    """A network drawn left to right: one box per layer, named in a few words
    (`models.describe_layer`), with the shape of what it outputs and its parameter count.

    The first box is the input image. A box's height follows its output's width in pixels, so
    the feature maps can be seen shrinking through the convolutions and pooling; a layer with a
    flat output is a short box.
    Long networks wrap onto further rows after ``per_row`` layers, read left to right and top to
    bottom.

    Args:
        model: a built `keras.Model` whose layers run in sequence.
        title: the figure's title (default: the total parameter count).
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from .models import describe_layer

    layers = [None, *model.layers]  # None: the input, drawn as the first box
    rows = -(-len(layers) // per_row)
    columns = min(len(layers), per_row)
    width, gap, row_height = 1.45, 0.4, 2.05
    fig, ax = plt.subplots(
        figsize=(columns * (width + gap) * 0.82 + 0.6, 1.75 * rows + 0.35), layout="constrained"
    )
    colours = {
        "Input": "#ffffff",
        "Conv2D": "#9ecae1",
        "MaxPooling2D": "#fdd0a2",
        "Dropout": "#d9d9d9",
        "Dense": "#a1d99b",
        "Flatten": "#f0f0f0",
        "BatchNormalization": "#dadaeb",
        "Activation": "#fff7bc",
    }
    input_shape = tuple(model.inputs[0].shape[1:])
    input_side = input_shape[0] or 28
    right = columns * (width + gap) - gap

    def arrow(start, end):
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=8, lw=0.8))

    for index, layer in enumerate(layers):
        row, column = divmod(index, per_row)
        x, y = column * (width + gap), -row * row_height
        if layer is None:
            kind, label, shape, params = "Input", "Input image", input_shape, 0
        else:
            kind, label = type(layer).__name__, _two_lines(describe_layer(layer))
            shape, params = tuple(layer.output.shape[1:]), layer.count_params()
        side = shape[0] if len(shape) == 3 else None
        height = 0.45 + 0.95 * (side / input_side) if side else 0.42
        ax.add_patch(
            FancyBboxPatch(
                (x, y - height / 2),
                width,
                height,
                boxstyle="round,pad=0.02,rounding_size=0.08",
                facecolor=colours.get(kind, "#f7f7f7"),
                edgecolor="0.35",
                lw=0.8,
            )
        )
        ax.text(x + width / 2, y, label, ha="center", va="center", fontsize=7.5)
        ax.text(
            x + width / 2,
            y - height / 2 - 0.1,
            "×".join(str(s) for s in shape) + (f"\n{params:,} params" if params else ""),
            ha="center",
            va="top",
            fontsize=7,
            color="0.25",
        )
        if column > 0:
            arrow((x - gap, y), (x, y))
        elif row > 0:  # the row before ends at the right margin; this one starts at the left
            arrow((right - 0.05, y + row_height), (right + 0.3, y + row_height))
            arrow((-0.35, y), (x, y))
    ax.set_xlim(-0.4, right + 0.35)
    ax.set_ylim(-row_height * (rows - 1) - 1.25, 0.8)
    ax.axis("off")
    ax.set_title(
        title
        or f"{model.count_params():,} parameters. Under each layer: its output's shape "
        "and its parameters",
        fontsize=8.5,
    )
    return fig


def evaluation_figure(evaluation, images: np.ndarray, title: str, mistakes: int = 10) -> Figure:
    """A chapter's test results in one figure: the confusion matrix, each digit's accuracy with
    its 95 % Wilson interval, and the network's most confident mistakes.

    Args:
        evaluation: an `evaluate.Evaluation` on the test set.
        images: the test images it scored, in the same order.
        title: the figure's title, e.g. the network's name.
        mistakes: how many mistakes to show (the most confident first); fewer if it made fewer.

    Returns:
        The Figure. Its top half holds the confusion matrix (mistakes coloured, the diagonal in
        grey) and the per-digit accuracies; its bottom half one image per shown mistake, titled
        true → predicted with the probability the network gave its wrong answer.
    """
    if len(images) != len(evaluation.labels):
        raise ValueError(
            f"images must be the {len(evaluation.labels)} images the evaluation scored. "
            f"Received: {len(images)}"
        )
    fig = plt.figure(figsize=(11, 7.2), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[3.2, 1.5])
    left, right = top.subplots(1, 2, width_ratios=[1.15, 1])
    confusion_heatmap(
        evaluation.confusion, left, title="Confusion matrix (rows: true)", mask_diagonal=True
    )
    per_class_accuracy(
        evaluation.per_class_accuracy(),
        right,
        totals=evaluation.confusion.sum(axis=1),
        title="Accuracy on each digit",
    )
    shown = evaluation.misclassified()[:mistakes]
    if len(shown):
        sample_grid(
            images[shown],
            evaluation.labels[shown],
            evaluation.predictions[shown],
            columns=mistakes,
            title="Its most confident mistakes: true → predicted (probability)",
            fig=bottom,
        )
        for ax, i in zip(bottom.axes, shown, strict=False):
            ax.set_title(
                f"{evaluation.labels[i]}→{evaluation.predictions[i]} "
                f"{evaluation.probabilities[i, evaluation.predictions[i]]:.0%}",
                fontsize=9,
                color="tab:red",
            )
    else:
        bottom.suptitle("No mistakes on these images")
    fig.suptitle(title, fontsize=13)
    return fig


def kernel_sliding(
    settings: Sequence[tuple[int, int]] = ((1, 0), (2, 0), (1, 1)),
    size: int = 6,
    kernel: int = 3,
    positions: int = 3,
) -> Figure:
    """How a kernel slides over an image: one panel per (stride, padding) setting.

    Each panel draws a ``size``×``size`` input (padding cells hatched, with zeros in them) and
    outlines the kernel's first ``positions`` places along the top row, numbered in the order it
    visits them. The title gives the setting and the output size ⌊(n + 2p − k) / s⌋ + 1.

    Args:
        settings: ``(stride, padding)`` pairs, one panel each.
        size: the input's side in pixels.
        kernel: the kernel's side.
        positions: how many window positions to outline.

    Returns:
        The Figure; each Axes' title names its setting and output size, and its patches hold
        one outlined rectangle per drawn position.
    """
    from matplotlib.patches import Rectangle

    from .convolution import output_size

    colours = ["tab:red", "tab:blue", "tab:green", "tab:purple"]
    fig, axes = plt.subplots(
        1, len(settings), figsize=(3.4 * len(settings), 3.6), layout="constrained"
    )
    for ax, (stride, padding) in zip(np.atleast_1d(axes), settings, strict=True):
        full = size + 2 * padding
        for r in range(full):
            for c in range(full):
                pad = not (padding <= r < size + padding and padding <= c < size + padding)
                ax.add_patch(
                    Rectangle(
                        (c, r),
                        1,
                        1,
                        facecolor="0.93" if pad else "white",
                        edgecolor="0.6",
                        hatch="//" if pad else None,
                        linewidth=0.8,
                    )
                )
                if pad:
                    ax.text(
                        c + 0.5, r + 0.5, "0", ha="center", va="center", fontsize=7, color="0.5"
                    )
        out = output_size(size, kernel, stride=stride, padding=padding)
        for i in range(min(positions, out)):
            colour = colours[i % len(colours)]
            inset = 0.08 * (i + 1)
            ax.add_patch(
                Rectangle(
                    (i * stride + inset, inset),
                    kernel - 2 * inset,
                    kernel - 2 * inset,
                    fill=False,
                    edgecolor=colour,
                    linewidth=2.2,
                )
            )
            ax.text(
                i * stride + kernel / 2,
                kernel + 0.55,
                str(i + 1),
                color=colour,
                ha="center",
                va="center",
                fontsize=10,
                fontweight="bold",
            )
        ax.set_xlim(-0.2, full + 0.2)
        ax.set_ylim(full + 0.2, -0.2)
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title(
            f"stride {stride}, padding {padding}\n{size}×{size} in → {out}×{out} out", fontsize=10
        )
    fig.suptitle(f"A {kernel}×{kernel} kernel's first positions along the top row")
    return fig


def error_rates(rows, ax: Axes | None = None) -> Axes:
    """Test error rates with their intervals, one row per method, on a log scale.

    Args:
        rows: ``(label, interval, group)`` per method, top to bottom: ``interval`` a
            `stats.Interval` of the accuracy (Wilson over images, or t over seeds), ``group`` a
            short word that picks the colour ("baseline", "CNN").
    """
    rows = list(rows)
    ax = _axes(ax, figsize=(7, 0.45 * len(rows) + 1.3))
    groups = list(dict.fromkeys(group for _, _, group in rows))
    for i, (_label, interval, group) in enumerate(rows):
        y = len(rows) - 1 - i
        colour = f"C{groups.index(group)}"
        error = 100 * (1 - interval.estimate)
        low, high = 100 * (1 - interval.high), 100 * (1 - interval.low)
        ax.plot([low, high], [y, y], color=colour, lw=2.5)
        ax.plot(error, y, "o", color=colour)
    ax.set_yticks(range(len(rows)), [label for label, _, _ in reversed(rows)])
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.set_xlabel("test error, % (log scale; line: 95 % interval)")
    handles = [
        matplotlib.lines.Line2D([], [], color=f"C{k}", marker="o", lw=2.5, label=g)
        for k, g in enumerate(groups)
    ]
    ax.legend(handles=handles, fontsize="small", loc="lower right")
    ax.grid(axis="x", which="both", alpha=0.3)
    return ax


def embedding_panels(
    panels: dict[str, np.ndarray], labels, wrong=None, size: float = 4.0
) -> Figure:
    """Two-dimensional projections side by side, each point a test image coloured by its
    class, each class's number at the middle of its points, and the network's mistakes (``wrong``,
    a bool array) drawn as black crosses.

    Args:
        panels: ``{title: points (n, 2)}``, in reading order, at most two per row.
        labels: int (n,) the true classes.
    """
    labels = np.asarray(labels)
    columns = min(2, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, (title, points) in zip(axes.flat, panels.items(), strict=False):
        points = np.asarray(points)
        ax.scatter(points[:, 0], points[:, 1], c=cmap(labels), s=3, alpha=0.6, linewidths=0)
        for digit in range(NUM_CLASSES):
            mine = points[labels == digit]
            if len(mine):
                x, y = np.median(mine, axis=0)
                ax.text(
                    x,
                    y,
                    str(digit),
                    fontsize=13,
                    weight="bold",
                    ha="center",
                    va="center",
                    bbox={"boxstyle": "circle,pad=0.2", "fc": "white", "ec": cmap(digit)},
                )
        if wrong is not None and np.any(wrong):
            ax.scatter(
                *points[np.asarray(wrong)].T,
                marker="x",
                color="black",
                s=22,
                lw=1.2,
                label="the network's mistakes",
            )
            ax.legend(fontsize="small", loc="lower right")
        ax.set_title(title, fontsize="medium")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def unfamiliar_grid(
    inputs: dict[str, np.ndarray],
    probabilities: dict[str, np.ndarray],
    rejected=None,
    per_kind: int = 6,
) -> Figure:
    """A row per kind of input: each image with the network's answer and its probability, and
    "?" where a rejection rule rejects it (``rejected``: ``{kind: bool array}``)."""
    kinds = list(inputs)
    fig, axes = plt.subplots(
        len(kinds), per_kind, figsize=(1.3 * per_kind, 1.5 * len(kinds)), squeeze=False
    )
    for row, kind in zip(axes, kinds, strict=False):
        for k, ax in enumerate(row):
            if k >= len(inputs[kind]):
                ax.axis("off")
                continue
            ax.imshow(_image(inputs[kind][k]), cmap=DIGIT_CMAP, vmin=0, vmax=1)
            p = np.asarray(probabilities[kind][k])
            doubt = rejected is not None and bool(rejected[kind][k])
            ax.set_title(
                f"{p.argmax()} · {100 * p.max():.0f} %" + (" ?" if doubt else ""),
                fontsize=9,
                color="#8a5a00" if doubt else "black",
            )
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(kind, fontsize=9)
    title = "answer · its probability"
    fig.suptitle(
        title + ("  (?: the rule rejects it)" if rejected is not None else ""), fontsize=10
    )
    fig.tight_layout()
    return fig


def adversarial_example(
    image, attacked, before: tuple[int, float], after: tuple[int, float], epsilon: float
) -> Figure:
    """A digit, the change an attack made to it (scaled to fill the colour range, red up and
    blue down), and the attacked digit, each titled with the network's answer and probability."""
    image, attacked = _image(image), _image(attacked)
    change = attacked - image
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.9))
    axes[0].imshow(image, cmap=DIGIT_CMAP, vmin=0, vmax=1)
    axes[0].set_title(f"the digit: {before[0]} ({100 * before[1]:.1f} %)", fontsize=10)
    scale = max(float(np.abs(change).max()), 1e-12)
    shown = axes[1].imshow(change, cmap=WEIGHT_CMAP, vmin=-scale, vmax=scale)
    axes[1].set_title(f"the change (at most ±{epsilon:g})", fontsize=10)
    bar = fig.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.04)
    bar.set_label("red: more ink, blue: less", fontsize=8)
    axes[2].imshow(attacked, cmap=DIGIT_CMAP, vmin=0, vmax=1)
    axes[2].set_title(f"attacked: {after[0]} ({100 * after[1]:.1f} %)", fontsize=10)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def attack_curves(
    curves: dict[str, tuple[Sequence[float], np.ndarray]],
    ax: Axes | None = None,
) -> Axes:
    """Accuracy against the perturbation's size, one line per network.

    Args:
        curves: ``{label: (sizes, accuracies)}``; ``accuracies`` is (sizes,) for one run, or
            (seeds, sizes) for a study, drawn as the mean with its 95 % t-interval as a band.
    """
    from .stats import seed_interval

    ax = _axes(ax, figsize=(6, 4))
    for colour, (label, (sizes, values)) in enumerate(curves.items()):
        values = np.asarray(values)
        if values.ndim == 1:
            ax.plot(sizes, values, "o-", color=f"C{colour}", label=label)
            continue
        intervals = [seed_interval(column) if np.ptp(column) > 0 else None for column in values.T]
        mean = values.mean(axis=0)
        low = [i.low if i else m for i, m in zip(intervals, mean, strict=False)]
        high = [i.high if i else m for i, m in zip(intervals, mean, strict=False)]
        ax.plot(sizes, mean, "o-", color=f"C{colour}", label=f"{label} (mean of {len(values)})")
        ax.fill_between(sizes, low, high, color=f"C{colour}", alpha=0.25, lw=0)
    ax.set_xlabel("perturbation size ε (each pixel moved by at most ε)")
    ax.set_ylabel("test accuracy on attacked digits")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return ax

"""mnist_lessons.plots: every helper returns what it drew on, holding what it should."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from mnist_lessons import plots

IMAGES = np.random.default_rng(0).random((12, 28, 28, 1))
LABELS = np.arange(12) % 10


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_sample_grid_draws_one_titled_image_per_sample():
    fig = plots.sample_grid(IMAGES, LABELS, columns=5, title="Samples")
    assert len(fig.axes) == 12
    assert [ax.get_title() for ax in fig.axes[:3]] == ["0", "1", "2"]
    assert fig.axes[0].images[0].get_array().shape == (28, 28)
    assert fig._suptitle.get_text() == "Samples"


def test_sample_grid_marks_wrong_predictions_in_red():
    predictions = LABELS.copy()
    predictions[1] = 7
    fig = plots.sample_grid(IMAGES[:3], LABELS[:3], predictions[:3])
    assert fig.axes[1].get_title() == "1→7"
    assert fig.axes[1].title.get_color() == "tab:red"
    assert fig.axes[0].title.get_color() == "black"


def test_sample_grid_rejects_empty_input():
    with pytest.raises(ValueError, match="images is empty"):
        plots.sample_grid(IMAGES[:0], [])


def test_label_distribution_bars_hold_the_counts():
    _, ax = plt.subplots()
    returned = plots.label_distribution(np.array([0, 0, 1, 9, 9, 9]), ax=ax)
    assert returned is ax
    assert [patch.get_height() for patch in ax.patches] == [2, 1, 0, 0, 0, 0, 0, 0, 0, 3]
    assert ax.get_xlabel() == "digit" and ax.get_ylabel() == "images"


def test_training_curves_plot_training_and_validation():
    history = {
        "loss": [0.5, 0.3, 0.2],
        "accuracy": [0.8, 0.9, 0.95],
        "val_loss": [0.4, 0.3, 0.35],
        "val_accuracy": [0.85, 0.9, 0.91],
    }
    loss_ax, acc_ax = plots.training_curves(history)
    assert [line.get_label() for line in loss_ax.lines] == ["training", "validation"]
    np.testing.assert_array_equal(acc_ax.lines[1].get_ydata(), [0.85, 0.9, 0.91])
    np.testing.assert_array_equal(loss_ax.lines[0].get_xdata(), [1, 2, 3])
    assert loss_ax.get_ylabel() == "loss" and acc_ax.get_xlabel() == "epoch"


def test_training_curves_without_validation_and_on_given_axes():
    _, axes = plt.subplots(1, 2)
    returned = plots.training_curves({"loss": [1.0], "accuracy": [0.5]}, ax=axes)
    assert list(returned) == list(axes)
    assert len(axes[0].lines) == 1
    with pytest.raises(KeyError, match="history has no 'accuracy'"):
        plots.training_curves({"loss": [1.0]}, ax=axes)


def test_confusion_heatmap_shows_counts():
    confusion = np.diag(np.arange(1, 11))
    confusion[4, 9] = 7
    ax = plots.confusion_heatmap(confusion)
    texts = {(t.get_position(), t.get_text()) for t in ax.texts}
    assert ((9, 4), "7") in texts and ((0, 0), "1") in texts
    assert len(ax.texts) == 100
    assert ax.get_xlabel() == "predicted digit" and ax.get_ylabel() == "true digit"
    with pytest.raises(ValueError, match="shape \\(10, 10\\)"):
        plots.confusion_heatmap(np.zeros((3, 3)))


def test_normalised_confusion_heatmap_shows_fractions():
    confusion = np.full((10, 10), 1)
    ax = plots.confusion_heatmap(confusion, normalize=True)
    assert ax.texts[0].get_text() == "0.10"


def test_misclassified_gallery_titles_with_confidence():
    probabilities = np.full((12, 10), 0.05)
    probabilities[:, 3] = 0.55
    predictions = np.full(12, 3)
    fig = plots.misclassified_gallery(
        IMAGES, LABELS, predictions, [5, 0], limit=1, probabilities=probabilities
    )
    assert len(fig.axes) == 1
    assert fig.axes[0].get_title() == "5→3 55%"


def test_per_class_accuracy_bars():
    accuracy = np.linspace(0.95, 1.0, 10)
    ax = plots.per_class_accuracy(accuracy)
    np.testing.assert_allclose([p.get_height() for p in ax.patches], accuracy)
    assert ax.get_ylim()[0] == pytest.approx(0.93)


def test_confidence_histogram_has_both_groups():
    confidence = np.array([0.99, 0.98, 0.6, 0.4])
    ax = plots.confidence_histogram(confidence, np.array([True, True, False, False]))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["correct", "wrong"]
    assert len(ax.patches) == 40


def test_no_helper_calls_show(monkeypatch):
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plt.show() was called"))
    plots.sample_grid(IMAGES[:2], LABELS[:2])
    plots.label_distribution(LABELS)
    plots.per_class_accuracy(np.ones(10))


def test_augmentation_grid_puts_each_version_under_its_original():
    versions = [IMAGES[:4] * 0.5, IMAGES[:4] * 0.25]
    fig = plots.augmentation_grid(IMAGES[:4], versions, LABELS[:4], title="Augmented")
    assert len(fig.axes) == 3 * 4
    assert [ax.get_title() for ax in fig.axes[:4]] == ["0", "1", "2", "3"]
    assert [fig.axes[i].get_ylabel() for i in (0, 4, 8)] == ["original", "draw 1", "draw 2"]
    np.testing.assert_allclose(fig.axes[5].images[0].get_array(), IMAGES[1, ..., 0] * 0.5)
    assert fig._suptitle.get_text() == "Augmented"


def test_augmentation_grid_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="originals is empty"):
        plots.augmentation_grid(IMAGES[:0], [IMAGES[:0]], [])
    with pytest.raises(ValueError, match="versions is empty"):
        plots.augmentation_grid(IMAGES[:2], [], LABELS[:2])
    with pytest.raises(ValueError, match="originals' shape"):
        plots.augmentation_grid(IMAGES[:2], [IMAGES[:3]], LABELS[:2])
    with pytest.raises(ValueError, match="row_titles must have 2 entries"):
        plots.augmentation_grid(IMAGES[:2], [IMAGES[:2]], LABELS[:2], row_titles=["a"])


def test_training_curves_mark_epochs_and_draw_extra_curves():
    history = {"loss": [0.5, 0.3, 0.2], "accuracy": [0.8, 0.9, 0.95]}
    extra = {"re-scored": {"loss": [0.4, 0.25, 0.15], "accuracy": [0.85, 0.92, 0.96]}}
    loss_ax, acc_ax = plots.training_curves(history, marks={"best": 2}, extra=extra)
    labels = [line.get_label() for line in acc_ax.lines]
    assert labels == ["training", "re-scored", "best (2)"]
    np.testing.assert_array_equal(acc_ax.lines[1].get_ydata(), [0.85, 0.92, 0.96])
    np.testing.assert_array_equal(loss_ax.lines[2].get_xdata(), [2, 2])


def test_per_epoch_draws_each_curve_against_the_epoch():
    ax = plots.per_epoch(
        {"test": [0.9, 0.95], "validation": [0.91, 0.94]}, ylabel="accuracy", mark=("picked", 2)
    )
    assert [line.get_label() for line in ax.lines] == ["test", "validation", "picked (2)"]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2])
    assert ax.get_ylabel() == "accuracy" and ax.get_xlabel() == "epoch"


def test_accuracy_error_bars_draws_each_point_with_its_bars_and_label():
    _, ax = plt.subplots()
    returned = plots.accuracy_error_bars(
        [1e4, 1e5, 1e6],
        [0.97, 0.98, 0.99],
        [0.001, 0.002, 0.003],
        ["000", "001", "002"],
        ax=ax,
        x_error=[10, 20, 30],
        xlabel="parameters",
    )
    assert returned is ax
    (container,) = ax.containers
    line, _, (x_bars, y_bars) = container.lines
    np.testing.assert_allclose(line.get_ydata(), [0.97, 0.98, 0.99])
    # The vertical bar of the second point runs from 0.978 to 0.982.
    np.testing.assert_allclose(y_bars.get_segments()[1][:, 1], [0.978, 0.982])
    np.testing.assert_allclose(x_bars.get_segments()[2][:, 0], [1e6 - 30, 1e6 + 30])
    assert [t.get_text() for t in ax.texts] == ["000", "001", "002"]
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "test accuracy"


def test_accuracy_error_bars_rejects_lengths_that_differ():
    with pytest.raises(ValueError, match="one entry per point"):
        plots.accuracy_error_bars([1, 2], [0.9, 0.8], [0.01], ["a", "b"])


def test_accuracy_against_cost_puts_parameters_left_and_seconds_right():
    axes = plots.accuracy_against_cost(
        ["000", "001"],
        [93_322, 150_858],
        [3.0, 4.5],
        [0.97, 0.975],
        [0.002, 0.001],
        seconds_error=[0.1, 0.2],
        title="Equal budget",
    )
    assert len(axes) == 2
    np.testing.assert_allclose(axes[0].containers[0].lines[0].get_xdata(), [93_322, 150_858])
    np.testing.assert_allclose(axes[1].containers[0].lines[0].get_xdata(), [3.0, 4.5])
    assert axes[1].containers[0].has_xerr and not axes[0].containers[0].has_xerr
    assert axes[0].figure._suptitle.get_text() == "Equal budget"

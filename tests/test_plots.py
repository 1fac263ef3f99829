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


def test_per_class_accuracy_draws_dots_with_wilson_intervals():
    accuracy = np.linspace(0.95, 1.0, 10)
    ax = plots.per_class_accuracy(accuracy)
    np.testing.assert_allclose(ax.collections[0].get_offsets()[:, 1], accuracy)
    assert not ax.patches  # no bars: a bar would be read from zero
    assert ax.get_ylim()[0] == pytest.approx(0.945)
    totals = np.full(10, 1000)
    ax = plots.per_class_accuracy(accuracy, totals=totals)
    # The lowest digit's Wilson interval: 950 of 1,000 right gives 0.9346 to 0.9621.
    assert ax.get_ylim()[0] == pytest.approx(0.9346 - 0.005, abs=1e-4)
    assert "Wilson" in ax.get_ylabel()


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


def _drawn(fig):
    """The Axes of ``fig`` that hold an image (colour bars left out)."""
    return [ax for ax in fig.axes if ax.images]


def test_every_digit_helper_uses_the_digit_colormap():
    assert plots.DIGIT_CMAP == "gray_r"
    figures = [
        plots.sample_grid(IMAGES[:2], LABELS[:2]),
        plots.augmentation_grid(IMAGES[:2], [IMAGES[:2]], LABELS[:2]),
        plots.saliency_grid(IMAGES[:2], IMAGES[:2, ..., 0]),
        plots.layer_by_layer(IMAGES[0], {"conv1": np.ones((26, 26, 4))}),
    ]
    for fig in figures:
        assert _drawn(fig)[0].images[0].get_cmap().name == plots.DIGIT_CMAP


def test_filter_grid_draws_each_filter_on_one_scale_centred_on_zero():
    filters = np.random.default_rng(1).normal(size=(3, 3, 1, 32))
    filters[0, 0, 0, 5] = -4.0
    fig = plots.filter_grid(filters, columns=8)
    drawn = _drawn(fig)
    assert len(drawn) == 32 and len(fig.axes) == 33  # 32 filters and a colour bar
    assert [ax.get_title() for ax in drawn[:3]] == ["0", "1", "2"]
    np.testing.assert_allclose(drawn[5].images[0].get_array(), filters[:, :, 0, 5])
    assert all(ax.images[0].get_clim() == (-4.0, 4.0) for ax in drawn)
    assert drawn[0].images[0].get_cmap().name == plots.WEIGHT_CMAP
    assert "3×3, 32 filters" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="input_channel must be from 0 to 0"):
        plots.filter_grid(filters, input_channel=1)


def test_feature_map_grid_titles_with_the_shape():
    maps = np.random.default_rng(2).random((11, 11, 64))
    fig = plots.feature_map_grid(maps, name="conv2", limit=16)
    assert len(_drawn(fig)) == 16
    assert fig._suptitle.get_text() == "conv2 output: 11×11×64, first 16 channels"
    np.testing.assert_allclose(_drawn(fig)[3].images[0].get_array(), maps[:, :, 3])
    with pytest.raises(ValueError, match="index the batch first"):
        plots.feature_map_grid(maps[np.newaxis])


def test_layer_by_layer_shows_the_digit_and_the_strongest_channels_of_each_layer():
    conv1 = np.zeros((2, 26, 26, 8))
    conv1[1, ..., 6] = 2.0  # the second image's strongest channel
    conv1[1, ..., 2] = 1.0
    conv2 = np.random.default_rng(3).random((2, 11, 11, 16))
    fig = plots.layer_by_layer(IMAGES[:2], {"conv1": conv1, "conv2": conv2}, index=1, channels=3)
    drawn = _drawn(fig)
    assert len(drawn) == 1 + 2 * 3
    np.testing.assert_allclose(drawn[0].images[0].get_array(), IMAGES[1, ..., 0])
    assert [ax.get_title() for ax in drawn[1:3]] == ["ch 6", "ch 2"]
    assert drawn[1].get_ylabel() == "conv1\n26×26×8"
    assert drawn[4].get_ylabel() == "conv2\n11×11×16"


def test_top_activating_grid_puts_a_channel_on_each_row():
    from mnist_lessons.activations import TopActivations

    top = TopActivations(
        "conv2",
        (4, 9),
        np.array([[3, 0, 1], [2, 5, 7]]),
        np.array([[0.9, 0.8, 0.7], [0.5, 0.4, 0.3]], np.float32),
    )
    fig = plots.top_activating_grid(IMAGES, top)
    drawn = _drawn(fig)
    assert len(drawn) == 6
    assert [drawn[i].get_ylabel() for i in (0, 3)] == ["ch 4", "ch 9"]
    assert drawn[4].get_title() == "0.40"
    np.testing.assert_allclose(drawn[5].images[0].get_array(), IMAGES[7, ..., 0])
    assert "conv2" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="pass the images that top_activating ranked"):
        plots.top_activating_grid(IMAGES[:5], top)
    dead = TopActivations("conv3", (0,), np.array([[0, 1]]), np.zeros((1, 2), np.float32))
    assert plots.top_activating_grid(IMAGES, dead).axes[0].get_ylabel() == "ch 0\n(silent)"


def test_reliability_diagram_bars_diagonal_gap_and_overlay():
    from mnist_lessons.calibration import reliability

    probabilities = np.array([[0.95, 0.05]] * 10 + [[0.6, 0.4]] * 5)
    labels = np.array([0] * 8 + [1] * 2 + [0] * 3 + [1] * 2)
    before = reliability(probabilities, labels, bins=10)
    ax = plots.reliability_diagram(before, label="before")
    accuracy_bars, gap_bars = ax.containers
    np.testing.assert_allclose([p.get_height() for p in accuracy_bars], [0.6, 0.8])
    np.testing.assert_allclose([p.get_x() for p in accuracy_bars], [0.5, 0.9])
    np.testing.assert_allclose([p.get_height() for p in gap_bars], [0.0, 0.15], atol=1e-12)
    assert [line.get_gid() for line in ax.lines] == ["diagonal"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "before (ECE 10.00%)" in legend and "perfect calibration" in legend
    counts = [t.get_text() for t in ax.texts if t.get_gid() == "bin-count"]
    assert counts == ["5", "10"]  # each bin's answers, above its bar

    after = reliability(np.array([[0.8, 0.2]] * 15), labels, bins=10)  # 11 of 15 right
    returned = plots.reliability_diagram(after, ax, label="after", show_gap=False)
    assert returned is ax and len(ax.containers) == 3 and len(ax.lines) == 1
    outline = ax.containers[2].patches[0]
    assert outline.get_edgecolor()[:3] == pytest.approx(matplotlib.colors.to_rgb("C1"))
    assert outline.get_facecolor()[3] == 0  # drawn as an outline over the first bars
    assert "after (ECE 6.67%)" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert len([t for t in ax.texts if t.get_gid() == "bin-count"]) == 2  # not written twice


def test_saliency_grid_side_by_side_and_overlaid():
    saliency = np.random.default_rng(4).random((3, 28, 28)) * 5
    fig = plots.saliency_grid(IMAGES[:3], saliency, titles=["7", "2", "1"])
    drawn = _drawn(fig)
    assert len(drawn) == 6
    assert [ax.get_title() for ax in drawn[:3]] == ["7", "2", "1"]
    np.testing.assert_allclose(drawn[4].images[0].get_array(), saliency[1] / saliency[1].max())
    assert drawn[4].images[0].get_cmap().name == plots.SALIENCY_CMAP
    overlaid = plots.saliency_grid(IMAGES[:3], saliency, overlay=True)
    assert len(overlaid.axes) == 3 and all(len(ax.images) == 2 for ax in overlaid.axes)
    with pytest.raises(ValueError, match="one map per image"):
        plots.saliency_grid(IMAGES[:3], saliency[:2])


def test_confusion_heatmap_can_mask_the_diagonal():
    confusion = np.diag(np.full(10, 980))
    confusion[4, 9] = 12
    confusion[7, 2] = 3
    ax = plots.confusion_heatmap(confusion, mask_diagonal=True)
    shown = ax.images[0].get_array()
    assert shown.mask[np.diag_indices(10)].all() and not shown.mask[4, 9]
    # The colour scale is the mistakes' alone: the largest is the top of it.
    assert ax.images[0].get_clim()[1] == pytest.approx(np.sqrt(12))
    texts = {t.get_position(): t for t in ax.texts}
    assert len(ax.texts) == 100 and texts[(0, 0)].get_text() == "980"
    assert texts[(0, 0)].get_color() == "0.35" and texts[(9, 4)].get_color() == "white"
    assert "mistakes only" in ax.figure.axes[-1].get_ylabel()


def test_preparation_steps_draws_each_step_of_each_image_as_the_book_draws_digits():
    from mnist_lessons.predict import prepare_image_steps

    page = np.full((120, 100), 230.0)
    page[20:100, 45:58] = 20.0  # a dark vertical stroke: a 1 on paper
    steps = prepare_image_steps(page)
    fig = plots.preparation_steps({"one": steps, "again": steps})
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 2 * len(steps)
    first_row = drawn[: len(steps)]
    assert first_row[0].images[0].get_cmap().name == "gray"  # the photo as read
    assert first_row[-1].images[0].get_cmap().name == plots.DIGIT_CMAP
    assert first_row[-1].get_title() == "centred 28×28"
    with pytest.raises(ValueError, match="empty"):
        plots.preparation_steps({})


def _evaluation(wrong: int):
    from mnist_lessons.evaluate import Evaluation

    labels = np.arange(40) % 10
    predictions = labels.copy()
    predictions[:wrong] = (labels[:wrong] + 3) % 10
    probabilities = np.full((40, 10), 0.02, np.float32)
    probabilities[np.arange(40), predictions] = 0.82
    probabilities[1, predictions[1]] = 0.99  # the most confident mistake
    confusion = np.zeros((10, 10), np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    return Evaluation(0.1, 1 - wrong / 40, probabilities, predictions, labels, confusion)


def test_evaluation_figure_puts_matrix_digits_and_mistakes_in_one_figure():
    evaluation = _evaluation(wrong=4)
    images = np.random.default_rng(1).random((40, 28, 28, 1))
    fig = plots.evaluation_figure(evaluation, images, "A network", mistakes=3)
    top, bottom = fig.subfigs
    matrix, digits = top.axes[:2]
    assert matrix.get_xlabel() == "predicted digit" and digits.get_xlabel() == "digit"
    assert len(matrix.texts) == 100
    titles = [ax.get_title() for ax in bottom.axes]
    assert titles == ["1→4 99%", "0→3 82%", "2→5 82%"]  # the surest first, then in order
    assert fig._suptitle.get_text() == "A network"
    plt.close(fig)


def test_evaluation_figure_says_when_there_is_no_mistake_and_checks_the_images():
    evaluation = _evaluation(wrong=0)
    fig = plots.evaluation_figure(evaluation, np.zeros((40, 28, 28)), "Perfect")
    assert fig.subfigs[1]._suptitle.get_text() == "No mistakes on these images"
    plt.close(fig)
    with pytest.raises(ValueError, match="the 40 images the evaluation scored"):
        plots.evaluation_figure(evaluation, np.zeros((39, 28, 28)), "Too few")


def test_kernel_sliding_draws_each_setting_with_its_output_size():
    fig = plots.kernel_sliding(((1, 0), (2, 0), (1, 1)), size=6, kernel=3, positions=3)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "stride 1, padding 0\n6×6 in → 4×4 out",
        "stride 2, padding 0\n6×6 in → 2×2 out",
        "stride 1, padding 1\n6×6 in → 6×6 out",
    ]
    # 36 (or 64 with padding) cells, then one outline per position: 3, 2 (only 2 fit), 3
    assert [len(ax.patches) for ax in fig.axes] == [36 + 3, 36 + 2, 64 + 3]
    assert sum(text.get_text() == "0" for text in fig.axes[2].texts) == 64 - 36
    plt.close(fig)


def test_error_rates_draws_each_method_on_a_log_scale_with_its_interval():
    from mnist_lessons.stats import seed_interval, wilson_interval

    rows = [
        ("class means", wilson_interval(8200, 10000), "baseline"),
        ("a CNN", seed_interval([0.991, 0.992, 0.990]), "CNN"),
    ]
    ax = plots.error_rates(rows)
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a CNN", "class means"]
    line = ax.lines[0]  # the class means' interval, in percent error
    low, high = sorted(line.get_xdata())
    interval = wilson_interval(8200, 10000)
    assert low == pytest.approx(100 * (1 - interval.high))
    assert high == pytest.approx(100 * (1 - interval.low))
    assert len(ax.get_legend().get_texts()) == 2


def test_embedding_panels_colour_by_class_and_cross_out_mistakes():
    points = np.random.default_rng(0).random((30, 2))
    labels = np.arange(30) % 10
    wrong = np.zeros(30, bool)
    wrong[[3, 7]] = True
    fig = plots.embedding_panels({"a": points, "b": points, "c": points}, labels, wrong)
    assert len(fig.axes) == 4 and not fig.axes[3].axison  # three panels, one spare
    assert [ax.get_title() for ax in fig.axes[:3]] == ["a", "b", "c"]
    crosses = fig.axes[0].collections[1]
    assert len(crosses.get_offsets()) == 2
    assert sorted(t.get_text() for t in fig.axes[0].texts) == [str(d) for d in range(10)]


def test_unfamiliar_grid_titles_each_answer_and_marks_rejected_ones():
    inputs = {"noise": IMAGES[:3], "blank": np.zeros((3, 28, 28, 1))}
    probabilities = {k: np.tile(np.eye(10)[4] * 0.9 + 0.01, (3, 1)) for k in inputs}
    rejected = {"noise": np.array([True, False, False]), "blank": np.zeros(3, bool)}
    fig = plots.unfamiliar_grid(inputs, probabilities, rejected, per_kind=3)
    assert len(fig.axes) == 6
    assert fig.axes[0].get_title() == "4 · 91 % ?" and fig.axes[1].get_title() == "4 · 91 %"
    assert fig.axes[0].get_ylabel() == "noise" and fig.axes[3].get_ylabel() == "blank"


def test_adversarial_example_shows_the_change_on_a_symmetric_scale():
    image = np.zeros((28, 28))
    attacked = image.copy()
    attacked[3, 4], attacked[5, 6] = 0.1, 0.05
    fig = plots.adversarial_example(image, attacked, (7, 0.99), (3, 0.6), 0.1)
    change = fig.axes[1].images[0]
    assert change.get_clim() == pytest.approx((-0.1, 0.1))
    assert fig.axes[2].get_title() == "attacked: 3 (60.0 %)"


def test_attack_curves_draw_one_run_as_a_line_and_seeds_as_a_band():
    sizes = (0.0, 0.1, 0.2)
    seeds = np.array([[0.99, 0.7, 0.2], [0.98, 0.6, 0.3], [0.99, 0.65, 0.25]])
    ax = plots.attack_curves({"one run": (sizes, [0.99, 0.6, 0.1]), "study": (sizes, seeds)})
    assert len(ax.lines) == 2 and len(ax.collections) == 1
    np.testing.assert_allclose(ax.lines[1].get_ydata(), seeds.mean(axis=0))
    assert "mean of 3" in ax.get_legend().get_texts()[1].get_text()

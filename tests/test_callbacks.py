"""mnist_lessons.callbacks: re-scoring fixed images after every epoch, keeping weights, stopping.

A tiny dense model on fabricated images trains in well under a second per epoch, so these run in
the fast tier; what they check is bookkeeping against values computed independently.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from mnist_lessons.callbacks import EpochEvaluation, WeightSnapshots
from mnist_lessons.data import prepare_data
from mnist_lessons.evaluate import evaluate_model
from mnist_lessons.train import set_seed, train


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    arrays = (
        (rng.integers(0, 256, (300, 28, 28), dtype=np.uint8), np.arange(300) % 10),
        (rng.integers(0, 256, (30, 28, 28), dtype=np.uint8), np.arange(30) % 10),
    )
    return prepare_data(arrays, validation_size=60, seed=0)


def tiny_model():
    return keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")],
        name="tiny",
    )


def test_epoch_evaluation_scores_the_weights_each_epoch_ended_with(data):
    set_seed(0)
    model = tiny_model()
    test = EpochEvaluation(data.x_test, data.y_test, "test images")
    snapshots = WeightSnapshots(epochs=[1, 3])
    result = train(model, data, epochs=3, batch_size=32, callbacks=[test, snapshots])
    assert [len(v) for v in test.history.values()] == [3, 3, 3]
    for epoch in (1, 3):
        model.set_weights(snapshots.at[epoch])
        again = evaluate_model(model, data.x_test, data.y_test)
        assert test.history["accuracy"][epoch - 1] == pytest.approx(again.accuracy)
        assert test.history["loss"][epoch - 1] == pytest.approx(again.loss, rel=1e-4)
        wrong = again.predictions != again.labels
        expected = again.confidence()[wrong].mean() if wrong.any() else math.nan
        assert test.history["error_confidence"][epoch - 1] == pytest.approx(expected, nan_ok=True)
    val_loss = result.history["val_loss"]
    assert snapshots.best_epoch == int(np.argmin(val_loss)) + 1
    assert set(snapshots.at) == {1, 3}


def test_one_hot_labels_are_scored_like_indices(data):
    one_hot = np.eye(10, dtype=np.float32)[data.y_test]
    assert (EpochEvaluation(data.x_test, one_hot, "t").labels == data.y_test).all()
    with pytest.raises(ValueError, match="x and y differ in length: 30 images, 29 labels"):
        EpochEvaluation(data.x_test, data.y_test[:29], "t")


class Scripted(keras.callbacks.Callback):
    """Replaces the logged validation loss with a scripted sequence."""

    def __init__(self, losses):
        super().__init__()
        self.losses = losses

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.losses[epoch]


@pytest.mark.parametrize(
    ("losses", "patience", "min_epochs", "ran", "best"),
    [
        ([5, 4, 3, 3.5, 3.6, 3.7, 2, 1], 3, 1, 6, 3),  # three epochs without a new low: stop
        ([5, 4, 3, 3.5, 3.6, 3.7, 2, 1], 4, 1, 8, 8),  # a longer patience sees the later low
        ([1, 2, 3, 4, 5, 6, 7, 8], 2, 5, 5, 1),  # never before min_epochs
        ([5, 4, 3, 2, 1, 0.5, 0.4, 0.3], None, 1, 8, 8),  # no patience: never stops
    ],
)
def test_patience_stops_after_epochs_without_a_new_lowest_loss(
    data, losses, patience, min_epochs, ran, best
):
    snapshots = WeightSnapshots(patience=patience, min_epochs=min_epochs)
    result = train(
        tiny_model(), data, epochs=8, batch_size=64, callbacks=[Scripted(losses), snapshots]
    )
    assert result.epochs == ran
    assert snapshots.best_epoch == best


def test_a_metric_the_training_does_not_log_is_named(data):
    with pytest.raises(KeyError, match="WeightSnapshots watches 'val_auc'"):
        train(tiny_model(), data, epochs=1, callbacks=[WeightSnapshots(monitor="val_auc")])
    with pytest.raises(
        ValueError, match="patience must be at least 1 or None. Received: patience=0"
    ):
        WeightSnapshots(patience=0)


def test_first_epochs_of_a_run(data):
    set_seed(0)
    result = train(tiny_model(), data, epochs=3, batch_size=64)
    first = result.first(2)
    assert first.epochs == 2 and first.epoch_seconds == result.epoch_seconds[:2]
    assert first.history == {k: v[:2] for k, v in result.history.items()}
    assert first.total_seconds == pytest.approx(sum(result.epoch_seconds[:2]))
    with pytest.raises(ValueError, match="epochs must be from 1 to 3. Received: epochs=4"):
        result.first(4)


def test_a_longer_run_begins_as_the_shorter_run(data):
    """Chapter 000 reads its documented run off the first epochs of a longer one."""
    set_seed(0)
    short = train(tiny_model(), data, epochs=2, batch_size=32)
    set_seed(0)
    snapshots = WeightSnapshots(epochs=[2], patience=3, min_epochs=2)
    longer = train(tiny_model(), data, epochs=5, batch_size=32, callbacks=[snapshots])
    assert longer.first(2).history == short.history
    for kept, final in zip(snapshots.at[2], short.model.get_weights(), strict=True):
        np.testing.assert_array_equal(kept, final)

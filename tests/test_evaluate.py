"""mnist_lessons.evaluate: metrics against hand-computed values, confusion analysis, results."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mnist_lessons.evaluate import (
    Evaluation,
    check_accuracy,
    evaluate_model,
    load_results,
    save_results,
)


class FixedModel:
    """Stands in for a Keras model: returns preset probabilities."""

    def __init__(self, probabilities):
        self.probabilities = np.asarray(probabilities, np.float32)

    def predict(self, x, batch_size=None, verbose=0):
        return self.probabilities[: len(x)]


def one_hot_probabilities(predicted, confidence=0.9):
    rows = np.full((len(predicted), 10), (1 - confidence) / 9, np.float32)
    rows[np.arange(len(predicted)), predicted] = confidence
    return rows


@pytest.fixture
def evaluation() -> Evaluation:
    labels = np.array([0, 1, 2, 3, 4, 4, 4, 9, 9, 7])
    predicted = np.array([0, 1, 2, 3, 9, 9, 4, 4, 9, 1])
    probabilities = one_hot_probabilities(predicted)
    probabilities[5] = one_hot_probabilities([9], 0.99)[0]
    return evaluate_model(FixedModel(probabilities), np.zeros((10, 28, 28, 1)), labels)


def test_accuracy_loss_and_confusion(evaluation):
    assert evaluation.accuracy == pytest.approx(0.6)
    assert evaluation.error_count == 4
    assert evaluation.confusion[4, 9] == 2 and evaluation.confusion[9, 4] == 1
    assert evaluation.confusion.sum() == 10
    expected_loss = -np.mean(np.log([0.9] * 4 + [0.1 / 9, 0.01 / 9, 0.9, 0.1 / 9, 0.9, 0.1 / 9]))
    assert evaluation.loss == pytest.approx(expected_loss, rel=1e-4)


def test_most_confused_pairs_are_ordered_by_count(evaluation):
    assert evaluation.most_confused_pairs(top=3) == [(4, 9, 2), (7, 1, 1), (9, 4, 1)]


def test_misclassified_are_sorted_most_confident_first(evaluation):
    wrong = evaluation.misclassified()
    assert set(wrong.tolist()) == {4, 5, 7, 9}
    assert wrong[0] == 5


def test_per_class_report_matches_scikit_learn_definitions(evaluation):
    rows = {r["digit"]: r for r in evaluation.per_class()}
    assert rows[4]["recall"] == pytest.approx(1 / 3)
    assert rows[9]["precision"] == pytest.approx(1 / 3)
    assert rows[4]["support"] == 3
    assert rows[5]["support"] == 0 and rows[5]["f1"] == 0
    np.testing.assert_allclose(evaluation.per_class_accuracy()[[4, 9, 0]], [1 / 3, 0.5, 1.0])


def test_one_hot_labels_are_accepted():
    labels = np.eye(10)[[3, 3]]
    result = evaluate_model(
        FixedModel(one_hot_probabilities([3, 5])), np.zeros((2, 28, 28, 1)), labels
    )
    assert result.accuracy == 0.5


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="x and y differ in length: 2 images, 3 labels"):
        evaluate_model(FixedModel(np.zeros((3, 10))), np.zeros((2, 28, 28, 1)), [1, 2, 3])


def test_loss_matches_keras_on_a_real_model(small_data):
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    keras_loss, keras_accuracy = model.evaluate(small_data.x_test, small_data.y_test, verbose=0)
    ours = evaluate_model(model, small_data.x_test, small_data.y_test)
    assert ours.loss == pytest.approx(keras_loss, rel=1e-3)
    assert ours.accuracy == pytest.approx(keras_accuracy, abs=1e-4)


def test_check_accuracy_fails_only_beyond_the_margin():
    assert check_accuracy("x", 0.9880, 0.9895) == pytest.approx(-0.0015)
    with pytest.raises(
        AssertionError,
        match="x: measured accuracy 0.9860 is more than 0.0030 below the reference 0.9895",
    ):
        check_accuracy("x", 0.9860, 0.9895)


def test_results_round_trip(tmp_path):
    path = save_results(tmp_path / "r" / "a.json", test_accuracy=0.99, history={"loss": [1.0]})
    assert load_results(path) == {"history": {"loss": [1.0]}, "test_accuracy": 0.99}
    assert load_results(tmp_path / "missing.json") is None


def test_standard_error_of_mnist_accuracy():
    from mnist_lessons.evaluate import standard_error

    assert standard_error(0.99, 10_000) == pytest.approx(0.000995, abs=1e-6)
    assert standard_error(1.0, 10_000) == 0.0
    with pytest.raises(ValueError, match="accuracy must be between 0 and 1"):
        standard_error(99.0, 10_000)
    with pytest.raises(ValueError, match="n must be a positive"):
        standard_error(0.99, 0)


def test_evaluating_other_weights_gives_the_model_its_own_back():
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
    )
    x = np.random.default_rng(0).random((50, 28, 28, 1), dtype=np.float32)
    y = np.arange(50) % 10
    own = model.get_weights()
    zeros = [np.zeros_like(w) for w in own]
    uniform = evaluate_model(model, x, y, weights=zeros)
    # All-zero weights give every digit 0.1: the loss is log 10 whatever the image.
    assert uniform.loss == pytest.approx(np.log(10), rel=1e-5)
    for kept, before in zip(model.get_weights(), own, strict=True):
        np.testing.assert_array_equal(kept, before)
    assert evaluate_model(model, x, y).loss != pytest.approx(np.log(10), rel=1e-5)

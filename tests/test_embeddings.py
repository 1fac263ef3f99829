"""Tests for mnist_lessons.embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_lessons.backend import keras
from mnist_lessons.embeddings import class_separation, penultimate, project


def test_penultimate_reads_what_the_output_layer_receives():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(10, activation="softmax", name="digit"),
        ]
    )
    images = np.random.default_rng(0).random((5, 28, 28, 1)).astype(np.float32)
    features = penultimate(model, images)
    assert features.shape == (5, 16)
    hidden = keras.Model(model.inputs[0], model.get_layer("hidden").output)
    np.testing.assert_allclose(features, np.asarray(hidden(images)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_two_separate_clusters_stay_separate(method):
    rng = np.random.default_rng(0)
    features = np.concatenate([rng.normal(0, 1, (40, 8)), rng.normal(20, 1, (40, 8))])
    labels = np.repeat([0, 1], 40)
    points = project(features, method)
    assert points.shape == (80, 2)
    assert class_separation(points, labels) == 1.0
    shuffled = rng.permutation(labels)
    assert class_separation(points, shuffled) < 0.8


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="method"):
        project(np.zeros((5, 2)), "umap")
    with pytest.raises(ValueError, match="features must be"):
        project(np.zeros(5))

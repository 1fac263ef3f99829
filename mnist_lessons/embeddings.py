"""What a network's last hidden layer makes of the digits, drawn in two dimensions.

`penultimate` reads the values a trained network hands its output layer (its *embedding* of
each image); `project` maps them, or raw pixels, to two dimensions with PCA (a linear
projection: distances along its axes mean something) or t-SNE (a non-linear map that keeps
near neighbours near; distances between clusters and cluster sizes mean little, van der Maaten
and Hinton 2008).
"""

from __future__ import annotations

import numpy as np

from .activations import as_image_batch
from .backend import keras
from .checks import check_choice, check_int

METHODS = ("pca", "tsne")


def penultimate(model: keras.Model, images, batch_size: int = 1000) -> np.ndarray:
    """The input of ``model``'s last layer for each image: float32 (n, features)."""
    images = as_image_batch(images)
    last = model.layers[-1]
    probe = keras.Model(model.inputs[0], last.input)
    features = np.asarray(probe.predict(images, batch_size=batch_size, verbose=0), np.float32)
    return features.reshape(len(images), -1)


def project(features, method: str = "pca", seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """Two coordinates per row of ``features`` (n, d): float32 (n, 2).

    ``"pca"`` centres the features and keeps the two directions of largest variance;
    ``"tsne"`` runs scikit-learn's t-SNE from a PCA start, seeded by ``seed``.
    """
    check_choice("method", method, METHODS)
    check_int("seed", seed, minimum=0)
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or len(features) < 3:
        raise ValueError(f"features must be (n ≥ 3, d). Received: {features.shape}")
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(2, random_state=seed).fit_transform(features).astype(np.float32)
    from sklearn.manifold import TSNE

    perplexity = min(perplexity, (len(features) - 1) / 3)
    tsne = TSNE(2, init="pca", perplexity=perplexity, random_state=seed)
    return tsne.fit_transform(features).astype(np.float32)


def class_separation(points: np.ndarray, labels) -> float:
    """A number for how well the classes separate in ``points``: the share of points whose
    nearest other point has the same label (1-nearest-neighbour agreement, leave-one-out)."""
    from sklearn.neighbors import NearestNeighbors

    points, labels = np.asarray(points), np.asarray(labels)
    _, index = NearestNeighbors(n_neighbors=2).fit(points).kneighbors(points)
    return float((labels[index[:, 1]] == labels).mean())

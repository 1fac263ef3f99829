"""Shared fixtures: a temporary data home, small fabricated MNIST-like files, the real data."""

from __future__ import annotations

import pytest

import mnist_lessons  # noqa: F401  (quiet backend import before anything else)
from mnist_lessons import sources
from mnist_lessons.data import prepare_data

from .fakes import FakeMnist


@pytest.fixture
def fake_mnist(monkeypatch, tmp_path) -> FakeMnist:
    """A fabricated data set, with every location the loader reads by default isolated.

    The loader tests pass ``files=fake_mnist.specs`` and their own ``sources``; the environment
    is isolated so that nothing on this machine (its cache, Keras's copy) can answer for them.
    """
    monkeypatch.delenv(sources.DATA_ENV, raising=False)
    monkeypatch.setenv(sources.HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv(sources.KERAS_HOME_ENV, str(tmp_path / "keras"))
    return FakeMnist()


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST, from whatever source verifies on this machine (npm in CI)."""
    return sources.load_mnist()


@pytest.fixture(scope="session")
def small_data(mnist):
    """A class-balanced 3,000-image training subset with a 1,000-image validation split."""
    return prepare_data(mnist, validation_size=1000, train_limit=3000, seed=0)

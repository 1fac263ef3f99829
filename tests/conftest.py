"""Shared fixtures: a temporary data home, small fabricated MNIST-like files, the real data, and
each precision a machine may train in."""

from __future__ import annotations

import pytest

import mnist_lessons  # noqa: F401  (quiet backend import before anything else)
from mnist_lessons import sources
from mnist_lessons.data import prepare_data
from mnist_lessons.models import PRECISION_VARIABLE, PRECISIONS

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


@pytest.fixture(params=PRECISIONS)
def precision(request, monkeypatch) -> str:
    """Runs a training test once in each precision a machine may default to: float32 (GPUs,
    processors without bfloat16 instructions, other backends) and mixed bfloat16 (processors
    with them, Intel's and AMD's alike), so that its floor holds on every machine CI may draw.
    Code that asks for the default precision gets this one (``MNIST_LESSONS_PRECISION``)."""
    monkeypatch.setenv(PRECISION_VARIABLE, request.param)
    return request.param

"""Shared fixtures: a temporary data home, small fabricated MNIST-like files, the real data."""

from __future__ import annotations

import pytest

import mnist_lessons  # noqa: F401  (quiet backend import before anything else)
from mnist_lessons import data as data_module

from .fakes import FakeMnist


@pytest.fixture
def fake_mnist(monkeypatch, tmp_path) -> FakeMnist:
    """Pins the loader's checksums to a fabricated data set and isolates every location."""
    fake = FakeMnist()
    monkeypatch.setattr(data_module, "IDX_FILES", fake.specs)
    monkeypatch.setattr(data_module, "KERAS_NPZ_SHA256", "0" * 64)
    monkeypatch.delenv(data_module.DATA_ENV, raising=False)
    monkeypatch.setenv(data_module.HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    # No network in unit tests: each test that wants a network source provides its own.
    monkeypatch.setattr(data_module, "KERAS_ORIGIN", (tmp_path / "no-such.npz").as_uri())
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    return fake


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST, from whatever source verifies on this machine (npm in CI)."""
    return data_module.load_mnist()


@pytest.fixture(scope="session")
def small_data(mnist):
    """A class-balanced 3,000-image training subset with a 1,000-image validation split."""
    return data_module.prepare_data(mnist, validation_size=1000, train_limit=3000, seed=0)

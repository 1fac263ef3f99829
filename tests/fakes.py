"""Fabricated MNIST-like files for the loader tests."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np

from mnist_lessons import data as data_module
from mnist_lessons.data import IdxFile


def idx_bytes(array: np.ndarray) -> bytes:
    """Encodes a uint8 array as an IDX file."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


class FakeMnist:
    """A tiny MNIST look-alike (24 training, 12 test images) and its checksums."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.arrays = {
            "x_train": rng.integers(0, 256, (24, 28, 28), dtype=np.uint8),
            "y_train": np.arange(24, dtype=np.uint8) % 10,
            "x_test": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
            "y_test": np.arange(12, dtype=np.uint8) % 10,
        }
        self.specs = tuple(
            IdxFile(
                real.name,
                real.key,
                self.arrays[real.key].shape,
                hashlib.sha256(idx_bytes(self.arrays[real.key])).hexdigest(),
                hashlib.sha256(self.arrays[real.key].tobytes()).hexdigest(),
            )
            for real in data_module.IDX_FILES
        )

    def write_idx(self, folder: Path, compress: bool = False) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for spec in self.specs:
            raw = idx_bytes(self.arrays[spec.key])
            if compress:
                (folder / f"{spec.name}.gz").write_bytes(gzip.compress(raw))
            else:
                (folder / spec.name).write_bytes(raw)
        return folder

    def write_npz(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **self.arrays)
        return path

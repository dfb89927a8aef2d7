"""Class labels of any type become indices 0..K-1 with their names kept (evolve.data.labels), in
files written here in the formats users give: CSV with text labels, CSV with the UCR archive's
1/2, whole-number floats, .npz and parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evolve.data.arrays import from_arrays
from evolve.data.datasets import load_dataset
from evolve.data.labels import encode, fit_classes, label_names
from evolve.errors import DataError


@pytest.mark.parametrize(
    ("labels", "classes", "codes"),
    [
        (np.array(["dog", "cat", "dog", "bird"]), ("bird", "cat", "dog"), [2, 1, 2, 0]),
        (np.array([1, 2, 2, 1]), ("1", "2"), [0, 1, 1, 0]),
        (np.array([1.0, 2.0, 2.0]), ("1", "2"), [0, 1, 1]),
        (np.array([10, 2, 1]), ("1", "2", "10"), [2, 1, 0]),  # by value, not "1" < "10" < "2"
        (np.array(["1", "01", " 2 ", "2.0"], dtype=object), ("1", "2"), [0, 0, 1, 1]),
        (np.array([True, False]), ("False", "True"), [1, 0]),
    ],
)
def test_labels_of_any_type_become_indices_with_names(
    labels: np.ndarray, classes: tuple[str, ...], codes: list[int]
) -> None:
    got_classes, got_codes = fit_classes(labels)
    assert got_classes == classes and got_codes.tolist() == codes
    assert got_codes.dtype == np.int64
    # the same names map back through the recorded classes, whatever their type
    assert encode(labels, classes).tolist() == codes


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array([0.5, 1.0]), "got fractions such as 0.5"),
        (np.array([1.0, np.nan]), "missing (NaN)"),
        (np.array(["a", None], dtype=object), "a label is missing"),
        (np.array(["a", "  "], dtype=object), "a label is empty"),
        (np.zeros((3, 2)), "one label per sample"),
    ],
)
def test_labels_that_are_not_classes_are_refused(labels: np.ndarray, message: str) -> None:
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        label_names(labels)


def test_unknown_labels_name_the_classes_the_model_knows() -> None:
    with pytest.raises(DataError, match=r"unknown class '12'; the model knows '0', '1'"):
        encode(np.array([0, 12]), ("0", "1"))
    with pytest.raises(DataError, match="unknown class 'merlot'"):
        encode(np.array(["barolo", "merlot"]), ("barbera", "barolo"))


def _rows(labels: list[object], n_features: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(len(labels), n_features))
    df = pd.DataFrame(x, columns=[f"feat_{c}" for c in "abcdefgh"[:n_features]])
    df.insert(0, "label", labels)
    return df


def test_a_csv_with_text_labels_keeps_its_class_names(tmp_path: Path) -> None:
    path = tmp_path / "pets.csv"
    _rows(["dog", "cat", "fish"] * 8).to_csv(path, index=False)
    assert path.read_text().splitlines()[1].startswith("dog,")
    d = load_dataset(str(path))
    assert d.classes == ("cat", "dog", "fish") and d.n_classes == 3
    assert d.kind == "tabular" and d.features == ("feat_a", "feat_b", "feat_c")
    assert set(d.train.y.tolist()) == {0, 1, 2}


def test_a_csv_with_ucr_labels_1_2_maps_them_to_0_1(tmp_path: Path) -> None:
    """The UCR archive numbers classes from 1; as written by the archive's tools (1, 2) or by a
    float column (1.0, 2.0), class "1" is index 0."""
    df = _rows([1, 2] * 10)
    for name, frame in (("ints", df), ("floats", df.assign(label=df["label"].astype(float)))):
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index=False)
        d = load_dataset(str(path))
        assert d.classes == ("1", "2"), name
        # every sample keeps its class: row values identify the row
        raw = df.drop(columns="label").to_numpy(np.float32)
        for split in (d.train, d.val, d.test):
            for x, y in zip(split.x.numpy(), split.y.tolist(), strict=True):
                row = int(np.flatnonzero(np.all(np.isclose(raw, x), axis=1))[0])
                assert df["label"][row] == y + 1


def test_parquet_and_npz_and_arrays_give_the_same_names(tmp_path: Path) -> None:
    df = _rows(["yes", "no"] * 10)
    df.to_parquet(tmp_path / "t.parquet")
    x = df.drop(columns="label").to_numpy(np.float32)
    np.savez(tmp_path / "t.npz", x=x, y=df["label"].to_numpy().astype(str))
    from_parquet = load_dataset(str(tmp_path / "t.parquet"))
    from_npz = load_dataset(str(tmp_path / "t.npz"))
    direct = from_arrays(x, df["label"].to_numpy())
    assert from_parquet.classes == from_npz.classes == direct.classes == ("no", "yes")
    assert from_parquet.features == ("feat_a", "feat_b", "feat_c") and from_npz.features == ()


def test_val_test_labels_must_occur_in_training() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 2))
    with pytest.raises(DataError, match=r"unknown class 'c'.*must occur in training"):
        from_arrays(
            x,
            ["a", "b"] * 4,
            val=(x[:2], ["a", "c"]),
            test=(x[:2], ["a", "b"]),
        )


def test_named_sets_carry_class_names() -> None:
    d = load_dataset("digits")
    assert d.classes == tuple(str(i) for i in range(10)) and d.kind == "image"
    pytest.importorskip("aeon")
    g = load_dataset("gunpoint")
    assert g.classes == ("1", "2") and g.kind == "series"


def test_a_dataframe_gives_its_feature_names() -> None:
    df = _rows(["yes", "no"] * 10)
    d = from_arrays(df.drop(columns="label"), df["label"])
    assert d.features == ("feat_a", "feat_b", "feat_c") and d.classes == ("no", "yes")

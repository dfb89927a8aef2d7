"""A user's table as a data set: ``.csv`` or ``.parquet``, one row per sample, a ``label`` column.

The other columns are tabular features or the time points of one series per row; which one is
recognised from the column names (:func:`evolve.data.kinds.table_kind`) or declared.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evolve.data.datasets import Dataset, _series_dataset, _split, _stratified_split
from evolve.data.kinds import check_data_kind, table_kind
from evolve.data.labels import fit_classes
from evolve.errors import DataError

__all__ = ["load_series_table", "load_table"]


def load_table(path: Path, seed: int = 0, label: str = "label", kind: str | None = None) -> Dataset:
    """A user's table: ``.csv`` or ``.parquet`` with one row per sample, a ``label`` column
    (classes of any type: names, ``1``/``2``, whole-number floats) and one numeric column per
    value. Split 70/15/15, stratified.

    The values are tabular features ``(F,)`` (their column names are recorded in
    :attr:`Dataset.features`) or, when the columns are numbered time points (``t0, t1, ...``;
    :func:`evolve.data.kinds.table_kind`) or ``kind="series"``, one univariate series ``(1, T)``.

    Raises:
        DataError: an unreadable file, no ``label`` column, text or missing values among the
            values, too few columns, or fewer than 2 classes with 4 rows each.
    """
    import pandas as pd

    check_data_kind(kind)
    if kind == "image":
        raise DataError(
            f"{path}: a table holds tabular rows or series, not images; give images as an .npz "
            "(x [N, C, H, W], y) or another data_kind (tabular, series)"
        )
    try:
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as e:  # pandas raises many types for a malformed file
        raise DataError(
            f"{path}: cannot read as {path.suffix[1:]} ({type(e).__name__}: {e}); "
            f"one row per sample, a {label!r} column and one column per feature or time point"
        ) from None
    if label not in df.columns:
        raise DataError(
            f"{path}: no {label!r} column (found {', '.join(map(str, df.columns[:6]))}...); "
            f"add a {label!r} column with each row's class"
        )
    values = df.drop(columns=[label])
    kind = kind or table_kind(list(values.columns))
    what = "time-point" if kind == "series" else "feature"
    if kind == "series" and values.shape[1] < 2:
        raise DataError(f"{path}: needs at least 2 time-point columns besides {label!r}")
    if values.shape[1] < 1:
        raise DataError(f"{path}: needs at least 1 feature column besides {label!r}")
    bad = [str(c) for c in values.columns if not pd.api.types.is_numeric_dtype(values[c])]
    if bad:
        raise DataError(
            f"{path}: {what} columns must be numeric, not {', '.join(bad[:3])}; "
            f"only {label!r} may hold text (encode categories as numbers)"
        )
    x = values.to_numpy(dtype=np.float32)
    if not np.isfinite(x).all():
        raise DataError(
            f"{path}: missing or infinite values; "
            + (
                "series must be complete and of equal length"
                if kind == "series"
                else "fill or drop them"
            )
        )
    y = df[label].to_numpy()
    classes, codes = fit_classes(y, f"{path}: column {label!r}")
    counts = np.bincount(codes, minlength=len(classes))
    if len(counts) < 2 or counts.min() < 4:
        raise DataError(f"{path}: needs at least 2 classes with 4 or more rows each")
    if kind == "series":
        return _series_dataset(
            path.stem, (x, y), None, seed, f"{path} ({x.shape[0]} series of length {x.shape[1]})"
        )
    tr, va, te = _stratified_split(x, codes, (0.15, 0.15), seed)
    return Dataset(
        name=path.stem,
        train=_split(*tr),
        val=_split(*va),
        test=_split(*te),
        input_shape=(x.shape[1],),
        n_classes=len(classes),
        source=f"{path} ({x.shape[0]} rows of {x.shape[1]} features)",
        kind="tabular",
        classes=classes,
        features=tuple(str(c) for c in values.columns),
    )


#: the earlier name of :func:`load_table`
load_series_table = load_table

"""Data passed as objects: numpy arrays ``(x, y)`` or a ``torch.utils.data.Dataset``.

They become the same :class:`~evolve.data.datasets.Dataset` a name or a file does: an ``.npz``
file holding ``x`` and ``y`` and the arrays themselves give identical splits for a seed. The data
kind is recognised from the shape of ``x`` or declared (:mod:`evolve.data.kinds`); labels of any
type become indices with their class names kept (:mod:`evolve.data.labels`).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(60, 5)).astype("float32"), np.repeat([0, 1, 2], 20)
    >>> data = from_arrays(x, y, name="toy")
    >>> data.input_shape, data.n_classes, len(data.train), len(data.val), len(data.test)
    ((5,), 3, 42, 9, 9)
    >>> data.kind, from_arrays(x, np.repeat(["a", "b", "c"], 20)).classes
    ('tabular', ('a', 'b', 'c'))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evolve.data.datasets import Dataset, _split, _stratified_split, load_dataset
from evolve.data.kinds import arrange
from evolve.data.labels import encode, fit_classes
from evolve.errors import DataError

__all__ = ["as_dataset", "from_arrays", "from_torch"]


def _checked(x: Any, y: Any, where: str, kind: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    """``x`` arranged for its data kind (:func:`evolve.data.kinds.arrange`), ``y``, the kind."""
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if x.ndim == 0 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise DataError(
            f"{where}: 'y' must be one integer label per sample of 'x' "
            f"(got x {x.shape}, y {y.shape} {y.dtype})"
        )
    if not np.isfinite(x).all():
        raise DataError(f"{where}: 'x' holds NaN or infinite values; give finite features")
    x, kind = arrange(x, kind, f"{where}: 'x'")
    return x, y, kind


def from_arrays(
    x: Any,
    y: Any,
    *,
    val: tuple[Any, Any] | None = None,
    test: tuple[Any, Any] | None = None,
    name: str = "arrays",
    seed: int = 0,
    where: str = "arrays",
    source: str | None = None,
    kind: str | None = None,
) -> Dataset:
    """A data set from arrays: ``x`` samples (``[N, F]`` tabular, ``[N, C, H, W]`` or
    ``[N, H, W]`` images, ``[N, T, C]`` series; ``kind`` declares it instead, see
    :mod:`evolve.data.kinds`), ``y`` labels of any type (integers, whole-number floats, names:
    mapped to 0..K-1 in order, the names kept in :attr:`Dataset.classes`). A pandas DataFrame
    ``x`` of tabular data gives its column names (:attr:`Dataset.features`).

    Without ``val``/``test`` the arrays are split 70/15/15, stratified, with ``seed`` (as an
    ``.npz`` file is). With both, ``(x, y)`` is the training split and they are used as given.

    Raises:
        DataError: shapes that do not match, non-finite values, fractional or missing labels,
            fewer than 2 classes with 4 samples each, only one of ``val`` and ``test``, val/test
            labels never seen in training, or ``x`` that cannot be of the declared ``kind``.
    """
    columns = getattr(x, "columns", None)  # a pandas DataFrame's feature names
    x, y, kind = _checked(x, y, where, kind)
    features = tuple(str(c) for c in columns) if columns is not None and kind == "tabular" else ()
    if (val is None) != (test is None):
        raise DataError(f"{where}: give both val and test splits, or neither (then 70/15/15)")
    classes, codes = fit_classes(y, f"{where}: 'y'")
    if val is None or test is None:
        if len(classes) < 2 or np.bincount(codes).min() < 4:
            raise DataError(f"{where}: needs at least 2 classes with 4 or more samples each")
        tr, va, te = _stratified_split(x, codes, (0.15, 0.15), seed)
    else:
        xv, yv, _ = _checked(*val, f"{where} (val)", kind)
        xt, yt, _ = _checked(*test, f"{where} (test)", kind)
        if xv.shape[1:] != x.shape[1:] or xt.shape[1:] != x.shape[1:]:
            raise DataError(
                f"{where}: val/test samples of shape {xv.shape[1:]}/{xt.shape[1:]} differ from "
                f"training samples {x.shape[1:]}"
            )
        if len(classes) < 2:
            raise DataError(f"{where}: needs at least 2 classes in the training split")
        try:
            yv, yt = encode(yv, classes, f"{where} (val)"), encode(yt, classes, f"{where} (test)")
        except DataError as e:
            raise DataError(f"{e} (val/test labels must occur in training)") from None
        tr, va, te = (x, codes), (xv, yv), (xt, yt)
    return Dataset(
        name=name,
        train=_split(*tr),
        val=_split(*va),
        test=_split(*te),
        input_shape=tuple(int(d) for d in x.shape[1:]),
        n_classes=len(classes),
        source=source or f"{where} ({x.shape[0]} samples)",
        kind=kind,
        classes=classes,
        features=features,
    )


def _plain(label: Any) -> Any:
    """A label as a Python value (a tensor or numpy scalar's ``item()``, anything else as is)."""
    return label.item() if hasattr(label, "item") else label


def from_torch(
    dataset: Any,
    *,
    val: Any = None,
    test: Any = None,
    name: str = "torch_dataset",
    seed: int = 0,
    kind: str | None = None,
) -> Dataset:
    """A data set from ``torch.utils.data.Dataset`` objects whose items are ``(x, label)``
    (read once into memory); split like :func:`from_arrays` (``kind``: its data kind)."""

    def arrays(ds: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
        try:
            items = [ds[i] for i in range(len(ds))]
            xs = np.stack([np.asarray(x, dtype=np.float32) for x, _ in items])
            ys = np.asarray([_plain(label) for _, label in items])
        except Exception as e:
            raise DataError(f"{what}: cannot read its items as (x, label) pairs ({e})") from None
        return xs, ys

    x, y = arrays(dataset, name)
    return from_arrays(
        x,
        y,
        val=arrays(val, f"{name} (val)") if val is not None else None,
        test=arrays(test, f"{name} (test)") if test is not None else None,
        name=name,
        seed=seed,
        where=name,
        kind=kind,
    )


def as_dataset(
    data: Any, *, seed: int = 0, data_dir: str | Path | None = None, kind: str | None = None
) -> Dataset:
    """Whatever ``data`` is, as a :class:`Dataset`: a name or file path (:func:`load_dataset`),
    a :class:`Dataset` (as is), an ``(x, y)`` pair of arrays, or a torch ``Dataset``; ``kind``
    declares its data kind (:mod:`evolve.data.kinds`).

    Raises:
        DataError: anything else, data that cannot be read, or a :class:`Dataset` of another
            kind than ``kind``.
    """
    if isinstance(data, Dataset):
        if kind is not None and kind != data.kind:
            raise DataError(
                f"data set {data.name!r} is {data.kind} data, not {kind}; drop data_kind or "
                f"build it with from_arrays(..., kind={kind!r})"
            )
        return data
    if isinstance(data, str | Path):
        return load_dataset(
            str(data), seed=seed, data_dir=Path(data_dir) if data_dir else None, kind=kind
        )
    if isinstance(data, Sequence) and len(data) == 2:
        return from_arrays(data[0], data[1], seed=seed, kind=kind)
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        return from_torch(data, seed=seed, kind=kind)
    raise DataError(
        f"cannot use a {type(data).__name__} as data; give a name, a file, (x, y) arrays or a "
        "torch Dataset"
    )

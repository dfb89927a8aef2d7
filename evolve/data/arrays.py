"""Data passed as objects: numpy arrays ``(x, y)`` or a ``torch.utils.data.Dataset``.

They become the same :class:`~evolve.data.datasets.Dataset` a name or a file does: an ``.npz``
file holding ``x`` and ``y`` and the arrays themselves give identical splits for a seed.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(60, 5)).astype("float32"), np.repeat([0, 1, 2], 20)
    >>> data = from_arrays(x, y, name="toy")
    >>> data.input_shape, data.n_classes, len(data.train), len(data.val), len(data.test)
    ((5,), 3, 42, 9, 9)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evolve.data.datasets import Dataset, _split, _stratified_split, load_dataset
from evolve.errors import DataError

__all__ = ["as_dataset", "from_arrays", "from_torch"]


def _checked(x: Any, y: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    shape_problem = (
        f"{where}: 'y' must be one integer label per sample of 'x' "
        f"(got x {x.shape}, y {y.shape} {y.dtype})"
    )
    if x.ndim == 0 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise DataError(shape_problem)
    if not np.isfinite(x).all():
        raise DataError(f"{where}: 'x' holds NaN or infinite values; give finite features")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(shape_problem)
    if x.ndim == 3:
        x = x[:, None]
    return x, y


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
) -> Dataset:
    """A data set from arrays: ``x`` samples (any shape; ``[N, H, W]`` gets a channel axis),
    ``y`` integer labels (any values: they are mapped to 0..C-1 in sorted order).

    Without ``val``/``test`` the arrays are split 70/15/15, stratified, with ``seed`` (as an
    ``.npz`` file is). With both, ``(x, y)`` is the training split and they are used as given.

    Raises:
        DataError: shapes that do not match, non-finite values, non-integer labels, fewer than
            2 classes with 4 samples each, or only one of ``val`` and ``test``.
    """
    x, y = _checked(x, y, where)
    if (val is None) != (test is None):
        raise DataError(f"{where}: give both val and test splits, or neither (then 70/15/15)")
    if val is None or test is None:
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2 or np.bincount(codes).min() < 4:
            raise DataError(f"{where}: needs at least 2 classes with 4 or more samples each")
        tr, va, te = _stratified_split(x, codes.astype(np.int64), (0.15, 0.15), seed)
    else:
        xv, yv = _checked(*val, f"{where} (val)")
        xt, yt = _checked(*test, f"{where} (test)")
        if xv.shape[1:] != x.shape[1:] or xt.shape[1:] != x.shape[1:]:
            raise DataError(
                f"{where}: val/test samples of shape {xv.shape[1:]}/{xt.shape[1:]} differ from "
                f"training samples {x.shape[1:]}"
            )
        classes = np.unique(y)
        if len(classes) < 2:
            raise DataError(f"{where}: needs at least 2 classes in the training split")
        unseen = sorted(set(np.unique(yv)) | set(np.unique(yt)) - set(classes))
        if unseen:
            raise DataError(f"{where}: labels {unseen[:5]} of val/test never occur in training")
        code = {c: i for i, c in enumerate(classes.tolist())}

        def encode(labels: np.ndarray) -> np.ndarray:
            return np.array([code[v] for v in labels.tolist()], dtype=np.int64)

        tr, va, te = (x, encode(y)), (xv, encode(yv)), (xt, encode(yt))
    return Dataset(
        name=name,
        train=_split(*tr),
        val=_split(*va),
        test=_split(*te),
        input_shape=tuple(int(d) for d in x.shape[1:]),
        n_classes=len(classes),
        source=source or f"{where} ({x.shape[0]} samples)",
    )


def from_torch(
    dataset: Any,
    *,
    val: Any = None,
    test: Any = None,
    name: str = "torch_dataset",
    seed: int = 0,
) -> Dataset:
    """A data set from ``torch.utils.data.Dataset`` objects whose items are ``(x, label)``
    (read once into memory); split like :func:`from_arrays`."""

    def arrays(ds: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
        try:
            items = [ds[i] for i in range(len(ds))]
            xs = np.stack([np.asarray(x, dtype=np.float32) for x, _ in items])
            ys = np.asarray([int(label) for _, label in items])
        except Exception as e:
            raise DataError(
                f"{what}: cannot read its items as (x, integer label) pairs ({e})"
            ) from None
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
    )


def as_dataset(data: Any, *, seed: int = 0, data_dir: str | Path | None = None) -> Dataset:
    """Whatever ``data`` is, as a :class:`Dataset`: a name or file path (:func:`load_dataset`),
    a :class:`Dataset` (as is), an ``(x, y)`` pair of arrays, or a torch ``Dataset``.

    Raises:
        DataError: anything else, or data that cannot be read.
    """
    if isinstance(data, Dataset):
        return data
    if isinstance(data, str | Path):
        return load_dataset(str(data), seed=seed, data_dir=Path(data_dir) if data_dir else None)
    if isinstance(data, Sequence) and len(data) == 2:
        return from_arrays(data[0], data[1], seed=seed)
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        return from_torch(data, seed=seed)
    raise DataError(
        f"cannot use a {type(data).__name__} as data; give a name, a file, (x, y) arrays or a "
        "torch Dataset"
    )

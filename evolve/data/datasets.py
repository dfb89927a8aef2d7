"""Data sets available offline, as fixed train/validation/test tensors.

* ``digits`` — the embedded default: UCI handwritten digits from scikit-learn
  (1797 images of 8x8, 10 classes), scaled to [0, 1], split 70/15/15 stratified with a seed.
* ``fashion_mnist`` — Fashion-MNIST (60k + 10k, 28x28) read from the IDX files of the Debian
  package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``) or ``--data-dir``;
  the official test set is kept, and a stratified validation split is taken from the training set.
* UCR/UEA time-series sets shipped inside ``aeon`` (the ``timeseries`` extra): ``gunpoint``,
  ``italy_power_demand``, ``arrow_head`` (univariate) and ``basic_motions`` (6 channels). Series
  are ``[N, C, L]``; the official test split is kept and 20 % of the official training split,
  stratified, becomes the validation split.
* A user's table, ``.csv`` or ``.parquet`` (:func:`evolve.data.tables.load_table`): one row per sample, a ``label``
  column and one numeric column per feature (tabular) or per time point (a series; which one is
  recognised from the column names, see :mod:`evolve.data.kinds`).
* A user's ``.npz`` file with arrays ``x`` and ``y`` (:func:`load_npz`).

Every data set records its data kind (``image``, ``tabular``, ``series``: :mod:`evolve.data.kinds`)
and its class names in index order (labels of any type are mapped to ``0..K-1``:
:mod:`evolve.data.labels`); a table also records its feature column names.

Nothing is ever downloaded.
"""

from __future__ import annotations

import gzip
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from evolve.data.kinds import check_data_kind, kind_of_shape
from evolve.data.labels import class_names_of, default_classes, encode
from evolve.errors import DataError

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
#: Fashion-MNIST's class names, by label (Xiao et al. 2017, the data set's README)
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


@dataclass(frozen=True)
class Split:
    """Inputs ``x`` (float32, [N, ...]) and integer labels ``y`` ([N])."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def batches(
        self, batch_size: int, *, shuffle: bool = False, seed: int = 0
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """Mini-batches ``(x, y)``; shuffled with ``seed`` when asked."""
        n = len(self)
        if shuffle:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        else:
            order = torch.arange(n)
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            yield self.x[idx], self.y[idx]


@dataclass(frozen=True)
class Dataset:
    """A data set with fixed splits and the metadata a model builder needs."""

    name: str
    train: Split
    val: Split
    test: Split
    input_shape: tuple[int, ...]  # one sample, e.g. (1, 8, 8)
    n_classes: int
    source: str
    #: the preprocessing: a model's input is ``raw × input_scale`` reshaped to ``input_shape``
    #: (digits: pixel counts 0..16, so 1/16; Fashion-MNIST: bytes, so 1/255; .npz: as stored)
    input_scale: float = 1.0
    #: what one sample is: ``image``, ``tabular`` or ``series`` (:mod:`evolve.data.kinds`);
    #: ``""``: recognised from ``input_shape``
    kind: str = ""
    #: the class names in index order (class ``i`` is ``classes[i]``); ``()``: ``"0"``, ``"1"``, ...
    classes: tuple[str, ...] = ()
    #: a table's feature column names, in order (what ``evolve predict`` checks); ``()``: none
    features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", kind_of_shape(self.input_shape))
        if not self.classes:
            object.__setattr__(self, "classes", default_classes(self.n_classes))
        elif len(self.classes) != self.n_classes:
            raise DataError(
                f"data set {self.name!r}: {len(self.classes)} class names for "
                f"{self.n_classes} classes"
            )

    def card_entries(self) -> dict[str, Any]:
        """What a run's ``config.yaml`` and a model card record about the data beyond its
        shape: ``data_kind``, ``class_names`` (index order) and ``feature_names`` (a table's
        feature columns in order; ``None`` when the data is not a table of features)."""
        return {
            "data_kind": self.kind,
            "class_names": list(self.classes),
            "feature_names": list(self.features) or None,
        }


def _stratified_split(
    x: np.ndarray, y: np.ndarray, fractions: tuple[float, float], seed: int
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Split into (train, val, test) with the given val/test fractions, stratified by label."""
    from sklearn.model_selection import train_test_split

    val_frac, test_frac = fractions
    try:
        x_tr, x_rest, y_tr, y_rest = train_test_split(
            x, y, test_size=val_frac + test_frac, stratify=y, random_state=seed
        )
        x_va, x_te, y_va, y_te = train_test_split(
            x_rest,
            y_rest,
            test_size=test_frac / (val_frac + test_frac),
            stratify=y_rest,
            random_state=seed,
        )
    except ValueError as e:  # too few samples of a class for a stratified split
        raise DataError(
            f"cannot split {len(y)} samples into train/validation/test stratified by class "
            f"({' '.join(str(e).split())}); give more samples of each class"
        ) from None
    return (x_tr, y_tr), (x_va, y_va), (x_te, y_te)


def _split(x: np.ndarray, y: np.ndarray) -> Split:
    return Split(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long))


def load_digits(seed: int = 0, data_dir: Path | None = None) -> Dataset:
    """UCI digits (scikit-learn), 8x8 grey images in [0, 1], split 70/15/15 stratified."""
    from sklearn.datasets import load_digits as sk_load_digits

    d = sk_load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]  # [N, 1, 8, 8]
    y = d.target.astype(np.int64)
    tr, va, te = _stratified_split(x, y, (0.15, 0.15), seed)
    return Dataset(
        name="digits",
        train=_split(*tr),
        val=_split(*va),
        test=_split(*te),
        input_shape=(1, 8, 8),
        n_classes=10,
        source="scikit-learn load_digits (UCI ML hand-written digits, 1797 x 8x8)",
        input_scale=1.0 / 16.0,
    )


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped), as used by MNIST and Fashion-MNIST."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            header = f.read(4)
            if len(header) != 4 or header[0] != 0 or header[1] != 0:
                raise DataError(
                    f"{path}: not an IDX file (bad magic number); re-install the data package"
                )
            dtype_code, ndim = header[2], header[3]
            dtypes: dict[int, Any] = {
                0x08: np.uint8,
                0x09: np.int8,
                0x0B: ">i2",
                0x0C: ">i4",
                0x0D: ">f4",
                0x0E: ">f8",
            }
            if dtype_code not in dtypes:
                raise DataError(f"{path}: unknown IDX element type 0x{dtype_code:02x}")
            dims = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
            data = np.frombuffer(f.read(), dtype=dtypes[dtype_code])
    except (OSError, EOFError, ValueError, struct.error, zlib.error) as e:
        raise DataError(f"{path}: cannot read ({e}); re-install the data package") from None
    expected = int(np.prod(dims))
    if data.size != expected:
        raise DataError(f"{path}: truncated IDX file ({data.size} of {expected} values)")
    return data.reshape(dims)


def load_fashion_mnist(seed: int = 0, data_dir: Path | None = None) -> Dataset:
    """Fashion-MNIST from local IDX files; validation = 10% of train, stratified."""
    root = Path(data_dir) if data_dir is not None else FASHION_MNIST_DIR
    paths = {k: root / v for k, v in FASHION_MNIST_FILES.items()}
    missing = [p.name for p in paths.values() if not p.exists()]
    if missing:
        raise DataError(
            f"Fashion-MNIST files not found in {root} (missing {', '.join(missing)}); "
            "install them with `apt-get install dataset-fashion-mnist` or pass --data-dir"
        )
    x_train = read_idx(paths["train_images"]).astype(np.float32)[:, None] / 255.0
    y_train = read_idx(paths["train_labels"]).astype(np.int64)
    x_test = read_idx(paths["test_images"]).astype(np.float32)[:, None] / 255.0
    y_test = read_idx(paths["test_labels"]).astype(np.int64)
    from sklearn.model_selection import train_test_split

    x_tr, x_va, y_tr, y_va = train_test_split(
        x_train, y_train, test_size=0.1, stratify=y_train, random_state=seed
    )
    return Dataset(
        name="fashion_mnist",
        train=_split(x_tr, y_tr),
        val=_split(x_va, y_va),
        test=_split(x_test, y_test),
        input_shape=(1, 28, 28),
        n_classes=10,
        source=f"Fashion-MNIST IDX files in {root}",
        input_scale=1.0 / 255.0,
        classes=FASHION_MNIST_CLASSES,
    )


#: UCR/UEA sets shipped inside aeon: our name → (aeon loader, the archive's name)
UCR_SETS = {
    "gunpoint": ("load_gunpoint", "GunPoint"),
    "italy_power_demand": ("load_italy_power_demand", "ItalyPowerDemand"),
    "arrow_head": ("load_arrow_head", "ArrowHead"),
    "basic_motions": ("load_basic_motions", "BasicMotions"),
}
TIMESERIES_FIX = "install the timeseries extra: pip install -c constraints.txt -e '.[timeseries]'"


def _series_dataset(
    name: str,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray] | None,
    seed: int,
    source: str,
) -> Dataset:
    """Labels to 0..K-1 (:mod:`evolve.data.labels`: by value when all are whole numbers, else
    by name), then train/val(/test) splits, stratified with ``seed``.

    With an official ``test`` split, 20 % of ``train`` becomes validation; without one, the data is
    split 70/15/15."""
    x_tr, y_tr = train
    labels = [y_tr] if test is None else [y_tr, test[1]]
    classes = class_names_of(*labels, where=name)
    y_codes = encode(y_tr, classes, name)

    x_tr = np.asarray(x_tr, dtype=np.float32)
    if x_tr.ndim == 2:
        x_tr = x_tr[:, None]
    if test is None:
        tr, va, te = _stratified_split(x_tr, y_codes, (0.15, 0.15), seed)
    else:
        from sklearn.model_selection import train_test_split

        x_te = np.asarray(test[0], dtype=np.float32)
        if x_te.ndim == 2:
            x_te = x_te[:, None]
        xa, xb, ya, yb = train_test_split(
            x_tr, y_codes, test_size=0.2, stratify=y_codes, random_state=seed
        )
        tr, va, te = (xa, ya), (xb, yb), (x_te, encode(test[1], classes, name))
    return Dataset(
        name=name,
        train=_split(*tr),
        val=_split(*va),
        test=_split(*te),
        input_shape=tuple(int(d) for d in x_tr.shape[1:]),
        n_classes=len(classes),
        source=source,
        kind="series",
        classes=classes,
    )


def load_ucr(name: str, seed: int = 0, data_dir: Path | None = None) -> Dataset:
    """A UCR/UEA set shipped inside aeon (:data:`UCR_SETS`), as ``[N, C, L]`` float32 series."""
    loader, archive_name = UCR_SETS[name]
    try:
        import aeon.datasets as aeon_datasets
    except ImportError:
        raise DataError(
            f"data set {name!r} ships inside aeon, which is missing; {TIMESERIES_FIX}"
        ) from None
    load = getattr(aeon_datasets, loader)
    x_tr, y_tr = load(split="train")
    x_te, y_te = load(split="test")
    import aeon

    return _series_dataset(
        name,
        (x_tr, y_tr),
        (x_te, y_te),
        seed,
        f"UCR/UEA {archive_name} as shipped in aeon {aeon.__version__} "
        f"({len(y_tr)} train + {len(y_te)} test series, shape {tuple(x_tr.shape[1:])})",
    )


DATASETS: dict[str, Callable[..., Dataset]] = {
    "digits": load_digits,
    "fashion_mnist": load_fashion_mnist,
    **{name: partial(load_ucr, name) for name in UCR_SETS},
}


def load_npz(path: Path, seed: int = 0, kind: str | None = None) -> Dataset:
    """A user data set: an ``.npz`` file with ``x`` (samples) and ``y`` (labels of any type:
    integers, whole-number floats, names).

    Split 70/15/15, stratified, with ``seed``. ``x`` ``[N, F]`` is tabular, ``[N, C, H, W]`` (or
    ``[N, H, W]``) images, ``[N, T, C]`` a series; ``kind`` declares it instead (the rules:
    :mod:`evolve.data.kinds`).
    """
    how = "save it with numpy.savez(path, x=..., y=...)"
    try:
        f = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: cannot read as .npz ({e}); {how}") from None
    if not isinstance(f, np.lib.npyio.NpzFile):  # one array saved under an .npz name
        raise DataError(f"{path}: holds one array, not arrays 'x' and 'y'; {how}")
    try:
        with f:
            if "x" not in f or "y" not in f:
                raise DataError(
                    f"{path}: needs arrays 'x' (samples) and 'y' (labels); found {', '.join(f.files)}"
                )
            x, y = np.asarray(f["x"], dtype=np.float32), np.asarray(f["y"])
    except (OSError, ValueError, EOFError, TypeError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: cannot read as .npz ({e}); {how}") from None
    from evolve.data.arrays import from_arrays

    return from_arrays(
        x,
        y,
        name=path.stem,
        seed=seed,
        where=str(path),
        source=f"{path} ({x.shape[0]} samples)",
        kind=kind,
    )


ALIASES = {
    "fashion-mnist": "fashion_mnist",
    **{archive: ours for ours, (_, archive) in UCR_SETS.items()},
}


def load_dataset(
    name: str, *, seed: int = 0, data_dir: Path | None = None, kind: str | None = None
) -> Dataset:
    """Load a data set by name (see :data:`DATASETS`), from an ``.npz`` file path, or from a
    ``.csv``/``.parquet`` table (tabular rows or series).

    Args:
        name: A name of :data:`DATASETS` (or an alias), or a file.
        seed: Seed of the splits.
        data_dir: Folder holding a named set's files.
        kind: The data kind (``image``, ``tabular``, ``series``; :mod:`evolve.data.kinds`);
            ``None``: recognised from the file and its shape.

    Raises:
        DataError: an unknown name or kind, a missing or unreadable file, a seed outside
            0..2**32-1 (what the splitters take), a named set declared another kind.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise DataError(f"--seed must be a whole number in 0..{2**32 - 1}, got {seed!r}")
    check_data_kind(kind)
    name = ALIASES.get(name, name)
    if name in DATASETS:
        data = DATASETS[name](seed=seed, data_dir=data_dir)
        if kind is not None and kind != data.kind:
            raise DataError(
                f"data set {name!r} is {data.kind} data, not {kind}; drop data_kind or choose "
                "another data set"
            )
        return data
    if name.endswith((".csv", ".parquet")):
        path = Path(name)
        if not path.is_file():
            raise DataError(
                f"data file {path} not found; give a .csv/.parquet with a 'label' column and "
                "one column per feature or time point"
            )
        from evolve.data.tables import load_table

        return load_table(path, seed=seed, kind=kind)
    if name.endswith(".npz") or "/" in name:
        path = Path(name)
        if not path.is_file():
            raise DataError(
                f"data file {path} not found; give an .npz with x and y, or one of {', '.join(DATASETS)}"
            )
        return load_npz(path, seed=seed, kind=kind)
    raise DataError(
        f"unknown data set {name!r}; choose one of {', '.join(DATASETS)} "
        "or give an .npz file, or a .csv/.parquet table"
    )

"""Task streams: the ordered tasks a continual learner sees.

* ``split-digits`` / ``split-fashion-mnist`` — *class-incremental*: the 10 classes are cut into
  ``n_tasks`` consecutive groups ({0,1}, {2,3}, ...); every task is learned and tested with one
  shared 10-way output head, and the task identity is never given to the model.
* ``permuted-digits`` — *domain-incremental*: all 10 classes in every task; task k applies its
  own fixed pixel permutation (seeded; task 0 is the identity) to train, validation and test.
* a comma-separated list of data set names or ``.npz`` paths (:func:`dataset_sequence`) — each
  data set is one task; all must share input shape and class count.

:data:`STREAMS` is the registry of named streams; :func:`make_stream` builds one by name.
Importing this module does not import torch (the command line lists :data:`STREAMS` in its
help): the builders import it when called.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from evolve.errors import UserError

if TYPE_CHECKING:
    from torch import Tensor

    from evolve.data.datasets import Dataset, Split

__all__ = [
    "STREAMS",
    "Stream",
    "Task",
    "dataset_sequence",
    "make_stream",
    "permuted",
    "permuted_digits",
    "split_by_class",
    "split_digits",
    "split_fashion_mnist",
]


@dataclass(frozen=True, eq=False)
class Task:
    """One task of a stream: its label set and its own train/validation/test splits.

    Attributes:
        name: short label, unique within its stream (e.g. ``classes_0_1``, ``perm2``).
        classes: the labels this task contains (class-IL: a slice of the shared head).
        train, val, test: the task's splits; labels are in the stream's shared label space.
        permutation: for permuted streams, the pixel order applied to the flattened sample
            (``x_task = x.flatten(1)[:, permutation]``); ``None`` otherwise.
    """

    name: str
    classes: tuple[int, ...]
    train: Split
    val: Split
    test: Split
    permutation: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Name, classes and split sizes (not the data)."""
        return {
            "name": self.name,
            "classes": list(self.classes),
            "n_train": len(self.train),
            "n_val": len(self.val),
            "n_test": len(self.test),
            "permuted": self.permutation is not None,
        }


@dataclass(frozen=True, eq=False)
class Stream:
    """An ordered list of tasks sharing one input shape and one output head.

    Attributes:
        name: the stream's name (e.g. ``split-digits``).
        tasks: the tasks, in training order.
        input_shape: shape of one sample, as :func:`snn_models.build` wants it.
        n_classes: size of the shared output head.
        description: one line for logs and reports.
        scenario: ``class-incremental`` (new classes per task) or ``domain-incremental``
            (same classes, new input distribution).
    """

    name: str
    tasks: tuple[Task, ...]
    input_shape: tuple[int, ...]
    n_classes: int
    description: str
    scenario: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no tensors)."""
        return {
            "name": self.name,
            "scenario": self.scenario,
            "description": self.description,
            "input_shape": list(self.input_shape),
            "n_classes": self.n_classes,
            "tasks": [t.to_dict() for t in self.tasks],
        }


def _select(split: Split, classes: Sequence[int]) -> Split:
    """The samples of ``split`` whose label is in ``classes`` (original order kept)."""
    import torch

    from evolve.data.datasets import Split

    mask = torch.isin(split.y, torch.as_tensor(list(classes), dtype=split.y.dtype))
    return Split(split.x[mask], split.y[mask])


def _limit(split: Split, limit: int | None, seed: int) -> Split:
    """At most ``limit`` samples, class-balanced (counts differ by at most one), seeded."""
    import torch

    from evolve.data.datasets import Split

    if limit is None or len(split) <= limit:
        return split
    classes = torch.unique(split.y).tolist()
    if limit < len(classes):
        raise UserError(
            f"limit must be at least the {len(classes)} classes of a task (a sample of each), "
            f"got {limit}"
        )
    rng = np.random.default_rng(seed)
    by_class = {c: rng.permutation(np.flatnonzero(split.y.numpy() == c)) for c in classes}
    keep: list[int] = []
    quota = quotas(limit, [len(v) for v in by_class.values()])
    for idx, q in zip(by_class.values(), quota, strict=True):
        keep.extend(idx[:q].tolist())
    order = torch.as_tensor(sorted(keep), dtype=torch.long)
    return Split(split.x[order], split.y[order])


def quotas(total: int, available: Sequence[int]) -> list[int]:
    """Share ``total`` slots among groups as evenly as possible, none above what it has.

    Each group gets ``⌊total/G⌋`` or one more; a group short of that gives its spare slots to
    the others (water-filling), so the result sums to ``min(total, Σ available)``.
    """
    quota = [0] * len(available)
    left = total
    open_groups = [g for g, a in enumerate(available) if a > 0]
    while left > 0 and open_groups:
        share, extra = divmod(left, len(open_groups))
        if share == 0:  # fewer slots than groups: one each to the first ``extra``
            for g in open_groups[:extra]:
                quota[g] += 1
            break
        given = 0
        for g in open_groups:
            add = min(share, available[g] - quota[g])
            quota[g] += add
            given += add
        left -= given
        open_groups = [g for g in open_groups if quota[g] < available[g]]
    return quota


def _check_n_tasks(n_tasks: int, most: int, what: str) -> None:
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, int) or not 1 <= n_tasks <= most:
        raise UserError(f"n_tasks must be an integer from 1 to {most} for {what}, got {n_tasks}")


def split_by_class(
    dataset: Dataset,
    *,
    n_tasks: int = 5,
    limit: int | None = None,
    seed: int = 0,
    name: str | None = None,
) -> Stream:
    """Class-incremental stream: the classes cut into ``n_tasks`` consecutive groups.

    With 10 classes and 5 tasks the groups are {0,1}, {2,3}, ..., {8,9}; uneven divisions put
    the extra classes first (3 tasks: {0,1,2,3}, {4,5,6}, {7,8,9}). Every sample of each split
    lands in exactly one task. Labels keep their original values: one shared output head.

    Args:
        dataset: the source data set.
        n_tasks: number of tasks, 1 to ``dataset.n_classes``.
        limit: at most this many samples in each split of each task (class-balanced, seeded);
            ``None`` keeps everything.
        seed: seed of the ``limit`` subsets.
        name: the stream's name (default ``split-<dataset name>``).
    """
    _check_n_tasks(n_tasks, dataset.n_classes, f"a split of {dataset.n_classes} classes")
    groups = np.array_split(np.arange(dataset.n_classes), n_tasks)
    tasks = []
    for k, group in enumerate(groups):
        classes = tuple(int(c) for c in group)
        splits = [
            _limit(_select(s, classes), limit, seed + 7919 * k + i)
            for i, s in enumerate((dataset.train, dataset.val, dataset.test))
        ]
        tasks.append(
            Task(f"classes_{'_'.join(map(str, classes))}", classes, splits[0], splits[1], splits[2])
        )
    stream_name = name or f"split-{dataset.name.replace('_', '-')}"
    return Stream(
        name=stream_name,
        tasks=tuple(tasks),
        input_shape=dataset.input_shape,
        n_classes=dataset.n_classes,
        description=(
            f"class-incremental {dataset.name}: {n_tasks} tasks of "
            f"{'/'.join(str(len(g)) for g in groups)} classes, one {dataset.n_classes}-way head"
        ),
        scenario="class-incremental",
    )


def _permute(split: Split, perm: Tensor) -> Split:
    from evolve.data.datasets import Split

    return Split(split.x.flatten(1)[:, perm].reshape(split.x.shape), split.y)


def permuted(
    dataset: Dataset,
    *,
    n_tasks: int = 5,
    limit: int | None = None,
    seed: int = 0,
    name: str | None = None,
) -> Stream:
    """Domain-incremental stream: task k shows every class through its own pixel permutation.

    The permutation of task k is drawn from ``numpy.random.default_rng(seed)`` (task 0 is the
    identity, so the first task is the plain data set) and applied to the flattened sample,
    identically for the task's train, validation and test splits.

    Args:
        dataset: the source data set.
        n_tasks: number of tasks, 1 to 100.
        limit: at most this many samples in each split of each task (class-balanced, seeded).
        seed: seed of the permutations and of the ``limit`` subsets.
        name: the stream's name (default ``permuted-<dataset name>``).
    """
    import torch

    _check_n_tasks(n_tasks, 100, "a permuted stream")
    n_features = math.prod(dataset.input_shape)
    rng = np.random.default_rng(seed)
    classes = tuple(range(dataset.n_classes))
    tasks = []
    for k in range(n_tasks):
        perm = np.arange(n_features) if k == 0 else rng.permutation(n_features)
        perm_t = torch.as_tensor(perm, dtype=torch.long)
        splits = [
            _permute(_limit(s, limit, seed + 7919 * k + i), perm_t)
            for i, s in enumerate((dataset.train, dataset.val, dataset.test))
        ]
        tasks.append(
            Task(f"perm{k}", classes, splits[0], splits[1], splits[2], tuple(int(p) for p in perm))
        )
    return Stream(
        name=name or f"permuted-{dataset.name.replace('_', '-')}",
        tasks=tuple(tasks),
        input_shape=dataset.input_shape,
        n_classes=dataset.n_classes,
        description=(
            f"domain-incremental {dataset.name}: {n_tasks} fixed pixel permutations "
            f"(seed {seed}, task 0 = identity), all {dataset.n_classes} classes per task"
        ),
        scenario="domain-incremental",
    )


def dataset_sequence(
    names: Sequence[str | Path],
    *,
    seed: int = 0,
    limit: int | None = None,
    data_dir: Path | None = None,
) -> Stream:
    """Each named data set (or ``.npz`` file, see :func:`evolve.data.datasets.load_dataset`) is
    a task.

    Args:
        names: data set names or ``.npz`` paths, in training order.
        seed: seed of every data set's split and of the ``limit`` subsets.
        limit: at most this many samples in each split of each task (class-balanced, seeded).
        data_dir: passed to the loaders (e.g. the Fashion-MNIST folder).

    Raises:
        UserError: no names, or data sets that differ in input shape or class count.
    """
    from evolve.data.datasets import load_dataset

    if not names:
        raise UserError("a data set sequence needs at least one data set name or .npz path")
    datasets = [load_dataset(str(n), seed=seed, data_dir=data_dir) for n in names]
    first = datasets[0]
    for d in datasets[1:]:
        if d.input_shape != first.input_shape or d.n_classes != first.n_classes:
            raise UserError(
                f"data sets in one stream must share input shape and class count: "
                f"{first.name} is {first.input_shape} with {first.n_classes} classes, "
                f"{d.name} is {d.input_shape} with {d.n_classes} classes; "
                "reshape or relabel them to match"
            )
    tasks = []
    seen: dict[str, int] = {}
    for k, d in enumerate(datasets):
        seen[d.name] = seen.get(d.name, 0) + 1
        task_name = d.name if seen[d.name] == 1 else f"{d.name}#{seen[d.name]}"
        splits = [
            _limit(s, limit, seed + 7919 * k + i) for i, s in enumerate((d.train, d.val, d.test))
        ]
        tasks.append(Task(task_name, tuple(range(d.n_classes)), splits[0], splits[1], splits[2]))
    return Stream(
        name=",".join(d.name for d in datasets),
        tasks=tuple(tasks),
        input_shape=first.input_shape,
        n_classes=first.n_classes,
        description=f"sequence of {len(datasets)} data sets: {', '.join(t.name for t in tasks)}",
        scenario="domain-incremental",
    )


def split_digits(
    *, seed: int = 0, n_tasks: int = 5, limit: int | None = None, data_dir: Path | None = None
) -> Stream:
    """Split-Digits: UCI digits (``load_digits(seed)``) as ``n_tasks`` class-incremental tasks."""
    from evolve.data.datasets import load_digits

    return split_by_class(
        load_digits(seed, data_dir), n_tasks=n_tasks, limit=limit, seed=seed, name="split-digits"
    )


def split_fashion_mnist(
    *, seed: int = 0, n_tasks: int = 5, limit: int | None = None, data_dir: Path | None = None
) -> Stream:
    """Split-Fashion-MNIST (local IDX files) as ``n_tasks`` class-incremental tasks.

    Raises:
        DataError: the Fashion-MNIST files are missing (the message says how to install them).
    """
    from evolve.data.datasets import load_fashion_mnist

    return split_by_class(
        load_fashion_mnist(seed, data_dir),
        n_tasks=n_tasks,
        limit=limit,
        seed=seed,
        name="split-fashion-mnist",
    )


def permuted_digits(
    *, seed: int = 0, n_tasks: int = 5, limit: int | None = None, data_dir: Path | None = None
) -> Stream:
    """Permuted-Digits: ``n_tasks`` domain-incremental pixel permutations of UCI digits."""
    from evolve.data.datasets import load_digits

    return permuted(
        load_digits(seed, data_dir),
        n_tasks=n_tasks,
        limit=limit,
        seed=seed,
        name="permuted-digits",
    )


#: Named streams: ``name -> builder(*, seed, n_tasks, limit, data_dir)``. Add a stream with one
#: line here.
STREAMS: dict[str, Callable[..., Stream]] = {
    "split-digits": split_digits,
    "split-fashion-mnist": split_fashion_mnist,
    "permuted-digits": permuted_digits,
}


def make_stream(
    name: str,
    *,
    seed: int = 0,
    n_tasks: int | None = None,
    limit: int | None = None,
    data_dir: Path | None = None,
) -> Stream:
    """A stream by name (:data:`STREAMS`) or a comma-separated list of data sets / ``.npz``
    paths.

    Args:
        name: ``split-digits``, ``split-fashion-mnist``, ``permuted-digits``, or e.g.
            ``digits,more.npz`` (each data set one task).
        seed: data split, permutation and subset seed.
        n_tasks: number of tasks (default 5; for a list it must equal the list's length).
        limit: at most this many samples in each split of each task; ``None`` keeps all.
        data_dir: folder of local data files (Fashion-MNIST), passed to the loader.

    Raises:
        UserError: unknown name (the message lists the choices) or bad ``n_tasks``/``limit``.

    Example:
        >>> s = make_stream("split-digits", seed=0)
        >>> [t.classes for t in s.tasks][:2], s.n_classes
        ([(0, 1), (2, 3)], 10)
    """
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise UserError(f"limit must be a positive integer (samples per task split), got {limit}")
    if "," in name:
        names = [n.strip() for n in name.split(",") if n.strip()]
        if n_tasks is not None and n_tasks != len(names):
            raise UserError(
                f"n_tasks must match the data sets of a list: {n_tasks} given for the "
                f"{len(names)} in {name!r}; leave it out for a data set list"
            )
        return dataset_sequence(names, seed=seed, limit=limit, data_dir=data_dir)
    if name not in STREAMS:
        raise UserError(
            f"unknown stream {name!r}; choose one of {', '.join(STREAMS)} "
            "or give a comma-separated list of data sets / .npz files"
        )
    return STREAMS[name](
        seed=seed, n_tasks=5 if n_tasks is None else n_tasks, limit=limit, data_dir=data_dir
    )

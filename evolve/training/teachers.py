"""ANN teachers: trained once per (data set, family, width, seed), cached, reused by every trial.

A teacher is the ANN twin (:func:`snn_models.ann.build_ann`) of a fixed architecture of its
family at the given width:

* ``mlp``: two hidden layers of ``width`` units;
* ``cnn``: 3×3 convolutions of ``width // 2`` then ``width`` channels, each max-pooled;
* ``transformer``: ``dim = width``, 2 blocks, 4 heads, softmax attention, patches of 2 (images of
  at most 16 pixels a side) or 4; sequences use steps of 1.

The cache (default ``runs/teachers/``) holds ``<key>.pt`` (the state dict) and ``<key>.json``
(what it is, how it was trained, its accuracy and energy, the SHA-256 of the weights, and a
fingerprint of the training data). An entry is used only if everything matches; a missing,
stale (other data, other spec, other format) or corrupt (unreadable, checksum or shape mismatch)
entry is retrained, with the reason logged, and written atomically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from evolve.data.datasets import Dataset
from evolve.errors import UserError, translated
from evolve.store.runfolder import atomic_file
from evolve.store.runlog import echo_level, logger
from evolve.training.trainer import TrainConfig, evaluate, train
from snn_models.ann import build_ann
from snn_models.energy import measure_energy
from snn_models.kinds import KINDS

FORMAT_VERSION = 1
#: Teacher families: the network kinds that declare a reference architecture.
FAMILIES = tuple(name for name, kind in KINDS.items() if kind.reference_spec is not None)
DEFAULT_CACHE = Path("runs/teachers")
DEFAULT_WIDTH = {n: k.reference_width for n, k in KINDS.items() if k.reference_width is not None}
DEFAULT_EPOCHS = 20

#: How many teachers this process has trained (and not loaded from the cache), by key.
TRAINED: dict[str, int] = {}


@dataclass(frozen=True)
class TeacherKey:
    dataset: str
    family: str
    width: int
    seed: int

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise UserError(
                f"unknown teacher family {self.family!r}; choose one of {', '.join(FAMILIES)}"
            )
        if self.width < 2:
            raise UserError(f"teacher width must be >= 2, got {self.width}")

    @property
    def name(self) -> str:
        return f"{self.dataset}-{self.family}-w{self.width}-s{self.seed}"


@dataclass
class Teacher:
    key: TeacherKey
    model: torch.nn.Module
    meta: dict[str, Any]
    cached: bool  # True: loaded from the cache; False: trained now


def teacher_spec(family: str, width: int, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """The NetSpec dict of a family's teacher architecture (before it becomes an ANN twin):
    the kind's reference architecture at ``width``."""
    reference = KINDS[family].reference_spec
    assert reference is not None, f"kind {family!r} has no reference architecture"
    return reference(width, tuple(input_shape))


def data_fingerprint(data: Dataset) -> str:
    """SHA-256 of the training and validation splits (inputs and labels).

    Remembered per :class:`Dataset` object: a search checks it in every distilled trial, and
    hashing Fashion-MNIST's splits takes a noticeable fraction of a second.
    """
    known = _FINGERPRINTS.get(id(data))
    if known is not None and known[0]() is data:
        return known[1]
    h = hashlib.sha256()
    for split in (data.train, data.val):
        for t in (split.x, split.y):
            h.update(str(tuple(t.shape)).encode())
            h.update(t.contiguous().numpy().tobytes())
    digest = h.hexdigest()
    _FINGERPRINTS[id(data)] = (weakref.ref(data), digest)
    return digest


_FINGERPRINTS: dict[int, tuple[weakref.ref[Dataset], str]] = {}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_meta(path: Path) -> dict[str, Any]:
    """A cache entry's metadata; ``ValueError`` unless it is a JSON object."""
    meta = json.loads(path.read_text())
    if not isinstance(meta, dict):
        raise ValueError(f"expected a JSON object, got {type(meta).__name__}")
    return meta


class TeacherCache:
    """The folder of cached teachers (see the module docstring)."""

    def __init__(self, root: Path = DEFAULT_CACHE) -> None:
        self.root = Path(root)

    def paths(self, key: TeacherKey) -> tuple[Path, Path]:
        return self.root / f"{key.name}.pt", self.root / f"{key.name}.json"

    def entries(self) -> list[dict[str, Any]]:
        """The metadata of every readable entry, by name; unreadable ones say so."""
        out = []
        for meta_path in sorted(self.root.glob("*.json")):
            try:
                meta = _read_meta(meta_path)
                meta["_problem"] = self._problem(meta_path.with_suffix(".pt"), meta)
            except (OSError, ValueError) as e:
                meta = {"name": meta_path.stem, "_problem": f"unreadable metadata ({e})"}
            out.append(meta)
        return out

    @staticmethod
    def _problem(weights: Path, meta: dict[str, Any]) -> str | None:
        if meta.get("format_version") != FORMAT_VERSION:
            return f"format {meta.get('format_version')} (this version reads {FORMAT_VERSION})"
        if not weights.exists():
            return "weights file missing"
        if _sha256(weights) != meta.get("sha256"):
            return "weights checksum mismatch (corrupt or modified)"
        return None

    def load(
        self, key: TeacherKey, data: Dataset, spec: dict[str, Any]
    ) -> tuple[torch.nn.Module | None, dict[str, Any] | None, str]:
        """The cached teacher, or ``(None, None, why not)``."""
        weights, meta_path = self.paths(key)
        if not meta_path.exists():
            return None, None, "not cached"
        try:
            meta = _read_meta(meta_path)
        except (OSError, ValueError) as e:
            return None, None, f"unreadable metadata ({e})"
        problem = self._problem(weights, meta)
        if problem:
            return None, None, problem
        if meta.get("spec") != spec or meta.get("input_shape") != list(data.input_shape):
            return None, None, "stale: the teacher architecture changed"
        if meta.get("data_fingerprint") != data_fingerprint(data):
            return None, None, "stale: the training data differ"
        model = build_ann(spec, data.input_shape, data.n_classes)
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
        except Exception as e:
            return None, None, f"corrupt weights ({type(e).__name__}: {e})"
        return model.eval(), meta, ""

    def get(
        self,
        data: Dataset,
        family: str,
        width: int | None = None,
        seed: int = 0,
        *,
        epochs: int = DEFAULT_EPOCHS,
        force: bool = False,
        progress: bool = False,
    ) -> Teacher:
        """The teacher for (data set, family, width, seed): from the cache, else trained now."""
        key = TeacherKey(data.name, family, int(width or DEFAULT_WIDTH.get(family, 2)), seed)
        spec = teacher_spec(family, key.width, data.input_shape)
        if not force:
            model, meta, why = self.load(key, data, spec)
            if model is not None and meta is not None:
                logger.info(
                    "teacher {}: reused from {} (val {:.4f})",
                    key.name,
                    self.root,
                    meta["val_accuracy"],
                )
                return Teacher(key, model, meta, cached=True)
            if why != "not cached":
                logger.warning("teacher {}: cache entry not used ({}); retraining", key.name, why)
        return self._train(key, data, spec, epochs, progress)

    def _train(
        self, key: TeacherKey, data: Dataset, spec: dict[str, Any], epochs: int, progress: bool
    ) -> Teacher:
        logger.info("teacher {}: training ({} epochs)", key.name, epochs)
        torch.manual_seed(key.seed)
        model = build_ann(spec, data.input_shape, data.n_classes)
        cfg = TrainConfig(epochs=epochs, lr=2e-3, seed=key.seed, progress=progress)
        result = train(model, data.train, data.val, cfg, description=f"teacher {key.name}")
        model.eval()
        test_acc = evaluate(model, data.test)
        energy = measure_energy(model, (x for x, _ in data.val.batches(256)))
        self.root.mkdir(parents=True, exist_ok=True)
        weights, meta_path = self.paths(key)
        atomic_file(weights, lambda p: torch.save(model.state_dict(), p))
        meta = {
            "name": key.name,
            "format_version": FORMAT_VERSION,
            **dataclasses.asdict(key),
            "spec": spec,
            "input_shape": list(data.input_shape),
            "n_classes": data.n_classes,
            "epochs": epochs,
            "val_accuracy": result.best_val_acc,
            "test_accuracy": test_acc,
            "energy_uj": energy.energy_uj,
            "train_seconds": result.seconds,
            "n_params": sum(p.numel() for p in model.parameters()),
            "data_fingerprint": data_fingerprint(data),
            "sha256": _sha256(weights),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        atomic_file(meta_path, lambda p: p.write_text(json.dumps(meta, indent=2)))
        TRAINED[key.name] = TRAINED.get(key.name, 0) + 1
        logger.info(
            "teacher {}: val {:.4f} test {:.4f} in {:.1f}s, cached in {}",
            key.name,
            result.best_val_acc,
            test_acc,
            result.seconds,
            self.root,
        )
        return Teacher(key, model, meta, cached=False)


@dataclass(frozen=True)
class TeacherEntry:
    """One entry of a teacher cache, as :func:`list_teachers` reads it.

    Attributes:
        name: The entry's name (``<data set>-<family>-w<width>-s<seed>``).
        problem: Why it would be retrained (checksum, format, unreadable metadata), or None
            when it is usable.
        meta: The entry's metadata (accuracies, energy, training time, spec); empty when
            unreadable.
    """

    name: str
    problem: str | None
    meta: dict[str, Any]

    @property
    def ok(self) -> bool:
        """True when the entry would be used as it is."""
        return self.problem is None


def _check_cache(cache: Path) -> None:
    if cache.exists() and not cache.is_dir():
        raise UserError(f"cache {cache} is a file; give the cache folder (default runs/teachers)")


def train_teacher(
    dataset: Any = "digits",
    family: str = "mlp",
    *,
    width: int | None = None,
    seed: int = 0,
    epochs: int = DEFAULT_EPOCHS,
    force: bool = False,
    data_dir: str | Path | None = None,
    cache: str | Path = DEFAULT_CACHE,
    progress: bool = False,
    verbose: bool = False,
) -> Teacher:
    """Train the ANN teacher of (data set, family, width, seed), or confirm the cached one.

    A teacher is the ANN twin of a fixed architecture of one family, trained once and cached
    (``<cache>/<name>.pt`` and ``.json``) so that every trial and study that distils from it
    reuses it. A stale or corrupt cache entry is retrained, never used.

    Args:
        dataset: A data set name (``digits``, ``fashion-mnist``), a file, ``(x, y)`` arrays or a
            Dataset.
        family: ``mlp``, ``cnn`` or ``transformer``.
        width: Units, channels or dim (default 256 for mlp, 64 otherwise).
        seed: Seed of the split and training.
        epochs: Training epochs.
        force: Retrain even if a valid entry exists.
        data_dir: Folder holding the data set's files.
        cache: The cache folder.
        progress: Show a progress bar and warnings on standard error.
        verbose: Also show INFO messages on standard error.

    Returns:
        The :class:`Teacher`; ``cached`` says whether it was reused, ``meta`` holds its
        accuracies, energy and training time.

    Raises:
        UserError: an unknown family, a bad width or epochs, a cache path that is a file, or
            data that cannot be read.
    """
    from evolve.data.arrays import as_dataset
    from evolve.store.runlog import run_log

    if family not in FAMILIES:
        raise UserError(f"family: unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    if epochs < 1:
        raise UserError(f"epochs must be >= 1, got {epochs}")
    if width is not None and width < 1:
        raise UserError(f"width must be >= 1 (units, channels or dim), got {width}")
    _check_cache(Path(cache))
    echo = echo_level(progress, verbose)
    with translated(), run_log(None, echo=echo):
        data = as_dataset(dataset, seed=seed, data_dir=data_dir)
        return TeacherCache(Path(cache)).get(
            data, family, width, seed, epochs=epochs, force=force, progress=progress
        )


def list_teachers(cache: str | Path = DEFAULT_CACHE) -> list[TeacherEntry]:
    """The entries of a teacher cache, by name, and whether each is usable.

    Raises:
        UserError: ``cache`` is a file.
    """
    _check_cache(Path(cache))
    return [
        TeacherEntry(
            name=str(e.get("name", "?")),
            problem=e.get("_problem"),
            meta={k: v for k, v in e.items() if k != "_problem"},
        )
        for e in TeacherCache(Path(cache)).entries()
    ]

"""The spiking autoencoder of the ECG detector: settings, training, scores, and the fitted
:class:`Detector` (steps 5 and 6 in :mod:`evolve.apps.ecg.pipeline`)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from evolve.apps.ecg.records import Record, load_record_208
from evolve.apps.ecg.signals import Array, Beats, detect_r_peaks, segment_beats, select_normal_beats
from evolve.errors import DataError, UserError


@dataclass(frozen=True)
class ECGSettings:
    """Settings of one detector (defaults: what ``evolve ecg`` runs)."""

    epochs: int = 60
    quantile: float = 0.99
    seed: int = 0
    timesteps: int = 8
    hidden: int = 64
    code: int = 16
    neuron: str = "lif"
    lr: float = 3e-3
    batch_size: int = 32
    holdout: float = 0.3
    energy_profile: str = "45nm_fp32"
    network: str = "snn"
    """``snn`` (the spiking autoencoder) or ``ann``: its equal-size ANN twin (ReLU, one pass),
    the non-spiking reference of the benchmark."""

    def validate(self) -> None:
        if self.network not in ("snn", "ann"):
            raise UserError(f"network must be 'snn' or 'ann', got {self.network!r}")
        if not 0.5 <= self.quantile < 1.0:
            raise UserError(
                f"quantile must be in [0.5, 1), got {self.quantile}; e.g. 0.99 flags the top 1 %"
                " of held-out normal scores"
            )
        if self.epochs < 1:
            raise UserError(f"epochs must be >= 1, got {self.epochs}")
        if self.timesteps < 1:
            raise UserError(f"timesteps must be >= 1, got {self.timesteps}")
        if isinstance(self.seed, bool) or not 0 <= self.seed < 2**32:
            raise UserError(f"seed must be a whole number in 0..{2**32 - 1}, got {self.seed}")

    def arch(self) -> dict[str, Any]:
        """The autoencoder as a :func:`snn_models.build` spec (its head is the decoder)."""
        layer = {"neuron": self.neuron}
        return {
            "kind": "mlp",
            "timesteps": self.timesteps,
            "encoder": "direct",
            "readout": "membrane",
            "layers": [
                {"width": self.hidden, **layer},
                {"width": self.code, **layer},
                {"width": self.hidden, **layer},
            ],
        }


def build_autoencoder(n_in: int, settings: ECGSettings) -> torch.nn.Module:
    """The spiking autoencoder ``n_in → hidden → code → hidden → n_in`` (mean-membrane output),
    or with ``settings.network == "ann"`` its ANN twin (:func:`snn_models.ann.build_ann`)."""
    from snn_models import build
    from snn_models.ann import build_ann

    if settings.network == "ann":
        return build_ann(settings.arch(), (n_in,), n_in)
    return build(settings.arch(), (n_in,), n_in)


def train_autoencoder(
    model: torch.nn.Module, x: torch.Tensor, settings: ECGSettings
) -> list[float]:
    """Adam on the reconstruction MSE with surrogate gradients; returns the loss per epoch."""
    from snn_models import reset_net

    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    gen = torch.Generator().manual_seed(settings.seed)
    model.train()
    losses = []
    for _ in range(settings.epochs):
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for start in range(0, len(x), settings.batch_size):
            xb = x[order[start : start + settings.batch_size]]
            reset_net(model)
            loss = torch.nn.functional.mse_loss(model(xb), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(xb)
        losses.append(total / len(x))
    model.eval()
    return losses


@torch.no_grad()
def reconstruction_errors(model: torch.nn.Module, x: torch.Tensor) -> Array:
    """Squared reconstruction error of every input feature, ``[n, features]``."""
    from snn_models import reset_net

    model.eval()
    reset_net(model)
    return ((model(x) - x) ** 2).double().numpy()


def anomaly_scores(model: torch.nn.Module, x: torch.Tensor) -> Array:
    """Per-beat anomaly score: the reconstruction error ``mean((x - x̂)²)`` over the features."""
    return reconstruction_errors(model, x).mean(axis=1)


def _tensor(a: Array) -> torch.Tensor:
    return torch.as_tensor(a, dtype=torch.float32)


@dataclass
class Detector:
    """A trained detector and what was measured on record 208 while fitting it."""

    settings: ECGSettings
    model: torch.nn.Module
    threshold: float
    n_beats: int
    n_normal: int
    n_train: int
    heldout_scores: Array
    train_scores: Array
    rejected_scores: Array
    losses: list[float]
    train_seconds: float
    beats: Beats
    normal_mask: NDArray[np.bool_]


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread: these tensors are tiny, extra threads only wait for busy cores,
    and one thread makes the numbers the same on any machine (no reduction-order changes)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def fit_detector(settings: ECGSettings, record: Record | None = None) -> Detector:
    """Train on the normal beats of record 208 and set the threshold on its held-out ones."""
    with one_thread():
        return _fit_detector(settings, record)


def _fit_detector(settings: ECGSettings, record: Record | None) -> Detector:
    settings.validate()
    record = record if record is not None else load_record_208()
    torch.manual_seed(settings.seed)
    beats = segment_beats(record.signal, detect_r_peaks(record.signal, record.fs), record.fs)
    normal = select_normal_beats(beats)
    idx = np.flatnonzero(normal)
    if len(idx) < 20:
        raise DataError(f"{record.name}: only {len(idx)} normal beats found; need at least 20")
    rng = np.random.default_rng(settings.seed)
    idx = rng.permutation(idx)
    n_hold = max(round(settings.holdout * len(idx)), 10)
    hold, train = np.sort(idx[:n_hold]), np.sort(idx[n_hold:])
    feats = beats.features
    model = build_autoencoder(feats.shape[1], settings)
    t0 = time.perf_counter()
    losses = train_autoencoder(model, _tensor(feats[train]), settings)
    seconds = time.perf_counter() - t0
    held = anomaly_scores(model, _tensor(feats[hold]))
    return Detector(
        settings=settings,
        model=model,
        threshold=float(np.quantile(held, settings.quantile)),
        n_beats=len(beats),
        n_normal=int(normal.sum()),
        n_train=len(train),
        heldout_scores=held,
        train_scores=anomaly_scores(model, _tensor(feats[train])),
        rejected_scores=anomaly_scores(model, _tensor(feats[~normal])),
        losses=losses,
        train_seconds=seconds,
        beats=beats,
        normal_mask=normal,
    )


__all__ = [
    "Detector",
    "ECGSettings",
    "anomaly_scores",
    "build_autoencoder",
    "fit_detector",
    "one_thread",
    "reconstruction_errors",
    "train_autoencoder",
]

"""The adaptive neuron selector: a training-time controller that moves layers between LIF and BIF.

It watches, after every epoch, each :class:`~snn_models.neurons.AdaptiveNode` layer's firing
rate and the training-loss trend, and applies these rules, in this order, to each layer:

1. **divergence** (the loss is not finite, or it jumped above ``divergence_factor`` x its best so
   far) while a layer is BIF or warming up → back to LIF at once (mix 0), and that layer is not
   moved to BIF again for ``cooldown_epochs``;
2. **over-excited** layer (rate > 95 %) → LIF;
3. **dead** layer (rate < 5 %) → start moving to BIF;
4. **loss rising** for ``trend_epochs`` epochs in a row → LIF;
5. **loss flat** (relative change below ``flat_tol`` over ``trend_epochs`` epochs) → start moving
   to BIF.

Moving to BIF is a warm-up: the layer's mix goes 0 → 1 in ``warmup_epochs`` equal steps, and the
stability check of rule 1 runs at every step. Every decision is recorded (epoch, layer, from, to,
reason) in :attr:`NeuronSelector.decisions`, which the search stores in the trial's attributes.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from typing import Any

from torch import nn

from snn_models.neurons import RUNAWAY_RATE, SILENT_RATE, AdaptiveNode


@dataclass(frozen=True)
class Decision:
    epoch: int
    layer: str
    before: str
    after: str
    reason: str


class NeuronSelector:
    """Epoch-end controller for the adaptive layers of ``model`` (see the module docstring)."""

    def __init__(
        self,
        model: nn.Module,
        *,
        warmup_epochs: int = 3,
        trend_epochs: int = 5,
        flat_tol: float = 1e-3,
        divergence_factor: float = 1.5,
        cooldown_epochs: int = 3,
    ) -> None:
        self.layers: dict[str, AdaptiveNode] = {
            name: m for name, m in model.named_modules() if isinstance(m, AdaptiveNode)
        }
        self.warmup_epochs = max(1, warmup_epochs)
        self.trend_epochs = trend_epochs
        self.flat_tol = flat_tol
        self.divergence_factor = divergence_factor
        self.cooldown_epochs = cooldown_epochs
        self.losses: list[float] = []
        self.decisions: list[Decision] = []
        self._target: dict[str, float] = {name: m.mix for name, m in self.layers.items()}
        self._blocked_until: dict[str, int] = {}

    @property
    def active(self) -> bool:
        return bool(self.layers)

    def _set(self, epoch: int, name: str, target: float, reason: str) -> None:
        """Move layer ``name`` to LIF at once (target 0) or one warm-up step towards BIF (target 1)."""
        layer = self.layers[name]
        before = layer.kind
        if target == 0.0:
            if layer.mix == 0.0:
                return
            layer.set_mix(0.0)
        else:
            if layer.mix == 1.0:
                return
            if layer.mix > 0.0:
                reason = f"warm-up step ({reason})"
            mix = layer.mix + 1.0 / self.warmup_epochs
            layer.set_mix(1.0 if mix > 1.0 - 1e-6 else mix)
        self._target[name] = target
        self.decisions.append(Decision(epoch, name, before, layer.kind, reason))

    def _trend(self) -> str | None:
        k = self.trend_epochs
        if len(self.losses) <= k:
            return None
        recent = self.losses[-(k + 1) :]
        if all(b > a for a, b in itertools.pairwise(recent)):
            return "rising"
        if abs(recent[-1] - recent[0]) <= self.flat_tol * max(abs(recent[0]), 1e-12):
            return "flat"
        return None

    def on_epoch_end(self, epoch: int, loss: float, rates: dict[str, float]) -> list[Decision]:
        """Apply the rules after an epoch; ``rates`` maps layer names to firing rates."""
        start = len(self.decisions)
        best = min(self.losses, default=math.inf)
        diverged = not math.isfinite(loss) or (
            math.isfinite(best) and loss > self.divergence_factor * best
        )
        self.losses.append(loss if math.isfinite(loss) else math.inf)
        trend = self._trend()
        for name, layer in self.layers.items():
            rate = rates.get(name)
            if diverged and layer.mix > 0.0:
                self._set(epoch, name, 0.0, f"divergence (loss {loss:.4g}, best {best:.4g})")
                self._blocked_until[name] = epoch + self.cooldown_epochs
                continue
            if rate is not None and rate > RUNAWAY_RATE:
                self._set(epoch, name, 0.0, f"over-excited (rate {rate:.3f} > {RUNAWAY_RATE})")
                continue
            blocked = epoch < self._blocked_until.get(name, -1)
            if rate is not None and rate < SILENT_RATE and not blocked:
                self._set(epoch, name, 1.0, f"dead layer (rate {rate:.3f} < {SILENT_RATE})")
            elif trend == "rising":
                self._set(epoch, name, 0.0, f"loss rising for {self.trend_epochs} epochs")
            elif trend == "flat" and not blocked:
                self._set(epoch, name, 1.0, f"loss flat for {self.trend_epochs} epochs")
            elif 0.0 < layer.mix < 1.0 and self._target[name] == 1.0:
                self._set(epoch, name, 1.0, "continuing")
        return self.decisions[start:]

    def state(self) -> dict[str, Any]:
        """JSON-serialisable record: final kinds and every decision."""
        return {
            "final": {name: layer.kind for name, layer in self.layers.items()},
            "decisions": [asdict(d) for d in self.decisions],
        }

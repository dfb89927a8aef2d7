r"""Knowledge distillation from an ANN teacher (Hinton et al. 2015).

.. math::

    L = (1-\alpha)\,\mathrm{CE}(y, z_s) + \alpha\,\tau^2\,
        \mathrm{KL}\big(\mathrm{softmax}(z_t/\tau)\,\|\,\mathrm{softmax}(z_s/\tau)\big)

with :math:`z_s` the student SNN's time-averaged logits and :math:`z_t` the teacher's. The
per-time-step form replaces the KL term by its mean over steps of the output layer's per-step
logits :math:`z_s[t]` (its input current at step t), which lets one SNN run at any T ≤ T_train. With α = 0 the loss is exactly
the cross-entropy of plain training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from evolve.errors import UserError


def kd_loss(
    student: Tensor,
    teacher: Tensor,
    y: Tensor,
    *,
    alpha: float,
    temperature: float,
    steps: Tensor | None = None,
) -> Tensor:
    """Hinton's loss on the student's logits ``[B, C]`` and the teacher's ``[B, C]``.

    Args:
        steps: the student's per-step logits ``[T, B, C]``; when given, the KL term is their
            mean over steps (the cross-entropy stays on ``student``).
    """
    if not 0 <= alpha <= 1:
        raise UserError(f"kd_alpha must be in [0, 1], got {alpha}")
    if temperature <= 0:
        raise UserError(f"kd_temperature must be > 0, got {temperature}")
    ce = F.cross_entropy(student, y)
    if alpha == 0:
        return ce
    t_log = F.log_softmax(teacher / temperature, dim=-1)
    targets = steps if steps is not None else student.unsqueeze(0)
    kl = torch.stack(
        [
            F.kl_div(
                F.log_softmax(s / temperature, -1), t_log, reduction="batchmean", log_target=True
            )
            for s in targets
        ]
    ).mean()
    return (1 - alpha) * ce + alpha * temperature**2 * kl


@dataclass
class Distiller:
    """The training loss of a distilled student: ``loss = distiller(model, x, y, out)``.

    Args:
        teacher: a trained ANN (kept in eval mode, never updated).
        alpha, temperature: the loss's weights (see the module docstring).
        per_step: distil every time step's logits (the output layer's per-step input current),
            not only their average.
    """

    teacher: nn.Module
    alpha: float = 0.5
    temperature: float = 4.0
    per_step: bool = False

    def __post_init__(self) -> None:
        self.teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self._steps: Tensor | None = None

    def attach(self, student: nn.Module) -> None:
        """Watch the student's output layer, for the per-step form."""
        if not self.per_step:
            return
        head = getattr(student, "head", None)
        if not isinstance(head, nn.Sequential) or len(head) == 0:
            raise UserError("kd_per_step needs a network with an output layer (head)")

        def keep(_m: nn.Module, _i: object, out: Tensor) -> None:
            self._steps = out

        head[0].register_forward_hook(keep)

    def __call__(self, x: Tensor, y: Tensor, out: Tensor) -> Tensor:
        with torch.no_grad():
            z_t = self.teacher(x)
        steps = None
        if self.per_step:
            if self._steps is None:
                raise RuntimeError("Distiller.attach(student) was not called")
            steps = self._steps
        return kd_loss(out, z_t, y, alpha=self.alpha, temperature=self.temperature, steps=steps)

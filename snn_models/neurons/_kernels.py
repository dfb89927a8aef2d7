r"""Fused multi-step kernels: all T steps of a neuron inside one ``torch.autograd.Function``.

The forward pass loops over time inside the Function (no autograd graph per step) and saves only
the pre-reset membrane :math:`h_t` for every step. The backward pass rebuilds spikes and surrogate
derivatives from :math:`h` in one vectorised call, then runs the reverse recurrence

.. math::

    \frac{\partial L}{\partial h_t} = \frac{\partial L}{\partial s_t}\,\sigma'(h_t-\theta)
        + \frac{\partial L}{\partial v_t}\,\frac{\partial v_t}{\partial h_t},\qquad
    \frac{\partial L}{\partial v_{t-1}} = \frac{\partial L}{\partial h_t}\,
        \frac{\partial h_t}{\partial v_{t-1}}

which costs two elementwise kernels per step in the common (detached-reset) case.

The charge helpers (:func:`lif_charge`, :func:`bif_drive`, :func:`bif_charge`) are shared with the
single-step (plain autograd) path of the neuron modules, so both modes run the same floating-point
operations and produce bit-identical spikes.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from snn_models.surrogate import Surrogate

Scalar = float | Tensor  # a Python float or a 0-dim tensor (learnable parameter)


# --------------------------------------------------------------------------- shared charge maths
def lif_charge(v: Tensor, x: Tensor, beta: Scalar, out: Tensor | None = None) -> Tensor:
    """Pre-spike membrane ``h = beta * v + x`` (IF: beta = 1)."""
    if isinstance(beta, Tensor):
        return torch.addcmul(x, v, beta, out=out) if out is not None else torch.addcmul(x, v, beta)
    if out is not None:
        return torch.add(x, v, alpha=beta, out=out)
    return torch.add(x, v, alpha=beta)


class BIFConstants:
    """Precomputed constants of the quadratic (QIF) update, see :class:`snn_models.neurons.BIFNode`.

    ``v + (x + a0 (v - v_rest)(v - v_c)) / tau`` is evaluated as
    ``v + x / tau + k + c (v - m)^2`` with ``c = a0 / tau``, ``m = (v_rest + v_c) / 2``,
    ``k = -c ((v_c - v_rest) / 2)^2`` — one fused multiply-add per step instead of five ops.
    """

    __slots__ = ("c", "k", "m", "tau", "v_c", "v_max", "v_min", "v_reset", "v_rest")

    def __init__(
        self,
        *,
        tau: float,
        a0: float,
        v_rest: float,
        v_c: float,
        v_reset: float,
        v_min: float,
        v_max: float,
    ) -> None:
        self.tau = tau
        self.c = a0 / tau
        self.m = (v_rest + v_c) / 2
        self.k = -self.c * ((v_c - v_rest) / 2) ** 2
        self.v_rest, self.v_c, self.v_reset = v_rest, v_c, v_reset
        self.v_min, self.v_max = v_min, v_max


def bif_drive(x: Tensor, p: BIFConstants) -> Tensor:
    """Input part of the BIF update, ``x / tau + k`` (vectorisable over all T)."""
    return x / p.tau + p.k


def bif_charge(v: Tensor, drive: Tensor, p: BIFConstants) -> Tensor:
    """Pre-spike membrane ``h = clamp(v + drive + c (v - m)^2, v_min, v_max)``."""
    d = v - p.m
    return (torch.addcmul(drive, d, d, value=p.c) + v).clamp(p.v_min, p.v_max)


# --------------------------------------------------------------------------- reverse recurrence
def _reverse_scan(
    g_s: Tensor,
    sg: Tensor,
    keep: Tensor | None,
    jac: Scalar | Tensor,
    g_vT: Tensor | None,
    v_init: Tensor,
    dv_ds: Tensor | float | None,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Backward through ``T`` steps of ``h_t = f(v_{t-1}, x_t)``, ``v_t = reset(h_t, s_t)``.

    Args:
        g_s: dL/ds_t, ``[T, ...]``.
        sg: surrogate derivative at every step, ``[T, ...]``.
        keep: dv_t/dh_t (``1 - s_t`` for hard reset) or ``None`` when it is 1 (soft reset).
        jac: dh_t/dv_{t-1}: a scalar (IF/LIF) or a ``[T, ...]`` tensor (BIF).
        g_vT: dL/dv_T from the caller, or ``None``.
        v_init: the initial membrane (for its shape).
        dv_ds: ``None`` when the reset is detached, else dv_t/ds_t (tensor or scalar).

    Returns:
        (dL/dh_t for all t, dL/dv_init, dL/ds_t total (incl. the reset path) or None if detached).
    """
    T = g_s.shape[0]
    g_h = torch.empty_like(sg)
    gv: Tensor = g_vT if g_vT is not None else torch.zeros_like(v_init)
    per_step_jac = isinstance(jac, Tensor) and jac.dim() > 0
    if dv_ds is None:
        a = g_s * sg  # the part of dL/dh that does not depend on the future
        for t in range(T - 1, -1, -1):
            if keep is None:
                torch.add(a[t], gv, out=g_h[t])
            else:
                torch.addcmul(a[t], gv, keep[t], out=g_h[t])
            j = jac[t] if per_step_jac else jac  # type: ignore[index]
            gv = g_h[t] * j if not (isinstance(j, float) and j == 1.0) else g_h[t]
        return g_h, gv, None
    ds_all = torch.empty_like(sg)
    per_step_dvds = isinstance(dv_ds, Tensor) and dv_ds.dim() > 0
    for t in range(T - 1, -1, -1):
        d = dv_ds[t] if per_step_dvds else dv_ds  # type: ignore[index]
        torch.add(g_s[t], gv * d, out=ds_all[t])
        gh = ds_all[t] * sg[t] + (gv if keep is None else gv * keep[t])
        g_h[t] = gh
        j = jac[t] if per_step_jac else jac  # type: ignore[index]
        gv = gh * j
    return g_h, gv, ds_all


def _as_value(x: Scalar) -> Scalar:
    return x.detach() if isinstance(x, Tensor) else x


# --------------------------------------------------------------------------- IF / LIF
class LinearMultiStep(torch.autograd.Function):
    r"""IF/LIF over ``[T, B, ...]``: ``h_t = beta v_{t-1} + x_t``, ``s_t = H(h_t - theta)``, reset.

    Inputs: ``x_seq, v_init, beta, theta, v_reset, soft_reset, detach_reset, surrogate``;
    ``beta`` and ``theta`` are floats or 0-dim tensors (learnable). Returns ``(spikes, v_T)``.
    """

    @staticmethod
    def forward(
        ctx: Any,
        x_seq: Tensor,
        v_init: Tensor,
        beta: Scalar,
        theta: Scalar,
        v_reset: float,
        soft_reset: bool,
        detach_reset: bool,
        surrogate: Surrogate,
    ) -> tuple[Tensor, Tensor]:
        b, th = _as_value(beta), _as_value(theta)
        T = x_seq.shape[0]
        h_seq = torch.empty_like(x_seq)
        fired = torch.empty(x_seq.shape, dtype=torch.bool, device=x_seq.device)
        v = v_init
        for t in range(T):
            h = lif_charge(v, x_seq[t], b, out=h_seq[t])
            torch.gt(h, th, out=fired[t])
            v = torch.where(fired[t], h - th, h) if soft_reset else h.masked_fill(fired[t], v_reset)
        ctx.save_for_backward(h_seq, v_init, *(p for p in (beta, theta) if isinstance(p, Tensor)))
        ctx.cfg = (beta, theta, v_reset, soft_reset, detach_reset, surrogate)
        return fired.to(x_seq.dtype), v

    @staticmethod
    def backward(ctx: Any, g_s: Tensor | None, g_vT: Tensor | None) -> tuple[Any, ...]:
        h_seq, v_init = ctx.saved_tensors[:2]
        beta, theta, v_reset, soft, detach, surrogate = ctx.cfg
        b, th = _as_value(beta), _as_value(theta)
        u = h_seq - th
        sg = surrogate.grad(u)
        s = (h_seq > th).to(h_seq.dtype)
        g_s = g_s if g_s is not None else torch.zeros_like(h_seq)
        keep = None if soft else 1 - s
        if detach:
            dv_ds: Tensor | float | None = None
        else:
            dv_ds = -float(th) if soft else (v_reset - h_seq)
        g_h, g_v0, ds_all = _reverse_scan(g_s, sg, keep, b, g_vT, v_init, dv_ds)

        g_beta = g_theta = None
        if isinstance(beta, Tensor) and ctx.needs_input_grad[2]:
            v_post = (
                torch.where(s > 0, h_seq - th, h_seq) if soft else h_seq.masked_fill(s > 0, v_reset)
            )
            v_prev = torch.cat([v_init.unsqueeze(0), v_post[:-1]])
            g_beta = (g_h * v_prev).sum().reshape(beta.shape)
        if isinstance(theta, Tensor) and ctx.needs_input_grad[3]:
            ds = g_s if ds_all is None else ds_all
            gt = -(ds * sg).sum()
            if soft:  # v_t = h_t - theta * s_t
                g_v_after = _grad_wrt_v_post(g_h, b, g_vT)
                gt = gt - (g_v_after * s).sum()
            g_theta = gt.reshape(theta.shape)
        g_v_init = g_v0 if ctx.needs_input_grad[1] else None
        return g_h, g_v_init, g_beta, g_theta, None, None, None, None


def _grad_wrt_v_post(g_h: Tensor, jac: Scalar | Tensor, g_vT: Tensor | None) -> Tensor:
    """dL/dv_t for every t (the post-reset membrane), from dL/dh_{t+1} and dh_{t+1}/dv_t."""
    nxt = g_h[1:] * (jac[1:] if isinstance(jac, Tensor) and jac.dim() > 0 else jac)
    last = g_vT if g_vT is not None else torch.zeros_like(g_h[0])
    return torch.cat([nxt, last.unsqueeze(0)])


# --------------------------------------------------------------------------- BIF
class BIFMultiStep(torch.autograd.Function):
    r"""Bistable (quadratic) integrate-and-fire over ``[T, B, ...]``.

    Inputs: ``x_seq, v_init, theta, consts, detach_reset, surrogate``. Returns ``(spikes, v_T)``.
    """

    @staticmethod
    def forward(
        ctx: Any,
        x_seq: Tensor,
        v_init: Tensor,
        theta: Scalar,
        p: BIFConstants,
        detach_reset: bool,
        surrogate: Surrogate,
    ) -> tuple[Tensor, Tensor]:
        th = _as_value(theta)
        T = x_seq.shape[0]
        drive = bif_drive(x_seq, p)
        h_seq = torch.empty_like(x_seq)
        fired = torch.empty(x_seq.shape, dtype=torch.bool, device=x_seq.device)
        v = v_init
        for t in range(T):
            h = bif_charge(v, drive[t], p)
            h_seq[t] = h
            torch.gt(h, th, out=fired[t])
            v = h.masked_fill(fired[t], p.v_reset)
        ctx.save_for_backward(h_seq, v_init, *((theta,) if isinstance(theta, Tensor) else ()))
        ctx.cfg = (theta, p, detach_reset, surrogate)
        return fired.to(x_seq.dtype), v

    @staticmethod
    def backward(ctx: Any, g_s: Tensor | None, g_vT: Tensor | None) -> tuple[Any, ...]:
        h_seq, v_init = ctx.saved_tensors[:2]
        theta, p, detach, surrogate = ctx.cfg
        th = _as_value(theta)
        sg = surrogate.grad(h_seq - th)
        fired = h_seq > th
        s = fired.to(h_seq.dtype)
        g_s = g_s if g_s is not None else torch.zeros_like(h_seq)
        # v_{t-1} for every step, then dh_t/dv_{t-1} = 1 + 2c (v_{t-1} - m), zero where clamped.
        v_post = h_seq.masked_fill(fired, p.v_reset)
        v_prev = torch.cat([v_init.unsqueeze(0), v_post[:-1]])
        inside = (h_seq > p.v_min) & (h_seq < p.v_max)
        jac = (1 + 2 * p.c * (v_prev - p.m)) * inside
        dv_ds = None if detach else (p.v_reset - h_seq)
        g_h, g_v0, ds_all = _reverse_scan(g_s, sg, 1 - s, jac, g_vT, v_init, dv_ds)
        g_x = g_h * inside / p.tau
        g_theta = None
        if isinstance(theta, Tensor) and ctx.needs_input_grad[2]:
            ds = g_s if ds_all is None else ds_all
            g_theta = (-(ds * sg).sum()).reshape(theta.shape)
        g_v_init = g_v0 if ctx.needs_input_grad[1] else None
        return g_x, g_v_init, g_theta, None, None, None

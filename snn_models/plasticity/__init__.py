r"""Spike-timing-dependent plasticity (STDP) and reward-modulated STDP, applied online.

The trace-based pair rule, for a synapse from a presynaptic neuron ``j`` to a
postsynaptic neuron ``i`` (time in steps, :math:`\lambda_\pm = e^{-1/\tau_\pm}`):

.. math::

    x_j[t] = \lambda_+\, x_j[t-1] + s^{pre}_j[t], \qquad
    y_i[t] = \lambda_-\, y_i[t-1] + s^{post}_i[t],

    P_{ij}[t] = A_+\, x_j[t]\, s^{post}_i[t] - A_-\, y_i[t]\, s^{pre}_j[t],

    \Delta w_{ij} = \eta \sum_t P_{ij}[t], \qquad
    w \leftarrow \mathrm{clip}(w + \Delta w,\ w_{min},\ w_{max}).

Classic values (Song, Miller & Abbott 2000; Bi & Poo 1998): :math:`\tau_+ = \tau_- = 20` steps,
:math:`A_-/A_+ = 1.05` (the defaults of :class:`STDPRule`).

**Ordering within a step** (the equations read top to bottom). At step ``t`` both traces first
decay and take in *this* step's spikes; the pair term then uses the updated traces. Hence, with
no other spikes around:

* pre at ``t0``, post at ``t0 + k`` (k > 0): :math:`\Delta w = +\eta A_+ \lambda_+^{k}`;
* post at ``t0``, pre at ``t0 + k`` (k > 0): :math:`\Delta w = -\eta A_- \lambda_-^{k}`;
* pre and post in the same step: both terms count, :math:`\Delta w = \eta (A_+ - A_-)` (a slight
  depression with the classic :math:`A_- = 1.05 A_+`).

**Batches and positions.** Tensors are time-major ``[T, B, ...]`` and spikes are floats 0/1.
:math:`P[t]` is the outer product (post × pre) summed over *positions* (the extra dimensions of a
``Linear`` input, e.g. tokens; the output positions of a convolution) and **averaged over the
batch**. A convolution is handled in im2col form: its input spikes and traces are unfolded into
patches, and the update is exactly the ``Linear`` rule applied to the patch matrix (weight
sharing sums the contributions of all output positions).

**When the weights change.** The forward pass of a layer runs all T steps with the current
weights; the sum :math:`\eta\sum_t P[t]` of that pass is added once, just after the neuron that
follows the layer has fired (inside its forward hook, under ``torch.no_grad()``, in place), then
the weights are clipped. In single-step mode (``step_mode="s"``) each call is one step, so the
weights change every step and the traces carry over between calls until :meth:`reset`.

**Reward-modulated STDP** (Izhikevich 2007; Florian 2007). The same pair term feeds an
eligibility trace instead of the weights, and a reward turns it into a weight change:

.. math::

    e_{ij}[t] = \lambda_e\, e_{ij}[t-1] + P_{ij}[t], \quad \lambda_e = e^{-1/\tau_e}, \qquad
    \text{on reward } r:\ w \leftarrow \mathrm{clip}(w + \eta\, r\, e,\ w_{min},\ w_{max}).

The eligibility trace is not consumed by a reward (it keeps decaying); :meth:`reset` clears it.
Since :meth:`SpikingNet.forward <snn_models.architectures.SpikingNet.forward>` resets the network
(and so the controller) first, deliver the reward for a batch before the next forward pass.

**Weight normalisation** (optional, as in Diehl & Cook 2015): after each change the incoming
weights of every postsynaptic neuron (a row of a ``Linear`` weight, an output channel of a
convolution) are rescaled to a fixed L1 or L2 norm — the norm they had when plasticity was
attached, or ``norm_target`` — and clipped again: the bounds always hold, the norm is exact
whenever the clip does not bite. Biases never change.

Plasticity does not use autograd. The weights change in place under ``torch.no_grad()``, so a
``backward()`` through a plastic layer after its weights changed raises autograd's in-place error:
use STDP forward-only (e.g. under ``torch.no_grad()``), or keep gradient training away from
plastic layers. Traces are plain tensor attributes, never parameters or buffers: they are not in
``state_dict`` and are rebuilt lazily with the input's dtype and device.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from snn_models.layers import td_linear
    >>> from snn_models.neurons import IFNode
    >>> net = nn.Sequential(td_linear(3, 2, bias=False), IFNode())
    >>> ctrl = attach_stdp(net, STDPRule(lr=0.01), layers=["0"])
    >>> ctrl.layer_names
    ['0']
    >>> _ = nn.init.constant_(net[0].module.weight, 0.5)
    >>> _ = net(torch.ones(4, 1, 3))  # T=4, B=1: every input and both neurons fire every step
    >>> net[0].module.weight[0, 0].item() < 0.5  # same-step pairs: A+ - A- < 0, a depression
    True
    >>> ctrl.detach()
"""

from __future__ import annotations

from snn_models.plasticity.controller import PlasticityController, attach_stdp
from snn_models.plasticity.rules import RewardSTDPRule, STDPRule, pair_stdp_term, stdp_traces
from snn_models.plasticity.synapse import Norm, PlasticSynapse

__all__ = [
    "Norm",
    "PlasticSynapse",
    "PlasticityController",
    "RewardSTDPRule",
    "STDPRule",
    "attach_stdp",
    "pair_stdp_term",
    "stdp_traces",
]

r"""Gradient-free explanations of spiking networks: spike activation maps (SAM).

Kim & Panda, "Visual explanations from spiking neural networks using inter-spike intervals",
Sci. Rep. 2021. For channel (neuron map) :math:`k` at position :math:`(i, j)` and
step :math:`t`, the *neuronal contribution score* sums, over its spike times :math:`t' \le t`,
a decaying trace of each spike:

.. math::

    NCS_t(k,i,j) = \sum_{t' \le t,\; s_{t'}(k,i,j) = 1} e^{-\gamma (t - t')}, \qquad
    SAM_t(i,j) = \sum_k NCS_t(k,i,j)\, s_t(k,i,j),

with :math:`\gamma = 0.5`. A position contributes at step :math:`t` only if it spikes at
:math:`t`, and then more the more recently it also spiked before (short inter-spike intervals);
silent past steps add nothing. Each map is normalised to [0, 1] by its maximum (an all-zero map
stays zero). No gradients are used.

**Recording a network** (:func:`record_activity`). One forward pass runs with every neuron in its
step loop (:func:`snn_models.functional.step_loop`: plain single steps, spikes bit-identical to the
fused kernels) while each neuron's ``single_step`` is wrapped for the duration of the call, so that
every step's spikes and membrane are kept. The membrane recorded at step :math:`t` is the
**pre-reset** potential :math:`h_t` (after integrating :math:`x_t`, before the reset a spike
causes), read from the argument :math:`h_t - \theta` the neuron passes to its surrogate spike
function. That is the value compared with the threshold, so a trace shows the membrane crossing
:math:`\theta` exactly where a spike is marked; the post-reset value would always sit at
``v_reset`` on spike steps. (A neuron that never calls its surrogate would be recorded with its
post-reset state instead, flagged in :attr:`Activity.pre_reset`.) Every wrapper and hook is
removed when the pass ends, even on error.

**What a map means per model kind** (:func:`explain_maps`; a kind's
:attr:`~snn_models.kinds.Kind.explain` says ``time`` or ``layout``, and a model without a spec of
a registered kind is drawn over time when it has a series encoder):

* ``cnn``: every convolutional spiking layer ``[T, B, C, h, w]`` has a spatial layout; its SAM
  (channels as :math:`k`) is upsampled bilinearly onto the input image (method ``spatial``).
* ``transformer``: token layers ``[T, B, N, D]`` (block inputs, Q/K/V, the attention and MLP
  neurons) map token :math:`n` to its patch (image) or its run of ``patch`` steps (sequence); the
  SAM uses the D features as :math:`k` and is drawn patch by patch, without smoothing (method
  ``tokens``). Layers without a token axis (SDSA's column-sum neuron ``[T, B, 1, D]``, the head
  neuron after the token mean) have no layout and are skipped with that reason.
* ``mlp``: hidden units have no spatial layout, so SAM is undefined for them. Instead the first
  hidden layer is drawn by *input projection* (method ``input-projection``): each unit's SAM
  weight :math:`NCS_t(k)\,s_t(k)` is spread over the inputs by the positive part of the current
  each input sent it, :math:`\max(0, g_k W_{kp} x_t(p))` (:math:`g_k` the BatchNorm scale, if
  any). This is not Kim & Panda's SAM, it is its analogue for a dense first layer: which inputs
  drove the units that contributed at step :math:`t`. Deeper MLP layers are skipped.
* ``temporal`` (:mod:`snn_models.temporal`): the network's time *is* the series, so a layer's
  map is one curve over the input's samples (method ``time``): at SNN step :math:`t`,
  :math:`SAM_t = \sum_k NCS_t(k)\, s_t(k)` over the layer's units; each step's value is given to
  the samples of the window it read (the mean over the ``timesteps`` steps a window is shown),
  and the curve is normalised by its maximum over the series. It shows *when* in the series the
  layer's contributing neurons fired.
"""

from __future__ import annotations

from snn_models.explain.maps import (
    METHODS,
    Maps,
    canvas_size,
    explain_maps,
    input_canvas,
    input_projection,
    layout,
    sam_over_input,
    token_grid,
)
from snn_models.explain.maps import time_map as time_map
from snn_models.explain.recording import Activity, most_active, record_activity
from snn_models.explain.sam import GAMMA, neuronal_contribution, spike_activation_map

__all__ = [
    "GAMMA",
    "METHODS",
    "Activity",
    "Maps",
    "canvas_size",
    "explain_maps",
    "input_canvas",
    "input_projection",
    "layout",
    "most_active",
    "neuronal_contribution",
    "record_activity",
    "sam_over_input",
    "spike_activation_map",
    "token_grid",
]

r"""NIR (Neuromorphic Intermediate Representation) export and import of spiking MLPs and CNNs.

The graph is a chain of nodes named after our modules, with ``dt`` and every time constant
explicit (the textbook file, ``peer="nir"``):

* ``Flatten`` → ``nir.Flatten``; ``Linear`` → ``nir.Affine`` (``nir.Linear`` without bias);
  ``Conv2d`` → ``nir.Conv2d``; BatchNorm is folded into the layer before it (eval statistics);
* LIF (:math:`h = \beta v + x`) → ``nir.LIF`` with :math:`\tau = dt/(1-\beta)`,
  :math:`R = \tau/dt`, :math:`v_{leak} = 0`, so that NIR's Euler step
  :math:`v + \frac{dt}{\tau}(v_{leak} - v + R\,I)` is exactly :math:`\beta v + I`;
* IF (:math:`h = v + x`) → ``nir.IF`` with :math:`R = 1/dt`;
* spike when :math:`v > v_{thr}` (strict, as ours), hard reset to :math:`v_{reset}`.

The input is presented at every step (direct encoding); the readout (the time-average of the
output layer's currents, or the spike count) is not a NIR node and is named in the graph's
metadata with ``timesteps`` and ``dt``.

Other tools read NIR with conventions of their own (snnTorch, Norse, Rockpool: see
:mod:`snn_models.nir.peers`); ``to_nir(..., peer="snntorch")`` writes the same network in the way
that tool reads it, and refuses (:class:`NIRPeerUnsupported`) what it cannot read. Which tools
run our files with identical spikes is measured by ``tests/interop/test_nir_peers.py`` (the
table in ``docs/export.md``).

What NIR cannot express is refused, naming the node, never approximated: BIF neurons (their
quadratic term), adaptive LIF↔BIF neurons, soft reset, attention (transformers), the causal
temporal convolutions of ``temporal`` networks, max pooling, dropout in training, and stochastic
or latency encoders.
"""

from snn_models.nir.peers import PEERS, NirPeer
from snn_models.nir.read import MAX_TIMESTEPS, from_nir
from snn_models.nir.write import (
    DT,
    IF_AS_LIF_GAIN,
    NIRPeerUnsupported,
    NIRUnsupported,
    peer_of,
    to_nir,
)

__all__ = [
    "DT",
    "IF_AS_LIF_GAIN",
    "MAX_TIMESTEPS",
    "PEERS",
    "NIRPeerUnsupported",
    "NIRUnsupported",
    "NirPeer",
    "from_nir",
    "peer_of",
    "to_nir",
]

"""How each NIR reader reads a graph: the conventions a file written for it follows.

NIR is continuous-time: a node says ``tau · dv/dt = v_leak − v + R·I`` and leaves ``dt`` to the
reader. The tools that import NIR read it differently (measured with each tool's own importer,
``tests/interop/test_nir_peers.py``):

* **snnTorch 1.0** (``snntorch.import_nir.import_from_nir``, needs ``nirtorch``) hard-codes
  ``dt = 1e-4`` for ``nir.LIF`` (β = 1 − dt/τ, threshold divided by R·dt/τ), maps ``nir.IF`` to a
  leaky neuron with β 0.9 and subtract reset (and asserts R = 1), resets every neuron to zero,
  and maps ``nir.Flatten(start_dim=0)`` to ``torch.nn.Flatten(0)``, which flattens the batch.
* **Norse 1.1** (``norse.torch.from_nir(graph, dt=0.001)``) ignores R on ``nir.LIF`` (its LIF is
  ``v + dt/τ·(v_leak − v + I)``), reads ``nir.IF`` exactly (``v + I``), resets to zero, and maps
  Flatten as snnTorch does.
* **Rockpool 3.1** (``rockpool.nn.modules.from_nir``) has no mapping for ``nir.IF`` or
  ``nir.Flatten`` and reads ``nir.LIF``'s time constant as ``tau_mem``, which ``nir.LIF`` has
  not: no file of ours can be read by it.

A file written for a peer (:func:`snn_models.nir.to_nir` with ``peer=``) is still valid NIR with
the same meaning; only the way it is written changes:

* ``dt``: the reader's own step (1e-4 for snnTorch, Norse's default 1e-3);
* ``if_as_lif``: IF layers written as ``nir.LIF`` with τ = dt·2⁶⁰ and R = 2⁶⁰, i.e. β = 1 − 2⁻⁶⁰,
  which is exactly 1 in double precision;
* ``unit_r``: LIF layers written with R = 1 and the gain τ/dt folded into the synapse before them
  (Norse ignores R);
* ``flat_input``: the leading Flatten left out and the Input declared flat (the readers' Flatten
  would flatten the batch);
* ``zero_reset``: a reset value other than 0 is refused (the reader resets to 0).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NirPeer:
    """The conventions of one NIR reader (see the module docstring).

    Attributes:
        name: Its key (``nir_for=``/``--nir-for``).
        title: Its name in messages and tables.
        package: The distribution whose version the tables record.
        reader: The function that imports a graph, as text (for docs and messages).
        dt: The time step the file is written at (``metadata["dt"]``).
        if_as_lif: Write IF as ``nir.LIF`` with β = 1 in double precision.
        unit_r: Write LIF with R = 1, the gain folded into the synapse before it.
        flat_input: Leave the leading Flatten out and declare the Input flat.
        zero_reset: Refuse a reset value other than 0.
        cannot: Why no file can be written for it (``None``: one can).
    """

    name: str
    title: str
    package: str
    reader: str
    dt: float = 1.0
    if_as_lif: bool = False
    unit_r: bool = False
    flat_input: bool = False
    zero_reset: bool = False
    cannot: str | None = None


#: Reader name → its conventions; ``nir`` is the textbook reading (our own importer's).
PEERS: dict[str, NirPeer] = {
    "nir": NirPeer("nir", "NIR (textbook)", "nir", "snn_models.nir.from_nir"),
    "snntorch": NirPeer(
        "snntorch",
        "snnTorch",
        "snntorch",
        "snntorch.import_nir.import_from_nir",
        dt=1e-4,
        if_as_lif=True,
        flat_input=True,
        zero_reset=True,
    ),
    "norse": NirPeer(
        "norse",
        "Norse",
        "norse",
        "norse.torch.from_nir",
        dt=1e-3,
        unit_r=True,
        flat_input=True,
        zero_reset=True,
    ),
    "rockpool": NirPeer(
        "rockpool",
        "Rockpool",
        "rockpool",
        "rockpool.nn.modules.from_nir",
        cannot=(
            "Rockpool 3.1's from_nir has no mapping for nir.IF or nir.Flatten and reads "
            "nir.LIF's time constant as tau_mem, which nir.LIF does not have"
        ),
    ),
}

__all__ = ["PEERS", "NirPeer"]

"""NIR export and import: the names of :mod:`snn_models.nir`, kept importable from here."""

from snn_models.nir import (
    DT,
    MAX_TIMESTEPS,
    PEERS,
    NIRPeerUnsupported,
    NIRUnsupported,
    from_nir,
    to_nir,
)

__all__ = [
    "DT",
    "MAX_TIMESTEPS",
    "PEERS",
    "NIRPeerUnsupported",
    "NIRUnsupported",
    "from_nir",
    "to_nir",
]

"""``replay_stdp``: the STDP-adapted features of ``stdp`` with a replay buffer for the readout."""

from __future__ import annotations

from evolve.continual_learning.strategies.stdp import STDPReadout

__all__ = ["ReplaySTDP"]


class ReplaySTDP(STDPReadout):
    """:class:`~evolve.continual_learning.strategies.stdp.STDPReadout` with a class-balanced replay
    buffer for the readout."""

    name = "replay_stdp"

    def __init__(
        self,
        buffer_size: int = 200,
        stdp_lr: float = 1e-2,
        stdp_epochs: int = 1,
        a_plus: float = 1.0,
        a_minus: float = 1.05,
        feature_rate: float = 0.1,
        readout_lr: float = 3e-2,
        seed: int = 0,
    ) -> None:
        super().__init__(
            stdp_lr,
            stdp_epochs,
            a_plus,
            a_minus,
            feature_rate,
            readout_lr,
            buffer_size=buffer_size,
            seed=seed,
        )

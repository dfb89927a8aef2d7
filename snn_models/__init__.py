"""snn_models: what a spiking network is and what it costs (torch only; no optuna, no ray).

Neurons (IF, LIF, BIF) with fused multi-step kernels, surrogate gradients, time-distributed
layers, encoders and readouts, spiking attention blocks (standard, SSA, SDSA, adaptive),
architectures built from plain data (MLP, CNN, spiking transformer, temporal; one registry entry
per kind in :data:`KINDS`), and an energy model counted from real spikes.
"""

from snn_models.architectures import SpikingNet, build
from snn_models.attention import ATTENTIONS, AttentionBlock, make_attention
from snn_models.config import LayerSpec, NetSpec
from snn_models.energy import ENERGY_PROFILES, EnergyMeter, EnergyReport, measure_energy
from snn_models.errors import ConfigError
from snn_models.functional import firing_rates, reset_net, set_step_mode, spiking_layers
from snn_models.kinds import KINDS, Kind
from snn_models.neurons import NEURONS, BIFNode, IFNode, LIFNode, make_neuron, neuron_arg_names

__all__ = [
    "ATTENTIONS",
    "ENERGY_PROFILES",
    "KINDS",
    "NEURONS",
    "AttentionBlock",
    "BIFNode",
    "ConfigError",
    "EnergyMeter",
    "EnergyReport",
    "IFNode",
    "Kind",
    "LIFNode",
    "LayerSpec",
    "NetSpec",
    "SpikingNet",
    "build",
    "firing_rates",
    "make_attention",
    "make_neuron",
    "measure_energy",
    "neuron_arg_names",
    "reset_net",
    "set_step_mode",
    "spiking_layers",
]

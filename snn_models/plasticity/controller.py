"""Plasticity on a whole model: :class:`PlasticityController` and :func:`attach_stdp`."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from snn_models.errors import ConfigError
from snn_models.neurons.base import BaseNeuron
from snn_models.plasticity.layer_choice import _resolve_pairs
from snn_models.plasticity.rules import RewardSTDPRule, STDPRule
from snn_models.plasticity.synapse import Norm, PlasticSynapse


# ---------------------------------------------------------------------------------- controller
class PlasticityController(nn.Module):
    """Online STDP / R-STDP on chosen synaptic layers of a model, through forward hooks.

    For each chosen synaptic layer (``nn.Linear`` / ``nn.Conv2d``, usually inside a
    :class:`TimeDistributed`) a forward hook keeps its input (the pre spikes); a hook on the
    spiking neuron that follows it (a :class:`BaseNeuron`, possibly after a BatchNorm) takes its
    output (the post spikes) and runs :meth:`PlasticSynapse.update`. Use :func:`attach_stdp`,
    which also makes the controller a submodule of the model so that
    :func:`snn_models.functional.reset_net` resets its traces. The controller owns no parameters
    or buffers (``state_dict`` is unchanged), and its ``forward`` is the identity, so attaching
    it to an ``nn.Sequential`` leaves the output alone.

    Args:
        model: the network.
        rule: :class:`STDPRule` or :class:`RewardSTDPRule` (default: ``STDPRule()``).
        layers: which synaptic layers learn: ``None`` for every hidden synaptic layer of
            ``model.body`` (or of ``model`` itself if it is an ``nn.Sequential``) whose input is
            spikes — never the stem, nor the first layer on a real-valued input; a list of module
            names (each one's neuron is the next :class:`BaseNeuron` in its ``nn.Sequential``,
            skipping BatchNorm/Dropout); or a mapping ``{synapse name: neuron name}``.
        normalize: ``"l1"`` / ``"l2"`` weight normalisation per post neuron, or ``None``.
        norm_target: the norm to keep; ``None`` keeps each neuron's norm at attach time.

    Attributes:
        synapses: ``{layer name: PlasticSynapse}`` (each with its own ``enabled`` switch).
        enabled: master switch; when ``False`` the hooks do nothing.

    Raises:
        ConfigError: no eligible layer, a name that is not a synaptic layer, a layer of the
            stem, or a layer without a following spiking neuron.
    """

    def __init__(
        self,
        model: nn.Module,
        rule: STDPRule | None = None,
        layers: Sequence[str] | Mapping[str, str] | None = None,
        *,
        normalize: Norm | None = None,
        norm_target: float | None = None,
    ) -> None:
        super().__init__()
        self.rule = rule if rule is not None else STDPRule()
        self.enabled = True
        pairs = _resolve_pairs(model, layers)
        # Plain dicts/lists (not ModuleDict): the watched layers must not become submodules,
        # or their weights would appear twice in the model's state_dict.
        self.synapses: dict[str, PlasticSynapse] = {}
        self._pending: dict[str, Tensor | None] = {}
        self._handles: list[RemovableHandle] = []
        self._owner: list[tuple[nn.Module, str]] = []
        for syn_name, neuron_name in pairs.items():
            module = model.get_submodule(syn_name)
            neuron = model.get_submodule(neuron_name)
            if not isinstance(neuron, BaseNeuron):
                raise ConfigError(
                    f"stdp.layers: {neuron_name!r} (driven by {syn_name!r}) is not a spiking "
                    f"neuron but {type(neuron).__name__}"
                )
            syn = PlasticSynapse(
                module, self.rule, normalize=normalize, norm_target=norm_target, name=syn_name
            )
            self.synapses[syn_name] = syn
            self._pending[syn_name] = None
            self._handles.append(
                syn.layer.register_forward_hook(functools.partial(self._on_synapse, syn_name))
            )
            self._handles.append(
                neuron.register_forward_hook(functools.partial(self._on_neuron, syn_name))
            )

    @property
    def layer_names(self) -> list[str]:
        """The plastic layers, in model order."""
        return list(self.synapses)

    def forward(self, x: Tensor) -> Tensor:
        """Identity (the controller works through hooks)."""
        return x

    def reset(self) -> None:
        """Forget all traces and eligibilities (called by ``reset_net``)."""
        for name, syn in self.synapses.items():
            syn.reset()
            self._pending[name] = None

    def set_enabled(self, enabled: bool, layer: str | None = None) -> None:
        """Switch learning on/off for every layer (``layer=None``) or for one layer by name."""
        if layer is None:
            self.enabled = bool(enabled)
            return
        if layer not in self.synapses:
            raise ConfigError(
                f"stdp: {layer!r} is not a plastic layer; choose one of {', '.join(self.synapses)}"
            )
        self.synapses[layer].enabled = bool(enabled)

    def apply_reward(self, reward: float | Tensor) -> None:
        r"""R-STDP: :math:`w \leftarrow \mathrm{clip}(w + \eta\, r\, e)` on every enabled layer.

        Raises:
            ConfigError: the rule is not a :class:`RewardSTDPRule`.
        """
        if not isinstance(self.rule, RewardSTDPRule):
            raise ConfigError("stdp: apply_reward needs a RewardSTDPRule (reward-modulated STDP)")
        if not self.enabled:
            return
        for syn in self.synapses.values():
            syn.apply_reward(reward)

    def detach(self) -> None:
        """Remove the hooks, and remove the controller from the model it was attached to."""
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self.reset()
        for owner, name in self._owner:
            if owner._modules.get(name) is self:
                delattr(owner, name)
        self._owner.clear()

    def extra_repr(self) -> str:
        return f"rule={self.rule}, layers={self.layer_names}, enabled={self.enabled}"

    # ------------------------------------------------------------------ hooks
    def _on_synapse(
        self, name: str, module: nn.Module, args: tuple[Tensor, ...], out: Tensor
    ) -> None:
        if self.enabled and self.synapses[name].enabled:
            self._pending[name] = args[0]

    def _on_neuron(
        self, name: str, module: nn.Module, args: tuple[Tensor, ...], out: Tensor
    ) -> None:
        pre = self._pending[name]
        if pre is None:
            return
        self._pending[name] = None
        if not (self.enabled and self.synapses[name].enabled):
            return
        if getattr(module, "step_mode", "m") == "s":
            pre, out = pre.unsqueeze(0), out.unsqueeze(0)
        self.synapses[name].update(pre, out)


def attach_stdp(
    model: nn.Module,
    rule: STDPRule | None = None,
    layers: Sequence[str] | Mapping[str, str] | None = None,
    *,
    normalize: Norm | None = None,
    norm_target: float | None = None,
    name: str = "plasticity",
) -> PlasticityController:
    """Make chosen layers of ``model`` plastic; returns the controller (``model.<name>``).

    Arguments as :class:`PlasticityController`; ``name`` is the submodule name it is stored
    under, so that ``reset_net(model)`` resets its traces. Undo with ``controller.detach()``.

    Raises:
        ConfigError: ``model`` already has an attribute ``name``, or see the controller.
    """
    if hasattr(model, name):
        raise ConfigError(f"stdp: the model already has an attribute {name!r}; pass another name")
    ctrl = PlasticityController(model, rule, layers, normalize=normalize, norm_target=norm_target)
    model.add_module(name, ctrl)
    ctrl._owner.append((model, name))
    return ctrl


__all__ = ["PlasticityController", "attach_stdp"]

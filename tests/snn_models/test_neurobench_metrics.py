"""NeuroBench's own code (``neurobench`` 2.3: ``Benchmark`` over ``TorchModel``) measures the same
model on the same samples as our energy meter, and every metric must come out equal.

Our spiking neurons are registered with NeuroBench the way its ``SNNTorchModel`` registers
snnTorch's (``add_activation_module``); everything else is NeuroBench's code as installed. Its
``ActivationSparsity`` is a batch-size-weighted mean of per-batch ratios (``(s·B)/N`` summed), so
it equals our single ratio to the last bits of a float; the counts are exact. NeuroBench rounds
``ConnectionSparsity`` to 4 decimals; we record it unrounded.
"""

from __future__ import annotations

import pytest
import torch

import snn_models
from snn_models.energy import EnergyMeter, check_energy_model, measure_energy
from snn_models.errors import ConfigError
from snn_models.neurobench_metrics import stem_every_step
from tests.snn_models.neurobench_reference import assert_same, neurobench_run

SPECS = {
    "mlp": {
        "kind": "mlp",
        "timesteps": 4,
        "layers": [{"width": 32, "neuron": "lif"}, {"width": 16}],
    },
    "cnn": {"kind": "cnn", "timesteps": 3, "layers": [{"width": 8}, {"width": 8}]},
    "transformer": {
        "kind": "transformer",
        "timesteps": 2,
        "layers": [{"width": 32, "attention": "ssa"}],
        "patch": 4,
    },
}


def digits_images(n: int) -> torch.Tensor:
    from sklearn.datasets import load_digits

    d = load_digits()
    return torch.tensor(d.data[:n], dtype=torch.float32).reshape(-1, 1, 8, 8) / 16


def lively(name: str) -> torch.nn.Module:
    """A built model whose first layer is scaled up so that every layer fires (an untrained
    net is nearly silent), with some weights of every connection layer set to zero (so that
    NeuroBench's zero-skipping and connection sparsity are exercised)."""
    torch.manual_seed(0)
    net = snn_models.build(snn_models.NetSpec.from_dict(SPECS[name]), (1, 8, 8), 10).eval()
    with torch.no_grad():
        layers = [m for m in net.modules() if isinstance(m, torch.nn.Linear | torch.nn.Conv2d)]
        layers[0].weight.mul_(4)
        for m in layers:
            m.weight[torch.rand_like(m.weight) < 0.2] = 0.0
    return net


@pytest.mark.parametrize("energy_model", ["per-inference", "per-step"])
@pytest.mark.parametrize("kind", list(SPECS))
def test_neurobench_itself_counts_what_our_meter_records(kind: str, energy_model: str) -> None:
    net = lively(kind)
    x = digits_images(48)
    report = measure_energy(net, [x[:16], x[16:32], x[32:]], energy_model=energy_model)
    assert report.neurobench is not None and report.energy_model == energy_model
    # per-step: NeuroBench runs the same network with its stem inside the time loop
    target = stem_every_step(net) if energy_model == "per-step" else net
    with torch.no_grad():
        assert torch.equal(target(x), net(x))
    theirs = neurobench_run(target, x, batch=16)
    assert_same(report.neurobench.as_neurobench(), theirs)
    nb = report.neurobench
    assert nb.connection_sparsity == pytest.approx(0.2, abs=0.05)
    assert 0 < nb.effective_acs < nb.dense and 0 < nb.effective_macs < nb.dense


def test_effective_acs_are_our_sops_less_the_zero_weights_and_the_attention_products() -> None:
    """With no zero weight, Effective_ACs equals our SOP count on an MLP; a pruned weight is a
    synapse NeuroBench skips and we still price."""
    torch.manual_seed(0)
    net = snn_models.build(snn_models.NetSpec.from_dict(SPECS["mlp"]), (1, 8, 8), 10).eval()
    with torch.no_grad():
        next(m for m in net.modules() if isinstance(m, torch.nn.Linear)).weight.mul_(4)
    x = digits_images(32)
    with torch.no_grad(), EnergyMeter(net) as meter:
        net(x)
        meter.add_samples(len(x))
    full = meter.report()
    assert full.neurobench is not None and full.total_sops > 0
    assert full.neurobench.effective_acs == full.total_sops
    # activation sparsity is one minus the overall firing rate of our neurons
    spikes = sum(c.spikes for c in meter.neurons.values())
    elements = sum(c.elements for c in meter.neurons.values())
    assert full.neurobench.activation_sparsity == 1 - spikes / elements
    with torch.no_grad():
        first = next(m for m in net.modules() if isinstance(m, torch.nn.Linear))
        first.weight[0, :] = 0.0  # one unit's synapses pruned: NeuroBench skips them, we do not
        body = [m for m in net.body.modules() if isinstance(m, torch.nn.Linear)]
        body[0].weight[:, :5] = 0.0
    pruned = measure_energy(net, [x])
    assert pruned.neurobench is not None
    assert pruned.neurobench.effective_acs < pruned.total_sops
    # the dense count of the stem (once per inference) is our MAC count of the encoding layer
    assert full.total_macs == 64 * 32


def test_per_step_counts_the_stem_at_every_step() -> None:
    torch.manual_seed(0)
    net = snn_models.build(snn_models.NetSpec.from_dict(SPECS["mlp"]), (1, 8, 8), 10).eval()
    x = digits_images(32)
    once, every = measure_energy(net, [x]), measure_energy(net, [x], energy_model="per-step")
    assert once.neurobench is not None and every.neurobench is not None
    T = int(net.timesteps)
    assert every.total_macs == T * once.total_macs
    assert every.neurobench.effective_macs == T * once.neurobench.effective_macs
    assert every.total_sops == once.total_sops and every.ann_energy_uj == once.ann_energy_uj
    assert every.energy_uj > once.energy_uj


def test_an_unknown_energy_model_is_refused() -> None:
    with pytest.raises(ConfigError, match="energy_model must be one of per-inference, per-step"):
        check_energy_model("per-sample")
    with pytest.raises(ConfigError, match="SpikingNet"):
        stem_every_step(torch.nn.Linear(2, 2))

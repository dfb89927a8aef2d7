"""NeuroBench's own measurement of a model, and the comparison with what our meter records
(shared by tests/snn_models/test_neurobench_metrics.py and
tests/evolve/test_neurobench_objectives.py).

Our spiking neurons are registered with NeuroBench the way its ``SNNTorchModel`` registers
snnTorch's (``add_activation_module``); everything else is NeuroBench's code as installed.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from snn_models.neurons.base import BaseNeuron


def neurobench_run(net: torch.nn.Module, x: torch.Tensor, batch: int) -> dict[str, Any]:
    """NeuroBench's metrics of ``net`` on ``x``, computed by NeuroBench's ``Benchmark``."""
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint, ParameterCount
    from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
    from neurobench.models import TorchModel

    model = TorchModel(net)
    model.add_activation_module(BaseNeuron)  # our neurons are its activation layers
    loader = DataLoader(TensorDataset(x, torch.zeros(len(x))), batch_size=batch)
    metrics = [
        [Footprint, ConnectionSparsity, ParameterCount],
        [ActivationSparsity, SynapticOperations],
    ]
    bench = Benchmark(model, loader, [], [], metrics)
    with torch.no_grad():
        return bench.run(quiet=True)


def assert_same(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Our meter's metrics (NeuroBench's names) equal NeuroBench's own."""
    assert ours["Footprint"] == theirs["Footprint"]
    assert ours["ParameterCount"] == theirs["ParameterCount"]
    assert round(ours["ConnectionSparsity"], 4) == theirs["ConnectionSparsity"]
    assert ours["ActivationSparsity"] == pytest.approx(theirs["ActivationSparsity"], rel=1e-12)
    assert 0 < theirs["ActivationSparsity"] < 1  # measured, not NeuroBench's 0.0 on an error
    assert ours["SynapticOperations"] == theirs["SynapticOperations"]

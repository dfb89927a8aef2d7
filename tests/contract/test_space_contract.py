"""Every space in the library, and each benchmark's own (``benchmarks/spaces/``): 20 random samples
each build a model that runs and costs finite energy."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from evolve.engine.arch import CL_KEYS, KD_KEYS, TRAIN_KEYS, arch_to_specs
from search_spaces import RandomSuggester, list_spaces, load_space
from snn_models import NetSpec, build, measure_energy

BENCHMARK_SPACES = sorted((Path(__file__).parents[2] / "benchmarks" / "spaces").glob("*.yaml"))
SPACES = [*sorted(list_spaces()), *map(str, BENCHMARK_SPACES)]
#: the input each space is made for: series for the temporal space, Fashion-MNIST images for
#: the benchmark's CNNs, digits images otherwise
SHAPES = {"temporal": ((1, 150), 2), "fashion_cnn": ((1, 28, 28), 10)}


def _shape(name: str) -> tuple[tuple[int, ...], int]:
    return SHAPES.get(Path(name).stem, ((1, 8, 8), 10))


def test_the_library_is_not_empty() -> None:
    assert "hybrid_neuron" in SPACES
    assert [p.stem for p in BENCHMARK_SPACES] == ["fashion_cnn"]


@pytest.mark.parametrize("name", SPACES, ids=lambda n: Path(n).stem)
def test_samples_build_run_and_cost_finite_energy(name: str) -> None:
    space = load_space(name)
    suggester = RandomSuggester(seed=0)
    shape, classes = _shape(name)
    x = torch.rand(4, *shape)
    for _ in range(20):
        arch = space.sample(suggester)
        assert space.contains(arch)
        net, train = arch_to_specs(arch)
        model = build(NetSpec.from_dict(net), shape, classes)
        out = model(x)
        assert out.shape == (4, classes) and bool(torch.isfinite(out).all())
        report = measure_energy(model, [x])
        assert math.isfinite(report.energy_uj) and report.energy_uj > 0
        assert all(0 <= r <= 1 for r in report.firing_rates.values())
        assert set(train) <= {*TRAIN_KEYS, *KD_KEYS, *CL_KEYS, "init"}


@pytest.mark.parametrize("name", SPACES, ids=lambda n: Path(n).stem)
def test_default_is_inside_and_buildable(name: str) -> None:
    space = load_space(name)
    arch = space.default()
    assert space.contains(arch)
    net, _ = arch_to_specs(arch)
    build(NetSpec.from_dict(net), *_shape(name))

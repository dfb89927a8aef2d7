"""Every sample of every library space builds, for the data its space is made for, and runs.

Each space is sampled with a fresh seeded ``RandomSuggester`` per sample (a suggester remembers
each name's range, so one per draw keeps the samples independent), over many seeds. Every sample
must convert through :func:`evolve.engine.arch.arch_to_specs`, build with :func:`snn_models.build` for
its data shape (digits ``(1, 8, 8)``, 10 classes, for the image spaces; a series ``(1, 150)``,
2 classes, like GunPoint, for ``temporal``) and give finite scores of the right shape on a small
batch. A sample that cannot build is a bug in the space's bounds or in the builder: the rate of
``ConfigError`` samples must be 0. Hypothesis adds seeds of its own choosing, each sample also
taking one training step (finite surrogate gradients).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evolve.engine.arch import CL_KEYS, KD_KEYS, TRAIN_KEYS, arch_to_specs
from search_spaces import RandomSuggester, load_space
from search_spaces.loader import library_names
from snn_models import ConfigError, NetSpec, build

pytestmark = pytest.mark.usefixtures("one_thread")
SEEDS = range(100)
BATCH = 3
#: The data each library space is made for: (input shape of one sample, classes).
DATA: dict[str, tuple[tuple[int, ...], int]] = {
    "continual": ((1, 8, 8), 10),
    "hybrid_attention": ((1, 8, 8), 10),
    "hybrid_neuron": ((1, 8, 8), 10),
    "temporal": ((1, 150), 2),  # GunPoint: one channel of 150 points, 2 classes
}
TRAINING = {*TRAIN_KEYS, *KD_KEYS, *CL_KEYS, "init"}


def test_every_library_space_has_its_data_shape() -> None:
    assert set(library_names()) == set(DATA)


@pytest.mark.parametrize("name", sorted(DATA))
def test_every_sample_builds_and_runs_a_forward_pass(name: str) -> None:
    space = load_space(name)
    shape, n_classes = DATA[name]
    x = torch.rand(BATCH, *shape)
    failed: list[str] = []
    for seed in SEEDS:
        arch = space.sample(RandomSuggester(seed=seed))
        assert space.contains(arch), arch
        net, train = arch_to_specs(arch)
        assert set(train) <= TRAINING, sorted(set(train) - TRAINING)
        try:
            model = build(NetSpec.from_dict(net), shape, n_classes)
        except ConfigError as e:
            failed.append(f"seed {seed}: {e} ({dict(arch)})")
            continue
        model.eval()
        with torch.no_grad():
            out = model(x)
        assert out.shape == (BATCH, n_classes), (seed, tuple(out.shape))
        assert bool(torch.isfinite(out).all()), (seed, dict(arch))
    assert not failed, f"{len(failed)}/{len(SEEDS)} samples of {name} do not build:\n" + "\n".join(
        failed
    )


def _build_and_run(name: str, seed: int, *, backward: bool = False) -> None:
    space = load_space(name)
    shape, n_classes = DATA[name]
    arch = space.sample(RandomSuggester(seed=seed))
    net, _ = arch_to_specs(arch)
    model = build(NetSpec.from_dict(net), shape, n_classes)
    model.train(backward)
    x = torch.rand(BATCH, *shape)
    out = model(x)
    assert out.shape == (BATCH, n_classes) and bool(torch.isfinite(out).all()), dict(arch)
    if backward:  # surrogate gradients reach every trained parameter, finite
        out.sum().backward()
        for pname, p in model.named_parameters():
            if p.grad is not None:
                assert bool(torch.isfinite(p.grad).all()), (pname, dict(arch))


@pytest.mark.parametrize("name", sorted(DATA))
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_any_seed_builds_and_trains_one_step(name: str, seed: int) -> None:
    _build_and_run(name, seed, backward=True)


@pytest.mark.parametrize("name", sorted(DATA))
def test_the_default_builds_for_its_data(name: str) -> None:
    space = load_space(name)
    shape, n_classes = DATA[name]
    net, _ = arch_to_specs(space.default())
    build(NetSpec.from_dict(net), shape, n_classes)

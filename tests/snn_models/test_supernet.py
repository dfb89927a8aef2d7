"""Weight sharing: a subnet run on the supernet's slices is exactly the normally built network
holding those slices, and training through paths changes only the shared slices."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from snn_models import ConfigError, build, measure_energy
from snn_models.supernet import SuperNet, structure_key, widest_spec


def _mlp(widths: list[int], **kw: Any) -> dict[str, Any]:
    layers = [{"width": w, **kw.pop("layer", {})} for w in widths]
    return {"kind": "mlp", "layers": layers, **kw}


CASES = [
    # (widest spec, subnet spec, input shape)
    (_mlp([32, 32]), _mlp([8, 24], timesteps=2), (20,)),
    (
        _mlp([32, 32], batchnorm=True),
        {
            "kind": "mlp",
            "batchnorm": True,
            "encoder": "rate",
            "timesteps": 3,
            "layers": [
                {"width": 16, "neuron": "bif", "threshold": 0.9, "neuron_args": {"v_reset": 0.6}},
                {"width": 8, "neuron": "if", "threshold": 1.3},
            ],
        },
        (20,),
    ),
    (
        {"kind": "cnn", "layers": [{"width": 16}, {"width": 16}]},
        {
            "kind": "cnn",
            "timesteps": 2,
            "layers": [{"width": 8, "neuron": "adaptive"}, {"width": 4, "decay": 0.9}],
        },
        (1, 8, 8),
    ),
]


@pytest.mark.parametrize(("wide", "sub", "shape"), CASES)
def test_a_path_equals_the_built_subnet_holding_the_sliced_weights(
    wide: dict[str, Any], sub: dict[str, Any], shape: tuple[int, ...]
) -> None:
    torch.manual_seed(0)
    sn = SuperNet(wide, shape, 5)
    with torch.no_grad():  # BatchNorm statistics that are not the defaults
        for name, buf in sn.net.named_buffers():
            if "running" in name:
                buf.uniform_(0.5, 1.5)
    assert structure_key(sub, shape) == sn.key
    model = build(sub, shape, 5).eval()
    x = torch.rand(6, *shape)
    on_paths = sn.forward_path(model, x)
    # the same spec built normally, its tensors copied by hand from the widest network's
    plain = build(sub, shape, 5).eval()
    shared = sn.shared_tensors(plain)
    assert shared, "a subnet shares its synaptic tensors"
    with torch.no_grad():
        for name, tensor in plain.state_dict().items():
            if name in shared:
                index = tuple(slice(0, s) for s in tensor.shape)
                tensor.copy_(sn.net.state_dict()[_widest_name(sn, plain, name)][index])
    assert torch.equal(on_paths, plain(x))
    assert torch.equal(on_paths, sn.load_into(model)(x))
    # its energy is measured from its own spikes, like any built model's
    assert measure_energy(model, [x]).energy_uj < measure_energy(sn.net.eval(), [x]).energy_uj


def _widest_name(sn: SuperNet, sub: torch.nn.Module, name: str) -> str:
    """The widest network's name of the tensor ``name`` of ``sub`` (stem and body may differ:
    the encoder decides where the first layer sits)."""
    from snn_models.supernet import synaptic_modules

    owner, _, attr = name.rpartition(".")
    subs = [n for n, _ in synaptic_modules(sub)]
    wides = [n for n, _ in synaptic_modules(sn.net)]
    return f"{wides[subs.index(owner)]}.{attr}"


def test_training_paths_changes_only_the_shared_slices() -> None:
    torch.manual_seed(0)
    sn = SuperNet(_mlp([32, 32], batchnorm=True), (20,), 5)
    before = {k: v.clone() for k, v in sn.state_dict().items()}
    opt = torch.optim.SGD(sn.parameters(), lr=0.5)
    model = build(_mlp([8, 16], batchnorm=True, timesteps=2), (20,), 5).train()
    x, y = torch.rand(16, 20) * 3, torch.randint(0, 5, (16,))
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(sn.forward_path(model, x), y).backward()
        opt.step()
    after = sn.state_dict()
    first = "net.stem.1.weight"  # direct encoding: flatten, then the first layer: the stem
    assert not torch.equal(after[first][:8], before[first][:8])
    assert torch.equal(after[first][8:], before[first][8:])  # units the path never used
    bn = "net.stem.2.running_mean"
    assert not torch.equal(after[bn][:8], before[bn][:8]) and torch.equal(
        after[bn][8:], before[bn][8:]
    )
    assert int(after["net.stem.2.num_batches_tracked"]) == 3
    # the model's own tensors were never touched: the shared ones were
    assert all(p.grad is None for p in model.parameters())


def test_a_wider_or_other_subnet_and_other_kinds_are_refused() -> None:
    sn = SuperNet(_mlp([16]), (20,), 5)
    with pytest.raises(ConfigError, match="wider than its supernet"):
        sn.forward_path(build(_mlp([32]), (20,), 5), torch.rand(2, 20))
    with pytest.raises(ConfigError, match="not a subnet"):
        sn.load_into(build(_mlp([8, 8]), (20,), 5))
    with pytest.raises(ConfigError, match="weight sharing supports kind mlp and cnn"):
        structure_key({"kind": "transformer", "dim": 16, "patch": 4, "layers": [{}]}, (1, 8, 8))
    assert widest_spec(_mlp([8, 16]), [32, 64]).layers[1].width == 64
    with pytest.raises(ConfigError, match="2 layers need 2 widths"):
        widest_spec(_mlp([8, 16]), [32])

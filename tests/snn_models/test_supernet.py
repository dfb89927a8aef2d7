"""Weight sharing: a subnet run on the supernet's slices is exactly the normally built network
holding those slices, and training through paths changes only the shared slices; for
transformers, of the model width, MLP widths and each block's attention type."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from snn_models import ConfigError, build, measure_energy
from snn_models.neurons import BaseNeuron
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
    with pytest.raises(ConfigError, match="weight sharing supports kind mlp, cnn and transformer"):
        structure_key({"kind": "temporal", "layers": [{"width": 8}]}, (16, 1))
    assert widest_spec(_mlp([8, 16]), [32, 64]).layers[1].width == 64
    with pytest.raises(ConfigError, match="2 layers need 2 widths"):
        widest_spec(_mlp([8, 16]), [32])


# ------------------------------------------------------------------ transformers
ALL_ATTENTION = ["standard", "ssa", "sdsa", "adaptive"]
WIDE_TF = {"kind": "transformer", "dim": 32, "heads": 2, "patch": 4, "layers": [{}, {}]}
TF_CASES = [
    # (subnet spec, input shape): other dims, heads, attention types, neurons, encoders
    (
        {
            "kind": "transformer",
            "dim": 16,
            "heads": 4,
            "patch": 4,
            "timesteps": 2,
            "layers": [{"attention": "ssa", "neuron": "if"}, {"attention": "adaptive"}],
        },
        (1, 8, 8),
    ),
    (
        {
            "kind": "transformer",
            "dim": 8,
            "heads": 1,
            "patch": 4,
            "timesteps": 3,
            "encoder": "rate",  # the embedding sits in the body, not the stem
            "layers": [
                {"attention": "standard", "width": 20, "threshold": 0.9},
                {"attention": "sdsa", "neuron": "bif", "neuron_args": {"v_reset": 0.6}},
            ],
        },
        (1, 8, 8),
    ),
    (
        {"kind": "transformer", "dim": 16, "patch": 2, "layers": [{"attention": "adaptive"}]},
        (12, 3),  # a sequence (L, C)
    ),
]


def _tf_supernet(sub: dict[str, Any], shape: tuple[int, ...]) -> SuperNet:
    wide = {**WIDE_TF, "patch": sub["patch"], "layers": [{}] * len(sub["layers"])}
    sn = SuperNet(wide, shape, 5, attention=ALL_ATTENTION)
    with torch.no_grad():  # BatchNorm statistics and a gate that are not the defaults
        for name, buf in sn.net.named_buffers():
            if "running_mean" in name:
                buf.uniform_(-0.3, 0.3)
            elif "running_var" in name:
                buf.uniform_(0.5, 1.5)
        for name, p in sn.net.named_parameters():
            if name.endswith("gate"):
                p.fill_(0.7)
    return sn


def _wide_tf_name(name: str, sub: dict[str, Any]) -> str:
    """The supernet's name of the subnet's tensor ``name``: the wide net (direct encoding)
    holds the embedding in its stem and blocks from ``body.0``, each attention as choices."""
    in_body = sub.get("encoder", "direct") not in ("direct", "repeat")
    for prefix in ("stem.0.", "body.0.module."):
        if name.startswith(prefix) and (prefix == "stem.0." or in_body):
            return "stem.0." + name[len(prefix) :]
    if name.startswith("body."):
        _, j, rest = name.split(".", 2)
        i = int(j) - int(in_body)
        if rest.startswith("attn."):
            rest = f"attn.choices.{sub['layers'][i]['attention']}.{rest[5:]}"
        return f"body.{i}.{rest}"
    return name  # the head


@pytest.mark.parametrize(("sub", "shape"), TF_CASES)
def test_a_transformer_path_equals_the_built_subnet_holding_its_types_slices(
    sub: dict[str, Any], shape: tuple[int, ...]
) -> None:
    torch.manual_seed(0)
    sn = _tf_supernet(sub, shape)
    assert structure_key(sub, shape) == sn.key
    model = build(sub, shape, 5).eval()
    x = torch.rand(4, *shape)
    on_paths = sn.forward_path(model, x)
    # by hand: each tensor of the plain subnet is the leading slice of the supernet's tensor
    # of the same role; block i's attention tensors come from block i's choice of its type
    plain = build(sub, shape, 5).eval()
    wide = sn.net.state_dict()
    copied = 0
    with torch.no_grad():
        for name, tensor in plain.state_dict().items():
            owner = name.rpartition(".")[0]
            if name.startswith("preprocess.") or isinstance(plain.get_submodule(owner), BaseNeuron):
                continue  # the input front and the neurons are the subnet's own
            index = tuple(slice(0, s) for s in tensor.shape)
            tensor.copy_(wide[_wide_tf_name(name, sub)][index])
            copied += 1
    assert copied == len(sn.shared_tensors(plain))
    assert torch.equal(on_paths, plain(x))
    assert torch.equal(on_paths, sn.load_into(model)(x))
    assert measure_energy(model, [x]).energy_uj > 0  # a built model: energy from its spikes


def test_a_transformer_path_trains_only_its_types_weights_and_slices() -> None:
    torch.manual_seed(0)
    sn = SuperNet(WIDE_TF, (1, 8, 8), 5, attention=ALL_ATTENTION)
    before = {k: v.clone() for k, v in sn.state_dict().items()}
    sub = build(
        {
            "kind": "transformer",
            "dim": 16,
            "heads": 2,
            "patch": 4,
            "timesteps": 2,
            "layers": [{"attention": "ssa"}, {"attention": "standard", "width": 24}],
        },
        (1, 8, 8),
        5,
    ).train()
    opt = torch.optim.SGD(sn.parameters(), lr=0.5)
    x, y = torch.rand(8, 1, 8, 8), torch.randint(0, 5, (8,))
    opt.zero_grad()
    torch.nn.functional.cross_entropy(sn.forward_path(sub, x), y).backward()
    grads = {n: p.grad for n, p in sn.named_parameters()}
    # gradients reach the chosen type's weights of each block, and no other type's
    for block, chosen in ((0, "ssa"), (1, "standard")):
        prefix = f"net.body.{block}.attn.choices."
        for name, g in grads.items():
            if name.startswith(prefix):
                assert (g is not None) == name.startswith(prefix + chosen + "."), name
        q = grads[f"{prefix}{chosen}.q.linear.module.weight"]
        assert q is not None and q[:16, :16].abs().sum() > 0 and not q[16:].any()
    opt.step()
    after = sn.state_dict()
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert not {k for k in changed if ".choices.sdsa." in k or ".choices.adaptive." in k}
    assert not {k for k in changed if ".choices.ssa." in k and "body.1." in k}
    # one training step changes only the slices the path used: dim 16 of 32, MLP 24 of 128
    pos, fc1 = "net.stem.0.pos", "net.body.1.mlp.fc1.linear.module.weight"
    assert not torch.equal(after[pos][:, :16], before[pos][:, :16])
    assert torch.equal(after[pos][:, 16:], before[pos][:, 16:])
    assert not torch.equal(after[fc1][:24, :16], before[fc1][:24, :16])
    assert torch.equal(after[fc1][24:], before[fc1][24:])
    assert torch.equal(after[fc1][:, 16:], before[fc1][:, 16:])
    q = "net.body.0.attn.choices.ssa.q.linear.module.weight"
    assert torch.equal(after[q][16:], before[q][16:]) and torch.equal(
        after[q][:, 16:], before[q][:, 16:]
    )
    bn = "net.body.0.attn.choices.ssa.q.bn.running_mean"
    assert not torch.equal(after[bn][:16], before[bn][:16])
    assert torch.equal(after[bn][16:], before[bn][16:])
    assert all(p.grad is None for p in sub.parameters())  # the shared tensors were trained


def test_a_transformer_subnet_the_supernet_cannot_hold_is_refused() -> None:
    sn = SuperNet(WIDE_TF, (1, 8, 8), 5, attention=["sdsa", "ssa"])
    assert sn.attention_types == ("ssa", "sdsa")
    x = torch.rand(2, 1, 8, 8)

    def sub(**kw: Any) -> torch.nn.Module:
        return build({**WIDE_TF, "dim": 16, **kw}, (1, 8, 8), 5)

    with pytest.raises(ConfigError, match=r"layers\[1\].attention: 'standard' has no weights"):
        sn.forward_path(sub(layers=[{}, {"attention": "standard"}]), x)
    with pytest.raises(ConfigError, match="wider than its supernet"):
        sn.forward_path(sub(dim=64), x)
    with pytest.raises(ConfigError, match="not a subnet"):
        sn.load_into(sub(patch=2))
    with pytest.raises(ConfigError, match="not a subnet"):
        sn.load_into(sub(layers=[{}]))
    with pytest.raises(ConfigError, match="unknown attention type 'softmax'"):
        SuperNet(WIDE_TF, (1, 8, 8), 5, attention=["softmax"])
    with pytest.raises(ConfigError, match="kind mlp has no attention blocks"):
        SuperNet(_mlp([8]), (20,), 5, attention=["sdsa"])
    wide = widest_spec({**WIDE_TF, "heads": 4, "dim": 16}, [100, 200], dim=42)
    assert (wide.dim, wide.heads, [la.width for la in wide.layers]) == (42, 1, [100, 200])

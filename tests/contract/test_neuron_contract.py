"""Every neuron in NEURONS, in every reset configuration it supports, must satisfy the same contract."""

from __future__ import annotations

import inspect
from dataclasses import fields
from typing import Any

import pytest
import torch

from snn_models.config import LayerSpec
from snn_models.neurons import NEURONS, BaseNeuron, make_neuron, neuron_arg_names

T, B, N = 12, 3, 17


def _configs() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for kind in NEURONS:
        resets = [{"soft_reset": False}, {"soft_reset": True}] if kind in ("if", "lif") else [{}]
        for reset in resets:
            for detach in (True, False):
                out.append((kind, {**reset, "detach_reset": detach}))
    return out


CONFIGS = _configs()
IDS = [f"{k}-{'-'.join(f'{a}={b}' for a, b in kw.items())}" for k, kw in CONFIGS]


def _pair(kind: str, kw: dict[str, Any], learn: bool = False) -> tuple[BaseNeuron, BaseNeuron]:
    extra = dict(kw)
    if learn:
        extra["learn_threshold"] = True
        if kind == "lif":
            extra["learn_decay"] = True
    multi = NEURONS[kind](step_mode="m", **extra).eval()
    single = NEURONS[kind](step_mode="s", **extra).eval()
    single.load_state_dict(multi.state_dict())
    return multi, single


def _drive(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return (torch.randn(T, B, N) * 0.9 + 0.3).to(dtype)


@pytest.mark.parametrize(("kind", "kw"), CONFIGS, ids=IDS)
def test_multi_step_equals_single_step_loop_bit_for_bit(kind: str, kw: dict[str, Any]) -> None:
    multi, single = _pair(kind, kw)
    x = _drive()
    s_multi = multi(x)
    s_single = torch.stack([single(x[t]) for t in range(T)])
    assert s_multi.shape == x.shape
    assert 0 < float(s_multi.mean()) < 1, "the drive should make some neurons fire, not all"
    assert torch.equal(s_multi, s_single)
    assert torch.equal(multi.v, single.v)


@pytest.mark.parametrize(("kind", "kw"), CONFIGS, ids=IDS)
def test_chunked_multi_step_carries_state(kind: str, kw: dict[str, Any]) -> None:
    whole, chunked = _pair(kind, kw)
    chunked.step_mode = "m"
    x = _drive()
    s_whole = whole(x)
    s_chunks = torch.cat([chunked(x[:5]), chunked(x[5:])])
    assert torch.equal(s_whole, s_chunks)


@pytest.mark.parametrize(("kind", "kw"), CONFIGS, ids=IDS)
def test_fused_backward_matches_autograd_through_the_loop(kind: str, kw: dict[str, Any]) -> None:
    multi, single = _pair(kind, kw, learn=True)
    multi.double()
    single.double()
    x_m = _drive(torch.float64).requires_grad_()
    x_s = x_m.detach().clone().requires_grad_()
    w = torch.randn(T, B, N, dtype=torch.float64)
    w_v = torch.randn(B, N, dtype=torch.float64)

    s_m = multi(x_m)
    loss_m = (s_m * w).sum() + (multi.v * w_v).sum()  # also back-propagate through the final state
    loss_m.backward()
    s_s = torch.stack([single(x_s[t]) for t in range(T)])
    loss_s = (s_s * w).sum() + (single.v * w_v).sum()
    loss_s.backward()

    assert torch.equal(s_m, s_s)
    assert x_m.grad is not None and x_s.grad is not None
    assert x_m.grad.abs().sum() > 0
    torch.testing.assert_close(x_m.grad, x_s.grad, atol=1e-6, rtol=0)
    params_s = dict(single.named_parameters())
    for name, p in multi.named_parameters():
        assert p.grad is not None, name
        torch.testing.assert_close(p.grad, params_s[name].grad, atol=1e-6, rtol=1e-9, msg=name)


@pytest.mark.parametrize("kind", list(NEURONS))
def test_reset_forgets_state_and_rates(kind: str) -> None:
    n = NEURONS[kind]().eval()
    x = _drive()
    first = n(x)
    assert n.v is not None and n.last_spike_rate is not None
    n.reset()
    assert n.v is None and n.last_spike_rate is None
    assert torch.equal(n(x), first)


@pytest.mark.parametrize("kind", list(NEURONS))
def test_each_neuron_gets_its_own_surrogate(kind: str) -> None:
    a, b = NEURONS[kind](), NEURONS[kind]()
    assert a.surrogate is not b.surrogate
    assert "alpha=" in repr(a)


def _default_of(name: str) -> Any:
    """The default value of constructor argument ``name`` in the first neuron class naming it."""
    for cls in NEURONS.values():
        param = inspect.signature(cls).parameters.get(name)
        if param is not None and param.default is not inspect.Parameter.empty:
            return param.default
    raise AssertionError(f"no neuron class names {name!r} with a default")


@pytest.mark.parametrize("kind", list(NEURONS))
def test_search_args_are_real_constructor_arguments(kind: str) -> None:
    cls = NEURONS[kind]
    args = cls.search_args
    assert "search_args" in vars(cls), f"{cls.__name__} must declare its own search_args"
    assert isinstance(args, tuple) and all(isinstance(a, str) for a in args)
    assert len(set(args)) == len(args), f"{cls.__name__}.search_args repeats a name"
    params = inspect.signature(cls).parameters
    forwards = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for name in args:
        named = name in params and params[name].kind in (
            inspect.Parameter.KEYWORD_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        )
        assert named or forwards, f"{cls.__name__} does not take {name!r}"
        make_neuron(kind, **{name: _default_of(name)})  # accepted, with its default value
    if forwards:  # what **kwargs forwards must still refuse a name it does not know
        with pytest.raises(Exception, match="not_an_argument"):
            cls(not_an_argument=1.0)


@pytest.mark.parametrize("kind", list(NEURONS))
def test_search_args_are_not_layer_fields(kind: str) -> None:
    """A flat key ``layer.<i>.<name>`` that is a LayerSpec field sets that field, so a search
    argument with such a name could never reach the neuron."""
    layer_fields = {f.name for f in fields(LayerSpec)}
    assert not set(NEURONS[kind].search_args) & layer_fields


def test_neuron_arg_names_is_the_union_of_search_args() -> None:
    union = frozenset(a for cls in NEURONS.values() for a in cls.search_args)
    assert neuron_arg_names() == union
    # the names the search spaces have always used for neuron arguments
    assert {
        "v_reset",
        "v_c",
        "v_rest",
        "tau",
        "a0",
        "v_min",
        "v_max",
        "init_noise",
        "soft_reset",
    } <= union

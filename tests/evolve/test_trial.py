"""One trial, as the search runs it: diagnostics and the adaptive neuron selector on real training."""

from __future__ import annotations

import pytest

from evolve.data.datasets import load_dataset
from evolve.engine.trial import TrialSettings, evaluate_trial


@pytest.fixture(scope="module")
def digits():  # type: ignore[no-untyped-def]
    return load_dataset("digits", seed=0)


def test_selector_moves_a_silenced_adaptive_layer_and_records_it(digits) -> None:  # type: ignore[no-untyped-def]
    arch = {
        "kind": "mlp",
        "depth": 2,
        "timesteps": 3,
        "lr": 0.003,
        # layer 0 never fires (a threshold no input reaches), so the adaptive layer 1 gets no
        # input: a dead layer, which the selector must start moving to BIF
        "layer.0.width": 64,
        "layer.0.neuron": "if",
        "layer.0.threshold": 50.0,
        "layer.1.width": 64,
        "layer.1.neuron": "adaptive",
        "layer.1.threshold": 1.0,
        "layer.1.v_reset": 0.6,
    }
    out = evaluate_trial(arch, digits, TrialSettings(epochs=3, seed=0))
    sel = out.attrs["selector"]
    assert sel["decisions"], "a dead adaptive layer must trigger a decision"
    first = sel["decisions"][0]
    assert (
        first["layer"] == "body.2" and first["before"] == "lif" and "dead layer" in first["reason"]
    )
    assert first["after"] == "lif~bif"  # the warm-up's first step
    # "final" is the layer's kind in the returned model: the best epoch's weights and mix
    assert sel["final"]["body.2"] in ("lif", "lif~bif", "bif")


def test_trial_records_diagnostics(digits) -> None:  # type: ignore[no-untyped-def]
    arch = {
        "kind": "mlp",
        "depth": 1,
        "timesteps": 2,
        "layer.0.width": 32,
        "layer.0.neuron": "if",
        "layer.0.threshold": 50.0,
    }
    out = evaluate_trial(arch, digits, TrialSettings(epochs=1, seed=0))
    a = out.attrs
    assert a["dead_layers"] == ["body.0"] and a["over_excited_layers"] == []
    assert a["silent_output"] is True
    assert a["exploding_grad_steps"] == 0 and a["max_grad_norm"] > 0
    assert "selector" not in a
    assert set(out.values) >= {"accuracy", "energy_uj"}


def test_transformer_trial_records_attention_energy(digits) -> None:  # type: ignore[no-untyped-def]
    arch = {
        "kind": "transformer",
        "depth": 2,
        "dim": 16,
        "heads": 2,
        "patch": 4,
        "timesteps": 2,
        "layer.0.attention": "standard",
        "layer.1.attention": "sdsa",
    }
    out = evaluate_trial(arch, digits, TrialSettings(epochs=1, seed=0))
    a = out.attrs
    assert a["attention_types"] == {"body.0.attn": "standard", "body.1.attn": "sdsa"}
    assert 0 < a["attention_energy_uj"] < a["energy_uj"]
    by_block = a["attention_energy_by_block"]
    assert set(by_block) == set(a["attention_types"])
    assert sum(by_block.values()) == a["attention_energy_uj"]

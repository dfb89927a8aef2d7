"""Attention blocks against references written from the formulas, and their energy counts
against hand counts."""

from __future__ import annotations

import pytest
import torch

from snn_models import ConfigError
from snn_models.attention import (
    ATTENTIONS,
    AdaptiveAttention,
    AttentionBlock,
    SpikeDrivenSelfAttention,
    SpikingSelfAttention,
    StandardAttention,
    make_attention,
)
from snn_models.energy import EnergyMeter, EnergyReport
from snn_models.functional import reset_net

E_MAC, E_AC = 4.6, 0.9  # pJ, Horowitz ISSCC 2014, 45 nm fp32


pytestmark = pytest.mark.usefixtures("one_thread")


def spikes(*shape: int, p: float = 0.5) -> torch.Tensor:
    return (torch.rand(*shape) < p).float()


def lif_reference(x: torch.Tensor, beta: float = 0.5, theta: float = 0.5) -> torch.Tensor:
    """Time loop of the inner LIF neuron (τ = 2, hard reset to 0) over ``x`` [T, ...]."""
    v = torch.zeros_like(x[0])
    out = []
    for t in range(x.shape[0]):
        v = beta * v + x[t]
        s = (v > theta).float()
        out.append(s)
        v = v * (1 - s)
    return torch.stack(out)


def sdsa_reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Q ⊙ SN_0.5(Σ_tokens K ⊙ V) on [T, B, N, D]."""
    column = torch.einsum("tbnd,tbnd->tbd", k, v).unsqueeze(2)
    return q * lif_reference(column)


def ssa_reference(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, scale: float = 0.125
) -> torch.Tensor:
    """SN_0.5(concat_h (Q_h K_hᵀ) V_h · s) on [T, B, N, D]."""
    T, B, N, D = q.shape
    qh, kh, vh = (x.reshape(T, B, N, heads, D // heads) for x in (q, k, v))
    a = torch.einsum("tbihc,tbjhc->tbhij", qh, kh)
    y = torch.einsum("tbhij,tbjhc->tbihc", a, vh).reshape(T, B, N, D)
    return lif_reference(y * scale)


def metered(block: AttentionBlock, fn) -> EnergyReport:  # type: ignore[no-untyped-def]
    with EnergyMeter(block) as meter:
        fn()
        meter.add_samples(1)
    return meter.report()


def rows(report: EnergyReport) -> dict[str, tuple[float, float, int]]:
    return {r.name: (r.sops, r.macs, r.ann_macs) for r in report.layers}


# ---------------------------------------------------------------- formulas


@pytest.mark.parametrize("T", [1, 3])
def test_sdsa_equals_formula(T: int) -> None:
    attn = SpikeDrivenSelfAttention(8, heads=2)
    q, k, v = spikes(T, 2, 6, 8), spikes(T, 2, 6, 8), spikes(T, 2, 6, 8, p=0.3)
    out = attn.attend(q, k, v)
    assert torch.equal(out, sdsa_reference(q, k, v))
    assert 0 < float(out.mean()) < float(q.mean())  # some columns silenced, some kept


def test_sdsa_hand_made_example() -> None:
    k = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 1.0]])
    v = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
    q = torch.tensor([[1.0, 1.0, 1.0], [0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    # column sums of k ⊙ v: (1, 0, 1) > 0.5 -> mask (1, 0, 1)
    out = SpikeDrivenSelfAttention(3).attend(*(x.view(1, 1, 3, 3) for x in (q, k, v)))
    expected = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert torch.equal(out.view(3, 3), expected)


@pytest.mark.parametrize(("T", "heads"), [(1, 1), (1, 2), (3, 2)])
def test_ssa_equals_formula(T: int, heads: int) -> None:
    attn = SpikingSelfAttention(8, heads=heads)
    q, k, v = spikes(T, 2, 12, 8), spikes(T, 2, 12, 8), spikes(T, 2, 12, 8)
    out = attn.attend(q, k, v)
    assert torch.equal(out, ssa_reference(q, k, v, heads))
    assert 0 < float(out.mean()) < 1


def test_ssa_threshold_is_strict() -> None:
    # Q Kᵀ V = 4 everywhere -> 4 · 0.125 = 0.5, not above the threshold 0.5: no spike.
    ones = torch.ones(1, 1, 2, 2)
    assert float(SpikingSelfAttention(2).attend(ones, ones, ones).sum()) == 0.0
    assert float(SpikingSelfAttention(2, scale=0.25).attend(ones, ones, ones).sum()) == 4.0


def test_standard_equals_formula() -> None:
    attn = StandardAttention(8, heads=2)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 5, 8), torch.randn(2, 3, 5, 8)
    qh, kh, vh = (x.reshape(2, 3, 5, 2, 4) for x in (q, k, v))
    w = torch.softmax(torch.einsum("tbihc,tbjhc->tbhij", qh, kh) / 2.0, dim=-1)
    expected = torch.einsum("tbhij,tbjhc->tbihc", w, vh).reshape(2, 3, 5, 8)
    torch.testing.assert_close(attn.attend(q, k, v), expected)


@pytest.mark.parametrize("kind", ["sdsa", "ssa"])
def test_whole_block_is_projections_around_the_formula(kind: str) -> None:
    attn = make_attention(kind, 8, heads=2).eval()
    x = spikes(3, 2, 10, 8)
    out = attn(x)
    reset_net(attn)
    q, k, v = (
        sn(proj(x)) for proj, sn in ((attn.q, attn.q_sn), (attn.k, attn.k_sn), (attn.v, attn.v_sn))
    )
    core = sdsa_reference(q, k, v) if kind == "sdsa" else ssa_reference(q, k, v, heads=2)
    torch.testing.assert_close(out, attn.proj(core))


@pytest.mark.parametrize("preferred", ["standard", "sdsa"])
def test_adaptive_in_eval_equals_the_preferred_branch_alone(preferred: str) -> None:
    attn = AdaptiveAttention(8, heads=2, init_gate=3.0 if preferred == "standard" else -3.0)
    attn.train()
    attn(spikes(2, 4, 6, 8))  # move the BatchNorm statistics away from their defaults
    attn.eval()
    assert attn.preference() == preferred
    alone = make_attention(preferred, 8, heads=2)
    alone.load_state_dict(getattr(attn, preferred).state_dict())
    alone.eval()
    x = spikes(3, 2, 6, 8)
    reset_net(attn)
    assert torch.equal(attn(x), alone(x))


def test_adaptive_in_training_mixes_both_branches_by_the_gate() -> None:
    attn = AdaptiveAttention(8, heads=2, init_gate=0.7).train()
    x = spikes(2, 4, 6, 8)
    mixed = attn(x)
    reset_net(attn)
    a = torch.sigmoid(torch.tensor(0.7))
    torch.testing.assert_close(mixed, a * attn.standard(x) + (1 - a) * attn.sdsa(x))
    mixed.sum().backward()
    assert attn.gate.grad is not None and float(attn.gate.grad) != 0.0


def test_adaptive_tie_prefers_sdsa() -> None:
    assert AdaptiveAttention(4).preference() == "sdsa"


@pytest.mark.parametrize("kind", list(ATTENTIONS))
def test_every_attention_runs_forward_and_backward(kind: str) -> None:
    attn = make_attention(kind, 8, heads=4).train()
    x = spikes(2, 3, 5, 8)
    out = attn(x)
    assert out.shape == x.shape and torch.isfinite(out).all()
    (out * torch.randn_like(out)).sum().backward()
    grads = [p.grad for p in attn.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


def test_make_attention_errors_name_the_choices() -> None:
    with pytest.raises(
        ConfigError,
        match=r"layers\[2\]\.attention: unknown attention type 'flash'; choose one of standard, ssa, sdsa, adaptive",
    ):
        make_attention("flash", 8, where="layers[2].attention")
    with pytest.raises(ConfigError, match=r"heads: 3 does not divide dim 8"):
        make_attention("ssa", 8, heads=3)
    with pytest.raises(ConfigError, match=r"bad argument for 'sdsa'"):
        make_attention("sdsa", 8, scale=0.5)


# ---------------------------------------------------------------- energy: hand counts


def test_sdsa_counts_equal_hand_count() -> None:
    k = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]).view(1, 1, 3, 2)
    v = torch.tensor([[1.0, 1.0], [0.0, 1.0], [1.0, 1.0]]).view(1, 1, 3, 2)
    q = torch.tensor([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]).view(1, 1, 3, 2)
    attn = SpikeDrivenSelfAttention(2)
    r = metered(attn, lambda: attn.attend(q, k, v))
    # k ⊙ v = [[1,0],[0,1],[0,1]]: 3 nonzeros -> 3 accumulates; the q mask is free.
    # The equivalent ANN: N·D = 6 MACs for each term.
    assert rows(r)["kv"] == (3.0, 0.0, 6)
    assert rows(r)["q_mask"] == (0.0, 0.0, 6)


def test_ssa_counts_equal_hand_count() -> None:
    q = torch.tensor([[1.0, 0.0], [1.0, 1.0]]).view(1, 1, 2, 2)
    k = torch.tensor([[1.0, 1.0], [0.0, 1.0]]).view(1, 1, 2, 2)
    v = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).view(1, 1, 2, 2)
    attn = SpikingSelfAttention(2)
    r = metered(attn, lambda: attn.attend(q, k, v))
    # Q Kᵀ = [[1,0],[2,1]]: 4 coincidences.  (Q Kᵀ) V: row 0 selects v_0 (1 spike), row 1
    # selects v_0 and v_1 (1 spike each): 3 accumulates.  ANN: N²D = 8 MACs per term.
    assert rows(r)["qk"] == (4.0, 0.0, 8)
    assert rows(r)["av"] == (3.0, 0.0, 8)


def test_standard_counts_equal_hand_count() -> None:
    attn = StandardAttention(4, heads=2)
    q = torch.randn(2, 1, 3, 4)
    r = metered(attn, lambda: attn.attend(q, q, q))
    # T·N·N·D = 2·3·3·4 = 72 MACs per term; ANN (one step): 36.
    assert rows(r)["qk"] == (0.0, 72.0, 36)
    assert rows(r)["av"] == (0.0, 72.0, 36)
    assert r.total_sops == 0.0 and r.total_macs == 144.0


X_HAND = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]).view(1, 1, 3, 2)  # T=1, B=1, N=3, D=2


def _identity_qkv(attn: AttentionBlock) -> None:
    """Q = K = V = X: weights 2·I (BatchNorm at its defaults in eval, threshold 1)."""
    with torch.no_grad():
        for name in ("q", "k", "v"):
            getattr(attn, name).linear.module.weight.copy_(2 * torch.eye(2))
    attn.eval()


@pytest.mark.parametrize(
    ("kind", "kwargs", "expected", "energy_pj"),
    [
        # q, k, v projections: 4 input spikes × fan-out 2 each = 3 × 8 SOPs.
        # SDSA: k ⊙ v = X has 4 nonzeros; column sums (2, 2) fire; output = Q = X, 4 spikes into
        # the output projection × fan-out 2 = 8 SOPs.  Total 24 + 4 + 8 = 36 accumulates.
        ("sdsa", {}, {"kv": (4.0, 0.0), "q_mask": (0.0, 0.0), "proj": (8.0, 0.0)}, 36 * E_AC),
        # SSA (scale 0.25): A = X Xᵀ = [[1,1,0],[1,2,1],[0,1,1]] sums to 8; nonzero A_ij times the
        # spikes of v_j (1, 2, 1): 3 + 4 + 3 = 10; A V · 0.25 = [[.5,.25],[.75,.75],[.25,.5]]
        # fires only on row 1 -> 2 spikes into the output projection = 4 SOPs.  24 + 8 + 10 + 4.
        (
            "ssa",
            {"scale": 0.25},
            {"qk": (8.0, 0.0), "av": (10.0, 0.0), "proj": (4.0, 0.0)},
            46 * E_AC,
        ),
        # Standard: N²D = 18 MACs per product; real input into the output projection: N·D·D = 12 MACs.
        (
            "standard",
            {},
            {"qk": (0.0, 18.0), "av": (0.0, 18.0), "proj": (0.0, 12.0)},
            24 * E_AC + 48 * E_MAC,
        ),
    ],
)
def test_whole_block_energy_equals_hand_count(
    kind: str, kwargs: dict, expected: dict, energy_pj: float
) -> None:
    attn = make_attention(kind, 2, **kwargs)
    _identity_qkv(attn)
    r = metered(attn, lambda: attn(X_HAND))
    got = rows(r)
    for name in ("q", "k", "v"):
        assert got[f"{name}.linear.module"][:2] == (8.0, 0.0)
    assert got["proj.linear.module"][:2] == expected.pop("proj")
    for term, counts in expected.items():
        assert got[term][:2] == counts, term
    assert r.energy_uj == pytest.approx(energy_pj / 1e6, rel=1e-12)


@pytest.mark.parametrize("preferred", ["standard", "sdsa"])
def test_adaptive_in_eval_counts_only_the_preferred_branch(preferred: str) -> None:
    attn = AdaptiveAttention(2, init_gate=3.0 if preferred == "standard" else -3.0)
    for branch in (attn.standard, attn.sdsa):
        _identity_qkv(branch)
    attn.eval()
    r = metered(attn, lambda: attn(X_HAND))
    alone = make_attention(preferred, 2)
    alone.load_state_dict(getattr(attn, preferred).state_dict())
    _identity_qkv(alone)
    r_alone = metered(alone, lambda: alone(X_HAND))
    assert r.energy_uj == pytest.approx(r_alone.energy_uj, rel=1e-12)
    other = "sdsa" if preferred == "standard" else "standard"
    assert all(
        row.sops == 0 and row.macs == 0 for row in r.layers if row.name.startswith(f"{other}.")
    )
    assert any(row.sops + row.macs > 0 for row in r.layers if row.name.startswith(f"{preferred}."))


def test_sinks_are_removed_after_the_block_and_counting_is_off_outside() -> None:
    attn = make_attention("adaptive", 4)
    with EnergyMeter(attn):
        assert attn.standard.counting and attn.sdsa.counting
    assert not any(m.counting for m in attn.modules() if isinstance(m, AttentionBlock))
    assert not any(m._forward_hooks for m in attn.modules())


@pytest.mark.parametrize("kind", list(ATTENTIONS))
def test_every_attention_reports_exactly_its_declared_terms(kind: str) -> None:
    attn = make_attention(kind, 4, heads=2).train()  # training: adaptive runs both branches
    r = metered(attn, lambda: attn(spikes(2, 1, 3, 4)))
    declared = {
        f"{name}:{term}" if name else term
        for name, m in attn.named_modules()
        if isinstance(m, AttentionBlock)
        for term in m.OP_TERMS
    }
    assert declared
    term_rows = {row.name: row for row in r.layers if row.name in declared}
    assert set(term_rows) == declared
    assert all(row.ann_macs > 0 for row in term_rows.values())  # every term reported


def test_an_undeclared_term_is_refused() -> None:
    attn = SpikeDrivenSelfAttention(2)
    with EnergyMeter(attn), pytest.raises(ConfigError, match=r"'qk'.*does not declare"):
        attn.report_ops("qk", acs=1)


# ---------------------------------------------------------------- energy: scaling in N


def _active(attn: AttentionBlock) -> AttentionBlock:
    """Weights N(0, 1) so that an untrained block in eval mode fires."""
    with torch.no_grad():
        for m in attn.modules():
            if isinstance(m, torch.nn.Linear):
                m.weight.normal_()
    return attn.eval()


def _total_ops(attn: AttentionBlock, x: torch.Tensor) -> tuple[float, dict[str, tuple]]:
    reset_net(attn)
    r = metered(attn, lambda: attn(x))
    return r.total_sops + r.total_macs, rows(r)


def test_sdsa_cost_is_linear_and_standard_qk_quadratic_in_tokens() -> None:
    x64 = spikes(2, 1, 64, 8)
    x256 = x64.repeat(1, 1, 4, 1)  # the same 64 tokens four times: every count is exact
    sdsa = _active(make_attention("sdsa", 8, heads=2))
    ops64, rows64 = _total_ops(sdsa, x64)
    ops256, rows256 = _total_ops(sdsa, x256)
    assert rows64["kv"][0] > 0 and ops64 > 0
    assert ops256 == 4 * ops64
    assert rows256["kv"][0] == 4 * rows64["kv"][0]

    standard = _active(make_attention("standard", 8, heads=2))
    _, std64 = _total_ops(standard, x64)
    _, std256 = _total_ops(standard, x256)
    assert std256["qk"][1] >= 16 * std64["qk"][1] > 0

    ssa = _active(make_attention("ssa", 8, heads=2))
    _, ssa64 = _total_ops(ssa, x64)
    _, ssa256 = _total_ops(ssa, x256)
    assert ssa256["qk"][0] == 16 * ssa64["qk"][0] > 0

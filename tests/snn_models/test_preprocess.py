"""Preprocessing as the model's front (fitted on the training split, saved with the weights,
folded for NIR), the signed-input encoders and the deterministic eval-mode rate code."""

from __future__ import annotations

import pytest
import torch

from snn_models import NetSpec, build
from snn_models.encoders import ENCODERS, clipped_fraction, encoded_shape
from snn_models.neurons.adaptive import AdaptiveNode
from snn_models.preprocess import (
    Preprocess,
    default_preprocess,
    fit_preprocess,
    fold_into_first_layer,
    prepare_inputs,
)

MLP = {"kind": "mlp", "timesteps": 4, "layers": [{"width": 16}]}


def _table(n: int = 200, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    scale = torch.tensor([1.0, 10.0, 100.0, 0.01, 5.0])
    shift = torch.tensor([0.0, -3.0, 50.0, 1.0, -7.0])
    return torch.randn(n, 5, generator=g) * scale + shift


def test_standardize_is_fitted_on_the_training_split_per_feature() -> None:
    net = build({**MLP, "preprocess": "standardize"}, (5,), 3)
    x = _table()
    card = fit_preprocess(net, x, "tabular")
    assert card is not None and card["per"] == "feature" and len(card["mean"]) == 5
    y = net.preprocess(x)
    assert y.mean(0).abs().max() < 1e-4
    assert (y.std(0, unbiased=False) - 1).abs().max() < 1e-4
    # fitted once: a second call (e.g. on other data) keeps the training statistics
    fit_preprocess(net, _table(seed=1) * 3)
    assert torch.allclose(net.preprocess(x), y)


def test_minmax_maps_the_training_split_to_the_unit_range() -> None:
    net = build({**MLP, "preprocess": "minmax"}, (5,), 3)
    x = _table()
    fit_preprocess(net, x)
    y = net.preprocess(x)
    assert float(y.min()) == pytest.approx(0.0, abs=1e-5)
    assert float(y.max()) == pytest.approx(1.0, abs=1e-5)


def test_images_and_series_are_standardised_per_channel() -> None:
    g = torch.Generator().manual_seed(0)
    img = torch.rand(50, 2, 4, 4, generator=g) * torch.tensor([1.0, 10.0]).view(1, 2, 1, 1)
    net = build({**MLP, "preprocess": "standardize"}, (2, 4, 4), 3)
    card = fit_preprocess(net, img, "image")
    assert card is not None and card["per"] == "channel" and len(card["mean"]) == 2
    y = net.preprocess(img)
    for c in range(2):
        assert float(y[:, c].mean()) == pytest.approx(0.0, abs=1e-4)
        assert float(y[:, c].std(unbiased=False)) == pytest.approx(1.0, abs=1e-4)
    series = torch.randn(30, 3, 40, generator=g) * 4 + 2
    tnet = build(
        {"kind": "temporal", "preprocess": "standardize", "layers": [{"width": 8}]}, (3, 40), 2
    )
    assert fit_preprocess(tnet, series, "series")["per"] == "channel"  # type: ignore[index]
    # one univariate series (L,): one statistic for all of it
    uni = build({**MLP, "preprocess": "standardize"}, (40,), 2)
    assert fit_preprocess(uni, series[:, 0], "series")["per"] == "all"  # type: ignore[index]
    assert float(uni.preprocess(series[:, 0]).mean()) == pytest.approx(0.0, abs=1e-4)


def test_a_constant_feature_is_centred_not_divided_by_zero() -> None:
    x = _table()
    x[:, 2] = 4.0
    net = build({**MLP, "preprocess": "standardize"}, (5,), 3)
    fit_preprocess(net, x)
    y = net.preprocess(x)
    assert bool(torch.isfinite(y).all()) and float(y[:, 2].abs().max()) == 0.0


def test_the_statistics_travel_with_the_weights_and_old_specs_load_as_identity() -> None:
    net = build({**MLP, "preprocess": "standardize"}, (5,), 3)
    fit_preprocess(net, _table())
    again = build(net.spec.to_dict(), (5,), 3)
    again.load_state_dict(net.state_dict())  # strict: the buffers are in the state dict
    x = _table(seed=3)
    assert torch.equal(again.eval().preprocess(x), net.eval().preprocess(x))
    # a spec written before preprocessing existed: no key, no buffers, the identity
    old = {k: v for k, v in build(MLP, (5,), 3).spec.to_dict().items() if k != "preprocess"}
    plain = build(old, (5,), 3)
    assert isinstance(plain.preprocess, torch.nn.Identity)
    assert not any(k.startswith("preprocess.") for k in plain.state_dict())


def test_defaults_per_data_kind() -> None:
    assert default_preprocess("tabular") == "standardize"
    assert default_preprocess("series") == "standardize"
    assert default_preprocess("image") == "none"
    assert default_preprocess("tabular", "rate") == "minmax"
    assert default_preprocess("image", "rate") == "none"


def test_folding_into_the_first_layer_is_exact() -> None:
    torch.manual_seed(0)
    net = build({**MLP, "preprocess": "standardize"}, (5,), 3)
    fit_preprocess(net, _table())
    net.eval()
    x = _table(seed=2)
    stem = net.stem(net.preprocess(x))
    assert fold_into_first_layer(net) is None
    assert isinstance(net.preprocess, torch.nn.Identity)
    assert torch.allclose(net.stem(x), stem, atol=1e-4)
    cnn = build(
        {"kind": "cnn", "preprocess": "standardize", "layers": [{"width": 4}]}, (1, 8, 8), 3
    )
    assert "dense first layer" in str(fold_into_first_layer(cnn))


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_every_encoder_states_what_it_does_to_signed_inputs(name: str) -> None:
    cls = ENCODERS[name]
    assert len(cls.signed_inputs) > 10
    out = cls(3)(torch.tensor([[-0.5, 0.25, 0.75]]))
    assert out.shape == (3, 1, *encoded_shape(name, (3,)))


def test_two_polarity_encoders_keep_negative_inputs() -> None:
    x = torch.tensor([[-0.8, 0.0, 0.8]])
    for name in ("signed_rate", "signed_latency"):
        out = ENCODERS[name](8).eval()(x)  # [T, 1, 6]: positive channels, then negative
        pos, neg = out[:, 0, :3].sum(0), out[:, 0, 3:].sum(0)
        assert pos[2] > 0 and neg[0] > 0, name
        assert pos[0] == 0 and neg[2] == 0 and pos[1] == 0 and neg[1] == 0, name
    # the one-polarity rate code loses the negative input (it clips, and says so)
    assert ENCODERS["rate"](8).eval()(x)[:, 0, 0].sum() == 0
    assert clipped_fraction("rate", x) == pytest.approx(1 / 3)
    assert clipped_fraction("signed_rate", x) == 0.0
    assert clipped_fraction("direct", x * 10) == 0.0


def test_rate_code_is_deterministic_in_eval_with_the_right_rate() -> None:
    p = torch.linspace(0, 1, 11).unsqueeze(0)
    enc = ENCODERS["rate"](20).eval()
    a, b = enc(p), enc(p)
    assert torch.equal(a, b)
    # each input fires about p·T times (a dither, not a draw: within one spike)
    assert (a.sum(0)[0] - p[0] * 20).abs().max() <= 1.0 + 1e-6
    # training still draws fresh Bernoulli spikes
    enc.train()
    torch.manual_seed(0)
    draws = [enc(p.expand(64, 11)) for _ in range(2)]
    assert not torch.equal(draws[0], draws[1])


def test_prepare_inputs_records_the_clipping() -> None:
    net = build({**MLP, "preprocess": "standardize", "encoder": "rate"}, (5,), 3)
    coding = prepare_inputs(net, _table(), "tabular")
    assert coding["preprocess"] == "standardize" and coding["encoder"] == "rate"
    assert 0.4 < coding["clipped_fraction"] < 0.75  # standardised: about half is negative
    net = build({**MLP, "preprocess": "minmax", "encoder": "rate"}, (5,), 3)
    assert prepare_inputs(net, _table(), "tabular")["clipped_fraction"] == 0.0


def test_signed_encoders_build_every_feedforward_kind() -> None:
    for spec, shape in (
        ({**MLP, "encoder": "signed_rate"}, (5,)),
        ({"kind": "cnn", "encoder": "signed_latency", "layers": [{"width": 4}]}, (2, 8, 8)),
        (
            {"kind": "transformer", "encoder": "signed_rate", "dim": 8, "patch": 4, "layers": [{}]},
            (1, 8, 8),
        ),
    ):
        net = build(spec, shape, 3).eval()
        out = net(torch.randn(4, *shape))
        assert out.shape == (4, 3) and bool(torch.isfinite(out).all())
    with pytest.raises(Exception, match="sequence"):
        build(
            {"kind": "transformer", "encoder": "signed_rate", "dim": 8, "layers": [{}]}, (6, 2), 3
        )


def test_adaptive_mix_follows_a_loaded_state_dict() -> None:
    a, b = AdaptiveNode(), AdaptiveNode()
    a.set_mix(0.5)
    b.load_state_dict(a.state_dict())
    assert b.mix == 0.5 and b.kind == "lif~bif"


def test_unknown_preprocess_is_one_clear_error() -> None:
    with pytest.raises(Exception, match="preprocess: unknown preprocess 'zscore'"):
        NetSpec.from_dict({**MLP, "preprocess": "zscore"})
    with pytest.raises(Exception, match="unknown method"):
        Preprocess("none", (3,))

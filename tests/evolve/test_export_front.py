"""Every front point of every library space exports to TorchScript and ONNX.

For each library space (``search_spaces/library/*.yaml``) the reference architecture (the
space's defaults) is varied over every encoder, every kind and every neuron type (and attention
type) the space offers, each layer taking one of them, so that each option appears in at least
one candidate. Each candidate is trained as a search trial trains it (:func:`evaluate_trial`, one
epoch on a tiny slice of its data), written as a checkpoint and read back as ``evolve export``
reads it, and exported with the real exporters, whose own checks (bit-identical TorchScript
logits, ONNX within 1e-5 with identical predictions) must pass. Adaptive neurons are exported at
their LIF end, their BIF end and half-way (a front point stopped during the selector's warm-up).

Three candidates run in the default suite (:data:`FAST`; an ONNX export costs 3–15 s a model on 2
cores); the other 11 (about 4 minutes on 2 cores) are ``slow``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import torch

from evolve.data.datasets import Dataset, Split, load_dataset
from evolve.engine.arch import CL_KEYS
from evolve.engine.trial import TrialSettings, evaluate_trial
from evolve.export.exporters import EXPORTERS, data_section
from evolve.store import checkpoints
from search_spaces import load_space
from search_spaces.loader import library_names
from snn_models import SpikingNet
from snn_models.neurons.adaptive import AdaptiveNode

pytestmark = pytest.mark.usefixtures("one_thread")

#: The data each library space is made for.
DATA = {
    "hybrid_neuron": "digits",
    "hybrid_attention": "digits",
    "continual": "digits",
    "temporal": "gunpoint",
}
#: Options a candidate varies, when its space offers them (choices read from the space).
TOP_OPTIONS = ("kind", "encoder")
LAYER_OPTIONS = ("layer.*.neuron", "layer.*.attention", "layer.*.dilation")
#: Layer sizes set to their space's lowest value, so that a trial takes a second.
SMALL_KEYS = ("width", "channels")
#: Network settings made small the same way: fewest timesteps, narrowest model, fewest tokens.
SHRINK: dict[str, Any] = {"timesteps": "low", "dim": min, "patch": max}
#: Series are cut to this many samples (the temporal network runs one step per window).
SERIES_LENGTH = 30
MIXES = (0.0, 0.5, 1.0)
#: The candidates the default suite exports (the rest are ``slow``): the stochastic ``rate``
#: encoder with an adaptive neuron half-way from LIF to BIF (an MLP), and adaptive attention
#: with an adaptive neuron at its BIF end (a transformer): the two that used to fail; and a
#: temporal network with a dilated causal convolution.
FAST = {("hybrid_neuron", 3), ("hybrid_attention", 1), ("temporal", 0)}


def _tiny(data: Dataset, n: int = 40) -> Dataset:
    series = len(data.input_shape) == 2

    def cut(s: Split, k: int) -> Split:
        return Split(s.x[:k, ..., :SERIES_LENGTH] if series else s.x[:k], s.y[:k])

    return Dataset(
        name=data.name,
        train=cut(data.train, n),
        val=cut(data.val, n // 2),
        test=cut(data.test, n // 2),
        input_shape=(*data.input_shape[:-1], SERIES_LENGTH) if series else data.input_shape,
        n_classes=data.n_classes,
        source=data.source,
        input_scale=data.input_scale,
    )


def candidates(name: str) -> list[dict[str, Any]]:
    """The space's default architecture varied so that every top-level option (kind, encoder)
    combination appears, and within each every layer option (neuron, attention) appears on some
    layer: ``ceil(choices / depth)`` candidates per combination."""
    space = load_space(name)
    base = dict(space.default())
    dims = space.dimensions
    for key, pick in SHRINK.items():
        if key in dims:
            dim = dims[key]
            base[key] = dim.low if pick == "low" else pick(dim.choices)  # type: ignore[attr-defined]
    depth = int(base.get("depth", 1))
    tops = [(k, dims[k].choices) for k in TOP_OPTIONS if k in dims]  # type: ignore[attr-defined]
    layer = [(k, dims[k].choices) for k in LAYER_OPTIONS if k in dims]  # type: ignore[attr-defined]
    out = []
    for combo in itertools.product(*(choices for _, choices in tops)):
        top = dict(zip((k for k, _ in tops), combo, strict=True))
        n_layer_values = max((len(c) for _, c in layer), default=1)
        for start in range(0, n_layer_values, depth):
            arch = {**base, **top}
            for i in range(depth):
                for key, choices in layer:
                    arch[key.replace("*", str(i))] = choices[(start + i) % len(choices)]
                for key in SMALL_KEYS:
                    if f"layer.{i}.{key}" in arch:  # the narrowest layer the space allows
                        arch[f"layer.{i}.{key}"] = dims[f"layer.*.{key}"].low  # type: ignore[attr-defined]
            out.append(arch)
    return out


class _Given:
    """A suggester answering with the given values, and a dimension's default for the rest
    (so conditional keys appear exactly as sampling with these choices makes them)."""

    def __init__(self, space: Any, values: dict[str, Any]) -> None:
        self.space, self.values = space, values

    def _answer(self, name: str, *_: Any, **__: Any) -> Any:
        if name in self.values:
            return self.values[name]
        return self.space.dimension_for(name).default

    suggest_int = suggest_float = suggest_categorical = _answer


def _complete(name: str, arch: dict[str, Any]) -> dict[str, Any]:
    """``arch`` as the space samples it (conditional keys on or off), without distillation."""
    space = load_space(name)
    given = {**arch, "kd_enabled": False} if "kd_enabled" in space.dimensions else arch
    taken = dict(space.sample(_Given(space, given)))
    assert space.contains(taken), taken
    return taken


def export_cases() -> list[Any]:
    cases = []
    for name in sorted(library_names()):
        for i, arch in enumerate(candidates(name)):
            marks = () if (name, i) in FAST else (pytest.mark.slow,)
            cases.append(pytest.param(name, i, arch, id=f"{name}-{i}", marks=marks))
    return cases


@pytest.fixture(scope="module")
def datasets() -> dict[str, Dataset]:
    return {d: _tiny(load_dataset(d, seed=0)) for d in sorted(set(DATA.values()))}


def test_every_library_space_is_covered() -> None:
    assert set(library_names()) == set(DATA)


@pytest.mark.parametrize(("name", "index", "arch"), export_cases())
def test_front_point_exports_to_torchscript_and_onnx(
    name: str, index: int, arch: dict[str, Any], datasets: dict[str, Dataset], tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    data = datasets[DATA[name]]
    # the continual space's strategy keys say how `evolve continual` trains; the model is the same
    arch = {k: v for k, v in _complete(name, arch).items() if k not in CL_KEYS}
    outcome = evaluate_trial(arch, data, TrialSettings(epochs=1, batch_size=16, seed=index))
    assert outcome.checkpoint is not None
    ck = outcome.checkpoint
    path = checkpoints.write(
        tmp_path / "trial_0.pt",
        ck["model"],
        ck["spec"],
        ck["input_shape"],
        ck["n_classes"],
        ck["dataset"],
        trial=0,
    )
    model = checkpoints.read(path, what="checkpoint").model
    assert isinstance(model, SpikingNet)
    adaptive = [m for m in model.modules() if isinstance(m, AdaptiveNode)]
    for k, node in enumerate(adaptive):  # each end of the LIF <-> BIF path, and half-way
        node.set_mix(MIXES[(index + k + 1) % len(MIXES)])
    x = data.test.x
    info = {"dataset": data.name, "input_scale": data.input_scale, "n_classes": data.n_classes}
    for fmt in ("torchscript", "onnx"):
        exporter = EXPORTERS[fmt]
        assert exporter.refusal(model, ck["input_shape"]) is None, fmt
        check = exporter.fn(model, x, tmp_path / exporter.file, info)
        assert check["checked_samples"] == len(x), fmt
        if fmt == "onnx":
            assert check["identical_predictions"] and check["max_abs_logit_diff"] <= 1e-5
    card = data_section(data.name, data.input_shape, data.n_classes, 1.0, model=model)
    assert card["encoder"]["name"] == model.spec.encoder
    assert card["preprocessing"]["in_model"]["method"] == model.spec.preprocess
    assert outcome.attrs["input_coding"]["encoder"] == model.spec.encoder


def test_the_fast_cases_are_the_ones_that_used_to_fail() -> None:
    neuron = candidates("hybrid_neuron")[3]
    assert neuron["encoder"] == "rate" and "adaptive" in neuron.values()
    attention = candidates("hybrid_attention")[1]
    assert attention["layer.1.attention"] == "adaptive" == attention["layer.1.neuron"]
    temporal = _complete("temporal", candidates("temporal")[0])
    assert max(v for k, v in temporal.items() if _matches(k, "layer.*.dilation")) > 1


def test_the_cases_cover_every_option_of_every_space() -> None:
    for name in library_names():
        space = load_space(name)
        archs = [_complete(name, a) for a in candidates(name)]
        for key in (*TOP_OPTIONS, *LAYER_OPTIONS):
            dim = space.dimensions.get(key)
            if dim is None:
                continue
            seen = {v for a in archs for k, v in a.items() if k == key or _matches(k, key)}
            assert seen >= set(dim.choices), (name, key, seen)  # type: ignore[attr-defined]


def _matches(key: str, pattern: str) -> bool:
    head, _, tail = pattern.partition("*")
    return key.startswith(head) and key.endswith(tail) and key[len(head) : -len(tail)].isdigit()


def test_exported_rate_models_are_deterministic(datasets: dict[str, Dataset]) -> None:
    """The stochastic rate encoder used to make TorchScript differ by up to 5.2 from the model;
    in eval mode it is a fixed dither, so two calls agree exactly."""
    data = datasets["digits"]
    arch = _complete("hybrid_neuron", {**candidates("hybrid_neuron")[0], "encoder": "rate"})
    outcome = evaluate_trial(arch, data, TrialSettings(epochs=1, batch_size=16))
    model = outcome.checkpoint["model"].eval()  # type: ignore[index]
    with torch.no_grad():
        assert torch.equal(model(data.test.x), model(data.test.x))


def test_a_checkpoint_written_before_preprocessing_loads_as_identity(tmp_path: Path) -> None:
    from snn_models import build

    model = build({"kind": "mlp", "layers": [{"width": 8}]}, (5,), 3)
    old_spec = {k: v for k, v in model.spec.to_dict().items() if k != "preprocess"}
    path = checkpoints.write(tmp_path / "trial_0.pt", model, old_spec, (5,), 3, "old", trial=0)
    back = checkpoints.read(path, what="checkpoint").model
    assert isinstance(back, SpikingNet) and isinstance(back.preprocess, torch.nn.Identity)
    x = torch.randn(4, 5)
    with torch.no_grad():
        assert torch.equal(back(x), model.eval()(x))

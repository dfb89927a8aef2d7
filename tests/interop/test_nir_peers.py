"""Our NIR files read by other tools' own importers: identical spikes layer by layer, or a
refusal that names the tool's limit; and a file written by snnTorch's own exporter read by ours.

Every reader is the tool's own code (snnTorch's ``import_from_nir`` with nirtorch, Norse's
``from_nir``, Rockpool's ``from_nir``), run step by step on the same digits test samples as our
model. The networks are sampled from ``hybrid_neuron`` under ``--constraint nir``, as a
constrained search proposes them. The measured table is written to
``benchmarks/results/nir_peers.json`` and must equal the one in ``docs/export.md``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import nir
import pytest
import torch

from snn_models.neurons.base import BaseNeuron
from snn_models.nir import PEERS, NIRPeerUnsupported, from_nir, to_nir

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = 32
MLPS = ("IF", "LIF", "IF+LIF")
#: the table's columns: the three searched MLPs and a small CNN (two 3x3 convolutions, LIF then
#: IF, no pooling: max pooling has no NIR node, so a --constraint nir search proposes no CNN)
NETWORKS = (*MLPS, "CNN")
#: The module types of the readers' spiking neurons (their outputs are the spikes compared).
PEER_NEURONS = ("Leaky", "LIFBoxCell", "IAFCell", "LIFNeuronTorch")
COMMAND = ".venv/bin/python -m pytest -q tests/interop/test_nir_peers.py"


def _table_module() -> Any:
    """``benchmarks/nir_peers.py``: the table's renderer (and its ``meta`` block)."""
    spec = importlib.util.spec_from_file_location("nir_peers", ROOT / "benchmarks" / "nir_peers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _searched(kind: str) -> torch.nn.Module:
    """The first network a ``--constraint nir`` search of hybrid_neuron proposes whose hidden
    layers are all IF, all LIF, or both (``kind``), with weights ×3 so that no layer is silent
    on 32 samples (the assertions below check the firing rates)."""
    from evolve.engine.arch import arch_to_specs
    from evolve.engine.setup import CONSTRAINTS
    from search_spaces import RandomSuggester, load_space
    from snn_models import NetSpec, build

    space = load_space("hybrid_neuron").restrict(CONSTRAINTS["nir"], "--constraint nir")
    suggester = RandomSuggester(seed=0)
    for _ in range(200):
        net, _train = arch_to_specs(space.sample(suggester))
        kinds = {layer.get("neuron") for layer in net["layers"]}
        if kinds == {"if": {"if"}, "lif": {"lif"}}.get(kind.lower(), {"if", "lif"}) and all(
            not (layer.get("neuron_args") or {}).get("v_reset") for layer in net["layers"]
        ):
            torch.manual_seed(0)
            model = build(NetSpec.from_dict(net), (1, 8, 8), 10).eval()
            with torch.no_grad():
                for p in model.parameters():
                    p.mul_(3.0)
            return model
    raise AssertionError(f"no {kind} network in 200 samples")


def _ours(model: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    seen: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda _m, _a, out: seen.append(out.detach().clone()))
        for m in model.modules()
        if isinstance(m, BaseNeuron)
    ]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return seen  # one [T, B, ...] per spiking layer


def _snntorch(graph: Any) -> Any:
    from snntorch.import_nir import import_from_nir

    with contextlib.redirect_stdout(io.StringIO()):  # it prints "replace rnn subgraph ..."
        return import_from_nir(graph)


def _norse(graph: Any) -> Any:
    from norse.torch import from_nir as norse_from_nir

    # the graph's own dt (Norse's default, 1e-3, is the one a file written for Norse has)
    return norse_from_nir(graph, ignore_warnings=True, dt=float(graph.metadata["dt"]))


def _rockpool(graph: Any) -> Any:
    from rockpool.nn.modules import from_nir as rockpool_from_nir

    return rockpool_from_nir(graph)


READERS: dict[str, Callable[[Any], Any]] = {
    "snntorch": _snntorch,
    "norse": _norse,
    "rockpool": _rockpool,
}


def _run(module: Any, x: torch.Tensor, steps: int, batched: bool) -> list[torch.Tensor]:
    """The reader's spikes, one ``[T, B, ...]`` per spiking layer: ``steps`` calls on the whole
    batch, or (``batched=False``) on one sample at a time, unbatched, as NIR's nodes describe."""
    import snntorch.utils

    neurons = [m for m in module.modules() if type(m).__name__ in PEER_NEURONS]
    seen: dict[int, list[torch.Tensor]] = {id(m): [] for m in neurons}

    def keep(m: Any, _a: Any, out: Any) -> None:
        seen[id(m)].append((out[0] if isinstance(out, tuple) else out).detach().clone())

    hooks = [m.register_forward_hook(keep) for m in neurons]
    per: list[list[torch.Tensor]] = []
    try:
        for sample in [x] if batched else list(x):
            for m in neurons:
                seen[id(m)].clear()
            snntorch.utils.reset(module)  # snnTorch's neurons keep their membranes inside
            state = None
            with torch.no_grad():
                for _ in range(steps):
                    out = module(sample) if state is None else module(sample, state)
                    state = (
                        out[1]
                        if isinstance(out, tuple) and "Executor" in type(module).__name__
                        else None
                    )
            per.append([torch.stack(seen[id(m)]) for m in neurons])
    finally:
        for h in hooks:
            h.remove()
    if batched:
        return per[0]
    return [torch.stack([p[i] for p in per], 1) for i in range(len(neurons))]


def _compare(ours: list[torch.Tensor], theirs: list[torch.Tensor]) -> str:
    if len(ours) != len(theirs):
        return f"{len(theirs)} spiking layers, ours {len(ours)}"
    equal = total = 0
    for a, b in zip(ours, theirs, strict=True):
        if a.numel() != b.numel():
            return f"layer of {tuple(b.shape)} spikes, ours {tuple(a.shape)}"
        equal += int((a.reshape(-1) == b.reshape(-1)).sum())
        total += a.numel()
    return "identical" if equal == total else f"differ ({100 * equal / total:.1f} % equal)"


def _measure(reader: str, model: torch.nn.Module, x: torch.Tensor, flavour: str) -> str:
    """What ``reader`` gives on the file written ``nir_for=flavour``, in a few words."""
    try:
        graph = to_nir(model, (1, 8, 8), peer=flavour)
    except NIRPeerUnsupported:
        return "refused at export"
    # a Flatten node becomes torch.nn.Flatten(0) in the readers, which flattens the batch: such
    # a graph runs one sample at a time; one whose Input is declared flat runs batched
    batched = not any(isinstance(n, nir.Flatten) for n in graph.nodes.values())
    flat = len(graph.nodes["input"].input_type["input"]) == 1
    try:
        module = READERS[reader](graph)
        theirs = _run(module, x.flatten(1) if flat else x, model.spec.timesteps, batched)
    except Exception as e:  # a peer's failure, whatever its type, is what this row records
        text = re.sub(r"<class '(?:\w+\.)*(\w+)'>", r"\1", " ".join(str(e).split()))
        return f"fails ({type(e).__name__}: {text[:48]}{'…' if len(text) > 48 else ''})"
    return _compare(_ours(model, x), theirs)


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    from evolve.data.datasets import load_digits

    return load_digits(0).test.x[:SAMPLES]


def _cnn() -> torch.nn.Module:
    from snn_models import NetSpec, build

    spec = {"kind": "cnn", "timesteps": 4, "batchnorm": False, "layers": [
        {"width": 4, "pool": False, "neuron": "lif", "decay": 0.6, "threshold": 0.8},
        {"width": 4, "pool": False, "neuron": "if", "threshold": 0.5},
    ]}  # fmt: skip
    torch.manual_seed(0)
    model = build(NetSpec.from_dict(spec), (1, 8, 8), 10).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    return model


@pytest.fixture(scope="module")
def networks() -> dict[str, torch.nn.Module]:
    return {**{kind: _searched(kind) for kind in MLPS}, "CNN": _cnn()}


@pytest.fixture(scope="module")
def measured(digits: torch.Tensor, networks: dict[str, torch.nn.Module]) -> Iterator[dict]:
    """Every reader on its own file flavour and on the textbook file, for every network;
    written to benchmarks/results/nir_peers.json."""
    logging.getLogger().setLevel(logging.ERROR)
    rows = []
    for reader in READERS:
        for flavour in (reader, "nir"):
            results = {k: _measure(reader, m, digits, flavour) for k, m in networks.items()}
            rows.append(
                {
                    "reader": f"{PEERS[reader].title} `{PEERS[reader].reader}`",
                    "version": metadata.version(PEERS[reader].package),
                    "file": f"`--nir-for {flavour}`" + (" (textbook)" if flavour == "nir" else ""),
                    "results": results,
                }
            )
    rows.append(
        {
            "reader": "Sinabs",
            "version": "3.1.3",
            "file": "none: not installed (it pins nir ≤ 1.0.4 and pulls samna)",
            "results": dict.fromkeys(NETWORKS, "not measured"),
        }
    )
    steps = sorted({m.spec.timesteps for m in networks.values()})
    out = {
        "command": COMMAND,
        "samples": SAMPLES,
        "timesteps": ", ".join(map(str, steps)),
        "versions": {p: metadata.version(p) for p in ("nir", "nirtorch", "torch")},
        "rows": rows,
    }
    _table_module().save(out)  # only when the measurement changed
    yield out


def test_the_networks_are_busy_and_our_reader_spikes_identically(
    digits: torch.Tensor, networks: dict[str, torch.nn.Module], tmp_path: Path
) -> None:
    for kind, model in networks.items():
        ours = _ours(model, digits)
        assert all(0.02 < float(s.mean()) < 0.98 for s in ours), (
            kind,
            [float(s.mean()) for s in ours],
        )
        if kind == "CNN":  # our importer reads MLP chains only
            continue
        for flavour in ("nir", "snntorch", "norse"):
            path = tmp_path / f"{kind}-{flavour}.nir"
            nir.write(str(path), to_nir(model, (1, 8, 8), peer=flavour))
            back = from_nir(nir.read(str(path)))
            assert _compare(ours, _ours(back, digits)) == "identical", (kind, flavour)


def test_each_reader_spikes_identically_on_the_file_written_for_it(measured: dict) -> None:
    for row in measured["rows"]:
        flavour = row["file"].split("--nir-for ")[-1].split("`")[0]
        if flavour in ("snntorch", "norse"):
            assert row["results"] == dict.fromkeys(NETWORKS, "identical"), row


def test_the_textbook_file_is_what_snntorch_and_norse_misread(measured: dict) -> None:
    """Why the flavours exist (pinned peer versions): if a reader gets fixed, this fails and the
    table shows it."""
    textbook = {
        r["reader"].split()[0]: r["results"] for r in measured["rows"] if "textbook" in r["file"]
    }
    assert textbook["Norse"]["IF"] == "identical"
    assert textbook["Norse"]["LIF"].startswith("differ")
    assert textbook["snnTorch"]["LIF"].startswith("differ")
    assert textbook["snnTorch"]["IF"] != "identical"
    assert all(v.startswith("fails") for v in textbook["Rockpool"].values())


def test_rockpool_and_a_nonzero_reset_are_refused_for_the_reader(
    networks: dict[str, torch.nn.Module],
) -> None:
    from snn_models import NetSpec, build

    with pytest.raises(NIRPeerUnsupported, match=r"no NIR file for Rockpool: .*nir\.IF"):
        to_nir(networks["LIF"], (1, 8, 8), peer="rockpool")
    # the reason is Rockpool's own: its importer fails even on an all-LIF file with a flat input
    graph = to_nir(networks["LIF"], (1, 8, 8), peer="snntorch")
    with pytest.raises(AttributeError, match="tau_mem"):
        _rockpool(graph)
    spec = {"kind": "mlp", "timesteps": 3,
            "layers": [{"width": 8, "neuron": "if", "neuron_args": {"v_reset": 0.2}}]}  # fmt: skip
    model = build(NetSpec.from_dict(spec), (1, 8, 8), 10).eval()
    for peer, title in (("snntorch", "snnTorch"), ("norse", "Norse")):
        with pytest.raises(NIRPeerUnsupported) as info:
            to_nir(model, (1, 8, 8), peer=peer)
        assert f"{title} cannot read body.0 (IFNode)" in str(info.value)
        assert "resets every neuron to 0, this layer to 0.2" in str(info.value)
    to_nir(model, (1, 8, 8))  # the textbook file expresses it


def test_the_docs_table_is_the_measured_one(measured: dict) -> None:
    table = _table_module()
    doc = (ROOT / "docs" / "export.md").read_text()
    assert table.doc_table(doc) == table.render(measured), (
        "docs/export.md's NIR reader table differs from the measurement; rewrite it with "
        "`.venv/bin/python benchmarks/nir_peers_table.py`"
    )


def _snntorch_net(output: str) -> torch.nn.Sequential:
    """A small snnTorch network as a user writes one: Flatten, Linear, Leaky (per-neuron β and
    threshold: snnTorch 1.0's exporter fails type inference on scalar ones with nir 1.0.8),
    Linear, and an output layer (``linear``: none; ``leaky``: a Leaky of β 0.5, ours;
    ``leaky09``: β 0.9; ``synaptic``: a hidden Synaptic neuron, which NIR writes as CubaLIF)."""
    import snntorch as snn

    torch.manual_seed(1)
    first, last = torch.nn.Linear(64, 20), torch.nn.Linear(20, 10)
    with torch.no_grad():
        first.weight.mul_(3.0)
        last.weight.mul_(4.0)

    def leaky(n: int, beta: float) -> torch.nn.Module:
        return snn.Leaky(
            beta=torch.full((n,), beta),
            threshold=torch.ones(n),
            init_hidden=True,
            reset_mechanism="zero",  # NIR resets to v_reset; snnTorch's default subtracts
            reset_delay=False,  # NIR has no reset delay; snnTorch's default delays it a step
            output=n == 10,
        )

    hidden = leaky(20, 0.8)
    if output == "synaptic":
        hidden = snn.Synaptic(
            alpha=torch.full((20,), 0.5), beta=torch.full((20,), 0.8), threshold=torch.ones(20),
            init_hidden=True, reset_mechanism="zero", reset_delay=False,
        )  # fmt: skip
    layers = [torch.nn.Flatten(), first, hidden, last]
    if output.startswith("leaky"):
        layers.append(leaky(10, 0.9 if output == "leaky09" else 0.5))
    return torch.nn.Sequential(*layers)


def _snntorch_file(net: torch.nn.Module, path: Path) -> Path:
    from snntorch.export_nir import export_to_nir

    nir.write(str(path), export_to_nir(net, torch.zeros(1, 1, 8, 8), ignore_dims=[0]))
    return path


def test_import_nir_reads_a_file_written_by_snntorchs_exporter(
    digits: torch.Tensor, tmp_path: Path
) -> None:
    import snntorch.utils

    from evolve.cli import main

    steps = 5
    for output in ("linear", "leaky"):
        net = _snntorch_net(output)
        path = _snntorch_file(net, tmp_path / f"{output}.nir")
        # snnTorch's own network, step by step: its spikes and its outputs
        spikes: list[torch.Tensor] = []
        hooks = [
            m.register_forward_hook(lambda _m, _a, o, seen=spikes: seen.append(
                (o[0] if isinstance(o, tuple) else o).detach().clone()))
            for m in net.modules() if type(m).__name__ == "Leaky"
        ]  # fmt: skip
        snntorch.utils.reset(net)
        with torch.no_grad():
            outs = [net(digits) for _ in range(steps)]
        for h in hooks:
            h.remove()
        n_layers = 2 if output == "leaky" else 1
        theirs = [torch.stack(spikes[i::n_layers]) for i in range(n_layers)]
        model = from_nir(nir.read(str(path)), timesteps=steps)
        ours = _ours(model, digits)
        assert _compare(ours, theirs) == "identical", output
        assert all(0.02 < float(s.mean()) < 0.98 for s in ours)
        with torch.no_grad():
            scores = model(digits)
        first = outs[0][0] if isinstance(outs[0], tuple) else outs[0]
        if output == "linear":  # membrane readout: the mean of the output layer's currents
            assert torch.allclose(scores, torch.stack(outs).mean(0), atol=1e-6)
        else:  # spiking readout: the output spikes per step (the count over T)
            assert first.shape == (SAMPLES, 10)
            assert torch.allclose(scores * steps, theirs[-1].sum(0))
        # the command: a folder evolve predict runs
        code = main(["import-nir", str(path), "--out", str(tmp_path / output),
                     "--timesteps", str(steps)])  # fmt: skip
        assert code == 0 and (tmp_path / output / "model.pt").is_file()


@pytest.mark.parametrize(
    ("output", "words"),
    [
        ("synaptic", "node '2' (CubaLIF) has no counterpart in our MLPs"),
        ("leaky09", "the output neuron '4' has decay 0.9"),
    ],
)
def test_import_nir_names_the_snntorch_node_it_cannot_read(
    output: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evolve.cli import main

    path = _snntorch_file(_snntorch_net(output), tmp_path / "net.nir")
    code = main(["import-nir", str(path), "--out", str(tmp_path / "m"), "--timesteps", "4"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and words in err, err
    assert len(err.splitlines()) == 1 and not (tmp_path / "m").exists()
    # without --timesteps a graph with no run length in its metadata is refused by name
    good = _snntorch_file(_snntorch_net("linear"), tmp_path / "good.nir")
    assert main(["import-nir", str(good), "--out", str(tmp_path / "g")]) == 2
    assert "--timesteps" in capsys.readouterr().err


def test_evolve_export_nir_for_writes_what_the_reader_runs_identically(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evolve.cli import main
    from evolve.data.datasets import load_digits
    from evolve.store import checkpoints

    runs = tmp_path / "runs"
    assert main(["search", "--space", "hybrid_neuron", "--constraint", "nir", "--trials", "1",
                 "--epochs", "1", "--study", "p", "--no-progress", "--out", str(runs)]) == 0  # fmt: skip
    x = load_digits(0).test.x
    model = checkpoints.load(runs / "p", 0).model.eval()
    ours = _ours(model, x)
    for peer in ("snntorch", "norse"):
        out = tmp_path / peer
        argv = ["export", str(runs / "p"), "--trial", "0", "--format", "nir", "--nir-for", peer]
        assert main([*argv, "--out", str(out)]) == 0
        card = json.loads((out / "model_card.json").read_text())
        assert card["formats"]["nir"]["written_for"] == peer
        assert card["formats"]["nir"]["identical_spikes_every_layer"]
        graph = nir.read(str(out / "model.nir"))
        # one sample at a time, as NIR's nodes describe: Norse's batched matrix product (with
        # the gain folded into the weights) rounds differently from ours, and on a fresh
        # install flipped 2 of 155 520 spikes that sit exactly at threshold
        batched = peer != "norse"
        theirs = _run(READERS[peer](graph), x.flatten(1), model.spec.timesteps, batched=batched)
        assert _compare(ours, theirs) == "identical", peer
    capsys.readouterr()
    argv = ["export", str(runs / "p"), "--trial", "0", "--format", "nir", "--nir-for", "rockpool"]
    assert main([*argv, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no NIR file for Rockpool" in err and "(--nir-for nir)" in err and "\n" not in err
    assert not (tmp_path / "r").exists()

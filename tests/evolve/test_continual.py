from __future__ import annotations

import gzip
import json
import math
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from evolve.continual_learning.metrics import continual_metrics
from evolve.continual_learning.runner import ContinualResult, run_stream
from evolve.continual_learning.strategies import STRATEGIES, make_strategy
from evolve.continual_learning.strategies.memory import ReplayBuffer, balanced_loss
from evolve.continual_learning.strategies.naive import Naive
from evolve.continual_learning.strategies.replay import Replay
from evolve.continual_learning.strategies.replay_stdp import ReplaySTDP
from evolve.continual_learning.strategies.stdp import STDPReadout, calibrate_rates, feature_layers
from evolve.continual_learning.streams import STREAMS, Stream, Task, make_stream
from evolve.data.datasets import FASHION_MNIST_DIR, Split, load_digits
from evolve.errors import DataError, UserError
from evolve.training.trainer import TrainConfig, TrainResult
from snn_models import ConfigError
from snn_models.architectures import build

pytestmark = pytest.mark.usefixtures("one_thread")

# Two hidden layers, so that the STDP strategies have a hidden layer fed by spikes to adapt.
SPEC = {"kind": "mlp", "timesteps": 2, "layers": [{"width": 64}, {"width": 64}]}
# Two epochs per task at lr 5e-3: measured over seeds 0-3, balanced replay(200) beats naive by
# >= 0.56 ACC and >= 0.6 BWT.
CFG = TrainConfig(epochs=2, batch_size=32, lr=5e-3, seed=0, progress=False)


# ----------------------------------------------------------------------------------- metrics


def test_metrics_match_a_hand_computation_3x3() -> None:
    r = [
        [0.9, 0.1, 0.0],
        [0.6, 0.8, 0.2],
        [0.5, 0.7, 0.95],
    ]
    m = continual_metrics(r)
    # ACC = (0.5 + 0.7 + 0.95) / 3 = 2.15 / 3
    assert m.acc == pytest.approx(2.15 / 3)
    # BWT = ((0.5 - 0.9) + (0.7 - 0.8)) / 2 = (-0.4 - 0.1) / 2
    assert m.bwt == pytest.approx(-0.25)
    # f_0 = max(0.9, 0.6) - 0.5 = 0.4 ; f_1 = max(0.1, 0.8) - 0.7 = 0.1 ; mean 0.25
    assert m.forgetting_per_task == pytest.approx((0.4, 0.1))
    assert m.forgetting == pytest.approx(0.25)
    # curves[j] = column j: task j's accuracy after each stage
    np.testing.assert_allclose(m.curves, [[0.9, 0.6, 0.5], [0.1, 0.8, 0.7], [0.0, 0.2, 0.95]])


def test_metrics_match_a_hand_computation_4x4() -> None:
    # Task 0 peaks after stage 2 (not on the diagonal), task 1 ends above its best (negative
    # forgetting), task 2 was already at 0.9 before it was trained (the max counts every l < T-1).
    r = np.array(
        [
            [0.8, 0.3, 0.2, 0.1],
            [0.7, 0.9, 0.9, 0.2],
            [0.95, 0.6, 0.85, 0.3],
            [0.6, 0.95, 0.5, 1.0],
        ]
    )
    m = continual_metrics(r)
    # ACC = (0.6 + 0.95 + 0.5 + 1.0) / 4 = 3.05 / 4
    assert m.acc == pytest.approx(0.7625)
    # BWT = ((0.6 - 0.8) + (0.95 - 0.9) + (0.5 - 0.85)) / 3 = -0.5 / 3
    assert m.bwt == pytest.approx(-0.5 / 3)
    # f_0 = 0.95 - 0.6 = 0.35 ; f_1 = 0.9 - 0.95 = -0.05 ; f_2 = 0.9 - 0.5 = 0.4 ; mean 0.7 / 3
    assert m.forgetting_per_task == pytest.approx((0.35, -0.05, 0.4))
    assert m.forgetting == pytest.approx(0.7 / 3)
    assert m.curves[0] == pytest.approx((0.8, 0.7, 0.95, 0.6))
    # a tensor gives the same numbers
    t = continual_metrics(torch.tensor(r))
    assert (t.acc, t.bwt, t.forgetting) == pytest.approx((m.acc, m.bwt, m.forgetting))


def test_metrics_of_a_single_task() -> None:
    m = continual_metrics([[0.7]])
    assert (m.acc, m.bwt, m.forgetting, m.forgetting_per_task) == (0.7, 0.0, 0.0, ())


@pytest.mark.parametrize(
    ("r", "words"),
    [
        ([[0.5, 0.5]], "square"),
        ([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]], "square"),
        ([], "square"),
        ([[0.5, 0.5], [0.5]], "ragged"),
        ([[1.2, 0.0], [0.0, 1.0]], r"\[0, 1\]"),
        ([[90.0, 10.0], [50.0, 80.0]], "percent"),
        ([[-0.1, 0.0], [0.0, 1.0]], r"\[0, 1\]"),
        ([[math.nan]], r"\[0, 1\]"),
    ],
)
def test_bad_accuracy_matrix_is_a_user_error(r: Any, words: str) -> None:
    with pytest.raises(UserError, match=words):
        continual_metrics(r)


# ----------------------------------------------------------------------------------- streams


@pytest.fixture(scope="module")
def digits_stream() -> Stream:
    return make_stream("split-digits", seed=0)


def _rows(x: torch.Tensor) -> list[tuple[float, ...]]:
    return sorted(tuple(r) for r in x.flatten(1).numpy().round(5).tolist())


def test_split_digits_is_five_disjoint_class_pairs_covering_every_sample(
    digits_stream: Stream,
) -> None:
    s = digits_stream
    base = load_digits(seed=0)
    assert s.name == "split-digits" and s.scenario == "class-incremental"
    assert (s.input_shape, s.n_classes) == ((1, 8, 8), 10)
    assert [t.classes for t in s.tasks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    assert len({t.name for t in s.tasks}) == 5
    for part in ("train", "val", "test"):
        whole: Split = getattr(base, part)
        pieces: list[Split] = [getattr(t, part) for t in s.tasks]
        for task, piece in zip(s.tasks, pieces, strict=True):
            assert set(piece.y.tolist()) == set(task.classes)  # both classes, nothing else
        assert sum(len(p) for p in pieces) == len(whole)
        # every sample (image and label) of the split is in exactly one task
        assert _rows(torch.cat([p.x for p in pieces])) == _rows(whole.x)
        assert sorted(torch.cat([p.y for p in pieces]).tolist()) == sorted(whole.y.tolist())


def test_split_stream_task_count_and_limit() -> None:
    s = make_stream("split-digits", seed=0, n_tasks=3, limit=20)
    assert [t.classes for t in s.tasks] == [(0, 1, 2, 3), (4, 5, 6), (7, 8, 9)]
    for t in s.tasks:
        for part in (t.train, t.val, t.test):
            counts = torch.bincount(part.y, minlength=10)[list(t.classes)]
            assert len(part) == 20 and int(counts.max() - counts.min()) <= 1
    again = make_stream("split-digits", seed=0, n_tasks=3, limit=20)
    assert torch.equal(s.tasks[1].train.x, again.tasks[1].train.x)
    with pytest.raises(UserError, match="n_tasks must be"):
        make_stream("split-digits", n_tasks=11)
    with pytest.raises(UserError, match="limit must be"):
        make_stream("split-digits", limit=0)
    with pytest.raises(UserError, match="limit must be at least the 5 classes of a task"):
        make_stream("split-digits", n_tasks=2, limit=3)


def test_permuted_digits_permutations_are_seeded_distinct_and_shared_by_all_splits() -> None:
    a = make_stream("permuted-digits", seed=0, n_tasks=4)
    b = make_stream("permuted-digits", seed=0, n_tasks=4)
    c = make_stream("permuted-digits", seed=1, n_tasks=4)
    base = load_digits(seed=0)
    assert a.scenario == "domain-incremental" and len(a.tasks) == 4
    perms = [t.permutation for t in a.tasks]
    assert all(p is not None and sorted(p) == list(range(64)) for p in perms)
    assert perms[0] == tuple(range(64))  # task 0 is the plain data set
    assert len(set(perms)) == 4  # each task its own permutation
    assert perms == [t.permutation for t in b.tasks]  # fixed by the seed
    assert perms[1:] != [t.permutation for t in c.tasks][1:]
    for t in a.tasks:
        assert t.classes == tuple(range(10))
        perm = torch.as_tensor(t.permutation)
        for part in ("train", "val", "test"):
            mine, orig = getattr(t, part), getattr(base, part)
            assert torch.equal(mine.y, orig.y)
            assert torch.equal(mine.x.flatten(1), orig.x.flatten(1)[:, perm])
            assert mine.x.shape == orig.x.shape


def test_unknown_stream_names_the_choices() -> None:
    with pytest.raises(UserError, match="split-digits, split-fashion-mnist, permuted-digits"):
        make_stream("split-cifar")
    assert set(STREAMS) == {"split-digits", "split-fashion-mnist", "permuted-digits"}


def _write_idx(path: Path, arr: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def test_split_fashion_mnist_from_idx_files_and_missing_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", 400), ("t10k", 100)):
        _write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    s = make_stream("split-fashion-mnist", data_dir=tmp_path, limit=18)
    assert s.name == "split-fashion-mnist" and s.input_shape == (1, 28, 28)
    assert [t.classes for t in s.tasks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    # each split of each task capped at 18: train 72 -> 18, val 8 (under the cap), test 20 -> 18
    assert [(len(t.train), len(t.val), len(t.test)) for t in s.tasks] == [(18, 8, 18)] * 5
    assert all(torch.bincount(t.train.y)[list(t.classes)].tolist() == [9, 9] for t in s.tasks)
    with pytest.raises(DataError, match="not found"):
        make_stream("split-fashion-mnist", data_dir=tmp_path / "nowhere")


@pytest.mark.skipif(not FASHION_MNIST_DIR.exists(), reason="dataset-fashion-mnist not installed")
def test_split_fashion_mnist_real_files_with_a_limit() -> None:
    s = make_stream("split-fashion-mnist", limit=40)
    for t in s.tasks:
        assert len(t.train) == len(t.val) == len(t.test) == 40
        assert torch.bincount(t.test.y, minlength=10)[list(t.classes)].tolist() == [20, 20]


def _npz(path: Path, shape: tuple[int, ...], n_classes: int) -> str:
    rng = np.random.default_rng(0)
    np.savez(path, x=rng.random((40, *shape)), y=np.arange(40) % n_classes)
    return str(path)


def test_dataset_sequence_checks_shape_and_class_count(tmp_path: Path) -> None:
    a = _npz(tmp_path / "a.npz", (4, 4), 4)
    b = _npz(tmp_path / "b.npz", (4, 4), 4)
    s = make_stream(f"{a},{b},{a}")
    assert [t.name for t in s.tasks] == ["a", "b", "a#2"]
    assert (s.input_shape, s.n_classes, s.scenario) == ((1, 4, 4), 4, "domain-incremental")
    with pytest.raises(UserError, match="share input shape"):
        make_stream(f"{a},{_npz(tmp_path / 'c.npz', (5, 5), 4)}")
    with pytest.raises(UserError, match="share input shape and class count"):
        make_stream(f"{a},{_npz(tmp_path / 'd.npz', (4, 4), 3)}")
    with pytest.raises(UserError, match="n_tasks must match the data sets of a list: 3 given"):
        make_stream(f"{a},{b}", n_tasks=3)


# -------------------------------------------------------------------------------- strategies


def test_replay_buffer_stays_class_balanced_and_within_size() -> None:
    buf = ReplayBuffer(size=7, seed=0)
    for k in range(4):  # 4 class-incremental tasks of 2 classes, 10 examples each
        y = torch.tensor([2 * k, 2 * k + 1] * 5)
        buf.add(f"t{k}", Split(torch.rand(10, 3), y))
        counts = buf.class_counts()
        assert len(buf) == min(7, 10 * (k + 1)) and len(buf) <= 7
        assert sorted(counts) == list(range(2 * k + 2)) or len(counts) == 7
        assert max(counts.values()) - min(counts.values()) <= 1
    split = buf.split()
    assert split is not None and len(split) == 7 and len(set(split.y.tolist())) == 7

    # a class short of its share leaves its slots to the others
    small = ReplayBuffer(size=9, seed=0)
    small.add("t0", Split(torch.rand(11, 3), torch.tensor([0] + [1] * 10)))
    small.add("t1", Split(torch.rand(10, 3), torch.tensor([2] * 10)))
    assert small.class_counts() == {0: 1, 1: 4, 2: 4}

    # domain-incremental: the same classes from two tasks both keep a share
    dom = ReplayBuffer(size=8, seed=0)
    for k in range(2):
        dom.add(f"perm{k}", Split(torch.full((20, 3), float(k)), torch.arange(20) % 2))
    held = dom.split()
    assert held is not None and dom.class_counts() == {0: 4, 1: 4}
    assert sorted(held.x[:, 0].tolist()) == [0.0] * 4 + [1.0] * 4

    with pytest.raises(UserError, match="buffer_size"):
        Replay(buffer_size=0)


def test_make_strategy_registry() -> None:
    assert set(STRATEGIES) == {"naive", "replay", "stdp", "replay_stdp"}
    assert isinstance(make_strategy("naive"), Naive)
    replay = make_strategy("replay", buffer_size=50)
    assert isinstance(replay, Replay) and replay.settings()["buffer_size"] == 50
    both = make_strategy("replay_stdp", buffer_size=30, stdp_lr=0.02)
    assert isinstance(both, ReplaySTDP) and isinstance(both, STDPReadout)
    assert both.settings()["buffer_size"] == 30 and both.settings()["stdp_lr"] == 0.02
    assert make_strategy("stdp").settings()["buffer_size"] is None
    with pytest.raises(UserError, match="naive, replay, stdp, replay_stdp"):
        make_strategy("ewc")
    with pytest.raises(UserError, match="does not take buffer_size"):
        make_strategy("naive", buffer_size=5)
    with pytest.raises(UserError, match="stdp_lr must be >= 0"):
        make_strategy("stdp", stdp_lr=-1.0)
    with pytest.raises(UserError, match="feature_rate"):
        make_strategy("stdp", feature_rate=1.5)


def test_balanced_loss_weighs_every_present_class_equally() -> None:
    y = torch.tensor([0, 0, 0, 1])  # class 0 three times, class 1 once, classes 2-3 absent
    loss = balanced_loss(y, 4)
    out = torch.tensor([[2.0, 0.0, 0.0, 0.0]] * 3 + [[0.0, 1.0, 0.0, 0.0]])
    ce = torch.nn.functional.cross_entropy(out, y, reduction="none")
    # weights N/(K*N_c): class 0 -> 4/(2*3), class 1 -> 4/(2*1); torch normalises by the weights
    w = torch.tensor([4 / 6] * 3 + [2.0])
    assert loss(out, y, out).item() == pytest.approx(float((w * ce).sum() / w.sum()))
    # each class contributes half of the total weight, as in a balanced set
    assert float(w[:3].sum()) == pytest.approx(float(w[3]))


def test_calibration_sets_each_feature_layer_to_the_target_rate() -> None:
    stream = make_stream("split-digits", seed=0, n_tasks=5, limit=100)
    torch.manual_seed(0)
    model = build(SPEC, stream.input_shape, stream.n_classes)
    names = [n for n, _, _ in feature_layers(model)]
    assert names == ["stem.1", "body.1"]  # the head is not a feature layer
    x = stream.tasks[0].train.x
    got = calibrate_rates(model, x, 0.2)
    assert set(got) == set(names)
    for name, (_, _, neuron) in zip(names, feature_layers(model), strict=True):
        rates: list[float] = []
        h = neuron.register_forward_hook(lambda m, a, o, into=rates: into.append(float(o.mean())))
        with torch.no_grad():
            model(x)
        h.remove()
        assert rates[-1] == pytest.approx(0.2, abs=0.02), name
        assert got[name]["rate"] == pytest.approx(rates[-1])
        assert got[name]["gain"] > 1.0  # untrained layers are nearly silent at threshold 1
    with pytest.raises(ConfigError, match="MLP or CNN"):
        feature_layers(
            build({"kind": "transformer", "timesteps": 2, "layers": [{}]}, (1, 8, 8), 10)
        )


def test_stdp_strategy_trains_only_the_readout_and_adapts_hidden_layers_by_stdp() -> None:
    stream = make_stream("split-digits", seed=0, n_tasks=3, limit=60)
    results = {}
    for lr in (0.0, 0.05):
        torch.manual_seed(0)
        model = build(SPEC, stream.input_shape, stream.n_classes)
        strategy = STDPReadout(stdp_lr=lr)
        strategy.start(stream)
        snapshots = []
        for k, task in enumerate(stream.tasks):
            before = {n: p.detach().clone() for n, p in model.named_parameters()}
            strategy.train_task(model, task, CFG)
            after = dict(model.named_parameters())
            changed = {n for n in before if not torch.equal(before[n], after[n])}
            snapshots.append(changed)
            if k == 0:
                # calibration scales the feature layers once, before the first task
                assert {"stem.1.weight", "body.1.module.weight"} <= changed
            # the readout learns on every task; gradients never reach the feature layers
            assert {"head.0.module.weight", "head.0.module.bias"} <= changed
            assert all(p.requires_grad for p in model.parameters())  # flags restored
        results[lr] = (snapshots, model)
    off, _ = results[0.0]
    on, model = results[0.05]
    # after calibration: without STDP the features stay fixed; with it only body.1 changes
    assert all(c == {"head.0.module.weight", "head.0.module.bias"} for c in off[1:])
    assert all(
        c == {"head.0.module.weight", "head.0.module.bias", "body.1.module.weight"} for c in on[1:]
    )
    assert not hasattr(model, "_continual_stdp")  # the plasticity hooks are gone afterwards


def test_stdp_strategy_refuses_a_network_without_a_hidden_spiking_layer() -> None:
    stream = make_stream("split-digits", seed=0, n_tasks=2, limit=20)
    one_layer = build({"kind": "mlp", "timesteps": 2, "layers": [{"width": 16}]}, (1, 8, 8), 10)
    with pytest.raises(ConfigError, match="no hidden"):
        run_stream(one_layer, stream, STDPReadout(), CFG)
    # without STDP the calibrated random features are enough: it runs
    res = run_stream(one_layer, stream, STDPReadout(stdp_lr=0.0), CFG)
    assert len(res.r) == 2


class _Frozen:
    """A strategy that learns nothing: the extension point takes any object of this shape."""

    name = "frozen"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def settings(self) -> dict[str, Any]:
        return {}

    def start(self, stream: Stream) -> None:
        self.seen.clear()

    def train_task(self, model: nn.Module, task: Task, cfg: TrainConfig) -> TrainResult:
        self.seen.append(task.name)
        return TrainResult()


def test_a_custom_strategy_plugs_in_and_a_model_that_never_changes_never_forgets() -> None:
    stream = make_stream("split-digits", seed=0, n_tasks=3, limit=30)
    model = build(SPEC, stream.input_shape, stream.n_classes)
    strategy = _Frozen()
    res = run_stream(model, stream, strategy, CFG)
    assert strategy.seen == [t.name for t in stream.tasks]
    assert res.r[0] == res.r[1] == res.r[2]  # same weights, same accuracies at every stage
    assert res.metrics.bwt == pytest.approx(0.0) and res.metrics.forgetting == pytest.approx(0.0)


def test_a_model_with_the_wrong_head_is_refused() -> None:
    stream = make_stream("split-digits", seed=0, n_tasks=2, limit=10)
    with pytest.raises(UserError, match="n_classes=10"):
        run_stream(build(SPEC, stream.input_shape, 4), stream, Naive(), CFG)


# ---------------------------------------------------------------------------- stream runs


@pytest.fixture(scope="module")
def runs(digits_stream: Stream) -> Iterator[dict[str, tuple[ContinualResult, Any]]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {}
    for strategy in (Naive(), Replay(buffer_size=200), STDPReadout(), ReplaySTDP(buffer_size=200)):
        torch.manual_seed(0)
        model = build(SPEC, digits_stream.input_shape, digits_stream.n_classes)
        out[strategy.name] = (run_stream(model, digits_stream, strategy, CFG), strategy)
    yield out
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", ["naive", "replay", "stdp", "replay_stdp"])
def test_a_five_task_split_digits_run_fills_r_and_metrics(
    runs: dict[str, tuple[ContinualResult, Any]], name: str
) -> None:
    res, _ = runs[name]
    r = np.array(res.r)
    assert r.shape == (5, 5) and ((r >= 0) & (r <= 1)).all()
    assert res.strategy == name and res.stream == "split-digits"
    assert res.tasks == ("classes_0_1", "classes_2_3", "classes_4_5", "classes_6_7", "classes_8_9")
    # class-IL: a task not trained yet has classes the model has never been taught
    assert np.triu(r, k=1).max() == 0.0
    assert r[0, 0] > 0.8  # the first task is learned
    assert res.metrics.acc == pytest.approx(r[-1].mean())
    rv = np.array(res.r_val)  # the same matrix on the validation splits, for model selection
    assert rv.shape == (5, 5) and np.triu(rv, k=1).max() == 0.0
    assert res.metrics_val is not None and res.metrics_val.acc == pytest.approx(rv[-1].mean())
    assert [s.epochs for s in res.stages] == [2] * 5
    assert all(s.train_seconds > 0 and s.eval_seconds > 0 for s in res.stages)
    d = json.loads(json.dumps(res.to_dict()))
    assert d["R"] == [list(row) for row in res.r]
    assert {"acc", "bwt", "forgetting", "forgetting_per_task", "curves", "stages"} <= set(d)
    assert d["R_val"] == [list(row) for row in res.r_val] and d["val"]["acc"] == rv[-1].mean()
    assert len(d["forgetting_per_task"]) == 4 and len(d["curves"]) == 5


def test_naive_forgets_and_replay_remembers(
    runs: dict[str, tuple[ContinualResult, Any]],
) -> None:
    naive, _ = runs["naive"]
    replay, strategy = runs["replay"]
    # Naive class-IL ends predicting only the last task's classes: old tasks drop to ~0.
    assert max(naive.r[-1][:-1]) <= 0.05
    assert naive.metrics.bwt < -0.5 and naive.metrics.forgetting > 0.5
    # Measured (seed 0): naive ACC 0.13, BWT -0.75; balanced replay ACC 0.75, BWT +0.26.
    assert replay.metrics.acc > naive.metrics.acc + 0.4
    assert replay.metrics.bwt > naive.metrics.bwt + 0.4
    # the buffer ends full, 20 examples of each of the 10 classes
    assert len(strategy.buffer) == 200
    assert strategy.buffer.class_counts() == dict.fromkeys(range(10), 20)

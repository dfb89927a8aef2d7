"""Distillation, the teacher cache and ANN→SNN conversion on real digits training."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from evolve_cli import evolve

from evolve.data.datasets import Dataset, Split, load_dataset
from evolve.engine.trial import TrialSettings, evaluate_trial
from evolve.errors import UserError
from evolve.training import teachers
from evolve.training.distill import Distiller, kd_loss
from evolve.training.teachers import TeacherCache
from evolve.training.trainer import TrainConfig, evaluate, train
from snn_models import build
from snn_models.ann import build_ann
from snn_models.conversion import convert, set_timesteps

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits", seed=0)


# ----------------------------------------------------------------------------- the KD loss
def test_kd_loss_equals_a_hand_computation() -> None:
    s = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 0.3]])
    t = torch.tensor([[1.0, 1.5, 0.0], [3.0, -1.0, 0.5]])
    y = torch.tensor([0, 1])
    alpha, tau = 0.7, 3.0

    def softmax(row: list[float], temp: float) -> list[float]:
        e = [math.exp(v / temp) for v in row]
        return [v / sum(e) for v in e]

    ce = -sum(math.log(softmax(s[i].tolist(), 1)[int(y[i])]) for i in range(2)) / 2
    kl = 0.0
    for i in range(2):
        p, q = softmax(t[i].tolist(), tau), softmax(s[i].tolist(), tau)
        kl += sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True))
    kl /= 2
    expected = (1 - alpha) * ce + alpha * tau**2 * kl
    got = kd_loss(s, t, y, alpha=alpha, temperature=tau)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    assert kd_loss(s, t, y, alpha=0.0, temperature=tau).item() == pytest.approx(ce, rel=1e-6)
    # the per-step form averages the KL term over steps; the CE stays on the mean logits
    steps = torch.stack([s + 1.0, s - 1.0])
    per_step = kd_loss(s, t, y, alpha=1.0, temperature=tau, steps=steps)
    by_hand = sum(kd_loss(st, t, y, alpha=1.0, temperature=tau) for st in steps) / 2
    assert per_step.item() == pytest.approx(by_hand.item(), rel=1e-6)
    with pytest.raises(UserError, match="kd_alpha"):
        kd_loss(s, t, y, alpha=1.5, temperature=tau)


def test_alpha_zero_trains_exactly_like_plain_training(digits: Dataset) -> None:
    spec = {"kind": "mlp", "timesteps": 2, "layers": [{"width": 32}]}
    small = Split(digits.train.x[:256], digits.train.y[:256])
    cfg = TrainConfig(epochs=2, seed=0, progress=False)
    states = []
    for loss_fn in (None, "kd"):
        torch.manual_seed(0)
        model = build(spec, digits.input_shape, digits.n_classes)
        fn = None
        if loss_fn:
            teacher = build_ann(spec, digits.input_shape, digits.n_classes)
            fn = Distiller(teacher, alpha=0.0, temperature=4.0)
        train(model, small, digits.val, cfg, loss_fn=fn)
        states.append(model.state_dict())
    for k in states[0]:
        assert torch.equal(states[0][k], states[1][k]), k


def test_per_step_distiller_sees_every_step(digits: Dataset) -> None:
    spec = {"kind": "mlp", "timesteps": 3, "layers": [{"width": 16}]}
    model = build(spec, digits.input_shape, digits.n_classes)
    teacher = build_ann(spec, digits.input_shape, digits.n_classes)
    d = Distiller(teacher, alpha=1.0, temperature=2.0, per_step=True)
    d.attach(model)
    x, y = digits.train.x[:8], digits.train.y[:8]
    out = model(x)
    assert d._steps is not None and d._steps.shape == (3, 8, 10)
    loss = d(x, y, out)
    with torch.no_grad():
        z_t = teacher(x)
    expected = kd_loss(out, z_t, y, alpha=1.0, temperature=2.0, steps=d._steps)
    assert loss.item() == pytest.approx(expected.item())
    assert not any(p.requires_grad for p in teacher.parameters())


# ----------------------------------------------------------------------------- teacher cache
def test_teacher_is_trained_once_then_reused(tmp_path: Path, digits: Dataset) -> None:
    cache = TeacherCache(tmp_path / "teachers")
    first = cache.get(digits, "mlp", 32, seed=0, epochs=6)
    assert not first.cached and teachers.TRAINED[first.key.name] >= 1
    count = teachers.TRAINED[first.key.name]
    weights, meta = cache.paths(first.key)
    mtime = weights.stat().st_mtime_ns
    second = cache.get(digits, "mlp", 32, seed=0, epochs=6)
    assert second.cached and teachers.TRAINED[first.key.name] == count
    assert weights.stat().st_mtime_ns == mtime
    x = digits.val.x[:16]
    with torch.no_grad():
        assert torch.equal(first.model.eval()(x), second.model(x))
    m = json.loads(meta.read_text())
    assert m["val_accuracy"] > 0.5 and m["energy_uj"] > 0 and len(m["sha256"]) == 64


@pytest.mark.parametrize(
    "damage", ["garbage weights", "truncated weights", "bad json", "stale data"]
)
def test_a_corrupt_or_stale_entry_is_retrained(
    tmp_path: Path, digits: Dataset, damage: str
) -> None:
    import io

    from evolve.store.runlog import run_log

    cache = TeacherCache(tmp_path / "teachers")
    key = cache.get(digits, "mlp", 16, seed=0, epochs=1).key
    weights, meta = cache.paths(key)
    data = digits
    if damage == "garbage weights":
        weights.write_bytes(b"not a checkpoint")
    elif damage == "truncated weights":
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "bad json":
        meta.write_text("{")
    else:  # the same name, other training data
        data = Dataset(
            digits.name,
            Split(digits.train.x[:500], digits.train.y[:500]),
            digits.val,
            digits.test,
            digits.input_shape,
            digits.n_classes,
            digits.source,
        )
    count = teachers.TRAINED[key.name]
    stream = io.StringIO()
    with run_log(None, echo="WARNING", stream=stream):
        again = cache.get(data, "mlp", 16, seed=0, epochs=1)
    messages = stream.getvalue().splitlines()
    assert not again.cached and teachers.TRAINED[key.name] == count + 1
    assert any("retraining" in m for m in messages), messages
    assert cache.get(data, "mlp", 16, seed=0, epochs=1).cached  # the rewrite is valid


def test_unknown_family_is_bad_input(digits: Dataset, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown teacher family 'rnn'"):
        TeacherCache(tmp_path).get(digits, "rnn")
    with pytest.raises(UserError, match="family: unknown family 'rnn'"):
        teachers.train_teacher(digits, "rnn", cache=tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="is a file"):
        teachers.list_teachers(tmp_path / "file")
    assert teachers.list_teachers(tmp_path / "none") == []


def test_train_teacher_api_trains_then_reuses(digits: Dataset, tmp_path: Path) -> None:
    first = teachers.train_teacher(digits, "mlp", width=16, epochs=1, cache=tmp_path)
    again = teachers.train_teacher(digits, "mlp", width=16, epochs=1, cache=tmp_path)
    assert not first.cached and again.cached and again.key == first.key
    (entry,) = teachers.list_teachers(tmp_path)
    assert entry.ok and entry.name == first.key.name and entry.meta["val_accuracy"] > 0


def test_distilled_trial_records_its_teacher_and_reuses_it(tmp_path: Path, digits: Dataset) -> None:
    arch = {
        "kind": "mlp",
        "depth": 1,
        "timesteps": 2,
        "layer.0.width": 32,
        "kd_enabled": True,
        "kd_alpha": 0.5,
        "kd_temperature": 4.0,
        "kd_teacher_width": 32,
    }
    settings = TrialSettings(epochs=1, seed=0, teacher_dir=str(tmp_path), teacher_epochs=2)
    first = evaluate_trial(arch, digits, settings).attrs["teacher"]
    second = evaluate_trial(
        arch, digits, TrialSettings(epochs=1, seed=1, teacher_dir=str(tmp_path), teacher_epochs=2)
    ).attrs
    assert first["cached"] is False and first["train_seconds"] > 0
    assert second["teacher"]["cached"] is True and second["teacher"]["train_seconds"] == 0.0
    assert second["teacher"]["name"] == first["name"] == "digits-mlp-w32-s0"
    assert second["teacher_energy_uj"] > second["energy_uj"] > 0


# ----------------------------------------------------------------------------- conversion
def test_converted_snn_approaches_the_ann_as_t_grows(digits: Dataset) -> None:
    torch.manual_seed(0)
    spec = {"kind": "mlp", "batchnorm": True, "layers": [{"width": 128}, {"width": 128}]}
    ann = build_ann(spec, digits.input_shape, digits.n_classes)
    train(ann, digits.train, digits.val, TrainConfig(epochs=15, seed=0, progress=False))
    ann_acc = evaluate(ann, digits.test)
    assert ann_acc > 0.95
    snn = convert(ann, [digits.train.x[:512]], timesteps=64)
    accs, errors = {}, {}
    x = digits.test.x
    with torch.no_grad():
        logits = ann.eval()(x)
        for t in (1, 2, 4, 8, 16, 32, 64):
            set_timesteps(snn, t)
            accs[t] = evaluate(snn, digits.test)
            errors[t] = (snn(x) - logits).abs().mean().item()
    ordered = list(accs.values())
    # monotone within noise (one test sample is 0.37 points)
    assert all(b >= a - 0.015 for a, b in itertools.pairwise(ordered)), accs
    assert accs[64] >= ann_acc - 0.01, (accs, ann_acc)
    # the rate code's error on the logits shrinks as T grows
    assert errors[64] < errors[8] < errors[1], errors


def test_init_convert_warm_starts_a_candidate(digits: Dataset) -> None:
    arch = {
        "kind": "mlp",
        "depth": 2,
        "timesteps": 16,
        "init": "convert",
        "soft_reset": True,
        "layer.0.width": 64,
        "layer.0.neuron": "if",
        "layer.1.width": 64,
        "layer.1.neuron": "if",
        "layer.1.threshold": 0.8,
    }
    out = evaluate_trial(arch, digits, TrialSettings(epochs=1, seed=0))
    init = out.attrs["init"]
    assert init["twin_val_accuracy"] > 0.8
    # before any SNN training, the converted weights already classify
    assert init["converted_val_accuracy"] > 0.7, init


# ----------------------------------------------------------------------------- commands


def test_teacher_and_convert_commands(tmp_path: Path) -> None:
    made = evolve("teacher", "train", "--width", "32", "--epochs", "2", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "digits-mlp-w32-s0: trained" in made.stdout
    again = evolve("teacher", "train", "--width", "32", "--epochs", "2", cwd=tmp_path)
    assert "reused from the cache" in again.stdout
    listed = evolve("teacher", "list", cwd=tmp_path)
    assert "digits-mlp-w32-s0" in listed.stdout and " ok" in listed.stdout
    (tmp_path / "runs" / "teachers" / "digits-mlp-w32-s0.pt").write_bytes(b"x")
    assert "will be retrained" in evolve("teacher", "list", cwd=tmp_path).stdout

    conv = evolve("convert", "--epochs", "3", "--timesteps", "4,16", "--no-progress", cwd=tmp_path)
    assert conv.returncode == 0, conv.stderr
    assert "SNN T=16" in conv.stdout and "ANN" in conv.stdout
    run_dir = next((tmp_path / "runs").glob("convert-digits-*"))
    result = json.loads((run_dir / "result.json").read_text())
    assert [r["timesteps"] for r in result["rows"]] == [4, 16]
    reuse = evolve("convert", "--ann", str(run_dir / "ann.pt"), "--timesteps", "8", cwd=tmp_path)
    assert reuse.returncode == 0, reuse.stderr
    assert f"{100 * result['ann_test_accuracy']:6.2f} %" in reuse.stdout


def test_convert_api_returns_rows_and_reuses_its_ann(digits: Dataset, tmp_path: Path) -> None:
    from evolve.training.convert import convert as convert_ann

    arch = {"kind": "mlp", "layers": [{"width": 32}]}
    first = convert_ann(arch, digits, timesteps=[4, 16], epochs=2, out=tmp_path)
    assert [r.timesteps for r in first.rows] == [4, 16]
    assert (first.run_dir / "ann.pt").is_file() and (first.run_dir / "result.json").is_file()
    again = convert_ann(ann=first.run_dir / "ann.pt", dataset=digits, timesteps=[16], out=tmp_path)
    assert again.ann_test_accuracy == first.ann_test_accuracy
    assert again.rows[0].test_accuracy == first.rows[1].test_accuracy
    with pytest.raises(UserError, match=r"percentile must be in \(0, 100\]"):
        convert_ann(arch, digits, percentile=0, out=tmp_path)
    with pytest.raises(UserError, match="timesteps: give positive integers"):
        convert_ann(arch, digits, timesteps=[0], out=tmp_path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["teacher", "train", "--family", "rnn"], "--family: unknown family 'rnn'"),
        (["convert", "--ann", "missing.pt"], "not found"),
        (["convert", "--ann", "junk.pt"], "not a readable PyTorch file"),
        (["convert", "--timesteps", "8,x"], "--timesteps"),
        (["convert", "--percentile", "0"], "--percentile"),
    ],
)
def test_bad_input_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "junk.pt").write_bytes(b"garbage")
    proc = evolve(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_kd_loss_matches_torch_kl() -> None:
    """Cross-check against torch's own KL on probabilities (a second, independent form)."""
    s, t = torch.randn(5, 4), torch.randn(5, 4)
    y = torch.randint(0, 4, (5,))
    p = F.softmax(t / 2, -1)
    kl = (p * (p.log() - F.log_softmax(s / 2, -1))).sum(-1).mean()
    assert kd_loss(s, t, y, alpha=1.0, temperature=2.0).item() == pytest.approx(
        4 * kl.item(), rel=1e-5
    )

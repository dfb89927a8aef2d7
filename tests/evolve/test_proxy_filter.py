"""The proxy filter in a real (tiny) search: pool asked, best trained, the rest recorded PRUNED
with their scores, the budget counting trained trials, resume keeping the settings."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

import evolve
from evolve.data.datasets import load_digits
from evolve.engine.proxy_filter import proxy_batches, score_arch
from evolve.errors import RunError, UserError
from tests.evolve.evolve_cli import api_search

SPACE = (
    "name: tiny_proxy\n"
    "params:\n"
    "  depth: {type: int, low: 1, high: 1}\n"
    "layers:\n"
    "  repeat: depth\n"
    "  params:\n"
    "    width: {type: int, low: 8, high: 32, step: 8}\n"
    "    neuron: {type: categorical, choices: [if, lif]}\n"
    "    threshold: {type: float, low: 0.75, high: 30.0}\n"
    "fixed: {kind: mlp, timesteps: 2}\n"
)
POOL = 3


def _search(tmp_path: Path, trials: int, **kw: object) -> evolve.Run:
    return api_search(str(tmp_path / "tiny.yaml"), tmp_path, trials, **kw)


def test_filter_trains_the_best_of_each_pool_and_resumes(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(SPACE)
    _search(tmp_path, 2, proxy_filter="sahd", proxy_pool=POOL)
    run_dir = tmp_path / "runs" / "p"
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert (cfg["proxy_filter"], cfg["proxy_pool"]) == ("sahd", POOL)

    df = pd.read_parquet(run_dir / "trials.parquet")
    assert len(df) == 2 * POOL  # every proposal is recorded
    rejected = df[df["proxy_rejected"].fillna(False).astype(bool)]
    trained = df[~df.index.isin(rejected.index)]
    assert len(trained) == 2 and set(trained["state"]) == {"COMPLETE"}
    assert len(rejected) == 2 * (POOL - 1) and set(rejected["state"]) == {"PRUNED"}
    assert trained["proxy_score"].notna().all() and rejected["proxy_score"].notna().all()
    assert (trained["proxy_pool"] == POOL).all()
    # each trained trial scored highest in its pool (pools are consecutive trial numbers)
    for _, t in trained.iterrows():
        pool = df[(df["number"] // POOL) == (t["number"] // POOL)]
        assert t["proxy_score"] == pool["proxy_score"].max()
    # the recorded score is the candidate's own, recomputed from its arch
    data = load_digits(seed=0)
    t = trained.iloc[0]
    arch = yaml.safe_load(t["arch"]) if isinstance(t["arch"], str) else dict(t["arch"])
    again = score_arch(arch, data, "sahd", proxy_batches(data, seed=0), seed=int(t["number"]))
    assert math.isclose(again, t["proxy_score"], rel_tol=1e-9)

    # resume: one more trained trial, one more pool; the settings stay the recorded ones
    _search(tmp_path, 3, resume=True)
    df = pd.read_parquet(run_dir / "trials.parquet")
    assert len(df) == 3 * POOL
    assert (df["state"] == "COMPLETE").sum() == 3
    with pytest.raises(RunError, match="proxy_pool=4 differs"):
        _search(tmp_path, 4, resume=True, proxy_filter="sahd", proxy_pool=4)


def test_bad_proxy_settings_record_nothing(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(SPACE)
    with pytest.raises(UserError, match="proxy_pool must be an integer >= 2"):
        _search(tmp_path, 1, proxy_filter="grad", proxy_pool=1)
    with pytest.raises(UserError, match="proxy_filter must be one of sahd, grad"):
        _search(tmp_path, 1, proxy_filter="synflow")
    assert not (tmp_path / "runs" / "p").exists()


def test_only_the_first_proposals_kind_competes() -> None:
    """A CNN scoring higher than every MLP is not chosen when the agent's first proposal of the
    pool is an MLP: a proxy ranks across kinds poorly (docs/proxies.md)."""
    from agents import Proposal
    from evolve.engine.proxy_filter import within_kind

    mlp0, cnn, mlp2, cnn2 = (
        Proposal(i, {"kind": k, "depth": 1}) for i, k in enumerate(("mlp", "cnn", "mlp", "cnn"))
    )
    scored = [(mlp0, 1.0, None), (cnn, 9.0, None), (mlp2, 2.0, None), (cnn2, -math.inf, "x")]
    assert [p.number for p, _, _ in within_kind(scored)] == [0, 2]
    assert [p.number for p, _, _ in within_kind(scored[1:])] == [1, 3]

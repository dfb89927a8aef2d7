"""Crash safety: `evolve search` killed with SIGKILL at random moments — while starting, during a
trial, right as a trial's results are being written, and as a Ray driver — then `--resume`d.

After every kill: the results files parse (atomic writes) and every trial that had finished is
still there, unchanged. At the end: the trials that were running at a kill are FAIL, the finished
count is the one asked for, and only the Pareto front keeps checkpoints. The search process is
never touched while it runs except by the kill: its study is read only once it is dead (reading a
SQLite study while the search creates it can break the search's start-up).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from evolve_cli import evolve
from servers import RAY_ENV

from evolve.store import checkpoints

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
RUNNING = optuna.trial.TrialState.RUNNING
FAIL = optuna.trial.TrialState.FAIL
TINY = """\
name: tiny
params:
  kind: {type: categorical, choices: [mlp], default: mlp}
  depth: {type: int, low: 1, high: 1, default: 1}
  timesteps: {type: int, low: 1, high: 2, default: 1}
layers:
  repeat: depth
  params:
    width: {type: int, low: 8, high: 16, default: 8}
    neuron: {type: categorical, choices: [lif], default: lif}
"""
TOKEN = "EVOLVE_TEST_TOKEN"


def token_env(base: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """``base`` plus a unique marker every process started from it inherits (Ray's too)."""
    token = uuid.uuid4().hex
    return {**base, TOKEN: token}, token


def processes_with(token: str) -> list[int]:
    """Live processes (Linux /proc) whose environment carries ``token``."""
    mark = f"{TOKEN}={token}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def no_processes_left(token: str, wait: float = 60) -> list[str]:
    """Wait for every process carrying ``token`` to end; kill (by id) those still there after
    ``wait`` seconds and return them as ``"PID command"``."""
    deadline = time.monotonic() + wait
    while (left := processes_with(token)) and time.monotonic() < deadline:
        time.sleep(0.5)
    named = []
    for pid in left:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            command = b"?"
        named.append(f"{pid} {command.decode(errors='replace').strip()[:120]}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return named


@dataclass(frozen=True)
class Seen:
    """A trial as read from the study."""

    state: optuna.trial.TrialState
    values: tuple[float, ...] | None
    attrs: str  # user attributes as sorted JSON


def _snapshot(run_dir: Path) -> dict[int, Seen]:
    """The study's trials, read only while no search process runs (empty if not created yet)."""
    if not (run_dir / "study.db").exists():
        return {}
    try:
        study = optuna.load_study(
            study_name=run_dir.name, storage=f"sqlite:///{run_dir / 'study.db'}"
        )
    except KeyError:  # killed before the study was created
        return {}
    return {
        t.number: Seen(
            t.state,
            tuple(t.values) if t.values is not None else None,
            json.dumps(t.user_attrs, sort_keys=True, default=str),
        )
        for t in study.get_trials(deepcopy=False)
    }


def _files_parse(run_dir: Path) -> None:
    """What the run folder holds is whole: atomic writes never leave half a file."""
    if (run_dir / "config.yaml").exists():
        assert yaml.safe_load((run_dir / "config.yaml").read_text())["space"]
    if (run_dir / "pareto.json").exists():
        assert "front" in json.loads((run_dir / "pareto.json").read_text())
    if (run_dir / "trials.parquet").exists():
        pd.read_parquet(run_dir / "trials.parquet")
    for number in checkpoints.saved_trials(run_dir):
        checkpoints.load(run_dir, number)


def _start(tmp_path: Path, args: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """The search in a subprocess; its stderr goes to ``tmp_path/stderr.txt`` (not to a pipe
    that could fill up while nobody reads it)."""
    with (tmp_path / "stderr.txt").open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "evolve", *args],
            cwd=tmp_path,
            env=dict(env),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def _wait_for(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float = 180
) -> None:
    """Poll ``ready`` (files only) every 2 ms until it holds; fail if the search ends first."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the search ended (status {proc.returncode}) before the kill")
        if time.monotonic() > deadline:
            pytest.fail("the kill point was not reached in time")
        time.sleep(0.002)


class _Life:
    """One search process and what it has written so far (file sizes and times, never the DB)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.log_start = self._size("log.txt")
        self._pareto_mtime = self._mtime("pareto.json")
        self._pareto_writes = 0

    def _size(self, name: str) -> int:
        path = self.run_dir / name
        return path.stat().st_size if path.exists() else 0

    def _mtime(self, name: str) -> int:
        path = self.run_dir / name
        try:
            return path.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def new_log(self) -> str:
        path = self.run_dir / "log.txt"
        if not path.exists():
            return ""
        with path.open("rb") as f:
            f.seek(self.log_start)
            return f.read().decode(errors="replace")

    def trials_started(self) -> int:
        return self.new_log().count(" arch {")

    def pareto_writes(self) -> int:
        """0 before this process wrote pareto.json, then 1 (at the loop's start), 2, ... — a
        change of mtime counts as one write (writes closer than the clock's grain merge)."""
        mtime = self._mtime("pareto.json")
        if mtime != self._pareto_mtime:
            self._pareto_mtime = mtime
            self._pareto_writes += 1
        return self._pareto_writes


def _reach(where: str, proc: subprocess.Popen[bytes], life: _Life, rng: random.Random) -> None:
    """Wait (reading files only) until the search is at the kill point ``where``."""
    if where == "record":  # the run record is written, the study is being created
        _wait_for(proc, lambda: (life.run_dir / "config.yaml").exists())
    elif where == "startup":  # imports, data, reference point, study: before the trial loop
        deadline = time.monotonic() + rng.uniform(0.5, 4.0)
        _wait_for(proc, lambda: time.monotonic() > deadline or life.pareto_writes() >= 1)
    elif where == "trial":  # just after the 1st or 2nd trial of this process started
        n = rng.choice((1, 2))
        _wait_for(proc, lambda: life.trials_started() >= n)
        time.sleep(rng.uniform(0.0, 0.1))
    elif where == "write":  # pareto.json just replaced: trials.parquet and pruning come next
        n = rng.choice((2, 3))
        _wait_for(proc, lambda: life.pareto_writes() >= n)
    else:  # anywhere in the trial loop's first moments
        _wait_for(proc, lambda: life.pareto_writes() >= 1)
        time.sleep(rng.uniform(0.0, 0.6))


def test_random_sigkills_then_resume_lose_nothing(tmp_path: Path) -> None:
    """Ten SIGKILLs at seeded random moments of a local search, each followed by --resume."""
    rng = random.Random(20240611)
    request = 30  # more than the kills let finish, so that every life ends by a kill
    (tmp_path / "tiny.yaml").write_text(TINY)
    run_dir = tmp_path / "runs" / "crash"
    args = ["search", "--space", "tiny.yaml", "--study", "crash", "--trials", str(request),
            "--epochs", "3", "--no-progress", "--no-early-stop"]  # fmt: skip
    env, token = token_env({**os.environ, "OMP_NUM_THREADS": "1"})
    # where each life is killed: once as the run record appears (the study being created), while
    # starting (imports, data, study), during a trial, and right as a trial's results are written
    plan = ["record", "startup", "startup", "trial", "trial", "trial", "write", "write", "write",
            "loop"]  # fmt: skip
    rng.shuffle(plan)
    plan.remove("record")
    plan.insert(0, "record")  # only the first life creates the run record
    finished: dict[int, Seen] = {}
    running_at_kill: set[int] = set()
    landed: list[str] = []
    try:
        for where in plan:
            resume = (run_dir / "config.yaml").exists()
            life = _Life(run_dir)
            proc = _start(tmp_path, args + (["--resume"] if resume else []), env)
            _reach(where, proc, life, rng)
            if proc.poll() is not None:
                err = (tmp_path / "stderr.txt").read_text()[-2000:]
                pytest.fail(f"life {len(landed)} ended (status {proc.returncode}) unkilled: {err}")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            assert proc.returncode == -signal.SIGKILL

            _files_parse(run_dir)
            seen = _snapshot(run_dir)
            for number, before in finished.items():
                assert seen.get(number) == before, f"finished trial {number} changed by a kill"
            finished.update({n: t for n, t in seen.items() if t.state in FINISHED})
            running = {n for n, t in seen.items() if t.state == RUNNING}
            running_at_kill |= running
            landed.append(f"{where}: {len(finished)} finished, running {sorted(running)}")
    finally:
        left = no_processes_left(token, wait=10)
    assert not left, f"search processes left after the kills: {left}"
    print("\n".join(landed))  # where the kills landed (pytest -s)
    assert len(landed) >= 10
    assert running_at_kill, f"no kill landed during a trial: {landed}"

    done = evolve("search", "--study", "crash", "--resume", "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    final = _snapshot(run_dir)
    for number, before in finished.items():
        assert final[number] == before, f"finished trial {number} changed on resume"
    for number in running_at_kill:
        assert final[number].state == FAIL, f"trial {number}, running at a kill, is not FAIL"
    assert not [n for n, t in final.items() if t.state == RUNNING]
    assert sum(t.state in FINISHED for t in final.values()) == request, landed
    study = optuna.load_study(study_name="crash", storage=f"sqlite:///{run_dir / 'study.db'}")
    assert running_at_kill <= set(study.user_attrs["recovered_stale_trials"])
    _files_parse(run_dir)
    front = json.loads((run_dir / "pareto.json").read_text())["front"]
    assert checkpoints.saved_trials(run_dir) == sorted(p["trial"] for p in front)
    assert not [p.name for p in run_dir.rglob(".*.tmp")], "partial writes were cleaned up"
    table = pd.read_parquet(run_dir / "trials.parquet")
    assert sorted(table["number"]) == sorted(final)


#: Ray processes that outlive a killed driver for a while: after their raylet dies they report
#: it to the (dead) GCS with a 60 s timeout (``ray._private.utils.publish_error_to_driver``).
RAY_AGENTS = ("ray::DashboardAgent", "ray::RuntimeEnvAgent")
RAY_AGENT_GRACE = 90.0


def _commands(token: str) -> list[str]:
    """The command names of the processes carrying ``token``."""
    names = []
    for pid in processes_with(token):
        try:
            names.append(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode().strip())
        except OSError:
            continue
    return names


def test_a_killed_ray_driver_is_resumed_locally(tmp_path: Path) -> None:
    """SIGKILL the driver of a Ray search mid-trial; its local Ray goes with it; a local
    --resume keeps what finished, fails what ran, and completes the count."""
    request = 4
    (tmp_path / "tiny.yaml").write_text(TINY)
    run_dir = tmp_path / "runs" / "ray"
    env, token = token_env({**RAY_ENV, "OMP_NUM_THREADS": "1"})
    proc = _start(
        tmp_path,
        ["search", "--space", "tiny.yaml", "--study", "ray", "--trials", str(request),
         "--epochs", "3", "--no-progress", "--no-early-stop", "--backend", "ray",
         "--workers", "1"],
        env,
    )  # fmt: skip
    life = _Life(run_dir)
    try:
        # a trial has finished (told, results written): the next one is on the Ray worker
        _wait_for(proc, lambda: " complete: {" in life.new_log(), timeout=300)
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        killed_at = time.monotonic()
        # the local Ray started by the driver goes with it: raylet, GCS and workers at once ...
        deadline = killed_at + 30
        while set(_commands(token)) - set(RAY_AGENTS) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert set(_commands(token)) <= set(RAY_AGENTS), _commands(token)
        _files_parse(run_dir)
        before = _snapshot(run_dir)
        finished = {n: t for n, t in before.items() if t.state in FINISHED}
        running = {n for n, t in before.items() if t.state == RUNNING}
        assert finished and len(finished) < request

        done = evolve(
            "search", "--study", "ray", "--resume", "--backend", "local", "--no-progress",
            cwd=tmp_path,
        )  # fmt: skip
        # ... its two agents first try to tell the dead GCS that their raylet died (Ray gives
        # that report 60 s), then exit too
        left = no_processes_left(
            token, wait=max(0.0, killed_at + RAY_AGENT_GRACE - time.monotonic())
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
        no_processes_left(token, wait=0)
    assert not left, f"Ray processes outlived their driver by {RAY_AGENT_GRACE} s: {left}"
    assert done.returncode == 0, done.stderr[-3000:]
    final = _snapshot(run_dir)
    for number, seen in finished.items():
        assert final[number] == seen
    for number in running:
        assert final[number].state == FAIL
    assert sum(t.state in FINISHED for t in final.values()) == request
    front = json.loads((run_dir / "pareto.json").read_text())["front"]
    assert checkpoints.saved_trials(run_dir) == sorted(p["trial"] for p in front)


def test_a_study_whose_creation_was_interrupted_resumes(tmp_path: Path) -> None:
    """A kill between creating the Optuna study and recording its objectives (a window too
    narrow to hit at random) leaves a bare study: --resume finishes its record."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    run_dir = tmp_path / "runs" / "bare"
    env, token = token_env({**os.environ, "OMP_NUM_THREADS": "1"})
    proc = _start(
        tmp_path,
        ["search", "--space", "tiny.yaml", "--study", "bare", "--trials", "2", "--epochs", "1",
         "--no-progress"],
        env,
    )  # fmt: skip
    try:
        _wait_for(proc, lambda: (run_dir / "config.yaml").exists())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        no_processes_left(token, wait=0)
    # what the kill would leave had it landed after create_study: the study, nothing recorded
    storage = f"sqlite:///{run_dir / 'study.db'}"
    if "bare" in optuna.get_all_study_names(storage):
        optuna.delete_study(study_name="bare", storage=storage)
    optuna.create_study(storage=storage, study_name="bare", directions=["maximize", "minimize"])
    done = evolve("search", "--study", "bare", "--resume", "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    study = optuna.load_study(study_name="bare", storage=storage)
    assert study.user_attrs["space"] == "tiny" and len(study.user_attrs["objectives"]) == 2
    assert sum(t.state in FINISHED for t in study.trials) == 2

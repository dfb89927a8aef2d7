"""Searching on a Ray cluster, several processes on PostgreSQL, and optuna-dashboard — with real
servers on 127.0.0.1 that each test starts and stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import optuna
import pytest
from evolve_cli import evolve
from servers import (
    RAY_ENV,
    dashboard,
    pids_whose_command_starts_with,
    postgres,
    ray_head,
    wait_until,
)

from agents import open_storage
from evolve.cli import main
from evolve.store import checkpoints

CHROMIUM = "/usr/bin/chromium"
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
TINY = (
    "name: tiny\n"
    "params:\n"
    "  kind: {type: categorical, choices: [mlp], default: mlp}\n"
    "  depth: {type: int, low: 1, high: 1, default: 1}\n"
    "  timesteps: {type: int, low: 2, high: 3, default: 2}\n"
    "layers:\n"
    "  repeat: depth\n"
    "  params:\n"
    "    width: {type: int, low: 16, high: 64, step: 16, default: 32}\n"
    "    neuron: {type: categorical, choices: [if, lif], default: lif}\n"
)


def _study(storage: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(storage))


def _sqlite(run_dir: Path) -> str:
    return f"sqlite:///{run_dir / 'study.db'}"


def _evolve_env() -> dict[str, str]:
    return {**RAY_ENV, "OMP_NUM_THREADS": "1"}


def test_a_search_joins_a_ray_head_by_address(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    with ray_head() as address:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "evolve",
                "search",
                "--space",
                "tiny.yaml",
                "--trials",
                "4",
                "--epochs",
                "2",
                "--study",
                "r",
                "--backend",
                "ray",
                "--workers",
                "2",
                "--ray-address",
                address,
                "--no-progress",
            ],
            cwd=tmp_path,
            env=_evolve_env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "runs" / "r"
    study = _study(_sqlite(run_dir), "r")
    finished = [t for t in study.trials if t.state in FINISHED]
    assert len(finished) == 4
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    for t in finished:
        assert t.user_attrs["arch"]["kind"] == "mlp"
        assert len(t.user_attrs["curve"]) >= 1  # the epochs went through the driver's stopper
    for t in study.trials:
        if t.state == optuna.trial.TrialState.COMPLETE:
            assert t.user_attrs["energy_uj"] > 0 and 0 <= t.user_attrs["test_accuracy"] <= 1
        if t.state == optuna.trial.TrialState.PRUNED:
            assert t.values is None  # stopped early: never COMPLETE with partial metrics
    front = sorted(p["trial"] for p in json.loads((run_dir / "pareto.json").read_text())["front"])
    assert front and checkpoints.saved_trials(run_dir) == front
    assert "Pareto front" in proc.stdout


def test_killing_a_ray_worker_mid_trial_loses_nothing(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    run_dir = tmp_path / "runs" / "k"
    args = [
        sys.executable,
        "-m",
        "evolve",
        "search",
        "--space",
        "tiny.yaml",
        "--trials",
        "6",
        "--epochs",
        "20",  # trials of a second or more after the workers warm up: a window to kill in
        "--study",
        "k",
        "--backend",
        "ray",
        "--workers",
        "2",
        "--no-early-stop",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        args, cwd=tmp_path, env=_evolve_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    killed: list[int] = []
    before: dict[int, tuple[float, ...]] = {}
    try:

        def a_trial_is_running() -> bool:
            if proc.poll() is not None:  # it finished with nothing killed: fail now, not later
                raise AssertionError(f"the search ended before a kill: {proc.stderr.read()!r}")
            if not (run_dir / "study.db").exists():
                return False
            try:
                study = _study(_sqlite(run_dir), "k")
            except KeyError:  # the study is not created yet
                return False
            trials = study.trials
            running = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
            done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
            if not done or not any(t.user_attrs.get("curve") for t in running):
                return False
            workers = pids_whose_command_starts_with("ray::ImplicitFunc")
            if not workers:
                return False
            before.update({t.number: tuple(t.values) for t in done})
            os.kill(workers[0], signal.SIGKILL)  # mid-trial: it has reported an epoch
            killed.append(workers[0])
            return True

        wait_until(a_trial_is_running, 300, "a running Ray trial", interval=0.1)
        _, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
        subprocess.run(
            [str(Path(sys.executable).parent / "ray"), "stop", "--force"],
            env=RAY_ENV,
            capture_output=True,
            timeout=180,
        )
    assert killed
    assert proc.returncode == 0, err.decode()[-3000:]
    study = _study(_sqlite(run_dir), "k")
    finished = [t for t in study.trials if t.state in FINISHED]
    assert len(finished) == 6, [(t.number, t.state.name) for t in study.trials]
    for number, values in before.items():  # nothing recorded before the kill changed
        assert study.trials[number].state == optuna.trial.TrialState.COMPLETE
        assert tuple(study.trials[number].values) == values
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]


def test_two_processes_share_one_postgresql_study(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    with postgres() as url:

        def search(out: str) -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "evolve",
                    "search",
                    "--space",
                    "tiny.yaml",
                    "--trials",
                    "8",
                    "--epochs",
                    "3",
                    "--study",
                    "shared",
                    "--storage",
                    url,
                    "--join",
                    "--out",
                    out,
                    "--no-progress",
                    "-v",
                ],
                cwd=tmp_path,
                env=_evolve_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )

        first, second = search("a"), search("b")  # at once: both may try to create it
        try:
            errors = [p.communicate(timeout=600)[1].decode() for p in (first, second)]
        finally:
            for p in (first, second):
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=60)
        assert first.returncode == 0 and second.returncode == 0, errors
        study = _study(url, "shared")
        trials = study.trials
        assert sorted(t.number for t in trials) == list(range(len(trials)))
        finished = [t for t in trials if t.state in FINISHED]
        # each process stops once the study holds 8 finished or running trials; two that check
        # at the same instant may each start one more: at most one extra with two processes
        assert len(finished) == len(trials), [t.state.name for t in trials]
        assert 8 <= len(trials) <= 9
        done_by = {}
        for side in ("a", "b"):
            log = (tmp_path / side / "shared" / "log.txt").read_text()
            done_by[side] = {
                t.number
                for t in trials
                if f"trial {t.number} complete" in log or f"trial {t.number} pruned" in log
            }
        assert done_by["a"] and done_by["b"], "both processes ran trials"
        assert not done_by["a"] & done_by["b"], "no trial was run twice"
        assert done_by["a"] | done_by["b"] == {t.number for t in finished}


def test_dashboard_serves_the_study_to_a_real_browser(tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: apt-get install chromium (.ci/run does)"
    (tmp_path / "tiny.yaml").write_text(TINY)
    done = evolve(
        "search",
        "--space",
        "tiny.yaml",
        "--trials",
        "2",
        "--epochs",
        "1",
        "--study",
        "dash",
        "--no-progress",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    run_dir = tmp_path / "runs" / "dash"
    with dashboard(run_dir, tmp_path) as base:
        with urllib.request.urlopen(f"{base}/api/studies", timeout=10) as r:
            studies = json.loads(r.read())["study_summaries"]
        study = next(s for s in studies if s["study_name"] == "dash")
        sid = study["study_id"]
        with urllib.request.urlopen(f"{base}/api/studies/{sid}?after=0", timeout=10) as r:
            detail = json.loads(r.read())
        assert len(detail["trials"]) == 2
        # the panels name the objectives (not "Objective 0 / Objective 1")
        assert detail["objective_names"] == ["accuracy", "energy_uj"]

        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            try:
                page = browser.new_page()
                page.goto(f"{base}/dashboard/studies/{sid}", timeout=60_000)
                # the study page: its name (and id) in the header, the Pareto-front plot
                page.get_by_text(f"dash (id={sid})").first.wait_for(timeout=60_000)
                page.get_by_text("Pareto Front").first.wait_for(timeout=60_000)
                # the trials list: the trial count and each trial
                page.goto(f"{base}/dashboard/studies/{sid}/trials", timeout=60_000)
                page.get_by_text("2 Trials").first.wait_for(timeout=60_000)
                text = page.inner_text("body")
                page.screenshot(path=str(tmp_path / "dashboard.png"))
            finally:
                browser.close()
        assert f"dash (id={sid})" in text and "2 Trials" in text
        assert "Trial 0" in text and "Trial 1" in text
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "ray", "--workers", "0"], "--workers must be an integer >= 1"),
        (["--backend", "ray", "--ray-address", "nowhere"], "--ray-address 'nowhere'"),
        (["--workers", "2"], "--workers applies to Ray runs; add --backend ray"),
        (["--study", "j", "--join"], "--join: several processes on one SQLite file"),
        (["--join"], "--join needs --study"),
        (["--storage", "mysterious"], "neither a database URL"),
        (["--agent", "ray"], "use --agent optuna --backend ray"),
    ],
)
def test_bad_cluster_flags_are_one_line_and_record_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    out = tmp_path / "runs"
    code = main(["search", "--space", str(tmp_path / "tiny.yaml"), "--out", str(out), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not any((out / "j").glob("*.db")) and not list(out.glob("*/config.yaml"))


def test_dashboard_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard"]) == 2
    assert "give a run folder" in capsys.readouterr().err
    assert main(["dashboard", str(tmp_path)]) == 2
    assert "not a search run folder" in capsys.readouterr().err
    assert main(["dashboard", str(tmp_path), "--port", "0"]) == 2
    assert "--port must be 1-65535" in capsys.readouterr().err


def test_a_journal_file_storage_holds_a_search(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    journal = tmp_path / "shared.log"
    proc = evolve(
        "search", "--space", "tiny.yaml", "--trials", "2", "--epochs", "1", "--study", "jr",
        "--storage", str(journal), "--no-progress", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert journal.stat().st_size > 0 and not (tmp_path / "runs" / "jr" / "study.db").exists()
    study = _study(str(journal), "jr")
    assert len([t for t in study.trials if t.state in FINISHED]) == 2
    shown = evolve("show", "runs/jr", cwd=tmp_path)
    assert shown.returncode == 0 and "Pareto front" in shown.stdout

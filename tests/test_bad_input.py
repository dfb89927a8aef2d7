"""Bad input, for every `evolve` command: one line naming the problem, exit code 2, no traceback,
and nothing recorded before is changed.

One real run folder (a 2-trial search through the real entry point) and one export of it are made
per module; every row then runs a command against them (or against a damaged copy) in-process
through :func:`evolve.cli.main`, and a few through ``python -m evolve`` in a subprocess. Before and
after each row every file and folder under the module's folder and the row's own folder is hashed:
a refusal must leave them byte for byte as they were (no log line appended, no empty folder made).

``main`` re-raises any error that is not bad input, so a crash fails its row with the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from evolve.cli import main

ROOT = Path(__file__).resolve().parents[1]
ROW_TIMEOUT_S = 120
#: The tiny space of the shared run: one LIF layer of 8 or 16 units, T = 2 (a trial takes ~1 s).
TINY = (
    "name: tiny\n"
    "params:\n"
    "  depth: {type: int, low: 1, high: 1}\n"
    "layers:\n"
    "  repeat: depth\n"
    "  params:\n"
    "    width: {type: int, low: 8, high: 16, step: 8}\n"
    "    neuron: {type: categorical, choices: [lif]}\n"
    "fixed: {kind: mlp, timesteps: 2}\n"
)
#: What a code-running file would create if it were ever executed (it must never exist).
MARKER = "EXECUTED"


class Exploit:
    """Unpickling this runs a shell command: torch.load(weights_only=True) must refuse it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


# ----------------------------------------------------------------------------- the world
@dataclass
class World:
    base: Path  # everything made once: data files, YAML files, the run, the export
    run: Path
    export: Path

    @property
    def marker(self) -> Path:
        return self.base / MARKER


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)
    return path


def _junk(n: int = 4096, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _laughs(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def _yaml_files(base: Path, marker: Path) -> None:
    y = base / "yaml"
    good_dim = "  depth: {type: int, low: 1, high: 3}\n"
    _write(y / "deep.yaml", "name: t\nparams: " + "[" * 10000 + "]" * 10000 + "\n")
    _write(y / "deep_block.yaml", "".join("  " * i + f"k{i}:\n" for i in range(3000)))
    _write(y / "laughs.yaml", "name: t\n" + _laughs())
    _write(
        y / "pyobj.yaml",
        f"name: !!python/object/apply:os.system ['touch {marker}']\nparams:\n{good_dim}",
    )
    _write(y / "pyname.yaml", f"name: !!python/name:os.system\nparams:\n{good_dim}")
    _write(
        y / "bigint.yaml",
        "name: t\nparams:\n  depth: {type: int, low: 1, high: 9" + "9" * 9999 + "}\n",
    )
    _write(
        y / "hugeint.yaml",
        "name: t\nparams:\n  depth: {type: int, low: 1, high: " + "9" * 400 + "}\n",
    )
    _write(y / "inf.yaml", "name: t\nparams:\n  lr: {type: float, low: 0.0, high: 1.0e+400}\n")
    _write(y / "nan.yaml", "name: t\nparams:\n  lr: {type: float, low: .nan, high: 1.0}\n")
    _write(y / "intkey.yaml", f"name: t\n1: x\nparams:\n{good_dim}")
    _write(y / "dupkey.yaml", f"name: t\nname: u\nparams:\n{good_dim}")
    _write(y / "binary.yaml", _junk())
    _write(y / "latin1.yaml", "name: caf\xe9\n".encode("latin-1"))
    _write(y / "empty.yaml", "")
    _write(y / "list.yaml", "- name\n- params\n")
    _write(y / "unknown_key.yaml", TINY + "colour: red\n")
    _write(y / "typo_key.yaml", "name: t\nparams:\n  depth: {type: int, low: 1, hihg: 3}\n")
    _write(y / "bounds.yaml", "name: t\nparams:\n  depth: {type: int, low: 3, high: 1}\n")
    _write(y / "layers.yaml", TINY.replace("repeat: depth", "repeat: 100000000000"))
    _write(y / "two_docs.yaml", TINY + "---\n" + TINY)
    _write(y / "tabs.yaml", "name: t\nparams:\n\tdepth: {type: int, low: 1, high: 3}\n")
    (y / "folder.yaml").mkdir()
    # architecture files for `train --arch` / `convert --arch`
    a = base / "arch"
    _write(a / "deep.yaml", "kind: mlp\nlayers: " + "[" * 10000 + "]" * 10000 + "\n")
    _write(a / "laughs.yaml", "kind: mlp\n" + _laughs(8) + "layers: *a7\n")
    _write(a / "pyobj.yaml", f"kind: !!python/object/apply:os.system ['touch {marker}']\n")
    _write(a / "bigint.yaml", "kind: mlp\nlayers: [{width: 1" + "0" * 9999 + "}]\n")
    _write(a / "binary.yaml", _junk())
    _write(a / "intkey.yaml", "kind: mlp\n1: x\nlayers: [{width: 8}]\n")
    _write(a / "unknown.yaml", "kind: mlp\nlayers: [{width: 8, colour: red}]\n")
    _write(a / "list.yaml", "- kind\n- mlp\n")
    _write(a / "train_type.yaml", "kind: mlp\nlayers: [{width: 8}]\ntrain: {epochs: many}\n")
    _write(a / "train_nan.yaml", "kind: mlp\nlayers: [{width: 8}]\ntrain: {lr: .nan}\n")
    _write(a / "width_text.yaml", "kind: mlp\nlayers: [{width: wide}]\n")
    _write(a / "preprocess.yaml", "kind: mlp\npreprocess: zscore\nlayers: [{width: 8}]\n")
    _write(a / "encoder.yaml", "kind: mlp\nencoder: poisson\nlayers: [{width: 8}]\n")
    _write(a / "transformer.yaml", "kind: transformer\nlayers: [{attention: sdsa}]\n")
    _write(a / "broken.yaml", "kind: mlp\nlayers: [{width: 8}\n")


def _data_files(base: Path) -> None:
    d = base / "data"
    rng = np.random.default_rng(0)
    _write(d / "garbage.npz", _junk())
    _write(d / "empty.npz", b"")
    np.savez(d / "no_xy.npz", a=np.zeros(3))
    np.savez(d / "wrong_shape.npz", x=rng.random((40, 4)), y=np.zeros((40, 2), dtype=np.int64))
    np.savez(d / "float_labels.npz", x=rng.random((40, 4)), y=rng.random(40))
    np.savez(d / "one_class.npz", x=rng.random((40, 4)), y=np.zeros(40, dtype=np.int64))
    np.savez(d / "objects.npz", x=np.array([{"a": 1}] * 40, dtype=object), y=np.zeros(40))
    _write(d / "garbage.csv", _junk())
    _write(d / "empty.csv", "")
    _write(d / "no_label.csv", "a,b,c\n1,2,3\n4,5,6\n")
    _write(d / "text.csv", "label,t0,t1\n0,a,b\n1,c,d\n")
    _write(d / "garbage.parquet", _junk())
    _write(d / "notes.txt", "hello\n")
    # a table of named features (tabular data) and an array of no data kind
    _write(d / "tabular.csv", "label,height,mass\n" + "cat,1,2\ndog,3,4\n" * 6)
    np.savez(d / "five_d.npz", x=rng.random((40, 2, 2, 2, 2)), y=np.arange(40) % 2)
    # Fashion-MNIST folders (--data-dir): garbage, then a header promising more than is there
    names = (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    )
    for name in names:
        _write(d / "idx_garbage" / name, gzip.compress(_junk(64)))
        _write(
            d / "idx_truncated" / name,
            gzip.compress(b"\x00\x00\x08\x01" + (1000).to_bytes(4, "big") + b"\x00" * 10),
        )
        _write(d / "idx_not_gzip" / name, _junk(64))
    (d / "idx_empty").mkdir()
    # predict inputs
    np.save(d / "x_wrong.npy", rng.random((5, 10)).astype(np.float32))
    np.save(d / "x_nan.npy", np.full((5, 64), np.nan, dtype=np.float32))
    np.save(d / "x_ok.npy", rng.random((5, 64)).astype(np.float32))
    np.save(d / "x_none.npy", np.zeros((0, 64), dtype=np.float32))
    np.save(d / "labels_short.npy", np.zeros(2, dtype=np.int64))
    np.save(d / "labels_text.npy", np.array(["a"] * 5))
    np.save(d / "labels_unknown.npy", np.array([1, 2, 3, 12, 4]))
    _write(d / "garbage.npy", _junk())
    _write(d / "labels_garbage.npy", _junk())
    _write(d / "x_text.csv", "p0,p1\nab,cd\n")
    _write(
        d / "x_text_labels.csv",
        "label," + ",".join(f"p{i}" for i in range(64)) + "\n" + "cat," + ",".join("0" * 64) + "\n",
    )
    # storages that are not Optuna databases
    _write(d / "text.db", "this is not a database\n")
    with contextlib.closing(sqlite3.connect(d / "other.db")) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO customers (name) VALUES ('ada')")
        db.commit()
    # ECG excerpts
    _write(d / "ecg_columns.csv", "time,value\n" + "0,1\n" * 2000)
    _write(d / "ecg_labels.csv", "data,label\n" + "0.1,7\n" * 2000)
    _write(d / "ecg_short.csv", "data,label\n" + "0.1,0\n" * 10)
    # teacher caches
    _write(d / "cache_list" / "digits-mlp-w8-s0.json", "[1, 2, 3]")
    _write(d / "cache_junk" / "digits-mlp-w8-s0.json", _junk())


def _nir_files(base: Path, run: Path) -> None:
    import nir

    from evolve.store import checkpoints
    from snn_models.nir_io import to_nir

    n = base / "nir"
    _write(n / "garbage.nir", _junk())
    _write(n / "empty.nir", b"")
    ckpt = checkpoints.load(run, 0)
    good = to_nir(ckpt.model, ckpt.input_shape)
    nir.write(str(n / "good.nir"), good)

    def variant(name: str, change: Callable[[Any], None]) -> None:
        graph = nir.read(str(n / "good.nir"))
        change(graph)
        nir.write(str(n / name), graph)

    def cycle(g: Any) -> None:
        g.edges.append((g.edges[-1][1], g.edges[1][0]))  # output -> back into the chain

    def no_shape(g: Any) -> None:  # no usable shape (without one, the Input node's is used)
        g.metadata["input_shape"] = [0]

    def zero_tau(g: Any) -> None:
        lif = next(v for v in g.nodes.values() if isinstance(v, nir.LIF))
        lif.tau = np.zeros_like(lif.tau)
        lif.r = np.zeros_like(lif.r)

    def bad_steps(g: Any) -> None:
        g.metadata["timesteps"] = "many"

    def wrong_weights(g: Any) -> None:
        affine = next(v for v in g.nodes.values() if isinstance(v, nir.Affine))
        affine.weight = np.zeros((affine.weight.shape[0], 3), dtype=np.float32)

    def branch(g: Any) -> None:
        g.edges.append((g.edges[0][0], g.edges[-1][1]))

    for name, change in (
        ("cycle.nir", cycle),
        ("no_shape.nir", no_shape),
        ("zero_tau.nir", zero_tau),
        ("bad_steps.nir", bad_steps),
        ("wrong_weights.nir", wrong_weights),
        ("branch.nir", branch),
    ):
        variant(name, change)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("bad_input")
    _write(base / "tiny.yaml", TINY)
    proc = subprocess.run(
        [sys.executable, "-m", "evolve", "search", "--space", "tiny.yaml", "--trials", "2",
         "--epochs", "1", "--study", "r", "--no-progress", "--no-early-stop"],
        cwd=base, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run = base / "runs" / "r"
    assert (run / "checkpoints" / "trial_0.pt").is_file(), "trial 0 is alone on the front"
    export = base / "exp"
    code, _, err = _in_process(["export", str(run), "--trial", "0", "--format", "torchscript",
                                "--out", str(export)], base)  # fmt: skip
    assert code == 0, err
    _yaml_files(base, base / MARKER)
    _data_files(base)
    _nir_files(base, run)
    return World(base=base, run=run, export=export)


# ----------------------------------------------------------------------------- damage
def _checkpoint_blob(path: Path) -> dict[str, Any]:
    blob: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    return blob


def _damage(path: Path, how: str, marker: Path) -> None:
    """Replace a checkpoint-like file (``trial_N.pt`` / ``model.pt``) with a damaged one."""
    raw = path.read_bytes()
    if how == "random":
        path.write_bytes(_junk(len(raw), seed=1))
    elif how == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "exploit":
        torch.save({"format": 1, "state_dict": Exploit(marker)}, path)
    elif how == "other_format":
        torch.save({"format": 99, "weights": torch.zeros(3)}, path)
    elif how == "not_a_dict":
        torch.save([torch.zeros(3)], path)
    elif how == "wrong_weights":
        blob = _checkpoint_blob(path)
        blob["state_dict"] = {k: torch.zeros(3, 3) for k in blob["state_dict"]}
        torch.save(blob, path)
    elif how == "bad_spec":
        blob = _checkpoint_blob(path)
        blob["spec"] = {"kind": "blob", "layers": "none"}
        torch.save(blob, path)
    elif how == "soft_reset":  # the same weights in a model NIR cannot express
        blob = _checkpoint_blob(path)
        blob["spec"] = {**blob["spec"], "soft_reset": True}
        torch.save(blob, path)
    elif how == "missing":
        path.unlink()
    elif how == "bad_shape":
        blob = _checkpoint_blob(path)
        blob["input_shape"] = "tall"
        torch.save(blob, path)
    else:  # pragma: no cover
        raise AssertionError(how)


def ckpt(how: str) -> Callable[[World, Path, Path], None]:
    def change(w: World, run: Path, export: Path) -> None:
        _damage(run / "checkpoints" / "trial_0.pt", how, w.marker)

    return change


def model_pt(how: str) -> Callable[[World, Path, Path], None]:
    def change(w: World, run: Path, export: Path) -> None:
        _damage(export / "model.pt", how, w.marker)

    return change


def config(text: str | None) -> Callable[[World, Path, Path], None]:
    """Rewrite the copied run's config.yaml (``None``: delete it); ``{base}`` is filled in."""

    def change(w: World, run: Path, export: Path) -> None:
        if text is None:
            (run / "config.yaml").unlink()
        else:
            (run / "config.yaml").write_text(text.format(base=w.base, run=run))

    return change


def storage_from(name: str) -> Callable[[World, Path, Path], None]:
    """Replace the copied run's study.db by one of the non-Optuna files in data/."""

    def change(w: World, run: Path, export: Path) -> None:
        shutil.copyfile(w.base / "data" / name, run / "study.db")

    return change


def card(text: str) -> Callable[[World, Path, Path], None]:
    def change(w: World, run: Path, export: Path) -> None:
        (export / "model_card.json").write_text(text)

    return change


def no_preprocessing(w: World, run: Path, export: Path) -> None:
    import json

    data = json.loads((export / "model_card.json").read_text())
    del data["data"]["preprocessing"]
    (export / "model_card.json").write_text(json.dumps(data))


# ----------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Row:
    """``argv`` with ``{base}`` (the module's folder), ``{run}``/``{runs}`` (the run folder and
    its parent), ``{exp}`` (the export folder) and ``{tmp}`` (the row's own empty folder)
    filled in. ``damage`` works on copies of the run and the export, which ``{run}``/``{exp}``
    then name. ``words``: each must appear in the error line (case-insensitive)."""

    id: str
    argv: tuple[str, ...]
    words: tuple[str, ...]
    damage: Callable[[World, Path, Path], None] | None = None
    subprocess: bool = False
    copies: tuple[str, ...] = ()  # files of data/ copied into {tmp} first (the row may spoil them)
    marks: tuple[Any, ...] = field(default=())


def row(
    id: str,
    argv: str | list[str],
    *words: str,
    damage: Callable[[World, Path, Path], None] | None = None,
    subprocess: bool = False,
    copies: tuple[str, ...] = (),
    xfail: str | None = None,
) -> Any:
    args = tuple(argv.split()) if isinstance(argv, str) else tuple(argv)
    marks = (pytest.mark.xfail(strict=True, reason=xfail),) if xfail else ()
    r = Row(id, args, words, damage, subprocess, copies, marks)
    return pytest.param(r, id=id, marks=marks)


S = "--no-progress"
NEW = "--out {tmp}/runs"  # a search that would start a new study under the row's own folder

ROWS = [
    # ------------------------------------------------------------------ the command line itself
    row("cli-no-command", [], "required"),
    row("cli-unknown-command", "frobnicate", "invalid choice"),
    row("cli-unknown-flag", "--frobnicate search", "unrecognized"),
    row("cli-subprocess-unknown-flag", "search --trails 3", "unrecognized", subprocess=True),
    row("cli-flag-typo", "search --trails 3", "unrecognized", "did you mean --trials?"),
    row("cli-command-typo", "serch", "invalid choice", "did you mean search?"),
    row("cli-choice-typo", "export {run} --pick knea", "invalid choice", "did you mean knee?"),
    # ------------------------------------------------------------------ search
    row("search-bad-int", f"search --trials many {S}", "invalid int"),
    row(
        "search-negative-trials",
        f"search --space {{base}}/tiny.yaml --trials -1 {NEW} {S}",
        "--trials",
    ),
    row(
        "search-zero-epochs", f"search --space {{base}}/tiny.yaml --epochs 0 {NEW} {S}", "--epochs"
    ),
    row("search-unknown-space", f"search --space nope {NEW} {S}", "unknown search space", "nope"),
    row("search-space-deep", f"search --space {{base}}/yaml/deep.yaml {NEW} {S}", "nested"),
    row(
        "search-space-deep-block",
        f"search --space {{base}}/yaml/deep_block.yaml {NEW} {S}",
        "nested",
    ),
    row("search-space-laughs", f"search --space {{base}}/yaml/laughs.yaml {NEW} {S}", "expands"),
    row("search-space-python-tag", f"search --space {{base}}/yaml/pyobj.yaml {NEW} {S}", "tag"),
    row("search-space-python-name", f"search --space {{base}}/yaml/pyname.yaml {NEW} {S}", "tag"),
    row("search-space-bigint", f"search --space {{base}}/yaml/bigint.yaml {NEW} {S}", "depth.high"),
    row("search-space-hugeint", f"search --space {{base}}/yaml/hugeint.yaml {NEW} {S}", "2**53"),
    row("search-space-inf", f"search --space {{base}}/yaml/inf.yaml {NEW} {S}", "finite"),
    row("search-space-nan", f"search --space {{base}}/yaml/nan.yaml {NEW} {S}", "finite"),
    row(
        "search-space-int-key",
        f"search --space {{base}}/yaml/intkey.yaml {NEW} {S}",
        "keys must be text",
    ),
    row(
        "search-space-duplicate-key",
        f"search --space {{base}}/yaml/dupkey.yaml {NEW} {S}",
        "duplicate key",
    ),
    row(
        "search-space-binary", f"search --space {{base}}/yaml/binary.yaml {NEW} {S}", "binary.yaml"
    ),
    row("search-space-latin1", f"search --space {{base}}/yaml/latin1.yaml {NEW} {S}", "UTF-8"),
    row("search-space-empty", f"search --space {{base}}/yaml/empty.yaml {NEW} {S}", "empty"),
    row("search-space-list", f"search --space {{base}}/yaml/list.yaml {NEW} {S}", "mapping"),
    row(
        "search-space-unknown-key",
        f"search --space {{base}}/yaml/unknown_key.yaml {NEW} {S}",
        "unknown key",
        "colour",
    ),
    row(
        "search-space-typo", f"search --space {{base}}/yaml/typo_key.yaml {NEW} {S}", "hihg", "high"
    ),
    row("search-space-bounds", f"search --space {{base}}/yaml/bounds.yaml {NEW} {S}", "above high"),
    row(
        "search-space-too-many-layers",
        f"search --space {{base}}/yaml/layers.yaml {NEW} {S}",
        "too many layers",
    ),
    row(
        "search-space-two-documents",
        f"search --space {{base}}/yaml/two_docs.yaml {NEW} {S}",
        "document",
    ),
    row("search-space-tabs", f"search --space {{base}}/yaml/tabs.yaml {NEW} {S}", "tab"),
    row("search-space-folder", f"search --space {{base}}/yaml/folder.yaml {NEW} {S}", "directory"),
    row(
        "search-space-missing",
        f"search --space {{base}}/yaml/missing.yaml {NEW} {S}",
        "no such file",
    ),
    row(
        "search-space-subprocess-laughs",
        f"search --space {{base}}/yaml/laughs.yaml {NEW} {S}",
        "expands",
        subprocess=True,
    ),
    row(
        "search-data-missing",
        f"search --space {{base}}/tiny.yaml --dataset {{base}}/data/missing.npz {NEW} {S}",
        "not found",
    ),
    row(
        "search-data-garbage-npz",
        f"search --space {{base}}/tiny.yaml --dataset {{base}}/data/garbage.npz {NEW} {S}",
        "cannot read",
    ),
    row(
        "search-data-empty-npz",
        f"search --space {{base}}/tiny.yaml --dataset {{base}}/data/empty.npz {NEW} {S}",
        "cannot read",
    ),
    row(
        "search-data-no-xy",
        f"search --space {{base}}/tiny.yaml --dataset {{base}}/data/no_xy.npz {NEW} {S}",
        "needs arrays",
    ),
    row(
        "search-data-wrong-shape",
        f"search --space {{base}}/tiny.yaml --dataset {{base}}/data/wrong_shape.npz {NEW} {S}",
        "one integer label",
    ),
    row(
        "search-data-float-labels",
        f"search --space {{base}}/tiny.yaml --dataset {{base}}/data/float_labels.npz {NEW} {S}",
        "integer label",
    ),
    row(
        "search-data-one-class",
        f"search --space {{base}}/tiny.yaml --dataset {{base}}/data/one_class.npz {NEW} {S}",
        "2 classes",
    ),
    row(
        "search-data-objects-npz",
        f"search --space {{base}}/tiny.yaml --dataset {{base}}/data/objects.npz {NEW} {S}",
        "cannot read",
    ),
    row(
        "search-data-garbage-csv",
        f"search --space {{base}}/tiny.yaml --dataset {{base}}/data/garbage.csv {NEW} {S}",
        "cannot read",
    ),
    row(
        "search-data-empty-csv",
        f"search --space {{base}}/tiny.yaml --dataset {{base}}/data/empty.csv {NEW} {S}",
        "cannot read",
    ),
    row(
        "search-data-no-label-csv",
        f"search --space {{base}}/tiny.yaml --dataset {{base}}/data/no_label.csv {NEW} {S}",
        "label",
    ),
    row(
        "search-data-text-csv",
        f"search --space {{base}}/tiny.yaml --dataset {{base}}/data/text.csv {NEW} {S}",
        "numeric",
    ),
    row(
        "search-data-garbage-parquet",
        f"search --space {{base}}/tiny.yaml --dataset {{base}}/data/garbage.parquet {NEW} {S}",
        "cannot read",
    ),
    row(
        "search-data-kind-unknown",
        f"search --space {{base}}/tiny.yaml --dataset digits --data-kind audio {NEW} {S}",
        "--data-kind",
        "invalid choice",
    ),
    row(
        "search-data-kind-named-set",
        f"search --space {{base}}/tiny.yaml --dataset digits --data-kind series {NEW} {S}",
        "is image data",
        "--data-kind",
    ),
    row(
        "search-data-kind-table-as-image",
        f"search --space {{base}}/tiny.yaml --dataset {{base}}/data/tabular.csv --data-kind image "
        f"{NEW} {S}",
        "not images",
    ),
    row(
        "search-data-five-dims",
        f"search --space {{base}}/tiny.yaml --dataset {{base}}/data/five_d.npz {NEW} {S}",
        "none of the data kinds",
    ),
    row(
        "search-space-fits-no-data-kind",
        f"search --space hybrid_attention --dataset {{base}}/data/tabular.csv {NEW} {S}",
        "does not fit",
        "tabular data",
        "--data-kind",
    ),
    row(
        "search-data-unknown",
        f"search --space {{base}}/tiny.yaml --dataset cifar {NEW} {S}",
        "unknown data set",
    ),
    row(
        "search-idx-garbage",
        f"search --space {{base}}/tiny.yaml --dataset fashion-mnist --data-dir {{base}}/data/idx_garbage {NEW} {S}",
        "IDX",
    ),
    row(
        "search-idx-truncated",
        f"search --space {{base}}/tiny.yaml --dataset fashion-mnist --data-dir {{base}}/data/idx_truncated {NEW} {S}",
        "truncated",
    ),
    row(
        "search-idx-not-gzip",
        f"search --space {{base}}/tiny.yaml --dataset fashion-mnist --data-dir {{base}}/data/idx_not_gzip {NEW} {S}",
        "idx",
    ),
    row(
        "search-idx-empty-dir",
        f"search --space {{base}}/tiny.yaml --dataset fashion-mnist --data-dir {{base}}/data/idx_empty {NEW} {S}",
        "not found",
    ),
    row("search-negative-seed", f"search --space {{base}}/tiny.yaml --seed -1 {NEW} {S}", "--seed"),
    row(
        "search-objective",
        f"search --space {{base}}/tiny.yaml --objectives accuracy,beauty {NEW} {S}",
        "beauty",
    ),
    row(
        "search-sampler",
        f"search --space {{base}}/tiny.yaml --sampler annealing {NEW} {S}",
        "annealing",
    ),
    # NeuroBench objectives and the energy model (snn_models.energy): fixed for a run
    row(
        "search-objective-neurobench-typo",
        f"search --space {{base}}/tiny.yaml --objectives accuracy,effective_ac {NEW} {S}",
        "unknown objective 'effective_ac'",
        "effective_acs",
    ),
    row(
        "search-energy-model",
        f"search --space {{base}}/tiny.yaml --energy-model per-sample {NEW} {S}",
        "--energy-model must be one of per-inference, per-step",
        "per-sample",
    ),
    row(
        "search-limit-not-metric-max",
        f"search --space {{base}}/tiny.yaml --limit effective_acs {NEW} {S}",
        "--limit 'effective_acs': give METRIC=MAX",
    ),
    row(
        "search-limit-unknown-metric",
        f"search --space {{base}}/tiny.yaml --limit effective_ac=5 {NEW} {S}",
        "unknown metric 'effective_ac'",
        "effective_acs",
    ),
    row(
        "search-limit-maximised",
        f"search --space {{base}}/tiny.yaml --limit activation_sparsity=0.5 {NEW} {S}",
        "activation_sparsity is maximised",
    ),
    row(
        "search-resume-changed-energy-model",
        f"search --study r --resume --energy-model per-step --out {{runs}} {S}",
        "--energy-model per-step differs",
        "per-inference",
    ),
    row(
        "search-study-exists",
        f"search --space {{base}}/tiny.yaml --study r --out {{runs}} {S}",
        "already exists",
        "--resume",
    ),
    row(
        "search-resume-changed-flag",
        f"search --study r --resume --epochs 5 --out {{runs}} {S}",
        "--epochs",
        "differs",
    ),
    row("search-resume-missing", f"search --study ghost --resume {NEW} {S}", "nothing to resume"),
    # small-data selection (evolve.engine.selection): fixed for a run, K >= 2 and per class
    row(
        "search-resume-changed-selection",
        f"search --study r --resume --selection kfold --out {{runs}} {S}",
        "--selection kfold differs",
    ),
    row("search-bad-selection", f"search --selection often {NEW} {S}", "invalid choice"),
    row(
        "search-one-fold",
        f"search --space {{base}}/tiny.yaml --folds 1 {NEW} {S}",
        "--folds",
        ">= 2",
    ),
    row(
        "search-folds-with-holdout",
        f"search --space {{base}}/tiny.yaml --selection holdout --folds 3 {NEW} {S}",
        "--folds applies",
        "holdout",
    ),
    row(
        "search-more-folds-than-a-class",
        f"search --space {{base}}/tiny.yaml --selection kfold --folds 500 {NEW} {S}",
        "--folds must be at most",
        "a class has only",
    ),
    # the proxy filter (evolve.engine.proxy_filter): a known proxy, a pool >= 2, local, fixed
    row(
        "search-unknown-proxy",
        f"search --space {{base}}/tiny.yaml --proxy-filter naswot {NEW} {S}",
        "--proxy-filter must be one of sahd, grad, got 'naswot'",
    ),
    row(
        "search-proxy-pool-one",
        f"search --space {{base}}/tiny.yaml --proxy-filter sahd --proxy-pool 1 {NEW} {S}",
        "--proxy-pool must be an integer >= 2",
    ),
    row(
        "search-proxy-pool-alone",
        f"search --space {{base}}/tiny.yaml --proxy-pool 4 {NEW} {S}",
        "--proxy-pool applies with --proxy-filter",
    ),
    row("search-proxy-pool-text", f"search --proxy-pool many {NEW} {S}", "invalid int"),
    row(
        "search-proxy-with-ray",
        f"search --space {{base}}/tiny.yaml --proxy-filter grad --backend ray {NEW} {S}",
        "--proxy-filter needs the local backend",
    ),
    row(
        "search-resume-changed-proxy",
        f"search --study r --resume --proxy-filter sahd --out {{runs}} {S}",
        "--proxy-filter sahd differs",
    ),
    # the proxy prior (evolve.engine.proxy_prior): a known proxy, local, not oneshot, fixed
    row(
        "search-unknown-proxy-prior",
        f"search --space {{base}}/tiny.yaml --proxy-prior nope {NEW} {S}",
        "--proxy-prior must be one of sahd, grad, got 'nope'",
    ),
    row(
        "search-proxy-prior-with-ray",
        f"search --space {{base}}/tiny.yaml --proxy-prior sahd --backend ray {NEW} {S}",
        "--proxy-prior needs the local backend; leave out --backend ray",
    ),
    row(
        "search-oneshot-with-proxy-prior",
        f"search --space {{base}}/tiny.yaml --agent oneshot --proxy-prior grad {NEW} {S}",
        "leave out --proxy-prior",
    ),
    row(
        "search-resume-changed-proxy-prior",
        f"search --study r --resume --proxy-prior sahd --out {{runs}} {S}",
        "--proxy-prior sahd differs",
    ),
    # the one-shot agent (evolve.engine.oneshot): supernets of mlp/cnn only, local, no filter
    row(
        "search-oneshot-temporal-space",
        f"search --space temporal --dataset gunpoint --agent oneshot {NEW} {S}",
        "--agent oneshot supports kind mlp, cnn and transformer",
        "use --agent optuna for temporal",
    ),
    row(
        "search-oneshot-with-proxy-filter",
        f"search --space {{base}}/tiny.yaml --agent oneshot --proxy-filter sahd {NEW} {S}",
        "leave out --proxy-filter",
    ),
    row(
        "search-oneshot-on-ray",
        f"search --space {{base}}/tiny.yaml --agent oneshot --backend ray {NEW} {S}",
        "--agent oneshot runs on the local backend; leave out --backend ray",
    ),
    row(
        "search-oneshot-on-data-fractions",
        f"search --space {{base}}/tiny.yaml --agent oneshot --fidelity asha "
        f"--fidelity-resource data {NEW} {S}",
        "retrains its front on all of the training data; leave out --fidelity-resource data",
    ),
    # multi-fidelity scheduling (agents.fidelity): a known scheduler, eta >= 2, r >= 1, fixed
    row(
        "search-unknown-fidelity",
        f"search --space {{base}}/tiny.yaml --fidelity bohb {NEW} {S}",
        "--fidelity must be one of none, stopper, asha, hyperband, got 'bohb'",
    ),
    row(
        "search-reduction-factor-one",
        f"search --space {{base}}/tiny.yaml --fidelity asha --reduction-factor 1 {NEW} {S}",
        "--reduction-factor must be an integer >= 2",
    ),
    row(
        "search-min-epochs-zero",
        f"search --space {{base}}/tiny.yaml --fidelity hyperband --min-epochs 0 {NEW} {S}",
        "--min-epochs must be an integer >= 1",
    ),
    row("search-reduction-factor-text", f"search --reduction-factor two {NEW} {S}", "invalid int"),
    row(
        "search-fidelity-with-no-early-stop",
        f"search --space {{base}}/tiny.yaml --fidelity asha --no-early-stop {NEW} {S}",
        "--fidelity must be none with --no-early-stop",
    ),
    row(
        "search-resume-changed-fidelity",
        f"search --study r --resume --fidelity asha --out {{runs}} {S}",
        "--fidelity asha differs",
    ),
    # the data resource (evolve.training.subsets): a known resource, only with rungs, fixed
    row(
        "search-unknown-fidelity-resource",
        f"search --space {{base}}/tiny.yaml --fidelity asha --fidelity-resource time {NEW} {S}",
        "--fidelity-resource must be one of epochs, data, got 'time'",
    ),
    row(
        "search-data-fidelity-without-rungs",
        f"search --space {{base}}/tiny.yaml --fidelity-resource data {NEW} {S}",
        "--fidelity-resource must be epochs with --fidelity stopper; for data give --fidelity "
        "asha or hyperband",
    ),
    row(
        "search-resume-changed-fidelity-resource",
        f"search --study r --resume --fidelity-resource data --out {{runs}} {S}",
        "--fidelity-resource data differs",
    ),
    row(
        "search-resume-corrupt-config",
        f"search --study r --resume --out {{runs}} {S}",
        "config.yaml",
        damage=config("{{{{ not yaml"),
    ),
    row("search-study-teachers", f"search --study teachers {NEW} {S}", "teacher cache"),
    row(
        "search-storage-text-db",
        f"search --space {{base}}/tiny.yaml --storage sqlite:///{{base}}/data/text.db {NEW} {S}",
        "not a database",
    ),
    row(
        "search-storage-other-db",
        f"search --space {{base}}/tiny.yaml --storage sqlite:///{{tmp}}/other.db {NEW} {S} "
        "--trials 1 --epochs 1",  # were it not refused, it would run
        "not an Optuna",
        copies=("other.db",),
    ),
    row(
        "search-storage-bad-url",
        f"search --space {{base}}/tiny.yaml --storage nonsense {NEW} {S}",
        "storage",
    ),
    row(
        "search-ray-flag-without-ray",
        f"search --space {{base}}/tiny.yaml --workers 2 {NEW} {S}",
        "--backend ray",
    ),
    row("search-continual-space", f"search --space continual {NEW} {S}", "evolve continual"),
    row(
        "search-series-space-on-images",
        f"search --space temporal --dataset digits {NEW} {S}",
        "does not fit",
    ),
    # ------------------------------------------------------------------ show
    row("show-nothing", "show", "give a run folder"),
    row("show-not-a-run", "show {base}/data", "not a search run folder"),
    row("show-missing", "show {base}/nowhere", "not a search run folder"),
    row("show-unknown-study", "show --study ghost --out {runs}", "not a search run folder"),
    row("show-unknown-study-runs", "show --study ghost --runs {runs}", "not a search run folder"),
    row("show-config-corrupt", "show {run}", "config.yaml", damage=config("{{{{ not yaml")),
    row("show-config-list", "show {run}", "config.yaml", damage=config("- a\n- b\n")),
    row(
        "show-config-python-tag",
        "show {run}",
        "config.yaml",
        damage=config("storage: !!python/object/apply:os.system ['touch {base}/EXECUTED']\n"),
    ),
    row(
        "show-config-no-storage",
        "show {run}",
        "storage",
        damage=config("objectives: accuracy,energy\n"),
    ),
    row(
        "show-storage-missing-db",
        "show {run}",
        "no such database",
        damage=config(
            "storage: sqlite:///{base}/data/missing.db\nobjectives: accuracy,energy\nreference_point: {{accuracy: 0.0, energy_uj: 1.0}}\n"
        ),
    ),
    row("show-db-text", "show {run}", "not a database", damage=storage_from("text.db")),
    row("show-db-other-tables", "show {run}", "not an Optuna", damage=storage_from("other.db")),
    row("show-extra-arg", "show {run} {run}", "unrecognized"),
    # ------------------------------------------------------------------ spaces
    row("spaces-unknown", "spaces nope", "unknown search space"),
    row("spaces-near-miss", "spaces hybrid_nueron", "did you mean"),
    row("spaces-deep", "spaces {base}/yaml/deep.yaml", "nested"),
    row("spaces-laughs", "spaces {base}/yaml/laughs.yaml", "expands"),
    row("spaces-python-tag", "spaces {base}/yaml/pyobj.yaml", "tag"),
    row("spaces-binary", "spaces {base}/yaml/binary.yaml", "binary.yaml"),
    row("spaces-folder", "spaces {base}/yaml/folder.yaml", "directory"),
    row("spaces-two-names", "spaces a b", "unrecognized"),
    row(
        "spaces-dataset-misfit",
        "spaces hybrid_attention --dataset {base}/data/tabular.csv",
        "does not fit",
    ),
    row("spaces-dataset-without-name", "spaces --dataset digits", "NAME"),
    row("spaces-data-kind-without-dataset", "spaces hybrid_neuron --data-kind image", "--dataset"),
    row("spaces-dataset-missing", "spaces hybrid_neuron --dataset {base}/data/no.csv", "not found"),
    # ------------------------------------------------------------------ train
    row("train-unknown-preset", f"train --arch resnet --out {{tmp}} {S}", "unknown preset"),
    row(
        "train-missing-arch",
        f"train --arch {{base}}/arch/missing.yaml --out {{tmp}} {S}",
        "not found",
    ),
    row(
        "train-arch-broken-yaml",
        f"train --arch {{base}}/arch/broken.yaml --out {{tmp}} {S}",
        "invalid YAML",
    ),
    row("train-arch-deep", f"train --arch {{base}}/arch/deep.yaml --out {{tmp}} {S}", "deep.yaml"),
    row("train-arch-laughs", f"train --arch {{base}}/arch/laughs.yaml --out {{tmp}} {S}", "layers"),
    row(
        "train-arch-python-tag",
        f"train --arch {{base}}/arch/pyobj.yaml --out {{tmp}} {S}",
        "pyobj.yaml",
    ),
    row(
        "train-arch-bigint",
        f"train --arch {{base}}/arch/bigint.yaml --out {{tmp}} {S}",
        "bigint.yaml",
    ),
    row(
        "train-arch-binary",
        f"train --arch {{base}}/arch/binary.yaml --out {{tmp}} {S}",
        "binary.yaml",
    ),
    row("train-arch-int-key", f"train --arch {{base}}/arch/intkey.yaml --out {{tmp}} {S}", "key"),
    row(
        "train-arch-unknown-key",
        f"train --arch {{base}}/arch/unknown.yaml --out {{tmp}} {S}",
        "colour",
        "unknown key",
    ),
    row("train-arch-list", f"train --arch {{base}}/arch/list.yaml --out {{tmp}} {S}", "mapping"),
    row(
        "train-arch-train-type",
        f"train --arch {{base}}/arch/train_type.yaml --out {{tmp}} {S}",
        "epochs",
    ),
    row(
        "train-arch-train-nan", f"train --arch {{base}}/arch/train_nan.yaml --out {{tmp}} {S}", "lr"
    ),
    row(
        "train-arch-width-text",
        f"train --arch {{base}}/arch/width_text.yaml --out {{tmp}} {S}",
        "width",
    ),
    row(
        "train-arch-preprocess",
        f"train --arch {{base}}/arch/preprocess.yaml --out {{tmp}} {S}",
        "preprocess: unknown preprocess 'zscore'; choose one of none, standardize, minmax",
    ),
    row(
        "train-arch-encoder",
        f"train --arch {{base}}/arch/encoder.yaml --out {{tmp}} {S}",
        "signed_rate",
    ),
    row(
        "train-arch-folder",
        f"train --arch {{base}}/yaml/folder.yaml --out {{tmp}} {S}",
        "not found",
    ),
    row("train-zero-timesteps", f"train --timesteps 0 --out {{tmp}} {S}", "timesteps"),
    row("train-unknown-neuron", f"train --neuron qif --out {{tmp}} {S}", "unknown neuron", "qif"),
    row("train-bad-threshold", f"train --threshold high --out {{tmp}} {S}", "--threshold"),
    row("train-decay-out-of-range", f"train --decay 2 --out {{tmp}} {S}", "decay"),
    row(
        "train-layers-count",
        f"train --neuron lif,lif,lif --out {{tmp}} {S}",
        "--neuron",
        "3 values",
    ),
    row("train-zero-epochs", f"train --epochs 0 --out {{tmp}} {S}", "--epochs"),
    row("train-negative-batch", f"train --batch-size -3 --out {{tmp}} {S}", "--batch-size"),
    row("train-nan-lr", f"train --lr nan --out {{tmp}} {S}", "--lr"),
    row("train-energy-profile", f"train --energy-profile 3nm --out {{tmp}} {S}", "3nm"),
    row(
        "train-data-missing",
        f"train --data {{base}}/data/missing.npz --out {{tmp}} {S}",
        "not found",
    ),
    row(
        "train-data-garbage",
        f"train --data {{base}}/data/garbage.npz --out {{tmp}} {S}",
        "cannot read",
    ),
    row(
        "train-dataset-garbage",
        f"train --dataset {{base}}/data/garbage.npz --out {{tmp}} {S}",
        "cannot read",
    ),
    row(
        "train-data-wrong-shape",
        f"train --data {{base}}/data/wrong_shape.npz --out {{tmp}} {S}",
        "integer label",
    ),
    row("train-negative-seed", f"train --seed -1 --out {{tmp}} {S}", "--seed"),
    row(
        "train-idx-garbage",
        f"train --data fashion-mnist --data-dir {{base}}/data/idx_garbage --out {{tmp}} {S}",
        "IDX",
    ),
    row("train-out-is-a-file", f"train --out {{base}}/tiny.yaml {S}", "--out"),
    # ------------------------------------------------------------------ teacher
    row("teacher-no-action", "teacher", "required"),
    row("teacher-unknown-action", "teacher fit", "invalid choice"),
    row(
        "teacher-unknown-family",
        f"teacher train --family lstm --cache {{tmp}}/c {S}",
        "unknown family",
        "lstm",
    ),
    row("teacher-zero-epochs", f"teacher train --epochs 0 --cache {{tmp}}/c {S}", "--epochs"),
    row("teacher-zero-width", f"teacher train --width 0 --cache {{tmp}}/c {S}", "width"),
    row("teacher-negative-seed", f"teacher train --seed -1 --cache {{tmp}}/c {S}", "--seed"),
    row(
        "teacher-data-missing",
        f"teacher train --dataset {{base}}/data/missing.npz --cache {{tmp}}/c {S}",
        "not found",
    ),
    row(
        "teacher-data-garbage-csv",
        f"teacher train --dataset {{base}}/data/garbage.csv --cache {{tmp}}/c {S}",
        "cannot read",
    ),
    row(
        "teacher-idx-truncated",
        f"teacher train --dataset fashion-mnist --data-dir {{base}}/data/idx_truncated --cache {{tmp}}/c {S}",
        "truncated",
    ),
    row("teacher-cache-is-a-file", f"teacher train --cache {{base}}/tiny.yaml {S}", "--cache"),
    row("teacher-list-cache-is-a-file", "teacher list --cache {base}/tiny.yaml", "--cache"),
    # ------------------------------------------------------------------ convert
    row("convert-timesteps-text", f"convert --timesteps a,b --out {{tmp}} {S}", "--timesteps"),
    row("convert-timesteps-zero", f"convert --timesteps 0 --out {{tmp}} {S}", "--timesteps"),
    row("convert-percentile", f"convert --percentile 101 --out {{tmp}} {S}", "--percentile"),
    row("convert-percentile-nan", f"convert --percentile nan --out {{tmp}} {S}", "--percentile"),
    row("convert-zero-epochs", f"convert --epochs 0 --out {{tmp}} {S}", "--epochs"),
    row("convert-ann-missing", f"convert --ann {{base}}/missing.pt --out {{tmp}} {S}", "not found"),
    row(
        "convert-ann-random",
        f"convert --ann {{run}}/checkpoints/trial_0.pt --out {{tmp}} {S}",
        "not a readable",
        damage=ckpt("random"),
    ),
    row(
        "convert-ann-truncated",
        f"convert --ann {{run}}/checkpoints/trial_0.pt --out {{tmp}} {S}",
        "not a readable",
        damage=ckpt("truncated"),
    ),
    row(
        "convert-ann-exploit",
        f"convert --ann {{run}}/checkpoints/trial_0.pt --out {{tmp}} {S}",
        "not a readable",
        damage=ckpt("exploit"),
    ),
    row(
        "convert-ann-no-spec",
        f"convert --ann {{run}}/checkpoints/trial_0.pt --out {{tmp}} {S}",
        "no spec",
        damage=ckpt("other_format"),
    ),
    row(
        "convert-ann-bad-spec",
        f"convert --ann {{run}}/checkpoints/trial_0.pt --out {{tmp}} {S}",
        "spec",
        damage=ckpt("bad_spec"),
    ),
    row(
        "convert-transformer",
        f"convert --arch {{base}}/arch/transformer.yaml --out {{tmp}} {S}",
        "cannot be converted",
    ),
    row(
        "convert-arch-laughs",
        f"convert --arch {{base}}/arch/laughs.yaml --out {{tmp}} {S}",
        "layers",
    ),
    row(
        "convert-data-garbage",
        f"convert --data {{base}}/data/garbage.npz --out {{tmp}} {S}",
        "cannot read",
    ),
    row(
        "convert-dataset-garbage",
        f"convert --dataset {{base}}/data/garbage.npz --out {{tmp}} {S}",
        "cannot read",
    ),
    # ------------------------------------------------------------------ continual
    row("continual-unknown-scenario", f"continual --scenario mars {NEW} {S}", "mars"),
    row("continual-zero-tasks", f"continual --n-tasks 0 {NEW} {S}", "task"),
    row("continual-negative-limit", f"continual --limit -5 {NEW} {S}", "limit"),
    row(
        "continual-idx-garbage",
        f"continual --scenario split-fashion-mnist --data-dir {{base}}/data/idx_garbage {NEW} {S}",
        "IDX",
    ),
    row("continual-objective", f"continual --objectives accuracy {NEW} {S}", "not measured"),
    row("continual-strategy-with-cl-space", f"continual --strategy naive {NEW} {S}", "--strategy"),
    row(
        "continual-unknown-strategy",
        f"continual --space hybrid_neuron --strategy hope {NEW} {S}",
        "hope",
    ),
    row(
        "continual-option-not-taken",
        f"continual --space hybrid_neuron --strategy naive --buffer-size 10 {NEW} {S}",
        "--buffer-size",
    ),
    row(
        "continual-negative-buffer",
        f"continual --space hybrid_neuron --strategy replay --buffer-size -10 {NEW} {S}",
        "buffer",
    ),
    row("continual-space-deep", f"continual --space {{base}}/yaml/deep.yaml {NEW} {S}", "nested"),
    row("continual-retrain-alone", f"continual --retrain {NEW} {S}", "--retrain"),
    row("continual-trial-without-study", f"continual --trial 0 {NEW} {S}", "--study"),
    row(
        "continual-trial-unknown",
        f"continual --study r --trial 99 --out {{runs}} {S}",
        "no trial 99",
    ),
    row(
        "continual-trial-search-flag",
        f"continual --study r --trial 0 --trials 3 --out {{runs}} {S}",
        "--trials",
    ),
    row(
        "continual-trial-not-a-run",
        f"continual --study data --trial 0 --out {{base}} {S}",
        "not a search run folder",
    ),
    row(
        "continual-trial-ckpt-random",
        f"continual --study r --trial 0 --out {{runs}} {S}",
        "not a readable checkpoint",
        damage=ckpt("random"),
    ),
    row(
        "continual-trial-ckpt-exploit",
        f"continual --study r --trial 0 --out {{runs}} {S}",
        "not a readable checkpoint",
        damage=ckpt("exploit"),
    ),
    row(
        "continual-trial-other-data",
        f"continual --study r --trial 0 --scenario digits,{{base}}/data/wrong_shape.npz --out {{runs}} {S}",
        "integer label",
    ),
    # ------------------------------------------------------------------ dashboard
    row("dashboard-nothing", "dashboard", "give a run folder"),
    row("dashboard-port-text", "dashboard {run} --port web", "invalid int"),
    row("dashboard-port-range", "dashboard {run} --port 70000", "--port"),
    row("dashboard-not-a-run", "dashboard {base}/data", "not a search run folder"),
    row(
        "dashboard-config-corrupt", "dashboard {run}", "config.yaml", damage=config("{{{{ not yaml")
    ),
    row("dashboard-config-list", "dashboard {run}", "config.yaml", damage=config("- a\n")),
    row(
        "dashboard-storage-text-db",
        "dashboard --storage sqlite:///{base}/data/text.db",
        "not a database",
    ),
    row(
        "dashboard-storage-other-db",
        "dashboard --storage sqlite:///{base}/data/other.db",
        "not an Optuna",
    ),
    row(
        "dashboard-storage-missing-db",
        "dashboard --storage sqlite:///{base}/data/missing.db",
        "no such database",
    ),
    row("dashboard-storage-folder", "dashboard --storage sqlite:///{base}/data", "is a folder"),
    row("dashboard-storage-bad-url", "dashboard --storage nonsense", "storage"),
    # ------------------------------------------------------------------ ecg
    row("ecg-out-not-empty", "ecg --out {run}", "already exists"),
    row("ecg-out-is-a-file", "ecg --out {base}/tiny.yaml", "already exists"),
    row("ecg-quantile", "ecg --quantile 2 --out {tmp}/e", "quantile"),
    row("ecg-zero-epochs", "ecg --epochs 0 --out {tmp}/e", "epochs"),
    row("ecg-zero-timesteps", "ecg --timesteps 0 --out {tmp}/e", "timesteps"),
    row("ecg-negative-seed", "ecg --seed -1 --out {tmp}/e", "seed"),
    row("ecg-excerpt-missing", "ecg --excerpt {base}/data/missing.csv --out {tmp}/e", "not found"),
    row(
        "ecg-excerpt-garbage", "ecg --excerpt {base}/data/garbage.csv --out {tmp}/e", "cannot read"
    ),
    row("ecg-excerpt-empty", "ecg --excerpt {base}/data/empty.csv --out {tmp}/e", "data,label"),
    row(
        "ecg-excerpt-columns",
        "ecg --excerpt {base}/data/ecg_columns.csv --out {tmp}/e",
        "data,label",
    ),
    row("ecg-excerpt-labels", "ecg --excerpt {base}/data/ecg_labels.csv --out {tmp}/e", "0 or 1"),
    row("ecg-excerpt-short", "ecg --excerpt {base}/data/ecg_short.csv --out {tmp}/e", "too short"),
    row("ecg-excerpt-folder", "ecg --excerpt {base}/data --out {tmp}/e", "not found"),
    # ------------------------------------------------------------------ explain
    row("explain-not-a-run", "explain {base}/data", "not a search run folder"),
    row("explain-nothing", "explain", "give a run folder"),
    row("explain-trial-text", "explain {run} --trial first", "--trial"),
    row("explain-trial-unknown", "explain {run} --trial 99", "no trial 99"),
    row(
        "explain-trial-no-checkpoint",
        "explain {run} --trial 0",
        "no checkpoint",
        damage=ckpt("missing"),
    ),
    row("explain-sample-range", "explain {run} --trial 0 --sample 99999", "--sample"),
    row("explain-sample-negative", "explain {run} --trial 0 --sample -1", "--sample"),
    row("explain-neurons", "explain {run} --trial 0 --neurons 0", "--neurons"),
    row("explain-split", "explain {run} --split train", "invalid choice"),
    row("explain-out-exists", "explain {run} --trial 0 --out {exp}", "already exists"),
    row(
        "explain-study-form-out-exists",
        "explain --study r --runs {runs} --trial 0 --out {exp}",
        "already exists",
    ),
    row(
        "explain-ckpt-truncated",
        "explain {run} --trial 0",
        "not a readable checkpoint",
        damage=ckpt("truncated"),
    ),
    row(
        "explain-ckpt-exploit",
        "explain {run} --trial 0",
        "not a readable checkpoint",
        damage=ckpt("exploit"),
    ),
    row(
        "explain-ckpt-wrong-weights",
        "explain {run} --trial 0",
        "do not fit",
        damage=ckpt("wrong_weights"),
    ),
    row("explain-config-corrupt", "explain {run}", "config.yaml", damage=config("{{{{ not yaml")),
    # ------------------------------------------------------------------ export
    row("export-nothing", "export", "give a run folder"),
    row("export-not-a-run", "export {base}/data", "not a search run folder"),
    row("export-format", "export {run} --format pdf", "--format", "pdf"),
    row("export-format-empty", "export {run} --format ,", "--format"),
    row("export-trial-text", "export {run} --trial first", "--trial"),
    row("export-trial-unknown", "export {run} --trial 99", "no trial 99"),
    row("export-trial-negative", "export {run} --trial -1", "no trial -1"),
    row("export-study-unknown", "export --study ghost --runs {runs}", "not a search run folder"),
    row(
        "export-trial-no-checkpoint",
        "export {run} --trial 0 --out {tmp}/x",
        "no saved weights",
        damage=ckpt("missing"),
    ),
    row("export-pick", "export {run} --pick beauty", "invalid choice"),
    row("export-max-energy", "export {run} --max-energy 0", "--max-energy"),
    row("export-out-exists", "export {run} --trial 0 --out {exp}", "already exists"),
    row(
        "export-nir-for-unknown",
        "export {run} --trial 0 --format torchscript --nir-for lava --out {tmp}/x",
        "--nir-for: unknown reader 'lava'",
        "snntorch",
    ),
    row(
        "export-default-out-exists",
        "export {run} --trial 0 --format torchscript",
        "already exists",
        damage=lambda w, run, exp: (run / "exports" / "trial_0").mkdir(parents=True),
    ),
    row(
        "export-nir-not-expressible",
        "export {run} --trial 0 --format nir --out {tmp}/x",
        "NIR cannot express",
        damage=ckpt("soft_reset"),
    ),
    row(
        "export-nir-in-list-not-expressible",
        "export {run} --trial 0 --format torchscript,nir --out {tmp}/x",
        "NIR cannot express",
        "--constraint nir",
        "--format torchscript",
        damage=ckpt("soft_reset"),
    ),
    row(
        "export-ckpt-random",
        "export {run} --trial 0",
        "not a readable checkpoint",
        damage=ckpt("random"),
    ),
    row(
        "export-ckpt-empty",
        "export {run} --trial 0",
        "not a readable checkpoint",
        damage=ckpt("empty"),
    ),
    row(
        "export-ckpt-exploit",
        "export {run} --trial 0",
        "not a readable checkpoint",
        damage=ckpt("exploit"),
    ),
    row(
        "export-ckpt-other-format", "export {run} --trial 0", "format", damage=ckpt("other_format")
    ),
    row("export-ckpt-not-a-dict", "export {run} --trial 0", "format", damage=ckpt("not_a_dict")),
    row(
        "export-ckpt-wrong-weights",
        "export {run} --trial 0",
        "do not fit",
        damage=ckpt("wrong_weights"),
    ),
    row("export-ckpt-bad-shape", "export {run} --trial 0", "trial_0.pt", damage=ckpt("bad_shape")),
    row("export-db-text", "export {run}", "not a database", damage=storage_from("text.db")),
    row(
        "export-subprocess-ckpt-exploit",
        "export {run} --trial 0",
        "not a readable checkpoint",
        damage=ckpt("exploit"),
        subprocess=True,
    ),
    # ------------------------------------------------------------------ import-nir
    row("import-nir-no-out", "import-nir {base}/nir/good.nir", "required"),
    row("import-nir-missing", "import-nir {base}/nir/missing.nir --out {tmp}/m", "no such file"),
    row(
        "import-nir-garbage",
        "import-nir {base}/nir/garbage.nir --out {tmp}/m",
        "not a readable NIR",
    ),
    row("import-nir-empty", "import-nir {base}/nir/empty.nir --out {tmp}/m", "not a readable NIR"),
    row("import-nir-folder", "import-nir {base}/nir --out {tmp}/m", "no such file"),
    row("import-nir-out-exists", "import-nir {base}/nir/good.nir --out {exp}", "already exists"),
    row(
        "import-nir-cycle",
        "import-nir {base}/nir/cycle.nir --out {tmp}/m",
        "not a readable NIR",
        "cyclic",
    ),
    row(
        "import-nir-branch",
        "import-nir {base}/nir/branch.nir --out {tmp}/m",
        "not a readable NIR",
        "type mismatch",
    ),
    row("import-nir-no-shape", "import-nir {base}/nir/no_shape.nir --out {tmp}/m", "input_shape"),
    row(
        "import-nir-timesteps-zero",
        "import-nir {base}/nir/good.nir --out {tmp}/m --timesteps 0",
        "timesteps must be a whole number",
    ),
    row("import-nir-zero-tau", "import-nir {base}/nir/zero_tau.nir --out {tmp}/m", "tau"),
    row(
        "import-nir-bad-timesteps", "import-nir {base}/nir/bad_steps.nir --out {tmp}/m", "timesteps"
    ),
    row(
        "import-nir-wrong-weights",
        "import-nir {base}/nir/wrong_weights.nir --out {tmp}/m",
        "weight",
    ),
    row(
        "import-nir-a-checkpoint",
        "import-nir {run}/checkpoints/trial_0.pt --out {tmp}/m",
        "not a readable NIR",
    ),
    # ------------------------------------------------------------------ predict
    row("predict-no-input", "predict --model {exp}", "required"),
    row(
        "predict-not-an-export",
        "predict --model {run} --input {base}/data/x_ok.npy",
        "not an export folder",
    ),
    row(
        "predict-input-missing",
        "predict --model {exp} --input {base}/data/missing.npy",
        "no such file",
    ),
    row(
        "predict-input-wrong-shape",
        "predict --model {exp} --input {base}/data/x_wrong.npy",
        "10 values",
        "64",
    ),
    row("predict-input-nan", "predict --model {exp} --input {base}/data/x_nan.npy", "NaN"),
    row(
        "predict-input-no-samples",
        "predict --model {exp} --input {base}/data/x_none.npy",
        "no samples",
    ),
    row(
        "predict-input-garbage-npy",
        "predict --model {exp} --input {base}/data/garbage.npy",
        "cannot read",
    ),
    row(
        "predict-input-garbage-csv",
        "predict --model {exp} --input {base}/data/garbage.csv",
        "cannot read",
    ),
    row(
        "predict-input-empty-csv",
        "predict --model {exp} --input {base}/data/empty.csv",
        "cannot read",
    ),
    row(
        "predict-input-text-csv", "predict --model {exp} --input {base}/data/x_text.csv", "numbers"
    ),
    row(
        "predict-input-garbage-parquet",
        "predict --model {exp} --input {base}/data/garbage.parquet",
        "cannot read",
    ),
    row("predict-input-suffix", "predict --model {exp} --input {base}/data/notes.txt", ".npy"),
    row(
        "predict-labels-missing",
        "predict --model {exp} --input {base}/data/x_ok.npy --labels {base}/data/missing.npy",
        "no such file",
    ),
    row(
        "predict-labels-garbage",
        "predict --model {exp} --input {base}/data/x_ok.npy --labels {base}/data/labels_garbage.npy",
        "--labels",
    ),
    row(
        "predict-labels-short",
        "predict --model {exp} --input {base}/data/x_ok.npy --labels {base}/data/labels_short.npy",
        "2 labels",
    ),
    row(
        "predict-labels-text",
        "predict --model {exp} --input {base}/data/x_ok.npy --labels {base}/data/labels_text.npy",
        "labels",
    ),
    row(
        "predict-labels-unknown-class",
        "predict --model {exp} --input {base}/data/x_ok.npy --labels {base}/data/labels_unknown.npy",
        "unknown class '12'",
        "--labels",
    ),
    row(
        "predict-label-column-text",
        "predict --model {exp} --input {base}/data/x_text_labels.csv",
        "label",
    ),
    row(
        "predict-output-is-a-folder",
        "predict --model {exp} --input {base}/data/x_ok.npy --output {base}/data",
        "--output",
    ),
    row(
        "predict-out-is-a-folder",
        "predict --model {exp} --input {base}/data/x_ok.npy --out {base}/data",
        "--out ",
    ),
    row(
        "predict-output-exists",
        "predict --model {exp} --input {base}/data/x_ok.npy --output {base}/tiny.yaml",
        "already exists",
    ),
    row(
        "predict-output-no-folder",
        "predict --model {exp} --input {base}/data/x_ok.npy --output {tmp}/a/p.csv",
        "does not exist",
    ),
    row(
        "predict-model-random",
        "predict --model {exp} --input {base}/data/x_ok.npy",
        "not a readable",
        damage=model_pt("random"),
    ),
    row(
        "predict-model-exploit",
        "predict --model {exp} --input {base}/data/x_ok.npy",
        "not a readable",
        damage=model_pt("exploit"),
    ),
    row(
        "predict-model-wrong-weights",
        "predict --model {exp} --input {base}/data/x_ok.npy",
        "do not fit",
        damage=model_pt("wrong_weights"),
    ),
    row(
        "predict-card-garbage",
        "predict --model {exp} --input {base}/data/x_ok.npy",
        "model card",
        damage=card("{not json"),
    ),
    row(
        "predict-card-list",
        "predict --model {exp} --input {base}/data/x_ok.npy",
        "model card",
        damage=card("[1, 2]"),
    ),
    row(
        "predict-card-no-preprocessing",
        "predict --model {exp} --input {base}/data/x_ok.npy",
        "model card",
        damage=no_preprocessing,
    ),
    row(
        "predict-subprocess-model-exploit",
        "predict --model {exp} --input {base}/data/x_ok.npy",
        "not a readable",
        damage=model_pt("exploit"),
        subprocess=True,
    ),
    # ------------------------------------------------------------------ report
    row("report-nothing", "report", "give a run folder"),
    row("report-not-a-run", "report {base}/data", "not a search run folder"),
    row("report-missing-run", "report {base}/nowhere", "no such run folder"),
    row("report-study-without-run", "report --study ghost --runs {base}", "no such run folder"),
    row("report-out-is-a-folder", "report {run} --no-figures --out {base}/data", "is a folder"),
    row(
        "report-out-no-parent", "report {run} --no-figures --out {tmp}/a/b/r.html", "does not exist"
    ),
    row(
        "report-storage-missing",
        "report --study r --storage sqlite:///{base}/data/missing.db --no-figures --out {tmp}/r.html",
        "no such database",
    ),
    row(
        "report-storage-text-db",
        "report --study r --storage sqlite:///{base}/data/text.db --no-figures --out {tmp}/r.html",
        "not a database",
    ),
    row(
        "report-storage-other-db",
        "report --study r --storage sqlite:///{base}/data/other.db --no-figures --out {tmp}/r.html",
        "not an Optuna",
    ),
    row(
        "report-study-not-in-storage",
        "report --study ghost --storage sqlite:///{run}/study.db --no-figures --out {tmp}/r.html",
        "holds no study",
    ),
    row(
        "report-config-corrupt",
        "report {run} --no-figures --out {tmp}/r.html",
        "config.yaml",
        damage=config("{{{{ not yaml"),
    ),
    row(
        "report-config-corrupt-with-storage",
        "report {run} --storage sqlite:///{run}/study.db --no-figures --out {tmp}/r.html",
        "config.yaml",
        damage=config("{{{{ not yaml"),
    ),
    row(
        "report-db-text",
        "report {run} --no-figures --out {tmp}/r.html",
        "not a database",
        damage=storage_from("text.db"),
    ),
]


# ----------------------------------------------------------------------------- running a row
class _Timeout(Exception):
    pass


def _in_process(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """``evolve.cli.main(argv)`` in ``cwd`` with stdout/stderr captured, under a time limit."""
    out, err = io.StringIO(), io.StringIO()

    def expire(*_: Any) -> None:
        raise _Timeout(f"evolve {' '.join(argv)} ran over {ROW_TIMEOUT_S} s")

    old_handler = signal.signal(signal.SIGALRM, expire)
    signal.alarm(ROW_TIMEOUT_S)
    here = Path.cwd()
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:  # argparse
                code = e.code if isinstance(e.code, int) else 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old_handler)
        os.chdir(here)
    return code, out.getvalue(), err.getvalue()


def _subprocess(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "evolve", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=ROW_TIMEOUT_S,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file (its SHA-256) and folder (``dir``) under ``roots``, by path."""
    seen: dict[str, str] = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_dir():
                seen[str(path)] = "dir"
            else:
                seen[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


ERROR_LINE = re.compile(r"^evolve(?: [a-z][a-z-]*)*: error: ")


def check_refusal(code: int, stderr: str, words: tuple[str, ...]) -> str:
    """Exit 2, no traceback, and the last line is the error naming the problem. An error the
    command raised (``evolve: error:``) is the only line; argparse prints its usage above it."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    last = lines[-1]
    assert ERROR_LINE.match(last), stderr
    if lines[0].startswith("usage:"):  # argparse: the usage, then its error line
        assert all(line.startswith(("usage:", " ")) for line in lines[:-1]), stderr
    else:
        assert len(lines) == 1, f"more than the error line on stderr:\n{stderr}"
    for word in words:
        assert word.lower() in last.lower(), f"{word!r} not in {last!r}"
    assert code == 2, f"exit code {code}: {stderr}"
    return last


@pytest.mark.parametrize("r", ROWS)
def test_bad_input_is_refused_in_one_line_with_exit_2_and_changes_nothing(
    r: Row, world: World, tmp_path: Path
) -> None:
    run, export = world.run, world.export
    if r.damage is not None:  # work on copies, damaged before the snapshot
        run = tmp_path / "copy" / "runs" / "r"
        export = tmp_path / "copy" / "exp"
        shutil.copytree(world.run, run)
        shutil.copytree(world.export, export)
        cfg = run / "config.yaml"  # it records the study's database by absolute path
        cfg.write_text(cfg.read_text().replace(str(world.run), str(run)))
        r.damage(world, run, export)
    work = tmp_path / "work"
    work.mkdir()
    for name in r.copies:
        shutil.copyfile(world.base / "data" / name, work / name)
    argv = [
        a.format(base=world.base, run=run, runs=run.parent, exp=export, tmp=work) for a in r.argv
    ]
    before = snapshot(world.base, tmp_path)
    runner = _subprocess if r.subprocess else _in_process
    code, _, err = runner(argv, work)
    check_refusal(code, err, r.words)
    assert snapshot(world.base, tmp_path) == before, "a refused command changed files"
    assert not world.marker.exists(), "a file ran code while it was read"


def test_every_command_has_rows() -> None:
    from evolve.cli import make_parser

    sub = next(a for a in make_parser()._actions if isinstance(a, argparse._SubParsersAction))
    rows = [p.values[0] for p in ROWS]
    covered = {r.argv[0] for r in rows if r.argv}
    missing = sorted(set(sub.choices) - covered)
    assert not missing, f"commands without bad-input rows: {missing}"
    for command in sub.choices:  # several kinds of bad input each
        assert sum(1 for r in rows if r.argv[:1] == (command,)) >= 4, command


def test_a_teacher_entry_that_is_not_an_object_is_listed_as_unreadable(tmp_path: Path) -> None:
    """Not an error of the command: like any damaged cache entry it is listed with its problem
    (and retrained when a search needs it), and nothing is changed."""
    import contextlib
    import io

    from evolve.cli import main

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "digits-mlp-w8-s0.json").write_text("[1, 2, 3]")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["teacher", "list", "--cache", str(cache)]) == 0
    assert "digits-mlp-w8-s0" in out.getvalue() and "unreadable metadata" in out.getvalue()
    assert (cache / "digits-mlp-w8-s0.json").read_text() == "[1, 2, 3]"

"""Loading a model, a run or a space never executes code from a file, and servers bind to loopback.

The first half reads the source (AST, not regexes over text), so a regression — a new
``torch.load`` without ``weights_only=True``, a ``yaml.load``, an ``import pickle`` — fails here
before it ships. The second half feeds real hostile files to the real loaders.
"""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("evolve", "snn_models", "agents", "search_spaces", "benchmarks")
#: modules that deserialise by running code, whatever the file says
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "shelve", "marshal"}
UNSAFE_MODULES |= {"joblib"}
#: yaml entry points that can build arbitrary Python objects
UNSAFE_YAML = {"load", "load_all", "full_load", "full_load_all", "unsafe_load", "unsafe_load_all"}
UNSAFE_YAML |= {"Loader", "FullLoader", "UnsafeLoader", "UnsafeConstructor"}
#: torch.jit.load runs TorchScript, not Python, but it is still only for files we just wrote:
#: export reloads its own fresh output to check it. Nothing else may call it.
JIT_LOAD_ALLOWED = {"evolve/export/exporters.py"}


def _sources() -> list[tuple[str, ast.Module]]:
    out = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            out.append((rel, ast.parse(path.read_text(), filename=rel)))
    return out


SOURCES = _sources()


def _dotted(node: ast.AST) -> str:
    """``torch.jit.load`` for an attribute chain, ``load`` for a bare name, else ``""``."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _calls(tree: ast.Module) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def test_the_scan_sees_the_code() -> None:
    """Guard against a scan that silently checks nothing."""
    names = {rel for rel, _ in SOURCES}
    assert {
        "evolve/store/checkpoints.py",
        "search_spaces/loader.py",
        "evolve/training/teachers.py",
    } <= names
    loads = [c for _, t in SOURCES for c in _calls(t) if _dotted(c.func) == "torch.load"]
    assert len(loads) >= 3


def test_every_torch_load_is_weights_only() -> None:
    bad = []
    for rel, tree in SOURCES:
        for call in _calls(tree):
            if _dotted(call.func) == "torch.load":
                value = _keyword(call, "weights_only")
                if not (isinstance(value, ast.Constant) and value.value is True):
                    bad.append(f"{rel}:{call.lineno}")
        for node in ast.walk(tree):  # `from torch import load` would hide a call from the check
            if isinstance(node, ast.ImportFrom) and node.module == "torch":
                bad += [
                    f"{rel}:{node.lineno} from torch import load"
                    for a in node.names
                    if a.name == "load"
                ]
    assert not bad, f"torch.load without weights_only=True at {', '.join(bad)}"


def test_no_module_that_unpickles_is_imported() -> None:
    bad = []
    for rel, tree in SOURCES:
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            bad += [f"{rel}:{node.lineno} {n}" for n in names if n in UNSAFE_MODULES]
        for call in _calls(tree):
            if _dotted(call.func).endswith(("read_pickle", "to_pickle")):
                bad.append(f"{rel}:{call.lineno} {_dotted(call.func)}")
    assert not bad, f"unpickling code: {', '.join(bad)}"


def test_yaml_is_only_loaded_safely() -> None:
    bad = []
    for rel, tree in SOURCES:
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "yaml"
                and node.attr in UNSAFE_YAML
            ):
                bad.append(f"{rel}:{node.lineno} yaml.{node.attr}")
    assert not bad, f"unsafe YAML loading: {', '.join(bad)}"


def test_numpy_never_unpickles_and_torchscript_is_only_reloaded_by_export() -> None:
    bad = []
    for rel, tree in SOURCES:
        for call in _calls(tree):
            name = _dotted(call.func)
            if name in ("np.load", "numpy.load"):
                value = _keyword(call, "allow_pickle")
                if not (isinstance(value, ast.Constant) and value.value is False):
                    bad.append(f"{rel}:{call.lineno} np.load without allow_pickle=False")
            if name == "torch.jit.load" and rel not in JIT_LOAD_ALLOWED:
                bad.append(f"{rel}:{call.lineno} torch.jit.load")
    assert not bad, "; ".join(bad)


def test_servers_default_to_loopback() -> None:
    from evolve.cli import make_parser

    args = make_parser().parse_args(["dashboard", "runs/x"])
    assert args.host == "127.0.0.1"
    ray_src = (ROOT / "agents" / "ray_backend.py").read_text()
    assert '_node_ip_address="127.0.0.1"' in ray_src  # a local Ray instance stays on loopback
    # nothing binds every interface by default anywhere in the code
    for rel, tree in SOURCES:
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value == "0.0.0.0":
                raise AssertionError(f"{rel}:{node.lineno}: a literal 0.0.0.0 in code")


class _Exploit:
    """Unpickling this would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (str(self.marker), "pwned"))  # type: ignore[return-value]


def test_a_checkpoint_that_would_run_code_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    import torch

    from evolve.errors import UserError
    from evolve.store.checkpoints import read

    marker = tmp_path / "marker.txt"
    evil = tmp_path / "trial_0.pt"
    torch.save({"format": 1, "state_dict": _Exploit(marker)}, evil)
    with pytest.raises(UserError):
        read(evil)
    assert not marker.exists()
    # plain pickle (not torch's zip container) is refused the same way
    plain = tmp_path / "plain.pt"
    plain.write_bytes(pickle.dumps(_Exploit(marker)))
    with pytest.raises(UserError):
        read(plain)
    assert not marker.exists()


def test_a_space_file_with_python_tags_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    from search_spaces import load_space
    from search_spaces.errors import SpaceError

    marker = tmp_path / "marker.txt"
    space = tmp_path / "evil.yaml"
    space.write_text(
        "name: evil\n"
        f"description: !!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path ['{marker}']]\n"
        "params:\n  depth: {type: int, low: 1, high: 2}\n"
    )
    with pytest.raises(SpaceError):
        load_space(str(space))
    assert not marker.exists()

"""Project-wide rules: the one-way import arrows and runnable docstring examples."""

from __future__ import annotations

import ast
import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "search_spaces": {"torch", "optuna", "ray", "evolve", "agents", "snn_models"},
    "agents": {"torch", "evolve", "snn_models"},
    "snn_models": {"optuna", "ray", "evolve", "agents", "search_spaces"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_follow_the_arrows(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    for path in files:
        bad = _imports(path) & FORBIDDEN[package]
        assert not bad, (
            f"{path.relative_to(ROOT)} imports {sorted(bad)} against the dependency arrows"
        )


def test_nothing_required_imports_torchvision() -> None:
    for package in ("evolve", "agents", "search_spaces", "snn_models"):
        for path in (ROOT / package).rglob("*.py"):
            assert "torchvision" not in _imports(path), path


def _modules(package: str) -> list[str]:
    pkg = importlib.import_module(package)
    return [package] + [m.name for m in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}.")]


@pytest.mark.parametrize(
    "module", [*_modules("snn_models"), *_modules("agents"), *_modules("evolve")]
)
def test_docstring_examples_run(module: str) -> None:
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0

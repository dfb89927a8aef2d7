"""Every library space loads, samples inside itself, honours its conditions, and is replayable."""

from __future__ import annotations

import ast
import doctest
import importlib
import pkgutil
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import pytest

import search_spaces
from search_spaces import ArchSpec, RandomSuggester, SearchSpace, list_spaces, load_space
from search_spaces.loader import library_names

N_SAMPLES = 200
PACKAGE = Path(search_spaces.__file__).parent
NAMES = library_names()


def test_the_library_ships_hybrid_neuron_as_package_data() -> None:
    assert "hybrid_neuron" in NAMES
    assert resources.files("search_spaces").joinpath("library", "hybrid_neuron.yaml").is_file()


def test_list_spaces_gives_one_line_descriptions() -> None:
    spaces = list_spaces()
    assert list(spaces) == NAMES
    for description in spaces.values():
        assert description and "\n" not in description


@pytest.mark.parametrize("name", NAMES)
def test_library_space_loads(name: str) -> None:
    space = load_space(name)
    assert space.name == name
    assert space.source is not None and Path(space.source).is_file()
    assert space.dimensions
    table = space.describe()
    for dim in space.params:
        assert dim.name in table
    for dim in space.layer_params:
        assert f"layer.{{i}}.{dim.name}" in table


@pytest.mark.parametrize("name", NAMES)
def test_default_is_contained(name: str) -> None:
    space = load_space(name)
    assert space.contains(space.default())


@pytest.mark.parametrize("name", NAMES)
def test_samples_are_contained_and_respect_conditions(name: str) -> None:
    space = load_space(name)
    suggester = RandomSuggester(seed=0)  # one stream: it also checks each name keeps one range
    for _ in range(N_SAMPLES):
        spec = space.sample(suggester)
        assert space.contains(spec), spec
        assert _expected_keys(space, spec) == list(spec)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_samples(name: str) -> None:
    space = load_space(name)

    def draw(seed: int) -> list[ArchSpec]:
        suggester = RandomSuggester(seed)
        return [space.sample(suggester) for _ in range(20)]

    assert draw(1) == draw(1)
    assert draw(1) != draw(2)


def test_hybrid_neuron_conditionals() -> None:
    space = load_space("hybrid_neuron")
    suggester = RandomSuggester(seed=3)
    seen: dict[str, set[object]] = {"kind": set(), "depth": set(), "neuron": set()}
    for _ in range(N_SAMPLES):
        spec = space.sample(suggester)
        depth = spec["depth"]
        assert isinstance(depth, int)
        layers = {key.split(".")[1] for key in spec if key.startswith("layer.")}
        assert layers == {str(i) for i in range(depth)}
        seen["kind"].add(spec["kind"])
        seen["depth"].add(depth)
        for i in range(depth):
            neuron = spec[f"layer.{i}.neuron"]
            seen["neuron"].add(neuron)
            assert (f"layer.{i}.decay" in spec) == (neuron in ("lif", "adaptive"))
            assert (f"layer.{i}.v_reset" in spec) == (neuron in ("bif", "adaptive"))
            assert (f"layer.{i}.width" in spec) == (spec["kind"] == "mlp")
            assert (f"layer.{i}.channels" in spec) == (spec["kind"] == "cnn")
            if neuron in ("bif", "adaptive"):  # BIF (v_c = 0.5) needs v_c < v_reset < threshold
                v_reset, threshold = spec[f"layer.{i}.v_reset"], spec[f"layer.{i}.threshold"]
                assert isinstance(v_reset, float) and isinstance(threshold, float)
                assert 0.5 < v_reset < threshold
    assert seen == {
        "kind": {"mlp", "cnn"},
        "depth": {1, 2, 3},
        "neuron": {"if", "lif", "bif", "adaptive"},
    }


def test_hybrid_neuron_default() -> None:
    assert load_space("hybrid_neuron").default() == {
        "kind": "mlp",
        "depth": 2,
        "timesteps": 4,
        "encoder": "direct",
        "lr": 3.0e-3,
        "kd_enabled": False,
        "layer.0.width": 128,
        "layer.0.neuron": "lif",
        "layer.0.threshold": 1.0,
        "layer.0.decay": 0.5,
        "layer.1.width": 128,
        "layer.1.neuron": "lif",
        "layer.1.threshold": 1.0,
        "layer.1.decay": 0.5,
    }


def test_samples_survive_json() -> None:
    space = load_space("hybrid_neuron")
    suggester = RandomSuggester(seed=5)
    for _ in range(20):
        spec = space.sample(suggester)
        back = ArchSpec.from_json(spec.to_json())
        assert back == spec and list(back.items()) == list(spec.items())
        assert space.contains(back)


def _modules() -> list[str]:
    prefix = "search_spaces."
    return ["search_spaces"] + [
        m.name for m in pkgutil.walk_packages(search_spaces.__path__, prefix)
    ]


@pytest.mark.parametrize("module", _modules())
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_package_imports_only_the_standard_library_and_yaml() -> None:
    allowed = set(sys.stdlib_module_names) | {"yaml", "search_spaces"}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def _expected_keys(space: SearchSpace, spec: Mapping[str, object]) -> list[str]:
    """Which keys the conditions call for, worked out from ``spec`` (independently of _walk)."""

    def holds(when: object, lookup: Mapping[str, object]) -> bool:
        assert isinstance(when, tuple)
        return all(c.param in lookup and any(lookup[c.param] == v for v in c.values) for c in when)

    keys = list(space.fixed)
    keys += [d.name for d in space.params if holds(d.when, spec)]
    count = space.repeat if isinstance(space.repeat, int) else spec.get(space.repeat or "", 0)
    assert isinstance(count, int)
    top = {k: v for k, v in spec.items() if not k.startswith("layer.")}
    for i in range(count):
        local = dict(top)
        for d in space.layer_params:
            if f"layer.{i}.{d.name}" in spec:
                local[d.name] = spec[f"layer.{i}.{d.name}"]
        keys += [f"layer.{i}.{d.name}" for d in space.layer_params if holds(d.when, local)]
    return keys

"""Every loader error is one exact line: ``file:line: key: problem (hint)``."""

from __future__ import annotations

from pathlib import Path

import pytest

from search_spaces import SpaceError, load_space, parse_space
from search_spaces.loader import library_names

BASE = """\
name: t
params:
  kind: {type: categorical, choices: [mlp, cnn]}
  depth: {type: int, low: 1, high: 3}
layers:
  repeat: depth
  params:
    neuron: {type: categorical, choices: [if, lif, bif]}
    decay: {type: float, low: 0.3, high: 0.9, when: {neuron: lif}}
"""
NEURON = "    neuron: {type: categorical, choices: [if, lif, bif]}\n"
DECAY = "    decay: {type: float, low: 0.3, high: 0.9, when: {neuron: lif}}\n"


def one(dim: str) -> str:
    """A space with one top-level dimension, written on line 3."""
    return f"name: t\nparams:\n  a: {dim}\n"


CASES: list[tuple[str, str, str]] = [
    # malformed YAML
    (
        "syntax",
        "name: t\nparams:\n  a: {type: int\n  b: 1\n",
        "4: <yaml>: expected ',' or '}', but got ':' (check the indentation and quoting at column 4)",
    ),
    (
        "colon",
        "name: t\nparams: a: b\n",
        "2: <yaml>: mapping values are not allowed here "
        "(check the indentation and quoting at column 10)",
    ),
    (
        "tab",
        "name: t\nparams:\n\ta: 1\n",
        "3: <yaml>: found character '\\t' that cannot start any token "
        "(indent with spaces; YAML does not allow tabs)",
    ),
    (
        "two documents",
        "name: t\n---\nname: u\n",
        "2: <yaml>: expected a single document in the stream, but found another document "
        "(a space file holds one document; remove the '---')",
    ),
    (
        "control character",
        "name: t\x07\n",
        "1: <yaml>: unacceptable character #x0007 (special characters are not allowed; remove it)",
    ),
    ("empty", "# nothing\n", "1: <root>: the file is empty (a space needs 'name' and 'params')"),
    (
        "root list",
        "- a\n- b\n",
        "1: <root>: expected a mapping, got a list (a space needs 'name' and 'params')",
    ),
    (
        "duplicate key",
        "name: t\nparams:\n  a: {type: bool}\n  a: {type: bool}\n",
        "4: params.a: duplicate key 'a' (first on line 3; YAML would keep only the last)",
    ),
    (
        "boolean key",
        "name: t\nparams:\n  on: {type: bool}\n",
        "3: params: keys must be text, got bool true "
        "(YAML 1.1 reads yes/no/on/off as booleans; quote the key)",
    ),
    (
        "tag",
        "name: !foo t\nparams: {}\n",
        "1: name: could not determine a constructor for the tag '!foo' "
        "(remove the tag; space files hold plain YAML values)",
    ),
    (
        "merge key",
        "name: t\nbase: &b {type: bool}\nparams:\n  a: {<<: *b}\n",
        "4: params.a: merge keys ('<<') are not supported (write the keys out)",
    ),
    # unknown and missing keys
    (
        "unknown top key",
        "name: t\nparms: {}\n",
        "2: parms: unknown key 'parms' (did you mean 'params'?)",
    ),
    (
        "unknown layers key",
        BASE.replace("  repeat: depth\n", "  repeat: depth\n  repaet: 2\n"),
        "7: layers.repaet: unknown key 'repaet' (did you mean 'repeat'?)",
    ),
    (
        "unknown dimension key",
        "name: t\nparams:\n  a:\n    type: int\n    low: 1\n    hihg: 3\n",
        "6: params.a.hihg: unknown key 'hihg' for an int dimension (did you mean 'high'?)",
    ),
    (
        "key of another type",
        one("{type: int, low: 1, high: 2, choices: [1]}"),
        "3: params.a.choices: unknown key 'choices' for an int dimension ('choices' belongs to "
        "type: categorical; int takes: type, low, high, step, log, default, when, description)",
    ),
    (
        "missing name",
        "params:\n  a: {type: bool}\n",
        "1: name: missing required key 'name' (e.g. name: my_space)",
    ),
    (
        "missing params",
        "name: t\n",
        "1: params: missing required key 'params' "
        "(e.g. params: {depth: {type: int, low: 1, high: 3}})",
    ),
    (
        "missing layer params",
        BASE.split("layers:")[0] + "layers:\n  repeat: depth\n",
        "5: layers.params: missing required key 'params' "
        "(e.g. layers: {repeat: depth, params: {width: {type: int, low: 8, high: 64}}})",
    ),
    (
        "missing high",
        "name: t\nparams:\n  a:\n    type: int\n    low: 1\n",
        "3: params.a.high: missing required key 'high' (an int dimension needs low and high)",
    ),
    (
        "missing type",
        one("{low: 1, high: 2}"),
        "3: params.a.type: missing required key 'type' (one of: int, float, categorical, bool)",
    ),
    (
        "no dimensions",
        "name: t\nparams: {}\n",
        "2: params: the space has no dimensions (add at least one under params:)",
    ),
    # wrong types
    (
        "unknown type",
        one("{type: integer, low: 1, high: 2}"),
        "3: params.a.type: unknown type 'integer' "
        "(did you mean 'int'? types: int, float, categorical, bool)",
    ),
    (
        "dimension not a mapping",
        "name: t\nparams:\n  depth: 3\n",
        "3: params.depth: expected a mapping with a 'type' key, got int 3 "
        "(to pin one value for every sample, put it under 'fixed:')",
    ),
    (
        "params null",
        "name: t\nparams:\n",
        "2: params: expected a mapping, got null "
        "(e.g. params: {depth: {type: int, low: 1, high: 3}})",
    ),
    (
        "float bound of an int",
        one("{type: int, low: 1.5, high: 2}"),
        "3: params.a.low: expected a whole number, got float 1.5 "
        "(int dimensions take whole numbers; use type: float for real values)",
    ),
    (
        "1e-3 is text in YAML 1.1",
        one("{type: float, low: 1e-3, high: 2}"),
        "3: params.a.low: expected a number, got string '1e-3' "
        "(YAML 1.1 reads 1e-3 as text; write 1.0e-3)",
    ),
    (
        "log not a bool",
        one("{type: float, low: 1, high: 2, log: 1}"),
        "3: params.a.log: expected true or false, got int 1 (write true or false)",
    ),
    (
        "name not text",
        "name: 3\nparams:\n  a: {type: bool}\n",
        "1: name: expected text, got int 3 (quote it)",
    ),
    (
        "invalid space name",
        "name: 'a b'\nparams:\n  a: {type: bool}\n",
        "1: name: name 'a b' is not valid (use letters, digits, '_' and '-')",
    ),
    (
        "description not text",
        "name: t\ndescription: 3\nparams:\n  a: {type: bool}\n",
        "2: description: expected text, got int 3 (quote it)",
    ),
    (
        "fixed value not a scalar",
        "name: t\nparams:\n  a: {type: bool}\nfixed:\n  x: [1, 2]\n",
        "5: fixed.x: expected a string, number or bool, got a list "
        "(values are str, int, float or bool)",
    ),
    # bounds
    (
        "low above high",
        one("{type: int, low: 5, high: 2}"),
        "3: params.a.low: low 5 is above high 2 (bounds are inclusive; swap them)",
    ),
    (
        "log with low 0",
        one("{type: float, low: 0, high: 2, log: true}"),
        "3: params.a.low: log scale needs low > 0, got 0.0 (raise low, or drop log: true)",
    ),
    (
        "step zero",
        one("{type: float, low: 0, high: 2, step: 0}"),
        "3: params.a.step: step must be positive, got 0.0 (the grid is low, low + step, ..., high)",
    ),
    (
        "step and log",
        one("{type: float, low: 1, high: 2, step: 0.5, log: true}"),
        "3: params.a.log: step and log cannot be used together "
        "(Optuna samples a log range without a grid; drop one)",
    ),
    (
        "int step and log",
        one("{type: int, low: 1, high: 9, step: 2, log: true}"),
        "3: params.a.log: step and log cannot be used together "
        "(Optuna samples a log range without a grid; drop one)",
    ),
    (
        "high off the int grid",
        one("{type: int, low: 32, high: 250, step: 32}"),
        "3: params.a.high: high 250 is not on the step grid 32, 64, ... (use 224 or 256)",
    ),
    (
        "high off the float grid",
        one("{type: float, low: 0.1, high: 1.0, step: 0.2}"),
        "3: params.a.high: high 1.0 is not on the step grid 0.1 + k*0.2 (use 0.9 or 1.1)",
    ),
    (
        "default outside",
        one("{type: int, low: 1, high: 3, default: 7}"),
        "3: params.a.default: default 7 is outside 1..3 "
        "(pick a value in the dimension, or drop default to use the midpoint)",
    ),
    (
        "default off the grid",
        one("{type: int, low: 32, high: 256, step: 32, default: 100}"),
        "3: params.a.default: default 100 is not on the step grid 32, 64, ... (use 96 or 128)",
    ),
    (
        "float default off the grid",
        one("{type: float, low: 0.1, high: 0.9, step: 0.2, default: 0.4}"),
        "3: params.a.default: default 0.4 is not on the step grid 0.1 + k*0.2 (use 0.3 or 0.5)",
    ),
    (
        "default not a choice",
        one("{type: categorical, choices: [x, y], default: z}"),
        "3: params.a.default: default 'z' is not one of the choices (choices: x, y)",
    ),
    (
        "bool default",
        one("{type: bool, default: 1}"),
        "3: params.a.default: expected true or false, got int 1 (write true or false)",
    ),
    (
        "empty choices",
        one("{type: categorical, choices: []}"),
        "3: params.a.choices: choices is empty (list at least one value)",
    ),
    (
        "duplicate choice",
        "name: t\nparams:\n  a:\n    type: categorical\n    choices:\n      - x\n      - y\n      - x\n",
        "8: params.a.choices[2]: duplicate choice 'x' "
        "(already choices[0]; Optuna cannot tell equal choices apart)",
    ),
    (
        "equal choices of two types",
        one("{type: categorical, choices: [1, true]}"),
        "3: params.a.choices[1]: duplicate choice true "
        "(equals choices[0] = 1; Optuna cannot tell equal choices apart)",
    ),
    (
        "null choice",
        one("{type: categorical, choices: [x, null]}"),
        "3: params.a.choices[1]: expected a string, number or bool, got null "
        "(quote it if you mean the text)",
    ),
    # conditions
    (
        "when: unknown param",
        BASE.replace("{neuron: lif}", "{nueron: lif}"),
        "9: layers.params.decay.when.nueron: unknown param 'nueron' (did you mean 'neuron'?)",
    ),
    (
        "when: impossible choice",
        BASE.replace("{neuron: lif}", "{neuron: [lif, lif2]}"),
        "9: layers.params.decay.when.neuron: 'neuron' can never be 'lif2' "
        "(choices: if | lif | bif)",
    ),
    (
        "when: impossible int",
        BASE.replace("{neuron: lif}", "{depth: [2, 4]}"),
        "9: layers.params.decay.when.depth: 'depth' can never be 4 (range: 1..3)",
    ),
    (
        "when: sibling defined later",
        BASE.replace(NEURON + DECAY, DECAY + NEURON),
        "8: layers.params.decay.when.neuron: 'neuron' is defined after 'decay' "
        "(conditions can only refer to earlier params; move 'neuron' above 'decay')",
    ),
    (
        "when: itself",
        one("{type: bool, when: {a: true}}"),
        "3: params.a.when.a: 'a' cannot depend on itself (remove it from 'when')",
    ),
    (
        "when: cycle",
        "name: t\nparams:\n  a: {type: bool, when: {b: true}}\n  b: {type: bool, when: {a: true}}\n",
        "3: params.a.when.b: 'b' is defined after 'a' "
        "(conditions can only refer to earlier params; move 'b' above 'a')",
    ),
    (
        "when: top-level on a layer param",
        BASE.replace(
            "  depth: {type: int, low: 1, high: 3}\n",
            "  depth: {type: int, low: 1, high: 3}\n"
            "  lr: {type: float, low: 0.1, high: 1, when: {neuron: lif}}\n",
        ),
        "5: params.lr.when.neuron: 'neuron' is a layer param "
        "(top-level params can only depend on earlier top-level params)",
    ),
    (
        "when: fixed to another value",
        "name: t\nparams:\n  a: {type: bool, when: {kind: mlp}}\nfixed: {kind: cnn}\n",
        "3: params.a.when.kind: 'kind' can never be 'mlp' (it is fixed to 'cnn')",
    ),
    (
        "when: not a mapping",
        BASE.replace("{neuron: lif}", "neuron"),
        "9: layers.params.decay.when: expected a mapping {param: value}, got string 'neuron' "
        "(e.g. when: {neuron: lif} or when: {neuron: [lif, bif]})",
    ),
    (
        "when: empty",
        BASE.replace("{neuron: lif}", "{}"),
        "9: layers.params.decay.when: 'when' is empty "
        "(name a param and its values, e.g. when: {neuron: lif} or when: {neuron: [lif, bif]})",
    ),
    (
        "when: empty list",
        BASE.replace("{neuron: lif}", "{neuron: []}"),
        "9: layers.params.decay.when.neuron: empty list of values (list at least one value)",
    ),
    # repeat
    (
        "repeat: unknown param",
        BASE.replace("repeat: depth", "repeat: dpeth"),
        "6: layers.repeat: unknown param 'dpeth' (did you mean 'depth'?)",
    ),
    (
        "repeat: not an int",
        BASE.replace("repeat: depth", "repeat: kind"),
        "6: layers.repeat: 'kind' is a categorical dimension "
        "(repeat needs a top-level int param with low >= 0, or a whole number)",
    ),
    (
        "repeat: can be negative",
        BASE.replace("low: 1, high: 3}", "low: -1, high: 3}"),
        "6: layers.repeat: 'depth' can be negative: low is -1 (repeat needs low >= 0)",
    ),
    (
        "repeat: conditional",
        BASE.replace("low: 1, high: 3}", "low: 1, high: 3, when: {kind: mlp}}"),
        "6: layers.repeat: 'depth' has a 'when' condition "
        "(the layer count must always exist; remove the condition)",
    ),
    (
        "repeat: a layer param",
        BASE.replace("repeat: depth", "repeat: neuron"),
        "6: layers.repeat: 'neuron' is a layer param "
        "(repeat needs a top-level int param with low >= 0, or a whole number)",
    ),
    (
        "repeat: negative literal",
        BASE.replace("repeat: depth", "repeat: -2"),
        "6: layers.repeat: repeat must be >= 0, got -2 (it counts layers)",
    ),
    (
        "repeat: float literal",
        BASE.replace("repeat: depth", "repeat: 2.5"),
        "6: layers.repeat: expected a param name or a whole number, got 2.5 "
        "(repeat needs a top-level int param with low >= 0, or a whole number)",
    ),
    # names
    (
        "dotted name",
        "name: t\nparams:\n  a.b: {type: bool}\n",
        "3: params.a.b: name 'a.b' contains '.' "
        "(sampled names are dotted, e.g. layer.0.width; use '_' instead)",
    ),
    (
        "name not an identifier",
        "name: t\nparams:\n  v-reset: {type: bool}\n",
        "3: params.v-reset: name 'v-reset' is not valid "
        "(use letters, digits and '_', not starting with a digit)",
    ),
    (
        "layer param named like a top-level param",
        BASE.replace(NEURON, "    kind: {type: bool}\n" + NEURON),
        "8: layers.params.kind: 'kind' is also a top-level param "
        "(names must be unique across the space; rename one)",
    ),
    (
        "param named like a fixed key",
        BASE + "fixed: {kind: cnn}\n",
        "3: params.kind: 'kind' is also a fixed key "
        "(names must be unique across the space; rename one)",
    ),
    (
        "dotted fixed key",
        "name: t\nparams:\n  a: {type: bool}\nfixed:\n  b.c: 1\n",
        "5: fixed.b.c: name 'b.c' contains '.' "
        "(sampled names are dotted, e.g. layer.0.width; use '_' instead)",
    ),
    (
        "budget key misspelt",
        "name: t\nparams:\n  a: {type: bool}\nbudget:\n  trails: 4\n",
        "5: budget.trails: unknown key 'trails' (did you mean 'trials'?)",
    ),
    (
        "budget not a count",
        "name: t\nparams:\n  a: {type: bool}\nbudget: {trials: 0}\n",
        "4: budget.trials: expected a whole number >= 1, got int 0 "
        "(e.g. budget: {trials: 40, epochs: 10})",
    ),
    (
        "budget a float",
        "name: t\nparams:\n  a: {type: bool}\nbudget: {epochs: 2.5}\n",
        "4: budget.epochs: expected a whole number >= 1, got float 2.5 "
        "(e.g. budget: {trials: 40, epochs: 10})",
    ),
]


@pytest.mark.parametrize(
    ("yaml_text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_loader_error_message(tmp_path: Path, yaml_text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(SpaceError) as caught:
        load_space(path)
    assert str(caught.value) == f"{path}:{expected}"
    assert "\n" not in str(caught.value)


def test_error_fields(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BASE.replace("{neuron: lif}", "{nueron: lif}"))
    with pytest.raises(SpaceError) as caught:
        load_space(str(path))
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.file, error.line, error.key) == (str(path), 9, "layers.params.decay.when.nueron")
    assert (error.problem, error.hint) == ("unknown param 'nueron'", "did you mean 'neuron'?")


def test_a_valid_file_loads_by_path(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "mine.yml"
    path.parent.mkdir()
    path.write_text(BASE)
    space = load_space(str(path))
    assert (space.name, space.source) == ("t", str(path.resolve()))


def test_budget_is_read_and_described(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text(BASE + "budget: {trials: 3, epochs: 2}\n")
    space = load_space(path)
    assert dict(space.budget) == {"trials": 3, "epochs": 2}
    assert "budget: trials=3, epochs=2" in space.describe()
    assert dict(load_space(tmp_path / "b.yaml").budget) == dict(space.budget)
    path.write_text(BASE)
    assert dict(load_space(path).budget) == {}


def test_missing_file() -> None:
    with pytest.raises(SpaceError) as caught:
        load_space("nope/space.yaml")
    assert str(caught.value) == (
        "nope/space.yaml: no such file "
        "(give a .yaml path or a library space name; `evolve spaces` lists the library spaces)"
    )


def test_missing_file_named_like_a_library_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpaceError) as caught:
        load_space("hybrid_neuron.yaml")
    assert str(caught.value) == (
        "hybrid_neuron.yaml: no such file (for the library space write 'hybrid_neuron' without '.yaml')"
    )


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(SpaceError) as caught:
        load_space(tmp_path)
    assert str(caught.value) == f"{tmp_path}: is a directory (give the path of a .yaml file)"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(SpaceError) as caught:
        load_space(path)
    assert (
        str(caught.value) == f"{path}: not UTF-8 text: invalid continuation byte (save it as UTF-8)"
    )


def test_unknown_space_name_lists_the_library() -> None:
    with pytest.raises(SpaceError) as caught:
        load_space("hybrid_nueron")
    available = ", ".join(library_names())
    assert str(caught.value) == (
        "hybrid_nueron: unknown search space (did you mean 'hybrid_neuron'? available: "
        f"{available}; `evolve spaces` lists the library spaces)"
    )


def test_library_file_must_carry_its_own_name() -> None:
    with pytest.raises(SpaceError) as caught:
        parse_space(BASE, "other.yaml", expect_name="other")
    assert str(caught.value) == (
        "other.yaml:1: name: name 't' does not match the file name 'other.yaml' "
        "(library spaces are looked up by file name; rename one)"
    )

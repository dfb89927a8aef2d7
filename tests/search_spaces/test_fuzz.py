"""The space loader on anything: it returns a valid :class:`SearchSpace` or raises
:class:`SpaceError` (one line), never another error, never a hang, never code run from the file.

Three kinds of input: text made of YAML's own tokens and arbitrary characters; nested structures
dumped to YAML (keys a space uses, values of every YAML type including huge, NaN and infinite
numbers); and spaces that are nearly right (every key a space may hold, with values drawn around
the valid ones), whose accepted ones must also sample inside themselves. Then hostile files
named one by one (deep nesting, alias bombs, Python tags, huge numbers, binary data...).
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from search_spaces import RandomSuggester, SearchSpace, SpaceError, load_space, parse_space

LIMIT_S = 10  # a single parse may take at most this long (a hang fails the example)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def time_limit(seconds: int = LIMIT_S) -> Iterator[None]:
    def expire(*_: Any) -> None:
        raise TimeoutError(f"the loader ran over {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def load(text: str) -> SearchSpace | SpaceError:
    """``parse_space(text)``: the space, or the SpaceError (anything else fails the test)."""
    with time_limit():
        try:
            return parse_space(text, "fuzz.yaml")
        except SpaceError as e:
            return e


def check_error(e: SpaceError) -> None:
    message = str(e)
    assert "\n" not in message and "\r" not in message, message
    assert message.startswith("fuzz.yaml"), message


def check_space(space: SearchSpace, draws: int = 5) -> None:
    """An accepted space describes itself, holds its default and every sample it draws."""
    with time_limit():
        space.describe()
        assert space.contains(space.default())
        suggester = RandomSuggester(seed=0)
        for _ in range(draws):
            spec = space.sample(suggester)
            assert space.contains(spec), spec


def check(text: str) -> None:
    result = load(text)
    if isinstance(result, SpaceError):
        check_error(result)
    else:
        check_space(result)


# ----------------------------------------------------------------------------- strategies
NAMES = [
    "name", "description", "params", "layers", "fixed", "budget", "dataset", "repeat", "type",
    "low", "high", "step", "log", "default", "when", "choices", "trials", "epochs", "depth",
    "width", "neuron", "kind", "lr", "int", "float", "categorical", "bool",
]  # fmt: skip
TOKENS = [
    *NAMES, ": ", ":", "\n", "  ", "    ", "- ", "[", "]", "{", "}", ", ", "&a ", "*a", "&b ",
    "*b", "!!python/object/apply:os.system ", "!!binary ", "!!set ", "!!float ", "!foo ", "<<: ",
    "---\n", "...\n", "#", "'", '"', "|", ">", "?", "1", "-1", "0.5", "1.0e+3", "1e3", ".nan",
    ".inf", "-.inf", "9" * 5000, "true", "no", "null", "~", "\t", "\x00", "\ufeff", "é",
]  # fmt: skip

yaml_ish = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(NAMES),
    st.text(max_size=12),
)
structures = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(NAMES), scalars), inner, max_size=5),
    ),
    max_leaves=40,
)


def _number(around: list[float]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(around),
        st.integers(-5, 300),
        st.floats(-1e3, 1e3, allow_nan=False),
        st.sampled_from([0, -1, 10**20, 2**53, 2**53 + 1, 1e308, -1e308, 1e-308, math.inf]),
        st.sampled_from(["1e-3", "x", None, True, [1]]),
    )


@st.composite
def dimensions(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    kind = draw(st.sampled_from(["int", "float", "categorical", "bool", "lstm"]))
    dim: dict[str, Any] = {"type": kind}
    if kind in ("int", "float", "lstm"):
        dim["low"] = draw(_number([0, 1, 0.5, 1e-3]))
        dim["high"] = draw(_number([3, 10, 1.0, 256]))
        if draw(st.booleans()):
            dim["step"] = draw(_number([1, 2, 0.1, 32]))
        if draw(st.booleans()):
            dim["log"] = draw(st.sampled_from([True, False, "yes"]))
    if kind == "categorical":
        dim["choices"] = draw(
            st.lists(st.one_of(st.sampled_from(["if", "lif", "bif"]), scalars), max_size=5)
        )
    if draw(st.booleans()):
        dim["default"] = draw(scalars)
    conditional: bool = draw(st.booleans())
    if names and conditional:
        target = draw(st.sampled_from(names))
        dim["when"] = {target: draw(st.one_of(scalars, st.lists(scalars, max_size=3)))}
    if draw(st.integers(0, 9)) == 0:
        dim[draw(st.sampled_from(NAMES))] = draw(scalars)  # a stray or repeated key
    return dim


@st.composite
def near_spaces(draw: st.DrawFn) -> dict[str, Any]:
    """Spaces with every key a space may hold and values around the valid ones."""
    space: dict[str, Any] = {"name": draw(st.sampled_from(["t", "my-space", "1 2", ""]))}
    names = draw(st.lists(st.sampled_from(["depth", "lr", "kind", "neuron", "a"]), max_size=4))
    space["params"] = {n: draw(dimensions(names[:i])) for i, n in enumerate(names)}
    if draw(st.booleans()):
        layer_names = draw(st.lists(st.sampled_from(["width", "neuron", "b"]), max_size=3))
        space["layers"] = {
            "repeat": draw(st.one_of(st.sampled_from(["depth", "lr", "zz"]), _number([2]))),
            "params": {
                n: draw(dimensions(names + layer_names[:i])) for i, n in enumerate(layer_names)
            },
        }
    if draw(st.booleans()):
        space["fixed"] = draw(st.dictionaries(st.sampled_from(["kind", "depth", "x.y"]), scalars))
    if draw(st.booleans()):
        space["budget"] = {"trials": draw(_number([40])), "epochs": draw(_number([10]))}
    return space


def dump(data: Any) -> str:
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    except (yaml.YAMLError, ValueError, OverflowError):  # e.g. an int too long to print
        assume(False)
        raise AssertionError("unreachable") from None


# ----------------------------------------------------------------------------- (a) properties
@FAST
@given(yaml_ish)
@example("name: t\nparams: " + "[" * 200 + "]" * 200)
@example("a: &a [*a]\n")
@example("name: !!python/object/apply:os.system ['true']\nparams: {}\n")
def test_yaml_ish_text_loads_or_raises_space_error(text: str) -> None:
    check(text)


@FAST
@given(st.text(max_size=200))
def test_arbitrary_text_loads_or_raises_space_error(text: str) -> None:
    check(text)


@FAST
@given(structures)
def test_nested_structures_load_or_raise_space_error(data: Any) -> None:
    check(dump(data))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_spaces())
def test_near_spaces_load_or_raise_and_accepted_ones_sample_inside_themselves(
    data: dict[str, Any],
) -> None:
    check(dump(data))


# ----------------------------------------------------------------------------- (b) hostile files
def _laughs(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "name: t\n" + "\n".join(lines) + "\n"


GOOD = "name: t\nparams:\n  depth: {type: int, low: 1, high: 3}\n"
HOSTILE: list[tuple[str, str, str]] = [
    ("deep-flow-lists", "name: t\nparams: " + "[" * 10000 + "]" * 10000, "nested more than"),
    ("deep-flow-maps", "a: " + "{b: " * 10000 + "1" + "}" * 10000, "nested more than"),
    ("deep-block", "".join("  " * i + f"k{i}:\n" for i in range(3000)), "nested more than"),
    ("billion-laughs", _laughs(9), "expands to more than"),
    ("self-alias", "a: &a [*a]\n", "refers to itself"),
    ("merge-key", "base: &b {x: 1}\nname: t\nother:\n  <<: *b\n", "merge keys"),
    ("python-object-apply", "name: !!python/object/apply:os.system ['touch /tmp/x']\n", "tag"),
    ("python-object-new", "name: !!python/object/new:os.system ['touch /tmp/x']\n", "tag"),
    ("python-name", "name: !!python/name:os.system\n" + GOOD[8:], "tag"),
    ("python-module", "name: !!python/module:os\n" + GOOD[8:], "tag"),
    ("local-tag", "name: !secret x\n" + GOOD[8:], "tag"),
    ("set-tag", "name: t\nparams: !!set {a, b}\n", "tag"),
    ("omap-tag", "name: t\nparams: !!omap [a: 1]\n", "tag"),
    ("binary-tag", "name: !!binary aGVsbG8=\n" + GOOD[8:], "name"),
    ("huge-int", GOOD.replace("high: 3", "high: " + "9" * 10000), "cannot read the value"),
    ("large-int", GOOD.replace("high: 3", "high: " + "9" * 400), "2**53"),
    ("huge-budget", GOOD + "budget: {trials: " + "9" * 5000 + "}\n", "cannot read the value"),
    ("float-overflow", "name: t\nparams:\n  a: {type: float, low: 0.0, high: 1.0e+400}\n", "finite"),
    ("float-range-overflow", "name: t\nparams:\n  a: {type: float, low: -1.0e+308, high: 1.0e+308}\n", "wider"),
    ("nan-bound", "name: t\nparams:\n  a: {type: float, low: .nan, high: 1.0}\n", "finite"),
    ("inf-bound", "name: t\nparams:\n  a: {type: int, low: 0, high: .inf}\n", "whole number"),
    ("nan-choice", "name: t\nparams:\n  a: {type: categorical, choices: [.nan]}\n", "finite"),
    ("int-key", "name: t\n1: x\n", "keys must be text"),
    ("bool-key", "name: t\nyes: x\n", "booleans"),
    ("null-key", "name: t\n~: x\n", "keys must be text"),
    ("list-key", "name: t\n? [a, b]\n: x\n", "keys must be text"),
    ("duplicate-key", "name: t\nname: u\n", "duplicate key"),
    ("nul-byte", "name: t\x00\n", "unacceptable character"),
    ("bell", "name: t\x07\n", "unacceptable character"),
    ("empty", "", "empty"),
    ("only-comments", "# nothing\n", "empty"),
    ("scalar", "hello", "expected a mapping"),
    ("two-documents", GOOD + "---\n" + GOOD, "single document"),
    ("too-many-layers", "name: t\nlayers: {repeat: 100000000000, params: {w: {type: bool}}}\n", "too many layers"),
    ("too-many-layers-param", "name: t\nparams:\n  d: {type: int, low: 0, high: 1000000000000}\nlayers: {repeat: d, params: {w: {type: bool}}}\n", "1000 layers"),
    ("long-choice-list", "name: t\nparams:\n  c: {type: categorical, choices: [" + ", ".join(map(str, range(120_000))) + "]}\n", "expands to more than"),
    ("unknown-top-key", GOOD + "colour: red\n", "unknown key"),
    ("unknown-dim-key", "name: t\nparams:\n  a: {type: int, low: 1, hihg: 3}\n", "did you mean"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "words"), [pytest.param(t, w, id=i) for i, t, w in HOSTILE])
def test_hostile_yaml_is_refused_in_one_line(text: str, words: str) -> None:
    start = time.perf_counter()
    result = load(text)
    assert isinstance(result, SpaceError), f"accepted: {result}"
    check_error(result)
    assert words.lower() in str(result).lower(), str(result)
    assert time.perf_counter() - start < LIMIT_S


def test_a_python_tag_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    for tag in ("object/apply", "object/new"):
        text = f"name: !!python/{tag}:os.system ['touch {marker}']\nparams: {{}}\n"
        assert isinstance(load(text), SpaceError)
    assert not marker.exists()


HOSTILE_FILES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("binary", lambda d: _put(d / "junk.yaml", bytes(range(256)) * 8), "junk.yaml"),
    ("latin-1", lambda d: _put(d / "latin.yaml", "name: caf\xe9\n".encode("latin-1")), "UTF-8"),
    ("utf-16", lambda d: _put(d / "wide.yaml", GOOD.encode("utf-16")), "wide.yaml"),
    ("directory", lambda d: _mkdir(d / "folder.yaml"), "is a directory"),
    ("missing", lambda d: d / "missing.yaml", "no such file"),
    ("empty-file", lambda d: _put(d / "empty.yaml", b""), "empty"),
]


def _put(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


@pytest.mark.parametrize(("make", "words"), [pytest.param(m, w, id=i) for i, m, w in HOSTILE_FILES])
def test_hostile_files_are_refused_in_one_line(
    tmp_path: Path, make: Callable[[Path], Path], words: str
) -> None:
    path = make(tmp_path)
    with time_limit(), pytest.raises(SpaceError) as caught:
        load_space(path)
    message = str(caught.value)
    assert "\n" not in message and words.lower() in message.lower(), message

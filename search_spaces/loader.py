"""Reading a space from YAML, with every error pointing at its file, line and key.

A space file looks like this (``search_spaces/library/hybrid_neuron.yaml`` is the full example)::

    name: tiny                       # required; letters, digits, '_' and '-'
    description: One-line summary.   # optional
    params:                          # top-level dimensions, sampled in this order
      kind: {type: categorical, choices: [mlp, cnn]}
      depth: {type: int, low: 1, high: 3, default: 2}
      lr: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}
    layers:                          # optional: the same params for each of `repeat` layers
      repeat: depth                  # a top-level int param (low >= 0) or a whole number
      params:
        width: {type: int, low: 32, high: 256, step: 32, when: {kind: mlp}}
        neuron: {type: categorical, choices: [if, lif, bif]}
        decay: {type: float, low: 0.3, high: 0.95, when: {neuron: lif}}
    fixed:                           # optional: constants present in every sample
      encoder: direct
    budget:                          # optional: the search's default trials and epochs per
      trials: 40                     #   trial for this space (flags override them)
      epochs: 10
    dataset: digits                  # optional: the data set meant for it (--dataset overrides)

Dimension keys are described in :mod:`search_spaces.dimensions`. A ``when`` may refer to fixed
keys, earlier top-level params and, inside ``layers``, earlier params of the same layer. Names are
identifiers, unique across the space, and carry their unit (``energy_budget_uj``). Write floats
with a dot (``1.0e-3``): YAML 1.1 reads ``1e-3`` as text.

Only plain YAML is read (the safe loader; a tag other than YAML's own, e.g. ``!!python/...``, is
refused, never constructed), and hostile files are refused with a :class:`SpaceError` rather than
crashing or hanging: nesting deeper than :data:`MAX_DEPTH`, a document expanding (through
aliases) to more than :data:`MAX_VALUES` values, numbers too long to read, merge keys, and
aliases that refer to themselves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from search_spaces.dimensions import Dimension, check_scalar, dimension_from_mapping
from search_spaces.errors import KeyPath, SchemaProblem, SpaceError, did_you_mean, format_key
from search_spaces.errors import show_value as _show_value
from search_spaces.space import SearchSpace

__all__ = ["library_names", "list_spaces", "load_space", "parse_space"]

LIST_HINT = "`evolve spaces` lists the library spaces"
_TOP_KEYS = ("name", "description", "params", "layers", "fixed", "budget", "dataset")
_BUDGET_KEYS = ("trials", "epochs")
_LAYER_KEYS = ("repeat", "params")
_MERGE_TAG = "tag:yaml.org,2002:merge"
_COLLECTION_TAGS = {
    yaml.MappingNode: "tag:yaml.org,2002:map",
    yaml.SequenceNode: "tag:yaml.org,2002:seq",
}
#: A space is a few levels deep (params.NAME.when.PARAM[i]); deeper nesting is refused before
#: PyYAML's recursive composer would run out of stack.
MAX_DEPTH = 32
#: Values the document may expand to (aliases included): a "billion laughs" file is refused
#: before it is walked.
MAX_VALUES = 100_000


def load_space(name_or_path: str | os.PathLike[str]) -> SearchSpace:
    """Loads and validates a space: a library name, or a path to a YAML file.

    Args:
        name_or_path: ``"hybrid_neuron"`` (looked up in ``search_spaces/library/``), or a path:
            anything containing ``/`` or ending in ``.yaml``/``.yml``, or a ``PathLike``.

    Returns:
        The validated space; its ``source`` is the absolute path of the file.

    Raises:
        SpaceError: The file is missing or invalid, or no library space has that name.

    Example:
        >>> load_space("hybrid_neuron").name
        'hybrid_neuron'
    """
    if isinstance(name_or_path, os.PathLike) or _is_path(name_or_path):
        return _load_path(os.fspath(name_or_path))
    names = library_names()
    if name_or_path not in names:
        close = did_you_mean(name_or_path, names)
        raise SpaceError(
            name_or_path,
            None,
            "",
            "unknown search space",
            f"{close + ' ' if close else ''}available: {', '.join(names) or 'none'}; {LIST_HINT}",
        )
    file = _library() / f"{name_or_path}.yaml"
    return parse_space(
        file.read_text(encoding="utf-8"),
        f"{name_or_path}.yaml",
        source=str(file),
        expect_name=name_or_path,
    )


def list_spaces() -> dict[str, str]:
    """The library spaces: ``{name: one-line description}``, sorted by name.

    Raises:
        SpaceError: A library file is invalid.
    """
    return {n: " ".join(load_space(n).description.split()) for n in library_names()}


def library_names() -> list[str]:
    """The names of the spaces shipped in ``search_spaces/library/``, sorted."""
    return sorted(f.name[: -len(".yaml")] for f in _library().iterdir() if f.name.endswith(".yaml"))


def parse_space(
    text: str,
    file: str = "<string>",
    *,
    source: str | None = None,
    expect_name: str | None = None,
) -> SearchSpace:
    """Parses and validates the YAML text of a space.

    Args:
        text: The YAML document.
        file: What error messages call the file.
        source: Recorded as ``SearchSpace.source``.
        expect_name: If given, the ``name:`` the file must declare (library files are looked up
            by file name).

    Returns:
        The validated space.

    Raises:
        SpaceError: ``file:line: key: problem (hint)``.
    """
    return _Parser(file).parse(text, source=source, expect_name=expect_name)


def _is_path(name: str) -> bool:
    return "/" in name or os.sep in name or name.endswith((".yaml", ".yml"))


def _library() -> Traversable:
    return resources.files("search_spaces").joinpath("library")


def _load_path(file: str) -> SearchSpace:
    path = Path(file)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = f"give a .yaml path or a library space name; {LIST_HINT}"
        if "/" not in file and path.stem in library_names():
            hint = f"for the library space write {path.stem!r} without {path.suffix!r}"
        raise SpaceError(file, None, "", "no such file", hint) from None
    except IsADirectoryError:
        raise SpaceError(
            file, None, "", "is a directory", "give the path of a .yaml file"
        ) from None
    except UnicodeDecodeError as e:
        raise SpaceError(
            file, None, "", f"not UTF-8 text: {e.reason}", "save it as UTF-8"
        ) from None
    except OSError as e:
        raise SpaceError(file, None, "", f"cannot read: {e.strerror}", "check the path") from None
    return parse_space(text, file, source=str(path.resolve()), expect_name=None)


@dataclass
class _Node:
    """A parsed YAML value with the line of the key (or list item) that introduces it."""

    value: Any  # dict[str, _Node] | list[_Node] | a scalar
    line: int


class _Parser:
    def __init__(self, file: str) -> None:
        self.file = file
        self.root = _Node(None, 1)

    # ----------------------------------------------------------------------------- YAML

    def parse(self, text: str, *, source: str | None, expect_name: str | None) -> SearchSpace:
        try:
            loader = yaml.SafeLoader(text)
        except yaml.reader.ReaderError as e:  # a character YAML does not allow
            line = text.count("\n", 0, e.position) + 1
            code = e.character if isinstance(e.character, int) else ord(e.character)
            raise self.error(
                line, "<yaml>", f"unacceptable character #x{code:04x}", f"{e.reason}; remove it"
            ) from None
        try:
            self._check_depth(text)
            node = loader.get_single_node()
            if node is None:
                raise self.error(1, (), "the file is empty", "a space needs 'name' and 'params'")
            self._check_size(node)
            self.root = self._tree(loader, node, node.start_mark.line + 1, (), set())
        except yaml.MarkedYAMLError as e:
            raise self._syntax_error(e) from None
        finally:
            loader.dispose()
        try:
            return self._space(source, expect_name)
        except SchemaProblem as p:
            raise self.error(self._line(p.path), p.path, p.problem, p.hint) from None

    def _check_depth(self, text: str) -> None:
        """Refuses nesting deeper than :data:`MAX_DEPTH`, reading events (PyYAML's parser is
        iterative; its composer, which builds the nodes, is recursive)."""
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    raise self.error(
                        mark.line + 1 if mark is not None else 1,
                        "<yaml>",
                        f"nested more than {MAX_DEPTH} levels deep",
                        "a space is a few levels deep: params, a dimension, its keys",
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1

    def _check_size(self, root: yaml.Node) -> None:
        """Refuses a document that expands (through aliases) to more than :data:`MAX_VALUES`
        values; each distinct node is counted once, so this never walks the expansion."""
        sizes: dict[int, int] = {}

        def size(node: yaml.Node, stack: frozenset[int]) -> int:
            if id(node) in sizes:
                return sizes[id(node)]
            if id(node) in stack:
                return 1  # a self-reference: _tree names it
            total = 1
            if isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            elif isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            else:
                children = []
            for child in children:
                total += size(child, stack | {id(node)})
                if total > MAX_VALUES:
                    break
            sizes[id(node)] = total
            return total

        if size(root, frozenset()) > MAX_VALUES:
            raise self.error(
                root.start_mark.line + 1,
                "<yaml>",
                f"the document expands to more than {MAX_VALUES:,} values",
                "shorten long lists and chains of '*' aliases",
            )

    def _syntax_error(self, e: yaml.MarkedYAMLError) -> SpaceError:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        problem = e.problem or e.context or "invalid YAML"
        if e.context and problem.startswith("but "):
            problem = f"{e.context}, {problem}"
        if "'\\t'" in problem:
            hint = "indent with spaces; YAML does not allow tabs"
        elif "another document" in problem:
            hint = "a space file holds one document; remove the '---'"
        elif mark is not None:
            hint = f"check the indentation and quoting at column {mark.column + 1}"
        else:
            hint = "check the indentation and quoting"
        return self.error(line, "<yaml>", problem, hint)

    def _tree(
        self, loader: yaml.SafeLoader, node: yaml.Node, line: int, path: KeyPath, stack: set[int]
    ) -> _Node:
        if id(node) in stack:
            raise self.error(line, path, "an alias refers to itself", "YAML here must be a tree")
        stack = stack | {id(node)}
        for kind, tag in _COLLECTION_TAGS.items():
            if isinstance(node, kind) and node.tag != tag:
                raise self.error(
                    line,
                    path,
                    f"the tag {node.tag.replace('tag:yaml.org,2002:', '!!')!r} is not allowed",
                    "remove the tag; space files hold plain YAML values",
                )
        if isinstance(node, yaml.MappingNode):
            entries: dict[str, _Node] = {}
            for key_node, value_node in node.value:
                key_line = key_node.start_mark.line + 1
                if key_node.tag == _MERGE_TAG:
                    raise self.error(
                        key_line, path, "merge keys ('<<') are not supported", "write the keys out"
                    )
                key = (
                    self._scalar(loader, key_node, path)
                    if isinstance(key_node, yaml.ScalarNode)
                    else None
                )
                if not isinstance(key, str):
                    shown = "a list or mapping" if key is None else _show_value(key)
                    hint = (
                        "YAML 1.1 reads yes/no/on/off as booleans; quote the key"
                        if isinstance(key, bool)
                        else "quote the key"
                    )
                    raise self.error(key_line, path, f"keys must be text, got {shown}", hint)
                if key in entries:
                    raise self.error(
                        key_line,
                        (*path, key),
                        f"duplicate key {key!r}",
                        f"first on line {entries[key].line}; YAML would keep only the last",
                    )
                entries[key] = self._tree(loader, value_node, key_line, (*path, key), stack)
            return _Node(entries, line)
        if isinstance(node, yaml.SequenceNode):
            return _Node(
                [
                    self._tree(loader, item, item.start_mark.line + 1, (*path, i), stack)
                    for i, item in enumerate(node.value)
                ],
                line,
            )
        return _Node(self._scalar(loader, node, path), line)

    def _scalar(self, loader: yaml.SafeLoader, node: yaml.Node, path: KeyPath) -> Any:
        try:
            return loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as e:
            problem = e.problem or "cannot read this value"
            hint = "remove the tag; space files hold plain YAML values"
            raise self.error(node.start_mark.line + 1, path, problem, hint) from None
        except Exception:  # an int of more digits than Python reads, `!!float ''`, ...
            shown = repr(node.value) if isinstance(node.value, str) else str(node.value)
            shown = shown if len(shown) <= 20 else f"{shown[:12]}... ({len(shown)} characters)"
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise self.error(
                node.start_mark.line + 1,
                path,
                f"cannot read the value {shown} as {tag}",
                "write a plain number of ordinary size, text or bool",
            ) from None

    def _line(self, path: KeyPath) -> int:
        """The line of the deepest node along ``path`` (a missing key: its parent's line)."""
        node = self.root
        for part in path:
            value = node.value
            in_dict = isinstance(value, dict) and part in value
            in_list = isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
            if not (in_dict or in_list):
                break
            node = value[part]
        return node.line

    def error(self, line: int, path: KeyPath | str, problem: str, hint: str = "") -> SpaceError:
        key = path if isinstance(path, str) else format_key(path)
        return SpaceError(self.file, line, key, problem, hint)

    # ----------------------------------------------------------------------------- schema

    def _space(self, source: str | None, expect_name: str | None) -> SearchSpace:
        top = self._mapping(self.root, (), "a space needs 'name' and 'params'")
        self._known_keys(top, (), _TOP_KEYS)
        for key in ("name",) if "layers" in top else ("name", "params"):
            if key not in top:
                raise SchemaProblem((key,), f"missing required key {key!r}", _example(key))
        name = _plain(top["name"])
        if not isinstance(name, str):
            raise SchemaProblem(("name",), f"expected text, got {_show_value(name)}", "quote it")
        if expect_name is not None and name != expect_name:
            raise SchemaProblem(
                ("name",),
                f"name {name!r} does not match the file name {expect_name + '.yaml'!r}",
                "library spaces are looked up by file name; rename one",
            )
        description = _plain(top["description"]) if "description" in top else ""
        if not isinstance(description, str):
            raise SchemaProblem(
                ("description",), f"expected text, got {_show_value(description)}", "quote it"
            )
        params = self._dimensions(top["params"], ("params",)) if "params" in top else ()
        repeat: Any = None
        layer_params: tuple[Dimension, ...] = ()
        if "layers" in top:
            layers = self._mapping(top["layers"], ("layers",), _example("layers"))
            self._known_keys(layers, ("layers",), _LAYER_KEYS)
            for key in _LAYER_KEYS:
                if key not in layers:
                    raise SchemaProblem(
                        ("layers", key), f"missing required key {key!r}", _example("layers")
                    )
            repeat = _plain(layers["repeat"])
            layer_params = self._dimensions(layers["params"], ("layers", "params"))
            if not layer_params:
                raise SchemaProblem(
                    ("layers", "params"),
                    "no layer params",
                    "list at least one dimension under layers.params, or drop layers",
                )
        fixed: dict[str, Any] = {}
        if "fixed" in top:
            for key, node in self._mapping(top["fixed"], ("fixed",), _example("fixed")).items():
                fixed[key] = check_scalar(("fixed", key), _plain(node))
        budget: dict[str, int] = {}
        if "budget" in top:
            entries = self._mapping(top["budget"], ("budget",), _example("budget"))
            self._known_keys(entries, ("budget",), _BUDGET_KEYS)
            for key, node in entries.items():
                value = _plain(node)
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise SchemaProblem(
                        ("budget", key),
                        f"expected a whole number >= 1, got {_show_value(value)}",
                        _example("budget"),
                    )
                budget[key] = value
        dataset = None
        if "dataset" in top:
            dataset = _plain(top["dataset"])
            if not isinstance(dataset, str) or not dataset.strip():
                raise SchemaProblem(
                    ("dataset",),
                    f"expected a data set name, got {_show_value(dataset)}",
                    _example("dataset"),
                )
        return SearchSpace(
            name=name,
            description=description.strip(),
            params=params,
            layer_params=layer_params,
            repeat=repeat,
            fixed=fixed,
            budget=budget,
            dataset=dataset,
            source=source,
        )

    def _dimensions(self, node: _Node, path: KeyPath) -> tuple[Dimension, ...]:
        entries = self._mapping(node, path, _example("params"))
        dims = []
        for name, entry in entries.items():
            try:
                dims.append(dimension_from_mapping(name, _plain(entry)))
            except SchemaProblem as p:
                raise p.within(*path, name) from None
        return tuple(dims)

    @staticmethod
    def _mapping(node: _Node, path: KeyPath, hint: str) -> dict[str, _Node]:
        if not isinstance(node.value, dict):
            raise SchemaProblem(path, f"expected a mapping, got {_show_value(node.value)}", hint)
        return node.value

    @staticmethod
    def _known_keys(entries: dict[str, _Node], path: KeyPath, allowed: tuple[str, ...]) -> None:
        for key in entries:
            if key not in allowed:
                hint = did_you_mean(key, allowed) or f"allowed: {', '.join(allowed)}"
                raise SchemaProblem((*path, key), f"unknown key {key!r}", hint)


def _plain(node: _Node) -> Any:
    if isinstance(node.value, dict):
        return {k: _plain(v) for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [_plain(v) for v in node.value]
    return node.value


def _example(key: str) -> str:
    return {
        "name": "e.g. name: my_space",
        "params": "e.g. params: {depth: {type: int, low: 1, high: 3}}",
        "layers": "e.g. layers: {repeat: depth, params: {width: {type: int, low: 8, high: 64}}}",
        "fixed": "e.g. fixed: {encoder: direct}",
        "budget": "e.g. budget: {trials: 40, epochs: 10}",
        "dataset": "e.g. dataset: gunpoint",
    }[key]

"""``SearchSpace``: validated dimensions, sampled define-by-run into an :class:`ArchSpec`."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from search_spaces.archspec import ArchSpec, Value
from search_spaces.dimensions import (
    CategoricalDimension,
    Condition,
    Dimension,
    IntDimension,
    check_name,
    same_value,
    show,
)
from search_spaces.errors import KeyPath, SchemaProblem, did_you_mean
from search_spaces.suggesters import Suggester

__all__ = ["SearchSpace"]

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
#: The most layers ``repeat`` may ask for: every sample names each layer's params, so an absurd
#: count would hang sampling rather than fail.
MAX_LAYERS = 1000


class _Mismatch(Exception):
    """A spec lacks a key or holds a value outside its dimension (used by ``contains``)."""


@dataclass(frozen=True, kw_only=True)
class SearchSpace:
    """A search space: top-level params, an optional repeated layer, and fixed entries.

    Sampling walks the dimensions in order, top-level first, then ``repeat`` layers whose params
    are named ``layer.{i}.{name}``; a dimension whose ``when`` does not hold is skipped. Each
    sampled name always gets the same distribution, as Optuna requires.

    Attributes:
        name: The space's name (library spaces: the file name without ``.yaml``).
        params: Top-level dimensions, in sampling order.
        layer_params: The dimensions of one layer, in sampling order.
        repeat: How many layers: the name of a top-level int param (or fixed key), a literal
            count, or ``None`` when the space has no layers.
        fixed: Constant entries present in every sample.
        budget: The search's default ``trials`` and ``epochs`` (per trial) for this space, so
            that its default run fits the time its description promises; flags override them.
        description: What the space is for.
        dataset: The data set the space is meant for (``evolve search`` uses it when no
            ``--dataset`` is given), e.g. ``gunpoint`` for a space of series models.
        source: The file it was loaded from, if any.

    Raises:
        SchemaProblem: A name is invalid or repeated, a condition refers to an unknown, later or
            impossible value, or ``repeat`` is not a count.
    """

    name: str
    params: tuple[Dimension, ...] = ()
    layer_params: tuple[Dimension, ...] = ()
    repeat: str | int | None = None
    fixed: Mapping[str, Value] = field(default_factory=ArchSpec)
    description: str = ""
    budget: Mapping[str, int] = field(default_factory=dict, hash=False)
    dataset: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", tuple(self.params))
        object.__setattr__(self, "layer_params", tuple(self.layer_params))
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise SchemaProblem(
                ("name",), f"name {self.name!r} is not valid", "use letters, digits, '_' and '-'"
            )
        for key in self.fixed:
            check_name(("fixed", key), key)
        object.__setattr__(self, "fixed", ArchSpec(self.fixed))
        self._check_top_level()
        self._check_repeat()
        self._check_layer()

    # ----------------------------------------------------------------------------- sampling

    def sample(self, suggester: Suggester) -> ArchSpec:
        """Draws one architecture, asking ``suggester`` for each dimension that exists.

        Args:
            suggester: An ``optuna.trial.Trial``, a :class:`RandomSuggester`, or anything with
                their ``suggest_int``/``suggest_float``/``suggest_categorical``.

        Returns:
            The fixed entries, then every sampled value, in sampling order.

        Example:
            >>> from search_spaces import RandomSuggester, load_space
            >>> space = load_space("hybrid_neuron")
            >>> spec = space.sample(RandomSuggester(seed=0))
            >>> space.contains(spec)
            True
            >>> n_layers = spec["depth"]
            >>> all(f"layer.{i}.neuron" in spec for i in range(n_layers))
            True
            >>> ("layer.0.decay" in spec) == (spec["layer.0.neuron"] in ("lif", "adaptive"))
            True
        """
        return self._walk(lambda name, dim: dim.suggest(suggester, name))

    def default(self) -> ArchSpec:
        """The architecture made of every dimension's default (conditions applied)."""
        return self._walk(lambda name, dim: dim.default)

    def contains(self, spec: Mapping[str, object]) -> bool:
        """Whether sampling could have produced ``spec``.

        True iff the fixed entries match, every key that sampling with these values would
        produce is present with a value inside its dimension (step grid included), and there
        are no other keys.
        """

        def lookup(name: str, dim: Dimension) -> Value:
            if name not in spec:
                raise _Mismatch
            value = spec[name]
            if not dim.contains(value):
                raise _Mismatch
            assert isinstance(value, str | int | float)
            return value

        try:
            walked = self._walk(lookup)
        except _Mismatch:
            return False
        fixed_ok = all(k in spec and same_value(spec[k], v) for k, v in self.fixed.items())
        return fixed_ok and set(walked) == set(spec)

    def _walk(self, pick: Callable[[str, Dimension], Value]) -> ArchSpec:
        values: dict[str, Value] = dict(self.fixed)
        taken: dict[str, Value] = dict(self.fixed)
        for dim in self.params:
            if all(c.holds(taken) for c in dim.when):
                taken[dim.name] = values[dim.name] = pick(dim.name, dim)
        for i in range(self._layer_count(taken)):
            layer: dict[str, Value] = {}
            for dim in self.layer_params:
                if all(c.holds(layer) if c.param in layer else c.holds(taken) for c in dim.when):
                    name = f"layer.{i}.{dim.name}"
                    layer[dim.name] = values[name] = pick(name, dim)
        return ArchSpec(values)

    def _layer_count(self, taken: Mapping[str, Value]) -> int:
        if self.repeat is None:
            return 0
        count = self.repeat if isinstance(self.repeat, int) else taken[self.repeat]
        assert isinstance(count, int)
        return count

    def restrict(self, allowed: Mapping[str, Sequence[Value]], why: str = "") -> SearchSpace:
        """This space with some categorical choices removed (e.g. only NIR-expressible ones).

        Args:
            allowed: ``{param name: the values it may take}``; a top-level param, a layer param
                (by its plain name, e.g. ``neuron``) or a fixed key. Other params are kept.
            why: said in errors ("NIR export", ...).

        Returns:
            A new space: each named categorical dimension keeps only its allowed choices (its
            default becomes the first of them unless it is allowed); a dimension whose ``when``
            can no longer hold is dropped, and so are the dimensions that depend on it.

        Raises:
            SchemaProblem: a fixed entry or a dimension with no allowed value left.
        """
        from dataclasses import replace

        because = f" ({why})" if why else ""
        for key, value in self.fixed.items():
            if key in allowed and not any(same_value(value, v) for v in allowed[key]):
                raise SchemaProblem(
                    ("fixed", key),
                    f"{key} is fixed to {show(value)}, which is not allowed{because}",
                    f"allowed: {_shown_values(tuple(allowed[key]))}; use another space",
                )

        def narrowed(dim: Dimension) -> Dimension:
            if dim.name not in allowed:
                return dim
            keep = tuple(
                c
                for c in getattr(dim, "choices", (False, True))
                if any(same_value(c, v) for v in allowed[dim.name])
            )
            if not keep:
                raise SchemaProblem(
                    (dim.name,),
                    f"no value of {dim.name!r} ({dim.range_text()}) is allowed{because}",
                    f"allowed: {_shown_values(tuple(allowed[dim.name]))}; use another space",
                )
            default = dim.default if any(same_value(dim.default, v) for v in keep) else keep[0]
            if isinstance(dim, CategoricalDimension):
                return replace(dim, choices=keep, default=default)
            if len(keep) == 1:  # a bool pinned to one value: a one-choice categorical
                return CategoricalDimension(
                    name=dim.name, choices=keep, when=dim.when, description=dim.description
                )
            return dim

        def prune(group: tuple[Dimension, ...], known: dict[str, Dimension]) -> list[Dimension]:
            out: list[Dimension] = []
            for dim in map(narrowed, group):
                conditions = []
                possible = True
                for c in dim.when:
                    target = known.get(c.param) or next((d for d in out if d.name == c.param), None)
                    if target is None and c.param not in self.fixed:
                        possible = False  # it depended on a dimension that was dropped
                        break
                    values = c.values
                    if target is not None:
                        values = tuple(v for v in c.values if target.contains(v))
                    if not values:
                        possible = False
                        break
                    conditions.append(Condition(c.param, values))
                if possible:
                    out.append(replace(dim, when=tuple(conditions)))
            return out

        params = prune(self.params, {})
        layer = prune(self.layer_params, {d.name: d for d in params})
        return replace(self, params=tuple(params), layer_params=tuple(layer))

    # ----------------------------------------------------------------------------- inspecting

    @property
    def dimensions(self) -> dict[str, Dimension]:
        """Every dimension by name: top-level ones as ``name``, layer ones as ``layer.*.name``."""
        dims = {d.name: d for d in self.params}
        dims.update({f"layer.*.{d.name}": d for d in self.layer_params})
        return dims

    def dimension_for(self, sampled_name: str) -> Dimension:
        """The dimension behind a sampled name (``"lr"``, ``"layer.3.width"``).

        Raises:
            KeyError: No dimension samples under that name.
        """
        match = re.fullmatch(r"layer\.(\d+)\.(\w+)", sampled_name)
        key = f"layer.*.{match.group(2)}" if match else sampled_name
        dims = self.dimensions
        if key not in dims:
            raise KeyError(f"{sampled_name!r} is not sampled by space {self.name!r}")
        return dims[key]

    def describe(self) -> str:
        """A readable table of the dimensions: type, values, default and condition."""
        rows: list[tuple[str, ...]] = [("name", "type", "values", "default", "when", "description")]
        rows += [_row(d.name, d) for d in self.params]
        layer_rows = [_row(f"layer.{{i}}.{d.name}", d) for d in self.layer_params]
        if not any(d.description for d in (*self.params, *self.layer_params)):
            rows = [r[:5] for r in rows]
            layer_rows = [r[:5] for r in layer_rows]
        widths = [max(len(r[c]) for r in rows + layer_rows) for c in range(len(rows[0]))]

        def line(row: tuple[str, ...]) -> str:
            return "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()

        out = [f"{self.name}: {' '.join(self.description.split())}".rstrip(": ")]
        if self.source:
            out.append(f"source: {self.source}")
        out += ["", *map(line, rows)]
        if self.layer_params:
            count = (
                f"{self.repeat} layers"
                if isinstance(self.repeat, int)
                else f"one per {self.repeat} (i = 0..{self.repeat}-1)"
            )
            out += [f"layers: {count}", *map(line, layer_rows)]
        if self.fixed:
            out.append("fixed: " + ", ".join(f"{k}={show(v)}" for k, v in self.fixed.items()))
        if self.budget:
            out.append("budget: " + ", ".join(f"{k}={v}" for k, v in self.budget.items()))
        if self.dataset:
            out.append(f"dataset: {self.dataset}")
        return "\n".join(out)

    # ----------------------------------------------------------------------------- validation

    def _check_top_level(self) -> None:
        if not self.params and not self.layer_params:
            raise SchemaProblem(
                ("params",), "the space has no dimensions", "add at least one under params:"
            )
        layer_names = {d.name for d in self.layer_params}
        seen: dict[str, Dimension] = {}
        for dim in self.params:
            path: KeyPath = ("params", dim.name)
            _check_unique(path, dim.name, seen, self.fixed, {})
            for c in dim.when:
                where = (*path, "when", c.param)
                if c.param in layer_names:
                    raise SchemaProblem(
                        where,
                        f"{c.param!r} is a layer param",
                        "top-level params can only depend on earlier top-level params",
                    )
                self._check_condition(where, dim, c, seen, self.params)
            seen[dim.name] = dim

    def _check_repeat(self) -> None:
        where: KeyPath = ("layers", "repeat")
        rule = "repeat needs a top-level int param with low >= 0, or a whole number"
        repeat = self.repeat
        if repeat is None:
            if self.layer_params:
                raise SchemaProblem(where, "layer params without 'repeat'", rule)
            return
        if isinstance(repeat, bool) or not isinstance(repeat, int | str):
            raise SchemaProblem(
                where, f"expected a param name or a whole number, got {repeat!r}", rule
            )
        too_many = f"at most {MAX_LAYERS} layers"
        if isinstance(repeat, int):
            if repeat < 0:
                raise SchemaProblem(where, f"repeat must be >= 0, got {repeat}", "it counts layers")
            if repeat > MAX_LAYERS:
                raise SchemaProblem(where, f"repeat {repeat} is too many layers", too_many)
            return
        top = {d.name: d for d in self.params}
        if repeat in self.fixed:
            value = self.fixed[repeat]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise SchemaProblem(where, f"{repeat!r} is fixed to {show(value)}", rule)
            if value > MAX_LAYERS:
                raise SchemaProblem(where, f"{repeat!r} is fixed to {value} layers", too_many)
            return
        if repeat not in top:
            ints = [d.name for d in self.params if isinstance(d, IntDimension)]
            if repeat in {d.name for d in self.layer_params}:
                raise SchemaProblem(where, f"{repeat!r} is a layer param", rule)
            hint = did_you_mean(repeat, ints) or (
                f"int params: {', '.join(ints)}" if ints else rule
            )
            raise SchemaProblem(where, f"unknown param {repeat!r}", hint)
        dim = top[repeat]
        if not isinstance(dim, IntDimension):
            raise SchemaProblem(where, f"{repeat!r} is a {dim.type_name} dimension", rule)
        if dim.low < 0:
            raise SchemaProblem(
                where, f"{repeat!r} can be negative: low is {dim.low}", "repeat needs low >= 0"
            )
        if dim.high > MAX_LAYERS:
            raise SchemaProblem(
                where, f"{repeat!r} can be {dim.high} layers", f"{too_many}; lower its high"
            )
        if dim.when:
            raise SchemaProblem(
                where,
                f"{repeat!r} has a 'when' condition",
                "the layer count must always exist; remove the condition",
            )

    def _check_layer(self) -> None:
        top = {d.name: d for d in self.params}
        seen: dict[str, Dimension] = {}
        for dim in self.layer_params:
            path: KeyPath = ("layers", "params", dim.name)
            _check_unique(path, dim.name, seen, self.fixed, top)
            for c in dim.when:
                where = (*path, "when", c.param)
                if c.param in top:
                    self._check_values(where, c, top[c.param])
                else:
                    self._check_condition(where, dim, c, seen, self.layer_params)
            seen[dim.name] = dim

    def _check_condition(
        self,
        where: KeyPath,
        dim: Dimension,
        c: Condition,
        earlier: Mapping[str, Dimension],
        group: tuple[Dimension, ...],
    ) -> None:
        """Checks a condition against fixed keys and the earlier params of its group."""
        if c.param == dim.name:
            raise SchemaProblem(
                where, f"{dim.name!r} cannot depend on itself", "remove it from 'when'"
            )
        if c.param in self.fixed:
            fixed = self.fixed[c.param]
            if not any(same_value(fixed, v) for v in c.values):
                raise SchemaProblem(
                    where,
                    f"{c.param!r} can never be {_shown_values(c.values)}",
                    f"it is fixed to {show(fixed)}",
                )
            return
        if c.param in earlier:
            self._check_values(where, c, earlier[c.param])
            return
        if any(d.name == c.param for d in group):
            raise SchemaProblem(
                where,
                f"{c.param!r} is defined after {dim.name!r}",
                f"conditions can only refer to earlier params; move {c.param!r} above {dim.name!r}",
            )
        known = [*self.fixed, *earlier]
        if group is self.layer_params:
            known += [d.name for d in self.params]
        hint = did_you_mean(c.param, known) or (
            f"known params: {', '.join(known)}" if known else "no earlier params to refer to"
        )
        raise SchemaProblem(where, f"unknown param {c.param!r}", hint)

    @staticmethod
    def _check_values(where: KeyPath, c: Condition, target: Dimension) -> None:
        impossible = [v for v in c.values if not target.contains(v)]
        if impossible:
            what = "choices" if isinstance(target, CategoricalDimension) else "range"
            raise SchemaProblem(
                where,
                f"{c.param!r} can never be {_shown_values(impossible)}",
                f"{what}: {target.range_text()}",
            )


def _check_unique(
    path: KeyPath,
    name: str,
    seen: Mapping[str, Any],
    fixed: Mapping[str, Value],
    top: Mapping[str, Any],
) -> None:
    unique = "names must be unique across the space; rename one"
    if name in seen:
        raise SchemaProblem(path, f"{name!r} is defined twice", unique)
    if name in top:
        raise SchemaProblem(path, f"{name!r} is also a top-level param", unique)
    if name in fixed:
        raise SchemaProblem(path, f"{name!r} is also a fixed key", unique)


def _shown_values(values: list[Value] | tuple[Value, ...]) -> str:
    return " or ".join(show(v) for v in values)


def _row(name: str, dim: Dimension) -> tuple[str, ...]:
    when = ", ".join(str(c) for c in dim.when)
    default = dim.default if isinstance(dim.default, str) else show(dim.default)
    return (name, dim.type_name, dim.range_text(), default, when, dim.description)

"""The settings of :func:`evolve.search` that need resolving before a study starts: limits
as constraints, the early stopper or scheduler, the space fitted to the data, the selection
rule and the hypervolume reference of the caller's objectives. Each raises a typed
:class:`~evolve.errors.UserError` naming the setting, before anything is recorded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evolve.config import SearchConfig
from evolve.errors import UserError

__all__ = [
    "fit_data",
    "limit_constraints",
    "make_fidelity",
    "resolve_selection",
    "user_reference",
]


def limit_constraints(limits: Mapping[str, float] | None) -> list[Any]:
    """The constraints ``limits`` names: an objective's name (short or recorded) → its bound.

    Raises:
        UserError: an unknown metric, a maximised one, or a bound that is not a finite number.
    """
    import math

    from agents import OBJECTIVES, Constraint

    out = []
    for name, bound in (limits or {}).items():
        known = {**{o.name: o for o in OBJECTIVES.values()}, **OBJECTIVES}
        if name not in known:
            raise UserError(
                f"limits: unknown metric {name!r}; choose one of "
                f"{', '.join(n for n, o in OBJECTIVES.items() if o.direction == 'minimize')}"
            )
        if known[name].direction != "minimize":
            raise UserError(f"limits: {name} is maximised; a limit is an upper bound")
        if (
            isinstance(bound, bool)
            or not isinstance(bound, int | float)
            or not math.isfinite(bound)
        ):
            raise UserError(f"limits: {name} needs a finite number, got {bound!r}")
        out.append(Constraint(known[name].name, float(bound)))
    return out


def make_fidelity(cfg: SearchConfig) -> Any:
    """The early stopper or multi-fidelity scheduler ``cfg`` names (None: no early stopping).

    Raises:
        UserError: an unknown fidelity, a bad η or first rung, or ``no_early_stop`` with a
            scheduler.
    """
    from agents import AgentError, make_scheduler

    if cfg.no_early_stop and cfg.fidelity not in ("none", "stopper"):
        raise UserError(
            f"fidelity must be none with no_early_stop (got {cfg.fidelity!r}); give one of them"
        )
    try:
        assert cfg.epochs is not None  # prepare_study fills it in
        return make_scheduler(
            "none" if cfg.no_early_stop else cfg.fidelity,
            max_epochs=cfg.epochs,
            reduction_factor=cfg.reduction_factor,
            min_epochs=cfg.min_epochs,
        )
    except AgentError as e:
        raise UserError(str(e)) from None


def fit_data(space: Any, cfg: SearchConfig, data: Any) -> tuple[Any, SearchConfig]:
    """The space restricted to the network kinds that take the data's kind (before any trial:
    :func:`evolve.data.kinds.fit_space`), and the configuration recording the data kind, the
    class names and a table's feature columns (a resumed study's data must match its record).

    Raises:
        DataError: no network kind of the space takes the data.
        RunError: a resumed study's data differs in kind or classes from its record.
    """
    from evolve.data.kinds import fit_space
    from evolve.errors import RunError

    recorded = data.card_entries()
    for key, value in recorded.items():
        before = getattr(cfg, key)
        if before is not None and before != value:
            raise RunError(
                f"the study was run on data with {key} {before!r}; the data now has {value!r}; "
                "pass the same data"
            )
    fitted = fit_space(space, data.kind, dataset=data.name, shape=data.input_shape)
    return fitted, cfg.replace(**recorded)


def resolve_selection(cfg: SearchConfig, data: Any, resumed: bool) -> tuple[int, SearchConfig]:
    """The folds a run scores on (0: holdout) and the configuration recording the choice
    (``auto`` is resolved when a study starts; a record still saying ``auto`` predates k-fold
    selection and keeps the holdout it used)."""
    from evolve.engine.selection import resolve_folds

    if resumed and cfg.selection == "auto":
        return 0, cfg
    k = resolve_folds(cfg.selection, cfg.folds, data)
    if not resumed:
        cfg = cfg.replace(selection="kfold" if k else "holdout", folds=k or None)
    return k, cfg


def user_reference(users: Sequence[Any], space: Any, data: Any) -> Any:
    """The hypervolume reference of a user objective without a threshold: 0 when maximised,
    twice the value of the space's default (untrained) model when minimised."""

    def reference(name: str) -> float:
        import snn_models
        from evolve.engine.arch import arch_to_specs

        user = next(u for u in users if u.name == name)
        if user.direction == "maximize":
            return 0.0
        net, _ = arch_to_specs(space.default())
        model = snn_models.build(net, data.input_shape, data.n_classes).eval()
        value = abs(user(model, data))
        return 2.0 * value if value > 0 else 1.0

    return reference

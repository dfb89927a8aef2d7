"""The proxy prior: a new study's first generation chosen by a zero-cost proxy (``--proxy-prior``).

When a study starts (it holds no trial yet), :func:`seed_population` draws ``pool x P``
candidates at random from the space, scores each untrained one with a zero-cost proxy
(:mod:`snn_models.proxies`: ``sahd`` or ``grad``, by
:func:`~evolve.engine.proxy_filter.score_arch` on the run's
:func:`~evolve.engine.proxy_filter.proxy_batches`) and enqueues the best ``P`` as the study's
first trials. The agent then samples as usual: NSGA-II evolves from a proxy-chosen first
generation, TPE models from proxy-chosen startup trials, ``random`` continues at random.

* ``P`` (:func:`prior_size`) is ``min(trials, POPULATION)``: NSGA-II's generation size (8, the
  agents' ``population_size``; the first 8 of TPE's 10 random startup trials).
* ``pool`` is ``proxy_pool`` (default :data:`~evolve.engine.proxy_filter.DEFAULT_POOL`, 8):
  64 candidates scored (under half a CPU-minute at the rates ``make bench-proxies`` measures).
* Candidates are drawn with the space's own ``sample`` code and a
  :class:`search_spaces.RandomSuggester` seeded with the run's seed, outside the run's study (so
  its records hold only the trials it trains). Candidate ``i`` is built with ``seed + i``.
* Ranking is within each network kind (a proxy ranks across kinds poorly:
  :func:`~evolve.engine.proxy_filter.within_kind`), and the kinds keep the proportion they were
  drawn in (largest remainders). A candidate that cannot be built scores -inf and is never
  enqueued; a kind short of buildable candidates leaves its places to the sampler.
* The enqueued trials carry the user attributes ``proxy_prior`` (the proxy) and ``proxy_score``
  (columns of ``trials.parquet``). They are queued in the order they were drawn.
* A study that already holds trials (resume, join) is left as it is; so is one whose queued
  trials a crash left behind (the agent asks them first).

With ``proxy_filter`` too, the queued trials are trained as they are (each was already the best
of ``pool``); the filter applies from the first trial the agent samples itself.

Example:
    >>> from search_spaces import load_space
    >>> drawn = draw_candidates(load_space("hybrid_neuron"), 6, seed=0)
    >>> drawn == draw_candidates(load_space("hybrid_neuron"), 6, seed=0)
    True
    >>> for c, score in zip(drawn, (3.0, 1.0, 2.0, -math.inf, 5.0, 4.0)):
    ...     c.arch["kind"], c.score = ("cnn", "cnn", "cnn", "mlp", "mlp", "mlp")[c.index], score
    >>> [c.index for c in choose(drawn, 2)]  # one of each kind: the best cnn, the best mlp
    [0, 4]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evolve.errors import UserError
from evolve.store.runlog import logger

if TYPE_CHECKING:
    from agents import Agent
    from evolve.data.datasets import Dataset

__all__ = [
    "POPULATION",
    "Candidate",
    "check_prior_settings",
    "choose",
    "draw_candidates",
    "prior_size",
    "seed_population",
    "seed_run",
]

#: The first generation the prior fills: the agents' NSGA-II ``population_size`` default.
POPULATION = 8


@dataclass
class Candidate:
    """One drawn candidate: the sampler's parameters (what is enqueued), the architecture they
    give, its network kind, and its proxy score (-inf: it could not be built or scored)."""

    index: int
    params: dict[str, Any]
    arch: dict[str, Any]
    score: float = -math.inf
    error: str | None = field(default=None, compare=False)

    @property
    def kind(self) -> Any:
        """The candidate's network kind (``arch["kind"]``)."""
        return self.arch.get("kind")


class _Recorder:
    """A suggester that remembers the values it hands out by name (the trial's parameters)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.params: dict[str, Any] = {}

    def _keep(self, name: str, value: Any) -> Any:
        self.params[name] = value
        return value

    def suggest_int(self, name: str, low: int, high: int, **kw: Any) -> int:
        return int(self._keep(name, self._inner.suggest_int(name, low, high, **kw)))

    def suggest_float(self, name: str, low: float, high: float, **kw: Any) -> float:
        return float(self._keep(name, self._inner.suggest_float(name, low, high, **kw)))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self._keep(name, self._inner.suggest_categorical(name, choices))


def prior_size(trials: int | None) -> int:
    """``P``, the trials the prior enqueues: ``min(trials, POPULATION)`` (``POPULATION`` when
    the budget is not a trial count)."""
    return POPULATION if trials is None else max(0, min(int(trials), POPULATION))


def check_prior_settings(proxy_prior: str | None, *, backend: str, oneshot: bool) -> None:
    """Refuse a proxy prior that does not apply (the proxy's name is checked with the pool by
    :func:`~evolve.engine.proxy_filter.check_proxy_settings`).

    Raises:
        UserError: a prior on the Ray backend or with the one-shot agent.
    """
    if proxy_prior is None:
        return
    if backend == "ray":
        raise UserError("proxy_prior needs the local backend; leave out backend 'ray'")
    if oneshot:
        raise UserError("agent oneshot scores candidates on its supernet; leave out proxy_prior")


def draw_candidates(space: Any, n: int, *, seed: int) -> list[Candidate]:
    """``n`` candidates drawn at random from ``space`` with its own ``sample`` code (a
    :class:`search_spaces.RandomSuggester` seeded with ``seed``), outside any study.

    A draw the space refuses is kept with score -inf and the reason in ``error``.
    """
    from search_spaces import RandomSuggester

    suggester = RandomSuggester(seed=seed)
    out = []
    for i in range(n):
        rec = _Recorder(suggester)
        try:
            arch = space.sample(rec)
            arch = dict(arch.to_dict() if hasattr(arch, "to_dict") else arch)
            out.append(Candidate(i, dict(rec.params), arch))
        except Exception as e:  # a draw the space refuses is never enqueued
            out.append(Candidate(i, dict(rec.params), {}, error=f"{type(e).__name__}: {e}"))
    return out


def choose(candidates: Sequence[Candidate], size: int) -> list[Candidate]:
    """The best ``size`` scored candidates, ranked within each network kind, the kinds keeping
    the proportion they were drawn in: kind ``k`` drawn ``n_k`` times of ``n`` gets
    ``size * n_k / n`` places, rounded by largest remainder (ties: the kind drawn first). A kind
    gets at most its finite-scored candidates. Returned in drawing order."""
    n = len(candidates)
    if n == 0 or size <= 0:
        return []
    kinds: dict[Any, list[Candidate]] = {}
    for c in candidates:
        kinds.setdefault(c.kind, []).append(c)
    exact = {k: size * len(cs) / n for k, cs in kinds.items()}
    places = {k: math.floor(v) for k, v in exact.items()}
    order = sorted(kinds, key=lambda k: -(exact[k] - places[k]))  # stable: drawn first wins
    for k in order[: size - sum(places.values())]:
        places[k] += 1
    chosen: list[Candidate] = []
    for k, cs in kinds.items():
        finite = [c for c in cs if math.isfinite(c.score)]
        chosen += sorted(finite, key=lambda c: (-c.score, c.index))[: places[k]]
    return sorted(chosen, key=lambda c: c.index)


def seed_population(
    agent: Agent,
    space: Any,
    data: Dataset,
    *,
    proxy: str,
    pool: int,
    size: int,
    seed: int,
) -> list[Candidate]:
    """Enqueue the proxy's best ``size`` of ``pool * size`` random candidates as the first
    trials of ``agent``'s study (:func:`draw_candidates`, scored with
    :func:`~evolve.engine.proxy_filter.try_score` on the batches drawn with ``seed``,
    :func:`choose`). Does nothing when the study already holds a trial.

    Returns:
        The candidates enqueued, in order (empty when nothing was).

    Raises:
        UserError: an agent without an Optuna study to enqueue in.
    """
    from evolve.engine.proxy_filter import proxy_batches, try_score

    if agent.store.trials() or size <= 0:
        return []
    study: Any = getattr(agent, "study", None)
    if not callable(getattr(study, "enqueue_trial", None)):
        raise UserError("proxy_prior needs an agent with an Optuna study (agent optuna or random)")
    drawn = draw_candidates(space, pool * size, seed=seed)
    batches = proxy_batches(data, seed=seed)
    for c in drawn:
        if c.error is None:  # a candidate that cannot be built scores -inf: never enqueued
            c.score, c.error = try_score(c.arch, data, proxy, batches, seed=seed + c.index)
    chosen = choose(drawn, size)
    for c in chosen:
        study.enqueue_trial(c.params, user_attrs={"proxy_prior": proxy, "proxy_score": c.score})
    failed = sum(1 for c in drawn if not math.isfinite(c.score))
    logger.info(
        "proxy prior {}: {} of {} candidates enqueued ({} could not be scored)",
        proxy,
        len(chosen),
        len(drawn),
        failed,
    )
    return chosen


def seed_run(agent: Agent, cfg: Any, space: Any, data: Dataset, pool: int) -> list[Candidate]:
    """:func:`seed_population` with a run's settings (``cfg``: its
    :class:`~evolve.config.SearchConfig`; ``pool``: the resolved proxy pool); nothing without
    ``proxy_prior``."""
    if cfg.proxy_prior is None:
        return []
    return seed_population(
        agent,
        space,
        data,
        proxy=cfg.proxy_prior,
        pool=pool,
        size=prior_size(cfg.trials),
        seed=cfg.seed,
    )

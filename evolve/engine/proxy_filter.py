"""The proxy filter: train only the best-scoring of ``pool`` proposals (``--proxy-filter``).

:class:`ProxyFilter` wraps any agent of ``agents.AGENTS`` and has the same
:class:`agents.Agent` shape, so the search loop, the run store, resume, failures and reports are
those of the wrapped agent. Each :meth:`ProxyFilter.ask` asks the agent for ``pool`` proposals,
scores each untrained candidate with a zero-cost proxy (:mod:`snn_models.proxies`: ``sahd`` or
``grad``) on the same few training mini-batches, hands out the best one of the first proposal's
network kind to train (:func:`within_kind`), and tells the others PRUNED at once, without values, with the attributes ``proxy_rejected: true``, ``proxy``,
``proxy_score`` (None when the candidate could not even be built: ``proxy_error`` says why) and
``arch``. The sampler sees them as stopped trials (TPE ranks a pruned trial without curve
below every complete one; NSGA-II selects parents among complete trials only). The trained trial
carries ``proxy``, ``proxy_score`` and ``proxy_pool`` among its attributes (so they are columns of
``trials.parquet``).

The budget counts trained trials: :meth:`ProxyFilter.n_done` is the agent's count less the
proxy-rejected trials (counted from the store when the filter opens, so a resumed study counts
right; with ``join``, another process's rejections are counted when this one opens).

Example:
    >>> from evolve.data.datasets import load_dataset
    >>> data = load_dataset("digits")
    >>> batches = proxy_batches(data, seed=0)
    >>> arch = {"kind": "mlp", "depth": 1, "layer.0.width": 32, "timesteps": 2}
    >>> score_arch(arch, data, "sahd", batches, seed=0) == score_arch(
    ...     arch, data, "sahd", batches, seed=0)
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from evolve.errors import UserError
from evolve.store.runlog import logger

if TYPE_CHECKING:
    from agents import Agent, Proposal, RunStore, TrialRecord, TrialStateName
    from evolve.data.datasets import Dataset
    from snn_models.proxies import Batch

__all__ = [
    "DEFAULT_POOL",
    "PROXY_BATCHES",
    "PROXY_BATCH_SIZE",
    "ProxyFilter",
    "check_proxy_settings",
    "proxy_batches",
    "score_arch",
    "try_score",
    "within_kind",
]

DEFAULT_POOL = 8  # proposals scored per trained trial when proxy_pool is not given
PROXY_BATCHES = 2  # mini-batches a candidate is scored on
PROXY_BATCH_SIZE = 64


def proxy_names() -> tuple[str, ...]:
    """The names ``proxy_filter`` accepts (:data:`snn_models.proxies.PROXIES`)."""
    from snn_models.proxies import PROXIES

    return tuple(PROXIES)


def check_proxy_settings(
    proxy_filter: str | None, proxy_pool: int | None, proxy_prior: str | None = None
) -> int:
    """The pool size of a run's proxy settings (0: neither a filter nor a prior,
    :mod:`evolve.engine.proxy_prior`).

    Raises:
        UserError: an unknown proxy, a pool below 2 or not an integer, or a pool without a proxy.
    """
    for key, proxy in (("proxy_filter", proxy_filter), ("proxy_prior", proxy_prior)):
        if proxy is not None and proxy not in proxy_names():
            raise UserError(f"{key} must be one of {', '.join(proxy_names())}, got {proxy!r}")
    if proxy_filter is None and proxy_prior is None:
        if proxy_pool is not None:
            raise UserError(
                "proxy_pool applies with proxy_filter or proxy_prior; give either, sahd or grad"
            )
        return 0
    pool = DEFAULT_POOL if proxy_pool is None else proxy_pool
    if isinstance(pool, bool) or not isinstance(pool, int) or pool < 2:
        raise UserError(f"proxy_pool must be an integer >= 2, got {proxy_pool!r}")
    return pool


def proxy_batches(
    data: Dataset, *, seed: int, n: int = PROXY_BATCHES, size: int = PROXY_BATCH_SIZE
) -> list[Batch]:
    """``n`` labelled mini-batches of ``size`` from the training split, drawn with ``seed``
    (every candidate of a run is scored on the same ones)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data.train), generator=g)[: n * size]
    x, y = data.train.x[idx], data.train.y[idx]
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(idx), size)]


def score_arch(
    arch: Mapping[str, Any], data: Dataset, proxy: str, batches: Sequence[Batch], *, seed: int
) -> float:
    """The proxy score of the untrained candidate ``arch``, built exactly as its trial builds it
    (the same preprocessing and input coding, weights drawn with ``seed``).

    Raises:
        snn_models.ConfigError / UserError: the candidate cannot be built or scored.
    """
    import torch

    import snn_models
    from evolve.engine.arch import arch_to_specs
    from snn_models.preprocess import data_kind_of, default_preprocess, prepare_inputs
    from snn_models.proxies import proxy_score

    net_dict, _ = arch_to_specs(arch)
    kind = data_kind_of(data.input_shape, getattr(data, "kind", None))
    net_dict.setdefault("preprocess", default_preprocess(kind, net_dict.get("encoder", "direct")))
    spec = snn_models.NetSpec.from_dict(net_dict)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = snn_models.build(spec, data.input_shape, data.n_classes)
    prepare_inputs(model, data.train.x, kind)
    return proxy_score(proxy, model, batches, seed=seed)


def try_score(
    arch: Mapping[str, Any], data: Dataset, proxy: str, batches: Sequence[Batch], *, seed: int
) -> tuple[float, str | None]:
    """:func:`score_arch`, never raising: ``(score, None)``, with a non-finite score as -inf,
    or ``(-inf, "Type: reason")`` for a candidate that cannot be built or scored (it is never
    preferred)."""
    from evolve.engine.trial import one_line

    try:
        score = score_arch(arch, data, proxy, batches, seed=seed)
    except Exception as e:
        return -math.inf, f"{type(e).__name__}: {one_line(e)}"
    return (score if math.isfinite(score) else -math.inf), None


def within_kind(scored: Sequence[tuple[Proposal, float, str | None]]) -> list[Any]:
    """The scored proposals that compete: those of the first proposal's network kind.

    A proxy's scale depends on the network kind (``sahd`` sums over spiking units: a CNN's
    feature maps against an MLP's hidden layer), so across kinds it ranks poorly (Kendall τ
    0.29 over ``hybrid_neuron``, 0.56 and 0.57 within its CNNs and its MLPs:
    ``make bench-proxies``). The first proposal's kind is the agent's own choice; the filter only
    picks the most promising candidate of that kind, so the agent keeps choosing between kinds.
    """
    kind = scored[0][0].arch.get("kind")
    return [s for s in scored if s[0].arch.get("kind") == kind]


class ProxyFilter:
    """An agent that trains only the best-scoring of ``pool`` proposals of ``agent``.

    Args:
        agent: The wrapped agent (any :class:`agents.Agent`).
        data: The run's data (the candidates are built for it and scored on its training split).
        proxy: A key of :data:`snn_models.proxies.PROXIES`.
        pool: Proposals asked per trained trial (>= 2).
        seed: The run's seed: the scoring batches are drawn with it and candidate ``n`` is built
            with ``seed + n``, the seed its trial trains with.

    Raises:
        UserError: an unknown proxy or a pool below 2.
    """

    def __init__(self, agent: Agent, data: Dataset, *, proxy: str, pool: int, seed: int) -> None:
        self.pool = check_proxy_settings(proxy, pool)
        self.proxy = proxy
        self._agent = agent
        self._data = data
        self._seed = seed
        self._batches = proxy_batches(data, seed=seed)
        self._scores: dict[int, float | None] = {}
        self._queued: set[int] = set()
        self.rejected = sum(
            1 for t in agent.store.trials(("pruned",)) if t.attrs.get("proxy_rejected")
        )
        self.recovered_on_resume = agent.recovered_on_resume

    # the agent's own record and decisions
    @property
    def store(self) -> RunStore:
        """The wrapped agent's store (rejected proposals included, as PRUNED trials)."""
        return self._agent.store

    def __getattr__(self, name: str) -> Any:  # study, sampler_name, objectives, ...
        return getattr(self._agent, name)

    def n_done(self) -> int:
        """Trained trials that count toward the budget (proxy-rejected ones do not)."""
        return self._agent.n_done() - self.rejected

    def pareto_trials(self) -> list[TrialRecord]:
        """The wrapped agent's front (rejected proposals are never on it)."""
        return self._agent.pareto_trials()

    def report(self, proposal: Proposal, epoch: int, values: Mapping[str, float]) -> bool:
        """The wrapped agent's report (early stopping)."""
        return self._agent.report(proposal, epoch, values)

    def _score(self, proposal: Proposal) -> tuple[float, str | None]:
        return try_score(
            proposal.arch, self._data, self.proxy, self._batches, seed=self._seed + proposal.number
        )

    def ask(self) -> Proposal:
        """Asks ``pool`` proposals, scores them, tells the others PRUNED; returns the best.

        A trial the proxy prior queued (:mod:`evolve.engine.proxy_prior`, attribute
        ``proxy_prior``) was already chosen from a pool: it is returned as it is.
        A proposal the space fails to sample raises as from the agent (the proposals already
        asked are told FAIL first, so none is left running).
        """
        asked: list[Proposal] = [self._agent.ask()]
        if "proxy_prior" in self._agent.store.trial(asked[0].number).attrs:
            self._queued.add(asked[0].number)  # told as it is: it carries the prior's score
            return asked[0]
        try:
            for _ in range(self.pool - 1):
                asked.append(self._agent.ask())
            scored = [(p, *self._score(p)) for p in asked]
        except BaseException as e:
            from evolve.engine.trial import failure_attrs

            for p in asked:
                self._agent.tell(p, None, state="fail", attrs=failure_attrs(e, p.arch))
            raise
        best = max(within_kind(scored), key=lambda s: (s[1], -s[0].number))[0]
        for p, score, error in scored:
            finite = score if math.isfinite(score) else None
            self._scores[p.number] = finite
            if p is best:
                continue
            attrs: dict[str, Any] = {
                "proxy_rejected": True,
                "proxy": self.proxy,
                "proxy_score": finite,
                "arch": dict(p.arch),
            }
            if error is not None:
                attrs["proxy_error"] = error
            self._agent.tell(p, None, state="pruned", attrs=attrs)
            self.rejected += 1
            logger.info("trial {} proxy-rejected ({} score {})", p.number, self.proxy, finite)
        logger.info(
            "trial {} chosen of {} by {} (score {})",
            best.number,
            self.pool,
            self.proxy,
            self._scores[best.number],
        )
        return best

    def tell(
        self,
        proposal: Proposal,
        values: Mapping[str, float] | None,
        *,
        state: TrialStateName = "complete",
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        """The wrapped agent's tell, with ``proxy``, ``proxy_score`` and ``proxy_pool`` added
        (not to a trial the proxy prior queued)."""
        if proposal.number in self._queued:
            self._queued.discard(proposal.number)
            self._agent.tell(proposal, values, state=state, attrs=attrs)
            return
        extra = {
            "proxy": self.proxy,
            "proxy_score": self._scores.pop(proposal.number, None),
            "proxy_pool": self.pool,
        }
        self._agent.tell(proposal, values, state=state, attrs={**(attrs or {}), **extra})

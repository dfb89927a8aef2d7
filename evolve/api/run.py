"""A finished (or running) search as a Python object: :class:`Run` and :func:`open_run`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolve.errors import RunError, translated

if TYPE_CHECKING:
    import pandas as pd
    from torch import nn

    from agents import RunStore, TrialRecord
    from evolve.data.datasets import Dataset

__all__ = ["Run", "open_run"]

PICKS = ("accuracy", "energy", "knee")


class Run:
    """The record of one study: its folder, configuration, trials, front and models.

    Everything is read from the run folder and its storage when asked (a :class:`Run` of a
    search still running sees each new trial).

    Args:
        path: The run folder (``runs/<study>``).
        storage: Read the study from this storage instead of the recorded one.
        data: The data set the study used, when it was passed as an object (a run folder
            records only its name).
        user_objectives: The caller's objective functions (only their names are recorded).

    Raises:
        RunError: not a run folder, or its storage does not hold the study.

    Example:
        >>> run = evolve.open_run("runs/mine")                      # doctest: +SKIP
        >>> best = run.best(pick="knee", max_energy=0.05)           # doctest: +SKIP
        >>> model = run.model(best.number)                          # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | Path,
        storage: str | None = None,
        *,
        data: Dataset | None = None,
        user_objectives: Sequence[Any] = (),
    ) -> None:
        from evolve.store.run import front_settings, load_run

        self.path = Path(path).resolve()
        with translated():
            self._store, self.config = load_run(self.path, storage)
            self.objectives, self.reference_point = front_settings(self.config, self.path)
        self._data = data
        self.user_objectives = tuple(user_objectives)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    # ------------------------------------------------------------------ what it holds
    @property
    def name(self) -> str:
        """The study's name."""
        return self.path.name

    @property
    def store(self) -> RunStore:
        """The run store: every trial as an :class:`agents.TrialRecord`."""
        return self._store

    def summary(self) -> dict[str, Any]:
        """What ``pareto.json`` holds, computed now: front, hypervolume (and its history),
        trial counts, objectives and reference point; and ``baselines`` when recorded."""
        from evolve.store.results import pareto_summary

        summary = pareto_summary(self._store, self.objectives, self.reference_point)
        if self.baselines is not None:
            summary["baselines"] = self.baselines
        return summary

    @property
    def baselines(self) -> dict[str, Any] | None:
        """The simple baselines the search recorded on its splits (``baselines.json``: logistic
        regression, a same-size MLP, 1-NN, ...; see :func:`evolve.baselines`), or None."""
        from evolve.training.baselines import read_baselines

        return read_baselines(self.path)

    @property
    def front(self) -> list[TrialRecord]:
        """The Pareto front's trials, most accurate first (feasible, complete, non-dominated)."""
        return [self._store.trial(int(f["trial"])) for f in self.summary()["front"]]

    @property
    def hypervolume(self) -> float:
        """The front's hypervolume against :attr:`reference_point`."""
        return float(self.summary()["hypervolume"])

    @property
    def trials(self) -> pd.DataFrame:
        """One row per trial, with the columns of ``trials.parquet``."""
        import pandas as pd

        from evolve.store.results import trial_rows

        return pd.DataFrame(trial_rows(self._store, self.objectives))

    def trial(self, number: int) -> TrialRecord:
        """Trial ``number``'s record.

        Raises:
            RunError: no such trial.
        """
        with translated():
            try:
                return self._store.trial(int(number))
            except Exception as e:
                raise RunError(str(e)) from None

    # ------------------------------------------------------------------ choosing
    def best(self, pick: str = "accuracy", max_energy: float | None = None) -> TrialRecord:
        """The front trial chosen by ``pick`` (``accuracy``, ``energy`` or ``knee``: the point
        farthest from the line through the front's extremes), among those at or below
        ``max_energy`` µJ if given.

        Raises:
            RunError: an unknown pick, an empty front, or none within the budget.
        """
        from agents.pareto import pick as choose

        if pick not in PICKS:
            raise RunError(f"pick must be one of {', '.join(PICKS)}, got {pick!r}")
        with translated():
            number = choose(self.summary()["front"], pick, max_energy)
        return self.trial(number)

    # ------------------------------------------------------------------ models
    def data(self) -> Dataset:
        """The data set of the study (loaded by its recorded name, or the object passed)."""
        from evolve.data.datasets import load_dataset
        from evolve.store.run import dataset_of

        if self._data is not None:
            return self._data
        with translated():
            cfg = self.config
            self._data = load_dataset(
                dataset_of(cfg, self.path),
                seed=int(cfg.get("seed", 0)),
                data_dir=Path(cfg["data_dir"]) if cfg.get("data_dir") else None,
                kind=cfg.get("data_kind"),
            )
        return self._data

    def model(self, trial: int | TrialRecord) -> nn.Module:
        """Trial ``trial``'s trained model, in eval mode (only the front's weights are kept).

        Raises:
            UserError: the trial has no saved weights, or the file is damaged.
        """
        from evolve.store import checkpoints

        number = trial if isinstance(trial, int) else trial.number
        with translated():
            return checkpoints.load(self.path, int(number)).model.eval()

    def export(
        self,
        trial: int | TrialRecord | str = "best",
        formats: str | Sequence[str] = "all",
        out: str | Path | None = None,
        *,
        pick: str = "accuracy",
        max_energy: float | None = None,
        nir_for: str = "nir",
    ) -> Any:
        """Export a trial's model (checked against the in-memory model) with a model card;
        see :func:`evolve.export_trial`. ``"all"`` exports every format that can express the
        model and lists the others in ``.skipped``; formats named explicitly must all work.
        ``nir_for`` writes the NIR file the way a reader reads it (``snntorch``, ``norse``).
        Returns its result (``.out`` is the folder)."""
        from evolve.export.trial import export_trial

        number = trial if isinstance(trial, int | str) else trial.number
        with translated():
            return export_trial(
                self.path,
                number,
                formats=formats if isinstance(formats, str) else tuple(formats),
                out=Path(out) if out is not None else None,
                pick=pick,
                max_energy=max_energy,
                storage=self.config.get("storage"),
                nir_for=nir_for,
            )

    def report(self, out: str | Path | None = None) -> Path:
        """Write the offline HTML report (``report.html`` in the run folder by default)."""
        from evolve.report.html import write_report

        with translated():
            return Path(write_report(self.path, Path(out) if out is not None else None))


def open_run(
    path_or_study: str | Path, storage: str | None = None, *, out: str | Path = "runs"
) -> Run:
    """The :class:`Run` of an existing study: a run folder, or a study name under ``out``.

    Raises:
        RunError: no such run folder, or its storage does not hold the study.
    """
    path = Path(path_or_study)
    if not (path / "config.yaml").exists() and (Path(out) / path).is_dir():
        path = Path(out) / path
    return Run(path, storage)

from __future__ import annotations

import pytest

from agents import AgentError, Constraint, Objective, parse_objectives


def test_short_names_map_to_metrics_and_directions() -> None:
    objectives = parse_objectives("accuracy, energy,latency,forgetting")
    assert [(o.name, o.direction) for o in objectives] == [
        ("accuracy", "maximize"),
        ("energy_uj", "minimize"),
        ("latency_ms", "minimize"),
        ("forgetting", "minimize"),
    ]
    assert objectives[0].threshold == 0.0


def test_energy_ratio_is_the_ratio_to_the_ann_twin() -> None:
    (o,) = parse_objectives("energy_ratio")
    assert (o.name, o.direction) == ("energy_ratio_to_ann", "minimize")


def test_metric_names_and_sequences_are_accepted() -> None:
    assert parse_objectives(["accuracy", "energy_uj"]) == parse_objectives("accuracy,energy")


def test_unknown_objective_lists_the_choices() -> None:
    with pytest.raises(AgentError, match="unknown objective 'power'") as info:
        parse_objectives("accuracy,power")
    message = str(info.value)
    assert "\n" not in message
    for name in ("accuracy", "energy", "latency", "forgetting"):
        assert name in message


@pytest.mark.parametrize("text", ["", " , ", "accuracy,accuracy", "energy,energy_uj"])
def test_empty_or_repeated_objectives_are_refused(text: str) -> None:
    with pytest.raises(AgentError):
        parse_objectives(text)


def test_agent_error_is_a_value_error() -> None:
    assert issubclass(AgentError, ValueError)


def test_objective_checks_its_direction() -> None:
    with pytest.raises(AgentError, match="maximize, minimize"):
        Objective("accuracy", "max")  # type: ignore[arg-type]


def test_constraint_bound_is_inclusive() -> None:
    budget = Constraint("energy_uj", 0.5)
    assert budget.violation(0.5) == 0.0  # on the bound: feasible
    assert budget.violation(0.75) == pytest.approx(0.25)
    assert budget.violation(0.25) < 0.0

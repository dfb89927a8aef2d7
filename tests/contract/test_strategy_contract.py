"""Every continual-learning strategy in STRATEGIES meets the same contract: its entry names a
class with that name, whose options are keywords; it builds with its defaults, learns a tiny
2-task stream through run_stream, reports JSON-ready settings, and returns the metrics of R."""

from __future__ import annotations

import inspect
import json

import pytest

from evolve.continual_learning.metrics import continual_metrics
from evolve.continual_learning.runner import run_stream
from evolve.continual_learning.strategies import STRATEGIES, make_strategy, strategy_class
from evolve.continual_learning.streams import Stream, make_stream
from evolve.continual_learning.trial import STRATEGY_OPTIONS
from evolve.training.trainer import TrainConfig
from snn_models import NetSpec, build

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def stream() -> Stream:
    return make_stream("split-digits", n_tasks=2, limit=20, seed=0)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_entry_names_a_class_of_that_name_with_keyword_options(name: str) -> None:
    cls = strategy_class(name)
    assert inspect.isclass(cls) and cls.name == name
    params = inspect.signature(cls).parameters.values()
    assert all(p.default is not inspect.Parameter.empty for p in params), "every option defaults"
    assert {p.name for p in params} <= {*STRATEGY_OPTIONS, "seed", "a_plus", "a_minus"}


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_learns_a_two_task_stream_and_returns_metrics(name: str, stream: Stream) -> None:
    strategy = make_strategy(name)
    spec = NetSpec.from_dict({"kind": "mlp", "timesteps": 2, "layers": [{"width": 16}] * 2})
    model = build(spec, stream.input_shape, stream.n_classes)
    cfg = TrainConfig(epochs=1, batch_size=16, lr=1e-2, seed=0, progress=False)
    result = run_stream(model, stream, strategy, cfg)
    assert result.strategy == name and result.tasks == tuple(t.name for t in stream.tasks)
    assert len(result.r) == len(result.r_val) == 2 and all(len(row) == 2 for row in result.r)
    assert all(0.0 <= v <= 1.0 for row in result.r for v in row)
    assert result.metrics == continual_metrics(result.r)
    assert result.metrics_val == continual_metrics(result.r_val)
    assert len(result.stages) == 2
    json.dumps(result.to_dict())  # settings and all: JSON-ready
    assert strategy.settings() == result.settings

"""ModelShape: what a model needs to know about a task; TaskSpec: that shape and what a report needs to judge a
score (the metric, the reference scores, the domain and where the data come from)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# classify / regress: one answer per sequence; tag: one label per position (IGNORE where there is none);
# lm: the next token at every position
TaskKind = Literal["classify", "regress", "tag", "lm"]
IGNORE = -100
InputKind = Literal["tokens", "features"]
# every metric a task can be judged by, and whether a higher score is better: the one place a direction is decided
METRIC_HIGHER_IS_BETTER = {"accuracy": True, "token_accuracy": True, "mse": False, "mae": False,
                           "cross_entropy": False, "bpc": False, "loss": False}


def higher_is_better(metric: str) -> bool:
    if metric not in METRIC_HIGHER_IS_BETTER:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRIC_HIGHER_IS_BETTER)}")
    return METRIC_HIGHER_IS_BETTER[metric]


def oriented(metric: str, value: float) -> float:
    """The score turned so that larger is better: max() picks the best, and a > b means a is better."""
    return value if higher_is_better(metric) else -value


@dataclass(frozen=True)
class ModelShape:
    """What a model is built from (models.build_model): measurements and the scikit-learn estimators build one
    without a task's provenance; every TaskSpec is one."""

    # the task's name, for messages
    name: str
    kind: TaskKind
    input_kind: InputKind
    # vocabulary size for tokens, channel count for features
    n_inputs: int
    # classes, regression targets, or vocabulary size for language modelling
    n_outputs: int
    seq_len: int
    # True when predictions at t may use only inputs <= t (language modelling)
    causal: bool


@dataclass(frozen=True)
class TaskSpec(ModelShape):
    """A task's shape and how its scores are judged and described."""

    metric: str
    # the metric of a trivial predictor: input-blind (majority class, training mean) or, for forecasts, naive
    # (last value, seasonal naive); every comparison shows what no sequence model at all achieves
    chance: float
    chance_name: str
    # the metric of a simple non-sequence model fit on the training split
    baseline: float
    baseline_name: str
    domain: str
    licence: str
    description: str
    # metrics reported beside `metric` (e.g. MAE beside MSE for forecasts); `metric` alone decides comparisons
    extra_metrics: tuple[str, ...] = ()

    @property
    def higher_is_better(self) -> bool:
        return higher_is_better(self.metric)

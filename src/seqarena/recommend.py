"""Which model to use on one task, and what that choice trades: quality (test mean and 95% interval over seeds)
against training throughput, peak training memory and inference latency, all measured on the task itself.

The rule, printed with every recommendation: the models whose 95% intervals overlap the best model's are tied
for quality; of those, the one with the lowest latency per sequence is recommended (throughput breaks a tie).
When the best model does not beat the linear baseline or the chance level, that is said first."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from seqarena.measure.primitives import PeakMemory, median_seconds
from seqarena.models import ModelConfig, build_model
from seqarena.results.statistics import Comparison
from seqarena.spec import TaskSpec, oriented
from seqarena.tasks.base import Task

RULE = ("tied for quality = 95% intervals overlapping the best model's; of those, the lowest inference latency per "
        "sequence is recommended, then the highest training throughput")


@dataclass(frozen=True)
class Candidate:
    """A model's comparison on the task and its costs there."""

    comparison: Comparison
    ms_per_sequence: float
    peak_train_bytes: int

    @property
    def model(self) -> str:
        return self.comparison.model


def measured(comparison: Comparison, task: Task, model: ModelConfig, batch_size: int, device: str) -> Candidate:
    """Costs of a freshly built model of the compared size (weights do not change them): the median time to
    predict one test sequence (batch 1), and the peak memory of one training step on a batch of the task, both
    measured by seqarena.measure's primitives (on CPU: live tensor bytes, not the process's resident set)."""
    torch.manual_seed(0)
    network = build_model(task.spec, model).to(device)
    one = {name: value.to(device) for name, value in task.test.batch(torch.arange(1)).items()}
    batch = {name: value.to(device) for name, value in task.train.batch(torch.arange(batch_size)).items()}

    def predict() -> None:
        with torch.no_grad():
            network.predict(one["x"], one.get("mask"))

    network.eval()
    seconds = median_seconds(predict, torch.device(device), repeats=7, max_seconds=2.0)
    network.train()
    with PeakMemory(device) as peak:
        network(batch).backward()
    return Candidate(comparison, 1000 * seconds, peak.bytes)


def score_text(comparison: Comparison) -> str:
    interval = "" if math.isnan(comparison.test_interval) else f" ± {comparison.test_interval:.4g}"
    return f"{comparison.metric} {comparison.test_mean:.4g}{interval}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2g}x" if b > 0 else "n/a"


def trade(choice: Candidate, other: Candidate) -> str:
    """The choice's costs as multiples of another model's."""
    a, b = choice.comparison, other.comparison
    return (f"{ratio(a.tokens_per_second, b.tokens_per_second)} the training throughput "
            f"({a.tokens_per_second:,.0f} vs {b.tokens_per_second:,.0f} tokens/s), "
            f"{ratio(choice.peak_train_bytes, other.peak_train_bytes)} the peak training memory and "
            f"{choice.ms_per_sequence:.3g} vs {other.ms_per_sequence:.3g} ms per sequence of {other.model}")


def recommend(candidates: list[Candidate], spec: TaskSpec) -> list[str]:
    """The recommendation in sentences, every number from the candidates and the task's reference scores."""
    def score(value: float) -> float:
        return oriented(spec.metric, value)

    ranked = sorted(candidates, key=lambda c: -score(c.comparison.test_mean))
    best = ranked[0]
    contenders = [c for c in ranked if c.comparison.within_noise_of(best.comparison)]
    choice = min(contenders, key=lambda c: (c.ms_per_sequence, -c.comparison.tokens_per_second))
    lines = []
    if score(best.comparison.test_mean) <= score(spec.chance):
        lines.append(f"No model beats chance ({spec.chance_name}, {spec.chance:.4g}): the models learned nothing "
                     "usable here; train longer or check the data.")
    elif score(best.comparison.test_mean) <= score(spec.baseline):
        lines.append(f"No sequence model beats the {spec.baseline_name} ({spec.baseline:.4g}); the best, "
                     f"{best.model}, scores {score_text(best.comparison)}. Prefer the baseline unless more data or "
                     "training changes this.")
    if min(c.comparison.seeds for c in candidates) < 3:
        lines.append("Fewer than 3 seeds per model: the noise is not measured, so ties cannot be told from wins.")
    others = [c.model for c in contenders if c is not best]
    lines.append(f"Quality: {best.model} scores best, {score_text(best.comparison)}; " + (
        f"{', '.join(others)} {'is' if len(others) == 1 else 'are'} within the noise of it (95% intervals overlap)."
        if others else "every other model is worse outside the noise (95% intervals do not overlap)."))
    if len(ranked) == 1:
        lines.append(f"Recommendation: {choice.model}, the only model compared.")
    elif len(contenders) == 1:
        runner_up = ranked[1]
        lines.append(f"Recommendation: {choice.model}, the best quality outside the noise. Against {runner_up.model}, "
                     f"next at {score_text(runner_up.comparison)}, it has {trade(choice, runner_up)}.")
    else:
        other = best if choice is not best else next(c for c in contenders if c is not choice)
        lines.append(f"Recommendation: {choice.model}, tied for the best quality and the quickest of the tied models "
                     f"to run. Against {other.model} ({score_text(other.comparison)}), it has {trade(choice, other)}.")
    return lines

"""The note credits the Transformer's lead to pre-trained models (BERT, GPT, T5). Judged on the `pretraining`
measurement: whether self-pretraining changes the order of the families, against an equal-compute arm trained from
scratch for as many steps in all (Amos et al. 2023)."""

from __future__ import annotations

import math

from seqarena.claims.common import (
    above_chance,
    beats,
    best_on_validation,
    enough_seeds,
    not_measured,
    p_between,
    point_text,
    recurrent,
    too_few_seeds,
)
from seqarena.evidence import Evidence
from seqarena.measure.pretraining import PretrainingPoint
from seqarena.results.records import Outcome, Verdict
from seqarena.results.statistics import ALPHA

STANDINGS = {1: "the transformer ahead", -1: "a recurrent model ahead", 0: "not separable"}


def standing(points: dict[str, PretrainingPoint]) -> tuple[int | None, float, str]:
    """In one arm of one task: +1 when the transformer beats the best recurrent model (chosen on validation), -1
    for the reverse, 0 when Welch's test cannot tell them apart, None when neither beats chance; with the p-value
    and the line that shows it."""
    best = best_on_validation([points[model] for model in recurrent(set(points))])
    transformer = points["transformer"]
    p = p_between(best, transformer)
    line = f"{point_text(transformer)} vs {point_text(best)} (best recurrent on validation), Welch p={p:.3g}"
    if not above_chance(best) and not above_chance(transformer):
        return None, p, f"{line}: neither beats chance"
    value = 1 if beats(transformer, best) else -1 if beats(best, transformer) else 0
    return value, p, f"{line}: {STANDINGS[value]}"


def gains(points: dict[str, PretrainingPoint], baseline: dict[str, PretrainingPoint]) -> list[str]:
    """Each model's pretrained score against its equal-compute score."""
    lines = []
    for model, pretrained in sorted(points.items()):
        if model in baseline:
            p = p_between(pretrained, baseline[model])
            verdict = ("better" if beats(pretrained, baseline[model]) else "worse" if beats(baseline[model], pretrained)
                       else "not separable")
            lines.append(f"{model}: pretrained {pretrained.test_mean:.4g} vs equal compute "
                         f"{baseline[model].test_mean:.4g} (p={p:.3g}, {verdict})")
    return lines


def arms_of(rows: list[PretrainingPoint], task: str) -> dict[str, dict[str, PretrainingPoint]]:
    arms: dict[str, dict[str, PretrainingPoint]] = {}
    for row in rows:
        if row.task == task:
            arms.setdefault(row.arm, {})[row.model] = row
    return arms


def judge_pretraining_lead(evidence: Evidence) -> Verdict:
    rows = evidence.rows(PretrainingPoint)
    changes: dict[str, tuple[int, float]] = {}
    notes: list[str] = []
    for task in dict.fromkeys(row.task for row in rows):
        arms = arms_of(rows, task)
        without, with_ = arms.get("equal_compute", {}), arms.get("pretrained", {})
        if "transformer" not in without or "transformer" not in with_ or not recurrent(set(without) & set(with_)):
            continue
        if not enough_seeds(*without.values(), *with_.values()):
            return too_few_seeds()
        before, p_before, line_before = standing(without)
        after, p_after, line_after = standing(with_)
        steps = next(iter(with_.values()))
        notes += [f"{task}, without pretraining ({without['transformer'].train_steps} steps): {line_before}",
                  f"{task}, with {steps.objective} pretraining ({steps.pretrain_steps} + {steps.train_steps} steps): "
                  f"{line_after}", *(f"{task}, {line}" for line in gains(with_, without))]
        if before is not None and after is not None:
            changes[task] = (after - before, p_after if after != 0 else p_before)
    if not notes:
        return not_measured("pretraining")
    return verdict_of(changes, notes)


def verdict_of(changes: dict[str, tuple[int, float]], notes: list[str]) -> Verdict:
    """Supported when pretraining moves the order toward the transformer on some task and away on none, nor leaves
    a decided order alone; contradicted when it moves it toward the transformer nowhere."""
    toward = [task for task, (change, _) in changes.items() if change > 0]
    away = [task for task, (change, _) in changes.items() if change < 0]
    unchanged = [task for task, (change, p) in changes.items() if change == 0 and not math.isnan(p) and p < ALPHA]
    moves = "; ".join(f"{how} on {', '.join(tasks)}" for how, tasks in (
        ("toward the transformer", toward), ("toward the recurrent models", away),
        ("a decided order unchanged", unchanged)) if tasks)
    if toward:
        outcome = Outcome.DEPENDS if away or unchanged else Outcome.SUPPORTED
        return Verdict(outcome, f"self-pretraining moves the order {moves}", notes, changes[toward[0]][1])
    if away or unchanged:
        return Verdict(Outcome.CONTRADICTED, f"self-pretraining brings the transformer no lead: {moves}", notes,
                       changes[(away + unchanged)[0]][1])
    return Verdict(Outcome.NOT_RESOLVED, "Welch's test separates the families in neither arm on any task", notes)

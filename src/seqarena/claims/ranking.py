""""Outperforms on most tasks" as a multi-task ranking (Demsar 2006, the UCR/UEA convention): on every task setting
of the suite's own sweeps, the models ranked by mean test score; a Friedman test over the settings, and the Nemenyi
critical difference between average ranks. A setting where no model beats the task's chance level and its linear
baseline ranks nothing: it is reported, not counted as a tie. A user's own runs (train, compare, other sweeps)
never enter."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from seqarena.claims.common import MIN_SEEDS, recurrent
from seqarena.evidence import Evidence
from seqarena.results.records import Outcome, RunRecord, Verdict
from seqarena.results.statistics import ALPHA, Leaderboard, leaderboards_of, skill
from seqarena.spec import oriented

# the sweeps of the suite's jobs whose runs are ranked (jobs.py names them): the leaderboard and the probes
SUITE_SWEEPS = ("leaderboard", "long_range:", "data_size:")


@dataclass(frozen=True)
class Ranking:
    """Average ranks (1 = best) over the counted settings, the Friedman p-value and the Nemenyi critical
    difference at ALPHA; the settings counted and those left out, with why."""

    mean_ranks: dict[str, float]
    settings: list[str]
    friedman_p: float
    critical_difference: float
    left_out: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    budget: str = ""


def suite_runs(records: list[RunRecord]) -> list[RunRecord]:
    return [record for record in records if record.suite and record.suite.startswith(SUITE_SWEEPS)]


def board_name(board: Leaderboard) -> str:
    return board.task + (f" ({board.setting})" if board.setting else "")


def left_out_reason(board: Leaderboard, models: list[str]) -> str | None:
    entries = {entry.model: entry for entry in board.entries}
    missing = [model for model in models if model not in entries]
    if missing:
        return f"{', '.join(missing)} not run"
    troubled = [model for model in models if not entries[model].complete]
    if troubled:
        return f"{', '.join(troubled)} had diverged or failed seeds"
    if any(entries[model].seeds < MIN_SEEDS for model in models):
        return f"fewer than {MIN_SEEDS} seeds"
    bar = max(oriented(board.metric, value) for value in (board.chance, board.baseline) if value is not None)
    if not any(oriented(board.metric, entries[model].test_mean) > bar for model in models):
        return f"no model beats chance and the {board.baseline_name or 'baseline'}"
    return None


def ranked_models(boards: list[Leaderboard]) -> list[str]:
    """The transformer and the recurrent models that every full-data setting ran."""
    common = set.intersection(*({entry.model for entry in board.entries} for board in boards)) if boards else set()
    return (["transformer"] if "transformer" in common else []) + recurrent(common)


def ranking(records: list[RunRecord]) -> Ranking | None:
    boards = [board for board in leaderboards_of(suite_runs(records)) if "fraction=" not in board.setting]
    models = ranked_models(boards)
    if "transformer" not in models or len(models) < 3:
        return None
    counted, left_out, notes = [], [], []
    for board in boards:
        reason = left_out_reason(board, models)
        if reason:
            left_out.append(f"{board_name(board)}: not ranked; {reason}")
            continue
        entries = {entry.model: entry for entry in board.entries}
        counted.append((board_name(board), [-oriented(board.metric, entries[m].test_mean) for m in models]))
        notes.append(f"{board_name(board)}: " + ", ".join(
            f"{model} skill {skill(board.metric, entries[model].test_mean, board.chance):.2f}" for model in models)
            + f" (0 = chance; {board.baseline_name} {skill(board.metric, board.baseline, board.chance):.2f})")
    if not counted:
        return Ranking({}, [], math.nan, math.nan, left_out, notes, budget_of(records, []))
    ranks = np.array([stats.rankdata(losses) for _, losses in counted])
    p = float(stats.friedmanchisquare(*ranks.T).pvalue) if len(counted) >= 2 else math.nan
    k, n = len(models), len(counted)
    q = stats.studentized_range.ppf(1 - ALPHA, k, np.inf) / math.sqrt(2)
    return Ranking(dict(zip(models, ranks.mean(axis=0).tolist())), [name for name, _ in counted], p,
                   float(q * math.sqrt(k * (k + 1) / (6 * n))), left_out, notes,
                   budget_of(records, [name for name, _ in counted]))


def budget_of(records: list[RunRecord], settings: list[str]) -> str:
    runs = suite_runs(records)
    if not runs:
        return ""
    configs = [record.run_config for record in runs]
    steps = sorted({(config.train.steps, config.train.batch_size) for config in configs})
    devices = sorted({record.hardware.get("gpu") or record.hardware.get("device", "?") for record in runs})
    dates = sorted({(record.created_at or "")[:10] for record in runs})
    return "; ".join([f"models {', '.join(sorted({record.model for record in runs}))}",
                      *([f"{len(settings)} task settings ranked"] if settings else []),
                      "steps x batch " + ", ".join(f"{s} x {b}" for s, b in steps),
                      f"seeds {sorted({config.train.seed for config in configs})}",
                      f"lrs {sorted({config.train.lr for config in configs})}",
                      f"param_budget {sorted({record.param_budget for record in runs if record.param_budget})}",
                      f"device {', '.join(devices)}", f"date {dates[0]} to {dates[-1]}"])


def judge_outperform(evidence: Evidence) -> Verdict:
    result = ranking(evidence.runs())
    if result is None or not result.settings:
        return Verdict(Outcome.NOT_MEASURED, "run: seqarena run (the suite's sweeps rank the transformer and >= 2 "
                                             f"recurrent models on several tasks, >= {MIN_SEEDS} seeds)",
                       [] if result is None else result.left_out, budget="" if result is None else result.budget)
    ranks, cd = result.mean_ranks, result.critical_difference
    notes = [f"average ranks over {len(result.settings)} settings: " + ", ".join(
        f"{model} {rank:.2f}" for model, rank in sorted(ranks.items(), key=lambda item: item[1]))
        + f"; critical difference {cd:.2f}; Friedman p={result.friedman_p:.3g}", *result.notes, *result.left_out]
    rivals = [model for model in ranks if model != "transformer"]
    ahead = [model for model in rivals if ranks["transformer"] - ranks[model] > cd]
    behind = [model for model in rivals if ranks[model] - ranks["transformer"] > cd]
    stamp = {"p_value": result.friedman_p, "budget": result.budget}
    if math.isnan(result.friedman_p) or result.friedman_p >= ALPHA:
        return Verdict(Outcome.NOT_RESOLVED, f"the Friedman test finds no difference in ranks over "
                                             f"{len(result.settings)} settings", notes, **stamp)
    if ahead:
        return Verdict(Outcome.CONTRADICTED, f"{', '.join(ahead)} rank ahead of the transformer by more than the "
                                             "critical difference", notes, **stamp)
    if len(behind) == len(rivals):
        return Verdict(Outcome.SUPPORTED, "the transformer ranks ahead of every recurrent model by more than the "
                                          "critical difference", notes, **stamp)
    if behind:
        return Verdict(Outcome.DEPENDS, f"the transformer ranks ahead of {', '.join(behind)}, not of the others",
                       notes, **stamp)
    return Verdict(Outcome.NOT_RESOLVED, "the transformer's average rank is within the critical difference of "
                                         "every recurrent model's", notes, **stamp)

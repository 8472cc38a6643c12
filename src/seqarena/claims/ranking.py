""""Outperforms on most tasks" as a multi-task ranking (Demsar 2006, the UCR/UEA convention). The note's claim is
about tasks, so the verdict ranks the suite's real tasks, one block per task; the synthetic probes are ranked apart
(one block per probe, at its longest length where a model beats the bar) and shown, never mixed in, so four
settings of probes cannot outvote three real tasks. Per family: the models ranked by mean test score in each block,
Iman and Davenport's F (Demsar 2006, sec. 3.2.2: Friedman's chi-square is needlessly conservative) with Friedman's
chi-square beside it, and the Nemenyi critical difference between average ranks. A block where no model beats the
task's strongest reference (its chance level, its linear baseline or a classical method: AutoETS, AutoARIMA,
MiniRocket) by the whole 95% interval over seeds ranks nothing: it is reported as its own finding, not counted, and
the verdict says how many tasks were informative. A user's own runs (train, compare, other sweeps) never enter."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from seqarena.catalog import TASK_DOMAINS
from seqarena.claims.common import MIN_SEEDS, Claim, recurrent
from seqarena.claims.literature import Expectation
from seqarena.evidence import Evidence
from seqarena.lazy import lazy_module
from seqarena.results.comparisons import Comparison
from seqarena.results.leaderboards import (
    NOT_CONVERGED,
    Leaderboard,
    informative,
    leaderboards_of,
    unconverged_text,
    uninformative_text,
)
from seqarena.results.measurements import ReferenceScore
from seqarena.results.records import Outcome, Reading, RunRecord, Test, Verdict
from seqarena.results.statistics import ALPHA, EXACT_SPLITS, skill
from seqarena.spec import oriented

stats = lazy_module("scipy.stats")

# the sweeps of the suite's jobs whose runs are ranked (jobs.py names them): the leaderboard and the probes
SUITE_SWEEPS = ("leaderboard", "long_range:", "data_size:")


@dataclass(frozen=True)
class Ranking:
    """Average ranks (1 = best) over the counted blocks, Iman and Davenport's p-value with Friedman's chi-square
    and p beside it, and the Nemenyi critical difference at ALPHA; the blocks counted and those left out, with why."""

    mean_ranks: dict[str, float]
    settings: list[str]
    iman_davenport_p: float
    friedman_chi2: float
    friedman_p: float
    critical_difference: float
    left_out: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    budget: str = ""
    # the tasks none of whose settings a sequence model learned beyond its strongest reference (informative)
    uninformative: list[str] = field(default_factory=list)
    # the informative tasks left out because a model other than the best was still improving with more steps
    unconverged: list[str] = field(default_factory=list)

    def informative_text(self) -> str:
        """How many real tasks the ranking could count: the condition of every verdict on it says so."""
        informative = len(self.settings) + len(self.unconverged)
        return (f"{informative} of {informative + len(self.uninformative)} tasks informative, a sequence "
                "model beating their strongest reference by its 95% interval"
                + (f"; not on {', '.join(self.uninformative)}" if self.uninformative else "")
                + (f"; {', '.join(self.unconverged)} not counted, a model other than the best still improving "
                   "with more steps" if self.unconverged else ""))

    def summary(self) -> str:
        return (f"average ranks over {len(self.settings)} tasks: " + ", ".join(
            f"{model} {rank:.2f}" for model, rank in sorted(self.mean_ranks.items(), key=lambda item: item[1]))
            + f"; critical difference {self.critical_difference:.2f}; Iman-Davenport p={self.iman_davenport_p:.3g} "
            f"(Friedman chi-square {self.friedman_chi2:.3g}, exact permutation p={self.friedman_p:.3g})")


def suite_runs(records: list[RunRecord]) -> list[RunRecord]:
    return [record for record in records if record.suite and record.suite.startswith(SUITE_SWEEPS)]


def board_name(board: Leaderboard) -> str:
    return board.task + (f" ({board.setting})" if board.setting else "")


def left_out_reason(board: Leaderboard, models: list[str]) -> str | None:
    """Why the board is not ranked over these models (None: it is). A board that no model run on it makes
    informative is uninformative whichever of the models have yet to run it."""
    entries = {entry.model: entry for entry in board.entries}
    missing = [model for model in models if model not in entries]
    if missing and not informative(board, board.entries):
        return uninformative_text(board)
    if missing:
        return f"{', '.join(missing)} not run"
    troubled = [model for model in models if entries[model].diverged or entries[model].failed]
    if troubled:
        return f"{', '.join(troubled)} had diverged or failed seeds at every learning rate"
    running = [model for model in models if entries[model].unfinished]
    if running:
        return f"{', '.join(running)} with fewer runs than the others (a sweep still running, or fewer seeds)"
    if any(entries[model].seeds < MIN_SEEDS for model in models):
        return f"fewer than {MIN_SEEDS} seeds"
    if not informative(board, [entries[model] for model in models]):
        return uninformative_text(board)
    # the best can only move further ahead; any other model still improving at the cap could move up the order
    best = max(models, key=lambda model: oriented(board.metric, entries[model].test_mean))
    stalled = [entries[model] for model in models if model != best and entries[model].unconverged]
    if stalled:
        return unconverged_text(stalled)
    return None


def ranked_models(boards: list[Leaderboard]) -> list[str]:
    """The line-up ranked: of the transformer and the recurrent models that most tasks' settings ran (a task whose
    run was cut off before some of them is left out, "not run", not allowed to shrink the line-up every other task
    ranks) and those that every task ran, the one that ranks more tasks, the larger on a tie. Models that joined
    the line-up later (Mamba, mLSTM, GLA) and have run on most tasks but not yet all rank once they have; until then
    the tasks they have not reached still count, over the line-up every task ran."""
    tasks, ran = tasks_run(boards)
    common = line_up({model for model, count in ran.items() if 2 * count > tasks})
    shared = line_up({model for model, count in ran.items() if count == tasks})
    return max([common, shared], key=lambda models: (rankable(models), len(blocks(boards, models)[0]), len(models)))


def tasks_run(boards: list[Leaderboard]) -> tuple[int, Counter[str]]:
    """How many tasks there are, and on how many of them each model ran (one setting per task, one_per_task)."""
    chosen = one_per_task(boards).values()
    return len(chosen), Counter(model for board in chosen for model in {entry.model for entry in board.entries})


def line_up(models: set[str]) -> list[str]:
    return (["transformer"] if "transformer" in models else []) + recurrent(models)


def rankable(models: list[str]) -> bool:
    return "transformer" in models and len(models) >= 3


def is_probe(task: str) -> bool:
    return TASK_DOMAINS.get(task, "").startswith("synthetic")


def block_order(board: Leaderboard) -> tuple[int, int, int, int]:
    """Which of a task's settings stands for it: the longest probe length (the hardest that still tells the models
    apart), then the most models ranked (a leaderboard's whole line-up over a learning curve's few), then the most
    runs of its least-trained model (a sweep of a longer budget still running does not stand for the task before
    every model has all its rates and seeds), then the most training (steps x batch)."""
    first = board.entries[0]
    fewest_runs = min((entry.runs for entry in board.ranked), default=0)
    return int(first.options.get("length", 0)), len(board.ranked), fewest_runs, first.steps * first.batch_size


def one_per_task(boards: list[Leaderboard]) -> dict[str, Leaderboard]:
    """Each task's setting that stands for it (block_order), tasks in name order."""
    chosen: dict[str, Leaderboard] = {}
    for board in sorted(boards, key=lambda board: board.task):
        if board.entries and (board.task not in chosen or block_order(board) > block_order(chosen[board.task])):
            chosen[board.task] = board
    return chosen


def blocks(boards: list[Leaderboard], models: list[str]) -> tuple[list[Leaderboard], list[str], list[str], list[str]]:
    """One board per task: of its settings that can be ranked, the one block_order puts first; the settings not
    counted, with why; the tasks left out because no setting of theirs is informative, and those left out because
    a model other than the best had not converged."""
    reasons = [left_out_reason(board, models) for board in boards]
    chosen = one_per_task([board for board, reason in zip(boards, reasons) if reason is None])
    left_out = [f"{board_name(board)}: not ranked; "
                + (reason or f"one block per task ({board_name(chosen[board.task])} counts)")
                for board, reason in zip(boards, reasons) if board is not chosen.get(board.task)]
    uninformative = sorted({board.task for board, reason in zip(boards, reasons)
                            if reason is not None and reason == uninformative_text(board)} - set(chosen))
    unconverged = sorted({board.task for board, reason in zip(boards, reasons)
                          if reason is not None and reason.startswith(NOT_CONVERGED)} - set(chosen))
    return list(chosen.values()), left_out, uninformative, unconverged


def ranking(records: list[RunRecord], probes: bool = False,
            references: list[ReferenceScore] = ()) -> Ranking | None:
    """The ranking of the real tasks (or, with `probes`, of the synthetic probes) of the suite's sweeps, each task
    held to its classical `references` too."""
    boards = [board for board in leaderboards_of(suite_runs(records), references)
              if "fraction=" not in board.setting and is_probe(board.task) == probes]
    models = ranked_models(boards)
    if not rankable(models):
        return None
    counted, left_out, uninformative, unconverged = blocks(boards, models)
    notes = [f"{board_name(board)}: " + ", ".join(
        f"{model} skill {skill(board.metric, entry(board, model).test_mean, board.chance):.2f}" for model in models)
        + f" (0 = chance; {board.baseline_name} {skill(board.metric, board.baseline, board.chance):.2f})"
        for board in counted] + [cap_note(boards)] + waiting_note(boards, models)
    names = [board_name(board) for board in counted]
    if len(counted) < 2:
        return Ranking({}, names, math.nan, math.nan, math.nan, math.nan, left_out, notes, budget_of(records, names),
                       uninformative, unconverged)
    ranks = np.array([stats.rankdata([-oriented(board.metric, entry(board, m).test_mean) for m in models])
                      for board in counted])
    chi2, friedman_p = friedman(ranks)
    k, n = len(models), len(counted)
    q = stats.studentized_range.ppf(1 - ALPHA, k, np.inf) / math.sqrt(2)
    return Ranking(dict(zip(models, ranks.mean(axis=0).tolist())), names, iman_davenport(chi2, n, k), chi2,
                   friedman_p, float(q * math.sqrt(k * (k + 1) / (6 * n))), left_out, notes,
                   budget_of(records, names), uninformative, unconverged)


def waiting_note(boards: list[Leaderboard], models: list[str]) -> list[str]:
    """The recurrent models left out of the line-up because some tasks have not run them yet (ranked_models)."""
    tasks, ran = tasks_run(boards)
    return [f"{model} not ranked yet: run on {ran[model]} of {tasks} tasks, and a line-up with it ranks fewer "
            "tasks than the one every task ran" for model in line_up(set(ran)) if model not in models]


def cap_note(boards: list[Leaderboard]) -> str:
    """How many runs of each task trained to the step cap instead of stopping on patience: where most did, the
    ranking may rank models that had not converged."""
    patient = [board for board in boards if board.completed]
    capped, completed = sum(board.capped for board in patient), sum(board.completed for board in patient)
    return (f"{capped} of {completed} runs trained to the step cap instead of stopping on patience ("
            + ", ".join(f"{board.task} {board.capped} of {board.completed}" for board in patient) + ")")


def entry(board: Leaderboard, model: str) -> Comparison:
    return next(item for item in board.entries if item.model == model)


def friedman(ranks: np.ndarray) -> tuple[float, float]:
    """Friedman's chi-square over (N blocks, k models) of within-block ranks, and its exact permutation p-value
    (friedman_permutation_p; 1 when every block ties every model)."""
    if np.ptp(ranks) == 0:
        return 0.0, 1.0
    return float(stats.friedmanchisquare(*ranks.T).statistic), friedman_permutation_p(ranks)


def friedman_permutation_p(ranks: np.ndarray) -> float:
    """The share of rank tables, each block's ranks permuted among the models (the null: within a task the models
    are exchangeable), whose column sums spread at least as much as the observed (sum of squared rank sums, which
    orders tables as Friedman's chi-square does, ties and all). The first block stays fixed, since relabelling the
    models maps the tables onto each other; every table when there are at most EXACT_SPLITS, else a fixed sample.
    Over few tasks the F and chi-square approximations run low: 3 tasks x 4 models gave Iman-Davenport p=0.0015 where
    the exact p is 0.017."""
    blocks, models = ranks.shape
    orders = np.array(list(itertools.permutations(range(models))))
    if len(orders) ** (blocks - 1) <= EXACT_SPLITS:
        sums = ranks[0][None, :]
        for block in ranks[1:]:
            sums = (sums[:, None, :] + block[orders][None, :, :]).reshape(-1, models)
    else:
        random = np.random.default_rng(0)
        shuffled = random.random((EXACT_SPLITS, blocks - 1, models)).argsort(axis=2)
        sums = ranks[0] + np.take_along_axis(np.broadcast_to(ranks[1:], shuffled.shape), shuffled, axis=2).sum(axis=1)
    spread = (sums ** 2).sum(axis=1)
    observed = float((ranks.sum(axis=0) ** 2).sum())
    hits = int(np.sum(spread >= observed - 1e-9 * observed))
    # a sample counts the observed table among its own (Phipson and Smyth 2010), so its p is never 0
    return hits / len(spread) if len(orders) ** (blocks - 1) <= EXACT_SPLITS else (hits + 1) / (len(spread) + 1)


def iman_davenport(chi2: float, n: int, k: int) -> float:
    """Iman and Davenport's (1980) p-value: F = (N - 1) chi2 / (N (k - 1) - chi2) on (k - 1, (k - 1)(N - 1))
    degrees of freedom (Demsar 2006, eq. 2); 0 when every block ranks the models alike."""
    denominator = n * (k - 1) - chi2
    if denominator <= 0:
        return 0.0
    return float(stats.f.sf((n - 1) * chi2 / denominator, k - 1, (k - 1) * (n - 1)))


def budget_of(records: list[RunRecord], settings: list[str]) -> str:
    runs = suite_runs(records)
    if not runs:
        return ""
    configs = [record.run_config for record in runs]
    steps = sorted({(config.train.steps, config.train.batch_size) for config in configs})
    devices = sorted({record.hardware.get("gpu") or record.hardware.get("device", "?") for record in runs})
    dates = sorted({(record.created_at or "")[:10] for record in runs})
    return "; ".join([f"models {', '.join(sorted({record.model for record in runs}))}",
                      *([f"{len(settings)} real tasks ranked"] if settings else []),
                      "steps x batch " + ", ".join(f"{s} x {b}" for s, b in steps),
                      f"seeds {sorted({config.train.seed for config in configs})}",
                      f"lrs {sorted({config.train.lr for config in configs})}",
                      f"param_budget {sorted({record.param_budget for record in runs if record.param_budget})}",
                      f"device {', '.join(devices)}", f"date {dates[0]} to {dates[-1]}"])


def judge_outperform(evidence: Evidence) -> Verdict:
    result = ranking(evidence.runs(), references=evidence.references())
    verdict = outperform_verdict(result, ranking(evidence.runs(), probes=True, references=evidence.references()))
    left_out_tasks = result is not None and (result.uninformative or result.unconverged)
    if result is None or verdict.verdict == Outcome.NOT_MEASURED and not left_out_tasks:
        return verdict
    return replace(verdict, condition=f"{verdict.condition} ({result.informative_text()})")


def outperform_verdict(result: Ranking | None, probes: Ranking | None) -> Verdict:
    probe_notes = [f"synthetic probes, ranked apart (they decide nothing here): {probes.summary()}",
                   *(f"probe {line}" for line in probes.left_out)] if probes and probes.mean_ranks else []
    if result is None or len(result.settings) < 2:
        return Verdict(Outcome.NOT_MEASURED, "run: seqarena run (the suite's sweeps rank the transformer and >= 2 "
                                             f"recurrent models on >= 2 real tasks, >= {MIN_SEEDS} seeds)",
                       [] if result is None else [*result.notes, *result.left_out, *probe_notes],
                       budget="" if result is None else result.budget)
    ranks, cd = result.mean_ranks, result.critical_difference
    # the larger of the F approximation's p and the exact one, as seeds_p does for two models
    p = max(result.iman_davenport_p, result.friedman_p)
    notes = [f"real tasks: {result.summary()}", *result.notes, *result.left_out, *probe_notes]
    rivals = [model for model in ranks if model != "transformer"]
    ahead = [model for model in rivals if ranks["transformer"] - ranks[model] > cd]
    behind = [model for model in rivals if ranks[model] - ranks["transformer"] > cd]
    name = f"Iman-Davenport and the exact Friedman test over {len(result.settings)} real tasks"
    if math.isnan(p) or p >= ALPHA:
        return Verdict(Outcome.NOT_RESOLVED, "Iman and Davenport's and the exact Friedman test find no difference in "
                                             f"ranks over {len(result.settings)} real tasks", notes, (Test(name, p),),
                       result.budget, tasks_needed(result))
    tests = (Test(name, p, decisive=bool(ahead or behind)),)
    if ahead:
        return Verdict(Outcome.CONTRADICTED, f"{', '.join(ahead)} rank ahead of the transformer on the real tasks "
                                             "by more than the critical difference", notes, tests, result.budget)
    if len(behind) == len(rivals):
        return Verdict(Outcome.SUPPORTED, "the transformer ranks ahead of every recurrent model on the real tasks by "
                                          "more than the critical difference", notes, tests, result.budget)
    if behind:
        return Verdict(Outcome.DEPENDS, f"the transformer ranks ahead of {', '.join(behind)} on the real tasks, not "
                                        "of the others", notes, tests, result.budget)
    return Verdict(Outcome.NOT_RESOLVED, "the transformer's average rank on the real tasks is within the critical "
                                         "difference of every recurrent model's", notes, tests, result.budget,
                   tasks_needed(result))


def tasks_needed(result: Ranking) -> str:
    """How many real tasks would let the transformer's largest observed rank gap exceed the critical difference,
    which shrinks as 1/sqrt(N) (Demsar 2006, eq. 5), if the gap held."""
    gaps = [abs(result.mean_ranks["transformer"] - rank) for model, rank in result.mean_ranks.items()
            if model != "transformer"]
    gap = max(gaps, default=0.0)
    if gap == 0:
        return "the transformer's rank equals every recurrent model's: no number of tasks would separate them"
    tasks = math.ceil(len(result.settings) * (result.critical_difference / gap) ** 2)
    return (f"about {tasks} real tasks (now {len(result.settings)}) for the largest rank gap ({gap:.2f}) to exceed "
            "the critical difference, if it held")


def read_outperform(evidence: Evidence) -> list[Reading]:
    result = ranking(evidence.runs(), references=evidence.references())
    if result is None:
        return []
    tasks = f"{len(result.settings)} real tasks"
    return [Reading(model, "average rank (1 = best)", rank, None, None, tasks)
            for model, rank in sorted(result.mean_ranks.items(), key=lambda item: item[1])] + [
        Reading("Nemenyi", "critical difference in rank", result.critical_difference, None, None, tasks)]


OUTPERFORMS = Claim(
    id="transformer-outperforms", aspect="performance", family="Transformer",
    text="outperforms RNNs on most tasks", needs=(),
    rule="the transformer and the recurrent models ranked on the suite's real tasks at full data, one block "
         "per task (synthetic probes ranked apart and shown, not counted; a task counts only where a model beats "
         "its strongest reference, chance, the linear baseline or a classical method, by its 95% interval, and "
         "where every model below the best converged: where the set-up ran at two step caps, the longer cap not "
         "better beyond the noise, elsewhere most chosen runs stopped on patience): supported when its average "
         "rank leads every recurrent model's by more than the critical difference",
    judge=judge_outperform,
    statistic=f"Iman-Davenport F and the exact permutation Friedman test, both at p < {ALPHA} (the larger, "
              "Holm-corrected), Nemenyi critical difference (Demsar 2006)",
    read=read_outperform,
    expectation=Expectation(Outcome.SUPPORTED,
                            "at scale, in NLP and vision (Vaswani et al. 2017; Dosovitskiy et al. 2021)"),
    figures=("ranking",))

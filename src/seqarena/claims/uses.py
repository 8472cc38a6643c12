"""Rules for the note's use-case rows: which family leads in each domain (time series, speech, vision, NLP), counting
only the tasks where a sequence model beats the strongest reference (chance, the linear baseline, a classical method)
by its 95% interval, and how the gap between the families changes as the training data grows."""

from __future__ import annotations

import math
from dataclasses import replace

from seqarena.catalog import TASK_DOMAINS, model_info
from seqarena.claims.common import (
    WELCH,
    Claim,
    interval_text,
    recurrent,
)
from seqarena.claims.literature import Expectation
from seqarena.claims.ranking import board_name, budget_of, one_per_task, suite_runs
from seqarena.evidence import Evidence
from seqarena.results.comparisons import Comparison
from seqarena.results.leaderboards import (
    Leaderboard,
    informative,
    leaderboards_of,
    unconverged_text,
    uninformative_text,
)
from seqarena.results.records import Outcome, Reading, Test, Verdict
from seqarena.results.statistics import ALPHA, seeds_p
from seqarena.spec import oriented

# the note's expectation per domain, and the task domains (tasks/__init__.py) that make each one up
EXPECTED = {"time series": "recurrent", "speech": "recurrent", "vision": "attention", "NLP": "attention"}
DOMAINS = {"time-series forecasting": "time series", "time-series classification": "time series",
           "speech": "speech", "vision as a sequence": "vision", "NLP: text classification": "NLP",
           "NLP: character-level language modelling": "NLP"}
# a domain's lead needs this many real tasks: one task's order can flip with the learning rate
MIN_DOMAIN_TASKS = 2


def family(model: str) -> str:
    """'attention' for the transformer family, 'recurrent' for every recurrent model."""
    if model in recurrent([model]):
        return "recurrent"
    return "attention" if model == "transformer" else model_info(model).family


def family_bests(board: Leaderboard) -> dict[str, Comparison]:
    """Each family's best model on one setting at full data (by validation score): 'recurrent' and 'attention'."""
    best: dict[str, Comparison] = {}
    for entry in sorted(board.ranked, key=lambda item: item.model):
        kind = family(entry.model)
        better = kind not in best or oriented(entry.metric, entry.val_mean) > oriented(entry.metric,
                                                                                    best[kind].val_mean)
        if kind in ("recurrent", "attention") and entry.fraction == 1.0 and better:
            best[kind] = entry
    return best


def domain_boards(evidence: Evidence) -> list[tuple[str, Leaderboard]]:
    """The real task settings the domain rule reads, one per task, each with its domain and classical references."""
    boards = [board for board in leaderboards_of(suite_runs(evidence.runs()), evidence.references())
              if "fraction=" not in board.setting]
    return [(domain, board) for board in one_per_task(boards).values()
            if (domain := DOMAINS.get(TASK_DOMAINS.get(board.task, ""))) is not None]


def leader(board: Leaderboard) -> tuple[str, str, float]:
    """The family leading one setting, why, and the p-value between the two families' best models (the larger of
    Welch's and the exact permutation test's; over a backtest's folds the paired t-test; NaN when none ran):
    'reference' when neither family's best beats the setting's strongest reference (chance,
    the linear baseline or a classical method) by its 95% interval, so the setting is not informative;
    'unconverged' when most chosen runs of the trailing model (of either, in a tie) trained to the step cap, so more
    steps could overturn the order; 'tied' when that test cannot separate the best models of the two families."""
    best = family_bests(board)
    if len(best) < 2:
        return "unmeasured", "needs the transformer and a recurrent model", math.nan
    top = max(best.values(), key=lambda entry: oriented(entry.metric, entry.test_mean))
    other = next(entry for entry in best.values() if entry is not top)
    p = top.p_against(other) if top.fold_scores else seeds_p(top.metric, list(top.test_scores),
                                                              list(other.test_scores))
    scores = ", ".join(f"{entry.model} {interval_text(entry.test_mean, entry.test_low, entry.test_high)}"
                       for entry in (top, other))
    # informative as the ranking counts it: any model of either family, not only each family's validation choice
    if not informative(board, [entry for entry in board.ranked if family(entry.model) in best]):
        return "reference", f"not informative: {uninformative_text(board)} ({scores})", p
    tied = top.within_noise_of(other) or not p < ALPHA
    # a lead more steps could overturn (the trailing model still improving at the cap), or a tie either side of
    stalled = [entry for entry in ((top, other) if tied else (other,)) if entry.unconverged]
    if stalled:
        return "unconverged", f"{unconverged_text(stalled)} ({scores})", p
    if tied:
        return "tied", f"{scores} (p={p:.3g})", p
    return family(top.model), f"{scores} (p={p:.3g})", p


def judge_domains(evidence: Evidence) -> Verdict:
    verdict = domain_verdict(evidence)
    return replace(verdict, budget=budget_of(evidence.runs(), []))


def domain_lead(winners: list[str]) -> str:
    """A domain's lead: the family leading a strict majority of its tasks; 'mixed' otherwise (ties never go to
    whichever family a set iterates first)."""
    for kind in ("recurrent", "attention"):
        if 2 * winners.count(kind) > len(winners):
            return kind
    return "mixed"


def domain_verdict(evidence: Evidence) -> Verdict:
    leads: dict[str, list[tuple[str, str, float]]] = {}
    notes = []
    findings = []
    unconverged = []
    for domain, board in domain_boards(evidence):
        winner, why, p = leader(board)
        if winner in ("reference", "unconverged"):
            findings.append(f"{domain}, {board_name(board)}: {why}; not counted")
            if winner == "unconverged":
                unconverged.append(board.task)
        elif winner != "unmeasured":
            leads.setdefault(domain, []).append((board_name(board), winner, p))
            notes.append(f"{domain}, {board_name(board)}: {winner} leads; {why}")
    notes += findings
    if not leads:
        if unconverged:
            return Verdict(Outcome.NOT_RESOLVED, "no family's lead is settled: on " + ", ".join(unconverged)
                           + " the trailing model was still improving at the step cap, and on no other real task does "
                             "a sequence model beat the strongest reference by its 95% interval", notes,
                           needs=f"training on {', '.join(unconverged)} until early stopping ends most runs")
        if findings:
            return Verdict(Outcome.NOT_RESOLVED, "on no real task does a sequence model beat the strongest reference "
                                                 "by its 95% interval", notes,
                           needs="real tasks where a sequence model learns more than a linear or classical method")
        return Verdict(Outcome.NOT_MEASURED, "run: seqarena run (its leaderboard ranks both families on real tasks)")
    counted = sum(len(tasks) for tasks in leads.values())
    informative_text = (f" ({counted + len(unconverged)} of {counted + len(findings)} real tasks informative, a "
                        "sequence model beating their strongest reference by its 95% interval"
                        + (f"; {', '.join(unconverged)} not counted, the trailing model still improving at the step "
                           "cap" if unconverged else "") + ")")
    verdicts = {domain: domain_lead([winner for _, winner, _ in tasks]) if len(tasks) >= MIN_DOMAIN_TASKS else
                "one task" for domain, tasks in sorted(leads.items())}
    decided = {domain: kind for domain, kind in verdicts.items() if kind in ("recurrent", "attention")}
    tests = tuple(Test(f"{domain}, {name}: the two families' best models", p,
                       decisive=decided.get(domain) == winner)
                  for domain, tasks in sorted(leads.items()) for name, winner, p in tasks if not math.isnan(p))
    notes.insert(0, "; ".join(f"{domain}: {kind} (expected {EXPECTED[domain]}; "
                              f"{len(leads[domain])} task{'s' if len(leads[domain]) > 1 else ''})"
                              for domain, kind in verdicts.items()))
    if not decided:
        return Verdict(Outcome.NOT_RESOLVED, f"in no domain does one family lead a majority of >= {MIN_DOMAIN_TASKS} "
                                             "informative tasks outside the noise" + informative_text, notes, tests,
                       needs=f">= {MIN_DOMAIN_TASKS} real tasks per domain where a model beats the strongest "
                             "reference (the reference job's leaderboard), and seeds enough to separate the families "
                             "there" + (f"; training on {', '.join(unconverged)} until early stopping ends most runs"
                                        if unconverged else ""))
    matching = [domain for domain, kind in decided.items() if kind == EXPECTED[domain]]
    # the claim names four domains: a verdict resting on fewer says which it could not decide
    undecided = [domain for domain in EXPECTED if domain not in decided]
    scope = (f"; undecided in {', '.join(undecided)}" if undecided else "") + informative_text
    if len(matching) == len(decided):
        return Verdict(Outcome.SUPPORTED, f"the expected family leads in {', '.join(matching)}" + scope, notes, tests)
    if not matching:
        return Verdict(Outcome.CONTRADICTED, f"the other family leads in {', '.join(decided)}" + scope, notes, tests)
    return Verdict(Outcome.DEPENDS, f"as expected in {', '.join(matching)}, not in "
                                    f"{', '.join(d for d in decided if d not in matching)}" + scope, notes, tests)


def read_domains(evidence: Evidence) -> list[Reading]:
    readings = []
    for domain, board in domain_boards(evidence):
        setting = f"{domain}: {board.task}"
        readings += [Reading(f"{entry.model}, {setting}", f"test {entry.metric}", entry.test_mean, entry.test_low,
                             entry.test_high, f"{entry.seeds} seeds") for entry in family_bests(board).values()]
        if board.baseline is not None:
            readings.append(Reading(f"{board.baseline_name}, {setting}", f"test {board.metric}", board.baseline,
                                    basis="linear baseline"))
    return readings


USE_CASES = Claim(
    id="domains", aspect="use cases", family="RNN / Transformer",
    text="RNNs for time series and speech; Transformers for NLP and vision", needs=(),
    rule="per real task at full data, the leading family: the best model of each family (chosen on validation) "
         "compared by test score, a lead only when Welch's test separates them; a task counts only where a "
         "model beats the task's strongest reference (chance, the linear baseline, AutoETS, AutoARIMA, "
         "MiniRocket) by its 95% interval, and only where the trailing model (either, in a tie) stopped on "
         "patience in most chosen runs; a domain with >= 2 such tasks is led by the family leading a strict "
         "majority of them (else mixed); each domain's lead against the note's expectation",
    judge=judge_domains, statistic=WELCH, read=read_domains,
    expectation=Expectation(Outcome.DEPENDS,
                            "transformers lead in NLP and vision; on forecasts a linear model beats both (Zeng "
                            "et al. 2023)"))

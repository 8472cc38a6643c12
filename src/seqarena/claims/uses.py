"""Rules for the note's use-case rows: which family leads in each domain (time series, speech, vision, NLP), counting
only the tasks where a sequence model beats the strongest reference (chance, the linear baseline, a classical method)
by its 95% interval. The rule decides in `domain_finding` from each task's lead (TaskLead) and returns a
DomainFinding; `domain_verdict` writes it in words."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from seqarena.catalog import TASK_DOMAINS, model_info
from seqarena.claims.common import (
    WELCH,
    Case,
    Claim,
    Finding,
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
    'unconverged' when the trailing model (either, in a tie) was still improving with more steps (Comparison.
    unconverged), so more steps could overturn the order; 'tied' when that test cannot separate the best models of
    the two families."""
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


class Domains(Case):
    """The cases the domain rule tells apart, in the order it asks."""

    NOT_MEASURED = "no real task with a model of each family", Outcome.NOT_MEASURED
    UNCONVERGED = ("no task counted: where a sequence model beats the references, the trailing model was still "
                   "improving with more steps", Outcome.NOT_RESOLVED)
    UNINFORMATIVE = ("no task counted: no sequence model beats the strongest reference by its interval",
                     Outcome.NOT_RESOLVED)
    UNDECIDED = "no domain led by one family on a majority of enough counted tasks", Outcome.NOT_RESOLVED
    AS_EXPECTED = "the expected family leads in every decided domain", Outcome.SUPPORTED
    OTHERWISE = "the other family leads in every decided domain", Outcome.CONTRADICTED
    MIXED = "the expected family leads in some decided domains, the other in the rest", Outcome.DEPENDS


@dataclass(frozen=True)
class TaskLead:
    """One real task's setting as the domain rule reads it: its domain, the family leading it (or why none is
    counted: 'reference', 'unconverged', 'unmeasured'; 'tied' is counted), the words saying why, and the p-value
    between the two families' best models."""

    domain: str
    setting: str
    task: str
    leader: str
    why: str
    p: float

    @property
    def counted(self) -> bool:
        return self.leader not in ("reference", "unconverged", "unmeasured")

    @property
    def test_name(self) -> str:
        """The name of this lead's test, as the verdict and Holm's correction know it."""
        return f"{self.domain}, {self.setting}: the two families' best models"

    @property
    def left_out(self) -> bool:
        """Measured but not counted: no model beats the references, or the trailing one was still improving."""
        return self.leader in ("reference", "unconverged")


@dataclass(frozen=True)
class DomainFinding(Finding):
    """What the rule found: its case; every task's lead; each domain's lead over its counted tasks ('one task'
    below MIN_DOMAIN_TASKS); the domains decided as expected; and a test per counted task."""

    case: Domains
    leads: tuple[TaskLead, ...] = ()
    domain_leads: dict[str, str] = field(default_factory=dict)
    matching: tuple[str, ...] = ()
    tests: tuple[Test, ...] = ()

    def counted(self) -> list[TaskLead]:
        return [lead for lead in self.leads if lead.counted]

    def unconverged(self) -> list[str]:
        return [lead.task for lead in self.leads if lead.leader == "unconverged"]

    def decided(self) -> dict[str, str]:
        return {domain: kind for domain, kind in self.domain_leads.items() if kind in ("recurrent", "attention")}


def task_leads(evidence: Evidence) -> list[TaskLead]:
    return [TaskLead(domain, board_name(board), board.task, *leader(board))
            for domain, board in domain_boards(evidence)]


def domain_finding(leads: list[TaskLead]) -> DomainFinding:
    """Per domain, the family leading a strict majority of its counted tasks (>= MIN_DOMAIN_TASKS of them), against
    the note's expectation; a task counts where a sequence model beats its strongest reference and the trailing
    model converged (Comparison.unconverged)."""
    leads = tuple(leads)
    counted = [lead for lead in leads if lead.counted]
    if not counted:
        if any(lead.leader == "unconverged" for lead in leads):
            return DomainFinding(Domains.UNCONVERGED, leads)
        if any(lead.leader == "reference" for lead in leads):
            return DomainFinding(Domains.UNINFORMATIVE, leads)
        return DomainFinding(Domains.NOT_MEASURED, leads)
    by_domain: dict[str, list[TaskLead]] = {}
    for lead in counted:
        by_domain.setdefault(lead.domain, []).append(lead)
    domain_leads = {domain: domain_lead([lead.leader for lead in tasks]) if len(tasks) >= MIN_DOMAIN_TASKS
                    else "one task" for domain, tasks in sorted(by_domain.items())}
    decided = {domain: kind for domain, kind in domain_leads.items() if kind in ("recurrent", "attention")}
    tests = tuple(Test(lead.test_name, lead.p,
                       decisive=decided.get(domain) == lead.leader)
                  for domain, tasks in sorted(by_domain.items()) for lead in tasks if not math.isnan(lead.p))
    matching = tuple(domain for domain, kind in decided.items() if kind == EXPECTED[domain])
    if not decided:
        case = Domains.UNDECIDED
    elif len(matching) == len(decided):
        case = Domains.AS_EXPECTED
    else:
        case = Domains.MIXED if matching else Domains.OTHERWISE
    return DomainFinding(case, leads, domain_leads, matching, tests)


def judge_domains(evidence: Evidence, held_back: frozenset[str] = frozenset()) -> Verdict:
    verdict = domain_verdict(domain_finding(tied_if_held_back(task_leads(evidence), held_back)))
    return replace(verdict, budget=budget_of(evidence.runs(), []))


def tied_if_held_back(leads: list[TaskLead], held_back: frozenset[str]) -> list[TaskLead]:
    """The tasks' leads, a lead whose test is in `held_back` (Holm's correction did not reject it) a tie."""
    return [replace(lead, leader="tied", why=f"{lead.why}, but its test does not survive Holm's correction")
            if lead.test_name in held_back else lead
            for lead in leads]


def domain_lead(winners: list[str]) -> str:
    """A domain's lead: the family leading a strict majority of its tasks; 'mixed' otherwise (ties never go to
    whichever family a set iterates first)."""
    for kind in ("recurrent", "attention"):
        if 2 * winners.count(kind) > len(winners):
            return kind
    return "mixed"


def longer_training(tasks: list[str]) -> str:
    return f"training on {', '.join(tasks)} at a longer step cap, until more steps no longer move the models' scores"


def domain_notes(finding: DomainFinding) -> list[str]:
    """Each domain's lead against its expectation, each counted task's leader, then the tasks not counted."""
    counted = finding.counted()
    notes = [f"{lead.domain}, {lead.setting}: {lead.leader} leads; {lead.why}" for lead in counted]
    notes += [f"{lead.domain}, {lead.setting}: {lead.why}; not counted" for lead in finding.leads if lead.left_out]
    if finding.domain_leads:
        tasks = {domain: sum(lead.domain == domain for lead in counted) for domain in finding.domain_leads}
        notes.insert(0, "; ".join(f"{domain}: {kind} (expected {EXPECTED[domain]}; {tasks[domain]} "
                                  f"task{'s' if tasks[domain] > 1 else ''})"
                                  for domain, kind in finding.domain_leads.items()))
    return notes


def domain_verdict(finding: DomainFinding) -> Verdict:
    """The finding in words: the domains each case names, how many tasks counted, what would resolve it."""
    case, notes, unconverged = finding.case, domain_notes(finding), finding.unconverged()
    if case == Domains.NOT_MEASURED:
        return Verdict(Outcome.NOT_MEASURED, "run: seqarena run (its leaderboard ranks both families on real tasks)")
    if case == Domains.UNCONVERGED:
        return Verdict(case.outcome, "no family's lead is settled: on " + ", ".join(unconverged)
                       + " the trailing model was still improving with more steps, and on no other real task does "
                         "a sequence model beat the strongest reference by its 95% interval", notes,
                       needs=longer_training(unconverged))
    if case == Domains.UNINFORMATIVE:
        return Verdict(case.outcome, "on no real task does a sequence model beat the strongest reference by its 95% "
                                     "interval", notes,
                       needs="real tasks where a sequence model learns more than a linear or classical method")
    counted, uncounted = len(finding.counted()), sum(lead.left_out for lead in finding.leads)
    informative_text = (f" ({counted + len(unconverged)} of {counted + uncounted} real tasks informative, a "
                        "sequence model beating their strongest reference by its 95% interval"
                        + (f"; {', '.join(unconverged)} not counted, the trailing model still improving with more "
                           "steps" if unconverged else "") + ")")
    if case == Domains.UNDECIDED:
        return Verdict(case.outcome, f"in no domain does one family lead a majority of >= {MIN_DOMAIN_TASKS} "
                                     "informative tasks outside the noise" + informative_text, notes, finding.tests,
                       needs=f">= {MIN_DOMAIN_TASKS} real tasks per domain where a model beats the strongest "
                             "reference (the reference job's leaderboard), and seeds enough to separate the families "
                             "there" + (f"; {longer_training(unconverged)}" if unconverged else ""))
    decided = finding.decided()
    # the claim names four domains: a verdict resting on fewer says which it could not decide
    undecided = [domain for domain in EXPECTED if domain not in decided]
    scope = (f"; undecided in {', '.join(undecided)}" if undecided else "") + informative_text
    if case == Domains.AS_EXPECTED:
        return Verdict(case.outcome, f"the expected family leads in {', '.join(finding.matching)}" + scope, notes,
                       finding.tests)
    if case == Domains.OTHERWISE:
        return Verdict(case.outcome, f"the other family leads in {', '.join(decided)}" + scope, notes, finding.tests)
    return Verdict(case.outcome, f"as expected in {', '.join(finding.matching)}, not in "
                                 f"{', '.join(d for d in decided if d not in finding.matching)}" + scope, notes,
                   finding.tests)


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
         "MiniRocket) by its 95% interval, and only where the trailing model (either, in a tie) converged "
         "(where the set-up ran at two step caps, the longer cap not better beyond the noise; elsewhere most "
         "chosen runs stopped on patience); a domain with >= 2 such tasks is led by the family leading a strict "
         "majority of them (else mixed); each domain's lead against the note's expectation",
    judge=judge_domains, rejudge=judge_domains, statistic=WELCH, read=read_domains,
    expectation=Expectation(Outcome.DEPENDS,
                            "transformers lead in NLP and vision; on forecasts a linear model beats both (Zeng "
                            "et al. 2023)"))

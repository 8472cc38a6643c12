"""What the report shows, shaped for its templates: the note's summary table with a verdict in each cell, one card
per claim, a paragraph reading what was measured at which budget, and one leaderboard table per task set-up with
chance and the linear baseline ranked among the models. Views only arrange verdicts and numbers; they decide
nothing."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from seqarena.claims import Claim
from seqarena.claims.literature import Expectation
from seqarena.claims.summary import SUMMARY
from seqarena.evidence import Evidence
from seqarena.results.comparisons import Comparison
from seqarena.results.leaderboards import Leaderboard
from seqarena.results.records import Outcome, RunStatus, Verdict
from seqarena.spec import oriented


def anchor(claim: Claim) -> str:
    return "claim-" + re.sub(r"[^a-z0-9]+", "-", claim.text.lower()).strip("-")


@dataclass(frozen=True)
class Card:
    """One claim's verdict with its rule, evidence table, budget and figures, and the reference set's beside it."""

    claim: Claim
    verdict: Verdict
    theirs: Verdict | None
    agreement: str | None
    expected: Expectation
    figures: list[Any] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return anchor(self.claim)

    @property
    def reproduced(self) -> str | None:
        return None if self.theirs is None else self.expected.reproduced(self.theirs)


def cards_of(verdicts: list[tuple[Claim, Verdict]], side_by_side: list[tuple[Claim, Verdict, Verdict, str]] | None,
             figures: dict[str, Any]) -> list[Card]:
    """A card per claim; with the reference's verdicts beside the store's (claims.beside), each card holds theirs
    and how the two stand."""
    return [Card(claim, verdict, side_by_side[index][2] if side_by_side else None,
                 side_by_side[index][3] if side_by_side else None, claim.expectation,
                 [figures[key] for key in (*claim.needs, *claim.figures) if key in figures])
            for index, (claim, verdict) in enumerate(verdicts)]


@dataclass(frozen=True)
class SummaryCell:
    statement: str
    cards: list[Card]


@dataclass(frozen=True)
class SummaryLine:
    aspect: str
    rnn: SummaryCell
    transformer: SummaryCell


def summary_of(cards: list[Card]) -> list[SummaryLine]:
    """The note's summary table, each statement with the cards of the claims that measure it."""
    by_id = {card.claim.id: card for card in cards}
    return [SummaryLine(row.aspect, *(SummaryCell(cell.statement, [by_id[claim] for claim in cell.claims])
                                      for cell in (row.rnn, row.transformer)))
            for row in SUMMARY]


def counted(verdicts: list[Verdict]) -> str:
    counts = Counter(verdict.verdict for verdict in verdicts)
    return ", ".join(f"{counts[outcome]} {outcome}" for outcome in Outcome if counts[outcome])


def listed(values: set[Any]) -> str:
    return ", ".join(str(value) for value in sorted(values))


def reading_of(cards: list[Card], evidence: Evidence, environment: dict[str, Any], reference_name: str | None) -> str:
    """One paragraph: what was measured (runs, measurements), at which budget and where, what it decided, and how it
    stands against the reference set."""
    runs = [record for record in evidence.runs() if record.status == RunStatus.COMPLETED]
    measured = sorted({need for card in cards for need in card.claim.needs if evidence.raw(need)})
    hardware = environment.get("hardware", {})
    where = hardware.get("gpu") or f"{hardware.get('cpu_count', '?')} CPU cores ({hardware.get('device', '?')})"
    parts = [f"{len(cards)} claims judged: {counted([card.verdict for card in cards])}."]
    if runs:
        configs = [record.run_config for record in runs]
        parts.append(f"The leaderboards rest on {len(runs)} completed training runs of {len({r.model for r in runs})} "
                     f"models on {len({r.task for r in runs})} tasks, trained for "
                     f"{listed({config.train.steps for config in configs})} steps (batch "
                     f"{listed({config.train.batch_size for config in configs})}) over seeds "
                     f"{listed({config.train.seed for config in configs})}.")
    if measured:
        parts.append(f"The measurements ({', '.join(measured)}) ran on {where}; each card states its own budget.")
    if reference_name is not None:
        agreements = Counter(card.agreement for card in cards)
        parts.append(f"Beside each verdict stands the shipped reference set {reference_name}'s: "
                     + ", ".join(f"{count} {name}" for name, count in agreements.most_common()) + ".")
    undecided = [card for card in cards if card.verdict.verdict in (Outcome.NOT_RESOLVED, Outcome.NOT_MEASURED)]
    if undecided:
        parts.append(f"{len(undecided)} claims are not decided at this budget; their cards say what would decide "
                     "them.")
    return " ".join(parts)


@dataclass(frozen=True)
class TableRow:
    label: str
    kind: str
    mean: float
    low: float = math.nan
    high: float = math.nan
    params: int | None = None
    lr: float | None = None
    seeds: int | None = None
    below_baseline: bool = False
    ranked: bool = True
    # a model's chosen runs that trained to the step cap, as "capped of chosen" (empty for references)
    at_cap: str = ""


@dataclass(frozen=True)
class Table:
    """One task set-up's leaderboard: models (with their variants, where the set-up trained several) ranked best
    first with chance, the linear baseline and the classical methods among them; the troubles of runs that did not
    complete."""

    task: str
    caption: str
    metric: str
    rows: list[TableRow]
    troubles: list[Any]


def not_ranked_reason(entry: Comparison) -> str:
    """Why a model is not ranked on its setting, in words ('' when it is complete)."""
    parts = [f"{entry.diverged} diverged, {entry.failed} failed"] * bool(entry.diverged or entry.failed)
    parts += [f"{entry.unfinished} runs fewer than the most-run model"] * bool(entry.unfinished)
    return ", ".join(parts)


def model_rows(board: Leaderboard, variants: bool) -> list[TableRow]:
    rows = []
    for entry in board.entries:
        label = f"{entry.model} ({board.model_setting or 'defaults'})" if variants else entry.model
        if not entry.complete:
            label += f" (not ranked: {not_ranked_reason(entry)})"
        elif entry.dropped_rates:
            label += f" (lr {entry.dropped_text} diverged or failed; not chosen)"
        below = board.baseline is not None and oriented(board.metric, entry.test_mean) < oriented(board.metric,
                                                                                                board.baseline)
        rows.append(TableRow(label, "model", entry.test_mean, entry.test_low, entry.test_high, entry.params, entry.lr,
                             entry.seeds, below and entry.complete, entry.complete,
                             f"{entry.capped} of {entry.chosen_runs}" if entry.chosen_runs else ""))
    return rows


def table_of(task: str, boards: list[Leaderboard]) -> Table:
    first = boards[0]
    variants = len(boards) > 1
    rows = [row for board in boards for row in model_rows(board, variants)]
    references = {(board.chance_name, board.chance, board.baseline_name, board.baseline) for board in boards
                  if board.chance is not None}
    for chance_name, chance, baseline_name, baseline in sorted(references, key=str):
        rows.append(TableRow(f"chance: {chance_name}", "chance", chance))
        rows.append(TableRow(f"baseline: {baseline_name}", "baseline", baseline))
    classical = {row.model: row for board in boards for row in board.references}
    rows += [TableRow(f"classical: {row.model} ({row.detail}; fitted in {row.fit_seconds:.1f} s)", "classical",
                      row.test_score) for row in classical.values()]
    ranked = sorted((row for row in rows if row.ranked), key=lambda row: -oriented(first.metric, row.mean))
    parts = [first.shared_setting if variants else first.setting, *(board.cap_text() for board in boards)]
    caption = "; ".join(dict.fromkeys(part for part in parts if part))
    return Table(task, caption, first.metric, ranked + [row for row in rows if not row.ranked],
                 [trouble for board in boards for trouble in board.troubles])


def tables_of(boards: list[Leaderboard]) -> list[Table]:
    """One table per task set-up; boards that differ only in model settings (the order probe's encodings and
    readings) share one."""
    groups: dict[tuple[str, str], list[Leaderboard]] = {}
    for board in boards:
        groups.setdefault((board.task, board.shared_setting or board.setting), []).append(board)
    return [table_of(task, group) for (task, _), group in groups.items()]

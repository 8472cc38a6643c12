"""Leaderboards: per task setting, every model at its validation-chosen learning rate (statistics.summarise), ranked
best first, beside the task's chance level, its linear baseline and the classical methods fitted on the same splits;
the runs that did not complete, with why; and whether a setting is informative (a sequence model beats the
strongest reference outside the noise)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from seqarena.results.comparisons import Comparison, Run, beats, summarise
from seqarena.results.measurements import ReferenceScore
from seqarena.results.records import RunRecord, RunStatus
from seqarena.results.statistics import ALPHA, fewest_seeds_to_reject
from seqarena.results.store import ResultStore
from seqarena.settings import RunConfig
from seqarena.spec import oriented


@dataclass(frozen=True)
class Trouble:
    """A model's runs on one setting that did not complete: how many of its runs failed or diverged, and the first
    failure's error."""

    model: str
    runs: int
    failed: int
    diverged: int
    first_error: str | None


def troubles(runs_by_model: dict[str, list[Run]]) -> list[Trouble]:
    found = []
    for model, runs in sorted(runs_by_model.items()):
        records = [record for _, record in runs]
        failed = [record for record in records if record.status == RunStatus.FAILED]
        diverged = sum(record.status == RunStatus.DIVERGED for record in records)
        if failed or diverged:
            found.append(Trouble(model, len(records), len(failed), diverged, failed[0].error if failed else None))
    return found


@dataclass(frozen=True)
class Leaderboard:
    """One task setting: complete models ranked best first, then models with diverged, failed or untrained seeds (never
    ranked on their surviving seeds alone); reference scores are None when no run completed."""

    task: str
    setting: str
    metric: str
    chance: float | None
    chance_name: str | None
    baseline: float | None
    baseline_name: str | None
    entries: list[Comparison]
    troubles: list[Trouble]
    # the setting split in two: the model settings that differ from the defaults, and everything else
    model_setting: str = ""
    shared_setting: str = ""
    # the classical methods fitted on the same splits (AutoETS, AutoARIMA, MiniRocket), best first
    references: list[ReferenceScore] = field(default_factory=list)
    # of the completed runs that trained with early stopping (every learning rate), how many trained to the step cap
    # instead of stopping on patience; runs of a fixed step count (the measurements' probes) are in neither
    capped: int = 0
    completed: int = 0

    def cap_text(self) -> str:
        """The share of runs that may not have converged, as captions and cards say it ('' without early stopping)."""
        if not self.completed:
            return ""
        return f"{self.capped} of {self.completed} runs trained to the step cap instead of stopping on patience"

    @property
    def ranked(self) -> list[Comparison]:
        return [entry for entry in self.entries if entry.complete]


def leaderboards(store: ResultStore) -> list[Leaderboard]:
    """Per task setting, each model at its validation-chosen learning rate: test mean and 95% interval, complete
    models best first; beside them every model's failed and diverged runs."""
    return leaderboards_of(store.records(), stored_references(store))


def stored_references(store: ResultStore) -> list[ReferenceScore]:
    """Every classical reference the store holds, for every task setting (not only the newest one)."""
    return [ReferenceScore.from_row(row) for row in store.measurements(ReferenceScore.MEASUREMENT)]


def references_for(config: RunConfig, references: list[ReferenceScore]) -> list[ReferenceScore]:
    """The classical references fitted on this run's splits (none for a subset, pretrained or fine-tuned set-up),
    best first; the newest row of each method."""
    if config.train_fraction < 1 or config.pretrain or config.init:
        return []
    newest = {row.model: row for row in references
              if row.task == config.task and row.options == config.task_options}
    return sorted(newest.values(), key=lambda row: -oriented(row.metric, row.test_score))


def leaderboards_of(records: list[RunRecord], references: list[ReferenceScore] = ()) -> list[Leaderboard]:
    """The leaderboards of these runs (see leaderboards), each with the classical `references` of its setting."""
    groups: dict[tuple[str, str], dict[str, list[Run]]] = {}
    for record in records:
        config = record.run_config
        groups.setdefault((config.task, config.setting()), {}).setdefault(config.model.mixer, []).append(
            (config, record))
    boards, set_ups = [], []
    for (task, setting), models in sorted(groups.items()):
        config = next(iter(models.values()))[0][0]
        set_ups.append(set_up_at_any_cap(config))
        entries = with_unfinished([entry for runs in models.values() if (entry := summarise(runs, None)) is not None])
        entries.sort(key=lambda entry: (not entry.complete, -oriented(entry.metric, entry.test_mean)))
        completed = [record for runs in models.values() for _, record in runs if record.completed]
        patient = [record for record in completed if record.run_config.train.patience]
        first = completed[0] if completed else None
        boards.append(Leaderboard(task, setting, first.metric if first else "", first and first.chance,
                                  first and first.chance_name, first and first.baseline, first and first.baseline_name,
                                  entries, troubles(models), config.model_setting(), config.shared_setting(),
                                  references_for(config, references),
                                  sum(not record.stopped_early for record in patient), len(patient)))
    return cap_checked(boards, set_ups)


def set_up_at_any_cap(config: RunConfig) -> str:
    """A run's task and set-up in words with its step cap left out: boards that share it differ in the cap alone."""
    uncapped = config.model_copy(update={"train": config.train.model_copy(update={"steps": 0})})
    return f"{config.task}: {uncapped.setting()}"


def cap_checked(boards: list[Leaderboard], set_ups: list[str]) -> list[Leaderboard]:
    """Every board's models, each checked against itself on the same set-up at another step cap (Comparison.
    unconverged): the next longer cap measured, else the next shorter one; a model with neither, or with too few
    seeds to test, keeps the proxy (the share of runs at the cap)."""
    checked = []
    for board, set_up in zip(boards, set_ups):
        others = [entry for other, other_set_up in zip(boards, set_ups) if other_set_up == set_up
                  and other is not board for entry in other.entries if entry.complete]
        checked.append(replace(board, entries=[cap_check(entry, others) for entry in board.entries]))
    return checked


def cap_check(entry: Comparison, others: list[Comparison]) -> Comparison:
    """The entry checked against its model's nearest other cap, where both have the seeds the permutation test
    needs to reject at ALPHA at all (fewer could never show a change, and would hide the cap share)."""
    enough = fewest_seeds_to_reject(ALPHA)
    if entry.seeds < enough:
        return entry
    caps = [other for other in others
            if other.model == entry.model and other.steps != entry.steps and other.seeds >= enough]
    longer = [other for other in caps if other.steps > entry.steps]
    shorter = [other for other in caps if other.steps < entry.steps]
    if longer:
        return entry.checked_against(min(longer, key=lambda other: other.steps))
    if shorter:
        return entry.checked_against(max(shorter, key=lambda other: other.steps))
    return entry


def with_unfinished(entries: list[Comparison]) -> list[Comparison]:
    """The entries, each with how many fewer runs it has than the most-run model of the setting."""
    most = max((entry.attempted for entry in entries), default=0)
    return [replace(entry, unfinished=most - entry.attempted) for entry in entries]


@dataclass(frozen=True)
class Bar:
    """A score no sequence model earns credit for reaching: a reference predictor's, by name."""

    name: str
    score: float


def strongest_reference(board: Leaderboard) -> Bar | None:
    """The best of the setting's chance level, linear baseline and classical references (None before any run)."""
    bars = [Bar(name or "reference", score) for name, score in ((board.chance_name, board.chance),
                                                                 (board.baseline_name, board.baseline))
            if score is not None]
    bars += [Bar(row.model, row.test_score) for row in board.references]
    return max(bars, key=lambda bar: oriented(board.metric, bar.score)) if bars else None


def informative(board: Leaderboard, entries: list[Comparison]) -> bool:
    """Whether a setting says anything about the sequence models: one of `entries` beats its strongest reference
    by the whole 95% interval over seeds. Where none does, a ranking of the models ranks what a linear or classical
    method already does as well; the setting is its own finding, not a vote."""
    bar = strongest_reference(board)
    return bar is None or any(beats(entry, bar.score, board.metric) for entry in entries)


def uninformative_text(board: Leaderboard) -> str:
    """What a setting no sequence model learned beyond its references shows, as the card says it."""
    bar = strongest_reference(board)
    return f"no sequence model beats {bar.name} ({bar.score:.4g}) by its 95% interval"


# how the cards begin the finding of a setting whose order more steps could still change
NOT_CONVERGED = "not converged"


def unconverged_text(entries: list[Comparison]) -> str:
    """Which models were still improving when training stopped, and how that shows, as the cards say it."""
    return f"{NOT_CONVERGED}: " + "; ".join(map(still_improving_text, entries)) + (
        ", so more steps could change the order")


def still_improving_text(entry: Comparison) -> str:
    check = entry.cap_check
    if check is None:
        return (f"{entry.model} ({entry.capped} of {entry.chosen_runs} chosen runs trained to the step cap instead "
                "of stopping on patience)")
    (short, short_mean), (long, long_mean) = sorted([(entry.steps, entry.test_mean), (check.steps, check.test_mean)])
    return (f"{entry.model} scores better at {long:,} steps than at {short:,} ({short_mean:.4g} -> {long_mean:.4g}, "
            f"p={check.p:.2g})" + ("" if check.steps > entry.steps else f", and ran at no cap beyond {long:,}"))

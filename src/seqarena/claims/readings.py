"""Each rule's evidence as a table: the numbers the rule reads, one Reading per row (whose, what, value, 95%
interval, what it rests on), read from the evidence with the rule's own selection helpers. The report shows them
as each claim's evidence table; the verdict's evidence lines keep the rule's reading of them in words."""

from __future__ import annotations

from seqarena.catalog import SCAN_RECURRENT, members
from seqarena.claims.common import best_on_validation, recurrent, stepwise
from seqarena.claims.learning import explosions, trained_factors
from seqarena.claims.long_range import is_control
from seqarena.claims.pretraining import arms_of, rival_of
from seqarena.claims.ranking import ranking
from seqarena.claims.speed import common_lengths, memory_growth
from seqarena.claims.uses import domain_boards, family_bests
from seqarena.claims.variants import SPARSE, decoding_ratio, longest_shared
from seqarena.evidence import Evidence
from seqarena.results.measurements import (
    EXPLICIT_ATTENTION,
    DataSizePoint,
    GradientProfile,
    LatencyPoint,
    LongRangePoint,
    PositionalPoint,
    PretrainingPoint,
    ScalingPoint,
    ScoredPoint,
    StabilityRun,
    TimeAxisPoint,
)
from seqarena.results.records import Reading
from seqarena.results.statistics import mean_interval

MIB = 2**20


def repeats(count: int | None) -> str:
    return f"{count} repeats" if count else ""


def scored(point: ScoredPoint, setting: str = "") -> Reading:
    return Reading(f"{point.model}, {setting}" if setting else point.model, f"test {point.metric}", point.test_mean,
                   point.test_low, point.test_high, f"{point.seeds} seeds")


def time_axis(point: TimeAxisPoint) -> list[Reading]:
    """The dependent steps one more token adds (where counted: what the rule decides on) and the sequential ratio."""
    span = f"T={point.short_length or point.length} to {point.length}"
    timed = Reading(point.model, f"sequential ratio, {span}", point.sequential_ratio, point.sequential_ratio_low,
                    point.sequential_ratio_high, repeats(point.repeats))
    if point.dependent_steps_per_token is None:
        return [timed]
    return [Reading(point.model, f"dependent steps per token, {span}", point.dependent_steps_per_token,
                    basis="exact count"), timed]


def read_rnn_parallelism(evidence: Evidence) -> list[Reading]:
    rows = {point.model: point for point in evidence.rows(TimeAxisPoint)}
    cells = stepwise(set(rows))
    shown = [*cells, *(model for model in members(SCAN_RECURRENT) if model in rows),
             *(f"{model}-cell" for model in cells if f"{model}-cell" in rows)]
    return [reading for model in shown for reading in time_axis(rows[model])]


def read_transformer_parallelism(evidence: Evidence) -> list[Reading]:
    return [reading for point in evidence.rows(TimeAxisPoint, model="transformer")[:1] for reading in time_axis(point)]


def read_vanishing(evidence: Evidence) -> list[Reading]:
    rows = evidence.rows(GradientProfile, stage="trained")
    cells = stepwise({row.model for row in rows})
    if not cells:
        return []
    distance, factors = trained_factors(rows, cells)
    return [Reading(model, f"gradient factor over {distance} steps back, trained", *factors[model],
                    f"{sum(row.model == model for row in rows)} seeds") for model in cells]


def read_exploding(evidence: Evidence) -> list[Reading]:
    """The Elman RNN and the transformer beside it, per learning rate (the gated cells' rows stay in the lines)."""
    runs = [run for run in evidence.rows(StabilityRun) if run.model in ("rnn", "transformer")]
    readings = []
    for model, lr in sorted(dict.fromkeys((run.model, run.lr) for run in runs)):
        free = [run for run in runs if run.model == model and run.lr == lr and not run.clipped]
        clipped = [run.val_loss for run in runs if run.model == model and run.lr == lr and run.clipped
                   and not run.diverged]
        readings.append(Reading(f"{model}, lr {lr:g}", "unclipped seeds exploded", explosions(free), None, None,
                                f"of {len(free)} seeds"))
        if clipped:
            mean, half = mean_interval(clipped)
            readings.append(Reading(f"{model}, lr {lr:g}, clipped", f"validation loss (chance {runs[0].chance:.3g})",
                                    mean, mean - half, mean + half, f"{len(clipped)} seeds"))
    return readings


def read_long_range(evidence: Evidence) -> list[Reading]:
    rows = sorted(evidence.rows(LongRangePoint), key=lambda row: (row.task, row.length or 0, is_control(row.model)))
    return [scored(row, f"{row.task} T={row.length}") for row in rows]


def speed(point: ScalingPoint) -> Reading:
    low, high = point.train_tokens_per_s_interval
    return Reading(f"{point.model}, T={point.seq_len}", "training tokens/s", point.train_tokens_per_s, low, high,
                   repeats(point.repeats))


def read_training_speed(evidence: Evidence) -> list[Reading]:
    cells = stepwise({row.model for row in evidence.rows(ScalingPoint)})
    table = common_lengths(evidence, [*cells, "transformer"]) if cells else {}
    readings = []
    for _, points in sorted(table.items()):
        fastest = max((points[model] for model in cells), key=lambda point: point.train_tokens_per_s)
        readings += [speed(points["transformer"]), speed(fastest)]
    return readings


def growth(evidence: Evidence, models: list[str]) -> list[Reading]:
    """Each model's training-memory exponent between its two longest lengths (exact bytes: no interval)."""
    return [Reading(model, f"memory exponent, T={found.short} to {found.long}", found.exponent, None, None,
                    "exact bytes") for model in models if (found := memory_growth(evidence, model)) is not None]


def read_attention_memory(evidence: Evidence) -> list[Reading]:
    return growth(evidence, [EXPLICIT_ATTENTION, "transformer", *SPARSE])


def read_rnn_memory(evidence: Evidence) -> list[Reading]:
    cells = stepwise({row.model for row in evidence.rows(ScalingPoint)})
    table = common_lengths(evidence, [*cells, "transformer"]) if cells else {}
    if not table:
        return []
    shortest = min(table)
    return [Reading(model, f"training memory at T={shortest} (MiB)", table[shortest][model].train_peak_bytes / MIB,
                    None, None, "exact bytes") for model in [*cells, "transformer"]] + growth(
        evidence, [*cells, "transformer"])


def read_sparse_memory(evidence: Evidence) -> list[Reading]:
    sparse = [model for model in SPARSE if memory_growth(evidence, model) is not None]
    shared = longest_shared(evidence, [*sparse, "transformer"]) if sparse else None
    at_longest = [] if shared is None else [
        Reading(model, f"training memory at T={shared[0]} (MiB)", point.train_peak_bytes / MIB, None, None,
                "exact bytes") for model, point in shared[1].items()]
    return growth(evidence, [*sparse, EXPLICIT_ATTENTION, "transformer"]) + at_longest


def read_decoding(evidence: Evidence) -> list[Reading]:
    tokens = sorted(evidence.rows(LatencyPoint, model="transformer"), key=lambda row: row.context)
    whole = evidence.rows(TimeAxisPoint, model="transformer")
    if not tokens or not whole:
        return []
    return [*time_axis(whole[0]), Reading("transformer", f"{whole[0].length} tokens generated one by one over one "
                                                    f"forward pass (context {tokens[0].context})",
                                     *decoding_ratio(tokens[0], whole[0]), "generated tokens")]


def read_small_data(evidence: Evidence) -> list[Reading]:
    rows = evidence.rows(DataSizePoint)
    if not rows:
        return []
    smallest = min(row.fraction for row in rows)
    at = {row.model: row for row in rows if row.fraction == smallest}
    return [scored(at[model], f"{smallest:g} of the data") for model in [*recurrent(set(at)), "transformer"]
            if model in at]


def read_large_data(evidence: Evidence) -> list[Reading]:
    rows = evidence.rows(DataSizePoint)
    fractions = sorted({row.fraction for row in rows})
    points = {(row.model, row.fraction): row for row in rows}
    if len(fractions) < 2:
        return []
    small, large = fractions[0], fractions[-1]
    rivals = [points[model, large] for model in recurrent({model for model, _ in points})
              if (model, small) in points and (model, large) in points]
    shown = ["transformer", best_on_validation(rivals).model] if rivals else ["transformer"]
    return [scored(points[model, fraction], f"{fraction:g} of the data") for model in shown
            for fraction in (small, large) if (model, fraction) in points]


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


def read_latency(evidence: Evidence) -> list[Reading]:
    rows = evidence.rows(LatencyPoint)
    longest = max((row.context for row in rows), default=0)
    at = {row.model: row for row in rows if row.context == longest}
    shown = [model for model in [*recurrent(set(at)), "transformer"] if model in at]
    return [Reading(f"{model}, context {longest}", "ms per generated token", at[model].ms_per_token,
                    at[model].ms_per_token_low, at[model].ms_per_token_high, "generated tokens") for model in shown] + [
        Reading(f"{model}, context {longest}", "streaming state (bytes)", at[model].state_bytes, None, None,
                "exact bytes") for model in shown]


def read_outperform(evidence: Evidence) -> list[Reading]:
    result = ranking(evidence.runs(), references=evidence.references())
    if result is None:
        return []
    tasks = f"{len(result.settings)} real tasks"
    return [Reading(model, "average rank (1 = best)", rank, None, None, tasks)
            for model, rank in sorted(result.mean_ranks.items(), key=lambda item: item[1])] + [
        Reading("Nemenyi", "critical difference in rank", result.critical_difference, None, None, tasks)]


def read_pretraining(evidence: Evidence) -> list[Reading]:
    rows = evidence.rows(PretrainingPoint)
    readings = []
    for task in dict.fromkeys(row.task for row in rows):
        arms = arms_of(rows, task)
        without, with_ = arms.get("equal_compute", {}), arms.get("pretrained", {})
        if "transformer" not in without or "transformer" not in with_ or not recurrent(set(without) & set(with_)):
            continue
        rival = rival_of(without, with_)
        readings += [scored(arm[model], f"{task}, {name}") for name, arm in (("from scratch", without),
                                                                              ("pretrained", with_))
                     for model in ("transformer", rival)]
    return readings


def read_positional(evidence: Evidence) -> list[Reading]:
    rows = sorted(evidence.rows(PositionalPoint, model="transformer"),
                  key=lambda row: (bool(row.causal), row.positional != "none", row.positional or ""))
    return [scored(row, f"{'causal' if row.causal else 'bidirectional'}, {row.positional}") for row in rows]

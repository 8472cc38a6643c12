"""The summary table of the RNN-vs-Transformer note as claims, each judged on stored measurements and runs.

Every claim names the measurements it needs, states its decision rule, and returns a verdict: supported,
contradicted, depends (with the condition), inside the noise, or not measured. Nothing is hard-coded: the
verdict comes from the records in the store, so a different measurement can flip it. Which models count as
recurrent is read from the registry's families."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from seqarena.evidence import Evidence
from seqarena.measure.gradients import GradientProfile
from seqarena.measure.latency import LatencyPoint
from seqarena.measure.learning import BreakingLength, DataSizePoint, LongRangePoint
from seqarena.measure.parallelism import BatchPoint, TimeAxisPoint
from seqarena.measure.positional import PositionalPoint
from seqarena.measure.scaling import ScalingFit, ScalingPoint
from seqarena.models import RECURRENT, RECURRENT_FAMILIES, SCAN_RECURRENT, is_recurrent, members
from seqarena.results.records import Outcome, Verdict
from seqarena.results.statistics import Comparison, apart, leaderboards
from seqarena.results.store import ResultStore
from seqarena.spec import oriented

MIN_SEEDS = 3


@dataclass(frozen=True)
class Claim:
    aspect: str
    family: str
    text: str
    needs: tuple[str, ...]
    rule: str
    judge: Callable[[Evidence], Verdict]


def stepwise(models: set[str] | list[str]) -> list[str]:
    """The step-by-step recurrent cells (Elman RNN, LSTM, GRU) among these models, in registry order."""
    return [name for name in RECURRENT if name in models]


def recurrent(models: set[str] | list[str]) -> list[str]:
    """Every recurrent model among these (parallel-scan ones too), in registry order."""
    return [name for name in members(*RECURRENT_FAMILIES) if name in models]


def not_measured(*names: str) -> Verdict:
    return Verdict(Outcome.NOT_MEASURED, f"run: {'; '.join(f'seqarena measure {name}' for name in names)}")


def batch_gain(evidence: Evidence, model: str) -> tuple[float, list[BatchPoint]]:
    batches = sorted(evidence.rows(BatchPoint, model=model), key=lambda point: point.batch)
    return (batches[-1].tokens_per_s / batches[0].tokens_per_s if len(batches) > 1 else 1.0), batches


def judge_rnn_parallelism(evidence: Evidence) -> Verdict:
    time_rows = {point.model: point for point in evidence.rows(TimeAxisPoint)}
    cells = stepwise(set(time_rows))
    if not cells:
        return not_measured("parallelism")
    notes, over_batch, over_time = [], [], []
    for model in cells:
        gain, batches = batch_gain(evidence, model)
        ratio = time_rows[model].sequential_ratio
        over_batch.append(gain >= 2)
        over_time.append(ratio >= 2)
        notes.append(f"{model}: tokens/s x{gain:.1f} from batch {batches[0].batch} to {batches[-1].batch}; "
                     f"sequential ratio {ratio:.2f} at T={time_rows[model].length}")
    notes += [f"{model} (parallel scan): sequential ratio {time_rows[model].sequential_ratio:.2f}"
              for model in members(SCAN_RECURRENT) if model in time_rows]
    if all(over_time) and all(over_batch):
        return Verdict(Outcome.DEPENDS, "parallel over the batch, sequential over time", notes)
    if all(over_time):
        return Verdict(Outcome.SUPPORTED, "sequential over time and no gain from batching", notes)
    if not any(over_time):
        return Verdict(Outcome.CONTRADICTED, "the time axis costs no more than a batch of the same tokens", notes)
    return Verdict(Outcome.DEPENDS, "some recurrent cells run sequentially over time, others do not", notes)


def judge_transformer_parallelism(evidence: Evidence) -> Verdict:
    rows = evidence.rows(TimeAxisPoint, model="transformer")
    if not rows:
        return not_measured("parallelism")
    ratio = rows[0].sequential_ratio
    notes = [f"transformer: sequential ratio {ratio:.2f} at T={rows[0].length}"]
    if ratio <= 1.5:
        return Verdict(Outcome.SUPPORTED, "a sequence of T tokens costs about as much as T one-token sequences",
                       notes)
    return Verdict(Outcome.CONTRADICTED, "one long sequence costs well over a batch of the same tokens", notes)


def judge_vanishing(evidence: Evidence) -> Verdict:
    decay = {row.model: row.decay_per_step for row in evidence.rows(GradientProfile, stage="trained")}
    breaking = {row.model: row.breaking_length for row in evidence.rows(BreakingLength)}
    elman, gated = "rnn", [model for model in stepwise(set(decay)) if model != "rnn"]
    if elman not in decay or not gated:
        return not_measured("gradients", "long_range")
    notes = [f"{model}: gradient factor per step back {value:.3f} after training" for model, value in decay.items()]
    notes += [f"{model}: breaking length {value}" for model, value in breaking.items()]
    vanishes = decay[elman] < 0.9
    mitigated = max(decay[model] for model in gated) > decay[elman]
    if vanishes and mitigated:
        return Verdict(Outcome.SUPPORTED, "the Elman RNN's gradient vanishes geometrically; the gated cells decay "
                                          "slower", notes)
    if vanishes:
        return Verdict(Outcome.DEPENDS, "the Elman RNN's gradient vanishes, and the gated cells do not do better",
                       notes)
    return Verdict(Outcome.CONTRADICTED, "no geometric decay of the gradient over time", notes)


def differs(a: LongRangePoint | DataSizePoint | PositionalPoint,
            b: LongRangePoint | DataSizePoint | PositionalPoint) -> bool:
    """Whether two means' 95% intervals do not overlap."""
    return apart(a.test_mean, a.test_interval, b.test_mean, b.test_interval)


def judge_transformer_long_range(evidence: Evidence) -> Verdict:
    breaking = {row.model: row for row in evidence.rows(BreakingLength)}
    if "transformer" not in breaking or not set(breaking) - {"transformer"}:
        return not_measured("long_range")
    length = {model: row.breaking_length or 0 for model, row in breaking.items()}
    others = {model: value for model, value in length.items() if model != "transformer"}
    notes = [f"{model}: breaking length {row.breaking_length} (tried up to {row.longest_tried})"
             for model, row in breaking.items()]
    best_other = max(others, key=others.get)
    if length["transformer"] == others[best_other]:
        return Verdict(Outcome.NOISE, f"the transformer and {best_other} break at the same length", notes)
    winner, loser = (("transformer", best_other) if length["transformer"] > others[best_other]
                     else (best_other, "transformer"))
    points = {(row.model, row.length): row for row in evidence.rows(LongRangePoint)}
    shared = [size for model, size in points if model == loser and size > length[loser] and (winner, size) in points]
    if shared:
        where = min(shared)
        ahead, behind = points[winner, where], points[loser, where]
        notes.append(f"at length {where}: {winner} {ahead.test_mean:.4g} +- {ahead.test_interval:.2g}, "
                     f"{loser} {behind.test_mean:.4g} +- {behind.test_interval:.2g} ({ahead.metric})")
        if not differs(ahead, behind):
            return Verdict(Outcome.NOISE, f"{winner} breaks later than {loser}, but at length {where}, where "
                                          f"{loser} fails, their 95% intervals overlap", notes)
    if winner == "transformer":
        return Verdict(Outcome.SUPPORTED, "the transformer solves longer dependencies than every recurrent model",
                       notes)
    return Verdict(Outcome.CONTRADICTED, f"{best_other} solves longer dependencies than the transformer", notes)


def common_lengths(evidence: Evidence, models: list[str], column: str = "train_tokens_per_s") -> dict[int, dict]:
    """Per scaling length that every model reached, each model's value of the column."""
    table: dict[int, dict[str, float]] = {}
    for row in evidence.rows(ScalingPoint):
        if row.model in models:
            table.setdefault(row.seq_len, {})[row.model] = getattr(row, column)
    return {length: values for length, values in table.items() if len(values) == len(models)}


def judge_training_speed(evidence: Evidence) -> Verdict:
    measured = {row.model for row in evidence.rows(ScalingPoint)}
    cells = stepwise(measured)
    if "transformer" not in measured or not cells:
        return not_measured("scaling")
    table = common_lengths(evidence, [*cells, "transformer"])
    if not table:
        return not_measured("scaling")
    fastest_rnn = {length: max((speeds[m], m) for m in cells) for length, speeds in table.items()}
    faster = {length: table[length]["transformer"] > fastest_rnn[length][0] for length in table}
    notes = [f"T={length}: transformer {table[length]['transformer']:.0f} tokens/s, fastest recurrent "
             f"{fastest_rnn[length][1]} {fastest_rnn[length][0]:.0f}" for length in sorted(table)]
    if all(faster.values()):
        return Verdict(Outcome.SUPPORTED, "the transformer trains faster at every measured length", notes)
    if not any(faster.values()):
        return Verdict(Outcome.CONTRADICTED, "a recurrent model trains faster at every measured length", notes)
    slower = [length for length, fast in faster.items() if not fast]
    return Verdict(Outcome.DEPENDS, f"the transformer is faster except at T in {sorted(slower)}", notes)


def judge_attention_memory(evidence: Evidence) -> Verdict:
    fits = {row.model: row for row in evidence.rows(ScalingFit)}
    attention = [model for model in ("transformer", "transformer-naive") if model in fits]
    if not attention:
        return not_measured("scaling")
    notes, quadratic = [], {}
    for model in [*attention, *(m for m in ("longformer", "reformer") if m in fits)]:
        exponent = fits[model].train_peak_bytes_exponent
        low, high = fits[model].train_peak_bytes_exponent_95ci
        notes.append(f"{model}: training memory ~ T^{exponent:.2f} (95% CI {low:.2f}-{high:.2f})")
        quadratic[model] = exponent >= 1.5
    if all(quadratic[model] for model in attention):
        return Verdict(Outcome.SUPPORTED, "attention's training memory grows as T^2", notes)
    if not any(quadratic[model] for model in attention):
        return Verdict(Outcome.CONTRADICTED, "exact attention with a fused kernel needs linear memory", notes)
    return Verdict(Outcome.DEPENDS, "quadratic for explicit attention, linear for the fused kernel", notes)


def seeds_ok(row: DataSizePoint | PositionalPoint | Comparison) -> bool:
    return row.seeds >= MIN_SEEDS


def judge_small_data(evidence: Evidence) -> Verdict:
    rows = evidence.rows(DataSizePoint)
    if not rows:
        return not_measured("data_size")
    smallest = min(row.fraction for row in rows)
    at_smallest = {row.model: row for row in rows if row.fraction == smallest}
    contenders = [at_smallest[model] for model in recurrent(set(at_smallest))]
    if "transformer" not in at_smallest or not contenders:
        return not_measured("data_size")
    transformer = at_smallest["transformer"]
    if not all(seeds_ok(row) for row in [*contenders, transformer]):
        return Verdict(Outcome.NOT_MEASURED, f"needs >= {MIN_SEEDS} seeds per point")
    best = max(contenders, key=lambda row: oriented(row.metric, row.test_mean))
    notes = [f"{row.model} at {smallest:g} of the data: {row.test_mean:.4f} +- {row.test_interval:.4f}"
             for row in [*contenders, transformer]]
    if not differs(best, transformer):
        return Verdict(Outcome.NOISE, f"the best recurrent model and the transformer overlap at {smallest:g}",
                       notes)
    if oriented(best.metric, best.test_mean) > oriented(transformer.metric, transformer.test_mean):
        return Verdict(Outcome.SUPPORTED, f"{best.model} beats the transformer with {smallest:g} of the data", notes)
    return Verdict(Outcome.CONTRADICTED, f"the transformer beats every recurrent model with {smallest:g} of the "
                                         "data", notes)


def judge_rnn_memory(evidence: Evidence) -> Verdict:
    fits = {row.model: row for row in evidence.rows(ScalingFit)}
    cells = stepwise(set(fits))
    table = common_lengths(evidence, [*cells, "transformer"], "train_peak_bytes")
    if "transformer" not in fits or not cells or not table:
        return not_measured("scaling")
    shortest, longest = min(table), max(table)
    leanest = min(cells, key=lambda model: table[shortest][model])
    efficient = table[shortest][leanest] < table[shortest]["transformer"]
    attention_high = fits["transformer"].train_peak_bytes_exponent_95ci[1]
    steeper = [model for model in cells if fits[model].train_peak_bytes_exponent_95ci[0] > attention_high]
    notes = [f"{model}: {table[shortest][model] / 2**20:.2f} MiB at T={shortest}, {table[longest][model] / 2**20:.2f}"
             f" MiB at T={longest}; training memory ~ T^{fits[model].train_peak_bytes_exponent:.2f}"
             for model in [*cells, "transformer"]]
    short = (f"{leanest} needs less training memory than the transformer at T={shortest}" if efficient else
             f"even the leanest recurrent model ({leanest}) needs more training memory than the transformer at "
             f"T={shortest}")
    if efficient and steeper:
        return Verdict(Outcome.SUPPORTED, f"{short}, and {', '.join(steeper)} scale worse than attention", notes)
    if efficient:
        return Verdict(Outcome.DEPENDS, f"{short}, but no recurrent model's memory grows faster than the "
                                        "transformer's (backpropagation through time stores every step, as attention "
                                        "does)", notes)
    if steeper:
        return Verdict(Outcome.CONTRADICTED, f"{short}, and {', '.join(steeper)} scale worse", notes)
    return Verdict(Outcome.CONTRADICTED, f"{short}; both grow at the same rate", notes)


def outcome(transformer: Comparison, rival: Comparison) -> str:
    if transformer.within_noise_of(rival):
        return "tie"
    return "win" if transformer.better_than(rival) else "loss"


def judge_outperform(evidence: Evidence) -> Verdict:
    outcomes, notes = [], []
    for board in leaderboards(evidence.store):
        unranked = [entry.model for entry in board.entries if not entry.complete
                    and (entry.model == "transformer" or is_recurrent(entry.model))]
        if unranked:
            notes.append(f"{board.task}: not counted; {', '.join(unranked)} had diverged or failed seeds")
            continue
        entries = {entry.model: entry for entry in board.ranked if entry.fraction == 1.0}
        contenders = [entries[model] for model in recurrent(set(entries))]
        if "transformer" not in entries or not contenders:
            continue
        if not all(seeds_ok(entry) for entry in [*contenders, entries["transformer"]]):
            continue
        best = max(contenders, key=lambda entry: oriented(entry.metric, entry.test_mean))
        result = outcome(entries["transformer"], best)
        outcomes.append(result)
        name = board.task + (f" ({board.setting})" if board.setting else "")
        notes.append(f"{name}: {result} (transformer {entries['transformer'].test_mean:.4g}, best recurrent "
                     f"{best.model} {best.test_mean:.4g}, {board.metric})")
    if not outcomes:
        return Verdict(Outcome.NOT_MEASURED, "run: seqarena sweep (or seqarena measure long_range) with the "
                                             f"transformer and a recurrent model, >= {MIN_SEEDS} seeds")
    wins, losses, ties = (outcomes.count(kind) for kind in ("win", "loss", "tie"))
    counts = f"the transformer wins {wins}, ties {ties}, loses {losses} of {len(outcomes)} task settings"
    if wins > len(outcomes) / 2:
        return Verdict(Outcome.SUPPORTED, counts, notes)
    if losses > wins:
        return Verdict(Outcome.CONTRADICTED, counts, notes)
    if ties >= len(outcomes) / 2:
        return Verdict(Outcome.NOISE, counts, notes)
    return Verdict(Outcome.DEPENDS, counts, notes)


def judge_positional(evidence: Evidence) -> Verdict:
    rows = {(row.causal, row.positional): row for row in evidence.rows(PositionalPoint, model="transformer")}
    readings = sorted({causal for causal, _ in rows})
    if not any((causal, "none") in rows and len(rows) > 1 for causal in readings):
        return not_measured("positional")
    if not all(seeds_ok(row) for row in rows.values()):
        return Verdict(Outcome.NOT_MEASURED, f"needs >= {MIN_SEEDS} seeds per point")
    needs, notes = {}, []
    for causal in readings:
        encoded = [row for (reading, name), row in rows.items() if reading == causal and name != "none"]
        if (causal, "none") not in rows or not encoded:
            continue
        blind, best = rows[causal, "none"], max(encoded, key=lambda row: oriented(row.metric, row.test_mean))
        reading = "causal" if causal else "bidirectional"
        needs[reading] = differs(best, blind) and oriented(best.metric, best.test_mean) > oriented(
            blind.metric, blind.test_mean)
        notes.append(f"{reading}: no encoding {blind.test_mean:.4f} +- {blind.test_interval:.4f}, "
                     f"{best.positional} {best.test_mean:.4f} +- {best.test_interval:.4f} "
                     f"(chance {blind.chance:.4f}, {blind.task})")
    needed = [reading for reading, need in needs.items() if need]
    if len(needed) == len(needs):
        return Verdict(Outcome.SUPPORTED, f"{' and '.join(needed)} attention loses order without them", notes)
    if not needed:
        return Verdict(Outcome.CONTRADICTED, "attention finds order without positional encodings", notes)
    others = [reading for reading in needs if reading not in needed]
    return Verdict(Outcome.DEPENDS, f"{' and '.join(needed)} attention needs them; {' and '.join(others)} attention "
                                    "learns order from its mask alone", notes)


def judge_latency(evidence: Evidence) -> Verdict:
    rows = evidence.rows(LatencyPoint)
    models = {row.model for row in rows}
    streaming = recurrent(models)
    if "transformer" not in models or not streaming:
        return not_measured("latency")
    longest = max(row.context for row in rows)
    at = {row.model: row for row in rows if row.context == longest}
    constant = all(len({row.state_bytes for row in rows if row.model == m}) == 1 for m in streaming)
    faster = all(at[m].ms_per_token < at["transformer"].ms_per_token for m in streaming if m in at)
    notes = [f"{m} at context {longest}: {at[m].ms_per_token:.3f} ms/token, state {at[m].state_bytes:,} B"
             for m in [*streaming, "transformer"] if m in at]
    if constant and faster:
        return Verdict(Outcome.SUPPORTED, f"constant state and lower per-token latency at context {longest}", notes)
    if constant:
        return Verdict(Outcome.DEPENDS, "constant state, but no lower latency at the contexts measured", notes)
    return Verdict(Outcome.CONTRADICTED, "the recurrent state grows with the context", notes)


CLAIMS = (
    Claim("attention", "Transformer", "needs positional encodings for order", ("positional",),
          "per reading (bidirectional, causal): needed when the best encoding beats no encoding on an order probe "
          f"outside both 95% intervals, >= {MIN_SEEDS} seeds", judge_positional),
    Claim("parallelization", "RNN", "not parallelizable (sequential, step by step)", ("parallelism",),
          "sequential over time when time(1 x T) / time(T x 1) >= 2; parallel over the batch when tokens/s grows "
          ">= 2x from the smallest to the largest batch", judge_rnn_parallelism),
    Claim("parallelization", "Transformer", "fully parallelizable (the whole sequence at once)", ("parallelism",),
          "supported when time(1 x T) / time(T x 1) <= 1.5", judge_transformer_parallelism),
    Claim("long sequences", "RNN", "struggles with long dependencies (vanishing gradients); LSTM/GRU mitigate",
          ("gradients", "long_range"),
          "vanishing when the trained Elman RNN's gradient shrinks by < 0.9 per step back; mitigated when a gated "
          "cell's factor is higher", judge_vanishing),
    Claim("long sequences", "Transformer", "excellent with long dependencies", ("long_range",),
          "supported when its breaking length (skill >= threshold at every length up to it) exceeds every "
          "recurrent model's", judge_transformer_long_range),
    Claim("efficiency", "Transformer", "faster training than RNNs", ("scaling",),
          "training tokens/s of the transformer against the fastest recurrent cell at each measured length",
          judge_training_speed),
    Claim("memory/scalability", "Transformer", "attention memory is quadratic in length", ("scaling",),
          "quadratic when the fitted training-memory exponent is >= 1.5", judge_attention_memory),
    Claim("memory/scalability", "RNN", "memory-efficient for short sequences, poor scaling to long ones",
          ("scaling",), "efficient when the leanest recurrent model's training memory at the shortest length is "
          "below the transformer's; poor scaling when a recurrent model's memory exponent is above the "
          "transformer's outside their 95% intervals", judge_rnn_memory),
    Claim("use cases", "RNN", "suits small datasets", ("data_size",),
          f"at the smallest training fraction, the best recurrent model's mean against the transformer's; "
          f"non-overlapping 95% intervals, >= {MIN_SEEDS} seeds", judge_small_data),
    Claim("use cases", "RNN", "low latency", ("latency",),
          "constant streaming state and lower per-token latency than the transformer at the longest context",
          judge_latency),
    Claim("performance", "Transformer", "outperforms RNNs on most tasks", (),
          f"per task setting on full data (>= {MIN_SEEDS} seeds), the transformer against the best recurrent "
          "model: a win or loss only outside both 95% intervals; supported when it wins on more than half",
          judge_outperform),
)


def evaluate_claims(store: ResultStore) -> list[tuple[Claim, Verdict]]:
    evidence = Evidence(store)
    return [(claim, claim.judge(evidence)) for claim in CLAIMS]


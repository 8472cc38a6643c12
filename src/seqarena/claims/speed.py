"""The claims on time, each with its rule and its reader: parallelism over the time axis (RNN and transformer),
training speed, latency. Every timing is a median of repeats with a 95% interval; a threshold decides only when the
whole interval lies on one side of it, else the verdict is "not resolved"."""

from __future__ import annotations

import math

from seqarena.catalog import SCAN_RECURRENT, members
from seqarena.claims.common import (
    DEPENDENT_STEPS,
    TIMING,
    TIMING_NEEDS,
    TOKEN_TIMING,
    Claim,
    interval_text,
    not_measured,
    recurrent,
    repeats,
    side,
    stepwise,
)
from seqarena.claims.literature import Expectation
from seqarena.evidence import Evidence
from seqarena.results.measurements import BatchPoint, LatencyPoint, ScalingPoint, TimeAxisPoint
from seqarena.results.records import Outcome, Reading, Verdict
from seqarena.results.statistics import median_timing

# one more token adds at least one dependent step to a step-by-step recurrence (h_t waits on h_{t-1}) and none, or
# log T, to attention and a parallel scan (measure/dependency.py). Counted from the ops a forward pass dispatches,
# not timed, so a busy machine cannot move it: at d=64, 2 layers, T=16 to 1024 the fused LSTM adds 2.0 per token
# (T per layer), the Elman RNN 6.0, the GRU 22.0, minGRU 0.036, the transformer 0, idle and beside two CPU hogs
# alike (benchmarks/parallelism_under_load.py; rows in benchmarks/results/parallelism-under-load.jsonl)
DEPENDENT_STEPS_PER_TOKEN = 1.0
# rows measured before dependent steps were counted decide on the sequential ratio (measure/parallelism.py: a
# token's marginal time per FLOP at the end of one sequence over that as one more sequence in a batch) above this:
# the time axis runs step by step; below it: in parallel. A parallel computation of the time axis may cost a small
# constant more per FLOP than a batch (minGRU measured 2.0 [2.0, 2.1] at T=1024 on 2 CPU cores); a recurrence pays
# one latency-bound step per token (oneDNN's fused LSTM 4.8 [4.4, 5.0], its Python cell loop 33). An interval
# across it is not resolved. On a busy machine the ratio crosses it both ways (the GRU 0.86 and, beside two hogs,
# minGRU 3.4, in the rows cited above), which is why counted steps decide where a row has them.
TIME_AXIS_RATIO = 3.0


def ratio_side(point: TimeAxisPoint, threshold: float) -> int:
    return side(point.sequential_ratio_low, point.sequential_ratio_high, threshold)


def time_axis_side(point: TimeAxisPoint) -> int:
    """+1 when the time axis runs step by step, -1 when in parallel, 0 when not resolved: from the dependent steps
    per token where the row counted them (exact, so never 0), else from the ratio's interval."""
    per_token = point.dependent_steps_per_token
    if per_token is not None:
        return 1 if per_token >= DEPENDENT_STEPS_PER_TOKEN else -1
    return ratio_side(point, TIME_AXIS_RATIO)


def ratio_text(point: TimeAxisPoint) -> str:
    ratio = interval_text(point.sequential_ratio, point.sequential_ratio_low, point.sequential_ratio_high)
    span = f"T={point.short_length} to {point.length}" if point.short_length else f"T={point.length}"
    timed = f"sequential ratio {ratio} from {span}"
    if point.dependent_steps_per_token is None:
        return f"{point.model}: {timed}"
    counted = (f"{point.dependent_steps_per_token:.3g} dependent steps per token ({point.dependent_steps_short} at "
               f"T={point.short_length}, {point.dependent_steps} at T={point.length})")
    return f"{point.model}: {counted}; {timed}"


def batch_note(evidence: Evidence, model: str) -> str:
    batches = sorted(evidence.rows(BatchPoint, model=model), key=lambda point: point.batch)
    if len(batches) < 2:
        return f"{model}: one batch size measured"
    gain = batches[-1].tokens_per_s / batches[0].tokens_per_s
    return f"{model}: tokens/s x{gain:.1f} from batch {batches[0].batch} to {batches[-1].batch}"


def cpu_gru_note(evidence: Evidence, measurement: str, models: list[str]) -> list[str]:
    """On a CPU, a note that torch's GRU has no fused kernel there (its LSTM has oneDNN's), which colours any timing
    of the GRU against the LSTM or the transformer."""
    rows = evidence.raw(measurement)
    on_cpu = bool(rows) and (rows[0].get("hardware") or {}).get("device") == "cpu"
    if not on_cpu or "gru" not in models:
        return []
    return ["gru: on a CPU torch's nn.GRU has no fused kernel while nn.LSTM has oneDNN's, so the GRU's CPU times "
            "say more about that kernel than about gating (cuDNN fuses both on a GPU)"]


def judge_rnn_parallelism(evidence: Evidence) -> Verdict:
    time_rows = {point.model: point for point in evidence.rows(TimeAxisPoint)}
    cells = stepwise(set(time_rows))
    if not cells:
        return not_measured("parallelism")
    sides = {model: time_axis_side(time_rows[model]) for model in cells}
    notes = [f"{ratio_text(time_rows[model])}; {batch_note(evidence, model)}" for model in cells]
    notes += [f"{ratio_text(time_rows[model])} (parallel scan)" for model in members(SCAN_RECURRENT)
              if model in time_rows]
    notes += [f"{ratio_text(time_rows[f'{model}-cell'])} (its Python cell loop)" for model in cells
              if f"{model}-cell" in time_rows]
    notes += cpu_gru_note(evidence, "parallelism", cells)
    unresolved = [model for model, where in sides.items() if where == 0]
    if unresolved:
        return Verdict(Outcome.NOT_RESOLVED, f"the ratio's 95% interval of {', '.join(unresolved)} spans "
                                             f"{TIME_AXIS_RATIO:g}", notes, needs=TIMING_NEEDS)
    if all(where > 0 for where in sides.values()):
        return Verdict(Outcome.SUPPORTED, "every step-by-step cell runs the time axis sequentially (parallel only "
                                          "over the batch)", notes)
    if all(where < 0 for where in sides.values()):
        return Verdict(Outcome.CONTRADICTED, "no step-by-step cell runs the time axis sequentially here", notes)
    sequential = [model for model, where in sides.items() if where > 0]
    return Verdict(Outcome.DEPENDS, f"{', '.join(sequential)} run sequentially over time, the others do not", notes)


def judge_transformer_parallelism(evidence: Evidence) -> Verdict:
    rows = evidence.rows(TimeAxisPoint, model="transformer")
    if not rows:
        return not_measured("parallelism")
    notes = [ratio_text(rows[0])]
    where = time_axis_side(rows[0])
    if where < 0:
        return Verdict(Outcome.SUPPORTED, "the time axis runs in parallel: a sequence of T tokens at once", notes)
    if where > 0:
        return Verdict(Outcome.CONTRADICTED, "the time axis runs step by step: one long sequence is not done at once",
                       notes)
    return Verdict(Outcome.NOT_RESOLVED, f"the ratio's 95% interval spans {TIME_AXIS_RATIO:g}", notes,
                   needs=TIMING_NEEDS)


def common_lengths(evidence: Evidence, models: list[str]) -> dict[int, dict[str, ScalingPoint]]:
    """Per scaling length that every model reached, each model's point."""
    table: dict[int, dict[str, ScalingPoint]] = {}
    for row in evidence.rows(ScalingPoint):
        if row.model in models:
            table.setdefault(row.seq_len, {})[row.model] = row
    return {length: points for length, points in table.items() if len(points) == len(models)}


def speed_text(point: ScalingPoint) -> str:
    low, high = point.train_tokens_per_s_interval
    return f"{point.model} {point.train_tokens_per_s:.0f} [{low:.0f}, {high:.0f}] tokens/s"


def speed_comparison(transformer: ScalingPoint, rival: ScalingPoint) -> tuple[str, str]:
    """Whether the transformer trains faster than the rival ("faster", "slower", "unresolved") at one length, and
    the numbers that say so: the per-round speed ratio's median and 95% interval where one call timed both in the
    same rounds, else the two throughput intervals."""
    text = f"{speed_text(transformer)}, fastest recurrent {speed_text(rival)}"
    ratios = transformer.speed_over(rival)
    paired = median_timing(ratios) if ratios else None
    if paired is not None and not math.isnan(paired.low):
        text += f"; paired over {paired.repeats} rounds x{paired.median:.2f} [{paired.low:.2f}, {paired.high:.2f}]"
        low, high, rival_low, rival_high = paired.low, paired.high, 1.0, 1.0
    else:
        (low, high), (rival_low, rival_high) = (transformer.train_tokens_per_s_interval,
                                                rival.train_tokens_per_s_interval)
    return "faster" if low > rival_high else "slower" if high < rival_low else "unresolved", text


def judge_training_speed(evidence: Evidence) -> Verdict:
    measured = {row.model for row in evidence.rows(ScalingPoint)}
    cells = stepwise(measured)
    table = common_lengths(evidence, [*cells, "transformer"]) if cells and "transformer" in measured else {}
    if not table:
        return not_measured("scaling")
    found: dict[str, list[int]] = {"faster": [], "slower": [], "unresolved": []}
    notes = []
    for length, points in sorted(table.items()):
        fastest = max((points[model] for model in cells), key=lambda point: point.train_tokens_per_s)
        outcome, text = speed_comparison(points["transformer"], fastest)
        found[outcome].append(length)
        notes.append(f"T={length}: {text}")
    notes += cpu_gru_note(evidence, "scaling", cells)
    faster, slower, unresolved = found["faster"], found["slower"], found["unresolved"]
    if faster and slower:
        return Verdict(Outcome.DEPENDS, f"the transformer is faster at T in {faster}, slower at T in {slower}", notes)
    if unresolved:
        return Verdict(Outcome.NOT_RESOLVED, f"neither is faster beyond the timing noise at T in {unresolved}", notes,
                       needs=TIMING_NEEDS)
    if faster:
        return Verdict(Outcome.SUPPORTED, "the transformer trains faster at every measured length", notes)
    return Verdict(Outcome.CONTRADICTED, "a recurrent model trains faster at every measured length", notes)


def latency_text(point: LatencyPoint) -> str:
    return (f"{point.model} at context {point.context}: "
            f"{interval_text(point.ms_per_token, point.ms_per_token_low, point.ms_per_token_high)} ms/token, "
            f"state {point.state_bytes:,} B")


def latency_interval(point: LatencyPoint) -> tuple[float, float]:
    """The per-token latency's 95% interval (NaN when none was stored: it decides nothing)."""
    if point.ms_per_token_low is None or point.ms_per_token_high is None:
        return math.nan, math.nan
    return point.ms_per_token_low, point.ms_per_token_high


def judge_latency(evidence: Evidence) -> Verdict:
    rows = evidence.rows(LatencyPoint)
    streaming = recurrent({row.model for row in rows})
    longest = max((row.context for row in rows), default=0)
    at = {row.model: row for row in rows if row.context == longest}
    if "transformer" not in at or not streaming:
        return not_measured("latency")
    constant = all(len({row.state_bytes for row in rows if row.model == m}) == 1 for m in streaming)
    attention_low, attention_high = latency_interval(at["transformer"])
    faster = [m for m in streaming if m in at and latency_interval(at[m])[1] < attention_low]
    slower = [m for m in streaming if m in at and latency_interval(at[m])[0] > attention_high]
    notes = [latency_text(at[m]) for m in [*streaming, "transformer"] if m in at]
    if not constant:
        return Verdict(Outcome.CONTRADICTED, "the recurrent state grows with the context", notes)
    if len(faster) == len([m for m in streaming if m in at]):
        return Verdict(Outcome.SUPPORTED, f"constant state and lower per-token latency at context {longest}", notes)
    if slower:
        return Verdict(Outcome.DEPENDS, f"constant state, but {', '.join(slower)} is slower per token than the "
                                        f"transformer at context {longest}", notes)
    return Verdict(Outcome.NOT_RESOLVED, f"constant state; per-token latency intervals overlap the transformer's "
                                         f"at context {longest}", notes, needs=TIMING_NEEDS)


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


def read_latency(evidence: Evidence) -> list[Reading]:
    rows = evidence.rows(LatencyPoint)
    longest = max((row.context for row in rows), default=0)
    at = {row.model: row for row in rows if row.context == longest}
    shown = [model for model in [*recurrent(set(at)), "transformer"] if model in at]
    return [Reading(f"{model}, context {longest}", "ms per generated token", at[model].ms_per_token,
                    at[model].ms_per_token_low, at[model].ms_per_token_high, "generated tokens") for model in shown] + [
        Reading(f"{model}, context {longest}", "streaming state (bytes)", at[model].state_bytes, None, None,
                "exact bytes") for model in shown]


RNN_SEQUENTIAL = Claim(
    id="rnn-sequential", aspect="parallelization", family="RNN",
    text="not parallelizable (sequential, step by step)", needs=("parallelism",),
    rule=f"sequential over time when one more token adds at least {DEPENDENT_STEPS_PER_TOKEN:g} dependent step "
         "to a forward pass (the longest chain of ops run one after another, counted, not timed) for every "
         "step-by-step cell; parallel when less. Rows without counted steps decide on the sequential ratio (a "
         "token's marginal time per FLOP at the end of one sequence over that as one more sequence in a batch) "
         f"against {TIME_AXIS_RATIO:g}",
    judge=judge_rnn_parallelism, statistic=DEPENDENT_STEPS, read=read_rnn_parallelism,
    expectation=Expectation(Outcome.SUPPORTED,
                            "each hidden state needs the previous one (Vaswani et al. 2017, sec. 4; Bradbury et "
                            "al. 2017)"))


TRANSFORMER_PARALLEL = Claim(
    id="transformer-parallel", aspect="parallelization", family="Transformer",
    text="fully parallelizable (the whole sequence at once)", needs=("parallelism",),
    rule=f"supported when one more token adds fewer than {DEPENDENT_STEPS_PER_TOKEN:g} dependent step (rows "
         f"without counted steps: the sequential ratio's interval below {TIME_AXIS_RATIO:g}), contradicted when "
         "at least that",
    judge=judge_transformer_parallelism, statistic=DEPENDENT_STEPS, read=read_transformer_parallelism,
    expectation=Expectation(Outcome.SUPPORTED,
                            "O(1) sequential operations per layer (Vaswani et al. 2017, Table 1)"))


FASTER_TRAINING = Claim(
    id="transformer-faster-training", aspect="efficiency", family="Transformer",
    text="faster training than RNNs", needs=("scaling",),
    rule="training tokens/s of the transformer against the fastest recurrent cell at each measured length; "
         "faster or slower only where the 95% interval of the per-round speed ratio excludes 1 (the two timed in "
         "the same rounds, so a load they shared cancels), or, in rows timed apart, where the throughput "
         "intervals do not overlap",
    judge=judge_training_speed, statistic=TIMING, read=read_training_speed,
    expectation=Expectation(Outcome.SUPPORTED,
                            "on parallel hardware (Vaswani et al. 2017, sec. 6.1); a CPU has little parallelism "
                            "to offer"))


LOW_LATENCY = Claim(
    id="rnn-latency", aspect="use cases", family="RNN",
    text="low latency", needs=("latency",),
    rule="constant streaming state, and per-token latency below the transformer's at the longest context "
         "(intervals apart)",
    judge=judge_latency, statistic=TOKEN_TIMING, read=read_latency,
    expectation=Expectation(Outcome.SUPPORTED,
                            "a constant-size state per generated token against a growing cache (Katharopoulos et "
                            "al. 2020; Gu & Dao 2023)"))

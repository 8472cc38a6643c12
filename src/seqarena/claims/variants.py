"""Rules for the note's rows on long-sequence attention and on decoding: do Longformer and Reformer save memory
against explicit and fused full attention, and does the transformer's parallel training leave its decoding
sequential? Byte counts are exact; timings are medians of repeats with intervals."""

from __future__ import annotations

from seqarena.claims.common import TIMING_NEEDS, interval_text, not_measured, side
from seqarena.claims.speed import (
    EXPONENT_MARGIN,
    growth_text,
    latency_interval,
    memory_growth,
    ratio_text,
    time_axis_side,
)
from seqarena.evidence import Evidence
from seqarena.results.measurements import EXPLICIT_ATTENTION, LatencyPoint, ScalingPoint, TimeAxisPoint
from seqarena.results.records import Outcome, Verdict

SPARSE = ("longformer", "reformer")
# generating T tokens one by one against one parallel pass over them: above this, decoding is sequential
SEQUENTIAL_DECODING = 2.0


def longest_shared(evidence: Evidence, models: list[str]) -> tuple[int, dict[str, ScalingPoint]] | None:
    table: dict[int, dict[str, ScalingPoint]] = {}
    for row in evidence.rows(ScalingPoint):
        if row.model in models:
            table.setdefault(row.seq_len, {})[row.model] = row
    shared = [length for length, points in table.items() if len(points) == len(models)]
    return (max(shared), table[max(shared)]) if shared else None


def judge_sparse_memory(evidence: Evidence) -> Verdict:
    growths = {model: growth for model in (*SPARSE, EXPLICIT_ATTENTION, "transformer")
               if (growth := memory_growth(evidence, model)) is not None}
    sparse = [model for model in SPARSE if model in growths]
    if not sparse or EXPLICIT_ATTENTION not in growths or "transformer" not in growths:
        return not_measured("scaling")
    explicit = growths[EXPLICIT_ATTENTION].exponent
    flatter = [model for model in sparse if explicit - growths[model].exponent > EXPONENT_MARGIN]
    shared = longest_shared(evidence, [*sparse, "transformer"])
    notes = [growth_text(growths[model]) for model in [*sparse, EXPLICIT_ATTENTION, "transformer"]]
    leaner = []
    if shared:
        length, points = shared
        leaner = [model for model in sparse if points[model].train_peak_bytes < points["transformer"].train_peak_bytes]
        notes += [f"T={length}: {model} {points[model].train_peak_bytes / 2**20:.1f} MiB training memory"
                  for model in [*sparse, "transformer"]]
    if not flatter:
        return Verdict(Outcome.CONTRADICTED, f"no sparse model's memory exponent is more than {EXPONENT_MARGIN:g} "
                                             "below explicit attention's", notes)
    if len(flatter) == len(sparse) and len(leaner) == len(sparse):
        return Verdict(Outcome.SUPPORTED, f"{', '.join(sparse)} grow slower than explicit attention and need less "
                                          "than the fused kernel at the longest shared length", notes)
    steeper = [model for model in sparse if model not in flatter]
    heavier = [model for model in sparse if model not in leaner]
    caveats = [*([f"{', '.join(steeper)} grow as fast as explicit attention"] if steeper else []),
               *([f"{', '.join(heavier)} need no less memory than the fused kernel, which is exact, at the longest "
                  "shared length"] if heavier else [])]
    return Verdict(Outcome.DEPENDS, f"{', '.join(flatter)} grow slower than explicit attention, but "
                                    f"{'; '.join(caveats)}", notes)


def decoding_ratio(token: LatencyPoint, whole: TimeAxisPoint) -> tuple[float, float, float]:
    """T tokens generated one at a time over one forward pass of T tokens, with the interval from the token's."""
    low, high = latency_interval(token)
    scale = whole.length / whole.ms_one_sequence
    return token.ms_per_token * scale, low * scale, high * scale


def judge_decoding(evidence: Evidence) -> Verdict:
    tokens = sorted(evidence.rows(LatencyPoint, model="transformer"), key=lambda row: row.context)
    whole = evidence.rows(TimeAxisPoint, model="transformer")
    if not tokens or not whole:
        return not_measured("parallelism", "latency")
    ratio = decoding_ratio(tokens[0], whole[0])
    training = time_axis_side(whole[0])
    decoding = side(ratio[1], ratio[2], SEQUENTIAL_DECODING)
    notes = [ratio_text(whole[0]) + " (training-time parallelism)",
             f"transformer: {whole[0].length} tokens generated one by one (at context {tokens[0].context}) take "
             f"x{interval_text(*ratio)} one forward pass over them"]
    notes += [f"generation at context {row.context}: {row.model} {1000 / row.ms_per_token:,.0f} tokens/s"
              for row in sorted(evidence.rows(LatencyPoint), key=lambda row: (row.context, row.model))
              if row.context == tokens[0].context and row.ms_per_token > 0]
    if training == 0 or decoding == 0:
        return Verdict(Outcome.NOT_RESOLVED, "an interval spans its threshold", notes, needs=TIMING_NEEDS)
    if training < 0 and decoding > 0:
        return Verdict(Outcome.SUPPORTED, "the whole sequence runs at once in training; generation takes one step "
                                          "per token", notes)
    if training < 0:
        return Verdict(Outcome.CONTRADICTED, "generating token by token costs no more than one parallel pass", notes)
    return Verdict(Outcome.DEPENDS, "decoding is sequential, but so is training here: one long sequence costs "
                                    "more than a batch of its tokens", notes)

"""The claim on decoding, with its rule and reader: does the transformer's parallel training leave its decoding
sequential? Timings are medians of repeats with intervals."""

from __future__ import annotations

from seqarena.claims.common import DEPENDENT_STEPS, TIMING_NEEDS, TOKEN_TIMING, Claim, interval_text, not_measured, side
from seqarena.claims.literature import Expectation
from seqarena.claims.speed import (
    DEPENDENT_STEPS_PER_TOKEN,
    latency_interval,
    ratio_text,
    time_axis,
    time_axis_side,
)
from seqarena.evidence import Evidence
from seqarena.results.measurements import LatencyPoint, TimeAxisPoint
from seqarena.results.records import Outcome, Reading, Verdict

# generating T tokens one by one against one parallel pass over them: above this, decoding is sequential
SEQUENTIAL_DECODING = 2.0


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


def read_decoding(evidence: Evidence) -> list[Reading]:
    tokens = sorted(evidence.rows(LatencyPoint, model="transformer"), key=lambda row: row.context)
    whole = evidence.rows(TimeAxisPoint, model="transformer")
    if not tokens or not whole:
        return []
    return [*time_axis(whole[0]), Reading("transformer", f"{whole[0].length} tokens generated one by one over one "
                                                    f"forward pass (context {tokens[0].context})",
                                     *decoding_ratio(tokens[0], whole[0]), "generated tokens")]


DECODING = Claim(
    id="sequential-decoding", aspect="efficiency", family="Transformer",
    text="speeds up training, but decoding stays sequential", needs=("parallelism", "latency"),
    rule=f"training parallel when one more token adds fewer than {DEPENDENT_STEPS_PER_TOKEN:g} dependent step; "
         "decoding sequential "
         f"when generating T tokens one by one takes over {SEQUENTIAL_DECODING:g}x one forward pass over them",
    judge=judge_decoding, statistic=f"{DEPENDENT_STEPS}; {TOKEN_TIMING}", read=read_decoding,
    expectation=Expectation(Outcome.SUPPORTED,
                            "autoregressive decoding emits one token per step (Vaswani et al. 2017)"))

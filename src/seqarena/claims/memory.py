"""The claims on memory, each with its rule and reader: how training memory grows with length for attention (explicit
and fused), the recurrent models and Longformer and Reformer, and whether a recurrent model is lean at short lengths.
Byte counts are exact."""

from __future__ import annotations

import math
from dataclasses import dataclass

from seqarena.claims.common import EXACT_BYTES, MIB, Claim, not_measured, stepwise
from seqarena.claims.literature import Expectation
from seqarena.claims.speed import common_lengths
from seqarena.evidence import Evidence
from seqarena.results.measurements import EXPLICIT_ATTENTION, ScalingPoint
from seqarena.results.records import Outcome, Reading, Verdict

# a fitted memory exponent above this reads as quadratic growth
QUADRATIC_EXPONENT = 1.5


# two memory exponents (exact, at the longest lengths) that differ by less than this (a quarter power of T) grow
# alike
EXPONENT_MARGIN = 0.25


@dataclass(frozen=True)
class Growth:
    """Training memory's exponent between a model's two longest measured lengths: log(m2 / m1) / log(T2 / T1).
    Byte counts are exact, so it carries no interval: a t-interval over a log-log fit of exact bytes measures the
    curve's bend, not noise (local slopes 1.40 -> 1.97 put the true exponent 2 outside such a "95% CI")."""

    model: str
    exponent: float
    short: int
    long: int
    short_bytes: int
    long_bytes: int


def memory_growth(evidence: Evidence, model: str) -> Growth | None:
    points = sorted((row for row in evidence.rows(ScalingPoint, model=model) if row.train_peak_bytes > 0),
                    key=lambda row: row.seq_len)
    if len(points) < 2:
        return None
    before, last = points[-2], points[-1]
    exponent = math.log(last.train_peak_bytes / before.train_peak_bytes) / math.log(last.seq_len / before.seq_len)
    return Growth(model, exponent, before.seq_len, last.seq_len, before.train_peak_bytes, last.train_peak_bytes)


def growth_text(growth: Growth) -> str:
    return (f"{growth.model}: training memory ~ T^{growth.exponent:.2f} from T={growth.short} to {growth.long} "
            f"({growth.short_bytes / 2**20:.2f} -> {growth.long_bytes / 2**20:.2f} MiB)")


def judge_attention_memory(evidence: Evidence) -> Verdict:
    growths = {name: growth for name in (EXPLICIT_ATTENTION, "transformer")
               if (growth := memory_growth(evidence, name)) is not None}
    kinds = {name: label for name, label in ((EXPLICIT_ATTENTION, "explicit attention"),
                                             ("transformer", "the fused kernel")) if name in growths}
    if not kinds:
        return not_measured("scaling")
    others = [growth for name in ("longformer", "reformer") if (growth := memory_growth(evidence, name))]
    notes = [growth_text(growth) for growth in [*growths.values(), *others]]
    quadratic = {model: growths[model].exponent > QUADRATIC_EXPONENT for model in kinds}
    summary = "; ".join(f"{kinds[model]} ~T^{growths[model].exponent:.2f} memory at the longest lengths"
                        for model in kinds)
    if all(quadratic.values()):
        return Verdict(Outcome.SUPPORTED, f"attention's training memory grows as T^2 ({summary})", notes)
    if not any(quadratic.values()):
        return Verdict(Outcome.CONTRADICTED, f"no measured attention needs quadratic memory ({summary})", notes)
    return Verdict(Outcome.DEPENDS, f"quadratic for explicit attention, not for the fused kernel ({summary})", notes)


def judge_rnn_memory(evidence: Evidence) -> Verdict:
    measured = {row.model for row in evidence.rows(ScalingPoint)}
    cells = stepwise(measured)
    table = common_lengths(evidence, [*cells, "transformer"]) if cells and "transformer" in measured else {}
    growths = {model: memory_growth(evidence, model) for model in [*cells, "transformer"]}
    if not table or any(growth is None for growth in growths.values()):
        return not_measured("scaling")
    shortest = min(table)
    memory = {model: table[shortest][model].train_peak_bytes for model in [*cells, "transformer"]}
    leanest = min(cells, key=memory.get)
    efficient = memory[leanest] < memory["transformer"]
    attention = growths["transformer"].exponent
    steeper = [model for model in cells if growths[model].exponent - attention > EXPONENT_MARGIN]
    notes = [f"{model}: {memory[model] / 2**20:.2f} MiB at T={shortest}; {growth_text(growths[model])}"
             for model in [*cells, "transformer"]]
    short = (f"{leanest} needs less training memory than the transformer at T={shortest}" if efficient else
             f"even the leanest recurrent model ({leanest}) needs more training memory than the transformer at "
             f"T={shortest}")
    if efficient and steeper:
        return Verdict(Outcome.SUPPORTED, f"{short}, and {', '.join(steeper)} scale worse than attention", notes)
    if efficient:
        return Verdict(Outcome.DEPENDS, f"{short}, but no recurrent model's memory grows more than {EXPONENT_MARGIN:g} "
                                        "in exponent faster than the transformer's (backpropagation through time "
                                        "stores every step, as attention does)", notes)
    return Verdict(Outcome.CONTRADICTED, f"{short}, and no recurrent model scales worse", notes)


SPARSE = ("longformer", "reformer")


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


ATTENTION_MEMORY = Claim(
    id="attention-memory", aspect="memory/scalability", family="Transformer",
    text="attention memory is quadratic in length", needs=("scaling",),
    rule=f"explicit attention and the fused kernel each: quadratic when the training-memory exponent between the "
         f"two longest lengths lies above {QUADRATIC_EXPONENT:g}",
    judge=judge_attention_memory, statistic=EXACT_BYTES, read=read_attention_memory,
    expectation=Expectation(Outcome.DEPENDS,
                            "quadratic when the T x T scores are materialised, linear with a memory-efficient "
                            "kernel (Rabe & Staats 2021; Dao et al. 2022)"))


RNN_MEMORY = Claim(
    id="rnn-memory", aspect="memory/scalability", family="RNN",
    text="memory-efficient for short sequences, poor scaling to long ones", needs=("scaling",),
    rule="efficient when the leanest recurrent model's training memory at the shortest length is "
         "below the transformer's; poor scaling when a recurrent model's memory exponent between the two longest "
         f"lengths exceeds the transformer's by more than {EXPONENT_MARGIN:g}",
    judge=judge_rnn_memory, statistic=EXACT_BYTES, read=read_rnn_memory,
    expectation=Expectation(Outcome.DEPENDS,
                            "backpropagation through time keeps every state: linear in T (Werbos 1990), as a "
                            "fused attention kernel is"))


SPARSE_MEMORY = Claim(
    id="sparse-attention-memory", aspect="memory/scalability", family="Longformer/Reformer",
    text="improve memory efficiency over full attention", needs=("scaling",),
    rule=f"supported when each sparse model's training-memory exponent (two longest lengths) lies more than "
         f"{EXPONENT_MARGIN:g} below explicit attention's and it needs less memory than the fused exact kernel "
         "at the longest shared length; depends when only some of that holds",
    judge=judge_sparse_memory, statistic=EXACT_BYTES, read=read_sparse_memory,
    expectation=Expectation(Outcome.DEPENDS,
                            "below explicit attention (Beltagy et al. 2020; Kitaev et al. 2020), not below an "
                            "exact kernel that is already linear in memory (Dao et al. 2022)"))

"""The speed and memory targets as ratios: seqarena's models against the references users would otherwise reach
for, read from the rows `benchmarks/scaling.py` printed (one file of JSON lines).

    python benchmarks/targets.py kernels.jsonl [--markdown targets.md]

Prints one JSON line per target and length: both models' training tokens/s (median of the timed repeats) and
peak training memory, the ratio with its 95% interval (from the step times' distribution-free intervals), the
bound, and whether it is met: "met" when the whole interval clears the bound, "missed" when none of it does, "not
resolved" when it spans the bound, "not measured" when a row is missing (out of memory, or the series stopped).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

GIB = 2**30


@dataclass(frozen=True)
class Target:
    ours: str
    reference: str | None
    # speed: ours / reference training tokens/s >= bound; memory: ours / reference peak bytes <= bound;
    # bytes: ours' peak bytes <= bound
    quantity: str
    bound: float
    # the lengths the target is judged at (None: every length both measured)
    length: int | None

    def describe(self) -> str:
        where = f"T={self.length:,}" if self.length else "every T"
        if self.quantity == "speed":
            return f"{self.ours} >= {self.bound:g}x {self.reference} training tokens/s at {where}"
        if self.quantity == "memory":
            return f"{self.ours} <= {self.bound:.3g}x {self.reference} peak training memory at {where}"
        return f"{self.ours} <= {self.bound / GIB:g} GiB peak training memory at {where}"


TARGETS = (
    Target("longformer", "hf-longformer", "speed", 3.0, 16384),
    Target("longformer", "hf-longformer", "memory", 1 / 3, 16384),
    Target("reformer", "hf-reformer", "speed", 2.0, 16384),
    Target("mingru", "cudnn-gru", "speed", 10.0, 16384),
    Target("mingru", None, "bytes", 8 * GIB, 65536),
    # the same minGRU with its feed-forward chunked and recomputed in backward (ModelConfig.ffn_chunk_size)
    Target("mingru-ffn-recompute", "cudnn-gru", "speed", 10.0, 16384),
    Target("mingru-ffn-recompute", None, "bytes", 8 * GIB, 65536),
    Target("transformer", "torch-transformer-encoder", "speed", 0.95, None),
    # Issue 34: the selective scan at half the simplest parallel recurrence's training throughput, on any device
    Target("mamba", "mingru", "speed", 0.5, None),
)


def points(rows: list[dict]) -> dict[tuple[str, int], dict]:
    return {(row["model"], row["seq_len"]): row for row in rows if row.get("kind") == "point"}


def throughput(row: dict) -> tuple[float, float, float]:
    """Training tokens/s and its interval, from the step time's median and interval."""
    scale = row["train_tokens_per_s"] * row["ms_per_train_step"]
    low_ms, high_ms = row.get("ms_per_train_step_low"), row.get("ms_per_train_step_high")
    if low_ms is None or high_ms is None:
        return row["train_tokens_per_s"], math.nan, math.nan
    return row["train_tokens_per_s"], scale / high_ms, scale / low_ms


def outcome(low: float, high: float, bound: float, at_least: bool) -> str:
    if math.isnan(low) or math.isnan(high):
        return "not resolved"
    if at_least:
        return "met" if low >= bound else "missed" if high < bound else "not resolved"
    return "met" if high <= bound else "missed" if low > bound else "not resolved"


def judged(target: Target, found: dict[tuple[str, int], dict]) -> list[dict]:
    """One row per length the target is judged at."""
    lengths = [target.length] if target.length else sorted(
        {length for model, length in found if model == target.ours}
        | {length for model, length in found if model == target.reference})
    return [judge(target, length, found.get((target.ours, length)), found.get((target.reference, length)))
            for length in lengths]


def judge(target: Target, length: int, ours: dict | None, reference: dict | None) -> dict:
    row = {"target": target.describe(), "seq_len": length, "ours": target.ours, "reference": target.reference,
           "bound": target.bound}
    if ours is None or (target.reference is not None and reference is None):
        return {**row, "outcome": "not measured"}
    if target.quantity == "bytes":
        value = ours["train_peak_bytes"]
        return {**row, "ours_peak_bytes": value, "ratio": value / target.bound,
                "outcome": "met" if value <= target.bound else "missed"}
    row |= {"ours_tokens_per_s": ours["train_tokens_per_s"], "reference_tokens_per_s": reference["train_tokens_per_s"],
            "ours_peak_bytes": ours["train_peak_bytes"], "reference_peak_bytes": reference["train_peak_bytes"]}
    if target.quantity == "memory":
        ratio = ours["train_peak_bytes"] / reference["train_peak_bytes"]
        return {**row, "ratio": ratio, "outcome": "met" if ratio <= target.bound else "missed"}
    mine, mine_low, mine_high = throughput(ours)
    theirs, theirs_low, theirs_high = throughput(reference)
    low, high = mine_low / theirs_high, mine_high / theirs_low
    return {**row, "ratio": mine / theirs, "ratio_95ci": [low, high],
            "outcome": outcome(low, high, target.bound, at_least=True)}


def markdown(rows: list[dict]) -> str:
    lines = ["| target | T | ours tokens/s | reference tokens/s | ours peak GiB | reference peak GiB | ratio [95% CI] "
             "| outcome |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        interval = row.get("ratio_95ci")
        ratio = "-" if "ratio" not in row else f"{row['ratio']:.3g}" + (
            f" [{interval[0]:.3g}, {interval[1]:.3g}]" if interval else "")
        cells = [row["target"], f"{row['seq_len']:,}", number(row.get("ours_tokens_per_s")),
                 number(row.get("reference_tokens_per_s")), gib(row.get("ours_peak_bytes")),
                 gib(row.get("reference_peak_bytes")), ratio, row["outcome"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def gib(value: float | None) -> str:
    return "-" if value is None else f"{value / GIB:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=Path, help="JSON lines printed by benchmarks/scaling.py")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--at", type=int, help="judge the fixed-length targets at this T instead (a tiny CPU check)")
    args = parser.parse_args()
    found = points([json.loads(line) for line in args.rows.read_text().splitlines() if line.startswith("{")])
    targets = [replace(target, length=args.at) if args.at and target.length else target for target in TARGETS]
    rows = [row for target in targets for row in judged(target, found)]
    for row in rows:
        print(json.dumps(row), flush=True)
    if args.markdown:
        args.markdown.write_text(markdown(rows))


if __name__ == "__main__":
    main()

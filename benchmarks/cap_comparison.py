"""One task's runs at each step cap, from an export: per model, learning rate and cap, the runs, their mean test
score, how many stopped on patience, and the steps of their best validation and of their stop (the rows behind
docs/reference-evidence.md, "Convergence").

    python benchmarks/cap_comparison.py src/seqarena/reference/cpu-reference kjv
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main(folder: str, task: str) -> None:
    path = Path(folder) / "runs.jsonl"
    if not path.is_file():
        fail(f"{path} not found: give an export folder (seqarena export --out DIR)")
    groups = defaultdict(list)
    for row in map(json.loads, path.read_text().splitlines()):
        train = row["config"]["train"]
        if row["task"] == task and row["status"] == "completed" and train.get("patience"):
            groups[row["model"], train["lr"], train["steps"]].append(row)
    if not groups:
        fail(f"no completed early-stopping runs of task {task!r} in {path}")
    print("model  lr  cap  runs  mean test  stopped on patience  best steps  stop steps")
    for (model, lr, cap), rows in sorted(groups.items()):
        mean = sum(row["test_score"] for row in rows) / len(rows)
        stopped = sum(bool(row["metrics"].get("stopped_early")) for row in rows)
        best = sorted(row["metrics"].get("best_step") for row in rows)
        stops = sorted(row["history"][-1]["step"] for row in rows)
        print(f"{model}  {lr:g}  {cap}  {len(rows)}  {mean:.3f}  {stopped}  {best}  {stops}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail("usage: python benchmarks/cap_comparison.py EXPORT_DIR TASK")
    main(*sys.argv[1:])

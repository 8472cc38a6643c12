"""Does a cooldown after patience (TrainConfig.cooldown) recover what a long step cap loses? Re-trains one model of
an export's leaderboard at one step cap, learning rate and set of seeds, each run with a cooldown after patience,
writes the runs as an export (resumable: runs already in it are skipped), and prints them beside the export's own
runs of that model at every cap: mean test score [95% interval], per seed, and the larger of Welch's and the
permutation p against each (docs/reference-evidence.md, "Convergence").

    python benchmarks/cooldown.py src/seqarena/reference/cpu-reference kjv_divisions gru --cap 4000 --lr 0.01 \
        --cooldown 400 --out benchmarks/results/kjv-divisions-cooldown-cpu-2core
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from seqarena.engine.run import execute
from seqarena.results.export import RUNS, export_store, import_export
from seqarena.results.statistics import score_interval, seeds_p
from seqarena.results.store import ResultStore
from seqarena.settings import RunConfig


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def reference_runs(folder: Path, task: str, model: str, lr: float) -> list[dict]:
    path = folder / RUNS
    if not path.is_file():
        fail(f"{path} not found: give an export folder (seqarena export --out DIR)")
    return [row for row in map(json.loads, path.read_text().splitlines())
            if row["task"] == task and row["model"] == model and row["status"] == "completed"
            and row["config"]["train"]["lr"] == lr and row["config"]["train"].get("patience")]


def with_cooldown(rows: list[dict], cap: int, cooldown: int, seeds: list[int]) -> list[RunConfig]:
    """The configs of the export's runs at `cap`, one per seed, each with the cooldown added."""
    by_seed = {row["config"]["train"]["seed"]: row["config"] for row in rows
               if row["config"]["train"]["steps"] == cap and not row["config"]["train"].get("cooldown")}
    missing = [seed for seed in seeds if seed not in by_seed]
    if missing:
        fail(f"the export has no run at cap {cap} for seeds {missing}")
    return [RunConfig.model_validate({**by_seed[seed], "train": {**by_seed[seed]["train"], "cooldown": cooldown}})
            for seed in seeds]


def arm_line(name: str, scores: dict[int, float], metric: str) -> str:
    values = list(scores.values())
    low, high = score_interval(metric, values)
    seeds = ", ".join(f"{seed}: {score:.3f}" for seed, score in sorted(scores.items()))
    return f"{name:24s} {np.mean(values):.4f} [{low:.4f}, {high:.4f}]  ({seeds})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path)
    parser.add_argument("task")
    parser.add_argument("model")
    parser.add_argument("--cap", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--cooldown", type=int, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(6)))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.cooldown <= 0 or args.cap <= 0:
        fail(f"--cap and --cooldown are steps, above 0: got {args.cap} and {args.cooldown}")
    rows = reference_runs(args.export, args.task, args.model, args.lr)
    configs = with_cooldown(rows, args.cap, args.cooldown, args.seeds)
    with tempfile.TemporaryDirectory() as scratch:
        store = ResultStore(Path(scratch) / "runs.sqlite")
        if (args.out / RUNS).is_file():
            import_export(args.out, store)
        done = store.finished_keys()
        for config in configs:
            if config.key() not in done:
                record = execute(config, store, suite="cooldown")
                print(f"seed {config.train.seed}: {record.status}, test {record.test_score}, best step "
                      f"{record.best_step}, stopped at {record.steps}", flush=True)
                export_store(store, args.out, {"benchmark": "cooldown.py"})
        keys = {config.key() for config in configs}
        cooled = {record.run_config.train.seed: record.test_score for record in store.records()
                  if record.completed and record.key in keys}
    metric = rows[0]["metric"]
    arms = {}
    for row in rows:
        train = row["config"]["train"]
        arms.setdefault(f"cap {train['steps']}", {})[train["seed"]] = row["test_score"]
    print(arm_line(f"cap {args.cap}, cooldown {args.cooldown}", cooled, metric))
    for name, scores in sorted(arms.items(), key=lambda item: int(item[0].split()[1])):
        p = seeds_p(metric, list(cooled.values()), list(scores.values()))
        print(arm_line(name, scores, metric) + f"  p={p:.3g}")


if __name__ == "__main__":
    main()

"""Runs per minute with one run at a time against runs packed onto the device: the same sweep (the line-up on one
task, several seeds) run twice into fresh stores, once with one worker and once with the runner's own choice
(engine/runner.py: on CUDA runs_per_gpu() runs share the GPU; on a CPU one run per core).

    python benchmarks/packing.py                                       # CPU: digits, 100 steps
    python benchmarks/packing.py --device cuda --precision bf16 --steps 2000 --batch-size 64    # the GPU check

Prints one JSON line per arm (workers, runs, seconds, runs per minute) and a last line with the speed-up; a run
that does not complete stops it with exit 1 and the run's error, never counted as a fast run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from seqarena.catalog import LINE_UP
from seqarena.config import FAIRNESS, SweepConfig
from seqarena.engine.runner import SweepRunner, machine_workers
from seqarena.environment import hardware
from seqarena.results.store import ResultStore


def sweep_of(arguments: argparse.Namespace) -> SweepConfig:
    train = {"steps": arguments.steps, "batch_size": arguments.batch_size, "eval_every": arguments.steps,
             "device": arguments.device, "precision": arguments.precision}
    return SweepConfig(name="packing", models=arguments.models, tasks=[arguments.task], seeds=arguments.seeds,
                       param_budget=FAIRNESS.param_budget, train={k: v for k, v in train.items() if v is not None})


def timed_arm(sweep: SweepConfig, workers: int, folder: Path) -> dict:
    """One arm's runs per minute; a failed run stops the benchmark (a failure is never counted as a fast run)."""
    store = ResultStore(folder / f"workers-{workers}.sqlite")
    arm = "packed" if workers > 1 else "one at a time"
    started = time.perf_counter()
    SweepRunner(sweep, store, workers=workers).run(lambda event: None)
    seconds = time.perf_counter() - started
    records = store.records()
    failed = [record for record in records if not record.completed]
    if failed:
        raise SystemExit(f"packing.py: {len(failed)} of {len(records)} runs did not complete ({arm}): "
                         f"{failed[0].error or failed[0].status}")
    return {"arm": arm, "workers": workers, "runs": len(records), "seconds": round(seconds, 2),
            "runs_per_minute": round(60 * len(records) / seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", choices=["bf16"], default=None)
    parser.add_argument("--task", default="digits")
    parser.add_argument("--models", nargs="+", default=list(LINE_UP))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=None, help="the packed arm's workers (default: the runner's)")
    arguments = parser.parse_args()
    sweep = sweep_of(arguments)
    packed = arguments.workers or machine_workers(arguments.device)
    with tempfile.TemporaryDirectory(prefix="seqarena-packing-") as scratch:
        rows = [timed_arm(sweep, workers, Path(scratch)) for workers in (1, packed)]
    for row in rows:
        print(json.dumps({**row, "device": arguments.device, "precision": arguments.precision or "fp32",
                          "hardware": hardware(arguments.device)}))
    print(json.dumps({"speed_up": round(rows[1]["runs_per_minute"] / rows[0]["runs_per_minute"], 2)}))


if __name__ == "__main__":
    main()

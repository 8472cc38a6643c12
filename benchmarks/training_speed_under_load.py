"""The training-speed claim ("Transformer: faster training than RNNs") on an idle machine and beside CPU hogs, from
the scaling measurement of `seqarena run`'s default job: the models timed together, in rounds at each length, as
`seqarena measure scaling` times them (measure/scaling.py's scaling_of), and for comparison one model after
another, as it timed them before 2026-12-07. Does the verdict hold on a busy machine?

    python benchmarks/training_speed_under_load.py --hogs 0 2 --times 2

Prints one JSON line per measurement: the protocol, the load (hog processes), the verdict, its condition and its
evidence lines (with the per-round speed ratio where the models were timed together), and every model's training
tokens/s at each length with its 95% interval. The hogs
are child processes that end with this script, however it ends (parallelism_under_load.py's).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

from parallelism_under_load import hogs

from seqarena.claims.speed import FASTER_TRAINING
from seqarena.environment import hardware, versions
from seqarena.evidence import Evidence
from seqarena.jobs import JOBS
from seqarena.measure.scaling import ScalingOptions, scaling_builders, scaling_of
from seqarena.results.measurements import ScalingPoint
from seqarena.results.store import ResultStore


def default_job_scaling() -> tuple[list[str], dict]:
    """The models and options of the default job's scaling step."""
    step = next(step for step in JOBS["default"].steps if getattr(step, "name", None) == "scaling")
    return list(step.models), dict(step.options)


def measured(models: list[str], options: ScalingOptions, protocol: str) -> list:
    builders = scaling_builders(models, options)
    if protocol == "interleaved":
        return scaling_of(builders, options)
    return [row for label, build in builders.items() for row in scaling_of({label: build}, options)]


def judged(models: list[str], settings: dict, rows: list) -> dict:
    """The claim's verdict on these rows, judged as the report judges a store holding them."""
    with tempfile.TemporaryDirectory() as folder:
        store = ResultStore(Path(folder) / "rows.db")
        store.add_measurements("scaling", rows, {"models": models, "options": settings}, versions(), hardware("cpu"))
        verdict = FASTER_TRAINING.judge(Evidence(store))
    points = [row for row in rows if isinstance(row, ScalingPoint)]
    return {"verdict": verdict.verdict.value, "condition": verdict.condition, "evidence": verdict.evidence,
            "tokens_per_s": {f"{point.model}, T={point.seq_len}": [round(point.train_tokens_per_s),
                                                                   *map(round, point.train_tokens_per_s_interval)]
                             for point in points}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hogs", nargs="+", type=int, default=[0, os.cpu_count() or 1])
    parser.add_argument("--times", type=int, default=2, help="measurements per protocol and load")
    parser.add_argument("--protocols", nargs="+", default=["interleaved", "sequential"],
                        choices=["interleaved", "sequential"])
    parser.add_argument("--lengths", type=int, nargs="+", help="instead of the default job's lengths")
    arguments = parser.parse_args()
    models, settings = default_job_scaling()
    if arguments.lengths:
        settings |= {"lengths": arguments.lengths, "fit_from": min(arguments.lengths)}
    options = ScalingOptions(**settings)
    print(json.dumps({"kind": "hardware", "cpu_count": os.cpu_count(), "machine": platform.machine(),
                      "processor": platform.processor(), "models": models, "options": settings}), flush=True)
    for count in arguments.hogs:
        running = hogs(count, seconds=3600)
        try:
            for attempt in range(arguments.times):
                for protocol in arguments.protocols:
                    row = judged(models, options.model_dump(mode="json"), measured(models, options, protocol))
                    print(json.dumps({"kind": "verdict", "protocol": protocol, "hogs": count, "attempt": attempt,
                                      **row}), flush=True)
        finally:
            for process in running:
                process.terminate()
                process.join()


if __name__ == "__main__":
    main()

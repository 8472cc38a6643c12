"""The time axis (measure/parallelism.py) on an idle machine and beside CPU hogs, in one process: does the "RNN not
parallelizable" verdict hold on a busy machine? Prints one JSON line per measurement: the model, the load (hog
processes), the timed sequential ratio with its 95% interval, and the dependent steps per token the verdict decides
on (measure/dependency.py), which no load can move. The hogs are child processes that end with
this script, however it ends.

    python benchmarks/parallelism_under_load.py --models lstm gru transformer --hogs 0 2 --times 3
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import time

from seqarena.measure.parallelism import ParallelismOptions, time_axis


def spin(until: float, parent: int) -> None:
    """Busy arithmetic until the wall clock reaches `until` or the parent is gone (a hog cannot outlive either)."""
    value = 0
    while time.time() < until and os.getppid() == parent:
        for _ in range(100_000):
            value = (value * 31 + 7) % 1_000_003


def hogs(count: int, seconds: float) -> list[multiprocessing.Process]:
    context = multiprocessing.get_context("spawn")
    started = [context.Process(target=spin, args=(time.time() + seconds, os.getpid()), daemon=True)
               for _ in range(count)]
    for process in started:
        process.start()
    return started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["lstm", "gru", "transformer"])
    parser.add_argument("--hogs", nargs="+", type=int, default=[0, os.cpu_count() or 1])
    parser.add_argument("--times", type=int, default=3, help="measurements per model and load")
    parser.add_argument("--time-length", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--d-model", type=int, default=64)
    arguments = parser.parse_args()
    options = ParallelismOptions(time_length=arguments.time_length, repeats=arguments.repeats,
                                 d_model=arguments.d_model)
    print(json.dumps({"kind": "hardware", "cpu_count": os.cpu_count(), "machine": platform.machine(),
                      "processor": platform.processor()}))
    for count in arguments.hogs:
        running = hogs(count, seconds=3600)
        try:
            for model in arguments.models:
                for attempt in range(arguments.times):
                    row = time_axis(model, model, options)
                    print(json.dumps({"kind": "ratio", "model": model, "hogs": count, "attempt": attempt,
                                      "sequential_ratio": row.sequential_ratio,
                                      "sequential_ratio_95ci": [row.sequential_ratio_low, row.sequential_ratio_high],
                                      "rounds": row.repeats,
                                      "dependent_steps_per_token": row.dependent_steps_per_token,
                                      "dependent_steps": [row.dependent_steps_short, row.dependent_steps]}), flush=True)
        finally:
            for process in running:
                process.terminate()
                process.join()


if __name__ == "__main__":
    main()

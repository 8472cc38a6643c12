"""How long the command line takes before it does anything: `seqarena --help`, a one-line error for a missing file,
and Python importing torch alone (what every command pays whatever seqarena does). Each is timed `--repeats`
times in a fresh process; one JSON row each with the median and a bootstrap 95% interval of the median, in seconds,
and the median beyond torch's import.

    python benchmarks/startup.py --repeats 11
    PYTHONPATH=OTHER/src python benchmarks/startup.py     # another checkout's seqarena, same interpreter"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np

COMMANDS = {
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    "seqarena --help": [sys.executable, "-m", "seqarena", "--help"],
    "seqarena train --data missing.csv": [sys.executable, "-m", "seqarena", "train", "--model", "gru", "--data",
                                          "missing.csv"],
}


def seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, capture_output=True, check=False)
    return time.perf_counter() - started


def median_interval(samples: list[float], resamples: int = 2000) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    medians = np.median(rng.choice(samples, size=(resamples, len(samples))), axis=1)
    return float(np.quantile(medians, 0.025)), float(np.quantile(medians, 0.975))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    options = parser.parse_args()
    # interleaved, so a change in the machine's load falls on every command alike
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(options.repeats):
        for name, command in COMMANDS.items():
            samples[name].append(seconds(command))
    torch_alone = statistics.median(samples["python -c 'import torch'"])
    for name, values in samples.items():
        low, high = median_interval(values)
        print(json.dumps({"command": name, "repeats": len(values), "median_s": round(statistics.median(values), 3),
                          "median_95ci_s": [round(low, 3), round(high, 3)],
                          "beyond_torch_s": round(statistics.median(values) - torch_alone, 3)}), flush=True)


if __name__ == "__main__":
    main()

"""The main job: a line-up of measurements and sweeps that gives every claim its evidence, then the report.
`default` is sized for a 2-core laptop CPU and uses only data of the core install; `full` is the GPU-sized
version and needs the `data` extra. Sweeps skip the
runs already in the store; with `resume`, so do measurements already stored with the same settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqarena.measure import MEASUREMENTS, measure
from seqarena.store import ResultStore
from seqarena.sweep import Event, SweepConfig, SweepRunner

LINE_UP = ("lstm", "gru", "mingru", "transformer")


@dataclass(frozen=True)
class MeasureStep:
    name: str
    models: tuple[str, ...]
    options: dict[str, Any]

    @property
    def label(self) -> str:
        return f"measure {self.name}"


@dataclass(frozen=True)
class SweepStep:
    sweep: SweepConfig

    @property
    def label(self) -> str:
        return f"sweep {self.sweep.name}"


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    steps: tuple[MeasureStep | SweepStep, ...]


def fair(train: dict[str, Any]) -> dict[str, Any]:
    return {"seeds": [0, 1, 2], "param_budget": 50_000, "train": train}


# long-range probes learn in few steps; the real tasks need more
CPU_PROBE_TRAIN = {"steps": 150, "batch_size": 32, "eval_every": 50}
CPU_TRAIN = {"steps": 250, "batch_size": 32, "eval_every": 50}
GPU_TRAIN = {"steps": 2000, "batch_size": 64, "eval_every": 250, "device": "cuda"}

JOBS = {
    "default": Job("default", "every measurement and three budget-matched sweeps (3 seeds each), sized for a "
                   "2-core CPU", (
                       MeasureStep("scaling", ("rnn", "lstm", "gru", "mingru", "transformer", "longformer"),
                                   {"lengths": [256, 1024, 4096], "fit_from": 256, "max_seconds": 5.0}),
                       MeasureStep("parallelism", ("rnn", *LINE_UP), {}),
                       MeasureStep("latency", ("rnn", *LINE_UP, "longformer"), {"contexts": [128, 512, 2048]}),
                       MeasureStep("flops", ("rnn", *LINE_UP, "longformer", "reformer"), {}),
                       MeasureStep("gradients", ("rnn", "lstm", "gru", "transformer"), {}),
                       MeasureStep("positional", ("transformer",), {"encodings": ["none", "sinusoidal"],
                                                                   **fair(CPU_PROBE_TRAIN)}),
                       MeasureStep("long_range", LINE_UP, {"lengths": [16, 64, 128], **fair(CPU_PROBE_TRAIN)}),
                       MeasureStep("data_size", LINE_UP, {"task": "digits", "fractions": [0.25, 1.0],
                                                          **fair(CPU_TRAIN)}),
                       SweepStep(SweepConfig(name="leaderboard", models=list(LINE_UP), tasks=["sunspots", "co2"],
                                             **fair(CPU_TRAIN))),
                   )),
    "full": Job("full", "the same evidence at GPU scale: lengths to 16K, 2,000 steps, more tasks (needs CUDA)", (
        MeasureStep("scaling", ("rnn", "lstm", "gru", "mingru", "transformer", "longformer", "reformer"),
                    {"lengths": [2**k for k in range(8, 15)], "device": "cuda", "dtype": "bfloat16",
                     "d_model": 512, "batch": 8, "heads": 8}),
        # at d_model 64 a GPU step is launch overhead, which hides the time axis: d_model 512 makes it compute
        MeasureStep("parallelism", ("rnn", *LINE_UP), {"device": "cuda", "length": 1024, "d_model": 512}),
        MeasureStep("latency", ("rnn", *LINE_UP, "longformer"),
                    {"contexts": [128, 1024, 4096, 16384], "device": "cuda"}),
        MeasureStep("flops", ("rnn", *LINE_UP, "longformer", "reformer"), {"device": "cuda", "dtype": "bfloat16"}),
        MeasureStep("gradients", ("rnn", "lstm", "gru", "transformer"), {"length": 200, "steps": 1000}),
        MeasureStep("positional", ("transformer",), {"encodings": ["none", "sinusoidal", "rope", "alibi"],
                                                     "task_options": {"length": 256}, **fair(GPU_TRAIN)}),
        MeasureStep("long_range", LINE_UP, {"lengths": [64, 256, 1024, 4096], **fair(GPU_TRAIN)}),
        MeasureStep("data_size", LINE_UP, {"task": "spoken_digits", "fractions": [0.03, 0.1, 0.3, 1.0],
                                           **fair(GPU_TRAIN)}),
        SweepStep(SweepConfig(name="leaderboard", models=list(LINE_UP),
                              tasks=["sunspots", "electricity", "basic_motions", "mnist", "kjv_divisions",
                                     "listops"], **fair(GPU_TRAIN))),
    )),
}


def already_measured(store: ResultStore, step: MeasureStep) -> bool:
    settings = MEASUREMENTS[step.name].options(**step.options).model_dump(mode="json")
    return any(row["config"] == {"models": list(step.models), "options": settings}
               for row in store.measurements(step.name))


def run_job(job: Job, store: ResultStore, checkpoints: Path | None, resume: bool,
            on_step: Callable[[int, MeasureStep | SweepStep, bool], None], on_event: Callable[[Event], None]) -> None:
    """Run every step in order; `on_step(index, step, skipped)` is told before each one."""
    for index, step in enumerate(job.steps):
        if isinstance(step, MeasureStep):
            skipped = resume and already_measured(store, step)
            on_step(index, step, skipped)
            if not skipped:
                measure(step.name, list(step.models), step.options, store, checkpoints, on_event)
        else:
            on_step(index, step, False)
            SweepRunner(step.sweep, store, checkpoints).run(on_event)

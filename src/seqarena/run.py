"""One run (task + model + training) end to end, and the named suites that line runs up."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from seqarena.checkpoint import Checkpoints
from seqarena.distributed import join, shard, world_from_environment, wrap
from seqarena.environment import hardware, versions
from seqarena.models import ModelConfig, build_model, count_parameters, mixer_entry
from seqarena.saved import TrainedModel
from seqarena.store import ResultStore
from seqarena.tasks import load_task
from seqarena.train import TrainConfig, fit, seed_everything


class RunConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str
    task_options: dict[str, Any] = {}
    model: ModelConfig
    train: TrainConfig = TrainConfig()
    # train on this fraction of the training split (a fixed subset): learning curves
    train_fraction: float = Field(1.0, gt=0, le=1)
    # the parameter budget the width was chosen for (a sweep's fairness protocol), if any
    param_budget: int | None = None

    def key(self) -> str:
        """A deterministic name for this exact run: the same config always gives the same key. The micro-batch
        size is left out: accumulation gives the same run, and out of memory may change it mid-run. Unset (None)
        settings are left out too, so a new optional setting does not rename every stored run."""
        settings = self.model_dump(mode="json", exclude={"train": {"micro_batch_size"}}, exclude_none=True)
        canonical = json.dumps(settings, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def execute(config: RunConfig, store: ResultStore | None = None, suite: str | None = None,
            checkpoint_root: Path | None = None, on_step: Callable[[int, float], None] | None = None,
            save_to: Path | None = None) -> dict[str, Any]:
    """Build the task and model, train, score the best-validation weights on test, and record the row; with
    `save_to`, the trained model is saved there (see seqarena.saved).

    With `checkpoint_root`, the run checkpoints into checkpoint_root/KEY every evaluation and resumes from
    there if it was interrupted; the checkpoints are removed once its row is in `store` (without a store, by
    whoever stores the row)."""
    started = time.perf_counter()
    task = load_task(config.task, **config.task_options).with_training_fraction(config.train_fraction)
    seed_everything(config.train.seed)
    model = build_model(task.spec, config.model)
    generator = torch.Generator().manual_seed(config.train.seed)
    world = world_from_environment()
    device = config.train.device if world is None else join(world, config.train.device, config.train.batch_size)
    key = config.key()
    checkpoints = None if checkpoint_root is None else Checkpoints(checkpoint_root / key, config.train.eval_every)
    trained, batches = model, task.batches(config.train.batch_size, generator)
    if world is not None:
        trained, batches, checkpoints = wrap(model, world, device), shard(batches, world), None
    result = fit(
        trained, batches, lambda m: task.evaluate(model, "val", device=device),
        config.train.model_copy(update={"device": device}),
        description=f"{config.model.mixer} on {config.task}", checkpoints=checkpoints, on_step=on_step,
    )
    test = task.evaluate(model, "test", device=device) if not result.diverged else {}
    metric = task.spec.metric
    row = {
        "key": key, "status": "diverged" if result.diverged else "completed", "suite": suite,
        "task": config.task, "model": config.model.mixer, "family": mixer_entry(config.model.mixer).family,
        "seed": config.train.seed, "params": count_parameters(model), "metric": metric,
        "test_score": test.get(metric), "val_score": result.best_val.get(metric),
        "chance": task.spec.chance, "baseline": task.spec.baseline,
        "train_seconds": result.train_seconds, "wall_seconds": time.perf_counter() - started,
        "tokens_per_second": result.tokens_per_second * (1 if world is None else world.size),
        "peak_memory_bytes": result.peak_memory_bytes,
        "peak_memory_kind": result.peak_memory_kind, "config": config.model_dump(mode="json"),
        "metrics": {"test": test, "val": result.best_val, "steps": result.steps, "best_step": result.best_step,
                    "stopped_early": result.stopped_early, "chance_name": task.spec.chance_name,
                    "baseline_name": task.spec.baseline_name, "micro_batch_size": result.micro_batch_size,
                    "resumed_from": result.resumed_from, "train_size": len(task.train),
                    "train_fraction": config.train_fraction, "param_budget": config.param_budget,
                    "processes": 1 if world is None else world.size},
        "history": result.history, "versions": versions(), "hardware": hardware(device),
    }
    if save_to is not None and not result.diverged and (world is None or world.leader):
        row["metrics"]["saved_to"] = str(TrainedModel.of(model, config, task).save(save_to))
    if store is not None and (world is None or world.leader):
        row["id"] = store.add_run(row)
        if checkpoints is not None:
            shutil.rmtree(checkpoints.directory, ignore_errors=True)
    return row


def failure_row(config: RunConfig, error: BaseException, suite: str | None) -> dict[str, Any]:
    """The row of a run that raised: recorded so the sweep goes on, retried when the sweep is run again."""
    return {
        "key": config.key(), "status": "failed", "suite": suite, "task": config.task, "model": config.model.mixer,
        "family": mixer_entry(config.model.mixer).family, "seed": config.train.seed, "params": 0, "metric": "",
        "config": config.model_dump(mode="json"), "history": [], "hardware": hardware(config.train.device),
        "metrics": {"error": f"{type(error).__name__}: {error}"}, "versions": versions(),
    }


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    models: tuple[str, ...]
    tasks: tuple[tuple[str, dict[str, Any]], ...]
    model: dict[str, Any]
    train: dict[str, Any]
    seeds: tuple[int, ...] = (0,)

    def configs(self) -> list[RunConfig]:
        return [
            RunConfig(task=task, task_options=options, model=ModelConfig(mixer=model, **self.model),
                      train=TrainConfig(seed=seed, **self.train))
            for task, options in self.tasks for model in self.models for seed in self.seeds
        ]


SUITES = {
    "smoke": Suite(
        name="smoke",
        description="rnn, lstm, gru and transformer on the adding problem (T=50) and sequential digits; "
                    "one seed, a few minutes on 2 CPU cores",
        models=("rnn", "lstm", "gru", "transformer"),
        tasks=(("adding", {"length": 50}), ("digits", {})),
        model={"d_model": 64, "n_layers": 2},
        train={"steps": 400, "batch_size": 64, "lr": 3e-3, "eval_every": 100},
    ),
}


def run_suite(suite: Suite, store: ResultStore | None,
              on_done: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    rows = []
    for config in suite.configs():
        row = execute(config, store, suite=suite.name)
        rows.append(row)
        if on_done is not None:
            on_done(row)
    return rows

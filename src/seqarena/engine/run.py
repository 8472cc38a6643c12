"""One run end to end: build the task and model, train, score the best-validation weights on test, and record it."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from seqarena.checkpoint import Checkpoints
from seqarena.distributed import World, join, shard, world_from_environment, wrap
from seqarena.environment import hardware, versions
from seqarena.models import build_model, count_parameters, mixer_entry
from seqarena.models.blocks import SequenceModel
from seqarena.pretraining import start_from
from seqarena.results.records import RunRecord, RunStatus
from seqarena.results.store import ResultStore
from seqarena.saved import TrainedModel
from seqarena.settings import RunConfig
from seqarena.tasks import load_task
from seqarena.tasks.base import Task
from seqarena.train import TrainResult, fit, seed_everything


def execute(config: RunConfig, store: ResultStore | None = None, suite: str | None = None,
            checkpoint_root: Path | None = None, on_step: Callable[[int, float], None] | None = None,
            save_to: Path | None = None) -> RunRecord:
    """Build the task and model, train, score the best-validation weights on test, and record the run; with
    `save_to`, the trained model is saved there (see seqarena.saved). `on_step(step, loss)` follows training.

    With `checkpoint_root`, the run checkpoints into checkpoint_root/KEY every evaluation and resumes from
    there if it was interrupted; the checkpoints are removed once its record is in `store` (without a store, by
    whoever stores the record). Under torchrun, rank 0 alone saves and records, and every rank resumes from rank
    0's checkpoint."""
    started = time.perf_counter()
    world = world_from_environment()
    # under torchrun rank 0 writes the run's checkpoints and every rank resumes from them
    checkpoints = None if checkpoint_root is None else Checkpoints(checkpoint_root / config.key(),
                                                                   config.train.eval_every,
                                                                   writer=world is None or world.leader)
    run = train_run(config, world, checkpoints, on_step)
    record = replace(run_record(config, run, world, suite), wall_seconds=time.perf_counter() - started)
    if world is not None and not world.leader:
        return record
    return save_and_store(record, run, config, store, save_to, checkpoints)


@dataclass(frozen=True)
class TrainedRun:
    """What a run leaves: its task, its model with the best-validation weights, how training went, the device it
    ran on, and what the record says of its pretraining."""

    task: Task
    model: SequenceModel
    result: TrainResult
    device: str
    pretraining: dict[str, Any] | None


def train_run(config: RunConfig, world: World | None, checkpoints: Checkpoints | None,
              on_step: Callable[[int, float], None] | None) -> TrainedRun:
    """The run itself: build the task and model, pretrain or load a backbone, and train (data-parallel under
    torchrun), keeping the best-validation weights."""
    task = load_task(config.task, **config.task_options).with_training_fraction(config.train_fraction)
    seed_everything(config.train.seed)
    model = build_model(task.spec, config.model)
    pretraining = start_from(model, config, task)
    generator = torch.Generator().manual_seed(config.train.seed)
    device = config.train.device if world is None else join(world, config.train.device, config.train.batch_size)
    trained, batches = model, task.batches(config.train.batch_size, generator)
    if world is not None:
        trained, batches = wrap(model, world, device), shard(batches, world)
    result = fit(trained, batches, lambda m: task.evaluate(model, "val", device=device),
                 config.train.model_copy(update={"device": device}), checkpoints=checkpoints, on_step=on_step)
    return TrainedRun(task, model, result, device, pretraining)


def save_and_store(record: RunRecord, run: TrainedRun, config: RunConfig, store: ResultStore | None,
                   save_to: Path | None, checkpoints: Checkpoints | None) -> RunRecord:
    """The leader's part: save the trained model, store the record, and remove the run's checkpoints once it is
    stored."""
    if save_to is not None and not run.result.diverged:
        record = replace(record, saved_to=str(TrainedModel.of(run.model, config, run.task, run.device).save(save_to)))
    if store is not None:
        record = replace(record, id=store.add_run(record))
        if checkpoints is not None:
            shutil.rmtree(checkpoints.directory, ignore_errors=True)
    return record


def run_record(config: RunConfig, run: TrainedRun, world: World | None, suite: str | None) -> RunRecord:
    """The run's record: its scores (test only when training did not diverge), costs and provenance."""
    task, model, result, device = run.task, run.model, run.result, run.device
    test = task.test_metrics(model, device) if not result.diverged else {}
    metric, spec = task.spec.metric, task.spec
    return RunRecord(
        key=config.key(), status=RunStatus.DIVERGED if result.diverged else RunStatus.COMPLETED, suite=suite,
        task=config.task, model=config.model.mixer, family=mixer_entry(config.model.mixer).family,
        seed=config.train.seed, params=count_parameters(model), metric=metric, config=config.model_dump(mode="json"),
        test_score=test.get(metric), val_score=result.best_val.get(metric), chance=spec.chance,
        baseline=spec.baseline, chance_name=spec.chance_name, baseline_name=spec.baseline_name,
        train_seconds=result.train_seconds,
        tokens_per_second=result.tokens_per_second * (1 if world is None else world.size),
        peak_memory_bytes=result.peak_memory_bytes, peak_memory_kind=result.peak_memory_kind,
        test_metrics=test, val_metrics=result.best_val, steps=result.steps, best_step=result.best_step,
        stopped_early=result.stopped_early, micro_batch_size=result.micro_batch_size,
        resumed_from=result.resumed_from, train_size=len(task.train), train_fraction=config.train_fraction,
        param_budget=config.param_budget, processes=1 if world is None else world.size, history=result.history,
        pretraining=run.pretraining, versions=versions(), hardware=hardware(device))


def failure_record(config: RunConfig, error: BaseException, suite: str | None) -> RunRecord:
    """The record of a run that raised: stored so the sweep goes on, retried when the sweep is run again."""
    return RunRecord(
        key=config.key(), status=RunStatus.FAILED, suite=suite, task=config.task, model=config.model.mixer,
        family=mixer_entry(config.model.mixer).family, seed=config.train.seed, params=0, metric="",
        config=config.model_dump(mode="json"), hardware=hardware(config.train.device), versions=versions(),
        error=f"{type(error).__name__}: {error}")

"""One run end to end: build the task and model, train, score the best-validation weights on test, and record it."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from seqarena.checkpoint import Checkpoints
from seqarena.distributed import World, join, shard, world_from_environment, wrap
from seqarena.environment import hardware, versions
from seqarena.models import build_model, count_parameters, mixer_entry
from seqarena.models.blocks import SequenceModel
from seqarena.pretraining import Pretrained, backbone_state, corpus_for, load_backbone, pretrain, pretraining_summary
from seqarena.results.records import RunRecord, RunStatus
from seqarena.results.store import ResultStore
from seqarena.saved import TrainedModel
from seqarena.settings import ModelConfig, PretrainConfig, RunConfig, TrainConfig
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
    task = load_task(config.task, **config.task_options).with_training_fraction(config.train_fraction)
    seed_everything(config.train.seed)
    model = build_model(task.spec, config.model)
    pretraining = start_from(model, config, task)
    generator = torch.Generator().manual_seed(config.train.seed)
    world = world_from_environment()
    device = config.train.device if world is None else join(world, config.train.device, config.train.batch_size)
    # under torchrun rank 0 writes the run's checkpoints and every rank resumes from them
    checkpoints = None if checkpoint_root is None else Checkpoints(checkpoint_root / config.key(),
                                                                   config.train.eval_every,
                                                                   writer=world is None or world.leader)
    trained, batches = model, task.batches(config.train.batch_size, generator)
    if world is not None:
        trained, batches = wrap(model, world, device), shard(batches, world)
    result = fit(trained, batches, lambda m: task.evaluate(model, "val", device=device),
                 config.train.model_copy(update={"device": device}), checkpoints=checkpoints, on_step=on_step)
    test = task.test_metrics(model, device) if not result.diverged else {}
    record = run_record(config, task, model, result, test, world, suite, device)
    record = replace(record, wall_seconds=time.perf_counter() - started, pretraining=pretraining)
    leader = world is None or world.leader
    if save_to is not None and not result.diverged and leader:
        record = replace(record, saved_to=str(TrainedModel.of(model, config, task, device).save(save_to)))
    if store is not None and leader:
        record = replace(record, id=store.add_run(record))
        if checkpoints is not None:
            shutil.rmtree(checkpoints.directory, ignore_errors=True)
    return record


def start_from(model: SequenceModel, config: RunConfig, task: Task) -> dict[str, Any] | None:
    """Self-pretrain the model's backbone on a training split (the task's own, or the corpus task's), or load a
    pretrained backbone; returns what the record says of the pretraining."""
    if config.init is not None:
        pretrained = load_backbone(model, Path(config.init))
        return {"init": config.init, **pretrained.about}
    if config.pretrain is None:
        return None
    settings = config.pretrain
    corpus_task = task if settings.corpus is None else load_task(settings.corpus, **settings.corpus_options)
    return pretraining_summary(pretrain(model, corpus_for(corpus_task), settings, config.train))


def pretrain_and_save(task_name: str, task_options: dict[str, Any], model_config: ModelConfig,
                      settings: PretrainConfig, train: TrainConfig, folder: Path,
                      on_step: Callable[[int, float], None] | None = None) -> tuple[Pretrained, TrainResult]:
    """`seqarena pretrain`: pretrain a model's backbone on one task's (or file's) training inputs and save it, with
    the model settings it was built with (causal stated), for `train --init`. The next-step objective builds a
    causal model unless told otherwise."""
    task = load_task(task_name, **task_options)
    if settings.objective == "next" and model_config.causal is None:
        model_config = model_config.model_copy(update={"causal": True})
    seed_everything(train.seed)
    model = build_model(task.spec, model_config)
    result = pretrain(model, corpus_for(task), settings, train, on_step)
    about = {"objective": settings.objective, "steps": result.steps, "corpus": task_name,
             "corpus_options": task_options, "sequence_length": task.spec.seq_len, "sequences": len(task.train),
             "seed": train.seed, "lr": train.lr, "batch_size": train.batch_size,
             "pretrain_loss": result.best_val.get("loss"), "diverged": result.diverged}
    pretrained = Pretrained(backbone_state(model), model_config.model_copy(update={"causal": model.causal}),
                            task.spec.input_kind, task.spec.n_inputs, about)
    pretrained.save(folder)
    return pretrained, result


def run_record(config: RunConfig, task: Task, model: SequenceModel, result: TrainResult, test: dict[str, float],
               world: World | None, suite: str | None, device: str) -> RunRecord:
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
        versions=versions(), hardware=hardware(device))


def failure_record(config: RunConfig, error: BaseException, suite: str | None) -> RunRecord:
    """The record of a run that raised: stored so the sweep goes on, retried when the sweep is run again."""
    return RunRecord(
        key=config.key(), status=RunStatus.FAILED, suite=suite, task=config.task, model=config.model.mixer,
        family=mixer_entry(config.model.mixer).family, seed=config.train.seed, params=0, metric="",
        config=config.model_dump(mode="json"), hardware=hardware(config.train.device), versions=versions(),
        error=f"{type(error).__name__}: {error}")

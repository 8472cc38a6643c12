"""Sweeps: a grid of runs over models x tasks x seeds (x sequence lengths x training fractions x learning rates)
under one protocol, stated in every result: every model sized to one parameter budget (+-10%, the Long Range
Arena rule) by its width, the same training budget, optimiser and schedule, and the same learning-rate grid.
Runs already in the store are skipped, so a killed sweep started again finishes only what is left."""

from __future__ import annotations

import inspect
import math
import multiprocessing
import os
import queue
import shutil
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, fields
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from scipy import stats

from seqarena.errors import ConfigError, describe_validation
from seqarena.models import MIXERS, ModelConfig, build_model, count_parameters
from seqarena.run import RunConfig, execute, failure_row
from seqarena.spec import TaskSpec
from seqarena.store import ResultStore
from seqarena.tasks import DATA_LOADERS, TASKS, load_task
from seqarena.tasks.base import HIGHER_IS_BETTER, require
from seqarena.train import TrainConfig

BUDGET_TOLERANCE = 0.1


class TaskChoice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    options: dict[str, Any] = {}


class SweepConfig(BaseModel):
    """What a sweep file holds (YAML or TOML); unknown keys are refused by name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "sweep"
    models: list[str] = Field(min_length=1)
    tasks: list[str | TaskChoice] = Field(min_length=1)
    seeds: list[int] = Field([0, 1, 2], min_length=1)
    # task option `length` for tasks that take one (the long-range probes); empty: the task's own
    lengths: list[int] = []
    # fractions of the training split; empty: all of it
    fractions: list[float] = []
    # the learning-rate grid, the same for every model; empty: train.lr alone
    lrs: list[float] = []
    # sized to this many parameters (+-10%) by choosing d_model; None: model.d_model for every model
    param_budget: int | None = Field(None, gt=0)
    # shared ModelConfig fields (not `mixer`) and TrainConfig fields (not `seed` or `lr`)
    model: dict[str, Any] = {}
    train: dict[str, Any] = {}

    @field_validator("models")
    @classmethod
    def known_models(cls, models: list[str]) -> list[str]:
        unknown = [name for name in models if name not in MIXERS]
        if unknown:
            raise ValueError(f"unknown model {unknown[0]!r}; choose from {', '.join(MIXERS)}")
        return models

    @field_validator("tasks")
    @classmethod
    def known_tasks(cls, tasks: list[str | TaskChoice]) -> list[str | TaskChoice]:
        names = [task if isinstance(task, str) else task.name for task in tasks]
        unknown = [name for name in names if name not in TASKS and name not in DATA_LOADERS]
        if unknown:
            raise ValueError(f"unknown task {unknown[0]!r}; choose from {', '.join(TASKS)}, or a file loader "
                             f"({', '.join(DATA_LOADERS)}) with the option path")
        return tasks

    @field_validator("train")
    @classmethod
    def valid_training(cls, train: dict[str, Any]) -> dict[str, Any]:
        try:
            TrainConfig(**train)
        except ValidationError as error:
            raise ValueError(describe_validation(error, "train settings")) from None
        return train

    @field_validator("model")
    @classmethod
    def valid_model(cls, model: dict[str, Any]) -> dict[str, Any]:
        if "mixer" in model:
            raise ValueError("the mixer is chosen by `models`, not by model.mixer")
        try:
            ModelConfig(mixer="rnn", **model)
        except ValidationError as error:
            raise ValueError(describe_validation(error, "model settings")) from None
        return model

    @field_validator("fractions")
    @classmethod
    def proper_fractions(cls, fractions: list[float]) -> list[float]:
        wrong = [value for value in fractions if not 0 < value <= 1]
        if wrong:
            raise ValueError(f"a training fraction must be in (0, 1], got {wrong[0]}")
        return fractions

    def task_choices(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for task in self.tasks:
            name, options = (task, {}) if isinstance(task, str) else (task.name, task.options)
            for length in (self.lengths if takes_length(name) else []) or [None]:
                yield name, options if length is None else {**options, "length": length}

    def configs(self) -> list[RunConfig]:
        """Every run of the grid, each model at the budgeted width for each task."""
        base_train = TrainConfig(**self.train)
        runs = []
        for (task, options), model in product(self.task_choices(), self.models):
            model_config = ModelConfig(mixer=model, **self.model)
            if self.param_budget is not None:
                model_config = sized(task, options, model_config, self.param_budget).config
            for fraction, lr, seed in product(self.fractions or [1.0], self.lrs or [base_train.lr], self.seeds):
                train = base_train.model_copy(update={"lr": lr, "seed": seed})
                runs.append(RunConfig(task=task, task_options=options, model=model_config, train=train,
                                      train_fraction=fraction, param_budget=self.param_budget))
        return runs


def load_sweep(path: str | Path) -> SweepConfig:
    """A sweep file (.yaml, .yml or .toml), validated; errors name the file and the offending key."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{file} does not exist or is not a file")
    try:
        if file.suffix.lower() == ".toml":
            data = tomllib.loads(file.read_text())
        elif file.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(file.read_text())
        else:
            raise ConfigError(f"{file}: a sweep file is .yaml, .yml or .toml")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"{file} is not valid {file.suffix[1:].upper()}: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: expected a mapping of sweep settings at the top level")
    try:
        return SweepConfig(**data)
    except ValidationError as error:
        raise ConfigError(describe_validation(error, str(file))) from None


@dataclass(frozen=True)
class Sizing:
    config: ModelConfig
    params: int
    budget: int

    @property
    def within_budget(self) -> bool:
        return abs(self.params - self.budget) <= BUDGET_TOLERANCE * self.budget


def width_step(config: ModelConfig) -> int:
    """Widths are multiples of the head count; even multiples with rotary encodings (each head's size is even)
    and for single-head mixers (a bidirectional recurrent layer splits its width between two directions)."""
    defaults = {item.name: item.default for item in fields(MIXERS[config.mixer].config)}
    heads = int(config.options.get("n_heads", defaults.get("n_heads", 1)))
    return 2 * heads if config.positional == "rope" or heads == 1 else heads


def parameters_at(spec: TaskSpec, config: ModelConfig, width: int) -> int:
    return count_parameters(build_model(spec, config.model_copy(update={"d_model": width})))


def sized(task: str, options: dict[str, Any], config: ModelConfig, budget: int) -> Sizing:
    """The width whose parameter count is closest to the budget (parameters grow with width: bisection)."""
    return _sized(task, tuple(sorted(options.items())), config.model_dump_json(), budget)


@lru_cache(maxsize=256)
def _sized(task: str, options: tuple[tuple[str, Any], ...], config_json: str, budget: int) -> Sizing:
    spec = load_task(task, **dict(options)).spec
    config = ModelConfig.model_validate_json(config_json)
    step = width_step(config)
    low, high = 1, 1
    while parameters_at(spec, config, high * step) < budget and high < 4096 // step:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if parameters_at(spec, config, middle * step) < budget:
            low = middle
        else:
            high = middle
    counts = {width: parameters_at(spec, config, width * step) for width in (low, high)}
    width = min(counts, key=lambda candidate: abs(counts[candidate] - budget))
    return Sizing(config.model_copy(update={"d_model": width * step}), counts[width], budget)


def takes_length(task: str) -> bool:
    entry = TASKS.get(task) or DATA_LOADERS[task]
    return "length" in inspect.signature(entry.builder).parameters


@dataclass(frozen=True)
class Event:
    """What a sweep reports as it goes: a run started, a training step, or a run finished (with its row)."""

    kind: str
    key: str
    label: str
    step: int = 0
    steps: int = 0
    loss: float = math.nan
    row: dict[str, Any] | None = None


def label(config: RunConfig) -> str:
    extras = [f"{name}={value}" for name, value in config.task_options.items()]
    if config.train_fraction < 1:
        extras.append(f"fraction={config.train_fraction:g}")
    extras += [f"lr={config.train.lr:g}", f"seed={config.train.seed}"]
    return f"{config.model.mixer} on {config.task} ({', '.join(extras)})"


def summary(row: dict[str, Any]) -> dict[str, Any]:
    """The part of a stored row a sweep prints: small enough for one JSON line."""
    names = ("key", "status", "task", "model", "seed", "params", "metric", "test_score", "val_score", "chance",
             "baseline", "train_seconds", "tokens_per_second")
    return {name: row.get(name) for name in names} | {"error": row["metrics"].get("error")}


def run_one(config_json: str, suite: str, checkpoint_root: str | None, threads: int,
            events: Any = None) -> dict[str, Any]:
    """One run in a worker (this process, a process of the pool, or a Ray task, perhaps on another machine):
    train and return the row; the sweep's driver stores it. An exception becomes a `failed` row."""
    torch.set_num_threads(threads)
    config = RunConfig.model_validate_json(config_json)
    key, name = config.key(), label(config)

    def on_step(step: int, loss: float) -> None:
        if events is not None:
            events.put(Event("step", key, name, step, config.train.steps, loss))

    if events is not None:
        events.put(Event("start", key, name, 0, config.train.steps))
    try:
        return execute(config, None, suite, None if checkpoint_root is None else Path(checkpoint_root), on_step)
    except Exception as error:  # any failure of one run is that run's result; the sweep carries on
        return failure_row(config, error, suite)


def machine_workers(device: str) -> tuple[int, int]:
    """Worker processes and threads per worker for this machine: one per GPU run; on CPU, runs of 4 threads."""
    cores = os.cpu_count() or 1
    workers = 1 if device.startswith("cuda") else max(1, cores // 4)
    return workers, max(1, cores // workers)


@dataclass
class SweepOutcome:
    total: int
    skipped: int
    rows: list[dict[str, Any]]


class SweepRunner:
    """Runs a sweep's pending runs on local worker processes (or in this process with one worker) or on Ray."""

    def __init__(self, sweep: SweepConfig, store: ResultStore, checkpoint_root: Path | None = None,
                 workers: int | None = None, executor: str = "local", ray_address: str | None = None):
        self.sweep, self.store, self.checkpoint_root = sweep, store, checkpoint_root
        device = TrainConfig(**sweep.train).device
        default_workers, _ = machine_workers(device)
        self.workers = workers or default_workers
        self.threads = max(1, (os.cpu_count() or 1) // self.workers)
        self.executor, self.ray_address = executor, ray_address

    def plan(self) -> tuple[list[RunConfig], int]:
        """The runs still to do, in grid order, and how many the store already holds."""
        unique = {config.key(): config for config in self.sweep.configs()}
        finished = self.store.finished_keys()
        pending = [config for key, config in unique.items() if key not in finished]
        return pending, len(unique) - len(pending)

    def arguments(self, config: RunConfig) -> tuple[Any, ...]:
        root = None if self.checkpoint_root is None else str(self.checkpoint_root)
        return config.model_dump_json(), self.sweep.name, root, self.threads

    def finish(self, row: dict[str, Any], config: RunConfig, on_event: Callable[[Event], None]) -> dict[str, Any]:
        """Store a finished run's row (one transaction), drop its checkpoints, report it."""
        row["id"] = self.store.add_run(row)
        if self.checkpoint_root is not None:
            shutil.rmtree(self.checkpoint_root / row["key"], ignore_errors=True)
        short = summary(row)
        on_event(Event("done", row["key"], label(config), row=short))
        return short

    def run(self, on_event: Callable[[Event], None]) -> SweepOutcome:
        pending, skipped = self.plan()
        if self.executor == "ray":
            rows = self.run_on_ray(pending, on_event)
        elif self.workers == 1:
            rows = [self.run_here(config, on_event) for config in pending]
        else:
            rows = self.run_on_processes(pending, on_event)
        return SweepOutcome(len(pending) + skipped, skipped, rows)

    def run_here(self, config: RunConfig, on_event: Callable[[Event], None]) -> dict[str, Any]:
        return self.finish(run_one(*self.arguments(config), InlineEvents(on_event)), config, on_event)

    def run_on_processes(self, pending: list[RunConfig], on_event: Callable[[Event], None]) -> list[dict[str, Any]]:
        context = multiprocessing.get_context("spawn")
        rows = []
        with context.Manager() as manager, ProcessPoolExecutor(self.workers, mp_context=context) as pool:
            events = manager.Queue()
            futures = {pool.submit(run_one, *self.arguments(config), events): config for config in pending}
            waiting = set(futures)
            while waiting:
                done, waiting = wait(waiting, timeout=0.2, return_when=FIRST_COMPLETED)
                drain(events, on_event)
                rows += [self.finish(future.result(), futures[future], on_event) for future in done]
        return rows

    def run_on_ray(self, pending: list[RunConfig], on_event: Callable[[Event], None]) -> list[dict[str, Any]]:
        """Each run is a Ray task asking for `threads` CPUs (one GPU on CUDA); rows come back to this process,
        which alone writes the store. Checkpoints need a folder every node can reach (--checkpoints)."""
        ray = require("ray", "seqarena[ray]", "the ray executor")
        started_here = not ray.is_initialized()
        ray.init(address=self.ray_address, ignore_reinit_error=True, log_to_driver=False)
        gpus = 1 if TrainConfig(**self.sweep.train).device.startswith("cuda") else 0
        remote = ray.remote(num_cpus=self.threads, num_gpus=gpus)(run_one)
        futures = {remote.remote(*self.arguments(config)): config for config in pending}
        for config in pending:
            on_event(Event("start", config.key(), label(config), 0, config.train.steps))
        rows, waiting = [], list(futures)
        try:
            while waiting:
                done, waiting = ray.wait(waiting, num_returns=1)
                rows.append(self.finish(ray.get(done[0]), futures[done[0]], on_event))
        finally:
            if started_here:
                ray.shutdown()
        return rows


class InlineEvents:
    """The queue interface run_one writes to, delivering each event at once (runs in this process)."""

    def __init__(self, on_event: Callable[[Event], None]):
        self.on_event = on_event

    def put(self, event: Event) -> None:
        self.on_event(event)


def drain(events: Any, on_event: Callable[[Event], None]) -> None:
    while True:
        try:
            on_event(events.get_nowait())
        except queue.Empty:
            return


@dataclass(frozen=True)
class Comparison:
    """One model on one task setting, at the learning rate its validation score chose, over its seeds."""

    task: str
    setting: str
    model: str
    options: dict[str, Any]
    fraction: float
    params: int
    lr: float
    seeds: int
    metric: str
    test_mean: float
    test_interval: float
    # the task's chance level (the trivial predictor's test score) for this setting
    chance: float
    diverged: int
    failed: int
    # whether the parameter count is within +-10% of the sweep's budget (None: no budget)
    within_budget: bool | None
    # the chosen runs' mean training throughput
    tokens_per_second: float

    def within_noise_of(self, other: Comparison) -> bool:
        """Whether the two test means' 95% intervals overlap (a single seed's missing interval counts as 0)."""
        widths = (0.0 if math.isnan(item.test_interval) else item.test_interval for item in (self, other))
        return abs(self.test_mean - other.test_mean) <= sum(widths)


def mean_interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% Student-t interval (NaN for a single value)."""
    array = np.asarray(values, dtype=float)
    if len(array) < 2:
        return float(array.mean()), math.nan
    half = stats.t.ppf(0.975, len(array) - 1) * array.std(ddof=1) / math.sqrt(len(array))
    return float(array.mean()), float(half)


def setting_of(config: RunConfig) -> str:
    parts = [f"{name}={value}" for name, value in config.task_options.items()]
    parts += [f"fraction={config.train_fraction:g}"] if config.train_fraction < 1 else []
    return ", ".join(parts)


def summarise(runs: list[tuple[RunConfig, dict[str, Any]]], budget: int | None) -> Comparison | None:
    """One model on one setting: the learning rate with the best mean validation score, its test scores."""
    completed = [(config, row) for config, row in runs if row["status"] == "completed"]
    if not completed:
        return None
    sign = 1 if completed[0][1]["metric"] in HIGHER_IS_BETTER else -1
    by_lr: dict[float, list[dict[str, Any]]] = {}
    for config, row in completed:
        by_lr.setdefault(config.train.lr, []).append(row)
    lr = max(by_lr, key=lambda rate: sign * np.mean([row["val_score"] for row in by_lr[rate]]))
    chosen = by_lr[lr]
    mean, interval = mean_interval([row["test_score"] for row in chosen])
    config, params = completed[0][0], chosen[0]["params"]
    return Comparison(
        task=config.task, setting=setting_of(config), model=config.model.mixer, options=config.task_options,
        fraction=config.train_fraction, params=params, lr=lr, seeds=len(chosen), metric=chosen[0]["metric"],
        test_mean=mean,
        test_interval=interval, chance=float(np.mean([row["chance"] for row in chosen])),
        diverged=sum(row["status"] == "diverged" for _, row in runs),
        failed=sum(row["status"] == "failed" for _, row in runs),
        within_budget=None if budget is None else Sizing(config.model, params, budget).within_budget,
        tokens_per_second=float(np.mean([row["tokens_per_second"] for row in chosen])),
    )


@dataclass(frozen=True)
class Leaderboard:
    task: str
    setting: str
    metric: str
    chance: float
    chance_name: str
    baseline: float
    baseline_name: str
    entries: list[Comparison]


def leaderboards(store: ResultStore) -> list[Leaderboard]:
    """Per task setting, each model at its validation-chosen learning rate: test mean and 95% interval."""
    groups: dict[tuple[str, str], dict[str, list[tuple[RunConfig, dict[str, Any]]]]] = {}
    for row in store.runs():
        config = RunConfig.model_validate(row["config"])
        groups.setdefault((config.task, setting_of(config)), {}).setdefault(config.model.mixer, []).append(
            (config, row))
    boards = []
    for (task, setting), models in sorted(groups.items()):
        entries = [entry for runs in models.values() if (entry := summarise(runs, None)) is not None]
        completed = [row for runs in models.values() for _, row in runs if row["status"] == "completed"]
        if not completed:
            continue
        first = completed[0]
        sign = -1 if first["metric"] in HIGHER_IS_BETTER else 1
        boards.append(Leaderboard(task, setting, first["metric"], first["chance"], first["metrics"]["chance_name"],
                                  first["baseline"], first["metrics"]["baseline_name"],
                                  sorted(entries, key=lambda entry: sign * entry.test_mean)))
    return boards


def compare(sweep: SweepConfig, store: ResultStore) -> list[Comparison]:
    """The sweep's rows in the store, grouped by task setting and model; the learning rate with the best mean
    validation score is chosen (an equal search for every model), and its test scores summarised."""
    configs = {config.key(): config for config in sweep.configs()}
    groups: dict[tuple[str, str, str], list[tuple[RunConfig, dict[str, Any]]]] = {}
    for row in store.runs():
        config = configs.get(row["key"])
        if config is not None:
            groups.setdefault((config.task, setting_of(config), config.model.mixer), []).append((config, row))
    summaries = (summarise(runs, sweep.param_budget) for runs in groups.values())
    return [summary for summary in summaries if summary is not None]


def protocol(sweep: SweepConfig) -> str:
    """The fairness protocol in words, printed with every sweep result."""
    train = TrainConfig(**sweep.train)
    budget = (f"each model sized by its width to {sweep.param_budget:,} parameters (+-10%)"
              if sweep.param_budget else f"every model at width {ModelConfig(mixer='rnn', **sweep.model).d_model}"
              " (parameter counts differ; set param_budget to match them)")
    rates = ", ".join(f"{rate:g}" for rate in sweep.lrs or [train.lr])
    limit = f" (or {train.time_budget:g} s of training, whichever ends first)" if train.time_budget else ""
    return (f"{budget}; {train.steps} steps{limit} of {train.batch_size} sequences for every model; AdamW, "
            f"{train.warmup:.0%} linear warm-up then cosine decay, clipping at {train.grad_clip}; the learning rate "
            f"chosen from [{rates}] by mean validation score (the same grid for every model); "
            f"{len(sweep.seeds)} seeds, mean and 95% t-interval of the test score")

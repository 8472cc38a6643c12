"""The settings of a run, a sweep and a comparison, validated, with every default stated once here: where results
go, the fair protocol's parameter budget and seeds, and the steps of a comparison."""

from __future__ import annotations

import inspect
import tomllib
from collections.abc import Iterator
from itertools import product
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from seqarena.catalog import LINE_UP
from seqarena.errors import ConfigError, describe_validation
from seqarena.models import MIXERS
from seqarena.settings import ModelConfig, PretrainConfig, RunConfig, TrainConfig
from seqarena.sizing import sized
from seqarena.tasks import DATA_LOADERS, TASKS


class Locations(BaseModel):
    """Where results go unless a command is told otherwise."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    store: Path = Path("results/seqarena.sqlite")
    checkpoints: Path = Path("results/checkpoints")
    report: Path = Path("results/report")


LOCATIONS = Locations()


class Fairness(BaseModel):
    """The fair protocol's shared settings: every model sized to one parameter budget, several seeds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seeds: list[int] = Field([0, 1, 2], min_length=1, description="comma-separated seeds (3 or more measure the "
                                                                   "noise)")
    param_budget: int | None = Field(50_000, gt=0, description="every model sized by its width to this many "
                                                               "parameters (+-10%)")


FAIRNESS = Fairness()


class TaskChoice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    options: dict[str, Any] = {}


def takes_length(task: str) -> bool:
    entry = TASKS.get(task) or DATA_LOADERS[task]
    return "length" in inspect.signature(entry.builder).parameters


class SweepConfig(BaseModel):
    """A grid of runs under one protocol: what a sweep file holds (YAML or TOML); unknown keys are refused by name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "sweep"
    models: list[str] = Field(min_length=1, description="comma-separated models, e.g. lstm,gru,transformer")
    tasks: list[str | TaskChoice] = Field(min_length=1, description="comma-separated tasks")
    seeds: list[int] = Field(FAIRNESS.seeds, min_length=1, description="comma-separated seeds")
    lengths: list[int] = Field([], description="comma-separated sequence lengths, the task option `length` of the "
                                               "tasks that take one (the long-range probes; default: the task's own)")
    fractions: list[float] = Field([], description="comma-separated fractions of the training split, e.g. 0.1,0.3,1 "
                                                   "(default: all of it)")
    lrs: list[float] = Field([], description="comma-separated learning rates, the same grid for every model "
                                             "(default: the training lr alone)")
    param_budget: int | None = Field(None, gt=0, description="size every model by its width to this many parameters "
                                                             "(+-10%; default: --d-model for every model)")
    # shared ModelConfig fields (not `mixer`) and TrainConfig fields (not `seed` or `lr`)
    model: dict[str, Any] = {}
    train: dict[str, Any] = {}
    # every run self-pretrains first (objective and steps, at the run's batch size and learning rate)
    pretrain: PretrainConfig | None = None

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

    @property
    def training(self) -> TrainConfig:
        return TrainConfig(**self.train)

    def task_choices(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for task in self.tasks:
            name, options = (task, {}) if isinstance(task, str) else (task.name, task.options)
            for length in (self.lengths if takes_length(name) else []) or [None]:
                yield name, options if length is None else {**options, "length": length}

    def configs(self) -> list[RunConfig]:
        """Every run of the grid, each model at the budgeted width for each task."""
        base_train = self.training
        runs = []
        for (task, options), model in product(self.task_choices(), self.models):
            model_config = ModelConfig(mixer=model, **self.model)
            if self.param_budget is not None:
                model_config = sized(task, options, model_config, self.param_budget).config
            for fraction, lr, seed in product(self.fractions or [1.0], self.lrs or [base_train.lr], self.seeds):
                train = base_train.model_copy(update={"lr": lr, "seed": seed})
                runs.append(RunConfig(task=task, task_options=options, model=model_config, train=train,
                                      train_fraction=fraction, param_budget=self.param_budget,
                                      pretrain=self.pretrain))
        return runs


def protocol(sweep: SweepConfig) -> str:
    """The fairness protocol in words, printed with every sweep result."""
    train = sweep.training
    budget = (f"each model sized by its width to {sweep.param_budget:,} parameters (+-10%)"
              if sweep.param_budget else f"every model at width {ModelConfig(mixer='rnn', **sweep.model).d_model}"
              " (parameter counts differ; set param_budget to match them)")
    rates = ", ".join(f"{rate:g}" for rate in sweep.lrs or [train.lr])
    limit = f" (or {train.time_budget:g} s of training, whichever ends first)" if train.time_budget else ""
    if train.patience:
        limit += (f", stopping early after {train.patience} validations ({train.patience * train.eval_every} steps) "
                  "without a better validation loss")
        if train.cooldown:
            limit += f" (then a {train.cooldown}-step linear decay of the learning rate to its floor)"
        limit += ", the best weights kept"
    pretraining = "" if sweep.pretrain is None else (
        f" after self-pretraining ({sweep.pretrain.describe()} steps, the same batch size): "
        f"{sweep.pretrain.steps + train.steps} steps in all, which the equal-compute arm without pretraining trains "
        "(`seqarena compare ... --equal-compute`)")
    return (f"{budget}; up to {train.steps} steps{limit} of {train.batch_size} sequences for every "
            f"model{pretraining}; "
            "AdamW, "
            f"{train.warmup:.0%} linear warm-up then cosine decay, clipping at {train.grad_clip}; the learning "
            f"rate chosen from [{rates}] by mean validation score (the same grid for every model); "
            f"{len(sweep.seeds)} seeds, mean and 95% t-interval of the test score")


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
    return validated(SweepConfig, data, str(file))


def validated(model: type[BaseModel], settings: dict[str, Any], what: str) -> Any:
    """The settings as `model`, or a ConfigError naming each offending field."""
    try:
        return model(**settings)
    except ValidationError as error:
        raise ConfigError(describe_validation(error, what)) from None


# the budget the CPU reference's leaderboards measured converged within (jobs.REFERENCE_CONVERGED_TRAIN)
COMPARE_EARLY_STOPPING = {"eval_every": 50, "patience": 4}


class CompareConfig(Fairness):
    """`seqarena compare` and `seqarena.compare()`: the fair line-up on one task or file."""

    models: list[str] = Field(list(LINE_UP), min_length=1, description="comma-separated models")
    # COMPARE_EARLY_STOPPING: a run on a small file ends when it has converged, not at the cap
    steps: int = Field(1000, gt=0, description="the step cap for every model; each run stops early after "
                                               f"{COMPARE_EARLY_STOPPING['patience']} validations "
                                               f"{COMPARE_EARLY_STOPPING['eval_every']} steps apart without a better "
                                               "loss (--patience, --eval-every)")
    lrs: list[float] = Field([], description="comma-separated learning-rate grid, e.g. 0.001,0.003 (default: the "
                                             f"training lr alone, {TrainConfig().lr:g})")
    device: str = Field(TrainConfig().device, description="torch device, e.g. cpu or cuda")
    # further TrainConfig fields (these win over steps and device)
    train: dict[str, Any] = {}
    # every model self-pretrains first, if set; with equal_compute, none does and each trains that many steps more
    pretrain: PretrainConfig | None = None
    equal_compute: bool = Field(False, description="with --pretrain: the arm without pretraining, each model "
                                                   "trained --pretrain-steps more steps")
    # None: as many folds as the series allows up to DEFAULT_FOLDS for a forecasting task, one otherwise
    folds: int | None = Field(None, ge=1, description="forecasting: a rolling-origin backtest over this many test "
                                                      "periods, the last one the plain split's (default: up to 3, as "
                                                      "the series allows); models are compared by a paired t-test "
                                                      "over folds")

    @model_validator(mode="after")
    def arm_needs_pretraining(self) -> CompareConfig:
        if self.equal_compute and self.pretrain is None:
            raise ValueError("equal_compute is the arm without pretraining beside a pretrained one: give pretrain too")
        return self

    def task_entries(self, task: str, options: dict[str, Any]) -> list[dict[str, Any]]:
        """The task once, or once per backtest fold."""
        if (self.folds or 1) == 1:
            return [{"name": task, "options": options}]
        return [{"name": task, "options": {**options, "fold": fold, "folds": self.folds}} for fold in range(self.folds)]

    def sweep(self, task: str, options: dict[str, Any]) -> SweepConfig:
        """The line-up's sweep; a next-step pretrained arm and its equal-compute arm build every model causal."""
        pretrain, steps = self.pretrain, self.steps
        if self.equal_compute:
            pretrain, steps = None, self.steps + self.pretrain.steps
        causal = self.pretrain is not None and self.pretrain.objective == "next"
        return validated(SweepConfig, {
            "name": f"compare:{task}", "models": self.models, "tasks": self.task_entries(task, options),
            "seeds": self.seeds, "lrs": self.lrs, "param_budget": self.param_budget, "pretrain": pretrain,
            "model": {"causal": True} if causal else {},
            "train": {"steps": steps, "device": self.device, **COMPARE_EARLY_STOPPING, **self.train}},
            "comparison settings")


def default(model: type[BaseModel], name: str) -> Any:
    """A field's default, for command-line options and function signatures that restate it."""
    field = model.model_fields[name]
    return field.default_factory() if field.default_factory is not None else field.default

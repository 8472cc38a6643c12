"""Self-pretraining against training from scratch (Amos et al. 2023, "Never Train from Scratch"): per model and
task, the fine-tuned test score in three arms, each a sweep with the same seeds, learning-rate grid and parameter
budget:

- scratch: `steps` of training from random weights;
- pretrained: `pretrain_steps` of self-pretraining on the task's own training inputs, then `steps` of fine-tuning;
- equal compute: `pretrain_steps + steps` of training from random weights, the arm the pretrained one must beat
  for pretraining (rather than more steps) to be the cause.

With the next-step objective every model is built causal in every arm, so the arms differ only in pretraining."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from seqarena.config import SweepConfig
from seqarena.measure import Measurement
from seqarena.measure.learning import Grid, GridOptions, scored
from seqarena.results.comparisons import Comparison
from seqarena.results.measurements import PretrainingPoint
from seqarena.settings import Objective, TrainConfig
from seqarena.tasks import DATA_LOADERS, TASKS

ARMS = ("scratch", "pretrained", "equal_compute")


class PretrainingOptions(GridOptions):
    # a long-range probe and two real tasks (a probe, vision as a sequence, text)
    tasks: list[str] = Field(["adding", "digits", "kjv_divisions"], min_length=1)
    # options per task name (the inherited task_options is not used: each task has its own)
    task_settings: dict[str, dict[str, Any]] = {"adding": {"length": 200}, "kjv_divisions": {"max_bytes": 128}}
    objective: Objective = "next"
    pretrain_steps: int = Field(300, gt=0)

    @field_validator("tasks")
    @classmethod
    def known_tasks(cls, tasks: list[str]) -> list[str]:
        unknown = [task for task in tasks if task not in TASKS and task not in DATA_LOADERS]
        if unknown:
            raise ValueError(f"unknown task {unknown[0]!r}; choose from {', '.join(TASKS)}")
        return tasks

    def arm(self, arm: str, models: list[str], task: str) -> SweepConfig:
        """One arm's sweep on one task; the next-step objective makes every arm's models causal."""
        steps = TrainConfig(**self.train).steps
        train = {**self.train, "steps": steps + self.pretrain_steps} if arm == "equal_compute" else self.train
        pretrain = {"objective": self.objective, "steps": self.pretrain_steps} if arm == "pretrained" else None
        choice = {"name": task, "options": self.task_settings.get(task, {})}
        return SweepConfig(name=f"pretraining:{arm}", models=models, seeds=self.seeds, lrs=self.lrs,
                           param_budget=self.param_budget, tasks=[choice], train=train,
                           model={"causal": True} if self.objective == "next" else {}, pretrain=pretrain)


def pretraining(models: list[str], options: PretrainingOptions, grid: Grid) -> list[PretrainingPoint]:
    """Every model on every task in the three arms: mean test score, its 95% interval and the seeds' scores."""
    rows = []
    for task in options.tasks:
        for arm in ARMS:
            sweep = options.arm(arm, models, task)
            rows += [point(item, task, arm, options, sweep) for item in sorted(grid(sweep), key=lambda c: c.model)]
    return rows


def point(item: Comparison, task: str, arm: str, options: PretrainingOptions, sweep: SweepConfig) -> PretrainingPoint:
    return PretrainingPoint(**scored(item, task), arm=arm, objective=options.objective,
                            pretrain_steps=options.pretrain_steps if arm == "pretrained" else 0,
                            train_steps=sweep.training.steps)


MEASUREMENTS = (
    Measurement("pretraining", "fine-tuned test score with self-pretraining, from scratch, and from scratch "
                "with the same total steps, per model and task (Amos et al. 2023)", PretrainingOptions, pretraining,
                ("lstm", "gru", "transformer"), trains=True),
)

"""The settings of one run as plain validated schemas: the model's, the training's, self-pretraining's and the
run's that holds them, with the fair protocol's budget tolerance. They import nothing of the models, tasks or
trainer, so the reading side (records, statistics, claims, report) can read a stored run's config without the
training stack (docs/architecture.md, "Layers"). Which mixer or task a name means is checked where runs are built."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Positional = Literal["sinusoidal", "learned", "rope", "alibi", "none"]
Objective = Literal["next", "masked"]
# a model sized to a parameter budget is within it at +-10% (the Long Range Arena rule)
BUDGET_TOLERANCE = 0.1


def within_budget(params: int, budget: int) -> bool:
    return abs(params - budget) <= BUDGET_TOLERANCE * budget


class ModelConfig(BaseModel):
    """The model half of a run's config; `options` go to the mixer's own config (e.g. n_heads, impl)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mixer: str
    d_model: int = 64
    n_layers: int = 2
    ffn_mult: int = 2
    dropout: float = 0.0
    positional: Positional | None = None
    causal: bool | None = None
    # None: the mixer family's own layout (reversible and chunked feed-forward for the Reformer)
    reversible: bool | None = None
    # positions per feed-forward chunk; outside a reversible stack, training recomputes each chunk in backward
    ffn_chunk_size: int | None = Field(None, gt=0)
    options: dict[str, Any] = {}


class TrainConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: int = Field(300, gt=0)
    batch_size: int = Field(32, gt=0)
    lr: float = Field(3e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    # fraction of the steps spent warming the learning rate up linearly from zero
    warmup: float = Field(0.05, ge=0, lt=1)
    # the cosine schedule decays to lr * min_lr_ratio
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    grad_clip: float | None = Field(1.0, gt=0)
    eval_every: int = Field(100, gt=0)
    # stop after this many evaluations without a better validation loss; None trains all steps
    patience: int | None = Field(None, gt=0)
    # "bf16": the forward pass under bfloat16 autocast (weights, gradients and the optimiser's state stay float32);
    # None trains in float32
    precision: Literal["bf16"] | None = None
    seed: int = 0
    device: str = "cpu"
    # a wall-clock budget in seconds of training steps (evaluation excluded): the run ends at whichever of
    # `steps` and this comes first, and the cosine schedule follows whichever is nearer its end. Runs with a
    # time budget depend on the machine's speed, so they are not bit-for-bit reproducible.
    time_budget: float | None = Field(None, gt=0)
    # split each batch into micro-batches of this size and accumulate their gradients (None: the whole batch);
    # an out-of-memory error halves it, so the effective batch stays batch_size
    micro_batch_size: int | None = Field(None, gt=0)


class PretrainConfig(BaseModel):
    """Self-pretraining before a run's training: the objective, its steps (at the run's batch size and learning
    rate), and where the inputs come from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    objective: Objective
    steps: int = Field(gt=0)
    # a task or file loader whose training inputs are the corpus; None: the run's own task (self-pretraining)
    corpus: str | None = None
    corpus_options: dict[str, Any] = {}
    # masked objective: the share of positions masked, in spans of this mean length (T5: 15%, 3)
    mask_ratio: float = Field(0.15, gt=0, lt=1)
    mean_span: int = Field(3, ge=1)

    def describe(self) -> str:
        source = "the task's own training inputs" if self.corpus is None else f"the training inputs of {self.corpus}"
        return f"{self.objective} x{self.steps} on {source}"


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
    # self-pretraining of the backbone before training (seqarena.pretraining), if any
    pretrain: PretrainConfig | None = None
    # a folder of a pretrained backbone (`seqarena pretrain --save`) to start from, if any
    init: str | None = None

    def key(self) -> str:
        """A deterministic name for this exact run: the same config always gives the same key. The micro-batch
        size is left out: accumulation gives the same run, and out of memory may change it mid-run. Unset (None)
        settings are left out too, so a new optional setting does not rename every stored run."""
        settings = self.model_dump(mode="json", exclude={"train": {"micro_batch_size"}}, exclude_none=True)
        canonical = json.dumps(settings, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def setting(self) -> str:
        """The set-up in words, all but the model, its width, learning rate and seed (what a leaderboard groups by,
        so runs of different set-ups are never pooled): task options, training fraction, model settings that
        differ from the defaults, and the training budget."""
        return self.shared_setting(self.model_setting())

    def model_setting(self) -> str:
        """The model settings that differ from the defaults (mixer, width and options aside), in words."""
        model = self.model.model_dump(exclude_defaults=True, exclude={"mixer", "d_model", "options"})
        return ", ".join(f"{name}={value}" for name, value in sorted(model.items()))

    def shared_setting(self, model_setting: str = "") -> str:
        """The set-up in words with `model_setting` in its place (the report's table caption leaves it out: one
        table holds the variants of a model that share the rest)."""
        parts = [f"{name}={value}" for name, value in self.task_options.items()]
        parts += [f"fraction={self.train_fraction:g}"] if self.train_fraction < 1 else []
        parts += [model_setting] if model_setting else []
        parts += [f"pretrain={self.pretrain.describe()}"] if self.pretrain else []
        parts += [f"init={Path(self.init).name}"] if self.init else []
        parts += [f"steps={self.train.steps}", f"batch={self.train.batch_size}"]
        return ", ".join(parts)

    def label(self) -> str:
        extras = [f"{name}={value}" for name, value in self.task_options.items()]
        if self.train_fraction < 1:
            extras.append(f"fraction={self.train_fraction:g}")
        extras += [f"lr={self.train.lr:g}", f"seed={self.train.seed}"]
        return f"{self.model.mixer} on {self.task} ({', '.join(extras)})"

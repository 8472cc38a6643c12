"""The settings of one run as plain validated schemas: the model's, the training's, self-pretraining's and the
run's that holds them, with the fair protocol's budget tolerance. They import nothing of the models, tasks or
trainer, so the reading side (records, statistics, claims, report) can read a stored run's config without the
training stack (docs/architecture.md, "Layers"). Which mixer or task a name means is checked where runs are built."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Positional = Literal["sinusoidal", "learned", "rope", "alibi", "none"]
Objective = Literal["next", "masked"]
# a model sized to a parameter budget is within it at +-10% (the Long Range Arena rule)
BUDGET_TOLERANCE = 0.1


def within_budget(params: int, budget: int) -> bool:
    return abs(params - budget) <= BUDGET_TOLERANCE * budget


class ModelConfig(BaseModel):
    """The model half of a run's config; `options` go to the mixer's own config (e.g. n_heads, impl). Each field's
    description is its command-line help (cli/options.py generates the options)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mixer: str = Field(description="model name (see `seqarena models`)")
    d_model: int = Field(64, gt=0, description="model width")
    n_layers: int = Field(2, gt=0, description="number of blocks")
    ffn_mult: int = Field(2, gt=0, description="feed-forward width as a multiple of d_model")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout after the mixer and the feed-forward")
    positional: Positional | None = Field(None, description="sinusoidal, learned, rope, alibi or none (default: the "
                                                            "mixer family's own)")
    causal: bool | None = Field(None, description="force causal or bidirectional (default: what the task needs)")
    reversible: bool | None = Field(None, description="reversible blocks (default: the mixer family's own layout, "
                                                      "reversible for the Reformer)")
    ffn_chunk_size: int | None = Field(None, gt=0, description="positions per feed-forward chunk; outside a "
                                                               "reversible stack, training recomputes each chunk")
    options: dict[str, Any] = Field({}, description="mixer option KEY=VALUE, e.g. n_heads=8, attention=naive, "
                                                    "impl=cell")


class TrainConfig(BaseModel):
    """The trainer's settings; each field's description is its command-line help."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: int = Field(300, gt=0, description="optimiser steps")
    batch_size: int = Field(32, gt=0, description="sequences per step")
    lr: float = Field(3e-3, gt=0, description="peak learning rate (AdamW)")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    warmup: float = Field(0.05, ge=0, lt=1, description="share of the steps warming the learning rate up "
                                                        "linearly from zero")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="the cosine schedule decays to lr x this")
    grad_clip: float | None = Field(1.0, gt=0, description="clip the gradient's norm to this")
    eval_every: int = Field(100, gt=0, description="steps between validations")
    patience: int | None = Field(None, gt=0, description="stop after this many validations without a better "
                                                         "validation loss (default: train all steps)")
    cooldown: int | None = Field(None, gt=0, description="with patience: when it runs out, decay the learning rate "
                                                         "linearly to lr x min_lr_ratio over this many steps, then "
                                                         "stop (a run ended early at a high rate has not annealed; "
                                                         "default: stop at once)")
    precision: Literal["bf16"] | None = Field(None, description="bf16: the forward pass under bfloat16 autocast "
                                                                "(weights, gradients and optimiser state stay "
                                                                "float32); default float32")
    seed: int = Field(0, description="seed for weights, data order and dropout")
    device: str = Field("cpu", description="torch device, e.g. cpu or cuda")
    time_budget: float | None = Field(None, gt=0, description="seconds of training steps (evaluation excluded): the "
                                                              "run ends at whichever of steps and this comes first; "
                                                              "not bit-for-bit reproducible")
    micro_batch_size: int | None = Field(None, gt=0, description="accumulate gradients over micro-batches of this "
                                                                 "size (out of memory halves it; the effective "
                                                                 "batch stays batch_size)")

    @model_validator(mode="after")
    def cooldown_follows_patience(self) -> TrainConfig:
        if self.cooldown is not None and self.patience is None:
            raise ValueError("cooldown starts when patience runs out: set patience too")
        return self


class PretrainConfig(BaseModel):
    """Self-pretraining before a run's training: the objective, its steps (at the run's batch size and learning
    rate), and where the inputs come from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    objective: Objective = Field(description="next: predict each next token or frame (GPT-style, causal model); "
                                             "masked: reconstruct masked spans (BERT/T5-style)")
    steps: int = Field(300, gt=0, description="pretraining steps")
    corpus: str | None = Field(None, description="a task whose training inputs are the pretraining corpus (default: "
                                                  "the run's own task: self-pretraining)")
    corpus_options: dict[str, Any] = {}
    mask_ratio: float = Field(0.15, gt=0, lt=1, description="masked: share of positions hidden (T5: 0.15)")
    mean_span: int = Field(3, ge=1, description="masked: positions per hidden span (T5: 3)")

    def describe(self) -> str:
        source = "the task's own training inputs" if self.corpus is None else f"the training inputs of {self.corpus}"
        return f"{self.objective} x{self.steps} on {source}"


class RunConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str
    task_options: dict[str, Any] = {}
    model: ModelConfig
    train: TrainConfig = TrainConfig()
    train_fraction: float = Field(1.0, gt=0, le=1, description="train on this fraction of the training split (a "
                                                               "fixed, stratified subset: learning curves)")
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
        differ from the defaults, and the training budget (steps, batch and early-stopping patience)."""
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
        parts += [f"patience={self.train.patience}"] if self.train.patience else []
        parts += [f"cooldown={self.train.cooldown}"] if self.train.cooldown else []
        return ", ".join(parts)

    def label(self) -> str:
        extras = [f"{name}={value}" for name, value in self.task_options.items()]
        if self.train_fraction < 1:
            extras.append(f"fraction={self.train_fraction:g}")
        extras += [f"lr={self.train.lr:g}", f"seed={self.train.seed}"]
        return f"{self.model.mixer} on {self.task} ({', '.join(extras)})"

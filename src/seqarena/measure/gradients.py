"""Gradient flow through time: ||dL/dh_t|| at every position t for a loss at the last step, where h_t is the
model's input representation at t (the embedding, before the first block). For a recurrent network this is the
classic vanishing/exploding-gradient picture (Bengio et al. 1994; Pascanu et al. 2013): the norm shrinks or grows
by a factor per step back in time. Attention reaches every position in one hop, so its profile need not decay."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from seqarena.catalog import RECURRENT_AND_LINE_UP
from seqarena.measure import Measurement
from seqarena.models import build_model
from seqarena.models.blocks import SequenceModel
from seqarena.results.measurements import GradientProfile
from seqarena.settings import ModelConfig, TrainConfig
from seqarena.spec import TaskSpec
from seqarena.tasks import load_task
from seqarena.train import fit, seed_everything


def gradient_profile(mix: Callable[[Tensor], Tensor], embedded: Tensor,
                     loss_of: Callable[[Tensor], Tensor]) -> Tensor:
    """Mean over the batch of ||dL/dh_t|| for t = 1..T: `mix` maps h (B, T, D) to states (B, T, D) and
    `loss_of` those states to the scalar loss."""
    h = embedded.detach().requires_grad_()
    loss_of(mix(h)).backward()
    # (B, T, D) -> (T,)
    return h.grad.norm(dim=-1).mean(0)


@dataclass(frozen=True)
class Decay:
    """norm_t ~ c * rate^(T - t): `rate` is the factor per step back in time, fitted in log space over the
    positions whose gradient is not exactly zero; `ratio` is norm at t = 1 over norm at t = T."""

    rate: float
    ratio: float
    nonzero: int


def fit_decay(norms: np.ndarray) -> Decay:
    distance = np.arange(len(norms))[::-1]
    keep = norms > 0
    ratio = float(norms[0] / norms[-1]) if norms[-1] > 0 else math.nan
    if keep.sum() < 2:
        return Decay(math.nan, ratio, int(keep.sum()))
    slope = np.polyfit(distance[keep], np.log(norms[keep]), 1)[0]
    return Decay(float(np.exp(slope)), ratio, int(keep.sum()))


def model_profile(model: SequenceModel, batch: dict[str, Tensor]) -> np.ndarray:
    """The task loss's gradient profile for a causal model whose head reads the last position."""
    mask = batch.get("mask")
    was_training = model.training
    model.eval()
    embedded = model.embed_input(batch["x"], offset=0)
    norms = gradient_profile(lambda h: model.mix(h, mask), embedded,
                             lambda states: model.head.loss(model.head(states, mask), batch["y"], mask))
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return norms.detach().numpy()


class AddingProbeOptions(BaseModel):
    """A small causal model per mixer and seed on the adding problem: what the gradient and stability measurements
    share."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    length: int = Field(100, gt=1)
    d_model: int = Field(32, gt=0)
    layers: int = Field(1, gt=0)
    batch: int = Field(32, gt=0)
    # one row per seed: verdicts are judged over seeds
    seeds: list[int] = Field([0, 1, 2], min_length=1)

    def model(self, mixer: str, spec: TaskSpec, seed: int) -> SequenceModel:
        """The mixer's causal model for the probe, its weights drawn from `seed`."""
        seed_everything(seed)
        return build_model(spec, ModelConfig(mixer=mixer, d_model=self.d_model, n_layers=self.layers, causal=True))


class GradientOptions(AddingProbeOptions):
    # optimiser steps on the adding problem between the two profiles
    steps: int = Field(200, ge=0)
    lr: float = Field(3e-3, gt=0)


def gradients(models: list[str], options: GradientOptions) -> list[GradientProfile]:
    """For each model, built causal on the adding problem (whose loss is read at the last step): the gradient
    profile at initialisation and after `steps` of training, with the fitted decay per step and the ratio."""
    task = load_task("adding", length=options.length)
    probe = task.train.batch(torch.arange(min(256, len(task.train))))
    rows = []
    for model_name in models:
        for seed in options.seeds:
            model = options.model(model_name, task.spec, seed)
            stages = [("init", model_profile(model, probe))]
            if options.steps:
                config = TrainConfig(steps=options.steps, batch_size=options.batch, lr=options.lr,
                                     eval_every=options.steps, seed=seed)
                fit(model, task.batches(options.batch, torch.Generator().manual_seed(seed)),
                    lambda m: task.evaluate(m, "val"), config, on_step=lambda step, loss: None)
                stages.append(("trained", model_profile(model, probe)))
            for stage, norms in stages:
                decay = fit_decay(norms)
                rows.append(GradientProfile(model_name, stage, options.length, options.steps, decay.rate,
                                            decay.ratio, decay.nonzero, norms.tolist(), seed))
    return rows


MEASUREMENTS = (
    Measurement("gradients", "||dL/dh_t|| over t for a loss at the last step, at initialisation and after "
                "training, with the fitted decay per step", GradientOptions, gradients, RECURRENT_AND_LINE_UP),
)

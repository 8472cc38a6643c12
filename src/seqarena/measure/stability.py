"""Training stability: exploding gradients with and without clipping (Pascanu et al. 2013, sec. 3.2). Each model
is trained with plain SGD on the causal adding problem at each learning rate of a grid, once with the gradient's
norm clipped and once without, per seed, the transformer beside the recurrent models as the reference without a
recurrence; every step's total gradient norm (before clipping) is kept, so a spike of
orders of magnitude, or a loss that is no longer finite, shows as it happens."""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from pydantic import Field

from seqarena.catalog import RECURRENT
from seqarena.measure import Measurement
from seqarena.measure.gradients import AddingProbeOptions
from seqarena.results.measurements import StabilityRun
from seqarena.tasks import load_task

# a step's gradient norm this many times the run's median is a spike
SPIKE = 100.0


class StabilityOptions(AddingProbeOptions):
    steps: int = Field(100, gt=0)
    # plain SGD at each rate: at 0.05 the unclipped Elman RNN diverges within 10 steps (3 seeds), at 0.02 not
    lrs: list[float] = Field([0.05], min_length=1)
    clip: float = Field(1.0, gt=0)


def train_sgd(model: torch.nn.Module, task, options: StabilityOptions, lr: float, clip: float | None,
              seed: int) -> tuple[list[float], bool]:
    """SGD steps on the task; each step's total gradient norm before clipping, and whether the loss diverged."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    batches = task.batches(options.batch, torch.Generator().manual_seed(seed))
    norms: list[float] = []
    for _ in range(options.steps):
        optimizer.zero_grad(set_to_none=True)
        loss = model(next(batches))
        if not torch.isfinite(loss):
            return norms, True
        loss.backward()
        norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), math.inf if clip is None else clip))
        norms.append(norm)
        if not math.isfinite(norm):
            return norms, True
        optimizer.step()
    return norms, False


def stability(models: list[str], options: StabilityOptions) -> list[StabilityRun]:
    task = load_task("adding", length=options.length, n_val=256, n_test=256)
    rows = []
    for name in models:
        for lr, clip, seed in itertools.product(options.lrs, (None, options.clip), options.seeds):
            model = options.model(name, task.spec, seed)
            norms, diverged = train_sgd(model, task, options, lr, clip, seed)
            median = float(np.median(norms)) if norms else math.nan
            val = math.nan if diverged else task.evaluate(model, "val")["loss"]
            rows.append(StabilityRun(name, seed, clip is not None, lr, len(norms), median,
                                     max(norms, default=math.nan), sum(norm > SPIKE * median for norm in norms),
                                     diverged, val, task.spec.chance))
    return rows


MEASUREMENTS = (
    Measurement("stability", "exploding gradients: SGD at a large learning rate with and without clipping, "
                "per seed: gradient-norm spikes, divergence, final validation loss", StabilityOptions, stability,
                (*RECURRENT, "transformer")),
)

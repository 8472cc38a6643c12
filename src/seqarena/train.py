"""The trainer. It sees `loss = model(batch)` and an `evaluate(model)` callback, and nothing of any family; progress
reaches the caller through `on_step`."""

from __future__ import annotations

import copy
import math
import random
import resource
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from seqarena.checkpoint import Checkpoints, TrainState
from seqarena.errors import DataError
from seqarena.settings import TrainConfig


@dataclass
class TrainResult:
    steps: int
    best_step: int
    best_val: dict[str, float]
    train_seconds: float
    tokens_per_second: float
    peak_memory_bytes: int
    peak_memory_kind: str
    diverged: bool
    stopped_early: bool
    history: list[dict[str, float]] = field(default_factory=list)
    micro_batch_size: int = 0
    resumed_from: int = 0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def learning_rate(step: int, cfg: TrainConfig, elapsed: float = 0.0) -> float:
    """Linear warm-up to cfg.lr, then cosine decay to cfg.lr * min_lr_ratio (Loshchilov & Hutter 2017); with a
    time budget, the decay's progress is the larger of the step and time fractions."""
    warmup_steps = int(cfg.warmup * cfg.steps)
    if step < warmup_steps:
        return cfg.lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, cfg.steps - warmup_steps)
    if cfg.time_budget is not None:
        progress = min(1.0, max(progress, elapsed / cfg.time_budget))
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def cooldown_rate(step: int, cfg: TrainConfig, start: int, start_lr: float) -> float:
    """After patience ran out at `start`: linear decay from the rate then, `start_lr`, to cfg.lr * min_lr_ratio
    at the last of cfg.cooldown steps (the decay phase of the warmup-stable-decay schedule, Hu et al. 2024, MiniCPM)."""
    floor = cfg.lr * cfg.min_lr_ratio
    left = max(0.0, 1 - (step + 1 - start) / cfg.cooldown)
    return floor + (max(start_lr, floor) - floor) * left


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only; biases, norms and 1-d parameters are not decayed."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr)


def peak_memory(device: str) -> tuple[int, str]:
    """Peak allocated tensor memory on CUDA; on CPU the process's peak resident set, labelled as such."""
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated(device), "cuda_max_memory_allocated"
    # ru_maxrss is in KiB on Linux, bytes on macOS
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale, "process_peak_rss"


def count_tokens(batch: dict[str, Tensor]) -> int:
    mask = batch.get("mask")
    return int(mask.sum()) if mask is not None else batch["x"].shape[0] * batch["x"].shape[1]


def autocast(cfg: TrainConfig) -> torch.autocast:
    """The forward pass's precision: bfloat16 autocast with cfg.precision "bf16", else a no-op."""
    return torch.autocast(torch.device(cfg.device).type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")


def accumulate(model: nn.Module, batch: dict[str, Tensor], micro_batch_size: int, cfg: TrainConfig) -> float:
    """Backward through the batch in micro-batches, each loss weighted by its share of the sequences, so the
    gradient is the whole batch's; returns the batch loss (NaN as soon as a micro-batch's loss is not finite)."""
    size = batch["x"].shape[0]
    total = 0.0
    for start in range(0, size, micro_batch_size):
        chunk = {name: value[start:start + micro_batch_size] for name, value in batch.items()}
        with autocast(cfg):
            loss = model(chunk).float() * (chunk["x"].shape[0] / size)
        if not torch.isfinite(loss):
            return math.nan
        loss.backward()
        total += loss.item()
    return total


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, batch: dict[str, Tensor], cfg: TrainConfig,
               state: TrainState) -> float:
    """One optimiser step on one batch; out of memory halves the micro-batch and retries the same batch."""
    while True:
        optimizer.zero_grad(set_to_none=True)
        try:
            loss = accumulate(model, batch, state.micro_batch_size, cfg)
            break
        except torch.OutOfMemoryError:
            if state.micro_batch_size == 1:
                raise
            state.micro_batch_size = max(1, state.micro_batch_size // 2)
            optimizer.zero_grad(set_to_none=True)
            if cfg.device.startswith("cuda"):
                torch.cuda.empty_cache()
    if math.isfinite(loss):
        if cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
    return loss


@dataclass
class Session:
    """One fit() call's moving parts: the model and optimiser, the counters, and the best weights so far."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    cfg: TrainConfig
    state: TrainState
    best_weights: dict[str, Tensor] | None = None

    def step(self, batch: dict[str, Tensor]) -> float:
        """One timed optimiser step at the scheduled learning rate; counts it unless the loss is not finite."""
        batch = {name: value.to(self.cfg.device) for name, value in batch.items()}
        started = time.perf_counter()
        for group in self.optimizer.param_groups:
            group["lr"] = self.rate()
        loss = train_step(self.model, self.optimizer, batch, self.cfg, self.state)
        if not math.isfinite(loss):
            return loss
        if self.cfg.device.startswith("cuda"):
            torch.cuda.synchronize(self.cfg.device)
        self.state.train_seconds += time.perf_counter() - started
        self.state.tokens += count_tokens(batch)
        self.state.step += 1
        return loss

    def rate(self) -> float:
        state = self.state
        if state.cooldown_from is None:
            return learning_rate(state.step, self.cfg, state.train_seconds)
        return cooldown_rate(state.step, self.cfg, state.cooldown_from, state.cooldown_lr)

    @property
    def out_of_time(self) -> bool:
        return self.cfg.time_budget is not None and self.state.train_seconds >= self.cfg.time_budget

    def validate(self, evaluate: Callable[[nn.Module], dict[str, float]], record: dict[str, float]) -> None:
        """Score on validation; keep the weights when the validation loss is the best so far."""
        val = evaluate(self.model)
        record.update({f"val_{name}": value for name, value in val.items()})
        if val["loss"] < self.state.best_val["loss"]:
            self.state.best_val, self.state.best_step, self.state.evals_since_best = val, self.state.step, 0
            self.best_weights = copy.deepcopy(self.model.state_dict())
        else:
            self.state.evals_since_best += 1

    @property
    def cooldown_over(self) -> bool:
        return self.state.cooldown_from is not None and self.state.step >= self.state.cooldown_from + self.cfg.cooldown

    @property
    def evaluation_due(self) -> bool:
        return (self.state.step % self.cfg.eval_every == 0 or self.state.step == self.cfg.steps or self.out_of_time
                or self.cooldown_over)

    @property
    def patience_ran_out(self) -> bool:
        return self.cfg.patience is not None and self.state.evals_since_best >= self.cfg.patience

    def begin_cooldown_if_due(self) -> None:
        """With a cooldown, patience running out starts the learning rate's decay instead of stopping."""
        if self.cfg.cooldown and self.state.cooldown_from is None and self.patience_ran_out:
            self.state.cooldown_from, self.state.cooldown_lr = self.state.step, self.rate()

    @property
    def should_stop(self) -> bool:
        if self.out_of_time:
            return True
        if self.state.cooldown_from is not None:
            return self.cooldown_over
        return self.patience_ran_out and not self.cfg.cooldown


def start(model: nn.Module, cfg: TrainConfig, checkpoints: Checkpoints | None,
          batches: Iterator[dict[str, Tensor]]) -> Session:
    """A fresh session, or the newest checkpoint's that loads (skipping the batches it had drawn)."""
    model.to(cfg.device).train()
    if cfg.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(cfg.device)
    fresh = TrainState(micro_batch_size=cfg.micro_batch_size or cfg.batch_size)
    folders = checkpoints.newest_first() if checkpoints is not None else []
    initial = copy.deepcopy(model.state_dict()) if folders else None
    for folder in folders:
        session = Session(model, make_optimizer(model, cfg), cfg, fresh)
        try:
            session.state, session.best_weights = checkpoints.load(model, session.optimizer, folder)
        except DataError as error:
            warnings.warn(f"{error}; trying an older checkpoint", stacklevel=2)
            model.load_state_dict(initial)
            continue
        for _ in range(session.state.step):
            next(batches)
        return session
    return Session(model, make_optimizer(model, cfg), cfg, fresh)


def fit(model: nn.Module, batches: Iterator[dict[str, Tensor]], evaluate: Callable[[nn.Module], dict[str, float]],
        cfg: TrainConfig, checkpoints: Checkpoints | None = None,
        on_step: Callable[[int, float], None] | None = None) -> TrainResult:
    """Train with AdamW, warm-up + cosine, clipping and early stopping on the validation loss (at once, or after a
    cooldown of the learning rate).

    `evaluate(model)` returns a dict with at least "loss"; the best-validation weights are restored at the end.
    With `checkpoints`, training resumes from the newest checkpoint and saves one every `checkpoints.every`
    steps. `on_step(step, loss)` is told of every step (a caller's progress bar, a sweep's events).
    """
    session = start(model, cfg, checkpoints, batches)
    resumed_from, diverged, stopped_early = session.state.step, False, False
    while session.state.step < cfg.steps:
        loss = session.step(next(batches))
        if not math.isfinite(loss):
            diverged = True
            break
        if on_step is not None:
            on_step(session.state.step, loss)
        record = {"step": session.state.step, "loss": loss, "lr": session.optimizer.param_groups[0]["lr"]}
        if session.evaluation_due:
            session.validate(evaluate, record)
            session.begin_cooldown_if_due()
        session.state.history.append(record)
        if session.should_stop:
            stopped_early = True
            break
        if checkpoints is not None and session.state.step % checkpoints.every == 0 and session.state.step < cfg.steps:
            checkpoints.save(model, session.best_weights, session.optimizer, session.state)
    return finish(session, resumed_from, diverged, stopped_early)


def finish(session: Session, resumed_from: int, diverged: bool, stopped_early: bool) -> TrainResult:
    """Restore the best-validation weights and report the run."""
    if session.best_weights is not None:
        session.model.load_state_dict(session.best_weights)
    state = session.state
    memory, memory_kind = peak_memory(session.cfg.device)
    return TrainResult(
        steps=state.step, best_step=state.best_step, best_val=state.best_val, train_seconds=state.train_seconds,
        tokens_per_second=state.tokens / state.train_seconds if state.train_seconds else 0.0,
        peak_memory_bytes=memory, peak_memory_kind=memory_kind, diverged=diverged,
        stopped_early=stopped_early, history=state.history, micro_batch_size=state.micro_batch_size,
        resumed_from=resumed_from,
    )

"""The trainer. It sees `loss = model(batch)` and an `evaluate(model)` callback, and nothing of any family."""

from __future__ import annotations

import copy
import math
import random
import resource
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import Tensor, nn

from seqarena.checkpoint import Checkpoints, TrainState


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
    seed: int = 0
    device: str = "cpu"
    # a wall-clock budget in seconds of training steps (evaluation excluded): the run ends at whichever of
    # `steps` and this comes first, and the cosine schedule follows whichever is nearer its end. Runs with a
    # time budget depend on the machine's speed, so they are not bit-for-bit reproducible.
    time_budget: float | None = Field(None, gt=0)
    # split each batch into micro-batches of this size and accumulate their gradients (None: the whole batch);
    # an out-of-memory error halves it, so the effective batch stays batch_size
    micro_batch_size: int | None = Field(None, gt=0)


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


def make_progress() -> Progress:
    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"), TimeRemainingColumn(),
        console=console, disable=not console.is_terminal, transient=True,
    )


def count_tokens(batch: dict[str, Tensor]) -> int:
    mask = batch.get("mask")
    return int(mask.sum()) if mask is not None else batch["x"].shape[0] * batch["x"].shape[1]


def accumulate(model: nn.Module, batch: dict[str, Tensor], micro_batch_size: int) -> float:
    """Backward through the batch in micro-batches, each loss weighted by its share of the sequences, so the
    gradient is the whole batch's; returns the batch loss (NaN as soon as a micro-batch's loss is not finite)."""
    size = batch["x"].shape[0]
    total = 0.0
    for start in range(0, size, micro_batch_size):
        chunk = {name: value[start:start + micro_batch_size] for name, value in batch.items()}
        loss = model(chunk) * (chunk["x"].shape[0] / size)
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
            loss = accumulate(model, batch, state.micro_batch_size)
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


def fit(model: nn.Module, batches: Iterator[dict[str, Tensor]], evaluate: Callable[[nn.Module], dict[str, float]],
        cfg: TrainConfig, description: str = "training", checkpoints: Checkpoints | None = None,
        on_step: Callable[[int, float], None] | None = None) -> TrainResult:
    """Train with AdamW, warm-up + cosine, clipping and early stopping on the validation loss.

    `evaluate(model)` returns a dict with at least "loss"; the best-validation weights are restored at the end.
    With `checkpoints`, training resumes from the newest checkpoint (skipping the batches it had drawn) and
    saves one every `checkpoints.every` steps. `on_step(step, loss)` replaces the progress bar.
    """
    model.to(cfg.device).train()
    if cfg.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(cfg.device)
    optimizer = make_optimizer(model, cfg)
    state, best_state = TrainState(micro_batch_size=cfg.micro_batch_size or cfg.batch_size), None
    latest = checkpoints.latest() if checkpoints is not None else None
    if latest is not None:
        state, best_state = checkpoints.load(model, optimizer, latest)
        for _ in range(state.step):
            next(batches)
    resumed_from = state.step
    diverged = stopped_early = False
    with make_progress() as progress:
        bar = progress.add_task(description, total=cfg.steps, loss=float("nan"), completed=state.step)
        while state.step < cfg.steps:
            batch = {k: v.to(cfg.device) for k, v in next(batches).items()}
            started = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(state.step, cfg, state.train_seconds)
            loss = train_step(model, optimizer, batch, cfg, state)
            if not math.isfinite(loss):
                diverged = True
                break
            if cfg.device.startswith("cuda"):
                torch.cuda.synchronize(cfg.device)
            state.train_seconds += time.perf_counter() - started
            state.tokens += count_tokens(batch)
            state.step += 1
            record = {"step": state.step, "loss": loss, "lr": optimizer.param_groups[0]["lr"]}
            if on_step is None:
                progress.update(bar, advance=1, loss=loss)
            else:
                on_step(state.step, loss)
            out_of_time = cfg.time_budget is not None and state.train_seconds >= cfg.time_budget
            if state.step % cfg.eval_every == 0 or state.step == cfg.steps or out_of_time:
                val = evaluate(model)
                record.update({f"val_{k}": v for k, v in val.items()})
                if val["loss"] < state.best_val["loss"]:
                    state.best_val, state.best_step, state.evals_since_best = val, state.step, 0
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    state.evals_since_best += 1
            state.history.append(record)
            if (cfg.patience is not None and state.evals_since_best >= cfg.patience) or out_of_time:
                stopped_early = True
                break
            if checkpoints is not None and state.step % checkpoints.every == 0 and state.step < cfg.steps:
                checkpoints.save(model, best_state, optimizer, state)
    if best_state is not None:
        model.load_state_dict(best_state)
    memory, memory_kind = peak_memory(cfg.device)
    return TrainResult(
        steps=state.step, best_step=state.best_step, best_val=state.best_val, train_seconds=state.train_seconds,
        tokens_per_second=state.tokens / state.train_seconds if state.train_seconds else 0.0,
        peak_memory_bytes=memory, peak_memory_kind=memory_kind, diverged=diverged,
        stopped_early=stopped_early, history=state.history, micro_batch_size=state.micro_batch_size,
        resumed_from=resumed_from,
    )

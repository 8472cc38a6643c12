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


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to cfg.lr, then cosine decay to cfg.lr * min_lr_ratio (Loshchilov & Hutter 2017)."""
    warmup_steps = int(cfg.warmup * cfg.steps)
    if step < warmup_steps:
        return cfg.lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, cfg.steps - warmup_steps)
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


def fit(model: nn.Module, batches: Iterator[dict[str, Tensor]], evaluate: Callable[[nn.Module], dict[str, float]],
        cfg: TrainConfig, description: str = "training") -> TrainResult:
    """Train with AdamW, warm-up + cosine, clipping and early stopping on the validation loss.

    `evaluate(model)` returns a dict with at least "loss"; the best-validation weights are restored at the end.
    """
    model.to(cfg.device).train()
    if cfg.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(cfg.device)
    optimizer = make_optimizer(model, cfg)
    best_val, best_step, best_state = {"loss": math.inf}, 0, None
    history, train_seconds, tokens, evals_since_best = [], 0.0, 0, 0
    diverged = stopped_early = False
    step = 0
    with make_progress() as progress:
        bar = progress.add_task(description, total=cfg.steps, loss=float("nan"))
        while step < cfg.steps:
            batch = {k: v.to(cfg.device) for k, v in next(batches).items()}
            started = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, cfg)
            loss = model(batch)
            if not torch.isfinite(loss):
                diverged = True
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            if cfg.device.startswith("cuda"):
                torch.cuda.synchronize(cfg.device)
            train_seconds += time.perf_counter() - started
            tokens += count_tokens(batch)
            step += 1
            record = {"step": step, "loss": loss.item(), "lr": optimizer.param_groups[0]["lr"]}
            progress.update(bar, advance=1, loss=record["loss"])
            if step % cfg.eval_every == 0 or step == cfg.steps:
                val = evaluate(model)
                record.update({f"val_{k}": v for k, v in val.items()})
                if val["loss"] < best_val["loss"]:
                    best_val, best_step, evals_since_best = val, step, 0
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    evals_since_best += 1
            history.append(record)
            if cfg.patience is not None and evals_since_best >= cfg.patience:
                stopped_early = True
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    memory, memory_kind = peak_memory(cfg.device)
    return TrainResult(
        steps=step, best_step=best_step, best_val=best_val, train_seconds=train_seconds,
        tokens_per_second=tokens / train_seconds if train_seconds else 0.0,
        peak_memory_bytes=memory, peak_memory_kind=memory_kind, diverged=diverged,
        stopped_early=stopped_early, history=history,
    )

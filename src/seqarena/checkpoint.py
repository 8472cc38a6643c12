"""Checkpoints of a training run: weights in safetensors; the optimiser state, the RNG states and the data
position beside them. Each checkpoint is written into a temporary directory, every file fsynced, then renamed
into place, so a crash leaves either the previous checkpoint or the new one, never half of one; the two newest
are kept, so a newest one damaged afterwards (a bad disk, a stray write) still leaves one to resume from. Loading
is weights-only: safetensors for tensors, torch.load(weights_only=True) for the optimiser, JSON for the rest, so
a crafted pickle is refused, never run."""

from __future__ import annotations

import json
import os
import pickle
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from seqarena.errors import ConfigError, DataError, StorageError

WEIGHTS, BEST, OPTIMIZER, RNG, STATE = "weights.safetensors", "best.safetensors", "optimizer.pt", \
    "rng.safetensors", "state.json"


@dataclass
class TrainState:
    """Everything fit() needs, besides tensors, to continue exactly where it stopped; `step` batches have been
    drawn from the data stream, which is its position."""

    step: int = 0
    best_step: int = 0
    best_val: dict[str, float] = field(default_factory=lambda: {"loss": float("inf")})
    history: list[dict[str, float]] = field(default_factory=list)
    evals_since_best: int = 0
    train_seconds: float = 0.0
    tokens: int = 0
    micro_batch_size: int = 0
    # the step at which patience ran out and the cooldown began (TrainConfig.cooldown), and the rate it decays from
    cooldown_from: int | None = None
    cooldown_lr: float = 0.0


def rng_tensors() -> dict[str, Tensor]:
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states.update({f"cuda{i}": state for i, state in enumerate(torch.cuda.get_rng_state_all())})
    return states


def python_rng() -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return {"python": [version, list(internal), gauss],
            "numpy": [kind, keys.tolist(), int(position), int(has_gauss), float(cached)]}


def restore_rngs(tensors: dict[str, Tensor], states: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch"])
    cuda = [tensors[f"cuda{i}"] for i in range(len(tensors) - 1)]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), position, has_gauss, cached))


def detached(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """CPU copies that share no memory (safetensors refuses tied tensors; loading re-ties them by name)."""
    return {name: tensor.detach().to("cpu", copy=True).contiguous() for name, tensor in state.items()}


def fsync_path(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# checkpoints kept per run: the newest, and the one before it in case the newest cannot be loaded
KEPT = 2


class Checkpoints:
    """The checkpoints of one run in `directory`, one `step-NNNNNNNNN` folder each; the KEPT newest are kept. Of
    several processes training one run (torchrun), only the `writer` saves; every one loads."""

    def __init__(self, directory: str | Path, every: int, writer: bool = True):
        if every < 1:
            raise ValueError(f"checkpoint interval must be >= 1 step, got {every}")
        self.directory = Path(directory)
        self.every, self.writer = every, writer
        existing = next(path for path in (self.directory, *self.directory.parents) if path.exists())
        if not existing.is_dir():
            raise ConfigError(f"checkpoints go in a folder under {existing}, which is a file, not a folder")

    def folders(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(path for path in self.directory.iterdir() if path.is_dir() and path.name.startswith("step-"))

    def newest_first(self) -> list[Path]:
        return self.folders()[::-1]

    def save(self, model: nn.Module, best: dict[str, Tensor] | None, optimizer: torch.optim.Optimizer,
             state: TrainState) -> Path | None:
        """Write a checkpoint of this step (the writer only; None elsewhere). Failing to write one (a full disk, a
        read-only folder) is a StorageError, not a failure of the run: the run stops, resumable once fixed."""
        if not self.writer:
            return None
        final = self.directory / f"step-{state.step:09d}"
        staging = self.directory / f".{final.name}.tmp"
        try:
            self.write(staging, model, best, optimizer, state)
        except Exception as error:  # whatever the writer raised (OSError, safetensors' or torch's own errors)
            shutil.rmtree(staging, ignore_errors=True)
            raise StorageError(f"cannot write a checkpoint into {self.directory} ({str(error).splitlines()[0]}): "
                               "free space or give --checkpoints a writable folder with room, and run the same "
                               "command again to resume") from None
        # a checkpoint of this step already there (an earlier attempt's, cut off after its rename) gives way
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        fsync_path(self.directory)
        for older in self.folders()[:-KEPT]:
            shutil.rmtree(older)
        return final

    @staticmethod
    def write(staging: Path, model: nn.Module, best: dict[str, Tensor] | None, optimizer: torch.optim.Optimizer,
              state: TrainState) -> None:
        """Every file of a checkpoint into `staging`, each fsynced."""
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        save_file(detached(model.state_dict()), staging / WEIGHTS)
        if best is not None:
            save_file(detached(best), staging / BEST)
        torch.save(optimizer.state_dict(), staging / OPTIMIZER)
        save_file(rng_tensors(), staging / RNG)
        (staging / STATE).write_text(json.dumps({"train": asdict(state), "rng": python_rng()}))
        for path in staging.iterdir():
            fsync_path(path)
        fsync_path(staging)

    def load(self, model: nn.Module, optimizer: torch.optim.Optimizer,
             folder: Path) -> tuple[TrainState, dict[str, Tensor] | None]:
        """Restore model, optimiser and RNGs from a checkpoint; returns the training state and best weights."""
        try:
            model.load_state_dict(load_file(folder / WEIGHTS))
            best = load_file(folder / BEST) if (folder / BEST).exists() else None
            optimizer.load_state_dict(torch.load(folder / OPTIMIZER, weights_only=True))
            rng = load_file(folder / RNG)
            saved = json.loads((folder / STATE).read_text())
        except (pickle.UnpicklingError, SafetensorError, OSError, json.JSONDecodeError, KeyError) as error:
            raise DataError(f"checkpoint {folder} cannot be loaded safely (only weights are ever loaded, "
                            f"never code): {str(error).splitlines()[0]}") from None
        restore_rngs(rng, saved["rng"])
        return TrainState(**saved["train"]), best


def save_folder(folder: Path, weights: tuple[str, dict], settings: tuple[str, dict]) -> Path:
    """Write safetensors weights and JSON settings into a temporary folder beside `folder`, then rename it into
    place: a crash leaves the old save or the new one, never half of one."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.with_name(f".{folder.name}.saving")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    save_file(weights[1], staging / weights[0])
    (staging / settings[0]).write_text(json.dumps(settings[1], indent=2))
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(staging, folder)
    return folder

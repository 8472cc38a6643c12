"""One large run over several processes with DistributedDataParallel: `torchrun --nproc_per_node N -m seqarena
train ...`. Every rank draws the same global batch and trains on its own slice of it, so the effective batch is
`batch_size` whatever N is; gradients are averaged by DDP (gloo on CPU, nccl on GPU). Rank 0 alone writes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from seqarena.errors import ConfigError
from seqarena.processes import end_with


@dataclass(frozen=True)
class World:
    rank: int
    size: int
    local_rank: int

    @property
    def leader(self) -> bool:
        return self.rank == 0


def world_from_environment() -> World | None:
    """The process group torchrun describes in the environment, or None for a plain single-process run."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return None
    return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))


def join(world: World, device: str, batch_size: int) -> str:
    """Join the process group; returns this rank's device (cuda:LOCAL_RANK on GPU). The rank ends with its
    launcher: torchrun starts ranks in sessions of their own, so killing torchrun (or its process group) would
    otherwise leave them training and writing checkpoints."""
    end_with(os.getppid())
    if batch_size % world.size:
        raise ConfigError(f"batch size {batch_size} does not split evenly over {world.size} processes")
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.set_device(world.local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return f"cuda:{world.local_rank}" if cuda else device


def wrap(model: nn.Module, world: World, device: str) -> nn.Module:
    model.to(device)
    return DistributedDataParallel(model, device_ids=[world.local_rank] if device.startswith("cuda") else None)


def shard(batches: Iterator[dict[str, Tensor]], world: World) -> Iterator[dict[str, Tensor]]:
    """This rank's contiguous slice of every global batch."""
    for batch in batches:
        size = batch["x"].shape[0] // world.size
        yield {name: value[world.rank * size:(world.rank + 1) * size] for name, value in batch.items()}


def leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()

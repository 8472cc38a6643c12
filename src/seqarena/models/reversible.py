"""Reversible residual stacks (Gomez et al. 2017, RevNet; Kitaev et al. 2020, sec. 3.1).

The input is doubled into (x1, x2) and each block maps y1 = x1 + mix(x2), y2 = x2 + feed(y1). Its inputs follow
from its outputs (x2 = y2 - feed(y1), x1 = y1 - mix(x2)), so backward rebuilds every block's activations from the
stack's output instead of storing them: activation memory no longer grows with depth. The stack's output is the
mean of the two streams. `plain_reversible` is the naive twin: the same equations under ordinary autograd.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor, nn


def plain_reversible(blocks: Sequence[nn.Module], x1: Tensor, x2: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    for block in blocks:
        x1 = x1 + block.mix(x2, mask)
        fed = block.feed(x1)
        x2 = x2 if fed is None else x2 + fed
    return x1, x2


class RandomState:
    """The generator state before a computation, so that recomputing it draws the same dropout masks."""

    def __init__(self, device: torch.device):
        self.device = device
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None

    @contextmanager
    def replay(self) -> Iterator[None]:
        with torch.random.fork_rng(devices=[self.device] if self.cuda is not None else []):
            torch.set_rng_state(self.cpu)
            if self.cuda is not None:
                torch.cuda.set_rng_state(self.cuda, self.device)
            yield


class ReversibleStack(torch.autograd.Function):
    """Runs the blocks without keeping activations; backward walks them in reverse, rebuilding inputs."""

    @staticmethod
    def forward(ctx, x1: Tensor, x2: Tensor, blocks: Sequence[nn.Module], mask: Tensor | None):
        ctx.blocks, ctx.mask, ctx.states = blocks, mask, []
        for block in blocks:
            mix_state = RandomState(x1.device)
            x1 = x1 + block.mix(x2, mask)
            feed_state = RandomState(x1.device)
            fed = block.feed(x1)
            x2 = x2 if fed is None else x2 + fed
            ctx.states.append((mix_state, feed_state))
        ctx.save_for_backward(x1, x2)
        return x1, x2

    @staticmethod
    def backward(ctx, grad1: Tensor, grad2: Tensor):
        y1, y2 = ctx.saved_tensors
        for block, (mix_state, feed_state) in zip(reversed(ctx.blocks), reversed(ctx.states)):
            y1 = y1.detach().requires_grad_()
            with torch.enable_grad(), feed_state.replay():
                fed = block.feed(y1)
            x2 = y2
            if fed is not None:
                # dL/dy1 gains feed's share; feed's parameters receive their gradients here
                torch.autograd.backward(fed, grad2)
                grad1 = grad1 + y1.grad
                x2 = y2 - fed.detach()
            x2 = x2.detach().requires_grad_()
            with torch.enable_grad(), mix_state.replay():
                mixed = block.mix(x2, ctx.mask)
            torch.autograd.backward(mixed, grad1)
            grad2 = grad2 + x2.grad
            y1, y2 = y1.detach() - mixed.detach(), x2.detach()
        return grad1, grad2, None, None


def reversible(blocks: Sequence[nn.Module], h: Tensor, mask: Tensor | None, recompute: bool = True) -> Tensor:
    """The stack on h (B, T, D): recomputing activations in backward when gradients are needed."""
    if recompute and torch.is_grad_enabled():
        x1, x2 = ReversibleStack.apply(h, h, list(blocks), mask)
    else:
        x1, x2 = plain_reversible(blocks, h, h, mask)
    return (x1 + x2) / 2


def reversible_step(blocks: Sequence[nn.Module], h_t: Tensor, states: list) -> tuple[Tensor, list]:
    """One streaming position through the two streams: h_t (B, D)."""
    x1, x2, new_states = h_t, h_t, []
    for block, state in zip(blocks, states):
        y_t, state = block.mixer.step(block.mixer_norm(x2), state)
        x1 = x1 + block.dropout(y_t)
        fed = block.feed(x1)
        x2 = x2 if fed is None else x2 + fed
        new_states.append(state)
    return (x1 + x2) / 2, new_states

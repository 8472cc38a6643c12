"""SequenceModel: embedding -> N pre-norm blocks of (mixer, feed-forward) -> head.

Every family shares this skeleton, so a comparison changes only the mixer. Heads follow the task kind:
classification and regression pool the sequence, language modelling predicts at every position.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from seqarena.errors import ConfigError, DataError
from seqarena.models.positional import AdditivePositional
from seqarena.models.reversible import reversible, reversible_step
from seqarena.spec import IGNORE, ModelShape


class FeedForward(nn.Module):
    """Position-wise GELU MLP; with chunk_size it runs chunk_size positions at a time (Reformer, sec. 3.2), which
    bounds the (T, multiple * D) hidden activation whenever activations are not kept for backward. With recompute
    as well, training keeps only each chunk's input and recomputes its hidden activation in backward (gradient
    checkpointing, Chen et al. 2016): the hidden activation never exists whole, for one more forward pass of the
    MLP. Reversible stacks recompute whole blocks already and leave recompute off."""

    def __init__(self, d_model: int, multiple: int, dropout: float, chunk_size: int | None = None,
                 recompute: bool = False):
        super().__init__()
        self.up = nn.Linear(d_model, multiple * d_model)
        self.down = nn.Linear(multiple * d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.chunk_size, self.recompute = chunk_size, recompute

    def position_wise(self, x: Tensor) -> Tensor:
        return self.down(self.dropout(F.gelu(self.up(x))))

    def forward(self, x: Tensor) -> Tensor:
        if self.chunk_size is None or x.dim() < 3 or x.shape[1] <= self.chunk_size:
            return self.position_wise(x)
        chunks = x.split(self.chunk_size, dim=1)
        if self.recompute and torch.is_grad_enabled():
            # the RNG state is replayed in backward, so dropout draws the same mask twice
            return torch.cat([checkpoint(self.position_wise, chunk, use_reentrant=False) for chunk in chunks], dim=1)
        return torch.cat([self.position_wise(chunk) for chunk in chunks], dim=1)


class Block(nn.Module):
    """Pre-norm residual block (Xiong et al. 2020): x + mix(x), then x + feed(x), with
    mix(x) = mixer(LN(x)) and feed(x) = FFN(LN(x)); reversible stacks use the two halves separately."""

    def __init__(self, mixer: nn.Module, d_model: int, ffn_mult: int, dropout: float,
                 ffn_chunk_size: int | None = None, recompute_ffn: bool = False):
        super().__init__()
        self.mixer = mixer
        self.mixer_norm = nn.LayerNorm(d_model)
        self.ffn = FeedForward(d_model, ffn_mult, dropout, ffn_chunk_size, recompute_ffn) if ffn_mult else None
        self.ffn_norm = nn.LayerNorm(d_model) if ffn_mult else None
        self.dropout = nn.Dropout(dropout)

    def mix(self, x: Tensor, mask: Tensor | None) -> Tensor:
        return self.dropout(self.mixer(self.mixer_norm(x), mask))

    def feed(self, x: Tensor) -> Tensor | None:
        return None if self.ffn is None else self.dropout(self.ffn(self.ffn_norm(x)))

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        x = x + self.mix(x, mask)
        fed = self.feed(x)
        return x if fed is None else x + fed

    def step(self, x_t: Tensor, state):
        y_t, state = self.mixer.step(self.mixer_norm(x_t), state)
        x_t = x_t + self.dropout(y_t)
        fed = self.feed(x_t)
        return (x_t if fed is None else x_t + fed), state


def lengths_of(mask: Tensor | None, batch: int, time: int, device) -> Tensor:
    if mask is None:
        return torch.full((batch,), time, device=device)
    return mask.sum(1)


def pool(h: Tensor, mask: Tensor | None, how: str) -> Tensor:
    """(B, T, D) -> (B, D): the last valid position (causal models) or the mean of valid positions."""
    lengths = lengths_of(mask, h.shape[0], h.shape[1], h.device)
    if how == "last":
        last = (lengths - 1).clamp(min=0)
        return h[torch.arange(h.shape[0], device=h.device), last]
    if mask is None:
        return h.mean(1)
    weights = mask.to(h.dtype)[..., None]
    return (h * weights).sum(1) / lengths.clamp(min=1)[:, None].to(h.dtype)


class ClassifyHead(nn.Module):
    def __init__(self, d_model: int, n_classes: int, pooling: str):
        super().__init__()
        self.proj, self.pooling = nn.Linear(d_model, n_classes), pooling

    def forward(self, h: Tensor, mask: Tensor | None) -> Tensor:
        # (B, C) logits
        return self.proj(pool(h, mask, self.pooling))

    def loss(self, output: Tensor, y: Tensor, mask: Tensor | None) -> Tensor:
        return F.cross_entropy(output, y)


class RegressHead(ClassifyHead):
    def loss(self, output: Tensor, y: Tensor, mask: Tensor | None) -> Tensor:
        return F.mse_loss(output, y.view_as(output))


class PositionHead(nn.Module):
    """Logits at every position (B, T, V): next tokens for language modelling, labels for tagging."""

    def __init__(self, d_model: int, vocab: int):
        super().__init__()
        self.proj = nn.Linear(d_model, vocab)

    def forward(self, h: Tensor, mask: Tensor | None) -> Tensor:
        return self.proj(h)

    def loss(self, output: Tensor, y: Tensor, mask: Tensor | None) -> Tensor:
        """Mean cross-entropy over valid positions that carry a label (y != IGNORE)."""
        losses = F.cross_entropy(output.flatten(0, 1), y.flatten(), reduction="none", ignore_index=IGNORE)
        weights = (y.flatten() != IGNORE) if mask is None else (y.flatten() != IGNORE) & mask.flatten()
        weights = weights.to(losses.dtype)
        return (losses * weights).sum() / weights.sum().clamp(min=1)


def check_right_padded(mask: Tensor) -> None:
    lengths = mask.sum(1)
    prefix = torch.arange(mask.shape[1], device=mask.device)[None, :] < lengths[:, None]
    if not torch.equal(prefix, mask):
        rows = (prefix != mask).any(1).nonzero().flatten().tolist()
        raise DataError(f"mask rows {rows[:5]} are not right-padded: valid positions must come first")


class SequenceModel(nn.Module):
    """Any registered mixer on any task: built from the task's shape and a list of mixers, one per block."""

    def __init__(self, shape: ModelShape, mixers: list[nn.Module], *, d_model: int, ffn_mult: int, dropout: float,
                 positional: str, causal: bool, reversible: bool = False, ffn_chunk_size: int | None = None):
        super().__init__()
        self.shape, self.causal, self.reversible = shape, causal, reversible
        if shape.input_kind == "tokens":
            self.embed = nn.Embedding(shape.n_inputs, d_model)
        else:
            self.embed = nn.Linear(shape.n_inputs, d_model)
        is_additive = positional in ("sinusoidal", "learned")
        self.position = AdditivePositional(positional, shape.seq_len, d_model) if is_additive else None
        self.blocks = nn.ModuleList(Block(mixer, d_model, ffn_mult, dropout, ffn_chunk_size, not reversible)
                                    for mixer in mixers)
        self.norm = nn.LayerNorm(d_model)
        if shape.kind in ("lm", "tag"):
            self.head = PositionHead(d_model, shape.n_outputs)
        else:
            head = ClassifyHead if shape.kind == "classify" else RegressHead
            self.head = head(d_model, shape.n_outputs, "last" if causal else "mean")

    def embed_input(self, x: Tensor, offset: int) -> Tensor:
        h = self.embed(x)
        return h if self.position is None else self.position(h, offset)

    def encode(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """x (B, T) tokens or (B, T, C) features, mask (B, T) True on valid positions -> (B, T, D)."""
        if mask is not None:
            check_right_padded(mask)
        return self.mix(self.embed_input(x, offset=0), mask)

    def mix(self, h: Tensor, mask: Tensor | None = None) -> Tensor:
        """Embedded inputs (B, T, D) through every block and the final norm -> (B, T, D)."""
        if self.reversible:
            return self.norm(reversible(self.blocks, h, mask))
        for block in self.blocks:
            h = block(h, mask)
        return self.norm(h)

    def predict(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.head(self.encode(x, mask), mask)

    def output_and_loss(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Head outputs and the loss of a batch {x, y, mask?} from one forward pass."""
        mask = batch.get("mask")
        output = self.predict(batch["x"], mask)
        return output, self.head.loss(output, batch["y"], mask)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """The training loss of a batch: all the trainer ever sees."""
        return self.output_and_loss(batch)[1]

    def step(self, x_t: Tensor, state: dict | None = None) -> tuple[Tensor, dict]:
        """One position for streaming: x_t (B,) tokens or (B, C) features -> (B, D) and the new state."""
        if not self.causal:
            raise ConfigError("only a causal model can stream; this one was built bidirectional")
        state = state or {"t": 0, "blocks": [None] * len(self.blocks)}
        h = self.embed_input(x_t[:, None], offset=state["t"])[:, 0]
        if self.reversible:
            h, block_states = reversible_step(self.blocks, h, state["blocks"])
        else:
            block_states = []
            for block, block_state in zip(self.blocks, state["blocks"]):
                h, block_state = block.step(h, block_state)
                block_states.append(block_state)
        return self.norm(h), {"t": state["t"] + 1, "blocks": block_states}

    @torch.no_grad()
    def generate(self, prompt: Tensor, new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
        """Sample new_tokens after prompt (B, T0) token ids, streaming with step(); returns (B, T0 + new)."""
        if self.shape.kind != "lm":
            raise ConfigError(f"generate() needs a language-modelling task, not {self.shape.kind}")
        if prompt.shape[1] == 0:
            raise DataError("generate() needs a prompt of at least one token")
        state, tokens = None, [prompt]
        for t in range(prompt.shape[1]):
            h, state = self.step(prompt[:, t], state)
        for _ in range(new_tokens):
            logits = self.head.proj(h) / max(temperature, 1e-6)
            if top_k is not None:
                kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            next_token = torch.multinomial(logits.softmax(-1), 1, generator=generator)
            tokens.append(next_token)
            h, state = self.step(next_token[:, 0], state)
        return torch.cat(tokens, dim=1)

"""Autoregressive generation: per-token latency and the memory of the streaming state after a context of C
tokens. An RNN carries a fixed-size state; a Transformer's KV cache grows with C; the Longformer keeps a window
cache of bounded size; a min-RNN streams like an RNN."""

from __future__ import annotations

import copy
import time

import torch
from pydantic import BaseModel, ConfigDict, Field

from seqarena.catalog import RECURRENT_AND_LINE_UP
from seqarena.measure import Measurement
from seqarena.measure.primitives import probe_shape, synchronize, tensor_bytes
from seqarena.models import build_model
from seqarena.results.measurements import LatencyPoint
from seqarena.results.statistics import median_timing
from seqarena.settings import ModelConfig


class LatencyOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    contexts: list[int] = Field([128, 512, 2048], min_length=1)
    d_model: int = Field(64, gt=0)
    layers: int = Field(2, gt=0)
    vocab: int = Field(32, gt=1)
    # tokens generated (and timed) after each context
    new_tokens: int = Field(16, gt=0)
    device: str = "cpu"
    # the Longformer's one-sided window
    window: int = Field(128, gt=0)


@torch.no_grad()
def latency(models: list[str], options: LatencyOptions) -> list[LatencyPoint]:
    """Rows per (model, context): median ms per generated token and the streaming state's bytes."""
    device = torch.device(options.device)
    rows = []
    for name in models:
        shape = probe_shape("lm", options.vocab, options.vocab, max(options.contexts) + options.new_tokens, True)
        mixer_options = {"window": options.window} if name == "longformer" else {}
        torch.manual_seed(0)
        model = build_model(shape, ModelConfig(mixer=name, d_model=options.d_model, n_layers=options.layers,
                                              causal=True, options=mixer_options)).to(device).eval()
        tokens = torch.randint(options.vocab, (1, max(options.contexts) + options.new_tokens), device=device)
        state, position = None, 0
        for context in sorted(options.contexts):
            while position < context:
                _, state = model.step(tokens[:, position], state)
                position += 1
            state_bytes = tensor_bytes(state)
            times = []
            # generate from a copy of the state, so the next context continues from the prompt
            generated = copy.deepcopy(state)
            for offset in range(options.new_tokens):
                synchronize(device)
                started = time.perf_counter()
                _, generated = model.step(tokens[:, context + offset], generated)
                synchronize(device)
                times.append(time.perf_counter() - started)
            timing = median_timing(times).scaled(1000)
            rows.append(LatencyPoint(name, context, timing.median, state_bytes, timing.low, timing.high))
    return rows


MEASUREMENTS = (
    Measurement("latency", "per-token generation latency and streaming-state memory vs context length",
                LatencyOptions, latency, (*RECURRENT_AND_LINE_UP, "longformer")),
)

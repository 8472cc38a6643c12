"""Training-step time and peak memory against sequence length, per mixer, with fitted log-log exponents.

    python benchmarks/scaling.py                                   # CPU defaults: d 64, batch 1, T 256..65,536
    python benchmarks/scaling.py --device cuda --dtype bfloat16 --d-model 512 --batch 8 --heads 8   # GPU targets

Prints JSON lines: one `point` row per (model, T) with ms per training step (forward, backward, AdamW step),
tokens/s and peak memory; then one `fit` row per model with the exponents of time and memory in T and their 95%
intervals, fitted on T >= --fit-from. Lengths grow until a step exceeds --max-seconds, the memory predicted for
the next length exceeds --max-memory-gb, or the device runs out of memory. Reference rows: torch's
nn.TransformerEncoder, and HF LongformerModel / ReformerModel with matched sizes where `transformers` is
installed (pip install -e '.[bench]').
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from seqarena.environment import hardware
from seqarena.measure import PeakMemory, fit_exponent
from seqarena.models import ModelConfig, build_model
from seqarena.spec import TaskSpec

OURS = {
    "rnn": ("rnn", {}), "lstm": ("lstm", {}), "gru": ("gru", {}),
    "mingru": ("mingru", {}), "minlstm": ("minlstm", {}),
    "transformer": ("transformer", {}), "transformer-naive": ("transformer", {"attention": "naive"}),
    "longformer": ("longformer", {}), "reformer": ("reformer", {}), "linear": ("linear", {}),
}
# the linear baseline holds two T x T matrices: its parameters, not its activations, limit its length
LONGEST = {"linear": 4096}


@dataclass(frozen=True)
class Sizes:
    d_model: int
    layers: int
    heads: int
    window: int
    bucket_size: int


def encoder_output(encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return encoder(x)


def hf_output(encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return encoder(inputs_embeds=x).last_hidden_state


class PooledRegression(nn.Module):
    """Wraps an encoder (B, T, D) -> (B, T, D') into the same training loss as ours: MSE of the mean state."""

    def __init__(self, encoder: nn.Module, width: int, output: Callable = encoder_output):
        super().__init__()
        self.encoder, self.head, self.output = encoder, nn.Linear(width, 1), output

    def forward(self, batch):
        return (self.head(self.output(self.encoder, batch["x"]).mean(1)) - batch["y"]).square().mean()


def ours(name: str, length: int, sizes: Sizes) -> nn.Module:
    mixer, options = OURS[name]
    options = dict(options)
    if mixer in ("transformer", "longformer", "reformer"):
        options["n_heads"] = sizes.heads
    if mixer == "longformer":
        options["window"] = sizes.window
    if mixer == "reformer":
        options["bucket_size"] = sizes.bucket_size
    spec = TaskSpec(name="scaling", kind="regress", input_kind="features", n_inputs=sizes.d_model, n_outputs=1,
                    seq_len=length, causal=False, metric="mse", higher_is_better=False, chance=0.0,
                    chance_name="none", baseline=0.0, baseline_name="none", domain="benchmark", licence="none",
                    description="random features")
    config = ModelConfig(mixer=mixer, d_model=sizes.d_model, n_layers=sizes.layers, ffn_mult=4, positional="none",
                         options=options)
    return build_model(spec, config)


def torch_encoder(length: int, sizes: Sizes) -> nn.Module:
    layer = nn.TransformerEncoderLayer(sizes.d_model, sizes.heads, 4 * sizes.d_model, dropout=0.0,
                                       activation="gelu", batch_first=True, norm_first=True)
    return PooledRegression(nn.TransformerEncoder(layer, sizes.layers, enable_nested_tensor=False), sizes.d_model)


def hf_longformer(length: int, sizes: Sizes) -> nn.Module:
    from transformers import LongformerConfig, LongformerModel

    # HF's attention_window is the whole two-sided window (ours is one side); it pads T to a multiple of it
    padded = math.ceil(length / (2 * sizes.window)) * 2 * sizes.window
    config = LongformerConfig(hidden_size=sizes.d_model, num_hidden_layers=sizes.layers,
                              num_attention_heads=sizes.heads, intermediate_size=4 * sizes.d_model,
                              attention_window=2 * sizes.window, max_position_embeddings=padded + 2, vocab_size=8,
                              hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return PooledRegression(LongformerModel(config, add_pooling_layer=False), sizes.d_model, hf_output)


def hf_reformer(length: int, sizes: Sizes) -> nn.Module:
    from transformers import ReformerConfig, ReformerModel

    config = ReformerConfig(hidden_size=sizes.d_model, num_attention_heads=sizes.heads,
                            attention_head_size=sizes.d_model // sizes.heads, attn_layers=["lsh"] * sizes.layers,
                            feed_forward_size=4 * sizes.d_model, lsh_attn_chunk_length=sizes.bucket_size,
                            num_hashes=2, num_buckets=max(2, length // sizes.bucket_size), axial_pos_embds=False,
                            max_position_embeddings=length, is_decoder=False, vocab_size=8,
                            hidden_dropout_prob=0.0, lsh_attention_probs_dropout_prob=0.0)
    # the Reformer returns both reversible streams side by side: width 2 * d_model
    return PooledRegression(ReformerModel(config), 2 * sizes.d_model, hf_output)


def builders(names: list[str], references: bool) -> dict[str, Callable[[int, Sizes], nn.Module]]:
    chosen = {name: (lambda length, sizes, name=name: ours(name, length, sizes)) for name in names}
    if references:
        chosen["torch-transformer-encoder"] = torch_encoder
        try:
            import transformers  # noqa: F401
        except ImportError:
            return chosen
        chosen["hf-longformer"], chosen["hf-reformer"] = hf_longformer, hf_reformer
    return chosen


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, batch: dict) -> None:
    optimizer.zero_grad(set_to_none=True)
    model(batch).backward()
    optimizer.step()


def measure_point(build: Callable, length: int, sizes: Sizes, args, device: torch.device) -> dict:
    torch.manual_seed(0)
    model = build(length, sizes).to(device=device, dtype=args.dtype).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = {"x": torch.randn(args.batch, length, sizes.d_model, device=device, dtype=args.dtype),
             "y": torch.randn(args.batch, 1, device=device, dtype=args.dtype)}
    # the first step allocates optimiser state and compiles kernels: not timed, not counted
    train_step(model, optimizer, batch)
    times = []
    # repeats stop early once they have taken --max-seconds: one slow step is already a stable number
    while len(times) < args.repeats and sum(times) < args.max_seconds:
        synchronize(device)
        started = time.perf_counter()
        train_step(model, optimizer, batch)
        synchronize(device)
        times.append(time.perf_counter() - started)
    with PeakMemory(device) as peak:
        train_step(model, optimizer, batch)
    seconds = sorted(times)[len(times) // 2]
    return {"ms_per_train_step": round(1000 * seconds, 3), "tokens_per_s": round(args.batch * length / seconds, 1),
            "peak_memory_bytes": peak.bytes, "memory_kind": peak.kind}


def out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


def sweep(label: str, build: Callable, sizes: Sizes, args, device: torch.device) -> list[dict]:
    points, stopped = [], "all lengths ran"
    for length in args.lengths:
        if length > LONGEST.get(label, math.inf):
            stopped = f"parameters grow as T^2: capped at T={LONGEST[label]}"
            break
        if len(points) >= 2:
            growth = math.log(points[-1]["peak_memory_bytes"] / points[-2]["peak_memory_bytes"], 2)
            predicted = points[-1]["peak_memory_bytes"] * (length / points[-1]["seq_len"]) ** max(growth, 1.0)
            if predicted > args.max_memory_gb * 2**30:
                stopped = f"predicted {predicted / 2**30:.1f} GiB at T={length} > --max-memory-gb"
                break
        try:
            point = measure_point(build, length, sizes, args, device)
        except (RuntimeError, torch.OutOfMemoryError) as error:
            if not out_of_memory(error):
                raise
            stopped = f"out of memory at T={length}"
            break
        point = {"kind": "point", "model": label, "seq_len": length, "batch": args.batch, "d_model": sizes.d_model,
                 "layers": sizes.layers, "device": str(device), "dtype": str(args.dtype).removeprefix("torch."),
                 **point}
        print(json.dumps(point), flush=True)
        points.append(point)
        if point["ms_per_train_step"] > 1000 * args.max_seconds:
            stopped = f"a step took over {args.max_seconds} s at T={length}"
            break
    return points, stopped


def fit_row(label: str, points: list[dict], stopped: str, fit_from: int) -> dict:
    used = [p for p in points if p["seq_len"] >= fit_from]
    lengths = [p["seq_len"] for p in used]
    row = {"kind": "fit", "model": label, "fit_from": fit_from, "points": len(used),
           "largest_seq_len": points[-1]["seq_len"] if points else None, "stopped": stopped}
    for name, key in (("time", "ms_per_train_step"), ("memory", "peak_memory_bytes")):
        fit = fit_exponent(lengths, [p[key] for p in used])
        row[f"{name}_exponent"] = round(fit.exponent, 3)
        row[f"{name}_exponent_95ci"] = [round(fit.low, 3), round(fit.high, 3)]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(OURS), choices=list(OURS))
    parser.add_argument("--lengths", type=int, nargs="+", default=[2**k for k in range(8, 17)])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--window", type=int, default=256, help="Longformer one-sided window")
    parser.add_argument("--bucket-size", type=int, default=64, help="Reformer chunk length")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=20.0)
    parser.add_argument("--max-memory-gb", type=float, default=6.0)
    parser.add_argument("--fit-from", type=int, default=1024)
    parser.add_argument("--no-references", action="store_true", help="skip torch and HF reference models")
    args = parser.parse_args()
    args.dtype = getattr(torch, args.dtype)
    device = torch.device(args.device)
    sizes = Sizes(args.d_model, args.layers, args.heads, args.window, args.bucket_size)
    print(json.dumps({"kind": "hardware", **hardware(args.device)}), flush=True)
    for label, build in builders(args.models, not args.no_references).items():
        points, stopped = sweep(label, build, sizes, args, device)
        print(json.dumps(fit_row(label, points, stopped, args.fit_from)), flush=True)


if __name__ == "__main__":
    main()

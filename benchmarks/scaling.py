"""Training-step time, inference time and peak memory against sequence length, per mixer, with fitted log-log
exponents: `seqarena measure scaling` plus reference models from other libraries.

    python benchmarks/scaling.py                                   # CPU defaults: d 64, batch 1, T 256..65,536
    python benchmarks/scaling.py --device cuda --dtype bfloat16 --d-model 512 --batch 8 --heads 8   # GPU targets

Prints JSON lines: one `point` row per (model, T) with ms per training step (forward, backward, AdamW step), ms
per inference, tokens/s and peak training and inference memory; then one `fit` row per model with the exponents
in T and their 95% intervals, fitted on T >= --fit-from. Lengths grow until a step exceeds --max-seconds, the
memory predicted for the next length exceeds --max-memory-gb, or the device runs out of memory. Reference rows:
torch's nn.TransformerEncoder, and HF LongformerModel / ReformerModel with matched sizes where `transformers` is
installed (pip install -e '.[bench]'), cuDNN's nn.LSTM / nn.GRU used directly, and mambapy's Mamba (pure PyTorch,
its selective scan one pscan under autograd; RMSNorm and residual around each Mamba block, no feed-forward layer,
so it does less per layer than ours) where mambapy is installed (pip install -e '.[test]'). Recurrent models are built
unidirectional (causal), as cuDNN's references are; attention models bidirectional, as their references are.
`benchmarks/targets.py` turns these rows into the ratio table against the targets. With --interleaved, every model
runs every length and their steps are timed in rounds (measure/scaling.py's interleaved_points), so the ratios that
targets.py reads cancel a load that comes and goes on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable

import torch
from torch import nn

from seqarena.environment import hardware
from seqarena.measure.scaling import ScalingOptions, probe_model, scaling_of
from seqarena.results.measurements import ScalingPoint

# label -> (mixer, mixer options, causal, ffn_chunk_size: positions per feed-forward chunk, recomputed in backward)
OURS = {
    "rnn": ("rnn", {}, True, None), "lstm": ("lstm", {}, True, None), "gru": ("gru", {}, True, None),
    "mingru": ("mingru", {}, True, None), "minlstm": ("minlstm", {}, True, None),
    "mingru-ffn-recompute": ("mingru", {}, True, 4096),
    "mamba": ("mamba", {}, True, None), "mamba-pytorch-scan": ("mamba", {"impl": "scan"}, True, None),
    "mlstm": ("mlstm", {}, True, None), "gla": ("gla", {}, True, None),
    "gla-chunkwise": ("gla", {"impl": "chunkwise"}, True, None),
    "mlstm-chunkwise": ("mlstm", {"impl": "chunkwise"}, True, None),
    "transformer": ("transformer", {}, False, None),
    "transformer-naive": ("transformer", {"attention": "naive"}, False, None),
    "longformer": ("longformer", {}, False, None), "reformer": ("reformer", {}, False, None),
    "linear": ("linear", {}, False, None),
}


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


def torch_encoder(length: int, sizes: ScalingOptions) -> nn.Module:
    layer = nn.TransformerEncoderLayer(sizes.d_model, sizes.heads, 4 * sizes.d_model, dropout=0.0,
                                       activation="gelu", batch_first=True, norm_first=True)
    return PooledRegression(nn.TransformerEncoder(layer, sizes.layers, enable_nested_tensor=False), sizes.d_model)


class StackedRecurrent(nn.Module):
    """`layers` single-layer unidirectional nn.LSTM or nn.GRU of width d_model, one after the other (cuDNN on a GPU),
    as seqarena's recurrent mixers are built: a two-layer module failed in bf16 (CUDNN_STATUS_NOT_SUPPORTED, H100,
    torch 2.11) where the single-layer ones ran."""

    def __init__(self, cell: type[nn.Module], sizes: ScalingOptions):
        super().__init__()
        self.layers = nn.ModuleList(cell(sizes.d_model, sizes.d_model, batch_first=True) for _ in range(sizes.layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)[0]
        return x


def cudnn_recurrent(cell: type[nn.Module], sizes: ScalingOptions) -> nn.Module:
    return PooledRegression(StackedRecurrent(cell, sizes), sizes.d_model)


def mambapy_mamba(sizes: ScalingOptions) -> nn.Module:
    from mambapy.mamba import Mamba, MambaConfig

    return PooledRegression(Mamba(MambaConfig(d_model=sizes.d_model, n_layers=sizes.layers)), sizes.d_model)


def mambapy_available() -> bool:
    try:
        import mambapy  # noqa: F401
    except ImportError:
        print(json.dumps({"kind": "skipped", "model": "mambapy", "reason": "mambapy is not installed"}), flush=True)
        return False
    return True


def hf_longformer(length: int, sizes: ScalingOptions) -> nn.Module:
    from transformers import LongformerConfig, LongformerModel

    # HF's attention_window is the whole two-sided window (ours is one side); it pads T to a multiple of it
    padded = math.ceil(length / (2 * sizes.window)) * 2 * sizes.window
    config = LongformerConfig(hidden_size=sizes.d_model, num_hidden_layers=sizes.layers,
                              num_attention_heads=sizes.heads, intermediate_size=4 * sizes.d_model,
                              attention_window=2 * sizes.window, max_position_embeddings=padded + 2, vocab_size=8,
                              hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return PooledRegression(LongformerModel(config, add_pooling_layer=False), sizes.d_model, hf_output)


def hf_reformer(length: int, sizes: ScalingOptions) -> nn.Module:
    from transformers import ReformerConfig, ReformerModel

    config = ReformerConfig(hidden_size=sizes.d_model, num_attention_heads=sizes.heads,
                            attention_head_size=sizes.d_model // sizes.heads, attn_layers=["lsh"] * sizes.layers,
                            feed_forward_size=4 * sizes.d_model, lsh_attn_chunk_length=sizes.bucket_size,
                            num_hashes=2, num_buckets=max(2, length // sizes.bucket_size), axial_pos_embds=False,
                            max_position_embeddings=length, is_decoder=False, vocab_size=8,
                            hidden_dropout_prob=0.0, lsh_attention_probs_dropout_prob=0.0)
    # the Reformer returns both reversible streams side by side: width 2 * d_model
    return PooledRegression(ReformerModel(config), 2 * sizes.d_model, hf_output)


HF_REFERENCES = {"hf-longformer": ("LongformerModel", hf_longformer), "hf-reformer": ("ReformerModel", hf_reformer)}


REFERENCES = ["torch-transformer-encoder", "cudnn-lstm", "cudnn-gru", "mambapy", "hf-longformer", "hf-reformer"]


def builders(names: list[str], sizes: ScalingOptions,
             references: list[str]) -> dict[str, Callable[[int], nn.Module]]:
    chosen = {}
    for name in names:
        mixer, options, causal, ffn_chunk_size = OURS[name]
        chosen[name] = (lambda length, mixer=mixer, options=options, causal=causal, chunk=ffn_chunk_size:
                        probe_model(mixer, length, sizes, options, causal=causal, ffn_chunk_size=chunk))
    local = {"torch-transformer-encoder": lambda length: torch_encoder(length, sizes),
             "cudnn-lstm": lambda length: cudnn_recurrent(nn.LSTM, sizes),
             "cudnn-gru": lambda length: cudnn_recurrent(nn.GRU, sizes)}
    chosen |= {label: build for label, build in local.items() if label in references}
    if "mambapy" in references and mambapy_available():
        chosen["mambapy"] = lambda length: mambapy_mamba(sizes)
    chosen |= {label: (lambda length, build=build: build(length, sizes))
               for label, (name, build) in HF_REFERENCES.items()
               if label in references and hf_model_available(label, name)}
    return chosen


def hf_model_available(label: str, name: str) -> bool:
    """Whether `transformers` is installed and still has this model; a row says why a reference is missing."""
    try:
        import transformers
    except ImportError:
        return False
    if hasattr(transformers, name):
        return True
    print(json.dumps({"kind": "skipped", "model": label, "reason": f"transformers {transformers.__version__} has no "
                      f"{name}"}), flush=True)
    return False


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
    parser.add_argument("--references", nargs="*", default=REFERENCES, choices=REFERENCES,
                        help="reference models to run beside ours (default: all; none: --references alone)")
    parser.add_argument("--no-references", action="store_true", help="skip torch and HF reference models")
    parser.add_argument("--interleaved", action="store_true", help="measure the models together, in rounds")
    args = parser.parse_args()
    sizes = ScalingOptions(lengths=args.lengths, batch=args.batch, d_model=args.d_model, layers=args.layers,
                           heads=args.heads, window=args.window, bucket_size=args.bucket_size, device=args.device,
                           dtype=args.dtype, repeats=args.repeats, max_seconds=args.max_seconds,
                           max_memory_gb=args.max_memory_gb, fit_from=args.fit_from)
    print(json.dumps({"kind": "hardware", **hardware(args.device)}), flush=True)
    chosen = builders(args.models, sizes, [] if args.no_references else args.references)
    groups = [chosen] if args.interleaved else [{label: build} for label, build in chosen.items()]
    for group in groups:
        try:
            rows = scaling_of(group, sizes)
        except Exception as error:  # one model's failure must not cost the other models' rows on a short GPU lease
            print(json.dumps({"kind": "error", "model": ", ".join(group), "error": f"{type(error).__name__}: {error}"}),
                  flush=True)
            continue
        for row in rows:
            extra = {"batch": sizes.batch, "d_model": sizes.d_model, "layers": sizes.layers, "device": sizes.device,
                     "dtype": sizes.dtype} if isinstance(row, ScalingPoint) else {}
            print(json.dumps({**row.to_row(), **extra}), flush=True)


if __name__ == "__main__":
    main()

"""FLOPs per token of a training step (forward + backward) and of inference, the FLOP/s a step achieves, and the
utilisation of the device's peak where that is known. torch's FlopCounterMode counts matrix products; the fused
kernels it reports as zero (oneDNN's LSTM layer and the flash-attention kernel on CPU, cuDNN's RNN, LSTM and GRU on
CUDA) are counted analytically from their operands' shapes here, so a recurrent cell is not credited with free
recurrence."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from seqarena.catalog import SEQUENCE_MODELS
from seqarena.measure import Measurement
from seqarena.measure.primitives import median_seconds
from seqarena.measure.scaling import ScalingOptions, probe_model, random_batch
from seqarena.results.measurements import FlopsPoint

# dense peak FLOP/s by device name and dtype, from the vendors' data sheets (SXM parts; no sparsity)
PEAK_FLOPS = {
    ("H100", "bfloat16"): 989e12, ("H100", "float16"): 989e12, ("H100", "float32"): 67e12,
    ("H200", "bfloat16"): 989e12, ("H200", "float16"): 989e12, ("H200", "float32"): 67e12,
    ("A100", "bfloat16"): 312e12, ("A100", "float16"): 312e12, ("A100", "float32"): 19.5e12,
}


def lstm_layer_flops(args: tuple) -> int:
    """oneDNN's LSTM layer: input (T, B, d_in), w_ih (4h, d_in), w_hh (4h, h); two products per step."""
    steps, batch, width_in = args[0].shape
    gates, hidden = args[2].shape
    return 2 * steps * batch * gates * (width_in + hidden)


def cudnn_rnn_flops(args: tuple) -> int:
    """cuDNN's whole RNN/LSTM/GRU: input (T, B, d) or packed (N, d), then the flat weights, per layer w_ih (G*h, d_in)
    and w_hh (G*h, h) beside their biases; every weight matrix meets every token once."""
    inputs, weights = args[0], args[1]
    tokens = inputs.shape[0] if inputs.dim() == 2 else inputs.shape[0] * inputs.shape[1]
    return 2 * tokens * sum(weight.numel() for weight in weights if weight.dim() == 2)


def attention_flops(args: tuple) -> int:
    """softmax(QK^T)V: q (B, H, T, d), k (B, H, S, d); two products of B*H*T*S*d multiply-adds."""
    batch, heads, queries, width = args[0].shape
    return 4 * batch * heads * queries * args[1].shape[2] * width


def selective_scan_flops(args: tuple) -> int:
    """Mamba's compiled scan, counted as the PyTorch scan's products are: the readout C_t · h_t, one multiply-add
    per state number, from arguments 0 (B, T, E) and 3 (B, T, N) of both the forward and the backward op. Its
    elementwise work is not counted, as no elementwise op is."""
    batch, length, channels = args[0].shape
    return 2 * batch * length * channels * args[3].shape[2]


def readout_flops(q: torch.Tensor, v: torch.Tensor) -> int:
    """The compiled scans of GLA and mLSTM, counted as their naive twins' products are: the readout q_t S_t (C_tᵀ
    q_t), d_k x d_v multiply-adds per head and position, from q (B, H, T, d_k) and v (B, H, T, d_v)."""
    return 2 * q.numel() * v.shape[-1]


# op -> (FLOPs of its operands, multiple of those FLOPs): a backward pass recomputes the scores and forms dV, dP,
# dQ and dK (5 products for 2 forward ones); a recurrent layer's backward forms the input and weight gradients
# (2x), the selective scan's the readout's two adjoints
UNCOUNTED = {
    "aten.mkldnn_rnn_layer.default": (lstm_layer_flops, 1.0),
    "aten.mkldnn_rnn_layer_backward.default": (lstm_layer_flops, 2.0),
    "aten._cudnn_rnn.default": (cudnn_rnn_flops, 1.0),
    "aten._cudnn_rnn_backward.default": (cudnn_rnn_flops, 2.0),
    "aten._scaled_dot_product_flash_attention_for_cpu.default": (attention_flops, 1.0),
    "seqarena.selective_scan.default": (selective_scan_flops, 1.0),
    "seqarena.selective_scan_backward.default": (selective_scan_flops, 2.0),
    # the forward op takes (q, k, v, log α), the backward (dL/do, q, k, v, log α, states)
    "seqarena.gated_linear_scan.default": (lambda args: readout_flops(args[0], args[2]), 1.0),
    "seqarena.gated_linear_scan_backward.default": (lambda args: readout_flops(args[1], args[3]), 2.0),
    # and mLSTM's (q, k, v, log f, ĩ, ...), (dL/dh̃, q, k, v, ...)
    "seqarena.matrix_memory_scan.default": (lambda args: readout_flops(args[0], args[2]), 1.0),
    "seqarena.matrix_memory_scan_backward.default": (lambda args: readout_flops(args[1], args[3]), 2.0),
    "aten._scaled_dot_product_flash_attention_for_cpu_backward.default": (attention_flops, 2.5),
}


class AnalyticFlops(TorchDispatchMode):
    """Adds the FLOPs of the fused kernels FlopCounterMode does not count."""

    def __init__(self):
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        counted = UNCOUNTED.get(str(func))
        if counted is not None:
            flops_of, multiple = counted
            self.flops += int(multiple * flops_of(args))
        return func(*args, **(kwargs or {}))


def counted_flops(run) -> int:
    with FlopCounterMode(display=False) as counter, AnalyticFlops() as analytic:
        run()
    return counter.get_total_flops() + analytic.flops


class FlopsOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    length: int = Field(256, gt=0)
    batch: int = Field(8, gt=0)
    d_model: int = Field(64, gt=0)
    layers: int = Field(2, gt=0)
    device: str = "cpu"
    dtype: str = "float32"
    repeats: int = Field(3, gt=0)
    max_seconds: float = Field(10.0, gt=0)


def device_peak(device: torch.device, dtype: str) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for (part, kind), peak in PEAK_FLOPS.items() if part in name and kind == dtype), None)


def model_flops(name: str, options: FlopsOptions, sizes: ScalingOptions, peak: float | None) -> FlopsPoint:
    device = torch.device(options.device)
    torch.manual_seed(0)
    # torch's FLOP counter cannot see inside the compiled flex_attention kernel, so Longformer is counted and timed on
    # its blocked path: the same banded work in plain matrix products
    mixer_options = {"attention": "blocked"} if name == "longformer" else {}
    model = probe_model(name, options.length, sizes, mixer_options)
    model = model.to(device=device, dtype=getattr(torch, options.dtype))
    batch = random_batch(options.length, sizes, device)

    def train_step() -> None:
        model.zero_grad(set_to_none=True)
        model(batch).backward()

    def inference() -> None:
        with torch.no_grad():
            model(batch)

    tokens = options.batch * options.length
    train_flops, inference_flops = counted_flops(train_step), counted_flops(inference)
    seconds = median_seconds(train_step, device, options.repeats, options.max_seconds)
    achieved = train_flops / seconds
    return FlopsPoint(name, options.length, options.batch, train_flops / tokens, inference_flops / tokens,
                      1000 * seconds, achieved, peak, None if peak is None else achieved / peak,
                      mixer_options.get("attention"))


def flops(models: list[str], options: FlopsOptions) -> list[FlopsPoint]:
    sizes = ScalingOptions(batch=options.batch, d_model=options.d_model, layers=options.layers,
                           device=options.device, dtype=options.dtype)
    peak = device_peak(torch.device(options.device), options.dtype)
    return [model_flops(name, options, sizes, peak) for name in models]


MEASUREMENTS = (
    Measurement("flops", "FLOPs per token (analytic where torch counts none), achieved FLOP/s, utilisation",
                FlopsOptions, flops, SEQUENCE_MODELS),
)

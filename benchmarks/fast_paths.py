"""Fast path vs naive twin: training-step time of each mixer's two implementations, as JSON lines.

    python benchmarks/fast_paths.py --lengths 64 256 1024 --repeats 5

Rows: mixer, impl, seq_len, batch, d_model, ms per forward+backward (median of repeats), and the fast path's
speed-up over its twin. Recurrent mixers compare torch's fused kernel with the Python cell loop; attention
compares scaled_dot_product_attention with the explicit softmax(QK^T/sqrt(d))V; min-RNNs compare the
log-space parallel scan with the step-by-step loop; Mamba its chunked prefix scan, mLSTM and GLA their chunkwise
forms, with their step loops; Longformer compares blocked sliding-window attention (window
64 by default) with full attention under the same mask.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from seqarena.environment import hardware
from seqarena.models import build_mixer

PAIRS = {
    "rnn": ("impl", "fused", "cell"),
    "lstm": ("impl", "fused", "cell"),
    "gru": ("impl", "fused", "cell"),
    "mingru": ("impl", "scan", "sequential"),
    "minlstm": ("impl", "scan", "sequential"),
    "mamba": ("impl", "scan", "sequential"),
    "mlstm": ("impl", "chunkwise", "recurrent"),
    "gla": ("impl", "chunkwise", "recurrent"),
    "transformer": ("attention", "sdpa", "naive"),
    "longformer": ("attention", "blocked", "naive"),
}


def step_milliseconds(mixer: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    times = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        mixer(x).sum().backward()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device_info = hardware(args.device)
    for name, (option, fast, naive) in PAIRS.items():
        for length in args.lengths:
            x = torch.randn(args.batch, length, args.d_model, device=args.device, requires_grad=True)
            timings = {}
            for impl in (fast, naive):
                torch.manual_seed(0)
                mixer = build_mixer(name, args.d_model, True, "none", {option: impl}).to(args.device)
                timings[impl] = step_milliseconds(mixer, x, args.repeats)
            for impl, milliseconds in timings.items():
                print(json.dumps({
                    "mixer": name, "impl": impl, "seq_len": length, "batch": args.batch, "d_model": args.d_model,
                    "ms_per_train_step": round(milliseconds, 3),
                    "fast_path_speedup": round(timings[naive] / timings[fast], 2),
                    "device": args.device, "torch_threads": device_info["torch_threads"],
                }), flush=True)


if __name__ == "__main__":
    main()

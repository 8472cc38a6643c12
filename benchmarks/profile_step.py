"""Where a training step's time goes: the kernels of a few steps of scaling.py's models under torch.profiler.

    python benchmarks/profile_step.py --device cuda --dtype bfloat16 --d-model 512 --batch 8 --heads 8 \
        --length 16384 --models longformer hf-longformer reformer hf-reformer

Prints, per model, the slowest operators by their own device time (CPU time on a CPU), summed over --steps
training steps after one warm-up step; the same models, sizes and loss as benchmarks/scaling.py. On an H100 the
call above did not finish within 200 s (torch 2.11, 3 steps of the reformer at T=16,384): start a GPU lease with
--steps 1 at T=4,096.
"""

from __future__ import annotations

import argparse

import torch
from scaling import builders
from torch.profiler import ProfilerActivity, profile

from seqarena.measure.scaling import ScalingOptions, training_step


def profile_model(label: str, build, length: int, sizes: ScalingOptions, steps: int, rows: int) -> str:
    device = torch.device(sizes.device)
    train_step = training_step(build, length, sizes)[2]
    train_step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as profiler:
        for _ in range(steps):
            train_step()
        if device.type == "cuda":
            torch.cuda.synchronize()
    sort_by = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    table = profiler.key_averages().table(sort_by=sort_by, row_limit=rows, max_name_column_width=60)
    return f"== {label} at T={length}, {steps} training steps\n{table}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--length", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--bucket-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rows", type=int, default=15)
    args = parser.parse_args()
    sizes = ScalingOptions(lengths=[args.length], batch=args.batch, d_model=args.d_model, layers=args.layers,
                           heads=args.heads, window=args.window, bucket_size=args.bucket_size, device=args.device,
                           dtype=args.dtype)
    ours = [name for name in args.models if not name.startswith(("hf-", "torch-", "cudnn-"))]
    available = builders(ours, sizes, [name for name in args.models if name not in ours])
    for label in args.models:
        if label not in available:
            print(f"== {label}: not available here (transformers missing, or an unknown label)", flush=True)
            continue
        print(profile_model(label, available[label], args.length, sizes, args.steps, args.rows), flush=True)


if __name__ == "__main__":
    main()

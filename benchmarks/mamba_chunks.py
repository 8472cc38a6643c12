"""How many positions one chunk of Mamba's fast scan should hold: the forward and backward of `SelectiveScan`
(models/mamba.py) over random inputs of several batch x length shapes, at several chunk sizes (each in blocks of the
power of two nearest its square root) and at the default sizing (CHUNK_ELEMENTS numbers per chunk tensor), timed in
interleaved rounds in one process; beside them, in the same rounds, mambapy's `selective_scan` (Torres 2024: the
same recurrence as one pscan over (B, L, E, N) tensors under autograd) on the same inputs, where mambapy is
installed (pip install -e '.[test]').

    python benchmarks/mamba_chunks.py --shapes 1x1024 1x4096 8x1024 32x128 --chunks 4 16 32 128 256 --repeats 9

Prints one JSON line per (shape, chunk): the chunk and block, the numbers one chunk tensor holds, and the median
seconds of a forward and backward with its distribution-free 95% interval (results/statistics.py's Timing); the
peer's row has chunk "mambapy".
"""

from __future__ import annotations

import argparse
import json
import math

import torch

from seqarena.environment import hardware
from seqarena.measure.primitives import interleaved
from seqarena.models.mamba import MambaConfig, SelectiveScan, chunk_sizes


def scan_inputs(batch: int, length: int, channels: int, state: int) -> list[torch.Tensor]:
    """Δ, u, B, C and A as SelectiveSSM hands them to the scan: Δ > 0 small, A < 0."""
    generator = torch.Generator().manual_seed(0)
    delta = torch.rand(batch, length, channels, generator=generator) * 0.1
    u = torch.randn(batch, length, channels, generator=generator)
    B, C = (torch.randn(batch, length, state, generator=generator) for _ in range(2))
    A = -torch.arange(1, state + 1.0).repeat(channels, 1)
    return [tensor.requires_grad_() for tensor in (delta, u, B, C, A)]


def forward_and_backward(inputs: list[torch.Tensor], chunk: int, block: int):
    def run() -> None:
        SelectiveScan.apply(*inputs, chunk, block).sum().backward()
    return run


def mambapy_scan(inputs: list[torch.Tensor]):
    """mambapy's MambaBlock.selective_scan (which reads nothing of its block) with D = 0, so it returns C_t · h_t as
    ours does; None where mambapy is not installed."""
    try:
        from mambapy.mamba import MambaBlock
    except ImportError:
        return None
    delta, u, B, C, A = inputs

    def run() -> None:
        MambaBlock.selective_scan(None, u, delta, A, B, C, torch.zeros(A.shape[0])).sum().backward()
    return run


def shape_rows(batch: int, length: int, chunks: list[int], args: argparse.Namespace) -> list[dict]:
    inputs = scan_inputs(batch, length, args.channels, args.state)
    default = chunk_sizes(MambaConfig(d_model=args.channels // 2, causal=True, state_size=args.state), batch,
                          args.channels)
    sizes = {(chunk, 2 ** round(math.log2(chunk) / 2)) for chunk in chunks if chunk <= length} | {default}
    runs = {size: forward_and_backward(inputs, *size) for size in sorted(sizes)}
    peer = mambapy_scan(inputs)
    if peer is None:
        print(json.dumps({"kind": "skipped", "chunk": "mambapy", "reason": "mambapy is not installed"}), flush=True)
    else:
        runs[("mambapy", None)] = peer
    timings = interleaved(runs, torch.device("cpu"), args.repeats, max_seconds=math.inf)
    return [{"batch": batch, "length": length, "channels": args.channels, "state": args.state, "chunk": chunk,
             "block": block, "default": (chunk, block) == default,
             "numbers_per_chunk_tensor": batch * chunk * args.channels * args.state if block else None,
             "median_s": timing.median, "low_s": timing.low, "high_s": timing.high, "repeats": timing.repeats}
            for (chunk, block), timing in timings.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=["1x1024", "1x4096", "8x1024", "32x128"],
                        help="batch x length")
    parser.add_argument("--chunks", type=int, nargs="+", default=[4, 8, 16, 32, 64, 128, 256])
    parser.add_argument("--channels", type=int, default=128, help="E: expand (2) x d_model (64)")
    parser.add_argument("--state", type=int, default=16, help="N")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps({"kind": "hardware", **hardware("cpu")}), flush=True)
    for shape in args.shapes:
        batch, length = map(int, shape.split("x"))
        for row in shape_rows(batch, length, args.chunks, args):
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

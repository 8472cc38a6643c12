"""The compiled CPU kernels of the linear recurrences (Mamba's selective scan, GLA's gated linear scan): each a C++
file beside this one, built by torch's C++ extension loader on first use (about half a minute each, then cached
under torch's extensions directory) with the machine's vector instructions and OpenMP, run over torch's intra-op
threads; and the choice of a mixer's `impl` between its kernel and its PyTorch form."""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import torch

from seqarena.errors import ConfigError

# -fno-trapping-math lets the compiler vectorise a float-to-int conversion (the selective scan's exp); -fopenmp turns
# at::parallel_for into OpenMP threads (torch's own libgomp, already loaded, serves them)
COMPILER_FLAGS = ["-O3", "-march=native", "-fno-trapping-math", "-fopenmp-simd", "-fopenmp"]


@functools.cache
def built(kernel: str) -> object | str:
    """The compiled module of `kernel`.cpp, or why it could not be built (no C++ compiler, no ninja, no OpenMP):
    tried once per process."""
    from torch.utils.cpp_extension import load

    source = Path(__file__).with_name(f"{kernel}.cpp")
    try:
        return load(f"seqarena_{kernel}", [str(source)], extra_cflags=COMPILER_FLAGS, extra_ldflags=["-fopenmp"])
    except (RuntimeError, OSError, ImportError) as error:
        first_line = next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
        return f"building {source.name} failed: {first_line}"


def unavailable_reason(kernel: str) -> str | None:
    """None when `kernel` can run here, else one line saying why not."""
    module = built(kernel)
    return module if isinstance(module, str) else None


def extension(kernel: str):
    module = built(kernel)
    if isinstance(module, str):
        raise RuntimeError(module)
    return module


def chosen_impl(impl: str, device: torch.device, kernel: str, fallback: str, model: str) -> str:
    """The form to run on `device`: "auto" is the compiled kernel on the CPU where it builds (a warning says why
    not), else `fallback`, the PyTorch form; "compiled" where the kernel cannot run stops with why."""
    if impl not in ("auto", "compiled"):
        return impl
    reason = "it runs on the CPU only" if device.type != "cpu" else unavailable_reason(kernel)
    if reason is None:
        return "compiled"
    if impl == "compiled":
        raise ConfigError(f"{model}'s compiled kernel cannot run on {device.type}: {reason}; set impl to {fallback}")
    if device.type == "cpu":
        warnings.warn(f"{model} runs its PyTorch {fallback} form, several times slower: {reason}", stacklevel=3)
    return fallback

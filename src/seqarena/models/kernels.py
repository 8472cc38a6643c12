"""The compiled CPU kernels of the linear recurrences (Mamba's selective scan, GLA's gated linear scan): each a C++
file beside this one, built by torch's C++ extension loader on first use (about half a minute each, then cached
under torch's extensions directory) with the machine's vector instructions and OpenMP, run over torch's intra-op
threads; and the choice of a mixer's `impl` between its kernel and its PyTorch form."""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from seqarena.errors import ConfigError

# -fno-trapping-math lets the compiler vectorise a float-to-int conversion (the selective scan's exp); -fopenmp turns
# at::parallel_for into OpenMP threads (torch's own libgomp, already loaded, serves them)
COMPILER_FLAGS = ["-O3", "-march=native", "-fno-trapping-math", "-fopenmp-simd", "-fopenmp"]
# what the kernels share; torch's loader rebuilds a kernel when its source or its flags change, not its headers, so
# the header's hash goes in as a flag
SHARED_HEADER = Path(__file__).with_name("kernels.h")


def header_hash_flag() -> str:
    return f"-DSEQARENA_KERNELS_H={hashlib.sha256(SHARED_HEADER.read_bytes()).hexdigest()[:16]}"


def instruction_sets() -> str:
    """The CPU's architecture and a digest of the instruction sets it reports (Linux's /proc/cpuinfo flags): a
    kernel built with -march=native for one CPU may hold instructions another lacks, and a home directory is often
    shared by the machines of a cluster."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    flags = next((line for line in lines if line.startswith("flags")), "")
    return f"{platform.machine()}-{hashlib.sha256(flags.encode()).hexdigest()[:12]}"


def kernel_directory(kernel: str) -> Path:
    """Where `kernel` is built: under torch's extensions directory ($TORCH_EXTENSIONS_DIR, else
    ~/.cache/torch_extensions), one folder per Python and torch version and per kind of CPU."""
    root = Path(os.environ.get("TORCH_EXTENSIONS_DIR") or Path.home() / ".cache" / "torch_extensions")
    versions = f"py{sys.version_info.major}{sys.version_info.minor}-torch{torch.__version__}-{instruction_sets()}"
    return root / "seqarena" / versions / kernel


@contextmanager
def exclusive_build(directory: Path) -> Iterator[None]:
    """Held while a process builds or loads the kernel in `directory`: an flock, which the OS releases when its holder
    dies. torch's loader guards a build with a file of its own ("lock") and waits for it to go away without a time
    limit, so a build killed half-way (Ctrl-C on the first run) would hang every later run; under this flock no other
    seqarena process is building, so such a file is stale and is removed."""
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    with open(directory.with_name(f"{directory.name}.flock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        (directory / "lock").unlink(missing_ok=True)
        yield


@functools.cache
def built(kernel: str) -> object | str:
    """The compiled module of `kernel`.cpp, or why it could not be built (no C++ compiler, no ninja, no OpenMP, no
    POSIX file locks): tried once per process."""
    from torch.utils.cpp_extension import load

    source, directory = Path(__file__).with_name(f"{kernel}.cpp"), kernel_directory(kernel)
    try:
        with exclusive_build(directory):
            return load(f"seqarena_{kernel}", [str(source)], extra_cflags=[*COMPILER_FLAGS, header_hash_flag()],
                        extra_ldflags=["-fopenmp"], build_directory=str(directory))
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


def keep_for_backward(ctx, inputs: tuple, output: tuple) -> None:
    """A kernel op's setup_context: its tensor inputs and the states its forward kept (every output after the first)
    saved for the backward op, its other inputs (constants) kept as they are."""
    ctx.save_for_backward(*(value for value in inputs if isinstance(value, torch.Tensor)), *output[1:])
    ctx.constants = tuple(value for value in inputs if not isinstance(value, torch.Tensor))

"""Library versions, the source commit and hardware, recorded with every result."""

from __future__ import annotations

import os
import platform
import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from seqarena.lazy import lazy_module

# loaded when hardware() is first read: exporting and reading evidence need no torch
torch = lazy_module("torch")

PACKAGES = ("seqarena", "torch", "numpy", "scikit-learn", "pydantic")


def package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def source_commit() -> str | None:
    """The git commit of the checkout seqarena runs from, with "+dirty" when its code differs from that commit (the
    shipped evidence, which a reference run rewrites as it goes, aside); None for an installed wheel or without
    git."""
    package = Path(__file__).parent
    try:
        found = subprocess.run(["git", "rev-parse", "HEAD"], cwd=package, capture_output=True, text=True, timeout=10)
        if found.returncode != 0:
            return None
        changed = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", ".", ":(exclude)reference"], cwd=package,
                                 capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() + ("+dirty" if changed.returncode == 1 else "")


def versions() -> dict[str, str | None]:
    """What a result was measured with: Python, the packages, and the commit of seqarena's source."""
    return {"python": platform.python_version(), **{name: package_version(name) for name in PACKAGES},
            "seqarena_commit": source_commit()}


def hardware(device: str = "cpu") -> dict[str, object]:
    info: dict[str, object] = {
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "system": platform.system(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def physical_memory() -> int:
    """This machine's physical memory in bytes: the bound a step that would allocate more stops at first."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def size_text(count: float) -> str:
    """Bytes in the largest unit that keeps a number >= 1: '6.5 MiB', '35.8 GiB'."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count:.0f} B"

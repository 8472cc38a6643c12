"""Optional packages imported where they are needed, or a one-line error that names what to install (require); and
heavy packages the command line rarely needs (scipy.stats, statsmodels, matplotlib: together about a second of
start-up on 2 cores), bound at import but loaded on first attribute access, with the standard library's
importlib.util.LazyLoader. `seqarena --help` and a one-line error for a bad file then cost little beyond Python's
and torch's own import (measured in the README)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

from seqarena.errors import ConfigError, SeqarenaError


def lazy_module(name: str) -> ModuleType:
    """The module `name`, imported when one of its attributes is first read (at once if it already is)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def require(module: str, extra: str, purpose: str, error: type[SeqarenaError] = ConfigError) -> ModuleType:
    """The optional module, imported; without it, `error` with one line: `purpose` (what needs it, a phrase that
    ends where the package's name goes: "the ray executor runs on"), the package and what to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise error(f"{purpose} {module.split('.')[0]}, which is not installed: pip install '{extra}'") from None

"""Heavy packages the command line rarely needs (scipy.stats, statsmodels, matplotlib: together about a second of
start-up on 2 cores), bound at import but loaded on first attribute access, with the standard library's
importlib.util.LazyLoader. `seqarena --help` and a one-line error for a bad file then cost little beyond Python's
and torch's own import (measured in the README)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


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

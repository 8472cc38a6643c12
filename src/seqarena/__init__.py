"""seqarena: recurrent networks and Transformers, trained fairly and measured against the claims made about them.

`seqarena.compare(data or task=..., models=...)` runs a fair line-up and returns the decision: a leaderboard
DataFrame, the recommendation and its rule, the runs, plot() (seqarena.api); it is imported on first use, so the
command line does not pay for pandas."""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "compare":
        from seqarena.api import compare

        return compare
    raise AttributeError(f"module 'seqarena' has no attribute {name!r}")


__all__ = ["compare"]

"""Whether attention needs positional encodings for order: attention models trained on the `order` probe (which
of two markers comes first) with each encoding, and with none, bidirectional and causal. Without positions,
bidirectional self-attention is permutation-equivariant and its mean-pooled output cannot see order; causal
attention still can, since its mask makes each position's view of the prefix differ (Haviv et al. 2022, "Transformer
language models without positional encodings still learn positional information"). Runs go through the sweep
engine: budget-matched, seeds, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from seqarena.measure.learning import GridOptions, run_grid, skill
from seqarena.store import ResultStore
from seqarena.sweep import SweepConfig


class PositionalOptions(GridOptions):
    task: str = "order"
    encodings: list[str] = Field(["none", "sinusoidal", "rope"], min_length=2)
    causal: list[bool] = Field([False, True], min_length=1)


def positional(models: list[str], options: PositionalOptions, store: ResultStore, checkpoints: Path | None = None,
               on_event: Any = None) -> list[dict[str, Any]]:
    """Mean test score (95% interval) and skill per (model, encoding, causal)."""
    rows = []
    for causal in options.causal:
        for encoding in options.encodings:
            reading = "causal" if causal else "bidirectional"
            sweep = SweepConfig(name=f"positional:{encoding}:{reading}", models=models, seeds=options.seeds,
                                tasks=[{"name": options.task, "options": options.task_options}],
                                param_budget=options.param_budget, train=options.train,
                                model={"positional": encoding, "causal": causal})
            rows += [{"model": item.model, "task": options.task, "positional": encoding, "causal": causal,
                      "metric": item.metric, "test_mean": item.test_mean, "test_interval": item.test_interval,
                      "chance": item.chance, "skill": skill(item.metric, item.test_mean, item.chance),
                      "seeds": item.seeds}
                     for item in run_grid(sweep, store, checkpoints, on_event)]
    return rows

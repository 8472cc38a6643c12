"""Whether attention needs positional encodings for order: attention models trained on the `order` probe (which
of two markers comes first) with each encoding, and with none, bidirectional and causal. Without positions,
bidirectional self-attention is permutation-equivariant and its mean-pooled output cannot see order; causal
attention still can, since its mask makes each position's view of the prefix differ (Haviv et al. 2022, "Transformer
language models without positional encodings still learn positional information"). Runs go through the sweep
engine: budget-matched, seeds, resumable."""

from __future__ import annotations

from pydantic import Field

from seqarena.measure import Measurement
from seqarena.measure.learning import Grid, GridOptions, scored
from seqarena.results.measurements import PositionalPoint


class PositionalOptions(GridOptions):
    task: str = "order"
    encodings: list[str] = Field(["none", "sinusoidal", "rope"], min_length=2)
    causal: list[bool] = Field([False, True], min_length=1)


def positional(models: list[str], options: PositionalOptions, grid: Grid) -> list[PositionalPoint]:
    """Mean test score (95% interval) and skill per (model, encoding, causal)."""
    rows = []
    for causal in options.causal:
        for encoding in options.encodings:
            reading = "causal" if causal else "bidirectional"
            sweep = options.sweep(f"positional:{encoding}:{reading}", models, options.task,
                                  model={"positional": encoding, "causal": causal})
            rows += [PositionalPoint(**scored(item, options.task), positional=encoding, causal=causal)
                     for item in grid(sweep)]
    return rows


MEASUREMENTS = (
    Measurement("positional", "attention with and without positional encodings on an order probe, "
                "bidirectional and causal", PositionalOptions, positional, ("transformer",), trains=True),
)

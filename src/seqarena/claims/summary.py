"""The note's summary table (rnn-vs-transformer note, "Summary Table", with its "Performance" section as the last
row): each row's aspect, the note's statement about RNNs and about Transformers, and the claims whose verdicts
answer each statement. The report opens with it, a measured verdict in each cell."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cell:
    statement: str
    # the ids of the claims (CLAIMS) that measure the statement; none where the statement is a definition
    claims: tuple[str, ...]


@dataclass(frozen=True)
class SummaryRow:
    aspect: str
    rnn: Cell
    transformer: Cell


SUMMARY = (
    SummaryRow("architecture", Cell("Sequential (step-by-step)", ("rnn-sequential",)),
               Cell("Parallel (process all at once)", ("transformer-parallel",))),
    SummaryRow("attention", Cell("Implicit through hidden states", ()),
               Cell("Explicit via self-attention; needs positional encodings for order", ("positional-encodings",))),
    SummaryRow("parallelization", Cell("Not parallelizable", ("rnn-sequential",)),
               Cell("Fully parallelizable; decoding stays sequential",
                    ("transformer-parallel", "sequential-decoding"))),
    SummaryRow("long sequences", Cell("Struggles with long dependencies (vanishing, exploding gradients); LSTM/GRU "
                                      "mitigate", ("vanishing-gradients", "exploding-gradients")),
               Cell("Excellent with long dependencies", ("transformer-long-range",))),
    SummaryRow("efficiency", Cell("Slower training", ("transformer-faster-training",)),
               Cell("Faster due to parallelization", ("transformer-faster-training",))),
    SummaryRow("memory/scalability", Cell("Memory-efficient for short sequences; poor scalability to long ones",
                                          ("rnn-memory",)),
               Cell("Scalable but memory-intensive (quadratic attention); Longformer/Reformer reduce it",
                    ("attention-memory", "sparse-attention-memory"))),
    SummaryRow("use cases", Cell("Time-series, speech, small datasets, low latency",
                                 ("domains", "rnn-small-data", "rnn-latency")),
               Cell("NLP, large datasets, vision", ("domains", "transformer-large-data"))),
    SummaryRow("performance", Cell("Worse on complex, large-scale tasks", ("transformer-outperforms",)),
               Cell("Outperform RNNs on most tasks; pre-trained models (BERT, GPT, T5)",
                    ("transformer-outperforms", "pretraining-lead"))),
)

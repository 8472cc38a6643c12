"""The note's summary table (rnn-vs-transformer note, "Summary Table", with its "Performance" section as the last
row): each row's aspect, the note's statement about RNNs and about Transformers, and the claims whose verdicts
answer each statement. The report opens with it, a measured verdict in each cell."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cell:
    statement: str
    # the texts of the claims (CLAIMS) that measure the statement; none where the statement is a definition
    claims: tuple[str, ...]


@dataclass(frozen=True)
class SummaryRow:
    aspect: str
    rnn: Cell
    transformer: Cell


SEQUENTIAL = "not parallelizable (sequential, step by step)"
PARALLEL = "fully parallelizable (the whole sequence at once)"
FASTER = "faster training than RNNs"
DOMAINS = "RNNs for time series and speech; Transformers for NLP and vision"
OUTPERFORMS = "outperforms RNNs on most tasks"

SUMMARY = (
    SummaryRow("architecture", Cell("Sequential (step-by-step)", (SEQUENTIAL,)),
               Cell("Parallel (process all at once)", (PARALLEL,))),
    SummaryRow("attention", Cell("Implicit through hidden states", ()),
               Cell("Explicit via self-attention; needs positional encodings for order",
                    ("needs positional encodings for order",))),
    SummaryRow("parallelization", Cell("Not parallelizable", (SEQUENTIAL,)),
               Cell("Fully parallelizable; decoding stays sequential",
                    (PARALLEL, "speeds up training, but decoding stays sequential"))),
    SummaryRow("long sequences", Cell("Struggles with long dependencies (vanishing, exploding gradients); LSTM/GRU "
                                      "mitigate",
                                      ("struggles with long dependencies (vanishing gradients); LSTM/GRU mitigate",
                                       "exploding gradients destabilise training; gradient clipping controls them")),
               Cell("Excellent with long dependencies", ("excellent with long dependencies",))),
    SummaryRow("efficiency", Cell("Slower training", (FASTER,)),
               Cell("Faster due to parallelization", (FASTER,))),
    SummaryRow("memory/scalability", Cell("Memory-efficient for short sequences; poor scalability to long ones",
                                          ("memory-efficient for short sequences, poor scaling to long ones",)),
               Cell("Scalable but memory-intensive (quadratic attention); Longformer/Reformer reduce it",
                    ("attention memory is quadratic in length", "improve memory efficiency over full attention"))),
    SummaryRow("use cases", Cell("Time-series, speech, small datasets, low latency",
                                 (DOMAINS, "suits small datasets", "low latency")),
               Cell("NLP, large datasets, vision", (DOMAINS, "suits large datasets (RNNs scale poorly to them)"))),
    SummaryRow("performance", Cell("Worse on complex, large-scale tasks", (OUTPERFORMS,)),
               Cell("Outperform RNNs on most tasks; pre-trained models (BERT, GPT, T5)",
                    (OUTPERFORMS, "its lead comes with pre-trained models (BERT, GPT, T5)"))),
)


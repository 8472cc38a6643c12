"""What the literature leads one to expect of each claim's verdict under its rule, with the sources, so a reference
run can say where it reproduces a known result and where it does not. An expectation is an outcome of the rule,
not of the note: "depends" where the literature says the claim holds for one kernel, reading or domain and not
another."""

from __future__ import annotations

from dataclasses import dataclass

from seqarena.results.records import Outcome, Verdict


@dataclass(frozen=True)
class Expectation:
    outcome: Outcome
    why: str


EXPECTATIONS = {
    "needs positional encodings for order": Expectation(
        Outcome.DEPENDS, "self-attention without positions is permutation-equivariant (Vaswani et al. 2017, sec. "
        "3.5), but a causal mask lets it infer positions (Haviv et al. 2022): needed bidirectional, not causal"),
    "not parallelizable (sequential, step by step)": Expectation(
        Outcome.SUPPORTED, "each hidden state needs the previous one (Vaswani et al. 2017, sec. 4; Bradbury et al. "
        "2017)"),
    "fully parallelizable (the whole sequence at once)": Expectation(
        Outcome.SUPPORTED, "O(1) sequential operations per layer (Vaswani et al. 2017, Table 1)"),
    "struggles with long dependencies (vanishing gradients); LSTM/GRU mitigate": Expectation(
        Outcome.SUPPORTED, "Bengio et al. 1994; Hochreiter & Schmidhuber 1997"),
    "exploding gradients destabilise training; gradient clipping controls them": Expectation(
        Outcome.SUPPORTED, "Pascanu et al. 2013"),
    "excellent with long dependencies": Expectation(
        Outcome.SUPPORTED, "attention solves copying and multi-query associative recall where recurrences of the "
        "same size fail (Arora et al. 2023; Jelassi et al. 2024)"),
    "faster training than RNNs": Expectation(
        Outcome.SUPPORTED, "on parallel hardware (Vaswani et al. 2017, sec. 6.1); a CPU has little parallelism to "
        "offer"),
    "attention memory is quadratic in length": Expectation(
        Outcome.DEPENDS, "quadratic when the T x T scores are materialised, linear with a memory-efficient kernel "
        "(Rabe & Staats 2021; Dao et al. 2022)"),
    "memory-efficient for short sequences, poor scaling to long ones": Expectation(
        Outcome.DEPENDS, "backpropagation through time keeps every state: linear in T (Werbos 1990), as a fused "
        "attention kernel is"),
    "improve memory efficiency over full attention": Expectation(
        Outcome.DEPENDS, "below explicit attention (Beltagy et al. 2020; Kitaev et al. 2020), not below an exact "
        "kernel that is already linear in memory (Dao et al. 2022)"),
    "speeds up training, but decoding stays sequential": Expectation(
        Outcome.SUPPORTED, "autoregressive decoding emits one token per step (Vaswani et al. 2017)"),
    "suits small datasets": Expectation(
        Outcome.SUPPORTED, "attention lacks the inductive biases of recurrence and convolution and needs more data "
        "(Dosovitskiy et al. 2021)"),
    "suits large datasets (RNNs scale poorly to them)": Expectation(
        Outcome.SUPPORTED, "Kaplan et al. 2020; Dosovitskiy et al. 2021"),
    "RNNs for time series and speech; Transformers for NLP and vision": Expectation(
        Outcome.DEPENDS, "transformers lead in NLP and vision; on forecasts a linear model beats both (Zeng et al. "
        "2023)"),
    "low latency": Expectation(
        Outcome.SUPPORTED, "a constant-size state per generated token against a growing cache (Katharopoulos et al. "
        "2020; Gu & Dao 2023)"),
    "outperforms RNNs on most tasks": Expectation(
        Outcome.SUPPORTED, "at scale, in NLP and vision (Vaswani et al. 2017; Dosovitskiy et al. 2021)"),
    "its lead comes with pre-trained models (BERT, GPT, T5)": Expectation(
        Outcome.SUPPORTED, "self-pretraining on the task's own data moves rankings toward the transformer (Amos et "
        "al. 2023)"),
}


def reproduced(claim_text: str, verdict: Verdict) -> str:
    """Whether a verdict matches the literature's expectation: yes, no, or not shown (not resolved or not
    measured at that budget)."""
    expected = EXPECTATIONS[claim_text].outcome
    if verdict.verdict in (Outcome.NOT_RESOLVED, Outcome.NOT_MEASURED):
        return "not shown at this budget"
    return "yes" if verdict.verdict == expected else "no"

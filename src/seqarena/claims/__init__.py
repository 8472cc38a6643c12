"""The summary table of the RNN-vs-Transformer note as claims, each judged on stored measurements and runs.

Every claim names the measurements it needs, states its decision rule and statistic, and returns a verdict:
supported, contradicted, depends (with the condition), not resolved (the evidence cannot separate the models), or
not measured. Nothing is hard-coded: the verdict comes from the records in the store, so a different measurement
can flip it. Every test a rule performs joins one family, Holm-corrected across the report (`corrected`), and every
verdict carries the budget of its evidence (docs/architecture.md, "Evidence")."""

from __future__ import annotations

import math
from dataclasses import replace

from seqarena.claims.common import MIN_SEEDS, Claim
from seqarena.claims.learning import VANISHED, judge_exploding, judge_positional, judge_small_data, judge_vanishing
from seqarena.claims.literature import Expectation
from seqarena.claims.long_range import judge_transformer_long_range
from seqarena.claims.pretraining import judge_pretraining_lead
from seqarena.claims.ranking import judge_outperform
from seqarena.claims.readings import (
    read_attention_memory,
    read_decoding,
    read_domains,
    read_exploding,
    read_large_data,
    read_latency,
    read_long_range,
    read_outperform,
    read_positional,
    read_pretraining,
    read_rnn_memory,
    read_rnn_parallelism,
    read_small_data,
    read_sparse_memory,
    read_training_speed,
    read_transformer_parallelism,
    read_vanishing,
)
from seqarena.claims.speed import (
    DEPENDENT_STEPS_PER_TOKEN,
    EXPONENT_MARGIN,
    QUADRATIC_EXPONENT,
    TIME_AXIS_RATIO,
    judge_attention_memory,
    judge_latency,
    judge_rnn_memory,
    judge_rnn_parallelism,
    judge_training_speed,
    judge_transformer_parallelism,
)
from seqarena.claims.uses import MIN_DATA_SPAN, judge_domains, judge_large_data
from seqarena.claims.variants import SEQUENTIAL_DECODING, judge_decoding, judge_sparse_memory
from seqarena.evidence import Evidence
from seqarena.results.records import Outcome, Verdict
from seqarena.results.statistics import ALPHA, fewest_seeds_to_reject, holm, seeds_to_reach
from seqarena.results.store import ResultStore

WELCH = (f"Welch's t-test and the exact permutation test over >= {MIN_SEEDS} seeds, both at p < {ALPHA} (the larger "
         "p, Holm-corrected across the report's tests; the permutation test needs 6 seeds per arm to reach Holm's "
         "levels)")
EXACT_BYTES = "exact byte counts: the exponent between the two longest lengths, no interval (nothing to average)"
TIMING = "medians of up to 15 timed repeats with distribution-free 95% intervals"
TOKEN_TIMING = "median over the generated tokens (16) with a distribution-free 95% interval"
DEPENDENT_STEPS = "exact counts of dependent ops at two lengths (a count has no interval), the timed ratio beside"

CLAIMS = (
    Claim(id="positional-encodings", aspect="attention", family="Transformer",
          text="needs positional encodings for order", needs=("positional",),
          rule="per reading (bidirectional, causal): needed when the best encoding (chosen on validation) beats no "
               "encoding on the order probe and beats chance; not needed when attention without an encoding beats "
               "chance and the two cannot be told apart",
          judge=judge_positional, statistic=WELCH, read=read_positional,
          expectation=Expectation(Outcome.DEPENDS,
                                  "self-attention without positions is permutation-equivariant (Vaswani et al. 2017, "
                                  "sec. 3.5), but a causal mask lets it infer positions (Haviv et al. 2022): needed "
                                  "bidirectional, not causal")),
    Claim(id="rnn-sequential", aspect="parallelization", family="RNN",
          text="not parallelizable (sequential, step by step)", needs=("parallelism",),
          rule=f"sequential over time when one more token adds at least {DEPENDENT_STEPS_PER_TOKEN:g} dependent step "
               "to a forward pass (the longest chain of ops run one after another, counted, not timed) for every "
               "step-by-step cell; parallel when less. Rows without counted steps decide on the sequential ratio (a "
               "token's marginal time per FLOP at the end of one sequence over that as one more sequence in a batch) "
               f"against {TIME_AXIS_RATIO:g}",
          judge=judge_rnn_parallelism, statistic=DEPENDENT_STEPS, read=read_rnn_parallelism,
          expectation=Expectation(Outcome.SUPPORTED,
                                  "each hidden state needs the previous one (Vaswani et al. 2017, sec. 4; Bradbury et "
                                  "al. 2017)")),
    Claim(id="transformer-parallel", aspect="parallelization", family="Transformer",
          text="fully parallelizable (the whole sequence at once)", needs=("parallelism",),
          rule=f"supported when one more token adds fewer than {DEPENDENT_STEPS_PER_TOKEN:g} dependent step (rows "
               f"without counted steps: the sequential ratio's interval below {TIME_AXIS_RATIO:g}), contradicted when "
               "at least that",
          judge=judge_transformer_parallelism, statistic=DEPENDENT_STEPS, read=read_transformer_parallelism,
          expectation=Expectation(Outcome.SUPPORTED,
                                  "O(1) sequential operations per layer (Vaswani et al. 2017, Table 1)")),
    Claim(id="vanishing-gradients", aspect="long sequences", family="RNN",
          text="struggles with long dependencies (vanishing gradients); LSTM/GRU mitigate", needs=("gradients",),
          rule=f"after training, the gradient's measured factor over the probe's dependency distance (||dL/dh|| T/2 "
               f"steps back over ||dL/dh_T||): vanished below x{VANISHED:g}, exploded above x{1 / VANISHED:g}; "
               "supported when the Elman RNN's vanishes and every gated cell keeps it; depends, naming each, when only "
               "some keep it or they only vanish more slowly",
          judge=judge_vanishing,
          statistic="geometric mean over seeds with its 95% t-interval on the log scale",
          read=read_vanishing,
          expectation=Expectation(Outcome.SUPPORTED,
                                  "Bengio et al. 1994; Hochreiter & Schmidhuber 1997")),
    Claim(id="exploding-gradients", aspect="long sequences", family="RNN",
          text="exploding gradients destabilise training; gradient clipping controls them", needs=("stability",),
          rule="plain SGD at each learning rate of a grid, per seed, with and without clipping, the transformer beside "
               "the Elman RNN: exploded when a step's gradient norm reaches 100x the run's median or the loss stops "
               "being finite; supported when, at a rate where most unclipped Elman seeds explode and at most half of "
               "the transformer's do, clipped training stays finite and ends below chance",
          judge=judge_exploding,
          statistic="counts over seeds; a one-sided one-sample t-test of the clipped validation losses against chance "
                    "per rate (Holm-corrected across the report's tests)",
          read=read_exploding,
          expectation=Expectation(Outcome.SUPPORTED,
                                  "Pascanu et al. 2013")),
    Claim(id="transformer-long-range", aspect="long sequences", family="Transformer",
          text="excellent with long dependencies", needs=("long_range",),
          rule="per causal probe, at the lengths the no-mixing control does not solve, the transformer against the "
               "recurrent model with the best validation skill there: a length is solved when the worst end of the 95% "
               "t-interval of the raw scores closes >= 90% of the gap from chance to perfect; supported when the "
               "transformer solves a length the rival does not, contradicted when the reverse; with equal breaking "
               "lengths the scores at the longest length decide, and two models that both solve it tie",
          judge=judge_transformer_long_range,
          statistic="Welch's t-test and the exact permutation test on the raw scores (the log scale turns complete "
                    f"separation into Welch p=0.085), both at p < {ALPHA}, the larger p Holm-corrected across the "
                    "report's tests",
          read=read_long_range,
          expectation=Expectation(Outcome.SUPPORTED,
                                  "attention solves copying and multi-query associative recall where recurrences of "
                                  "the same size fail (Arora et al. 2023; Jelassi et al. 2024)")),
    Claim(id="transformer-faster-training", aspect="efficiency", family="Transformer",
          text="faster training than RNNs", needs=("scaling",),
          rule="training tokens/s of the transformer against the fastest recurrent cell at each measured length; "
               "faster or slower only where the intervals do not overlap",
          judge=judge_training_speed, statistic=TIMING, read=read_training_speed,
          expectation=Expectation(Outcome.SUPPORTED,
                                  "on parallel hardware (Vaswani et al. 2017, sec. 6.1); a CPU has little parallelism "
                                  "to offer")),
    Claim(id="attention-memory", aspect="memory/scalability", family="Transformer",
          text="attention memory is quadratic in length", needs=("scaling",),
          rule=f"explicit attention and the fused kernel each: quadratic when the training-memory exponent between the "
               f"two longest lengths lies above {QUADRATIC_EXPONENT:g}",
          judge=judge_attention_memory, statistic=EXACT_BYTES, read=read_attention_memory,
          expectation=Expectation(Outcome.DEPENDS,
                                  "quadratic when the T x T scores are materialised, linear with a memory-efficient "
                                  "kernel (Rabe & Staats 2021; Dao et al. 2022)")),
    Claim(id="rnn-memory", aspect="memory/scalability", family="RNN",
          text="memory-efficient for short sequences, poor scaling to long ones", needs=("scaling",),
          rule="efficient when the leanest recurrent model's training memory at the shortest length is "
               "below the transformer's; poor scaling when a recurrent model's memory exponent between the two longest "
               f"lengths exceeds the transformer's by more than {EXPONENT_MARGIN:g}",
          judge=judge_rnn_memory, statistic=EXACT_BYTES, read=read_rnn_memory,
          expectation=Expectation(Outcome.DEPENDS,
                                  "backpropagation through time keeps every state: linear in T (Werbos 1990), as a "
                                  "fused attention kernel is")),
    Claim(id="sparse-attention-memory", aspect="memory/scalability", family="Longformer/Reformer",
          text="improve memory efficiency over full attention", needs=("scaling",),
          rule=f"supported when each sparse model's training-memory exponent (two longest lengths) lies more than "
               f"{EXPONENT_MARGIN:g} below explicit attention's and it needs less memory than the fused exact kernel "
               "at the longest shared length; depends when only some of that holds",
          judge=judge_sparse_memory, statistic=EXACT_BYTES, read=read_sparse_memory,
          expectation=Expectation(Outcome.DEPENDS,
                                  "below explicit attention (Beltagy et al. 2020; Kitaev et al. 2020), not below an "
                                  "exact kernel that is already linear in memory (Dao et al. 2022)")),
    Claim(id="sequential-decoding", aspect="efficiency", family="Transformer",
          text="speeds up training, but decoding stays sequential", needs=("parallelism", "latency"),
          rule=f"training parallel when one more token adds fewer than {DEPENDENT_STEPS_PER_TOKEN:g} dependent step; "
               "decoding sequential "
               f"when generating T tokens one by one takes over {SEQUENTIAL_DECODING:g}x one forward pass over them",
          judge=judge_decoding, statistic=f"{DEPENDENT_STEPS}; {TOKEN_TIMING}", read=read_decoding,
          expectation=Expectation(Outcome.SUPPORTED,
                                  "autoregressive decoding emits one token per step (Vaswani et al. 2017)")),
    Claim(id="rnn-small-data", aspect="use cases", family="RNN",
          text="suits small datasets", needs=("data_size",),
          rule="at the smallest training fraction, the best recurrent model (chosen on validation) against the "
               "transformer",
          judge=judge_small_data, statistic=WELCH, read=read_small_data,
          expectation=Expectation(Outcome.SUPPORTED,
                                  "attention lacks the inductive biases of recurrence and convolution and needs more "
                                  "data (Dosovitskiy et al. 2021)")),
    Claim(id="transformer-large-data", aspect="use cases", family="Transformer",
          text="suits large datasets (RNNs scale poorly to them)", needs=("data_size",),
          rule=f"on a learning curve spanning >= {MIN_DATA_SPAN}x the training data, the change in the transformer's "
               "lead over the best recurrent model (chosen on validation) from the smallest to the largest fraction: "
               "supported when it grows and the transformer leads at the largest, depends when it grows but does not "
               "lead",
          judge=judge_large_data,
          statistic="Welch-Satterthwaite 95% t-interval and p of the change over the four seed sets (log scale for "
                    "losses), Holm-corrected across the report's tests",
          read=read_large_data,
          expectation=Expectation(Outcome.SUPPORTED,
                                  "Kaplan et al. 2020; Dosovitskiy et al. 2021")),
    Claim(id="domains", aspect="use cases", family="RNN / Transformer",
          text="RNNs for time series and speech; Transformers for NLP and vision", needs=(),
          rule="per real task at full data, the leading family: the best model of each family (chosen on validation) "
               "compared by test score, a lead only when Welch's test separates them; a task counts only where a "
               "model beats the task's strongest reference (chance, the linear baseline, AutoETS, AutoARIMA, "
               "MiniRocket) by its 95% interval, and only where the trailing model (either, in a tie) stopped on "
               "patience in most chosen runs; a domain with >= 2 such tasks is led by the family leading a strict "
               "majority of them (else mixed); each domain's lead against the note's expectation",
          judge=judge_domains, statistic=WELCH, read=read_domains,
          expectation=Expectation(Outcome.DEPENDS,
                                  "transformers lead in NLP and vision; on forecasts a linear model beats both (Zeng "
                                  "et al. 2023)")),
    Claim(id="rnn-latency", aspect="use cases", family="RNN",
          text="low latency", needs=("latency",),
          rule="constant streaming state, and per-token latency below the transformer's at the longest context "
               "(intervals apart)",
          judge=judge_latency, statistic=TOKEN_TIMING, read=read_latency,
          expectation=Expectation(Outcome.SUPPORTED,
                                  "a constant-size state per generated token against a growing cache (Katharopoulos et "
                                  "al. 2020; Gu & Dao 2023)")),
    Claim(id="transformer-outperforms", aspect="performance", family="Transformer",
          text="outperforms RNNs on most tasks", needs=(),
          rule="the transformer and the recurrent models ranked on the suite's real tasks at full data, one block "
               "per task (synthetic probes ranked apart and shown, not counted; a task counts only where a model beats "
               "its strongest reference, chance, the linear baseline or a classical method, by its 95% interval, and "
               "where every model below the best stopped on patience in most chosen runs): supported when its average "
               "rank leads every recurrent model's by more than the critical difference",
          judge=judge_outperform,
          statistic=f"Iman-Davenport F and the exact permutation Friedman test, both at p < {ALPHA} (the larger, "
                    "Holm-corrected), Nemenyi critical difference (Demsar 2006)",
          read=read_outperform,
          expectation=Expectation(Outcome.SUPPORTED,
                                  "at scale, in NLP and vision (Vaswani et al. 2017; Dosovitskiy et al. 2021)"),
          figures=("ranking",)),
    Claim(id="pretraining-lead", aspect="performance", family="Transformer",
          text="its lead comes with pre-trained models (BERT, GPT, T5)", needs=("pretraining",),
          rule="per task, the change in the transformer's lead over the best recurrent model (chosen on validation "
               "over both arms) from an equal-compute arm trained from scratch for as many steps to the "
               "self-pretrained arm: supported when it grows on a majority of the tasks tested and shrinks on none, "
               "contradicted when it shrinks on a majority and grows on none, depends when both; one direction on a "
               "minority is not resolved",
          judge=judge_pretraining_lead,
          statistic="Welch-Satterthwaite t-test of the difference of differences over the four seed sets (log scale "
                    "for losses), Holm-corrected across the report's tests",
          read=read_pretraining,
          expectation=Expectation(Outcome.SUPPORTED,
                                  "self-pretraining on the task's own data moves rankings toward the transformer "
                                  "(Amos et al. 2023)")),
)


DECIDED = (Outcome.SUPPORTED, Outcome.CONTRADICTED, Outcome.DEPENDS)


def corrected(verdicts: list[Verdict]) -> list[Verdict]:
    """Holm's correction over one family: every test the rules performed on this evidence, whether or not it
    rejected (the rules fix which tests they run before seeing the outcome; leaving out the tests that did not
    reject would choose the family by its results). A decided verdict one of whose decisive tests no longer rejects
    after the correction is not resolved. Verdicts on timings and memory threshold 95% intervals and run no test."""
    family = [(index, number) for index, verdict in enumerate(verdicts)
              for number, test in enumerate(verdict.tests) if not math.isnan(test.p)]
    family_p = [verdicts[index].tests[number].p for index, number in family]
    adjusted = dict(zip(family, holm(family_p)))
    result = []
    for index, verdict in enumerate(verdicts):
        tests = tuple(replace(test, adjusted=adjusted.get((index, number)))
                      for number, test in enumerate(verdict.tests))
        lines = [f"test {test.text()}" for test in tests]
        verdict = replace(verdict, tests=tests, evidence=[*verdict.evidence, *lines])
        lost = [test for test in tests if test.decisive and (test.adjusted is None or test.adjusted >= ALPHA)]
        if verdict.verdict in DECIDED and lost:
            verdict = replace(verdict, verdict=Outcome.NOT_RESOLVED, condition=(
                f"{verdict.condition}; but " + "; ".join(
                    f"{test.name} (p={test.p:.3g}) is {test.adjusted if test.adjusted is not None else math.nan:.3g} "
                    "after Holm's correction" for test in lost) + f" across the report's {len(family)} tests"),
                needs="more seeds, until " + "; ".join(
                    f"{test.name} reaches p < {threshold:.2g} (its Holm threshold), which the exact permutation "
                    f"test cannot reach with fewer than {fewest_seeds_to_reject(threshold)} seeds per arm"
                    for test in lost for threshold in [holm_threshold(test.p, family_p)]))
        result.append(at_holm_level(verdict, len(family)))
    return result


def at_holm_level(verdict: Verdict, tests: int) -> Verdict:
    """A not-resolved verdict's seed estimate restated at the level its test must reach in this report: Holm's
    first, ALPHA over the report's tests (the normal approximation at ALPHA alone would promise too few)."""
    if verdict.verdict != Outcome.NOT_RESOLVED or verdict.separation is None or tests < 2:
        return verdict
    level = ALPHA / tests
    seeds = seeds_to_reach(verdict.separation, level)
    if seeds is None:
        return verdict
    return replace(verdict, needs=f"{verdict.needs}; at the Holm level of this report's {tests} tests (p < "
                                  f"{level:.2g}), about {seeds}")


def holm_threshold(p: float, family: list[float]) -> float:
    """The level a p-value must reach to be rejected by Holm's procedure at its rank in the family: ALPHA / (m - r + 1)
    with r its rank among the m p-values (1 = smallest)."""
    rank = sum(other < p for other in family) + 1
    return ALPHA / (len(family) - rank + 1)


def stamped(claim: Claim, verdict: Verdict, evidence: Evidence) -> Verdict:
    if verdict.budget:
        return verdict
    return replace(verdict, budget=" | ".join(f"{need}: {text}" for need in claim.needs
                                              if (text := evidence.budget(need))))


def evaluate_claims(store: ResultStore, evidence: Evidence | None = None) -> list[tuple[Claim, Verdict]]:
    """Every claim's verdict on the store (read through `evidence` when the caller already holds one)."""
    evidence = evidence or Evidence(store)
    verdicts = corrected([stamped(claim, claim.judge(evidence), evidence) for claim in CLAIMS])
    return [(claim, replace(verdict, readings=tuple(claim.read(evidence)))) for claim, verdict in zip(CLAIMS, verdicts)]


def agreement(mine: Verdict, theirs: Verdict) -> str:
    """How a fresh verdict stands against a reference set's: 'agrees' (the same outcome), 'disagrees' (both decided,
    differently), 'the reference decides' or 'only yours decides' (one side resolved it), or 'neither decides'."""
    if mine.verdict == theirs.verdict:
        return "agrees"
    here, there = mine.verdict in DECIDED, theirs.verdict in DECIDED
    if here and there:
        return "disagrees"
    return "the reference decides" if there else "only yours decides" if here else "neither decides"


def beside(verdicts: list[tuple[Claim, Verdict]],
           theirs: list[tuple[Claim, Verdict]]) -> list[tuple[Claim, Verdict, Verdict, str]]:
    """Each claim's verdict beside a reference set's verdict on it, and how they stand (agreement)."""
    return [(claim, mine, their, agreement(mine, their)) for (claim, mine), (_, their) in zip(verdicts, theirs)]


def verdict_rows(store: ResultStore) -> list[dict[str, str]]:
    """Every claim's verdict on the store as plain rows: what an export records beside its evidence, so a rule
    change that flips a shipped verdict fails a test."""
    return [{"family": claim.family, "claim": claim.text, "verdict": str(verdict.verdict),
             "condition": verdict.condition, "budget": verdict.budget, "needs": verdict.needs,
             "tests": [{"name": test.name, "p": test.p, "adjusted": test.adjusted, "decisive": test.decisive}
                       for test in verdict.tests]} for claim, verdict in evaluate_claims(store)]

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
    Claim("attention", "Transformer", "needs positional encodings for order", ("positional",),
          "per reading (bidirectional, causal): needed when the best encoding (chosen on validation) beats no "
          "encoding on the order probe and beats chance; not needed when attention without an encoding beats chance "
          "and the two cannot be told apart", judge_positional, WELCH, read=read_positional),
    Claim("parallelization", "RNN", "not parallelizable (sequential, step by step)", ("parallelism",),
          f"sequential over time when one more token adds at least {DEPENDENT_STEPS_PER_TOKEN:g} dependent step to "
          "a forward pass (the longest chain of ops run one after another, counted, not timed) for every "
          "step-by-step cell; parallel when less. Rows without counted steps decide on the sequential ratio (a "
          "token's marginal time per FLOP at the end of one sequence over that as one more sequence in a batch) "
          f"against {TIME_AXIS_RATIO:g}", judge_rnn_parallelism, DEPENDENT_STEPS, read=read_rnn_parallelism),
    Claim("parallelization", "Transformer", "fully parallelizable (the whole sequence at once)", ("parallelism",),
          f"supported when one more token adds fewer than {DEPENDENT_STEPS_PER_TOKEN:g} dependent step (rows "
          f"without counted steps: the sequential ratio's interval below {TIME_AXIS_RATIO:g}), contradicted when "
          "at least that", judge_transformer_parallelism, DEPENDENT_STEPS, read=read_transformer_parallelism),
    Claim("long sequences", "RNN", "struggles with long dependencies (vanishing gradients); LSTM/GRU mitigate",
          ("gradients",),
          f"after training, the gradient's measured factor over the probe's dependency distance (||dL/dh|| T/2 steps "
          f"back over ||dL/dh_T||): vanished below x{VANISHED:g}, exploded above x{1 / VANISHED:g}; supported when the "
          "Elman RNN's vanishes and every gated cell keeps it; depends, naming each, when only some keep it or they "
          "only vanish more slowly", judge_vanishing,
          "geometric mean over seeds with its 95% t-interval on the log scale", read=read_vanishing),
    Claim("long sequences", "RNN", "exploding gradients destabilise training; gradient clipping controls them",
          ("stability",),
          "plain SGD at each learning rate of a grid, per seed, with and without clipping, the transformer beside the "
          "Elman RNN: exploded when a step's gradient norm reaches 100x the run's median or the loss stops being "
          "finite; supported when, at a rate where most unclipped Elman seeds explode and at most half of the "
          "transformer's do, clipped training stays finite and ends below chance", judge_exploding,
          "counts over seeds; a one-sided one-sample t-test of the clipped validation losses against chance per rate "
          "(Holm-corrected across the report's tests)", read=read_exploding),
    Claim("long sequences", "Transformer", "excellent with long dependencies", ("long_range",),
          "per causal probe, at the lengths the no-mixing control does not solve, the transformer against the "
          "recurrent model with the best validation skill there: a length is solved when the worst end of the 95% "
          "t-interval of the raw scores "
          "closes >= 90% of the gap from chance to perfect; supported when the transformer solves a length the rival "
          "does not, contradicted when the reverse; with equal breaking lengths the scores at the longest length "
          "decide, and two models that both solve it tie", judge_transformer_long_range,
          "Welch's t-test and the exact permutation test on the raw scores (the log scale turns complete "
          f"separation into Welch p=0.085), both at p < {ALPHA}, the larger p Holm-corrected across the report's "
          "tests", read=read_long_range),
    Claim("efficiency", "Transformer", "faster training than RNNs", ("scaling",),
          "training tokens/s of the transformer against the fastest recurrent cell at each measured length; "
          "faster or slower only where the intervals do not overlap", judge_training_speed, TIMING,
          read=read_training_speed),
    Claim("memory/scalability", "Transformer", "attention memory is quadratic in length", ("scaling",),
          f"explicit attention and the fused kernel each: quadratic when the training-memory exponent between the "
          f"two longest lengths lies above {QUADRATIC_EXPONENT:g}", judge_attention_memory, EXACT_BYTES,
          read=read_attention_memory),
    Claim("memory/scalability", "RNN", "memory-efficient for short sequences, poor scaling to long ones",
          ("scaling",), "efficient when the leanest recurrent model's training memory at the shortest length is "
          "below the transformer's; poor scaling when a recurrent model's memory exponent between the two longest "
          f"lengths exceeds the transformer's by more than {EXPONENT_MARGIN:g}", judge_rnn_memory, EXACT_BYTES,
          read=read_rnn_memory),
    Claim("memory/scalability", "Longformer/Reformer", "improve memory efficiency over full attention", ("scaling",),
          f"supported when each sparse model's training-memory exponent (two longest lengths) lies more than "
          f"{EXPONENT_MARGIN:g} below explicit attention's and it needs less memory than the fused exact kernel at "
          "the longest shared length; depends when only some of that holds", judge_sparse_memory, EXACT_BYTES,
          read=read_sparse_memory),
    Claim("efficiency", "Transformer", "speeds up training, but decoding stays sequential",
          ("parallelism", "latency"),
          f"training parallel when one more token adds fewer than {DEPENDENT_STEPS_PER_TOKEN:g} dependent step; "
          "decoding sequential "
          f"when generating T tokens one by one takes over {SEQUENTIAL_DECODING:g}x one forward pass over them",
          judge_decoding, f"{DEPENDENT_STEPS}; {TOKEN_TIMING}", read=read_decoding),
    Claim("use cases", "RNN", "suits small datasets", ("data_size",),
          "at the smallest training fraction, the best recurrent model (chosen on validation) against the "
          "transformer", judge_small_data, WELCH, read=read_small_data),
    Claim("use cases", "Transformer", "suits large datasets (RNNs scale poorly to them)", ("data_size",),
          f"on a learning curve spanning >= {MIN_DATA_SPAN}x the training data, the change in the transformer's lead "
          "over the best recurrent model (chosen on validation) from the smallest to the largest fraction: supported "
          "when it grows and the transformer leads at the largest, depends when it grows but does not lead",
          judge_large_data, "Welch-Satterthwaite 95% t-interval and p of the change over the four seed sets (log "
                            "scale for losses), Holm-corrected across the report's tests", read=read_large_data),
    Claim("use cases", "RNN / Transformer", "RNNs for time series and speech; Transformers for NLP and vision", (),
          "per real task at full data, the leading family: the best model of each family (chosen on validation) "
          "compared by test score, a lead only when Welch's test separates them; a task counts only where a "
          "model beats the task's strongest reference (chance, the linear baseline, AutoETS, AutoARIMA, "
          "MiniRocket) by its 95% interval, and only where the trailing model (either, in a tie) stopped on patience "
          "in most chosen runs; a domain with >= 2 such tasks is led by the family leading a strict "
          "majority of them (else mixed); each domain's lead against the note's expectation", judge_domains, WELCH,
          read=read_domains),
    Claim("use cases", "RNN", "low latency", ("latency",),
          "constant streaming state, and per-token latency below the transformer's at the longest context "
          "(intervals apart)", judge_latency, TOKEN_TIMING, read=read_latency),
    Claim("performance", "Transformer", "outperforms RNNs on most tasks", (),
          "the transformer and the recurrent models ranked on the suite's real tasks at full data, one block per "
          "task (synthetic probes ranked apart and shown, not counted; a task counts only where a model beats its "
          "strongest reference, chance, the linear baseline or a classical method, by its 95% interval, and where "
          "every model below the best stopped on patience in most chosen runs): supported "
          "when its average rank leads every recurrent model's by more than "
          "the critical difference", judge_outperform,
          f"Iman-Davenport F and the exact permutation Friedman test, both at p < {ALPHA} (the larger, "
          "Holm-corrected), Nemenyi critical difference (Demsar 2006)", read=read_outperform),
    Claim("performance", "Transformer", "its lead comes with pre-trained models (BERT, GPT, T5)", ("pretraining",),
          "per task, the change in the transformer's lead over the best recurrent model (chosen on validation over "
          "both arms) from an equal-compute arm trained from scratch for as many steps to the self-pretrained arm: "
          "supported when it grows on a majority of the tasks tested and shrinks on none, contradicted when it "
          "shrinks on a majority and grows on none, depends when both; one direction on a minority is not resolved",
          judge_pretraining_lead,
          "Welch-Satterthwaite t-test of the difference of differences over the four seed sets (log scale for "
          "losses), Holm-corrected across the report's tests", read=read_pretraining),
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

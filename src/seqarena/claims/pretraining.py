"""The note credits the Transformer's lead to pre-trained models (BERT, GPT, T5). Judged on the `pretraining`
measurement: per task, whether self-pretraining changes the transformer's lead over the best recurrent model,
against an equal-compute arm trained from scratch for as many steps in all (Amos et al. 2023). The change itself is
tested (a difference of differences over four seed sets, Welch-Satterthwaite), never read off two p-values falling
on either side of 0.05, and the verdict follows the majority of the tasks tested."""

from __future__ import annotations

from dataclasses import replace

from seqarena.claims.common import (
    MORE_TRAINING,
    Claim,
    above_chance,
    beats,
    enough_seeds,
    interval_text,
    lead_change,
    not_measured,
    p_between,
    point_text,
    recurrent,
    scored,
    too_few_seeds,
)
from seqarena.claims.literature import Expectation
from seqarena.evidence import Evidence
from seqarena.results.measurements import PretrainingPoint
from seqarena.results.records import Outcome, Reading, Test, Verdict
from seqarena.results.statistics import Contrast
from seqarena.spec import higher_is_better, oriented


def rival_of(without: dict[str, PretrainingPoint], with_: dict[str, PretrainingPoint]) -> str:
    """The recurrent model that both arms ran with the best mean validation score over the two arms (one rival for
    both, so the change compares like with like); ties go to registry order."""
    models = recurrent(set(without) & set(with_))
    return max(models, key=lambda model: sum(oriented(arm[model].metric, arm[model].val_mean)
                                             for arm in (without, with_)))


def gains(points: dict[str, PretrainingPoint], baseline: dict[str, PretrainingPoint]) -> list[str]:
    """Each model's pretrained score against its equal-compute score."""
    lines = []
    for model, pretrained in sorted(points.items()):
        if model in baseline:
            p = p_between(pretrained, baseline[model])
            verdict = ("better" if beats(pretrained, baseline[model]) else "worse" if beats(baseline[model], pretrained)
                       else "not separable")
            lines.append(f"{model}: pretrained {pretrained.test_mean:.4g} vs equal compute "
                         f"{baseline[model].test_mean:.4g} (p={p:.3g}, {verdict})")
    return lines


def own_changes(with_: dict[str, PretrainingPoint], without: dict[str, PretrainingPoint], rival: str) -> str:
    """Whose score moved: each side's test mean with pretraining minus at equal compute (a lead can grow because
    the rival loses more than the transformer)."""
    return ", ".join(f"{model} {with_[model].test_mean - without[model].test_mean:+.3g}"
                     for model in ("transformer", rival)) + " on its own"


def arms_of(rows: list[PretrainingPoint], task: str) -> dict[str, dict[str, PretrainingPoint]]:
    arms: dict[str, dict[str, PretrainingPoint]] = {}
    for row in rows:
        if row.task == task:
            arms.setdefault(row.arm, {})[row.model] = row
    return arms


def judge_pretraining_lead(evidence: Evidence, held_back: frozenset[str] = frozenset()) -> Verdict:
    rows = evidence.rows(PretrainingPoint)
    changes: dict[str, Contrast] = {}
    notes: list[str] = []
    for task in dict.fromkeys(row.task for row in rows):
        arms = arms_of(rows, task)
        without, with_ = arms.get("equal_compute", {}), arms.get("pretrained", {})
        if "transformer" not in without or "transformer" not in with_ or not recurrent(set(without) & set(with_)):
            continue
        if not enough_seeds(*without.values(), *with_.values()):
            return too_few_seeds()
        rival = rival_of(without, with_)
        steps = next(iter(with_.values()))
        notes += [f"{task}, without pretraining ({without['transformer'].train_steps} steps): "
                  f"{point_text(without['transformer'])} vs {point_text(without[rival])}",
                  f"{task}, with {steps.objective} pretraining ({steps.pretrain_steps} + {steps.train_steps} steps): "
                  f"{point_text(with_['transformer'])} vs {point_text(with_[rival])}",
                  *(f"{task}, {line}" for line in gains(with_, without))]
        if not any(above_chance(arm[model]) for arm in (without, with_) for model in ("transformer", rival)):
            notes.append(f"{task}: no arm beats chance; the change is not tested")
            continue
        # (transformer - rival) with pretraining minus (transformer - rival) at equal compute
        changes[task] = lead_change((with_["transformer"], with_[rival]), (without["transformer"], without[rival]))
        change = changes[task]
        notes.append(f"{task}: pretraining changes the transformer's lead over {rival} by "
                     f"{interval_text(change.value, change.low, change.high)} (positive: toward the transformer; "
                     f"{'' if higher_is_better(steps.metric) else 'log scale, '}"
                     f"p={change.p:.3g}); " + own_changes(with_, without, rival))
    if not notes:
        return not_measured("pretraining")
    return verdict_of(changes, notes, held_back)


def change_test_name(task: str) -> str:
    return f"{task}: change in the transformer's lead with pretraining"


def verdict_of(changes: dict[str, Contrast], notes: list[str], held_back: frozenset[str] = frozenset()) -> Verdict:
    """Decided by the tasks whose change was tested, by majority: supported when the change moves toward the
    transformer on more than half of them and away on none; contradicted when away on more than half and toward on
    none; depends when it moves both ways; not resolved when no change's interval excludes zero or one direction
    holds on a minority only (one task of three once read as "supported" while the other two could not be told from
    no change). A task whose test is in `held_back` (Holm's correction did not reject it) moves nothing."""
    held = [task for task in changes if change_test_name(task) in held_back]
    toward = [task for task, change in changes.items() if change.low > 0 and task not in held]
    away = [task for task, change in changes.items() if change.high < 0 and task not in held]
    tests = tuple(Test(change_test_name(task), change.p, decisive=task in toward or task in away)
                  for task, change in changes.items())
    moves = "; ".join(f"{how} on {', '.join(tasks)}" for how, tasks in (
        ("toward the transformer", toward), ("toward the recurrent models", away)) if tasks)
    share = f"{len(toward) + len(away)} of {len(changes)} tested tasks" + (
        f"; {', '.join(held)} held back by Holm's correction" if held else "")
    if toward and away:
        return Verdict(Outcome.DEPENDS, f"self-pretraining moves the lead {moves} ({share})", notes, tests)
    if 2 * len(toward) > len(changes):
        return Verdict(Outcome.SUPPORTED, f"self-pretraining moves the lead {moves} ({share})", notes, tests)
    if 2 * len(away) > len(changes):
        return Verdict(Outcome.CONTRADICTED, f"self-pretraining brings the transformer no lead: it moves {moves} "
                                             f"({share})", notes, tests)
    undecided = [change for task, change in changes.items()
                 if task not in toward and task not in away and change.seeds_needed is not None]
    nearest = min(undecided, key=lambda change: change.seeds_needed) if undecided else None
    needs = (f"about {nearest.seeds_needed} seeds per model and arm would show the largest undecided change, if it "
             "holds (80% power)" if nearest else MORE_TRAINING)
    found = nearest.separation if nearest else None
    undecisive = tuple(replace(test, decisive=False) for test in tests)
    if toward or away:
        return Verdict(Outcome.NOT_RESOLVED, f"self-pretraining moves the lead {moves} only, {share}: a majority "
                                             "decides", notes, undecisive, needs=needs, separation=found)
    return Verdict(Outcome.NOT_RESOLVED, "on no task does the change in the transformer's lead exclude zero "
                                         f"({', '.join(changes) or 'no task beats chance'})", notes, tests,
                   needs=needs, separation=found)


def read_pretraining(evidence: Evidence) -> list[Reading]:
    rows = evidence.rows(PretrainingPoint)
    readings = []
    for task in dict.fromkeys(row.task for row in rows):
        arms = arms_of(rows, task)
        without, with_ = arms.get("equal_compute", {}), arms.get("pretrained", {})
        if "transformer" not in without or "transformer" not in with_ or not recurrent(set(without) & set(with_)):
            continue
        rival = rival_of(without, with_)
        readings += [scored(arm[model], f"{task}, {name}") for name, arm in (("from scratch", without),
                                                                              ("pretrained", with_))
                     for model in ("transformer", rival)]
    return readings


PRETRAINING_LEAD = Claim(
    id="pretraining-lead", aspect="performance", family="Transformer",
    text="its lead comes with pre-trained models (BERT, GPT, T5)", needs=("pretraining",),
    rule="per task, the change in the transformer's lead over the best recurrent model (chosen on validation "
         "over both arms) from an equal-compute arm trained from scratch for as many steps to the "
         "self-pretrained arm: supported when it grows on a majority of the tasks tested and shrinks on none, "
         "contradicted when it shrinks on a majority and grows on none, depends when both; one direction on a "
         "minority is not resolved",
    judge=judge_pretraining_lead,
    rejudge=judge_pretraining_lead,
    statistic="Welch-Satterthwaite t-test of the difference of differences over the four seed sets (log scale "
              "for losses), Holm-corrected across the report's tests",
    read=read_pretraining,
    expectation=Expectation(Outcome.SUPPORTED,
                            "self-pretraining on the task's own data moves rankings toward the transformer "
                            "(Amos et al. 2023)"))

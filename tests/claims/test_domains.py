"""The domain rule on each task's lead alone (TaskLead): its finding without a store or a leaderboard, and its
words apart."""

import math

import pytest

from seqarena.claims.uses import EXPECTED, Domains, TaskLead, domain_finding, domain_verdict, tied_if_held_back
from seqarena.results.records import Outcome


def lead(domain: str, task: str, leader: str, p: float = 0.001) -> TaskLead:
    return TaskLead(domain, task, task, leader, f"{leader} on {task}", p)


SPEECH = [lead("speech", "spoken_digits", "recurrent"), lead("speech", "japanese_vowels", "recurrent")]
VISION_BY_ATTENTION = [lead("vision", "mnist", "attention"), lead("vision", "digits", "attention")]
VISION_BY_RECURRENCE = [lead("vision", "mnist", "recurrent"), lead("vision", "digits", "recurrent")]


@pytest.mark.parametrize("leads,case", [
    ([], Domains.NOT_MEASURED),
    ([lead("NLP", "kjv", "unmeasured")], Domains.NOT_MEASURED),
    ([lead("time series", "co2", "reference"), lead("NLP", "kjv", "unconverged")], Domains.UNCONVERGED),
    ([lead("time series", "co2", "reference"), lead("time series", "sunspots", "reference")],
     Domains.UNINFORMATIVE),
    ([lead("speech", "spoken_digits", "recurrent")], Domains.UNDECIDED),
    ([lead("speech", "spoken_digits", "recurrent"), lead("speech", "japanese_vowels", "tied")], Domains.UNDECIDED),
    (SPEECH + VISION_BY_ATTENTION, Domains.AS_EXPECTED),
    ([lead("speech", "spoken_digits", "attention"), lead("speech", "japanese_vowels", "attention")],
     Domains.OTHERWISE),
    (SPEECH + VISION_BY_RECURRENCE, Domains.MIXED),
])
def test_the_rule_finds_each_case_from_the_tasks_leads(leads, case):
    found = domain_finding(leads)
    assert found.case == case
    assert domain_verdict(found).verdict == case.outcome


def test_a_domain_is_led_by_a_strict_majority_of_its_counted_tasks_and_tested_per_task():
    leads = SPEECH + VISION_BY_RECURRENCE + [lead("vision", "cifar", "attention", p=math.nan),
                                             lead("NLP", "kjv", "reference")]
    found = domain_finding(leads)
    assert found.domain_leads == {"speech": "recurrent", "vision": "recurrent"}
    assert found.matching == ("speech",) and found.decided() == {"speech": "recurrent", "vision": "recurrent"}
    # one test per counted task with a p-value; a task decides where its leader is its domain's
    assert [test.name for test in found.tests] == [
        "speech, spoken_digits: the two families' best models", "speech, japanese_vowels: the two families' best "
        "models", "vision, mnist: the two families' best models", "vision, digits: the two families' best models"]
    assert all(test.decisive for test in found.tests)


def test_the_words_name_the_domains_and_the_tasks_not_counted():
    found = domain_finding(SPEECH + VISION_BY_RECURRENCE + [lead("NLP", "kjv", "unconverged"),
                                                            lead("time series", "co2", "reference")])
    verdict = domain_verdict(found)
    assert verdict.verdict == Outcome.DEPENDS
    assert verdict.condition == (
        "as expected in speech, not in vision; undecided in time series, NLP (5 of 6 real tasks informative, a "
        "sequence model beating their strongest reference by its 95% interval; kjv not counted, the trailing model "
        "still improving with more steps)")
    assert verdict.evidence[0] == (f"speech: recurrent (expected {EXPECTED['speech']}; 2 tasks); vision: recurrent "
                                   f"(expected {EXPECTED['vision']}; 2 tasks)")
    assert verdict.evidence[-2:] == ["NLP, kjv: unconverged on kjv; not counted",
                                     "time series, co2: reference on co2; not counted"]


def test_a_lead_whose_test_holm_holds_back_is_a_tie():
    """Speech led by the recurrences and vision by attention: as expected; with one vision lead's test held back by
    Holm's correction, vision has no majority and only speech decides."""
    held = tied_if_held_back(SPEECH + VISION_BY_ATTENTION,
                             frozenset({"vision, digits: the two families' best models"}))
    assert [lead.leader for lead in held] == ["recurrent", "recurrent", "attention", "tied"]
    assert "does not survive Holm" in held[-1].why
    found = domain_finding(held)
    assert found.case == Domains.AS_EXPECTED and found.decided() == {"speech": "recurrent"}

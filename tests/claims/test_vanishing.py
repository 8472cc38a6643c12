"""The vanishing-gradient rule on typed profiles alone: its finding (case, factors, the cells keeping the gradient)
without a store, and its words apart."""

import pytest

from seqarena.claims.learning import Gradient, gradient_finding, vanishing_verdict
from seqarena.results.measurements import GradientProfile

LENGTH = 100


def profiles(model: str, rates: tuple[float, ...]) -> list[GradientProfile]:
    """One trained profile per seed whose norm shrinks by `rate` per step back from the last position."""
    return [GradientProfile(model, "trained", LENGTH, 300, rate, rate ** (LENGTH - 1), LENGTH,
                            [rate ** (LENGTH - 1 - t) for t in range(LENGTH)], seed)
            for seed, rate in enumerate(rates)]


VANISHES, KEPT, EXPLODES = (0.80, 0.81, 0.82), (0.999, 1.0, 1.001), (1.2, 1.21, 1.22)


@pytest.mark.parametrize("cells,case", [
    ({"gru": KEPT}, Gradient.NOT_MEASURED),
    ({"rnn": VANISHES}, Gradient.NOT_MEASURED),
    ({"rnn": (0.70, 0.95, 1.0), "gru": KEPT}, Gradient.RNN_UNRESOLVED),
    ({"rnn": EXPLODES, "gru": KEPT}, Gradient.RNN_EXPLODES),
    ({"rnn": KEPT, "gru": KEPT}, Gradient.RNN_KEEPS),
    ({"rnn": VANISHES, "lstm": KEPT, "gru": KEPT}, Gradient.GATED_KEEP),
    ({"rnn": VANISHES, "gru": (0.70, 0.95, 1.0)}, Gradient.GATED_UNRESOLVED),
    ({"rnn": VANISHES, "lstm": (0.70, 0.71, 0.72), "gru": KEPT}, Gradient.SOME_GATED_HELP),
    ({"rnn": VANISHES, "gru": VANISHES}, Gradient.ALL_VANISH),
])
def test_the_rule_finds_each_case_from_typed_profiles(cells, case):
    found = gradient_finding([row for model, rates in cells.items() for row in profiles(model, rates)])
    assert found.case == case
    assert vanishing_verdict(found, []).verdict == case.outcome


def test_a_gated_cell_that_loses_its_gradient_more_slowly_is_named_but_not_counted_as_keeping_it():
    rows = profiles("rnn", VANISHES) + profiles("lstm", (0.88, 0.885, 0.89)) + profiles("gru", KEPT)
    found = gradient_finding(rows)
    assert found.case == Gradient.SOME_GATED_HELP and found.distance == LENGTH // 2
    assert found.keeping == ("gru",) and found.slower == ("lstm",)
    assert found.states == {"rnn": "vanishes", "lstm": "vanishes", "gru": "kept"}
    assert vanishing_verdict(found, []).condition == (
        "the Elman RNN's gradient vanishes over 50 steps; gru keeps it; lstm's vanishes too, more slowly than the "
        "Elman RNN's")

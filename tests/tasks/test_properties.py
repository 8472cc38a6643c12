"""Property tests for the pieces every loader shares: padding, standardisation and the cell validator."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from seqarena.errors import DataError
from seqarena.tasks.sequences import pad, standardise
from seqarena.tasks.tables import Table

lengths = st.lists(st.integers(1, 12), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(lengths=lengths, channels=st.integers(1, 3), seed=st.integers(0, 1000))
def test_padding_keeps_every_step_and_only_adds_masked_zeros(lengths, channels, seed):
    rng = np.random.default_rng(seed)
    sequences = [rng.normal(size=(length, channels)) + 1 for length in lengths]
    padded, mask = pad(sequences)
    assert padded.shape == (len(lengths), max(lengths), channels)
    assert mask.sum(1).tolist() == lengths and (padded[~mask] == 0).all()
    for row, sequence in enumerate(sequences):
        np.testing.assert_array_equal(padded[row, :len(sequence)], sequence)


@settings(max_examples=60, deadline=None)
@given(lengths=lengths, channels=st.integers(1, 3), seed=st.integers(0, 1000), shift=st.floats(-1e3, 1e3),
       scale=st.floats(1e-2, 1e3))
def test_standardising_inverts_with_the_training_statistics(lengths, channels, seed, shift, scale):
    rng = np.random.default_rng(seed)
    padded, mask = pad([rng.normal(shift, scale, size=(length, channels)) for length in lengths])
    train = np.arange(max(1, len(lengths) // 2))
    scaled = standardise(padded, mask, train)
    seen = padded[train][mask[train]]
    mean, std = seen.mean(0), seen.std(0)
    restored = scaled * np.where(std > 0, std, 1.0) + mean
    np.testing.assert_allclose(restored[mask], padded[mask], rtol=1e-9, atol=1e-9 * (abs(shift) + scale))
    assert (scaled[~mask] == 0).all()
    if (std > 1e-6 * scale).all():
        np.testing.assert_allclose(scaled[train][mask[train]].mean(0), 0, atol=1e-6)


@settings(max_examples=100, deadline=None)
@given(cells=hnp.arrays(object, st.integers(1, 20), elements=st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=5))))
def test_the_cell_validator_accepts_finite_numbers_and_names_the_first_bad_row(cells):
    table = Table(Path("data.csv"), ["load"], {"load": cells}, first_row=2)
    finite = []
    for cell in cells:
        try:
            finite.append(np.isfinite(float(cell)))
        except ValueError:
            finite.append(False)
    if all(finite):
        np.testing.assert_array_equal(table.numeric("load"), [float(cell) for cell in cells])
    else:
        bad = finite.index(False)
        with pytest.raises(DataError, match=f"data.csv row {bad + 2}, column 'load': "):
            table.numeric("load")

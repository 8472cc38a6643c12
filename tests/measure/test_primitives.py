import math

import numpy as np
import pytest
import torch

from seqarena.measure.primitives import PeakMemory, fit_exponent
from seqarena.results.statistics import median_timing


@pytest.mark.parametrize("exponent", [1.0, 2.0])
def test_exponent_fit_recovers_known_powers(exponent):
    rng = np.random.default_rng(0)
    x = [2.0 ** k for k in range(6, 14)]
    y = [3.0 * value ** exponent * math.exp(rng.normal(0, 0.02)) for value in x]
    fit = fit_exponent(x, y)
    assert fit.low < exponent < fit.high and abs(fit.exponent - exponent) < 0.02 and fit.points == 8


def test_cpu_peak_counts_live_tensors_only():
    x = torch.randn(500, 500, requires_grad=True)
    megabyte = 500 * 500 * 4
    with PeakMemory("cpu") as peak:
        # three saved activations, then gradients; the input itself existed before
        y = x.exp().exp().exp()
        y.sum().backward()
    assert peak.kind == "cpu_tensor_storage"
    assert 4 * megabyte <= peak.bytes <= 6 * megabyte


def test_cpu_peak_sees_quadratic_attention_memory():
    peaks = []
    for length in (256, 512):
        q = torch.randn(1, 1, length, 16)
        with PeakMemory("cpu") as peak:
            (q @ q.transpose(-2, -1)).softmax(-1)
        peaks.append(peak.bytes)
    assert 3.5 < peaks[1] / peaks[0] < 4.5


@pytest.mark.parametrize("repeats,has_interval", [(5, False), (6, True), (15, True)])
def test_a_median_has_a_95_percent_interval_only_from_six_repeats(repeats, has_interval):
    """The whole range of 5 repeats covers their median 93.75% of the time, of 6 repeats 96.9%."""
    timing = median_timing([float(index) for index in range(repeats)])
    assert (not math.isnan(timing.low)) == has_interval and timing.repeats == repeats
    if has_interval:
        assert timing.low <= timing.median <= timing.high

"""Split-conformal intervals and the expected calibration error, against their definitions."""

import math

import pytest
import torch

from seqarena.tasks.uncertainty import expected_calibration_error, half_widths, interval_scores


def test_the_half_width_is_the_ceil_n_plus_1_times_coverage_th_smallest_residual():
    residuals = torch.arange(1.0, 10.0)[:, None]
    # n = 9 at 90%: ceil(10 x 0.9) = 9th smallest; at 50%: ceil(5) = 5th
    assert half_widths(residuals, 0.9).item() == 9.0 and half_widths(residuals, 0.5).item() == 5.0
    # n = 8 cannot give 90% (the 9th of 8): the interval is unbounded, not silently too narrow
    assert math.isinf(half_widths(residuals[:8], 0.9).item())


@pytest.mark.parametrize("coverage", [0.8, 0.9, 0.95])
def test_on_exchangeable_data_the_intervals_cover_what_they_promise(coverage):
    generator = torch.Generator().manual_seed(0)
    val_y, test_y = torch.randn(2000, 3, generator=generator), torch.randn(50_000, 3, generator=generator)
    scores = interval_scores(torch.zeros_like(val_y), val_y, torch.zeros_like(test_y), test_y, coverage)
    assert scores[f"coverage_{round(100 * coverage)}"] == pytest.approx(coverage, abs=0.015)


def test_when_test_errors_grow_the_measured_coverage_falls_below_nominal():
    """Not exchangeable (a series whose noise grows after the validation period): the rule reports the shortfall."""
    generator = torch.Generator().manual_seed(0)
    val_y, test_y = torch.randn(2000, 1, generator=generator), 2 * torch.randn(50_000, 1, generator=generator)
    scores = interval_scores(torch.zeros_like(val_y), val_y, torch.zeros_like(test_y), test_y)
    # P(|2Z| <= 1.645) = P(|Z| <= 0.82) = 0.59
    assert scores["coverage_90"] == pytest.approx(0.59, abs=0.02) and scores["width_90"] == pytest.approx(3.29,
                                                                                                          abs=0.1)


def test_the_calibration_error_of_confident_mistakes_is_their_confidence():
    logits = torch.log(torch.tensor([[0.9, 0.1], [0.9, 0.1]]))
    assert expected_calibration_error(logits, torch.tensor([1, 1])) == pytest.approx(0.9)
    assert expected_calibration_error(logits, torch.tensor([0, 0])) == pytest.approx(0.1)


def test_a_calibrated_classifier_has_a_small_error_and_an_overconfident_one_a_large_one():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(50_000, 4, generator=generator)
    labels = torch.multinomial(logits.softmax(-1), 1, generator=generator).flatten()
    assert expected_calibration_error(logits, labels) < 0.01
    assert expected_calibration_error(5 * logits, labels) > 0.1

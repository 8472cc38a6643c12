"""How far a model's predictions can be trusted, measured on test: split-conformal prediction intervals for
forecasts and regression (Vovk et al. 2005; Lei et al. 2018, "Distribution-free predictive inference for
regression"), and the expected calibration error of a classifier's probabilities (Guo et al. 2017).

Split conformal: the absolute validation residuals |y - y_hat| of each output (a forecast step of a target) are
sorted, and the half-width at coverage 1 - a is the ceil((n + 1)(1 - a))-th smallest of n. On exchangeable data the
interval y_hat +- half-width covers at least 1 - a of new values; a time series split by time is not
exchangeable, so the coverage on test is measured and reported, not assumed."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

# the coverage every run's intervals are scored at
COVERAGE = 0.9
# equal-width confidence bins of the expected calibration error (Guo et al. 2017 use 15)
CALIBRATION_BINS = 15


def coverage_name(coverage: float = COVERAGE) -> str:
    return f"coverage_{round(100 * coverage)}"


def width_name(coverage: float = COVERAGE) -> str:
    return f"width_{round(100 * coverage)}"


def half_widths(residuals: Tensor, coverage: float) -> Tensor:
    """Conformal half-widths (K,) from absolute validation residuals (n, K): the ceil((n + 1) coverage)-th smallest
    of each column, infinite when n is too small for the coverage asked for."""
    n = residuals.shape[0]
    rank = math.ceil((n + 1) * coverage)
    if rank > n:
        return torch.full((residuals.shape[1],), math.inf)
    return residuals.sort(0).values[rank - 1]


def with_bounds(values: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Predictions (N, K) and their interval half-widths (K,) as (N, 3K) rows: each value, its lower and its upper
    bound, output by output."""
    return np.stack([values, values - half, values + half], -1).reshape(len(values), -1)


def interval_scores(val_output: Tensor, val_y: Tensor, test_output: Tensor, test_y: Tensor,
                    coverage: float = COVERAGE) -> dict[str, float]:
    """The share of test values inside their conformal interval, and the intervals' mean width (in the units
    the model predicts in)."""
    half = half_widths((val_output - val_y.view_as(val_output)).abs(), coverage)
    inside = (test_output - test_y.view_as(test_output)).abs() <= half
    return {coverage_name(coverage): inside.float().mean().item(), width_name(coverage): (2 * half).mean().item()}


def expected_calibration_error(logits: Tensor, y: Tensor, bins: int = CALIBRATION_BINS) -> float:
    """Sum over equal-width confidence bins of (share of predictions in the bin) x |accuracy - mean confidence|,
    the confidence being the predicted class's probability."""
    confidence, predicted = logits.softmax(-1).max(-1)
    correct = (predicted == y).float()
    which = (confidence * bins).long().clamp(max=bins - 1)
    error = 0.0
    for index in range(bins):
        members = which == index
        if members.any():
            error += members.float().mean().item() * abs(correct[members].mean().item()
                                                         - confidence[members].mean().item())
    return error

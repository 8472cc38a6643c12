import math

import numpy as np
import pytest
import torch

from seqarena.measure.gradients import GradientOptions, fit_decay, gradient_profile, gradients
from seqarena.measure.stability import StabilityOptions, stability


def linear_recurrence(rate: float):
    """h_t = rate * h_{t-1} + x_t: the gradient of h_T reaching x_t is rate^(T - t) times the identity."""
    def mix(x):
        states, h = [], torch.zeros_like(x[:, 0])
        for t in range(x.shape[1]):
            h = rate * h + x[:, t]
            states.append(h)
        return torch.stack(states, 1)
    return mix


@pytest.mark.parametrize("rate", [0.5, 0.9, 1.1])
def test_the_probe_recovers_the_decay_of_a_hand_built_linear_rnn(rate):
    length, direction = 40, torch.nn.functional.normalize(torch.randn(6), dim=0)
    norms = gradient_profile(linear_recurrence(rate), torch.randn(3, length, 6),
                             lambda states: (states[:, -1] @ direction).sum() / 3).numpy()
    np.testing.assert_allclose(norms, rate ** np.arange(length)[::-1] / 3, rtol=1e-5)
    decay = fit_decay(norms)
    assert decay.rate == pytest.approx(rate, rel=1e-5) and decay.nonzero == length
    assert decay.ratio == pytest.approx(rate ** (length - 1), rel=1e-4)


def test_positions_whose_gradient_underflows_are_left_out_of_the_fit():
    norms = np.array([0.0, 0.0, 0.25, 0.5, 1.0])
    decay = fit_decay(norms)
    assert decay.rate == pytest.approx(0.5) and decay.nonzero == 3 and decay.ratio == 0.0


def test_gradient_rows_for_every_model_seed_and_stage():
    rows = gradients(["rnn", "transformer"], GradientOptions(length=12, d_model=8, steps=3, batch=8, seeds=[0, 1]))
    assert [(row["model"], row["seed"], row["stage"]) for row in rows] == [
        (model, seed, stage) for model in ("rnn", "transformer") for seed in (0, 1) for stage in ("init", "trained")]
    assert rows[0]["norms"] != rows[2]["norms"], "each seed draws its own weights"
    for row in rows:
        assert len(row["norms"]) == 12 and row["norms"][-1] > 0 and np.isfinite(row["decay_per_step"])


def test_stability_trains_each_model_with_and_without_clipping_per_learning_rate_and_seed():
    options = StabilityOptions(length=8, d_model=4, steps=5, batch=4, lrs=[0.01, 0.02], seeds=[0, 1])
    rows = stability(["rnn", "gru"], options)
    assert [(row.model, row.lr, row.clipped, row.seed) for row in rows] == [
        (model, lr, clipped, seed) for model in ("rnn", "gru") for lr in (0.01, 0.02) for clipped in (False, True)
        for seed in (0, 1)]
    for row in rows:
        assert row.steps == 5 and not row.diverged and 0 < row.median_grad_norm <= row.max_grad_norm
        assert math.isfinite(row.val_loss) and row.spikes == 0

import pytest
import torch

from seqarena.errors import ConfigError
from seqarena.models.linear import LinearConfig, TemporalLinear, moving_average


def replicate_padded_average(x, lengths, kernel, causal):
    """The moving average spelled out: every window position clamped into its row's valid range."""
    before = kernel - 1 if causal else kernel // 2
    after = 0 if causal else kernel - 1 - before
    out = torch.zeros_like(x)
    for row, length in enumerate(lengths.tolist()):
        for t in range(x.shape[1]):
            window = [min(max(s, 0), max(length - 1, 0)) for s in range(t - before, t + after + 1)]
            out[row, t] = x[row, window].mean(0)
    return out


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("kernel", [1, 4, 5, 25])
def test_moving_average_matches_the_spelled_out_window(causal, kernel):
    x, lengths = torch.randn(3, 12, 2), torch.tensor([12, 7, 1])
    valid = (torch.arange(12)[None] < lengths[:, None])[..., None]
    expected = replicate_padded_average(x, lengths, kernel, causal)
    torch.testing.assert_close(moving_average(x, lengths, kernel, causal) * valid, expected * valid)


def test_linear_mixer_starts_as_an_average_of_the_visible_past():
    mixer = TemporalLinear(LinearConfig(d_model=2, causal=True, max_len=6, kernel=3))
    x = torch.randn(1, 6, 2)
    expected = x.cumsum(1) / torch.arange(1, 7)[None, :, None]
    torch.testing.assert_close(mixer(x), expected)


def test_sequences_longer_than_the_matrices_are_refused():
    mixer = TemporalLinear(LinearConfig(d_model=2, causal=False, max_len=4))
    with pytest.raises(ConfigError, match="covers 4 positions"):
        mixer(torch.randn(1, 5, 2))

import pytest
import torch

from seqarena.models.convolution import causal_depthwise_conv


@pytest.mark.parametrize("taps", [1, 4])
def test_the_channels_last_convolution_is_torch_s_causal_depthwise_conv1d(taps):
    conv = torch.nn.Conv1d(6, 6, taps, groups=6, padding=taps - 1, dtype=torch.float64)
    u = torch.randn(2, 9, 6, dtype=torch.float64)
    expected = conv(u.transpose(1, 2))[..., :9].transpose(1, 2)
    torch.testing.assert_close(causal_depthwise_conv(u, conv.weight, conv.bias), expected)

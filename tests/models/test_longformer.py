import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from conftest import assert_twins_agree, streamed
from seqarena.errors import ConfigError
from seqarena.models.flex import FLEX_MIN_HEAD_DIM
from seqarena.models.longformer import LongformerAttention, LongformerConfig
from seqarena.models.transformer import AttentionConfig, SelfAttention


def pair(d_model=8, **options):
    blocked = LongformerAttention(LongformerConfig(d_model=d_model, n_heads=2, attention="blocked", **options))
    naive = LongformerAttention(LongformerConfig(d_model=d_model, n_heads=2, attention="naive", **options))
    naive.load_state_dict(blocked.state_dict())
    return blocked, naive


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("window,dilation,global_positions", [(3, 1, ()), (4, 2, (0, 7)), (2, 3, (5,)), (8, 1, (1,))])
def test_blocked_equals_full_attention_under_the_band_and_global_mask(causal, window, dilation, global_positions):
    blocked, naive = pair(causal=causal, window=window, dilation=dilation, global_positions=global_positions)
    mask = torch.arange(19)[None] < torch.tensor([[19], [12]])
    assert_twins_agree(blocked, naive, torch.randn(2, 19, 8), mask)


@pytest.mark.parametrize("causal", [False, True])
def test_a_window_covering_the_sequence_is_full_attention(causal):
    longformer = LongformerAttention(LongformerConfig(d_model=8, n_heads=2, causal=causal, window=16))
    full = SelfAttention(AttentionConfig(d_model=8, n_heads=2, causal=causal, positional="none"))
    full.load_state_dict(longformer.state_dict())
    x = torch.randn(2, 16, 8)
    torch.testing.assert_close(longformer(x), full(x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("dilation,global_positions", [(1, ()), (2, (0, 6))])
def test_window_cache_step_equals_whole_sequence(dilation, global_positions):
    attention = LongformerAttention(LongformerConfig(d_model=8, n_heads=2, causal=True, window=3, dilation=dilation,
                                                     global_positions=global_positions)).eval()
    x = torch.randn(2, 17, 8)
    outputs, cache = streamed(attention, x)
    torch.testing.assert_close(outputs, attention(x), atol=1e-5, rtol=1e-4)
    assert cache["k"].shape[2] == 3 * dilation and cache["global_k"].shape[2] == len(global_positions)


class LargestTensor(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(tensor, torch.Tensor):
                self.largest = max(self.largest, tensor.numel())
        return out


def test_blocked_path_never_builds_a_time_by_time_tensor():
    attention = LongformerAttention(LongformerConfig(d_model=8, n_heads=2, causal=False, window=8,
                                                     global_positions=(0,), attention="blocked"))
    x = torch.randn(1, 2048, 8, requires_grad=True)
    with LargestTensor() as tracker:
        attention(x).sum().backward()
    # (B, H, T, 3w + G) scores are the largest: 2 * 2048 * 25, far below one 2048 x 2048 matrix
    assert tracker.largest <= 2 * 2048 * 25 < 2048 * 2048


def test_bidirectional_longformer_cannot_stream():
    with pytest.raises(ConfigError, match="cannot stream"):
        LongformerAttention(LongformerConfig(d_model=8, causal=False)).step(torch.randn(1, 8), None)


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(("dilation", "global_positions"), [(2, (0, 9)), (1, ())])
@pytest.mark.parametrize("padded", [True, False])
def test_flex_block_mask_gives_the_same_forward(causal, dilation, global_positions, padded):
    """On CPU flex_attention runs eagerly and forward only; on CUDA it is the compiled, block-sparse path. An
    unpadded batch takes the cached batch-independent mask, whose mask_mod drops the terms it does not need."""
    options = {"causal": causal, "window": 3, "dilation": dilation, "global_positions": global_positions}
    # heads of 16: the compiled CUDA kernel needs at least FLEX_MIN_HEAD_DIM
    blocked, _ = pair(d_model=2 * FLEX_MIN_HEAD_DIM, **options)
    flex = LongformerAttention(LongformerConfig(d_model=2 * FLEX_MIN_HEAD_DIM, n_heads=2, attention="flex", **options))
    flex.load_state_dict(blocked.state_dict())
    x = torch.randn(2, 21, 2 * FLEX_MIN_HEAD_DIM)
    mask = torch.arange(21)[None] < torch.tensor([[21], [13]]) if padded else None
    kept = torch.ones(2, 21, 1) if mask is None else mask[..., None]
    with torch.no_grad():
        torch.testing.assert_close(flex(x, mask) * kept, blocked(x, mask) * kept, atol=1e-5, rtol=1e-4)

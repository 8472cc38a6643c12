import pytest
import torch
import torch.nn.functional as F

from conftest import assert_twins_agree, make_spec
from seqarena.errors import ConfigError
from seqarena.models import build_model
from seqarena.models.reformer import LSHAttention, ReformerConfig
from seqarena.models.reversible import reversible
from seqarena.models.transformer import naive_attention
from seqarena.settings import ModelConfig


def pair(**options):
    lsh = LSHAttention(ReformerConfig(d_model=8, n_heads=2, **options))
    dense = LSHAttention(ReformerConfig(d_model=8, n_heads=2, attention="naive", **options))
    dense.load_state_dict(lsh.state_dict())
    return lsh, dense


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("bucket_size,n_buckets,n_hashes", [(4, 4, 2), (3, None, 3), (16, 2, 1), (5, 6, 2)])
def test_sorted_blocks_equal_the_dense_rule_in_outputs_and_gradients(causal, bucket_size, n_buckets, n_hashes):
    lsh, dense = pair(causal=causal, bucket_size=bucket_size, n_buckets=n_buckets, n_hashes=n_hashes)
    mask = torch.arange(29)[None] < torch.tensor([[29], [17]])
    assert_twins_agree(lsh, dense, torch.randn(2, 29, 8), mask)


@pytest.mark.parametrize("bucket_size,n_hashes", [(4, 2), (5, 3)])
def test_unpadded_bidirectional_batches_equal_the_dense_rule(bucket_size, n_hashes):
    """With no mask the default path is flex_attention on CUDA (heads of 16 at least), sorted blocks elsewhere."""
    options = {"d_model": 32, "n_heads": 2, "causal": False, "bucket_size": bucket_size, "n_hashes": n_hashes}
    lsh, dense = (LSHAttention(ReformerConfig(**options, attention=attention)) for attention in ("lsh", "naive"))
    dense.load_state_dict(lsh.state_dict())
    assert_twins_agree(lsh, dense, torch.randn(2, 29, 32))


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
def test_flex_block_mask_gives_the_dense_rule_and_refuses_what_it_cannot_do():
    flex = LSHAttention(ReformerConfig(d_model=32, n_heads=2, causal=False, bucket_size=4, attention="flex"))
    dense = LSHAttention(ReformerConfig(d_model=32, n_heads=2, causal=False, bucket_size=4, attention="naive"))
    dense.load_state_dict(flex.state_dict())
    x = torch.randn(2, 21, 32)
    with torch.no_grad():
        torch.testing.assert_close(flex(x), dense(x), atol=1e-5, rtol=1e-4)
    with pytest.raises(ConfigError, match="unpadded batch"):
        flex(x, torch.ones(2, 21, dtype=torch.bool))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n_hashes", [1, 3])
def test_one_bucket_is_full_shared_qk_attention_without_self(causal, n_hashes):
    attention = LSHAttention(ReformerConfig(d_model=8, n_heads=2, causal=causal, n_buckets=1, bucket_size=16,
                                            n_hashes=n_hashes))
    x = torch.randn(2, 11, 8)
    qk, v = attention.split_heads(x)
    others = ~torch.eye(11, dtype=torch.bool)
    if causal:
        others = others & torch.ones(11, 11, dtype=torch.bool).tril()
        # the first token has no other target, so it attends to itself
        others[0, 0] = True
    expected = attention.merge_heads(naive_attention(qk, F.normalize(qk, dim=-1), v, others, None))
    torch.testing.assert_close(attention(x), expected, atol=1e-5, rtol=1e-4)


def test_causal_lsh_attention_is_causal_even_when_future_tokens_change_buckets():
    attention = LSHAttention(ReformerConfig(d_model=8, n_heads=2, causal=True, n_buckets=4, bucket_size=2))
    x = torch.randn(1, 40, 8)
    changed = x.clone()
    changed[:, 20:] = torch.randn(1, 20, 8) * 5
    torch.testing.assert_close(attention(x)[:, :20], attention(changed)[:, :20])
    assert not torch.allclose(attention(x)[:, 20:], attention(changed)[:, 20:])


def test_any_length_runs_without_divisibility_errors():
    attention = LSHAttention(ReformerConfig(d_model=8, n_heads=2, causal=False, bucket_size=8))
    for length in (1, 7, 8, 9, 61):
        assert attention(torch.randn(1, length, 8)).shape == (1, length, 8)


def reformer_model(n_layers: int, dropout: float = 0.0):
    spec = make_spec(kind="classify", n_outputs=3, causal=False)
    config = ModelConfig(mixer="reformer", d_model=16, n_layers=n_layers, dropout=dropout,
                         options={"bucket_size": 4, "dropout": dropout})
    return build_model(spec, config)


def test_reversible_gradients_equal_the_plain_computation_with_dropout():
    model = reformer_model(3, dropout=0.2).train()
    x = model.embed_input(torch.randint(0, 11, (2, 13)), offset=0).detach()
    gradients = []
    for recompute in (True, False):
        model.zero_grad()
        torch.manual_seed(7)
        inputs = x.clone().requires_grad_()
        reversible(model.blocks, inputs, None, recompute=recompute).square().sum().backward()
        gradients.append([inputs.grad] + [p.grad.clone() for p in model.blocks.parameters()])
    for a, b in zip(*gradients):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def saved_bytes(model, x) -> int:
    total = 0

    def pack(tensor):
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model.encode(x).sum()
    return total


def test_reversible_layers_keep_activation_memory_flat_in_depth():
    x = torch.randint(0, 11, (2, 32))
    shallow, deep = reformer_model(2), reformer_model(8)
    assert saved_bytes(deep, x) < 1.1 * saved_bytes(shallow, x)
    shallow_plain = build_model(shallow.shape, ModelConfig(mixer="reformer", d_model=16, n_layers=2, reversible=False))
    deep_plain = build_model(shallow.shape, ModelConfig(mixer="reformer", d_model=16, n_layers=8, reversible=False))
    assert saved_bytes(deep_plain, x) > 3 * saved_bytes(shallow_plain, x)


def test_streaming_needs_a_fixed_bucket_count():
    attention = LSHAttention(ReformerConfig(d_model=8, causal=True))
    with pytest.raises(ConfigError, match="fixed n_buckets"):
        attention.step(torch.randn(1, 8), None)

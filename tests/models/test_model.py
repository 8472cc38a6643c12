import pytest
import torch

from conftest import make_spec
from seqarena.errors import ConfigError, DataError
from seqarena.models import MIXERS, build_model
from seqarena.settings import ModelConfig

VARIANTS = [(name, {}) for name in MIXERS] + [
    ("lstm", {"impl": "cell"}), ("transformer", {"attention": "naive"}), ("minlstm", {"impl": "sequential"}),
    ("longformer", {"window": 2, "dilation": 2, "global_positions": [0, 3]}),
    ("reformer", {"n_buckets": 4, "bucket_size": 2, "n_hashes": 3}), ("reformer", {"attention": "naive"}),
]
POSITIONALS = ["sinusoidal", "learned", "rope", "alibi", "none"]


def tiny_model(name, options=None, spec=None, causal=None, positional=None):
    spec = spec or make_spec()
    config = ModelConfig(mixer=name, d_model=16, n_layers=2, options=options or {}, causal=causal,
                         positional=positional)
    return build_model(spec, config).eval()


@pytest.mark.parametrize("name,options", VARIANTS)
def test_causal_models_ignore_the_future(name, options):
    model = tiny_model(name, options)
    x = torch.randint(0, 11, (2, 12))
    changed = x.clone()
    changed[:, 8:] = (changed[:, 8:] + 1) % 11
    torch.testing.assert_close(model.encode(x)[:, :8], model.encode(changed)[:, :8])
    assert not torch.allclose(model.encode(x)[:, 8:], model.encode(changed)[:, 8:])


@pytest.mark.parametrize("positional", POSITIONALS)
def test_causal_transformer_ignores_the_future_with_every_positional(positional):
    model = tiny_model("transformer", positional=positional)
    x = torch.randint(0, 11, (2, 12))
    changed = x.clone()
    changed[:, 5:] = (changed[:, 5:] + 3) % 11
    torch.testing.assert_close(model.encode(x)[:, :5], model.encode(changed)[:, :5])


@pytest.mark.parametrize("name,options", VARIANTS)
@pytest.mark.parametrize("causal", [True, False])
def test_padded_row_equals_unpadded_sequence(name, options, causal):
    spec = make_spec(kind="classify", n_outputs=3, causal=False)
    model = tiny_model(name, options, spec=spec, causal=causal)
    short = torch.randint(0, 11, (1, 5))
    # row 0 is `short` padded; row 1 is full length, so a leak between rows shows too
    padded = torch.cat([torch.cat([short, torch.randint(0, 11, (1, 4))], dim=1), torch.randint(0, 11, (1, 9))])
    mask = torch.tensor([[True] * 5 + [False] * 4, [True] * 9])
    torch.testing.assert_close(model.encode(padded, mask)[:1, :5], model.encode(short), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(model.predict(padded, mask)[:1], model.predict(short), atol=1e-5, rtol=1e-4)


# a Reformer streams only with a fixed bucket count; its default count grows with the sequence length
STREAMING = [(name, options, positional) for name, options in VARIANTS for positional in POSITIONALS
             if (MIXERS[name].family == "attention" or positional not in ("rope", "alibi"))
             and (name != "reformer" or "n_buckets" in options)]


@pytest.mark.parametrize("name,options,positional", STREAMING)
def test_streaming_equals_whole_sequence(name, options, positional):
    model = tiny_model(name, options, positional=positional)
    x = torch.randint(0, 11, (2, 9))
    state, steps = None, []
    for t in range(9):
        h, state = model.step(x[:, t], state)
        steps.append(h)
    torch.testing.assert_close(torch.stack(steps, 1), model.encode(x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name,options", VARIANTS)
def test_each_model_overfits_one_tiny_batch(name, options):
    torch.manual_seed(0)
    spec = make_spec(kind="classify", input_kind="features", n_inputs=3, n_outputs=4, seq_len=10, causal=False)
    model = tiny_model(name, options, spec=spec).train()
    batch = {"x": torch.randn(8, 10, 3), "y": torch.arange(8) % 4}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = model(batch).item()
    for _ in range(150):
        optimizer.zero_grad()
        loss = model(batch)
        loss.backward()
        optimizer.step()
    assert loss.item() <= 0.1 * first


def test_generate_samples_reproducibly_after_the_prompt():
    model = tiny_model("lstm")
    prompt = torch.randint(0, 11, (2, 3))
    first = model.generate(prompt, 6, top_k=3, generator=torch.Generator(prompt.device).manual_seed(1))
    second = model.generate(prompt, 6, top_k=3, generator=torch.Generator(prompt.device).manual_seed(1))
    assert first.shape == (2, 9) and torch.equal(first[:, :3], prompt) and torch.equal(first, second)


def test_bidirectional_model_cannot_stream():
    model = tiny_model("gru", spec=make_spec(kind="classify", n_outputs=2, causal=False))
    with pytest.raises(ConfigError, match="only a causal model"):
        model.step(torch.zeros(1, dtype=torch.long))


def test_lm_task_refuses_a_bidirectional_model():
    with pytest.raises(ConfigError, match="must be causal"):
        tiny_model("lstm", causal=False)


def test_left_padded_mask_is_refused():
    model = tiny_model("transformer", spec=make_spec(kind="classify", n_outputs=2, causal=False))
    mask = torch.tensor([[False, True, True]])
    with pytest.raises(DataError, match="not right-padded"):
        model.encode(torch.zeros(1, 3, dtype=torch.long), mask)


@pytest.mark.parametrize("options,message", [
    ({"impl": "fast"}, "impl"), ({"colour": 1}, "colour"), ({"cell": "gru"}, "set by the model"),
])
def test_bad_mixer_options_name_the_field(options, message):
    with pytest.raises(ConfigError, match=message):
        tiny_model("lstm", options)


def test_learned_positions_refuse_sequences_beyond_their_table():
    model = tiny_model("transformer", positional="learned", spec=make_spec(seq_len=4))
    with pytest.raises(ConfigError, match="covers 4 positions"):
        model.encode(torch.zeros(1, 5, dtype=torch.long))


def elements_saved_for_backward(model, batch):
    saved = 0

    def pack(tensor):
        nonlocal saved
        saved += tensor.numel()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = model(batch)
    loss.backward()
    return saved


def test_chunked_feed_forward_recomputes_its_hidden_activation_with_the_same_gradients():
    """ffn_chunk_size outside a reversible stack: neither (B, T, 4D) hidden activation (before and after the GELU)
    of any layer is kept for backward, and the gradients are unchanged."""
    spec = make_spec("regress", input_kind="features", n_inputs=3, n_outputs=1, seq_len=64)
    batch = {"x": torch.randn(2, 64, 3), "y": torch.randn(2, 1)}
    whole, chunked = (build_model(spec, ModelConfig(mixer="gru", d_model=8, ffn_mult=4, ffn_chunk_size=size))
                      for size in (None, 16))
    chunked.load_state_dict(whole.state_dict())
    hidden_activations = 2 * len(whole.blocks) * (2 * 64 * 4 * 8)
    assert elements_saved_for_backward(chunked, batch) <= elements_saved_for_backward(whole, batch) - hidden_activations
    for a, b in zip(whole.parameters(), chunked.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-6, rtol=1e-5)

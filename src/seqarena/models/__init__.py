"""The mixer registry and build_model: any registered mixer on any task."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn

from seqarena.environment import physical_memory
from seqarena.errors import ConfigError, describe_validation
from seqarena.models.blocks import SequenceModel
from seqarena.models.control import ControlConfig, ZeroMixer
from seqarena.models.linear import LinearConfig, TemporalLinear
from seqarena.models.longformer import LongformerAttention, LongformerConfig
from seqarena.models.minrnn import MinRNNConfig, MinRNNMixer
from seqarena.models.positional import IN_ATTENTION, Positional
from seqarena.models.reformer import LSHAttention, ReformerConfig
from seqarena.models.rnn import RecurrentConfig, RecurrentMixer
from seqarena.models.transformer import AttentionConfig, SelfAttention
from seqarena.spec import TaskSpec


@dataclass(frozen=True)
class MixerEntry:
    name: str
    family: str
    description: str
    module: type[nn.Module]
    config: type
    # settings the entry fixes (e.g. which recurrent cell); options may not override them
    fixed: dict[str, Any] = field(default_factory=dict)
    default_positional: str = "none"
    # the model layout this family is known by (the Reformer's reversible layers and chunked feed-forward)
    reversible: bool = False
    ffn_chunk_size: int | None = None
    # in the fair line-up: the budget-matched models the main job's sweeps and `seqarena compare` train
    line_up: bool = False


MIXERS: dict[str, MixerEntry] = {
    entry.name: entry
    for entry in (
        MixerEntry("rnn", "recurrent", "Elman RNN with tanh (Elman 1990)", RecurrentMixer, RecurrentConfig,
                   {"cell": "rnn"}),
        MixerEntry("lstm", "recurrent", "LSTM with forget gate (Hochreiter & Schmidhuber 1997; Gers et al. 2000)",
                   RecurrentMixer, RecurrentConfig, {"cell": "lstm"}, line_up=True),
        MixerEntry("gru", "recurrent", "GRU (Cho et al. 2014)", RecurrentMixer, RecurrentConfig, {"cell": "gru"},
                   line_up=True),
        MixerEntry("mingru", "parallel-scan recurrent", "minGRU, log-space parallel scan (Feng et al. 2024)",
                   MinRNNMixer, MinRNNConfig, {"cell": "mingru"}, line_up=True),
        MixerEntry("minlstm", "parallel-scan recurrent", "minLSTM, log-space parallel scan (Feng et al. 2024)",
                   MinRNNMixer, MinRNNConfig, {"cell": "minlstm"}),
        MixerEntry("transformer", "attention", "multi-head self-attention, pre-norm (Vaswani et al. 2017)",
                   SelfAttention, AttentionConfig, default_positional="sinusoidal", line_up=True),
        MixerEntry("longformer", "sparse attention", "sliding-window + global attention (Beltagy et al. 2020)",
                   LongformerAttention, LongformerConfig, default_positional="sinusoidal"),
        MixerEntry("linear", "linear baseline", "DLinear-style trend/remainder linear map over time (Zeng et al. 2023)",
                   TemporalLinear, LinearConfig),
        MixerEntry("reformer", "sparse attention", "LSH attention, reversible layers (Kitaev et al. 2020)",
                   LSHAttention, ReformerConfig, default_positional="sinusoidal", reversible=True, ffn_chunk_size=1024),
        MixerEntry("zero", "control", "no mixing between positions: each output sees its own input only (the "
                   "control a long-range probe must defeat)", ZeroMixer, ControlConfig),
    )
}

# the families of the summary table's two sides
STEPWISE_RECURRENT = "recurrent"
SCAN_RECURRENT = "parallel-scan recurrent"
RECURRENT_FAMILIES = (STEPWISE_RECURRENT, SCAN_RECURRENT)


def members(*families: str) -> tuple[str, ...]:
    """The registered mixers of these families, in registry order."""
    return tuple(entry.name for entry in MIXERS.values() if entry.family in families)


def is_recurrent(name: str) -> bool:
    return name in MIXERS and MIXERS[name].family in RECURRENT_FAMILIES


# the classic recurrent cells (Elman RNN, LSTM, GRU) and the fair line-up, as the registry marks them
RECURRENT = members(STEPWISE_RECURRENT)
# every sequence model, the no-mixing control left out
SEQUENCE_MODELS = tuple(name for name, entry in MIXERS.items() if entry.family != "control")
LINE_UP = tuple(entry.name for entry in MIXERS.values() if entry.line_up)


class ModelConfig(BaseModel):
    """The model half of a run's config; `options` go to the mixer's own config (e.g. n_heads, impl)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mixer: str
    d_model: int = 64
    n_layers: int = 2
    ffn_mult: int = 2
    dropout: float = 0.0
    positional: Positional | None = None
    causal: bool | None = None
    # None: the mixer family's own layout (reversible and chunked feed-forward for the Reformer)
    reversible: bool | None = None
    # positions per feed-forward chunk; outside a reversible stack, training recomputes each chunk in backward
    ffn_chunk_size: int | None = Field(None, gt=0)
    options: dict[str, Any] = {}


def mixer_entry(name: str) -> MixerEntry:
    if name not in MIXERS:
        raise ConfigError(f"unknown model '{name}'; choose one of: {', '.join(MIXERS)}")
    return MIXERS[name]


def build_mixer(name: str, d_model: int, causal: bool, positional: str, options: dict[str, Any],
                max_len: int | None = None) -> nn.Module:
    """One mixer; `positional` and `max_len` (the task's length) reach the configs that have such fields."""
    entry = mixer_entry(name)
    overridden = sorted(set(options) & (set(entry.fixed) | {"d_model", "causal", "positional", "max_len"}))
    if overridden:
        raise ConfigError(f"option {overridden[0]!r} of model '{name}' is set by the model itself")
    kwargs = {**options, **entry.fixed, "d_model": d_model, "causal": causal}
    config_fields = {f.name for f in fields(entry.config)}
    if "max_len" in config_fields:
        kwargs["max_len"] = max_len
    if "positional" in config_fields:
        kwargs["positional"] = positional
    elif positional in IN_ATTENTION:
        raise ConfigError(f"positional '{positional}' acts inside attention; model '{name}' has no attention")
    try:
        config = entry.config(**kwargs)
    except ValidationError as error:
        raise ConfigError(describe_validation(error, f"options for model '{name}'")) from None
    except TypeError as error:
        raise ConfigError(f"invalid options for model '{name}': {error}") from None
    return entry.module(config)


def build_model(spec: TaskSpec, config: ModelConfig) -> SequenceModel:
    """A SequenceModel for the task: causal when the task demands it, else as configured (default: not). The
    model is first built on the meta device (no memory), so one whose weights alone exceed this machine's memory
    stops with its size instead of trying to allocate it."""
    params = parameter_count(spec, config)
    if 4 * params > physical_memory():
        raise ConfigError(f"model '{config.mixer}' at d_model {config.d_model} x {config.n_layers} layers on "
                          f"'{spec.name}' has {params:,} parameters: {4 * params / 2**30:,.1f} GiB of weights, more "
                          f"than this machine's {physical_memory() / 2**30:.0f} GiB of memory")
    return assemble(spec, config)


def parameter_count(spec: TaskSpec, config: ModelConfig) -> int:
    """Trainable parameters of the model, counted on the meta device: nothing is allocated."""
    with torch.device("meta"):
        return count_parameters(assemble(spec, config))


def assemble(spec: TaskSpec, config: ModelConfig) -> SequenceModel:
    if spec.causal and config.causal is False:
        raise ConfigError(f"task '{spec.name}' predicts the next step: its model must be causal")
    causal = spec.causal or bool(config.causal)
    entry = mixer_entry(config.mixer)
    positional = config.positional or entry.default_positional
    mixers = [build_mixer(config.mixer, config.d_model, causal, positional, config.options, spec.seq_len)
              for _ in range(config.n_layers)]
    reversible = entry.reversible if config.reversible is None else config.reversible
    return SequenceModel(spec, mixers, d_model=config.d_model, ffn_mult=config.ffn_mult, dropout=config.dropout,
                         positional=positional, causal=causal, reversible=reversible,
                         ffn_chunk_size=config.ffn_chunk_size or entry.ffn_chunk_size)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

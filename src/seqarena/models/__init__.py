"""The mixer registry and build_model: any registered mixer on any task."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
from pydantic import ValidationError
from torch import nn

from seqarena.catalog import MODELS, ModelInfo
from seqarena.environment import physical_memory
from seqarena.errors import ConfigError, describe_validation
from seqarena.models.blocks import SequenceModel
from seqarena.models.control import ControlConfig, ZeroMixer
from seqarena.models.gla import GatedLinearAttention, GLAConfig
from seqarena.models.linear import LinearConfig, TemporalLinear
from seqarena.models.longformer import LongformerAttention, LongformerConfig
from seqarena.models.mamba import MambaConfig, MambaMixer
from seqarena.models.minrnn import MinRNNConfig, MinRNNMixer
from seqarena.models.mlstm import MLSTMConfig, MLSTMMixer
from seqarena.models.positional import IN_ATTENTION
from seqarena.models.reformer import LSHAttention, ReformerConfig
from seqarena.models.rnn import RecurrentConfig, RecurrentMixer
from seqarena.models.transformer import AttentionConfig, SelfAttention
from seqarena.settings import ModelConfig
from seqarena.spec import ModelShape


@dataclass(frozen=True, kw_only=True)
class MixerEntry(ModelInfo):
    """A catalogued model (seqarena.catalog) with what builds it: its module, its config, and the settings the
    entry fixes (e.g. which recurrent cell), which options may not override."""

    module: type[nn.Module]
    config: type
    fixed: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, info: ModelInfo, module: type[nn.Module], config: type, **fixed: Any) -> MixerEntry:
        return cls(**asdict(info), module=module, config=config, fixed=fixed)


MIXERS: dict[str, MixerEntry] = {
    entry.name: entry
    for entry in (
        MixerEntry.of(MODELS["rnn"], RecurrentMixer, RecurrentConfig, cell="rnn"),
        MixerEntry.of(MODELS["lstm"], RecurrentMixer, RecurrentConfig, cell="lstm"),
        MixerEntry.of(MODELS["gru"], RecurrentMixer, RecurrentConfig, cell="gru"),
        MixerEntry.of(MODELS["mingru"], MinRNNMixer, MinRNNConfig, cell="mingru"),
        MixerEntry.of(MODELS["minlstm"], MinRNNMixer, MinRNNConfig, cell="minlstm"),
        MixerEntry.of(MODELS["mamba"], MambaMixer, MambaConfig),
        MixerEntry.of(MODELS["mlstm"], MLSTMMixer, MLSTMConfig),
        MixerEntry.of(MODELS["gla"], GatedLinearAttention, GLAConfig),
        MixerEntry.of(MODELS["transformer"], SelfAttention, AttentionConfig),
        MixerEntry.of(MODELS["longformer"], LongformerAttention, LongformerConfig),
        MixerEntry.of(MODELS["linear"], TemporalLinear, LinearConfig),
        MixerEntry.of(MODELS["reformer"], LSHAttention, ReformerConfig),
        MixerEntry.of(MODELS["zero"], ZeroMixer, ControlConfig),
    )
}


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


def build_model(shape: ModelShape, config: ModelConfig) -> SequenceModel:
    """A SequenceModel for the task: causal when the task demands it, else as configured (default: not). The
    model is first built on the meta device (no memory), so one whose weights alone exceed this machine's memory
    stops with its size instead of trying to allocate it."""
    params = parameter_count(shape, config)
    if 4 * params > physical_memory():
        raise ConfigError(f"model '{config.mixer}' at d_model {config.d_model} x {config.n_layers} layers on "
                          f"'{shape.name}' has {params:,} parameters: {4 * params / 2**30:,.1f} GiB of weights, more "
                          f"than this machine's {physical_memory() / 2**30:.0f} GiB of memory")
    return assemble(shape, config)


def parameter_count(shape: ModelShape, config: ModelConfig) -> int:
    """Trainable parameters of the model, counted on the meta device: nothing is allocated."""
    with torch.device("meta"):
        return count_parameters(assemble(shape, config))


def assemble(shape: ModelShape, config: ModelConfig) -> SequenceModel:
    if shape.causal and config.causal is False:
        raise ConfigError(f"task '{shape.name}' predicts the next step: its model must be causal")
    causal = shape.causal or bool(config.causal)
    entry = mixer_entry(config.mixer)
    positional = config.positional or entry.default_positional
    mixers = [build_mixer(config.mixer, config.d_model, causal, positional, config.options, shape.seq_len)
              for _ in range(config.n_layers)]
    reversible = entry.reversible if config.reversible is None else config.reversible
    return SequenceModel(shape, mixers, d_model=config.d_model, ffn_mult=config.ffn_mult, dropout=config.dropout,
                         positional=positional, causal=causal, reversible=reversible,
                         ffn_chunk_size=config.ffn_chunk_size or entry.ffn_chunk_size)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

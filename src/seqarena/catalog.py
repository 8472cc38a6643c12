"""What each registered model and task is, by name: a model's family, description, default positional encoding and
layout, and whether it is in the fair line-up; a task's domain. The registries that build them (MIXERS in
models/__init__.py, TASKS in tasks/__init__.py) take their entries from here, so the reading side (claims, report)
groups models by family and tasks by domain without importing torch or any data (docs/architecture.md, "Layers")."""

from __future__ import annotations

from dataclasses import dataclass

from seqarena.errors import ConfigError


@dataclass(frozen=True)
class ModelInfo:
    name: str
    family: str
    description: str
    default_positional: str = "none"
    # the model layout this family is known by (the Reformer's reversible layers and chunked feed-forward)
    reversible: bool = False
    ffn_chunk_size: int | None = None
    # in the fair line-up: the budget-matched models the main job's sweeps and `seqarena compare` train
    line_up: bool = False


MODELS: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        ModelInfo("rnn", "recurrent", "Elman RNN with tanh (Elman 1990)"),
        ModelInfo("lstm", "recurrent", "LSTM with forget gate (Hochreiter & Schmidhuber 1997; Gers et al. 2000)",
                  line_up=True),
        ModelInfo("gru", "recurrent", "GRU (Cho et al. 2014)", line_up=True),
        ModelInfo("mingru", "parallel-scan recurrent", "minGRU, log-space parallel scan (Feng et al. 2024)",
                  line_up=True),
        ModelInfo("minlstm", "parallel-scan recurrent", "minLSTM, log-space parallel scan (Feng et al. 2024)"),
        ModelInfo("mamba", "parallel-scan recurrent", "Mamba: selective state space, input-dependent step and maps, "
                  "chunked parallel scan, a compiled loop on the CPU (Gu & Dao 2023)", line_up=True),
        ModelInfo("mlstm", "parallel-scan recurrent", "xLSTM's mLSTM: matrix memory with exponential gating, "
                  "chunkwise parallel form, a compiled loop on the CPU (Beck et al. 2024)", line_up=True),
        ModelInfo("gla", "parallel-scan recurrent", "gated linear attention: a data-dependent decay per key "
                  "dimension, chunkwise parallel form, a compiled loop on the CPU (Yang et al. 2023)", line_up=True),
        ModelInfo("transformer", "attention", "multi-head self-attention, pre-norm (Vaswani et al. 2017)",
                  default_positional="sinusoidal", line_up=True),
        ModelInfo("longformer", "sparse attention", "sliding-window + global attention (Beltagy et al. 2020)",
                  default_positional="sinusoidal"),
        ModelInfo("linear", "linear baseline", "DLinear-style trend/remainder linear map over time (Zeng et al. 2023)"),
        ModelInfo("reformer", "sparse attention", "LSH attention, reversible layers (Kitaev et al. 2020)",
                  default_positional="sinusoidal", reversible=True, ffn_chunk_size=1024),
        ModelInfo("zero", "control", "no mixing between positions: each output sees its own input only (the control "
                  "a long-range probe must defeat)"),
    )
}

# the families of the summary table's two sides
STEPWISE_RECURRENT = "recurrent"
SCAN_RECURRENT = "parallel-scan recurrent"
RECURRENT_FAMILIES = (STEPWISE_RECURRENT, SCAN_RECURRENT)


def model_info(name: str) -> ModelInfo:
    if name not in MODELS:
        raise ConfigError(f"unknown model '{name}'; choose one of: {', '.join(MODELS)}")
    return MODELS[name]


def members(*families: str) -> tuple[str, ...]:
    """The registered models of these families, in registry order."""
    return tuple(info.name for info in MODELS.values() if info.family in families)


def is_recurrent(name: str) -> bool:
    return name in MODELS and MODELS[name].family in RECURRENT_FAMILIES


# the classic recurrent cells (Elman RNN, LSTM, GRU) and the fair line-up, as the registry marks them
RECURRENT = members(STEPWISE_RECURRENT)
# every sequence model, the no-mixing control left out
SEQUENCE_MODELS = tuple(name for name, info in MODELS.items() if info.family != "control")
LINE_UP = tuple(info.name for info in MODELS.values() if info.line_up)
# the classic recurrent cells beside the line-up (the Elman RNN included): what most measurements measure
RECURRENT_AND_LINE_UP = tuple(dict.fromkeys((*RECURRENT, *LINE_UP)))

TASK_DOMAINS: dict[str, str] = {
    "adding": "synthetic long-range probe",
    "copy_memory": "synthetic long-range probe",
    "selective_copy": "synthetic long-range probe",
    "associative_recall": "synthetic long-range probe",
    "parity": "synthetic long-range probe",
    "order": "synthetic probe of order (positional encodings)",
    "listops": "synthetic long-range probe",
    "sunspots": "time-series forecasting",
    "co2": "time-series forecasting",
    "electricity": "time-series forecasting",
    "gunpoint": "time-series classification",
    "italy_power": "time-series classification",
    "basic_motions": "time-series classification",
    "japanese_vowels": "speech",
    "spoken_digits": "speech",
    "digits": "vision as a sequence",
    "mnist": "vision as a sequence",
    "kjv": "NLP: character-level language modelling",
    "kjv_divisions": "NLP: text classification",
}

"""Width sizing, the fairness protocol's first rule: every model sized to one parameter budget (+-10%, the Long
Range Arena rule) by choosing its width."""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

from seqarena.errors import ConfigError
from seqarena.models import MIXERS, parameter_count
from seqarena.settings import ModelConfig, within_budget
from seqarena.spec import ModelShape
from seqarena.tasks import load_task


@dataclass(frozen=True)
class Sizing:
    config: ModelConfig
    params: int
    budget: int

    @property
    def within_budget(self) -> bool:
        return within_budget(self.params, self.budget)


def width_step(config: ModelConfig) -> int:
    """Widths are multiples of the head count; even multiples with rotary encodings (each head's size is even)
    and for single-head mixers (a bidirectional recurrent layer splits its width between two directions)."""
    # a pydantic Field(...) default holds the value in its own .default
    defaults = {item.name: getattr(item.default, "default", item.default)
                for item in fields(MIXERS[config.mixer].config)}
    heads = int(config.options.get("n_heads", defaults.get("n_heads", 1)))
    return 2 * heads if config.positional == "rope" or heads == 1 else heads


def parameters_at(shape: ModelShape, config: ModelConfig, width: int) -> int:
    return parameter_count(shape, config.model_copy(update={"d_model": width}))


def sized(task: str, options: dict[str, Any], config: ModelConfig, budget: int) -> Sizing:
    """The width whose parameter count is closest to the budget (parameters grow with width: bisection)."""
    return _sized(task, tuple(sorted(options.items())), config.model_dump_json(), budget)


@lru_cache(maxsize=256)
def _sized(task: str, options: tuple[tuple[str, Any], ...], config_json: str, budget: int) -> Sizing:
    spec = load_task(task, **dict(options)).spec
    config = ModelConfig.model_validate_json(config_json)
    step = width_step(config)
    low, high = 1, 1
    while parameters_at(spec, config, high * step) < budget and high < 4096 // step:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if parameters_at(spec, config, middle * step) < budget:
            low = middle
        else:
            high = middle
    counts = {width: parameters_at(spec, config, width * step) for width in (low, high)}
    width = min(counts, key=lambda candidate: abs(counts[candidate] - budget))
    sizing = Sizing(config.model_copy(update={"d_model": width * step}), counts[width], budget)
    if width == 1 and not sizing.within_budget and sizing.params > budget:
        options_text = ", ".join(f"{key}={value}" for key, value in config.options.items()) or "its defaults"
        raise ConfigError(f"model '{config.mixer}' ({options_text}) has {sizing.params:,} parameters on '{task}' at "
                          f"its smallest width {step}, more than the budget of {budget:,} (+-10%): give it smaller "
                          "options or a larger --param-budget")
    return sizing

"""The typer application every command module registers on, the console, and option parsing."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console

from seqarena.errors import ConfigError

app = typer.Typer(help="Recurrent networks vs Transformers: train a fair line-up and measure the claims.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
# piped output keeps whole tables instead of wrapping them to the default 80 columns
console = Console(width=None if sys.stdout.isatty() else 120)


def parse_options(pairs: list[str], what: str) -> dict[str, Any]:
    """KEY=VALUE pairs; values are read as JSON where they parse (4, 0.1, true), else kept as text."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what} {pair!r} is not KEY=VALUE")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def csv_list(text: str | None, kind: type) -> list[Any]:
    return [] if text is None else [kind(item.strip()) for item in text.split(",") if item.strip()]


def given(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings the user gave: options left at None or empty are the config classes' defaults to fill."""
    return {name: value for name, value in settings.items() if value not in (None, [], {})}

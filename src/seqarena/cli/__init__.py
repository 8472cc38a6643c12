"""The seqarena command line: thin commands over the library, grouped by what they act on (catalogue: models and
tasks; training: train, predict, generate; experiments: run, sweep, measure, compare; reporting: claims, report).
Tables live in views.py, live progress in display.py."""

from __future__ import annotations

import sys

from seqarena.cli import catalogue, experiments, reporting, training
from seqarena.cli.app import app
from seqarena.errors import SeqarenaError

COMMAND_MODULES = (catalogue, training, experiments, reporting)


def main() -> None:
    """Entry point: a SeqarenaError becomes one line on stderr and exit code 2."""
    try:
        app()
    except SeqarenaError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


__all__ = ["app", "main"]

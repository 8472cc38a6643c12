"""Measurements: the evidence behind each claim, one file per measurement. Each module declares what it measures
in its MEASUREMENTS (name, description, options, the function, its default models); seqarena.engine.measuring
finds them there, runs one and writes its rows to the store with hardware and versions; `seqarena measure NAME`
does the same from the command line. Their rows' types are in results/measurements.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from seqarena.results.records import Record


@dataclass(frozen=True)
class Measurement:
    name: str
    description: str
    options: type[BaseModel]
    run: Callable[..., list[Record]]
    # the models measured unless told otherwise
    models: tuple[str, ...]
    # measurements that train go through the sweep engine: they are given its grid runner
    trains: bool = False

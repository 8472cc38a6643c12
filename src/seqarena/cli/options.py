"""Command-line options generated from the settings schemas (seqarena.settings): every field of a schema becomes an
option with its type, its help (the field's description) and its default (stated in the help and left to the
schema, so a default lives in one place). A command declares which schemas it takes and receives what the user
gave, per schema, as a dict to validate; bad values get the usual one-line error from the schema itself."""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from seqarena.cli.app import given, parse_options

# flag pairs for the settings whose two values have names of their own
FLAG_PAIRS = {"causal": "--causal/--bidirectional"}


@dataclass(frozen=True)
class Settings:
    """One schema's fields as options: `key` names the dict the command receives, `flags` renames a field's option
    (mixer -> --model), `leave_out` keeps fields the command sets itself."""

    key: str
    schema: type[BaseModel]
    flags: dict[str, str] = field(default_factory=dict)
    leave_out: tuple[str, ...] = ()

    def fields(self) -> dict[str, FieldInfo]:
        return {name: info for name, info in self.schema.model_fields.items() if name not in self.leave_out}

    def parameter(self, name: str) -> str:
        return self.flags.get(name, name)


Reading = typing.Literal["value", "pairs", "list"]


def option_type(annotation: Any) -> tuple[type, Reading]:
    """The type an option parses (the first of a union's non-None members; text for literals, which the schema
    checks) and how its text is read: as the value, as KEY=VALUE pairs (a mapping) or comma-separated (a list,
    whose items the schema converts and checks)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [member for member in typing.get_args(annotation) if member is not type(None)]
        return option_type(members[0])
    if origin is typing.Literal:
        return str, "value"
    if origin is dict or annotation is dict:
        return list[str], "pairs"
    if origin is list:
        return str, "list"
    return annotation, "value"


def default_text(info: FieldInfo) -> str:
    """The default the schema fills in, for the help (none stated where it is absent, None or empty; a list's
    items comma-separated, as the option takes them)."""
    if info.default in (PydanticUndefined, None, {}, []):
        return ""
    shown = ",".join(map(str, info.default)) if isinstance(info.default, list) else info.default
    return f" (default: {shown})"


def read(text: Any, reading: Reading, what: str) -> Any:
    """An option's value as its schema takes it."""
    if text is None or reading == "value":
        return text
    if reading == "pairs":
        return parse_options(text, what)
    return [item.strip() for item in text.split(",") if item.strip()]


def option(settings: Settings, name: str, info: FieldInfo) -> inspect.Parameter:
    """A keyword parameter typer reads as the field's option; its default is None (or no pairs), so what was not
    given stays the schema's to fill."""
    kind, reading = option_type(info.annotation)
    flag = settings.parameter(name).replace("_", "-")
    help_text = (info.description or name) + default_text(info)
    if reading == "pairs":
        return inspect.Parameter(settings.parameter(name), inspect.Parameter.KEYWORD_ONLY, annotation=list[str],
                                 default=typer.Option([], f"--{flag}", help=help_text))
    declared = FLAG_PAIRS.get(name, f"--{flag}/--no-{flag}") if kind is bool else f"--{flag}"
    return inspect.Parameter(settings.parameter(name), inspect.Parameter.KEYWORD_ONLY, annotation=kind | None,
                             default=typer.Option(None, declared, help=help_text))


def chosen(settings: Settings, values: dict[str, Any]) -> dict[str, Any]:
    """The schema's fields the user gave, by field name, taken out of the command's values; KEY=VALUE pairs
    parsed, lists split at commas."""
    return given({name: read(values.pop(settings.parameter(name)), option_type(info.annotation)[1],
                             settings.parameter(name).replace("_", " "))
                  for name, info in settings.fields().items()})


def with_settings(*groups: Settings) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command one option per field of each schema; it receives `settings`: {key: the fields given}."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        own = [parameter for parameter in inspect.signature(command, eval_str=True).parameters.values()
               if parameter.name != "settings"]
        generated = [option(group, name, info) for group in groups for name, info in group.fields().items()]

        @functools.wraps(command)
        def run(**values: Any) -> None:
            settings = {group.key: chosen(group, values) for group in groups}
            command(**values, settings=settings)

        parameters = [parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY) for parameter in own] + generated
        run.__signature__ = inspect.Signature(parameters)
        run.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
        del run.__wrapped__
        return run

    return decorate

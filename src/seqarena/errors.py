"""Errors that reach the user as one clear line (the CLI exits with code 2 on them)."""


class SeqarenaError(Exception):
    """Base class: the message names what is wrong and, where it helps, what to do."""


class ConfigError(SeqarenaError):
    """An invalid model, task, training or suite setting."""


class DataError(SeqarenaError):
    """Input data that cannot be used as given."""


class StorageError(SeqarenaError):
    """The store or the checkpoints cannot be written (disk full, read-only, locked): nothing already stored is lost,
    and the same command, run again once it is fixed, resumes."""


def describe_validation(error, what: str) -> str:
    """One line naming each offending field of a pydantic ValidationError."""
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "value"
        problems.append(f"{field}: {item['msg']}")
    return f"invalid {what}: " + "; ".join(problems)

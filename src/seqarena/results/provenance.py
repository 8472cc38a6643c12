"""Where stored measurement rows came from: the set-up that must match for rows to be judged together (the
options and the hardware of a call: evidence from different devices or configs is never mixed), and the budget
of a set of rows in words."""

from __future__ import annotations

import json
from typing import Any

# the options that state a measurement's budget, in the order they are printed
BUDGET_OPTIONS = ("task", "tasks", "lengths", "fractions", "contexts", "length", "batches", "encodings", "objective",
                  "pretrain_steps", "seeds", "lrs", "param_budget", "d_model", "layers", "steps", "batch", "repeats")


def setup(row: dict[str, Any]) -> str:
    """What must match for two calls' rows to be judged together: the options (models aside) and the hardware."""
    return json.dumps([row["config"].get("options"), row["hardware"]], sort_keys=True)


def hardware_measured_on(rows: list[dict[str, Any]], options: dict[str, Any]) -> list[dict[str, Any]]:
    """The hardware of each of these measurement rows whose call had these options."""
    return [row["hardware"] for row in rows if row["config"].get("options") == options]


def task_of(row: dict[str, Any]) -> Any:
    return (row["config"].get("options") or {}).get("task")


def newest_setup(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task the measurement ran on (several probes stand side by side), the rows of the newest call's set-up,
    and of each model only its newest call there."""
    kept = []
    for task in dict.fromkeys(task_of(row) for row in rows):
        mine = [row for row in rows if task_of(row) == task]
        chosen = [row for row in mine if setup(row) == setup(mine[-1])]
        newest = {row["model"]: row["created_at"] for row in chosen}
        kept += [row for row in chosen if newest[row["model"]] == row["created_at"]]
    return kept


def budget_text(rows: list[dict[str, Any]]) -> str:
    """The budget of one measurement's rows: models, the options that size each task's call (probes run side by
    side are joined by " + "), device, dtype, date."""
    if not rows:
        return ""
    # each task's newest call, in the order the tasks first ran
    calls = {task_of(row): row for row in rows}.values()
    options = rows[-1]["config"].get("options") or {}
    train = options.get("train") or {}
    device = rows[-1]["hardware"].get("gpu") or rows[-1]["hardware"].get("device", "?")
    dates = sorted({row["created_at"][:10] for row in rows})
    return "; ".join([f"models {', '.join(sorted({row['model'] for row in rows}))}",
                      " + ".join(sizing(call["config"].get("options") or {}) for call in calls),
                      f"device {device}", f"dtype {options.get('dtype', train.get('dtype', 'float32'))}",
                      f"date {dates[0]}" + (f" to {dates[-1]}" if len(dates) > 1 else "")])


def sizing(options: dict[str, Any]) -> str:
    """The options that size one call, and its training steps."""
    parts = [f"{name} {value}" for name in BUDGET_OPTIONS if (value := options.get(name)) not in (None, [], {})]
    train = options.get("train") or {}
    if train:
        parts.append(f"{train.get('steps')} steps x batch {train.get('batch_size')}")
    return "; ".join(parts)

"""Where stored measurement rows came from: the set-up that must match for rows to be judged together (the
options and the hardware of a call: evidence from different devices or configs is never mixed; the seeds are the
sample, not the set-up, so a model measured again at more seeds joins the others' rows), and the budget of a set of
rows in words."""

from __future__ import annotations

import json
from typing import Any

# the options that state a measurement's budget, in the order they are printed
BUDGET_OPTIONS = ("task", "tasks", "lengths", "fractions", "contexts", "length", "batches", "encodings", "objective",
                  "pretrain_steps", "seeds", "lrs", "param_budget", "d_model", "layers", "steps", "batch", "repeats")


def setup(row: dict[str, Any]) -> str:
    """What must match for two calls' rows to be judged together: the options (models and seeds aside) and the
    hardware."""
    options = {name: value for name, value in (row["config"].get("options") or {}).items() if name != "seeds"}
    return json.dumps([options, row["hardware"]], sort_keys=True)


def hardware_measured_on(rows: list[dict[str, Any]], options: dict[str, Any]) -> list[dict[str, Any]]:
    """The hardware of each of these measurement rows whose call had these options."""
    return [row["hardware"] for row in rows if row["config"].get("options") == options]


def task_of(row: dict[str, Any]) -> Any:
    return (row["config"].get("options") or {}).get("task")


def newest_setup(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task the measurement ran on (several probes stand side by side), the rows of the newest call's set-up,
    and of each model only its newest call there (which may have run more seeds than the others'); tasks in the
    order they first ran, each one's rows in an order that rests on the rows alone, so a store and one loaded from
    its export judge alike."""
    kept = []
    for task in dict.fromkeys(task_of(row) for row in rows):
        mine = [row for row in rows if task_of(row) == task]
        chosen = [row for row in mine if setup(row) == setup(mine[-1])]
        newest = {row["model"]: row["created_at"] for row in chosen}
        kept += sorted((row for row in chosen if newest[row["model"]] == row["created_at"]), key=content_order)
    return kept


def content_order(row: dict[str, Any]) -> tuple[str, str, str]:
    """Oldest first, and within one call by model and values, not by the order the rows were stored in."""
    return row["created_at"], row["model"], json.dumps({name: value for name, value in row.items() if name != "id"},
                                                       sort_keys=True)


def budget_text(rows: list[dict[str, Any]]) -> str:
    """The budget of one measurement's rows: models, the options that size each task's call (probes run side by
    side are joined by " + "), device, dtype, date."""
    if not rows:
        return ""
    # each task's newest call, in the order the tasks first ran
    calls = {task_of(row): row for row in rows}
    options = rows[-1]["config"].get("options") or {}
    train = options.get("train") or {}
    device = rows[-1]["hardware"].get("gpu") or rows[-1]["hardware"].get("device", "?")
    dates = sorted({row["created_at"][:10] for row in rows})
    return "; ".join([f"models {', '.join(sorted({row['model'] for row in rows}))}",
                      " + ".join(sizing(call["config"].get("options") or {},
                                        seeds_text([row for row in rows if task_of(row) == task]))
                                 for task, call in calls.items()),
                      f"device {device}", f"dtype {options.get('dtype', train.get('dtype', 'float32'))}",
                      f"date {dates[0]}" + (f" to {dates[-1]}" if len(dates) > 1 else "")])


def sizing(options: dict[str, Any], seeds: str) -> str:
    """The options that size one call, its seeds as `seeds` words them, and its training steps."""
    parts = [seeds if name == "seeds" else f"{name} {value}" for name in BUDGET_OPTIONS
             if (value := options.get(name)) not in (None, [], {})]
    train = options.get("train") or {}
    if train:
        parts.append(f"{train.get('steps')} steps x batch {train.get('batch_size')}")
    return "; ".join(parts)


def seeds_text(rows: list[dict[str, Any]]) -> str:
    """The seeds of one task's rows: "seeds 0-5", or, where some models ran more, each set with its models."""
    models_by_seeds: dict[tuple[int, ...], set[str]] = {}
    for row in rows:
        seeds = tuple((row["config"].get("options") or {}).get("seeds") or ())
        models_by_seeds.setdefault(seeds, set()).add(row["model"])
    if len(models_by_seeds) == 1:
        return f"seeds {span(next(iter(models_by_seeds)))}"
    return "seeds " + "; ".join(f"{span(seeds)} for {', '.join(sorted(models))}"
                                for seeds, models in sorted(models_by_seeds.items(), key=lambda item: -len(item[0])))


def span(seeds: tuple[int, ...]) -> str:
    """Seeds as written in a budget: "0-59" for a consecutive run, else the list."""
    consecutive = len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[0] + len(seeds)))
    return f"{seeds[0]}-{seeds[-1]}" if consecutive else str(list(seeds))

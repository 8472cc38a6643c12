"""A peer check (issue 33 item 3): seqarena's line-up and NeuralForecast's LSTM, GRU and VanillaTransformer trained
in one call on the same forecasting tasks, with the same split, window, horizon, standardisation, step budget,
learning-rate grid and seeds, each scored on the same test windows. Prints one JSON line per peer run and, per model
and task, the test MSE at the learning rate chosen on validation with its 95% t-interval over seeds (seqarena's
line-up through `seqarena.compare`, its plain split). NeuralForecast is not a seqarena dependency: install it beside
seqarena, pinning torch,

    python -m venv peers && peers/bin/pip install torch==2.13.0 neuralforecast -e .
    OMP_NUM_THREADS=1 peers/bin/python benchmarks/peers.py --tasks co2 > benchmarks/results/peers-co2-cpu-2core.jsonl

The shared protocol is the reference job's leaderboard (jobs.py, REFERENCE_CONVERGED_TRAIN, CPU_LRS and
REFERENCE_DECIDING_SEEDS): up to 1,500 steps of batch 32 windows, a validation check every 50 steps and early stopping
after 4 without improvement, MSE as the training loss, learning rates {3e-3, 1e-2} chosen on validation, seeds 0-5.
The series is seqarena's standardised one (training-period statistics), so a test MSE here is on seqarena's scale.
Each peer keeps NeuralForecast's own defaults otherwise (its width, its window scaler), as a practitioner would run
it. On a multivariate file (us_macro) seqarena's models read every column; NeuralForecast's LSTM and GRU get the other
columns as past covariates (hist_exog_list), its VanillaTransformer, which takes none, the target alone."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from seqarena.catalog import LINE_UP
from seqarena.errors import ConfigError
from seqarena.jobs import CPU_LRS, REFERENCE_CONVERGED_TRAIN, REFERENCE_DECIDING_SEEDS
from seqarena.tasks import load_task

PEERS = ("LSTM", "GRU", "VanillaTransformer")
PAST_COVARIATES = ("LSTM", "GRU")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# a data file as a task: the loader and its options (README's us_macro comparison: unemployment, 4 quarters from 16)
FILE_TASKS = {"us_macro": ("csv", {"path": str(EXAMPLES / "us_macro.csv"), "targets": "unemp", "window": 16,
                                   "horizon": 4})}


def task_of(name: str) -> tuple[str, dict]:
    return FILE_TASKS.get(name, (name, {}))


def frame(series: np.ndarray, target: int) -> pd.DataFrame:
    """NeuralForecast's long format: one series, integer time steps, the target as y and every other column as a
    candidate past covariate x0, x1, ..."""
    columns = {"unique_id": "series", "ds": np.arange(len(series)), "y": series[:, target].astype(float)}
    others = [index for index in range(series.shape[1]) if index != target]
    columns |= {f"x{position}": series[:, index].astype(float) for position, index in enumerate(others)}
    return pd.DataFrame(columns)


def peer(name: str, window: int, horizon: int, lr: float, seed: int, covariates: list[str]):
    from neuralforecast import models
    from neuralforecast.losses.pytorch import MSE

    # batch_size counts series (there is one); windows_batch_size is what seqarena's batch of 32 windows is
    settings = {"h": horizon, "input_size": window, "max_steps": REFERENCE_CONVERGED_TRAIN["steps"],
                "batch_size": 1, "windows_batch_size": REFERENCE_CONVERGED_TRAIN["batch_size"],
                "learning_rate": lr, "random_seed": seed,
                "val_check_steps": REFERENCE_CONVERGED_TRAIN["eval_every"],
                "early_stop_patience_steps": REFERENCE_CONVERGED_TRAIN["patience"], "loss": MSE(),
                "valid_loss": MSE(), "enable_progress_bar": False, "logger": False,
                "enable_model_summary": False, "accelerator": "cpu"}
    if name in PAST_COVARIATES and covariates:
        settings["hist_exog_list"] = covariates
    return getattr(models, name)(**settings)


def run(name: str, task_name: str, lr: float, seed: int) -> dict:
    """One peer fitted on the training period (validation period for early stopping), forecasting every test
    window from its origin without refitting (NeuralForecast's cross_validation, step 1)."""
    from neuralforecast import NeuralForecast

    loader, options = task_of(task_name)
    task = load_task(loader, **options)
    history = task.history
    series, train_end, val_end = history.series[0], history.train_ends[0], history.val_ends[0]
    target, horizon = history.targets[0], history.horizon
    data = frame(series, target)
    covariates = [column for column in data.columns if column.startswith("x")]
    windows = len(series) - val_end - horizon + 1
    model = peer(name, task.spec.seq_len, horizon, lr, seed, covariates)
    columns = ["unique_id", "ds", "y", *(covariates if name in PAST_COVARIATES else [])]
    forecaster = NeuralForecast(models=[model], freq=1)
    started = time.perf_counter()
    result = forecaster.cross_validation(data[columns], n_windows=windows, step_size=1, val_size=val_end - train_end,
                                         refit=False)
    seconds = time.perf_counter() - started
    errors = (result[name].to_numpy() - result["y"].to_numpy()) ** 2
    fitted = forecaster.models[0]
    # (step, loss) at each validation check and training log: the best validation loss, and the last step trained
    validation = min((float(loss) for _, loss in fitted.valid_trajectories), default=math.nan)
    steps = max((int(step) for step, _ in fitted.train_trajectories), default=0)
    return {"kind": "run", "peer": f"neuralforecast.{name}", "task": task_name, "lr": lr, "seed": seed,
            "val_loss": validation, "test_mse": float(errors.mean()), "test_windows": windows, "steps": steps,
            "seconds": round(seconds, 1)}


def interval(scores: list[float]) -> tuple[float, list[float]]:
    """The mean and its 95% t-interval over seeds."""
    from scipy import stats

    mean = float(np.mean(scores))
    half = (float(stats.t.ppf(0.975, len(scores) - 1) * np.std(scores, ddof=1) / math.sqrt(len(scores)))
            if len(scores) > 1 else math.nan)
    return mean, [mean - half, mean + half]


def summary(rows: list[dict]) -> list[dict]:
    """Per peer and task: the learning rate with the best mean validation loss, and its test MSE over seeds."""
    found = []
    for peer_name, task in dict.fromkeys((row["peer"], row["task"]) for row in rows):
        mine = [row for row in rows if row["peer"] == peer_name and row["task"] == task]
        lrs = sorted({row["lr"] for row in mine})
        chosen = min(lrs, key=lambda lr: np.mean([row["val_loss"] for row in mine if row["lr"] == lr]))
        scores = [row["test_mse"] for row in mine if row["lr"] == chosen]
        mean, bounds = interval(scores)
        found.append({"kind": "summary", "peer": peer_name, "task": task, "lr": chosen, "seeds": len(scores),
                      "test_mse": mean, "test_mse_95ci": bounds,
                      "steps_mean": float(np.mean([row["steps"] for row in mine if row["lr"] == chosen]))})
    return found


def line_up(task_name: str, seeds: list[int], lrs: list[float], store: Path) -> list[dict]:
    """seqarena's line-up on the task's plain split under the same protocol, one summary row per model."""
    import seqarena

    loader, options = task_of(task_name)
    given = {"data": options["path"], "task_options": {k: v for k, v in options.items() if k != "path"}} if (
        task_name in FILE_TASKS) else {"task": loader}
    result = seqarena.compare(**given, models=list(LINE_UP), seeds=seeds, lrs=lrs, train=REFERENCE_CONVERGED_TRAIN,
                              folds=1, store=store, workers=1)
    rows = [{"kind": "summary", "peer": f"seqarena.{row.model}", "task": task_name, "lr": row.lr,
             "seeds": int(row.seeds), "test_mse": row.test_mean, "test_mse_95ci": [row.test_low, row.test_high]}
            for row in result.leaderboard.itertuples()]
    spec = load_task(loader, **options).spec
    rows += [{"kind": "reference", "peer": f"{kind}: {name}", "task": task_name, "test_mse": score}
             for kind, name, score in (("chance", spec.chance_name, result.chance),
                                       ("baseline", spec.baseline_name, result.baseline))]
    if result.references is not None:
        rows += [{"kind": "reference", "peer": reference.name, "task": task_name, "test_mse": reference.score,
                  "fit_seconds": reference.fit_seconds} for reference in result.references.itertuples()]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["sunspots", "co2", "us_macro"])
    parser.add_argument("--peers", nargs="*", default=list(PEERS), choices=PEERS,
                        help="none: seqarena's line-up alone (its runs reused from --store)")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(REFERENCE_DECIDING_SEEDS))
    parser.add_argument("--lrs", nargs="+", type=float, default=list(CPU_LRS))
    parser.add_argument("--store", type=Path, default=Path("results/peers.sqlite"),
                        help="seqarena's store for its line-up (runs already there are reused)")
    arguments = parser.parse_args()
    for task in arguments.tasks:
        loader, options = task_of(task)
        try:
            history = load_task(loader, **options).history
        except ConfigError as error:
            parser.error(str(error))
        if history is None:
            parser.error(f"task '{task}' is not a forecast: the peers forecast what follows a series")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning_fabric").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    import neuralforecast
    import torch

    print(json.dumps({"kind": "versions", "neuralforecast": neuralforecast.__version__, "torch": torch.__version__,
                      "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                      "protocol": REFERENCE_CONVERGED_TRAIN, "seeds": arguments.seeds, "lrs": arguments.lrs}),
          flush=True)
    for task in arguments.tasks:
        rows = []
        for name in arguments.peers:
            for lr in arguments.lrs:
                for seed in arguments.seeds:
                    rows.append(run(name, task, lr, seed))
                    print(json.dumps(rows[-1]), flush=True)
        for row in [*summary(rows), *line_up(task, arguments.seeds, arguments.lrs, arguments.store)]:
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

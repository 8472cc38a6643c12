"""One model: train it, predict with it, generate from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from seqarena.cli.app import app, console, parse_options
from seqarena.cli.display import TrainingBar
from seqarena.cli.options import Settings, with_settings
from seqarena.cli.tables import format_score, results_table, rows_table, write_predictions, write_rows
from seqarena.config import LOCATIONS, default, validated
from seqarena.distributed import leave, world_from_environment
from seqarena.engine.run import execute
from seqarena.errors import ConfigError
from seqarena.pretraining import Pretrained, pretrain_and_save
from seqarena.results.store import ResultStore
from seqarena.saved import TrainedModel
from seqarena.settings import ModelConfig, PretrainConfig, RunConfig, TrainConfig
from seqarena.tasks import load_task, resolve_task, score
from seqarena.tasks.uncertainty import COVERAGE

MODEL = Settings("model", ModelConfig, flags={"mixer": "model", "n_layers": "layers", "options": "option"})
TRAINING = Settings("train", TrainConfig)
# the run's own fields beside its model and training: the task, its options and the backbone have options of their
# own; a parameter budget is what sweeps size the width to (here --d-model sets it)
RUN = Settings("run", RunConfig, leave_out=("task", "task_options", "model", "train", "pretrain", "init",
                                            "param_budget"))
SELF_PRETRAINING = Settings("pretrain", PretrainConfig, leave_out=("corpus_options",),
                            flags={"objective": "pretrain", "steps": "pretrain_steps", "corpus": "pretrain_corpus",
                                   "mask_ratio": "pretrain_mask_ratio", "mean_span": "pretrain_mean_span"})


@app.command()
@with_settings(MODEL, TRAINING, RUN, SELF_PRETRAINING)
def train(
    task: str | None = typer.Option(None, help="task name (see `seqarena tasks`)"),
    data: Path | None = typer.Option(None, help="your own data instead of a task: .csv/.parquet table (time "
                                        "series to forecast; id + label columns: labelled sequences; text + label "
                                        "columns: text classification), .txt text to model, .npz labelled sequences"),
    task_option: list[str] = typer.Option([], help="task option KEY=VALUE, e.g. length=200, or for --data: "
                                                   "window=96, horizon=24, targets=load,temp, time_column=date, "
                                                   "season=24, label_column=..., id_column=..., max_bytes=512"),
    init: Path | None = typer.Option(None, help="start from a backbone saved by `seqarena pretrain --save`: the "
                                                "model is that backbone's, with a fresh head for this task"),
    store: Path = typer.Option(LOCATIONS.store, help="SQLite results store"),
    checkpoints: Path | None = typer.Option(None, help="checkpoint into this folder (DIR/KEY) every evaluation; "
                                                       "the same command run again resumes from there"),
    save: Path | None = typer.Option(None, help="save the trained model to this folder (safetensors + model.json), "
                                                "for `seqarena predict` and `seqarena generate`"),
    as_json: bool = typer.Option(False, "--json", help="print the result as one JSON line"),
    settings: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Train one model on one task (or your --data file), score it on the test split and record the run. Every
    model and training setting is an option (`--help` lists them with their defaults). Under `torchrun
    --nproc_per_node N` it trains with DistributedDataParallel; rank 0 records the run."""
    task, task_options = resolve_task(task, data, parse_options(task_option, "task option"),
                                      "--task NAME or --data FILE")
    model_settings, training = settings["model"], settings["train"]
    if "mixer" not in model_settings and init is None:
        raise ConfigError("give --model NAME, or --init DIR to start from a pretrained backbone")
    if data is not None:
        if not as_json:
            console.print(f"{data}: {load_task(task, **task_options).spec.description}")
    config = validated(RunConfig, {"task": task, "task_options": task_options,
                                   "model": model_settings if init is None else backbone_settings(init,
                                                                                                  model_settings),
                                   "init": None if init is None else str(init.resolve()), "train": training,
                                   "pretrain": settings["pretrain"] or None, **settings["run"]}, "settings")
    world = world_from_environment()
    try:
        with TrainingBar(f"{config.model.mixer} on {config.task}", config.train.steps) as bar:
            record = execute(config, ResultStore(store), checkpoint_root=checkpoints, on_step=bar.on_step,
                             save_to=save)
    finally:
        leave()
    if world is not None and not world.leader:
        return
    if as_json:
        print(json.dumps({name: value for name, value in record.to_row().items() if name != "history"},
                         sort_keys=True), flush=True)
        return
    console.print(results_table([record], f"run {record.id} in {store}"))
    if record.saved_to is not None:
        console.print(f"model saved to {record.saved_to}")


def backbone_settings(folder: Path, chosen: dict[str, Any]) -> dict[str, Any]:
    """The model settings of a pretrained backbone; a setting given on the command line must agree with them."""
    saved = Pretrained.load(folder).model.model_dump()
    flags = {"mixer": "--model", "d_model": "--d-model", "n_layers": "--layers", "positional": "--positional",
             "causal": "--causal/--bidirectional", "options": "--option"}
    for name, value in chosen.items():
        if value != saved[name]:
            raise ConfigError(f"{flags[name]} {value} differs from the backbone in {folder} ({name} {saved[name]}); "
                              "leave it out to train that backbone")
    return saved


@app.command(name="pretrain")
@with_settings(MODEL, Settings("pretrain", PretrainConfig, leave_out=("corpus", "corpus_options")),
               Settings("train", TrainConfig, leave_out=("steps",)))
def pretrain_command(
    task: str | None = typer.Option(None, help="pretrain on this task's training inputs (see `seqarena tasks`)"),
    data: Path | None = typer.Option(None, help="or on your own file's training inputs (e.g. a .txt corpus; "
                                                "--task-option alphabet=bytes fits byte-level text tasks)"),
    task_option: list[str] = typer.Option([], help="task option KEY=VALUE, e.g. split=chapters, alphabet=bytes"),
    save: Path = typer.Option(..., help="folder for the backbone (safetensors + pretrained.json), for "
                                        "`seqarena train --init`"),
    settings: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Pretrain a model's backbone on inputs alone (never validation or test data) and save it; `seqarena train
    --init DIR` then fine-tunes it with a fresh head on any task whose inputs it fits. The next objective makes the
    model causal unless told otherwise; the training settings (learning rate, batch, schedule) are the run's."""
    task, task_options = resolve_task(task, data, parse_options(task_option, "task option"),
                                      "--task NAME or --data FILE")
    if "mixer" not in settings["model"]:
        raise ConfigError("give --model NAME")
    pretraining = validated(PretrainConfig, settings["pretrain"], "pretraining settings")
    model_config = validated(ModelConfig, settings["model"], "model settings")
    training = validated(TrainConfig, {**settings["train"], "steps": pretraining.steps}, "training settings")
    model, objective, steps = model_config.mixer, pretraining.objective, pretraining.steps
    with TrainingBar(f"pretraining {model} on {task}", steps) as bar:
        pretrained, result = pretrain_and_save(task, task_options, model_config, pretraining, training, save,
                                               bar.on_step)
    about = pretrained.about
    state = "diverged; the last finite weights were saved" if result.diverged else "finished"
    console.print(f"{model} ({'causal' if pretrained.model.causal else 'bidirectional'}, d_model "
                  f"{pretrained.model.d_model}, {pretrained.model.n_layers} layers) pretrained with the {objective} "
                  f"objective for {result.steps} steps ({state}) on {about['sequences']:,} training sequences of "
                  f"{about['sequence_length']} steps from {task}: held-out objective {about['pretrain_loss']:.4f} "
                  f"({'cross-entropy, nats' if pretrained.input_kind == 'tokens' else 'mean squared error'}) in "
                  f"{result.train_seconds:.0f} s; saved to {save}")


@app.command()
def predict(
    model: Path = typer.Argument(..., help="a folder written by `seqarena train --save`"),
    split: str = typer.Option("test", help="which split of the model's task to predict: train, val or test"),
    out: Path | None = typer.Option(None, help="write one CSV row per sequence (index, prediction, truth): class "
                                               "names, or values in the task's units (forecasts: standardised, "
                                               "relative to each window's last value)"),
    data: Path | None = typer.Option(None, help="a new file shaped like the training file: forecasting models "
                                                "forecast the steps after its last row (in the columns' own units); "
                                                "models trained on your labelled file predict each of its sequences"),
    device: str = typer.Option(default(TrainConfig, "device"), help="torch device, e.g. cpu or cuda"),
    coverage: float = typer.Option(COVERAGE, help="with --data: forecasts and regression get split-conformal "
                                                  "intervals covering this share of values (lower and upper "
                                                  "columns)"),
) -> None:
    """Load a saved model, predict one split of the task it was trained on (re-read with the same options, your
    --data file included) and print its score; `--out` writes the predictions. A forecasting model given --data
    forecasts what follows that file instead, with intervals; a classifier gives each class's probability."""
    if split not in ("train", "val", "test"):
        raise ConfigError(f"unknown split {split!r}; choose train, val or test")
    trained = TrainedModel.load(model, device)
    if data is not None and (trained.scaling is not None or trained.panel_scaling is not None):
        header, rows, length = trained.forecast_file(data, coverage)
        horizon = (trained.scaling or trained.panel_scaling).horizon
        console.print(f"forecast of the {horizon} steps after the last row ({length} rows in {data}), with "
                      f"{coverage:.0%} split-conformal intervals")
        console.print(rows_table(header, rows))
        if out is not None:
            write_rows(out, header, rows)
            console.print(f"forecast written to {out}")
        return
    if data is not None:
        header, rows = trained.predict_file(data, coverage)
        console.print(f"{trained.config.model.mixer} on {len(rows)} sequences of {data}")
        console.print(rows_table(header, rows))
        if out is not None:
            write_rows(out, header, rows)
            console.print(f"predictions written to {out}")
        return
    if out is not None and trained.spec.kind == "lm":
        raise ConfigError("a language model predicts every position; use `seqarena generate` to sample text")
    task, outputs = trained.split_outputs(split)
    chosen = task.split(split)
    value = score(task.spec.metric, outputs, chosen.y, chosen.mask)
    console.print(f"{trained.config.model.mixer} on {trained.config.task}, {split} split: {len(chosen)} sequences, "
                  f"{task.spec.metric} {format_score(value)} (chance {format_score(task.spec.chance)}, "
                  f"{task.spec.baseline_name} {format_score(task.spec.baseline)})")
    if out is not None:
        write_predictions(out, trained, trained.decode(outputs), chosen.y)
        console.print(f"predictions written to {out}")


@app.command()
def generate(
    model: Path = typer.Argument(..., help="a language model saved by `seqarena train --save`"),
    prompt: str = typer.Option(..., help="text to continue"),
    tokens: int = typer.Option(200, min=1, help="characters to generate"),
    temperature: float = typer.Option(0.8, min=0.0, help="sampling temperature (0: the most likely character)"),
    top_k: int | None = typer.Option(None, min=1, help="sample among the k most likely characters"),
    seed: int = typer.Option(0, help="sampling seed"),
    device: str = typer.Option(default(TrainConfig, "device"), help="torch device, e.g. cpu or cuda"),
) -> None:
    """Continue a prompt with a saved character-level language model, streaming through its step()."""
    trained = TrainedModel.load(model, device)
    print(prompt + trained.generate(prompt, tokens, temperature, top_k, seed))

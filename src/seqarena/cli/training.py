"""One model: train it, predict with it, generate from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from seqarena.cli.app import app, console, given, parse_options
from seqarena.cli.display import TrainingBar
from seqarena.cli.views import format_score, results_table, rows_table, write_predictions, write_rows
from seqarena.config import LOCATIONS, default, validated
from seqarena.distributed import leave, world_from_environment
from seqarena.engine.run import execute, pretrain_and_save
from seqarena.errors import ConfigError
from seqarena.pretraining import Pretrained
from seqarena.results.store import ResultStore
from seqarena.saved import TrainedModel
from seqarena.settings import ModelConfig, PretrainConfig, RunConfig, TrainConfig
from seqarena.tasks import data_task, score
from seqarena.tasks.uncertainty import COVERAGE


@app.command()
def train(
    model: str | None = typer.Option(None, help="model name (see `seqarena models`); with --init, the backbone's"),
    task: str | None = typer.Option(None, help="task name (see `seqarena tasks`)"),
    data: Path | None = typer.Option(None, help="your own data instead of a task: .csv/.parquet table (time "
                                        "series to forecast; id + label columns: labelled sequences; text + label "
                                        "columns: text classification), .txt text to model, .npz labelled sequences"),
    seed: int = typer.Option(0, help="seed for weights, data order and dropout"),
    steps: int = typer.Option(default(TrainConfig, "steps"), help="optimiser steps"),
    batch_size: int = typer.Option(default(TrainConfig, "batch_size"), help="sequences per step"),
    lr: float = typer.Option(default(TrainConfig, "lr"), help="peak learning rate"),
    d_model: int | None = typer.Option(None, help=f"model width (default {default(ModelConfig, 'd_model')})"),
    layers: int | None = typer.Option(None, help=f"number of blocks (default {default(ModelConfig, 'n_layers')})"),
    positional: str | None = typer.Option(None, help="sinusoidal, learned, rope, alibi or none"),
    causal: bool | None = typer.Option(None, "--causal/--bidirectional", help="force causal or bidirectional"),
    option: list[str] = typer.Option([], help="mixer option KEY=VALUE, e.g. n_heads=8, attention=naive, impl=cell"),
    task_option: list[str] = typer.Option([], help="task option KEY=VALUE, e.g. length=200, or for --data: "
                                                   "window=96, horizon=24, targets=load,temp, time_column=date, "
                                                   "season=24, label_column=..., id_column=..., max_bytes=512"),
    init: Path | None = typer.Option(None, help="start from a backbone saved by `seqarena pretrain --save`: the "
                                                "model is that backbone's, with a fresh head for this task"),
    eval_every: int = typer.Option(default(TrainConfig, "eval_every"), help="steps between validations"),
    patience: int | None = typer.Option(None, help="stop after this many validations without improvement"),
    device: str = typer.Option("cpu", help="torch device, e.g. cpu or cuda"),
    precision: str | None = typer.Option(None, help="bf16: the forward pass under bfloat16 autocast (weights and "
                                                    "optimiser state stay float32); default float32"),
    store: Path = typer.Option(LOCATIONS.store, help="SQLite results store"),
    checkpoints: Path | None = typer.Option(None, help="checkpoint into this folder (DIR/KEY) every evaluation; "
                                                       "the same command run again resumes from there"),
    save: Path | None = typer.Option(None, help="save the trained model to this folder (safetensors + model.json), "
                                                "for `seqarena predict` and `seqarena generate`"),
    as_json: bool = typer.Option(False, "--json", help="print the result as one JSON line"),
) -> None:
    """Train one model on one task (or your --data file), score it on the test split and record the run.
    Under `torchrun --nproc_per_node N` it trains with DistributedDataParallel; rank 0 records the run."""
    if (task is None) == (data is None):
        raise ConfigError("give exactly one of --task NAME or --data FILE")
    if model is None and init is None:
        raise ConfigError("give --model NAME, or --init DIR to start from a pretrained backbone")
    task_options = parse_options(task_option, "task option")
    if data is not None:
        task, task_options = data_task(str(data)), {**task_options, "path": str(data.resolve())}
    model_settings = given({"mixer": model, "d_model": d_model, "n_layers": layers, "positional": positional,
                            "causal": causal, "options": parse_options(option, "option")})
    settings = {"task": task, "task_options": task_options,
                "model": model_settings if init is None else backbone_settings(init, model_settings),
                "init": None if init is None else str(init.resolve()),
                "train": {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed, "eval_every": eval_every,
                          "patience": patience, "device": device, "precision": precision}}
    config = validated(RunConfig, settings, "settings")
    world = world_from_environment()
    try:
        with TrainingBar(f"{config.model.mixer} on {config.task}", steps) as bar:
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
def pretrain_command(
    model: str = typer.Option(..., help="model name (see `seqarena models`)"),
    task: str | None = typer.Option(None, help="pretrain on this task's training inputs (see `seqarena tasks`)"),
    data: Path | None = typer.Option(None, help="or on your own file's training inputs (e.g. a .txt corpus; "
                                                "--task-option alphabet=bytes fits byte-level text tasks)"),
    objective: str = typer.Option(..., help="next: predict each next token or frame (GPT-style, causal model); "
                                            "masked: reconstruct masked spans (BERT/T5-style)"),
    steps: int = typer.Option(default(TrainConfig, "steps"), help="pretraining steps"),
    batch_size: int = typer.Option(default(TrainConfig, "batch_size"), help="sequences per step"),
    lr: float = typer.Option(default(TrainConfig, "lr"), help="peak learning rate"),
    seed: int = typer.Option(0, help="seed for weights, data order and masks"),
    d_model: int = typer.Option(default(ModelConfig, "d_model"), help="model width"),
    layers: int = typer.Option(default(ModelConfig, "n_layers"), help="number of blocks"),
    positional: str | None = typer.Option(None, help="sinusoidal, learned, rope, alibi or none"),
    causal: bool | None = typer.Option(None, "--causal/--bidirectional",
                                       help="force causal or bidirectional (next: causal unless told)"),
    option: list[str] = typer.Option([], help="mixer option KEY=VALUE"),
    task_option: list[str] = typer.Option([], help="task option KEY=VALUE, e.g. split=chapters, alphabet=bytes"),
    mask_ratio: float = typer.Option(default(PretrainConfig, "mask_ratio"), help="masked: share of positions hidden"),
    mean_span: int = typer.Option(default(PretrainConfig, "mean_span"), help="masked: positions per hidden span"),
    device: str = typer.Option("cpu", help="torch device, e.g. cpu or cuda"),
    save: Path = typer.Option(..., help="folder for the backbone (safetensors + pretrained.json), for "
                                        "`seqarena train --init`"),
) -> None:
    """Pretrain a model's backbone on inputs alone (never validation or test data) and save it; `seqarena train
    --init DIR` then fine-tunes it with a fresh head on any task whose inputs it fits."""
    if (task is None) == (data is None):
        raise ConfigError("give exactly one of --task NAME or --data FILE")
    task_options = parse_options(task_option, "task option")
    if data is not None:
        task, task_options = data_task(str(data)), {**task_options, "path": str(data.resolve())}
    settings = validated(PretrainConfig, {"objective": objective, "steps": steps, "mask_ratio": mask_ratio,
                                          "mean_span": mean_span}, "pretraining settings")
    model_config = validated(ModelConfig, {"mixer": model, "d_model": d_model, "n_layers": layers,
                                           "positional": positional, "causal": causal,
                                           "options": parse_options(option, "option")}, "model settings")
    training = validated(TrainConfig, {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed,
                                       "device": device}, "training settings")
    with TrainingBar(f"pretraining {model} on {task}", steps) as bar:
        pretrained, result = pretrain_and_save(task, task_options, model_config, settings, training, save,
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
    device: str = typer.Option("cpu", help="torch device, e.g. cpu or cuda"),
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
    device: str = typer.Option("cpu", help="torch device, e.g. cpu or cuda"),
) -> None:
    """Continue a prompt with a saved character-level language model, streaming through its step()."""
    trained = TrainedModel.load(model, device)
    print(prompt + trained.generate(prompt, tokens, temperature, top_k, seed))

"""A trained model on disk, and its use: weights as safetensors beside `model.json` (the run's settings, the task's
spec, its vocabulary and class names), loaded without pickle, so a saved folder is safe to receive. `predict`
works on the inputs the task feeds its models; `predict_split` re-reads the task the model was trained on;
`forecast` reads new raw rows of a time series through the training period's scaling; `generate` continues a text
prompt with a language model."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor

from seqarena.checkpoint import save_folder
from seqarena.errors import ConfigError, DataError, describe_validation
from seqarena.models import build_model
from seqarena.models.blocks import SequenceModel
from seqarena.settings import RunConfig
from seqarena.spec import TaskSpec
from seqarena.tasks import load_task
from seqarena.tasks.base import PanelScaling, SeriesScaling, Task
from seqarena.tasks.reading import TABLE_READING_OPTIONS, FeatureScaling, FileReading
from seqarena.tasks.tables import read_table
from seqarena.tasks.timeline import timelines_of
from seqarena.tasks.uncertainty import COVERAGE, half_widths, with_bounds
from seqarena.tasks.user import TIME_COLUMNS, read_new, sequences_by_id

WEIGHTS, SETTINGS = "model.safetensors", "model.json"
FORMAT = 1


@dataclass
class TrainedModel:
    model: SequenceModel
    config: RunConfig
    spec: TaskSpec
    vocabulary: tuple[str, ...] | None = None
    classes: tuple[str, ...] | None = None
    scaling: SeriesScaling | None = None
    feature_scaling: FeatureScaling | None = None
    reading: FileReading | None = None
    panel_scaling: PanelScaling | None = None
    # forecasts and regression: each output's absolute validation residuals, sorted (outputs x sequences), from which
    # predictions get split-conformal intervals at any coverage (seqarena.tasks.uncertainty)
    residuals: tuple[tuple[float, ...], ...] | None = None

    @classmethod
    def of(cls, model: SequenceModel, config: RunConfig, task: Task, device: str = "cpu") -> TrainedModel:
        residuals = None
        if task.spec.kind == "regress":
            output = task.outputs(model, "val", device=device)[0]
            residuals = tuple(map(tuple, (output - task.val.y.view_as(output)).abs().sort(0).values.T.tolist()))
        return cls(model, config, task.spec, task.vocabulary, task.classes, task.scaling, task.feature_scaling,
                   task.reading, task.panel_scaling, residuals)

    def save(self, folder: Path) -> Path:
        """Write into a temporary folder beside `folder`, then rename it into place: a crash leaves the old save
        or the new one, never half of one."""
        weights = {name: tensor.detach().cpu().contiguous() for name, tensor in self.model.state_dict().items()}
        settings = {"format": FORMAT, "run": self.config.model_dump(mode="json"), "spec": asdict(self.spec),
                    "vocabulary": self.vocabulary, "classes": self.classes, "residuals": self.residuals,
                    **{name: None if getattr(self, name) is None else asdict(getattr(self, name))
                       for name in SAVED_READINGS}}
        return save_folder(folder, (WEIGHTS, weights), (SETTINGS, settings))

    @classmethod
    def load(cls, folder: Path, device: str = "cpu") -> TrainedModel:
        folder = Path(folder)
        try:
            settings = json.loads((folder / SETTINGS).read_text())
        except FileNotFoundError:
            raise DataError(f"{folder} is not a saved model: it has no {SETTINGS}") from None
        except json.JSONDecodeError as error:
            raise DataError(f"{folder / SETTINGS} is not valid JSON: {error}") from None
        if settings.get("format") != FORMAT:
            raise DataError(f"{folder / SETTINGS}: format {settings.get('format')!r}, this seqarena reads {FORMAT}")
        try:
            spec = task_spec(settings["spec"])
            config = RunConfig(**settings["run"])
            readings = {name: restored(kind, settings.get(name)) for name, kind in SAVED_READINGS.items()}
        except KeyError as error:
            raise DataError(f"{folder / SETTINGS}: missing field {error.args[0]!r}") from None
        except ValidationError as error:
            raise DataError(f"{folder / SETTINGS}: {describe_validation(error, 'run')}") from None
        except TypeError as error:
            raise DataError(f"{folder / SETTINGS}: {error}") from None
        model = build_model(spec, config.model)
        try:
            model.load_state_dict(load_file(folder / WEIGHTS))
        except (SafetensorError, FileNotFoundError, OSError) as error:
            raise DataError(f"{folder / WEIGHTS} is not a readable safetensors file: {error}") from None
        except RuntimeError as error:
            raise DataError(f"{folder / WEIGHTS} does not fit the model {SETTINGS} describes: "
                            f"{str(error).splitlines()[1].strip()}") from None
        vocabulary, classes = settings.get("vocabulary"), settings.get("classes")
        residuals = settings.get("residuals")
        return cls(model.to(device).eval(), config, spec, vocabulary and tuple(vocabulary),
                   classes and tuple(classes), **readings,
                   residuals=residuals and tuple(map(tuple, residuals)))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def outputs(self, x: Tensor, mask: Tensor | None = None, batch_size: int = 256) -> Tensor:
        """The head's outputs for x (N, T) tokens or (N, T, C) features: class logits (N, K), targets (N, K) or
        next-token logits (N, T, V)."""
        self.check_inputs(x)
        self.model.eval()
        chunks = []
        for start in range(0, x.shape[0], batch_size):
            part_mask = None if mask is None else mask[start:start + batch_size].to(self.device)
            chunks.append(self.model.predict(x[start:start + batch_size].to(self.device), part_mask).cpu())
        return torch.cat(chunks)

    def predict(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Class ids (N,) for classification, values (N, K) for regression and forecasts, the most likely next
        token (N, T) for language models."""
        return self.decode(self.outputs(x, mask))

    def decode(self, outputs: Tensor) -> Tensor:
        return outputs if self.spec.kind == "regress" else outputs.argmax(-1)

    def half_widths(self, coverage: float) -> Tensor:
        """Each output's split-conformal half-width at this coverage (in the units the model predicts in)."""
        if self.residuals is None:
            raise ConfigError("this saved model has no validation residuals (saved by an older seqarena, or not a "
                              "forecast or regression model): save it again to get intervals")
        if not 0 < coverage < 1:
            raise ConfigError(f"coverage must be between 0 and 1 (e.g. 0.9), got {coverage}")
        return half_widths(torch.tensor(self.residuals).T, coverage)

    def class_names(self, ids: Tensor) -> list[str]:
        names = self.classes or tuple(str(i) for i in range(self.spec.n_outputs))
        return [names[i] for i in ids.tolist()]

    def predict_split(self, split: str = "test") -> tuple[Task, Tensor]:
        """Rebuild the task the model was trained on (same options, so the same split) and predict one split."""
        task, outputs = self.split_outputs(split)
        return task, self.decode(outputs)

    def split_outputs(self, split: str) -> tuple[Task, Tensor]:
        task = load_task(self.config.task, **self.config.task_options)
        data = task.split(split)
        return task, self.outputs(data.x, data.mask)

    def forecast(self, values: np.ndarray, series_id: str | None = None) -> np.ndarray:
        """The next `horizon` steps (horizon, K) of the target columns, in their own units, from raw rows (T, C)
        of the columns the model was trained on (T >= its window; the last window rows are used); a model trained
        on many series forecasts the one named `series_id`, with that series' scaling."""
        scaling = self.series_scaling(series_id)
        window, columns = self.spec.seq_len, len(scaling.columns)
        if values.ndim != 2 or values.shape[1] != columns or len(values) < window:
            named = "" if series_id is None else f"series {series_id!r}: "
            raise DataError(f"{named}expected at least {window} rows of {columns} columns "
                            f"({', '.join(scaling.columns)}), got shape {values.shape}")
        inputs, last = scaling.window_inputs(values[-window:])
        output = self.outputs(torch.tensor(inputs[None], dtype=torch.float32))[0].numpy()
        return scaling.forecast_values(output, last)

    def series_scaling(self, series_id: str | None) -> SeriesScaling:
        if self.panel_scaling is not None:
            if series_id is None:
                raise ConfigError("this model was trained on many series: name the series to forecast")
            return self.panel_scaling.series(series_id)
        if self.scaling is None:
            raise ConfigError(f"forecast needs a model trained on a time series; this one is {self.spec.kind} on "
                              f"{self.config.task}")
        return self.scaling

    def predict_file(self, path: Path, coverage: float = COVERAGE) -> tuple[list[str], list[list]]:
        """Predict every sequence of a new file shaped like the training file (a labelled task read from the
        user's file; its label column, if any, is ignored): the header and one row per sequence (its id, row or
        index, then the class name and each class's probability, or each predicted value with the bounds of its
        split-conformal interval at `coverage`)."""
        if self.reading is None:
            raise ConfigError(f"--data reads new files for models trained on your own file; this one was trained "
                              f"on {self.config.task}: predict its splits with --split")
        inputs = read_new(self.reading, self.feature_scaling, Path(path), self.spec.seq_len)
        dtype = torch.long if self.spec.input_kind == "tokens" else torch.float32
        mask = None if inputs.mask is None else torch.tensor(inputs.mask)
        outputs = self.outputs(torch.tensor(inputs.x, dtype=dtype), mask)
        if self.spec.kind == "classify":
            names = self.class_names(torch.arange(self.spec.n_outputs))
            header = ["sequence", "prediction", *(f"probability_{name}" for name in names)]
            return header, [[name, label, *chances] for name, label, chances in
                            zip(inputs.names, self.class_names(outputs.argmax(-1)), outputs.softmax(-1).tolist())]
        header = ["sequence", *(f"{part}_{k}" for k in range(outputs.shape[1])
                                for part in ("prediction", "lower", "upper"))]
        bounds = with_bounds(outputs.numpy(), self.half_widths(coverage).numpy())
        return header, [[name, *values] for name, values in zip(inputs.names, bounds.tolist())]

    def forecast_file(self, path: Path, coverage: float = COVERAGE) -> tuple[list[str], list[list], int]:
        """Forecast what follows a .csv/.parquet file holding the training columns (a long-format file: what follows
        each of its series), its rows ordered and checked by their time column as in training: the header, one row
        per step (the series id for many series, the step number, its time where the file has a time column, then
        each target in its own units with the bounds of its split-conformal interval at `coverage`), and how many
        rows the file had."""
        if self.scaling is None and self.panel_scaling is None:
            raise ConfigError(f"--data reads new rows for forecasting models; this one is {self.spec.kind} on "
                              f"{self.config.task}: predict its splits with --split")
        reading = {name: value for name, value in self.config.task_options.items() if name in TABLE_READING_OPTIONS}
        table = read_table(str(path), **reading)
        scaling = self.scaling or self.panel_scaling
        needed = [*scaling.columns, *([] if self.panel_scaling is None else [self.panel_scaling.id_column])]
        missing = [name for name in needed if name not in table.header]
        if missing:
            raise DataError(f"{path} has no column {missing[0]!r}; the model was trained on {', '.join(needed)}")
        values = np.stack([table.numeric(name) for name in scaling.columns], axis=1)
        targets = [scaling.columns[index] for index in scaling.targets]
        time = table.find(self.config.task_options.get("time_column"), TIME_COLUMNS)
        fill = self.config.task_options.get("fill")
        header = ["step", *(["time"] if time else []),
                  *(f"{target}{suffix}" for target in targets for suffix in ("", "_lower", "_upper"))]
        if self.panel_scaling is None:
            series = [(None, np.arange(len(table)))]
        else:
            ids, sequences = sequences_by_id(table, self.panel_scaling.id_column)
            series = [(str(ids[rows[0]]), rows) for rows in sequences]
        lines = None if time is None else timelines_of(table, time, [rows for _, rows in series],
                                                       [str(name) for name, _ in series], fill)
        rows = []
        for index, (series_id, members) in enumerate(series):
            line = None if lines is None else lines[index]
            ordered = values[members] if line is None else line.arranged(values, fill)
            times = None if line is None else line.following(scaling.horizon)
            rows += [[*([] if series_id is None else [series_id]), *row]
                     for row in self.forecast_rows(ordered, series_id, coverage, times)]
        if self.panel_scaling is not None:
            header = [self.panel_scaling.id_column, *header]
        return header, rows, len(table)

    def forecast_rows(self, values: np.ndarray, series_id: str | None, coverage: float,
                      times: list[str] | None) -> list[list]:
        """One row per forecast step: its number, its time (the time column's next values, where the file has
        one), then each target with its interval's bounds."""
        forecast = self.forecast(values, series_id)
        # half-widths are in standardised units, (horizon * K,) in the model's output order
        scaling = self.series_scaling(series_id)
        half = self.half_widths(coverage).numpy().reshape(forecast.shape) * np.array(scaling.std)[list(scaling.targets)]
        return [[step + 1, *([] if times is None else [times[step] if step < len(times) else ""]), *values]
                for step, values in enumerate(with_bounds(forecast, half).tolist())]

    def generate(self, prompt: str, new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 seed: int = 0) -> str:
        """Continue a text prompt, character by character, with a language model trained on text."""
        if self.spec.kind != "lm" or self.vocabulary is None:
            raise ConfigError(f"generate needs a language model trained on text; this one is {self.spec.kind} on "
                              f"{self.config.task}")
        index = {char: i for i, char in enumerate(self.vocabulary)}
        unknown = sorted({char for char in prompt if char not in index})
        if unknown:
            raise DataError(f"the prompt has characters outside the model's vocabulary: {''.join(unknown)!r}")
        tokens = torch.tensor([[index[char] for char in prompt]], device=self.device)
        generator = torch.Generator(self.device).manual_seed(seed)
        sampled = self.model.generate(tokens, new_tokens, temperature, top_k, generator)
        return "".join(self.vocabulary[i] for i in sampled[0, len(prompt):].tolist())

    def check_inputs(self, x: Tensor) -> None:
        if self.spec.input_kind == "tokens":
            if x.dim() != 2 or x.is_floating_point():
                raise DataError(f"expected (N, T) integer tokens, got {tuple(x.shape)} {x.dtype}")
            if x.numel() and (x.min() < 0 or x.max() >= self.spec.n_inputs):
                raise DataError(f"token ids must lie in [0, {self.spec.n_inputs}), got {int(x.min())}..{int(x.max())}")
        elif x.dim() != 3 or x.shape[-1] != self.spec.n_inputs:
            raise DataError(f"expected (N, T, {self.spec.n_inputs}) features, got {tuple(x.shape)}")



# what a saved model keeps of how its task read raw data, by field: forecasting's series scaling, labelled files'
# feature statistics and reading
SAVED_READINGS = {"scaling": SeriesScaling, "feature_scaling": FeatureScaling, "reading": FileReading,
                  "panel_scaling": PanelScaling}


def restored(kind: type, saved: dict | None) -> object | None:
    """A saved reading as its dataclass (JSON lists back to tuples)."""
    if saved is None:
        return None
    return kind(**{name: tuple(value) if isinstance(value, list) else value for name, value in saved.items()})


def task_spec(saved: dict) -> TaskSpec:
    """The saved spec as a TaskSpec; keys of older formats that TaskSpec no longer has (higher_is_better, now
    derived from the metric) are left out."""
    names = {item.name for item in fields(TaskSpec)} - {"extra_metrics"}
    return TaskSpec(**{name: value for name, value in saved.items() if name in names},
                    extra_metrics=tuple(saved["extra_metrics"]))

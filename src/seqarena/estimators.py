"""scikit-learn estimators over sequences: `SequenceClassifier` and `SequenceRegressor` train any mixer by name with
seqarena's trainer, and work in `cross_val_score`, `GridSearchCV` and pipelines; `Forecaster` forecasts what follows
a series.

X is (n, T) — n sequences of T steps of one channel — or (n, T, C); each channel is standardised with the training
data's statistics (and a regressor's targets likewise). Fitted estimators save and load through safetensors and
JSON (`save`, `load_estimator`), never pickle; they also pickle, as scikit-learn expects of an estimator."""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_X_y, validate_data

from seqarena.checkpoint import save_folder
from seqarena.models import build_model
from seqarena.settings import ModelConfig, TrainConfig
from seqarena.spec import ModelShape
from seqarena.tasks.base import SeriesScaling, Split, endless_batches, location_and_scale
from seqarena.tasks.forecasting import forecast_windows, relative_to_last
from seqarena.train import fit, seed_everything

WEIGHTS, SETTINGS = "estimator.safetensors", "estimator.json"



def float64_copy(network: torch.nn.Module) -> torch.nn.Module:
    """A float64 copy of the fitted network to predict with: the fitted one keeps its dtype, so save() after
    predict() writes the float32 weights it trained."""
    return copy.deepcopy(network).double()

class SequenceEstimator(BaseEstimator):
    """What the classifier and the regressor share: the model's settings, training, and scaling."""

    def __init__(self, model: str = "gru", d_model: int = 32, n_layers: int = 1, steps: int = 500,
                 batch_size: int = 32, lr: float = 3e-3, random_state: int = 0, device: str = "cpu"):
        self.model = model
        self.d_model = d_model
        self.n_layers = n_layers
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state
        self.device = device

    def sequences(self, X: Any, reset: bool) -> torch.Tensor:
        """X as standardised float sequences (n, T, C); `reset` (fit) learns the channels' statistics."""
        X = validate_data(self, X, reset=reset, allow_nd=True, dtype=np.float64, ensure_min_samples=1)
        x = X[:, :, None] if X.ndim == 2 else X.reshape(len(X), X.shape[1], -1)
        if reset:
            with np.errstate(over="ignore", invalid="ignore"):
                self.channel_mean_, self.channel_scale_ = location_and_scale(x, (0, 1))
            overflowing = np.flatnonzero(~np.isfinite(self.channel_scale_))
            if len(overflowing):
                raise ValueError(f"X's channel {overflowing[0]} holds values whose standard deviation overflows "
                                 f"(largest magnitude {np.abs(x[..., overflowing[0]]).max():.3g}): rescale it")
        elif x.shape[2] != len(self.channel_mean_):
            # scikit-learn's n_features_in_ reads X.shape[1], the steps of a sequence, not its channels
            raise ValueError(f"X has {x.shape[2]} channels per step, but {type(self).__name__} is expecting "
                             f"{len(self.channel_mean_)} channels as input")
        return torch.tensor((x - self.channel_mean_) / self.channel_scale_, dtype=torch.float32)

    def train(self, x: torch.Tensor, y: torch.Tensor, kind: str, outputs: int) -> None:
        """Build the mixer for sequences like x and train it on (x, y) for `steps` steps (the best training loss's
        weights kept)."""
        seed_everything(self.random_state)
        self.shape_ = ModelShape(name="estimator", kind=kind, input_kind="features", n_inputs=x.shape[2],
                                 n_outputs=outputs, seq_len=x.shape[1], causal=False)
        self.network_ = build_model(self.shape_, ModelConfig(mixer=self.model, d_model=self.d_model,
                                                            n_layers=self.n_layers))
        generator = torch.Generator().manual_seed(self.random_state)
        settings = TrainConfig(steps=self.steps, batch_size=self.batch_size, lr=self.lr, seed=self.random_state,
                               eval_every=max(1, self.steps // 4), device=self.device)
        fit(self.network_, endless_batches(Split(x, y), self.batch_size, generator),
            lambda model: training_loss(model, x, y),
            settings)
        self.network_.to("cpu").eval()

    @torch.no_grad()
    def outputs(self, X: Any) -> torch.Tensor:
        """The network's outputs, computed in float64: float32 kernels round differently for different batch
        sizes, and a sequence's prediction must not depend on which others it is predicted with."""
        check_is_fitted(self, "network_")
        x = self.sequences(X, reset=False).double()
        network = float64_copy(self.network_)
        return torch.cat([network.predict(part) for part in x.split(1024)]) if len(x) else torch.empty(0)

    def save(self, folder: str | Path) -> Path:
        """The fitted estimator as safetensors weights beside JSON settings (no pickle)."""
        check_is_fitted(self, "network_")
        fitted = {name: value.tolist() if isinstance(value, np.ndarray) else asdict(value) if is_dataclass(value)
                  else value for name, value in vars(self).items()
                  if name.endswith("_") and name not in ("network_", "shape_")}
        settings = {"class": type(self).__name__, "params": self.get_params(), "fitted": fitted,
                    "shape": asdict(self.shape_)}
        weights = {name: tensor.detach().contiguous() for name, tensor in self.network_.state_dict().items()}
        return save_folder(Path(folder), (WEIGHTS, weights), (SETTINGS, settings))


class SequenceClassifier(ClassifierMixin, SequenceEstimator):
    """A mixer (gru, lstm, transformer, mingru, ... by name) classifying whole sequences."""

    def fit(self, X: Any, y: Any) -> SequenceClassifier:
        X, y = check_X_y(X, y, allow_nd=True, dtype=None)
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        x = self.sequences(X, reset=True)
        self.train(x, torch.tensor(labels, dtype=torch.long), "classify", max(2, len(self.classes_)))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "network_")
        probabilities = self.outputs(X).softmax(-1).numpy()
        return probabilities[:, :len(self.classes_)] / probabilities[:, :len(self.classes_)].sum(1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        chances = self.predict_proba(X)
        return self.classes_[chances.argmax(1)]


class SequenceRegressor(RegressorMixin, SequenceEstimator):
    """A mixer regressing one target (y of shape (n,)) or several ((n, K)) on whole sequences."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: Any, y: Any) -> SequenceRegressor:
        X, y = check_X_y(X, y, allow_nd=True, multi_output=True, y_numeric=True, dtype=None)
        targets = y.reshape(len(y), -1).astype(np.float64)
        self.target_mean_, self.target_scale_ = location_and_scale(targets)
        x = self.sequences(X, reset=True)
        scaled = torch.tensor((targets - self.target_mean_) / self.target_scale_, dtype=torch.float32)
        self.train(x, scaled, "regress", scaled.shape[1])
        self.single_target_ = y.ndim == 1
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "network_")
        values = self.outputs(X).numpy().reshape(-1, len(self.target_mean_)) * self.target_scale_ + self.target_mean_
        return values[:, 0] if self.single_target_ else values


class Forecaster(RegressorMixin, SequenceEstimator):
    """Forecasts the `horizon` steps after a series from its last `window` steps. `fit(X)` trains on every window of
    the series X (rows in time order: (T,) or (T, C)), standardised with its statistics and taken relative to each
    window's last values, as seqarena's forecasting tasks are; `predict(X)` forecasts the horizon after X's last
    row, in X's units; `score(X)` is minus the mean squared error of forecasting each horizon-long block of X from
    the window before it, so that `GridSearchCV(..., cv=TimeSeriesSplit(k))` on a series picks by forecast error."""

    def __init__(self, window: int = 24, horizon: int = 1, model: str = "gru", d_model: int = 32, n_layers: int = 1,
                 steps: int = 500, batch_size: int = 32, lr: float = 3e-3, random_state: int = 0,
                 device: str = "cpu"):
        super().__init__(model, d_model, n_layers, steps, batch_size, lr, random_state, device)
        self.window = window
        self.horizon = horizon

    def series(self, X: Any, reset: bool) -> np.ndarray:
        values = validate_data(self, X, reset=reset, ensure_2d=False, dtype=np.float64)
        if reset:
            self.univariate_ = values.ndim == 1
        values = values.reshape(len(values), -1)
        if len(values) < self.window + (self.horizon if reset else 0):
            raise ValueError(f"a series of {len(values)} rows is too short for window {self.window}"
                             + (f" + horizon {self.horizon}" if reset else ""))
        return values

    def fit(self, X: Any, y: Any = None) -> Forecaster:
        values = self.series(X, reset=True)
        columns = list(range(values.shape[1]))
        mean, std = location_and_scale(values)
        self.scaling_ = SeriesScaling(tuple(map(str, columns)), tuple(mean.tolist()), tuple(std.tolist()),
                                      tuple(columns), self.horizon)
        scaled = (values - mean) / std
        windows = forecast_windows(scaled, columns, self.window, self.horizon, 0, len(values))
        windows = relative_to_last(windows, columns, self.horizon)
        self.train(windows.x, windows.y, "regress", windows.y.shape[1])
        return self

    @torch.no_grad()
    def predict(self, X: Any) -> np.ndarray:
        """The `horizon` rows after X's last row: (horizon,) for a univariate series, else (horizon, C)."""
        check_is_fitted(self, "network_")
        inputs, last = self.scaling_.window_inputs(self.series(X, reset=False)[-self.window:])
        output = float64_copy(self.network_).predict(torch.tensor(inputs[None], dtype=torch.float64))[0].numpy()
        forecast = self.scaling_.forecast_values(output, last)
        return forecast[:, 0] if self.univariate_ else forecast

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Minus the mean squared error of forecasting each horizon-long block of X from the window before it."""
        values = self.series(X, reset=False)
        errors = [np.mean((self.predict(values[:start]).reshape(self.horizon, -1)
                           - values[start:start + self.horizon]) ** 2)
                  for start in range(self.window, len(values) - self.horizon + 1, self.horizon)]
        if not errors:
            raise ValueError(f"a series of {len(values)} rows holds no window of {self.window} + horizon "
                             f"{self.horizon} to score")
        return -float(np.mean(errors))


@torch.no_grad()
def training_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    loss = model({"x": x.to(device), "y": y.to(device)}).item()
    model.train(was_training)
    return {"loss": loss}


def load_estimator(folder: str | Path) -> SequenceEstimator:
    """An estimator saved by `save`: settings from JSON, weights from safetensors."""
    folder = Path(folder)
    settings = json.loads((folder / SETTINGS).read_text())
    kind = {"SequenceClassifier": SequenceClassifier, "SequenceRegressor": SequenceRegressor,
            "Forecaster": Forecaster}[settings["class"]]
    estimator = kind(**settings["params"])
    for name, value in settings["fitted"].items():
        setattr(estimator, name, np.array(value) if isinstance(value, list) else value)
    if "scaling_" in settings["fitted"]:
        estimator.scaling_ = SeriesScaling(**{name: tuple(value) if isinstance(value, list) else value
                                              for name, value in settings["fitted"]["scaling_"].items()})
    # folders saved before the shape had its own type hold it among a whole task spec's fields
    shape = settings.get("shape") or settings["spec"]
    estimator.shape_ = ModelShape(**{field.name: shape[field.name] for field in fields(ModelShape)})
    estimator.network_ = build_model(estimator.shape_, ModelConfig(mixer=estimator.model, d_model=estimator.d_model,
                                                                   n_layers=estimator.n_layers))
    estimator.network_.load_state_dict(load_file(folder / WEIGHTS))
    estimator.network_.eval()
    return estimator

"""Task, Split and the metrics and reference scores every task reports beside its models."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from types import ModuleType

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqarena.errors import DataError
from seqarena.lazy import require as require_optional
from seqarena.spec import IGNORE, TaskSpec
from seqarena.tasks.reading import FeatureScaling, FileReading
from seqarena.tasks.uncertainty import expected_calibration_error, interval_scores


def require(module: str, install: str, task: str) -> ModuleType:
    """Import the package that ships a task's data, or fail with one line naming what to install."""
    return require_optional(module, install, f"task '{task}' reads its data from", DataError)


def split_points(length: int, fractions: tuple[float, float, float]) -> tuple[int, int]:
    """Where training ends and validation ends, for splits in reading (time) order."""
    return round(fractions[0] * length), round((fractions[0] + fractions[1]) * length)


@dataclass(frozen=True)
class Split:
    """x (N, T) tokens or (N, T, C) features; y (N,) classes, (N, K) targets or (N, T) next tokens."""

    x: Tensor
    y: Tensor
    mask: Tensor | None = None

    def __len__(self) -> int:
        return self.x.shape[0]

    def batch(self, index: Tensor) -> dict[str, Tensor]:
        batch = {"x": self.x[index], "y": self.y[index]}
        if self.mask is not None:
            batch["mask"] = self.mask[index]
        return batch

    def subset(self, index: Tensor) -> Split:
        return Split(self.x[index], self.y[index], None if self.mask is None else self.mask[index])

    def tokens(self) -> int:
        return int(self.mask.sum()) if self.mask is not None else self.x.shape[0] * self.x.shape[1]


def endless_batches(split: Split, batch_size: int, generator: torch.Generator) -> Iterator[dict[str, Tensor]]:
    """Endless shuffled batches of a split; epochs reshuffle from the generator, and a split smaller than the batch
    is taken whole as each batch."""
    size = min(batch_size, len(split))
    while True:
        order = torch.randperm(len(split), generator=generator)
        for start in range(0, len(order) - size + 1, size):
            yield split.batch(order[start:start + size])


def labelled(y: Tensor, mask: Tensor | None) -> Tensor:
    """Which positions of per-position targets (N, T) count: valid and carrying a label."""
    keep = y != IGNORE
    return keep if mask is None else keep & mask


def score(metric: str, output: Tensor, y: Tensor, mask: Tensor | None) -> float:
    """The task metric of model outputs.

    accuracy: of one label per sequence; token_accuracy: over labelled positions; mse and mae; cross_entropy:
    nats per labelled position; bpc: bits per labelled position (characters, for language modelling)."""
    if metric == "accuracy":
        return (output.argmax(-1) == y).float().mean().item()
    if metric == "mse":
        return F.mse_loss(output, y.view_as(output)).item()
    if metric == "mae":
        return F.l1_loss(output, y.view_as(output)).item()
    keep = labelled(y, mask)
    if metric == "token_accuracy":
        return (output.argmax(-1) == y)[keep].float().mean().item()
    losses = F.cross_entropy(output.flatten(0, 1), y.flatten(), reduction="none", ignore_index=IGNORE)
    nats = losses[keep.flatten()].mean().item()
    return nats if metric == "cross_entropy" else nats / math.log(2)


def location_and_scale(values: np.ndarray, axis: int | tuple[int, ...] = 0) -> tuple[np.ndarray, np.ndarray]:
    """The mean and standard deviation along `axis`; a deviation of zero (a constant column) is taken as 1, so that
    standardising leaves that column at zero instead of dividing by zero."""
    std = values.std(axis)
    return values.mean(axis), np.where(std > 0, std, 1.0)


@dataclass(frozen=True)
class SeriesScaling:
    """How a forecasting task turned raw columns into model inputs, so a model can forecast new data in the data's
    own units: each column standardised with the training period's mean and deviation, then every window taken
    relative to its last values (targets likewise, at the target columns)."""

    columns: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    targets: tuple[int, ...]
    horizon: int

    def window_inputs(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw rows (window, C) -> model inputs (window, C) and the standardised last row (C,)."""
        scaled = (values - np.array(self.mean)) / np.array(self.std)
        return scaled - scaled[-1], scaled[-1]

    def forecast_values(self, output: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Model output (horizon * K,) relative to the last row -> (horizon, K) in the columns' own units."""
        targets = list(self.targets)
        relative = output.reshape(self.horizon, len(targets))
        return (relative + last[targets]) * np.array(self.std)[targets] + np.array(self.mean)[targets]


@dataclass(frozen=True)
class PanelScaling:
    """How a long-format task scaled each of its series (standardised with that series' own training period),
    so a model can forecast new rows of those series in their own units."""

    id_column: str
    columns: tuple[str, ...]
    targets: tuple[int, ...]
    horizon: int
    ids: tuple[str, ...]
    # per series (in `ids` order), per column
    means: tuple[tuple[float, ...], ...]
    stds: tuple[tuple[float, ...], ...]

    def series(self, series_id: str) -> SeriesScaling:
        """The scaling of one of the training file's series."""
        if series_id not in self.ids:
            raise DataError(f"series {series_id!r} was not in the training file; the model knows "
                            f"{', '.join(self.ids[:8])}{', ...' if len(self.ids) > 8 else ''}")
        index = self.ids.index(series_id)
        return SeriesScaling(self.columns, tuple(self.means[index]), tuple(self.stds[index]), self.targets,
                             self.horizon)


@dataclass(frozen=True)
class ForecastHistory:
    """The standardised series (T_i, C) a forecasting task's windows were cut from, up to the end of its test
    period, and where each one's training and validation periods end: what a classical forecaster is fitted on.
    Test window j of series i forecasts steps val_end_i + j ... + horizon - 1 of its targets."""

    series: tuple[np.ndarray, ...]
    train_ends: tuple[int, ...]
    val_ends: tuple[int, ...]
    targets: tuple[int, ...]
    horizon: int
    season: int | None


@dataclass(frozen=True)
class Task:
    spec: TaskSpec
    train: Split
    val: Split
    test: Split
    # token id -> text, for tasks read from text (decoding generated samples)
    vocabulary: tuple[str, ...] | None = None
    # class id -> name, for classification tasks whose labels have names
    classes: tuple[str, ...] | None = None
    # forecasting tasks: the scaling that maps raw columns to model inputs and forecasts back (one series), or each
    # series' scaling (a long-format file of many)
    scaling: SeriesScaling | None = None
    panel_scaling: PanelScaling | None = None
    # labelled feature sequences: the training split's per-channel statistics their inputs were scaled by
    feature_scaling: FeatureScaling | None = None
    # the user's labelled files: how the file became sequences, so new files are read the same way
    reading: FileReading | None = None
    # forecasting tasks: each series as its windows were cut from it, for references fitted on whole series
    history: ForecastHistory | None = None

    def with_training_fraction(self, fraction: float) -> Task:
        """The same task trained on a fixed random subset of its training split (the same subset for every model
        and seed, so learning curves are paired). A classification task's subset is stratified (ceil(fraction x
        n_c) of each class c, so every class stays in it) and its chance level and linear baseline are fit again on
        the subset, so a model is held to what the same data gives a linear model; validation and test are
        unchanged, and so are the other kinds' reference scores."""
        if fraction == 1.0:
            return self
        generator = torch.Generator().manual_seed(0)
        if self.spec.kind != "classify":
            count = max(1, math.ceil(fraction * len(self.train)))
            keep = torch.randperm(len(self.train), generator=generator)[:count].sort().values
            return replace(self, train=self.train.subset(keep))
        parts = []
        for label in torch.unique(self.train.y):
            members = torch.nonzero(self.train.y == label).flatten()
            shuffled = members[torch.randperm(len(members), generator=generator)]
            parts.append(shuffled[:max(1, math.ceil(fraction * len(members)))])
        train = self.train.subset(torch.cat(parts).sort().values)
        vocab = self.spec.n_inputs if self.spec.input_kind == "tokens" else None
        reference = reference_scores("classify", train, self.test, vocab=vocab)
        spec = replace(self.spec, chance=reference.chance, chance_name=reference.chance_name,
                       baseline=reference.baseline, baseline_name=f"{reference.baseline_name}, fit on the same subset")
        return replace(self, spec=spec, train=train)

    def split(self, name: str) -> Split:
        return {"train": self.train, "val": self.val, "test": self.test}[name]

    def batches(self, batch_size: int, generator: torch.Generator) -> Iterator[dict[str, Tensor]]:
        """Endless shuffled training batches; epochs reshuffle from the given generator. A training split smaller
        than the batch is taken whole as each batch (every epoch one step), never waited on."""
        if len(self.train) == 0:
            raise DataError(f"task '{self.spec.name}' has no training sequences")
        return endless_batches(self.train, batch_size, generator)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str, batch_size: int = 256, device: str = "cpu") -> dict[str, float]:
        """Mean loss and the task metric of a model on one split (eval mode, no gradients)."""
        output, loss = self.outputs(model, split, batch_size, device)
        return {"loss": loss, **self.scores(output, split)}

    def scores(self, output: Tensor, split: str) -> dict[str, float]:
        """The task metric and the metrics reported beside it, of outputs on one split."""
        data = self.split(split)
        return {name: score(name, output, data.y, data.mask) for name in (self.spec.metric, *self.spec.extra_metrics)}

    def test_metrics(self, model: nn.Module, device: str = "cpu") -> dict[str, float]:
        """Everything a run reports on test, from one pass over it: the loss, the task's metrics, and how far the
        predictions can be trusted (trust)."""
        output, loss = self.outputs(model, "test", device=device)
        return {"loss": loss, **self.scores(output, "test"), **self.trust(model, output, device)}

    @torch.no_grad()
    def outputs(self, model: nn.Module, split: str, batch_size: int = 256,
                device: str = "cpu") -> tuple[Tensor, float]:
        """A model's outputs on one split (on the CPU) and its mean loss there (eval mode, no gradients)."""
        data = self.split(split)
        was_training = model.training
        model.eval()
        outputs, losses = [], []
        for start in range(0, len(data), batch_size):
            index = torch.arange(start, min(start + batch_size, len(data)))
            batch = {k: v.to(device) for k, v in data.batch(index).items()}
            output, loss = model.output_and_loss(batch)
            outputs.append(output.cpu())
            losses.append(loss.item() * batch["x"].shape[0])
        model.train(was_training)
        return torch.cat(outputs), sum(losses) / len(data)

    def trust(self, model: nn.Module, test_output: Tensor, device: str = "cpu") -> dict[str, float]:
        """How far the model's test predictions (`test_output`) can be trusted: conformal interval coverage and
        width (from the validation residuals) for forecasts and regression, expected calibration error for
        classification; none for the other kinds."""
        if self.spec.kind == "classify":
            return {"ece": expected_calibration_error(test_output, self.test.y)}
        if self.spec.kind != "regress":
            return {}
        return interval_scores(self.outputs(model, "val", device=device)[0], self.val.y, test_output, self.test.y)


def flat_features(split: Split, vocab: int | None = None) -> np.ndarray:
    """Features flattened over time, or for tokens (vocab given) the bag of tokens: what a model without order sees."""
    if vocab is None:
        return split.x.reshape(len(split), -1).float().numpy()
    valid = torch.ones_like(split.x, dtype=torch.bool) if split.mask is None else split.mask
    counts = torch.zeros(len(split), vocab)
    counts.scatter_add_(1, split.x * valid, valid.float())
    return counts.numpy()


def position_table(train: Split, test: Split, metric: str, n_classes: int, by_token: bool) -> float:
    """Score of label frequencies per position (and per current input token): a memoryless tagger."""
    keep = labelled(train.y, train.mask)
    time, tokens = train.y.shape[1], int(max(train.x.max(), test.x.max())) + 1
    position = torch.arange(time).expand_as(train.y)
    key = position * tokens + (train.x if by_token else 0)
    counts = torch.zeros(time * tokens, n_classes)
    counts.index_put_((key[keep], train.y[keep]), torch.ones(int(keep.sum())), accumulate=True)
    # a small pseudo-count keeps unseen labels at a finite cost without blurring the seen ones
    probabilities = (counts + 0.01) / (counts.sum(1, keepdim=True) + 0.01 * n_classes)
    test_key = torch.arange(test.y.shape[1]).expand_as(test.y) * tokens + (test.x if by_token else 0)
    return score(metric, probabilities[test_key].log(), test.y, test.mask)


RIDGE_ALPHAS = np.logspace(-2, 4, 7)
# the most memory the ridge baseline may take; beyond it the task stops with the sizes that need it
RIDGE_MEMORY_BYTES = 2 * 2**30


def ridge_predictions(x: np.ndarray, y: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Ridge regression (alpha by leave-one-out error) of y (N, K) on x (N, P), predicted at test. The primal
    form holds a P x K coefficient matrix; the dual form never does (N x N and N x K instead), so a wide table
    (many columns, many targets) costs what its windows cost. The cheaper form is used; when even that exceeds
    RIDGE_MEMORY_BYTES, the task stops with the sizes."""
    (n, p), k = x.shape, y.shape[1]
    primal, dual = 8 * (p * p + p * k + n * p), 8 * (n * n + n * k + n * p + len(test) * n)
    if min(primal, dual) > RIDGE_MEMORY_BYTES:
        raise DataError(f"the ridge baseline would need {min(primal, dual) / 2**30:.1f} GiB for {n} training windows "
                        f"of {p} input values and {k} targets (limit {RIDGE_MEMORY_BYTES / 2**30:.0f} GiB): use fewer "
                        "columns (targets=..., fewer columns in the file), a shorter window or a shorter horizon")
    if primal <= dual:
        # scikit-learn is imported where it is used: it costs a command line that never fits a baseline ~1 s
        from sklearn.linear_model import RidgeCV

        return RidgeCV(alphas=RIDGE_ALPHAS).fit(x, y).predict(test)
    return dual_ridge_predictions(x, y, test, RIDGE_ALPHAS)


def dual_ridge_predictions(x: np.ndarray, y: np.ndarray, test: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Ridge in its dual form (kernel ridge with a linear kernel on centred data): predictions
    (test - mean) X^T (K + a I)^-1 (y - mean) + mean, with K = X X^T (N, N); a is the alpha whose leave-one-out
    error, read off the eigendecomposition of K (residual_i = dual_i / [(K + a I)^-1]_ii), is smallest over
    every target together."""
    x_mean, y_mean = x.mean(0), y.mean(0)
    centred_x, centred_y = x - x_mean, y - y_mean
    eigenvalues, vectors = np.linalg.eigh(centred_x @ centred_x.T)
    # (N, K) in the eigenbasis
    rotated = vectors.T @ centred_y
    best_error, best_dual = math.inf, None
    for alpha in alphas:
        inverse = 1 / (np.clip(eigenvalues, 0, None) + alpha)
        dual = vectors @ (inverse[:, None] * rotated)
        diagonal = (vectors ** 2) @ inverse
        error = float(np.mean((dual / diagonal[:, None]) ** 2))
        if error < best_error:
            best_error, best_dual = error, dual
    # (T, N) @ (N, K): never the (P, K) coefficients
    return ((test - x_mean) @ centred_x.T) @ best_dual + y_mean


@dataclass(frozen=True)
class ReferenceScores:
    """Test-split scores of two predictors that are no sequence model at all."""

    chance: float
    chance_name: str
    baseline: float
    baseline_name: str


def reference_scores(kind: str, train: Split, test: Split, vocab: int | None = None, metric: str = "",
                     n_classes: int = 0) -> ReferenceScores:
    """Two predictors that are no sequence model, fit on train, scored on test: an input-blind one, and a
    linear model on the flattened input (bag of tokens for token input) or, for tagging, a current-token lookup."""
    if kind == "tag":
        return ReferenceScores(position_table(train, test, metric, n_classes, by_token=False),
                               "label frequencies per position",
                               position_table(train, test, metric, n_classes, by_token=True),
                               "label frequencies per position and current token (no memory)")
    if kind == "classify":
        majority = torch.bincount(train.y).argmax()
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        linear.fit(flat_features(train, vocab), train.y.numpy())
        return ReferenceScores((test.y == majority).float().mean().item(), "majority class",
                               float(linear.score(flat_features(test, vocab), test.y.numpy())),
                               "logistic regression on the standardised "
                               + ("bag of tokens" if vocab else "flat input"))
    mean = train.y.float().mean(0)
    residual = ridge_predictions(flat_features(train), train.y.numpy(), flat_features(test)) - test.y.numpy()
    return ReferenceScores(F.mse_loss(mean.expand_as(test.y), test.y).item(), "training-set mean",
                           float(np.mean(residual ** 2)),
                           "ridge regression (alpha by cross-validation) on the flat input")

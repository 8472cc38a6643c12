"""Self-pretraining (Amos et al. 2023, "Never Train from Scratch"): a model's backbone (embedding, positions, blocks,
final norm) trained on inputs alone, then fine-tuned with the task's fresh head. Two objectives, for every mixer:

- `next`: causal next-step prediction (GPT, Radford et al. 2018): the next token (cross-entropy) for token inputs,
  the next frame (MSE) for features. It needs a causal model.
- `masked`: span masking and reconstruction (BERT, Devlin et al. 2019; spans as in T5, Raffel et al. 2020): spans
  of embedded inputs are replaced by one learned mask vector and the inputs there are reconstructed.

Only a training split is ever read: `Corpus.of` takes one `Split`, and `corpus_for` hands it `task.train`. The
backbone goes to disk as safetensors beside `pretrained.json`, and `load_backbone` puts it into a model for
another task (`seqarena train --init DIR`), checking every shape first."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor, nn

from seqarena.checkpoint import save_folder
from seqarena.errors import ConfigError, DataError, describe_validation
from seqarena.models import build_model
from seqarena.models.blocks import SequenceModel
from seqarena.settings import ModelConfig, PretrainConfig, RunConfig, TrainConfig
from seqarena.spec import ModelShape
from seqarena.tasks import load_task
from seqarena.tasks.base import Split, Task
from seqarena.train import TrainResult, fit, seed_everything

WEIGHTS, SETTINGS = "backbone.safetensors", "pretrained.json"
FORMAT = 1
# the share of the training inputs held out to pick the best pretraining step (never validation or test data)
MONITOR_FRACTION = 0.05
MONITOR_LIMIT = 256


@dataclass(frozen=True)
class Corpus:
    """Input sequences without labels: x (N, T) tokens or (N, T, C) features, and the (N, T) validity mask."""

    x: Tensor
    mask: Tensor | None
    input_kind: str
    n_inputs: int

    @classmethod
    def of(cls, split: Split, spec: ModelShape) -> Corpus:
        """A split's inputs, its labels left behind."""
        return cls(split.x, split.mask, spec.input_kind, spec.n_inputs)

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def seq_len(self) -> int:
        return self.x.shape[1]

    def part(self, index: Tensor) -> Corpus:
        return Corpus(self.x[index], None if self.mask is None else self.mask[index], self.input_kind, self.n_inputs)

    def held_out(self) -> tuple[Corpus, Corpus]:
        """The sequences to pretrain on, and the last few to monitor the objective on (at least one of each)."""
        if len(self) < 2:
            raise DataError(f"pretraining needs at least 2 training sequences, got {len(self)}")
        count = min(MONITOR_LIMIT, max(1, round(MONITOR_FRACTION * len(self))))
        return self.part(torch.arange(len(self) - count)), self.part(torch.arange(len(self) - count, len(self)))

    def batches(self, batch_size: int, generator: torch.Generator) -> Iterator[dict[str, Tensor]]:
        """Endless shuffled batches {x, mask?}; a corpus smaller than the batch is each batch whole."""
        size = min(batch_size, len(self))
        while True:
            order = torch.randperm(len(self), generator=generator)
            for start in range(0, len(order) - size + 1, size):
                yield self.batch(order[start:start + size])

    def batch(self, index: Tensor) -> dict[str, Tensor]:
        batch = {"x": self.x[index]}
        if self.mask is not None:
            batch["mask"] = self.mask[index]
        return batch


def corpus_for(task: Task) -> Corpus:
    """The corpus of a task: its training split's inputs, and nothing of its validation or test splits."""
    return Corpus.of(task.train, task.spec)


def span_mask(valid: Tensor, ratio: float, mean_span: int, generator: torch.Generator | None = None) -> Tensor:
    """(B, T) True where the masked objective hides the input: spans of `mean_span` positions starting with
    probability ratio / mean_span, so about `ratio` of the valid positions; every sequence hides at least one."""
    starts = torch.rand(valid.shape, generator=generator, device=valid.device) < ratio / mean_span
    # a position is masked when a span started within the mean_span positions up to it: (B, 1, T) max-pooled
    padded = F.pad(starts.float()[:, None], (mean_span - 1, 0))
    masked = F.max_pool1d(padded, mean_span, stride=1)[:, 0].bool() & valid
    lengths = valid.sum(1)
    empty = ~masked.any(1) & (lengths > 0)
    fallback = (torch.rand(valid.shape[0], generator=generator, device=valid.device) * lengths).long()
    rows = empty.nonzero().flatten()
    masked[rows, fallback[rows]] = True
    return masked


class PretrainingModel(nn.Module):
    """A SequenceModel's backbone under a pretraining objective, with the objective's own output layer (and, for
    `masked`, the learned mask vector); the task's head is left untouched. `forward(batch)` is the loss, so the
    trainer runs it like any model."""

    def __init__(self, model: SequenceModel, config: PretrainConfig):
        super().__init__()
        if config.objective == "next" and not model.causal:
            raise ConfigError("objective 'next' predicts each next step, so the model must be causal: set causal "
                              "(--causal), or use the masked objective")
        self.model, self.config = model, config
        self.tokens = model.shape.input_kind == "tokens"
        d_model = model.norm.normalized_shape[0]
        self.output = nn.Linear(d_model, model.shape.n_inputs)
        self.mask_vector = nn.Parameter(torch.zeros(d_model)) if config.objective == "masked" else None
        # the held-out batches' masks are drawn from this generator, reset before every evaluation
        self.monitor_masks: torch.Generator | None = None

    def hidden(self, x: Tensor, mask: Tensor | None, hidden_positions: Tensor | None) -> Tensor:
        """(B, T, D) states; where hidden_positions is True the input is zeroed and its embedding replaced by the
        mask vector before positions are added, so nothing of a hidden input reaches the blocks."""
        backbone = self.model
        if hidden_positions is not None:
            zeroed = hidden_positions if self.tokens else hidden_positions[..., None]
            x = x.masked_fill(zeroed, 0)
        h = backbone.embed(x)
        if hidden_positions is not None:
            h = torch.where(hidden_positions[..., None], self.mask_vector, h)
        if backbone.position is not None:
            h = backbone.position(h, 0)
        return backbone.mix(h, mask)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        x, mask = batch["x"], batch.get("mask")
        valid = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device) if mask is None else mask
        if self.config.objective == "next":
            predicted = self.output(self.hidden(x, mask, None))[:, :-1]
            return self.reconstruction_loss(predicted, x[:, 1:], valid[:, 1:] & valid[:, :-1])
        hidden_positions = span_mask(valid, self.config.mask_ratio, self.config.mean_span,
                                     None if self.training else self.monitor_masks)
        predicted = self.output(self.hidden(x, mask, hidden_positions))
        return self.reconstruction_loss(predicted, x, hidden_positions)

    def reconstruction_loss(self, predicted: Tensor, target: Tensor, where: Tensor) -> Tensor:
        """Mean cross-entropy (tokens) or squared error over channels (features) at the positions `where` marks."""
        if self.tokens:
            losses = F.cross_entropy(predicted.flatten(0, 1), target.flatten(), reduction="none")
        else:
            losses = ((predicted - target) ** 2).mean(-1).flatten()
        weights = where.flatten().to(losses.dtype)
        return (losses * weights).sum() / weights.sum().clamp(min=1)

    @torch.no_grad()
    def monitor_loss(self, corpus: Corpus, device: str, batch_size: int = 256) -> float:
        """The objective on held-out training sequences, with the same masks at every evaluation."""
        was_training = self.training
        self.eval()
        self.monitor_masks = torch.Generator(device).manual_seed(0)
        total = 0.0
        for start in range(0, len(corpus), batch_size):
            index = torch.arange(start, min(start + batch_size, len(corpus)))
            batch = {name: value.to(device) for name, value in corpus.batch(index).items()}
            total += self(batch).item() * len(index)
        self.train(was_training)
        return total / len(corpus)


def check_fits(corpus: Corpus, spec: ModelShape, source: str) -> None:
    """A corpus whose inputs the task's model cannot read stops here, with what differs."""
    if (corpus.input_kind, corpus.n_inputs) != (spec.input_kind, spec.n_inputs):
        raise ConfigError(f"the corpus {source} has {corpus.n_inputs} {corpus.input_kind} inputs but task "
                          f"'{spec.name}' has {spec.n_inputs} {spec.input_kind}: pretrain on inputs of the same kind "
                          "(e.g. alphabet=bytes for byte-level text tasks)")
    if corpus.seq_len > spec.seq_len:
        raise ConfigError(f"the corpus {source} has sequences of {corpus.seq_len} steps, longer than task "
                          f"'{spec.name}''s {spec.seq_len}: use a shorter context for the corpus")


def pretrain(model: SequenceModel, corpus: Corpus, config: PretrainConfig, train: TrainConfig,
             on_step: Callable[[int, float], None] | None = None) -> TrainResult:
    """Pretrain the model's backbone in place on the corpus for config.steps steps of train's batch size, learning
    rate and schedule; the best step on held-out training sequences is kept. The task's head is not touched."""
    check_fits(corpus, model.shape, config.corpus or "of the task's training inputs")
    pretraining = PretrainingModel(model, config)
    heads = {name: tensor.clone() for name, tensor in model.head.state_dict().items()}
    rest, monitored = corpus.held_out()
    generator = torch.Generator().manual_seed(train.seed)
    settings = train.model_copy(update={"steps": config.steps, "eval_every": min(train.eval_every, config.steps),
                                        "patience": None, "time_budget": None})
    result = fit(pretraining, rest.batches(train.batch_size, generator),
                 lambda _: {"loss": pretraining.monitor_loss(monitored, train.device)}, settings, on_step=on_step)
    model.head.load_state_dict(heads)
    return result


def backbone_state(model: SequenceModel) -> dict[str, Tensor]:
    """Every weight of the model but the task's head."""
    return {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()
            if not name.startswith("head.")}


@dataclass(frozen=True)
class Pretrained:
    """A pretrained backbone on disk: its weights and what they fit (model settings, input kind and size)."""

    weights: dict[str, Tensor]
    model: ModelConfig
    input_kind: str
    n_inputs: int
    about: dict[str, Any]

    def save(self, folder: Path) -> Path:
        """Write beside `folder`, then rename into place: a crash leaves the old save or the new one."""
        settings = {"format": FORMAT, "model": self.model.model_dump(mode="json"), "input_kind": self.input_kind,
                    "n_inputs": self.n_inputs, **self.about}
        return save_folder(folder, (WEIGHTS, self.weights), (SETTINGS, settings))

    @classmethod
    def load(cls, folder: Path) -> Pretrained:
        folder = Path(folder)
        try:
            settings = json.loads((folder / SETTINGS).read_text())
            model = ModelConfig(**settings.pop("model"))
            weights = load_file(folder / WEIGHTS)
        except FileNotFoundError as error:
            raise DataError(f"{folder} is not a pretrained backbone: it has no {Path(error.filename).name}") from None
        except (json.JSONDecodeError, SafetensorError, OSError) as error:
            raise DataError(f"{folder} is not a readable pretrained backbone: {error}") from None
        except (KeyError, TypeError) as error:
            raise DataError(f"{folder / SETTINGS}: missing or wrong field {error}") from None
        except ValidationError as error:
            raise DataError(f"{folder / SETTINGS}: {describe_validation(error, 'model')}") from None
        if settings.pop("format", None) != FORMAT:
            raise DataError(f"{folder / SETTINGS}: not format {FORMAT}")
        return cls(weights, model, settings.pop("input_kind"), settings.pop("n_inputs"), settings)


def load_backbone(model: SequenceModel, folder: Path) -> Pretrained:
    """Put a saved backbone into the model, bit for bit; the model's head stays fresh. Any input kind, missing
    weight or shape that differs stops with one line naming it."""
    pretrained = Pretrained.load(folder)
    spec = model.shape
    if (pretrained.input_kind, pretrained.n_inputs) != (spec.input_kind, spec.n_inputs):
        raise ConfigError(f"{folder} was pretrained on {pretrained.n_inputs} {pretrained.input_kind} inputs; task "
                          f"'{spec.name}' has {spec.n_inputs} {spec.input_kind}")
    expected = backbone_state(model)
    for name, tensor in expected.items():
        if name not in pretrained.weights:
            raise ConfigError(f"{folder} has no weight {name!r} that this model needs: it was pretrained with "
                              f"another model ({pretrained.model.mixer}, {pretrained.model.n_layers} layers)")
        if pretrained.weights[name].shape != tensor.shape:
            raise ConfigError(f"{folder}: weight {name!r} has shape {tuple(pretrained.weights[name].shape)} there but "
                              f"{tuple(tensor.shape)} in model '{pretrained.model.mixer}' on task '{spec.name}' "
                              f"(sequence length {spec.seq_len})")
    extra = sorted(set(pretrained.weights) - set(expected))
    if extra:
        raise ConfigError(f"{folder} has weight {extra[0]!r}, which this model lacks: it was pretrained with another "
                          "model")
    model.load_state_dict(pretrained.weights, strict=False)
    return pretrained


def pretraining_summary(result: TrainResult) -> dict[str, Any]:
    """What a run reports of its pretraining: steps, seconds and the best held-out objective."""
    return {"pretrain_steps": result.steps, "pretrain_seconds": result.train_seconds,
            "pretrain_loss": result.best_val.get("loss", math.nan), "pretrain_diverged": result.diverged}


def start_from(model: SequenceModel, config: RunConfig, task: Task) -> dict[str, Any] | None:
    """Self-pretrain the model's backbone on a training split (the task's own, or the corpus task's), or load a
    pretrained backbone; returns what the record says of the pretraining."""
    if config.init is not None:
        pretrained = load_backbone(model, Path(config.init))
        return {"init": config.init, **pretrained.about}
    if config.pretrain is None:
        return None
    settings = config.pretrain
    corpus_task = task if settings.corpus is None else load_task(settings.corpus, **settings.corpus_options)
    return pretraining_summary(pretrain(model, corpus_for(corpus_task), settings, config.train))


def pretrain_and_save(task_name: str, task_options: dict[str, Any], model_config: ModelConfig,
                      settings: PretrainConfig, train: TrainConfig, folder: Path,
                      on_step: Callable[[int, float], None] | None = None) -> tuple[Pretrained, TrainResult]:
    """`seqarena pretrain`: pretrain a model's backbone on one task's (or file's) training inputs and save it, with
    the model settings it was built with (causal stated), for `train --init`. The next-step objective builds a
    causal model unless told otherwise."""
    task = load_task(task_name, **task_options)
    if settings.objective == "next" and model_config.causal is None:
        model_config = model_config.model_copy(update={"causal": True})
    seed_everything(train.seed)
    model = build_model(task.spec, model_config)
    result = pretrain(model, corpus_for(task), settings, train, on_step)
    about = {"objective": settings.objective, "steps": result.steps, "corpus": task_name,
             "corpus_options": task_options, "sequence_length": task.spec.seq_len, "sequences": len(task.train),
             "seed": train.seed, "lr": train.lr, "batch_size": train.batch_size,
             "pretrain_loss": result.best_val.get("loss"), "diverged": result.diverged}
    pretrained = Pretrained(backbone_state(model), model_config.model_copy(update={"causal": model.causal}),
                            task.spec.input_kind, task.spec.n_inputs, about)
    pretrained.save(folder)
    return pretrained, result

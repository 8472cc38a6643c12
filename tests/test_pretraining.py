import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from seqarena.config import SweepConfig, protocol
from seqarena.engine.run import execute
from seqarena.errors import ConfigError
from seqarena.models import build_model
from seqarena.pretraining import (
    Corpus,
    PretrainingModel,
    backbone_state,
    corpus_for,
    load_backbone,
    pretrain,
    pretrain_and_save,
    span_mask,
    start_from,
)
from seqarena.settings import ModelConfig, PretrainConfig, RunConfig, TrainConfig
from seqarena.tasks import load_task
from seqarena.tasks.base import Split
from seqarena.tasks.text import kjv_chapter_parts, kjv_verses

TINY_TRAIN = TrainConfig(steps=4, batch_size=8, eval_every=2)


class Untouchable:
    """A split that fails the moment anything reads it."""

    def __getattr__(self, name):
        raise AssertionError(f"pretraining read .{name} of a validation or test split")

    def __len__(self):
        raise AssertionError("pretraining measured a validation or test split")


def sealed(task):
    """The task with its validation and test splits replaced by ones that cannot be read."""
    return replace(task, val=Untouchable(), test=Untouchable())


@pytest.mark.parametrize("task,options,objective", [("adding", {"length": 12}, "next"),
                                                    ("order", {"length": 12}, "masked"),
                                                    ("digits", {}, "masked")])
def test_pretraining_never_reads_validation_or_test_data(task, options, objective):
    loaded = load_task(task, **options)
    config = RunConfig(task=task, task_options=options, model={"mixer": "gru", "d_model": 16, "causal": True},
                       train=TINY_TRAIN, pretrain={"objective": objective, "steps": 3})
    model = build_model(loaded.spec, config.model)
    summary = start_from(model, config, sealed(loaded))
    assert summary["pretrain_steps"] == 3 and summary["pretrain_loss"] > 0


def test_the_kjv_corpus_split_by_chapters_holds_no_validation_or_test_verse_of_kjv_divisions():
    corpus = load_task("kjv", split="chapters", alphabet="bytes", context=256)
    training_text = bytes(corpus.train.x.flatten().tolist()).decode("ascii")
    verses = kjv_verses()
    train, val, test = kjv_chapter_parts(0)
    held_out = [verses[i].text for i in (*val, *test) if len(verses[i].text) > 120]
    found = [text for text in held_out if text in training_text]
    # the few that are found recur word for word inside a training chapter's verse (parallel passages, refrains)
    training_verses = [verses[i].text for i in train]
    assert len(held_out) > 2000 and len(found) < 10
    assert all(any(text in verse for verse in training_verses) for text in found)
    seen = [verses[i].text for i in train[::50] if len(verses[i].text) > 120]
    assert sum(text in training_text for text in seen) >= 0.9 * len(seen)
    divisions = load_task("kjv_divisions")
    assert len(divisions.test) == len(test) and divisions.spec.n_inputs == corpus.spec.n_inputs == 256


@pytest.mark.parametrize("mixer,input_kind", [("transformer", "tokens"), ("lstm", "tokens"), ("gru", "features")])
def test_the_masked_objective_cannot_see_masked_inputs(mixer, input_kind):
    task = load_task("order", length=16) if input_kind == "tokens" else load_task("adding", length=16)
    model = build_model(task.spec, ModelConfig(mixer=mixer, d_model=16, causal=False if task.spec.causal is False
                                               else None))
    pretraining = PretrainingModel(model, PretrainConfig(objective="masked", steps=1)).eval()
    x = task.train.x[:6].clone()
    hidden = span_mask(torch.ones(x.shape[:2], dtype=torch.bool), 0.3, 2, torch.Generator().manual_seed(1))
    assert hidden.any() and not hidden.all()
    before = pretraining.hidden(x, None, hidden)
    changed = x.clone()
    if input_kind == "tokens":
        changed[hidden] = (changed[hidden] + 1) % task.spec.n_inputs
    else:
        changed[hidden] = changed[hidden] + 100.0
    assert torch.equal(pretraining.hidden(changed, None, hidden), before)
    visible = (~hidden).nonzero()[0].tolist()
    changed[visible[0], visible[1]] = changed[visible[0], visible[1]] + (1 if input_kind == "tokens" else 100.0)
    if input_kind == "tokens":
        changed[visible[0], visible[1]] %= task.spec.n_inputs
    assert not torch.equal(pretraining.hidden(changed, None, hidden), before)


def test_span_masks_hide_about_their_ratio_in_spans_of_valid_positions_and_at_least_one_each():
    valid = torch.ones(400, 64, dtype=torch.bool)
    valid[:, 48:] = False
    hidden = span_mask(valid, 0.15, 3, torch.Generator().manual_seed(0))
    assert not hidden[:, 48:].any() and hidden.any(1).all()
    assert 0.10 < hidden[:, :48].float().mean().item() < 0.18
    # spans: most hidden positions have a hidden neighbour
    neighbour = hidden[:, 1:48] & (hidden[:, :47] | torch.cat([hidden[:, 2:48], torch.zeros(400, 1, dtype=bool)], 1))
    assert neighbour.sum() > 0.8 * hidden[:, 1:48].sum()


def test_the_next_step_objective_needs_a_causal_model():
    task = load_task("order", length=12)
    model = build_model(task.spec, ModelConfig(mixer="transformer", d_model=16))
    with pytest.raises(ConfigError, match="must be causal"):
        PretrainingModel(model, PretrainConfig(objective="next", steps=1))


@pytest.mark.parametrize("objective", ["next", "masked"])
def test_pretraining_lowers_the_held_out_objective(objective):
    # periodic token sequences: the next token and a hidden token follow from their neighbours
    phases = torch.randint(0, 5, (256, 1))
    x = (torch.arange(24)[None, :] + phases) % 5
    task = load_task("order", length=24)
    model = build_model(replace(task.spec, n_inputs=5), ModelConfig(mixer="gru", d_model=32, causal=True))
    corpus = Corpus(x, None, "tokens", 5)
    config = PretrainConfig(objective=objective, steps=60)
    pretraining = PretrainingModel(model, config)
    start = pretraining.monitor_loss(corpus.held_out()[1], "cpu")
    result = pretrain(model, corpus, config, TrainConfig(steps=60, batch_size=16, lr=1e-2, eval_every=20))
    assert result.best_val["loss"] < 0.5 * start


def test_init_reproduces_the_pretrained_backbone_bit_for_bit_and_keeps_a_fresh_head(tmp_path):
    settings = PretrainConfig(objective="masked", steps=3)
    pretrained, _ = pretrain_and_save("order", {"length": 12}, ModelConfig(mixer="transformer", d_model=16), settings,
                                      TINY_TRAIN, tmp_path / "backbone")
    task = load_task("order", length=12)
    torch.manual_seed(7)
    fresh = build_model(task.spec, pretrained.model)
    head = {name: value.clone() for name, value in fresh.head.state_dict().items()}
    load_backbone(fresh, tmp_path / "backbone")
    loaded = backbone_state(fresh)
    assert loaded.keys() == pretrained.weights.keys()
    assert all(torch.equal(loaded[name], pretrained.weights[name]) for name in loaded)
    assert all(torch.equal(fresh.head.state_dict()[name], value) for name, value in head.items())


def test_a_run_from_init_records_its_pretraining_and_its_own_setting(tmp_path):
    pretrain_and_save("order", {"length": 12}, ModelConfig(mixer="gru", d_model=16), PretrainConfig(
        objective="next", steps=2), TINY_TRAIN, tmp_path / "backbone")
    config = RunConfig(task="order", task_options={"length": 12}, init=str(tmp_path / "backbone"),
                       model={"mixer": "gru", "d_model": 16, "causal": True}, train=TINY_TRAIN)
    record = execute(config)
    assert record.completed and record.pretraining["objective"] == "next" and record.pretraining["steps"] == 2
    assert "init=backbone" in config.setting()


def seqarena(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seqarena", *args], capture_output=True, text=True, timeout=120)


def test_a_wrong_shape_init_stops_with_one_line(tmp_path):
    made = seqarena("pretrain", "--model", "transformer", "--task", "order", "--task-option", "length=12",
                    "--positional", "learned", "--d-model", "16", "--objective", "masked", "--steps", "2",
                    "--save", str(tmp_path / "backbone"))
    assert made.returncode == 0, made.stderr
    assert "saved to" in made.stdout
    result = seqarena("train", "--task", "order", "--task-option", "length=20", "--init", str(tmp_path / "backbone"),
                      "--steps", "2", "--store", str(tmp_path / "r.sqlite"))
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert "position.table" in result.stderr and "(12, 16)" in result.stderr and "(20, 16)" in result.stderr
    other = seqarena("train", "--task", "digits", "--init", str(tmp_path / "backbone"), "--steps", "2",
                     "--store", str(tmp_path / "r.sqlite"))
    assert other.returncode == 2 and other.stderr.strip().count("\n") == 0 and "features" in other.stderr


def test_pretraining_corpus_must_fit_the_task(tmp_path):
    config = RunConfig(task="order", task_options={"length": 12}, model={"mixer": "gru", "d_model": 16},
                       train=TINY_TRAIN, pretrain={"objective": "masked", "steps": 2, "corpus": "adding",
                                                   "corpus_options": {"length": 12}})
    task = load_task("order", length=12)
    with pytest.raises(ConfigError, match="pretrain on inputs of the same kind"):
        start_from(build_model(task.spec, config.model), config, task)


def test_pretraining_is_part_of_a_runs_setting_and_a_sweeps_protocol():
    sweep = SweepConfig(models=["gru"], tasks=["order"], seeds=[0], train={"steps": 100},
                        pretrain={"objective": "masked", "steps": 200})
    [config] = sweep.configs()
    assert config.pretrain.steps == 200 and "pretrain=masked x200" in config.setting()
    assert "300 steps in all" in protocol(sweep)
    plain = config.model_copy(update={"pretrain": None})
    assert plain.key() == RunConfig(task="order", model=config.model, train=config.train).key()
    assert corpus_for(load_task("order")).x is load_task("order").train.x
    assert isinstance(load_task("order").train, Split)


def test_compare_arms_pretrained_and_equal_compute_differ_only_in_pretraining():
    from seqarena.config import CompareConfig

    pretrained = CompareConfig(models=["gru"], seeds=[0], steps=100, pretrain={"objective": "next", "steps": 50})
    equal = pretrained.model_copy(update={"equal_compute": True})
    [with_pretraining] = pretrained.sweep("order", {}).configs()
    [without] = equal.sweep("order", {}).configs()
    assert with_pretraining.model == without.model and with_pretraining.model.causal
    assert (with_pretraining.train.steps, with_pretraining.pretrain.steps) == (100, 50)
    assert (without.train.steps, without.pretrain) == (150, None)
    with pytest.raises(ValueError, match="give pretrain too"):
        CompareConfig(equal_compute=True)

import math
import time

import pytest
import torch
from torch import nn

from seqarena.models import build_model
from seqarena.settings import ModelConfig, TrainConfig
from seqarena.tasks import load_task
from seqarena.train import fit, learning_rate, seed_everything


def train_small(seed: int, dropout: float = 0.1, **overrides):
    task = load_task("adding", length=10, n_train=256, n_val=64, n_test=64)
    seed_everything(seed)
    model = build_model(task.spec, ModelConfig(mixer="gru", d_model=16, n_layers=1, dropout=dropout))
    config = TrainConfig(steps=20, batch_size=16, eval_every=10, seed=seed, **overrides)
    batches = task.batches(config.batch_size, torch.Generator().manual_seed(seed))
    return fit(model, batches, lambda m: task.evaluate(m, "val"), config), model


def test_same_seed_gives_an_identical_loss_curve():
    first, _ = train_small(3)
    second, _ = train_small(3)
    other, _ = train_small(4)
    assert [r["loss"] for r in first.history] == [r["loss"] for r in second.history]
    assert [r["loss"] for r in first.history] != [r["loss"] for r in other.history]


def test_result_reports_throughput_memory_and_validation():
    result, _ = train_small(0)
    assert result.steps == 20 and result.tokens_per_second > 0 and result.peak_memory_bytes > 0
    assert result.peak_memory_kind == "process_peak_rss"
    assert {"loss", "mse"} <= set(result.best_val) and result.best_step in (10, 20)


def test_warmup_then_cosine_schedule():
    config = TrainConfig(steps=100, lr=1.0, warmup=0.1, min_lr_ratio=0.1)
    assert learning_rate(0, config) == pytest.approx(0.1)
    assert learning_rate(9, config) == pytest.approx(1.0)
    assert learning_rate(10, config) == pytest.approx(1.0)
    assert learning_rate(55, config) == pytest.approx(0.55)
    assert learning_rate(100, config) == pytest.approx(0.1)


class Flat(nn.Module):
    """A model whose validation never improves after the first evaluation."""

    def __init__(self, value: float):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(1.0))
        self.value = value

    def forward(self, batch):
        return self.weight * 0 + self.value


def endless_batches():
    while True:
        yield {"x": torch.zeros(1, 1)}


def test_early_stopping_after_patience_evaluations():
    config = TrainConfig(steps=100, eval_every=5, patience=2)
    result = fit(Flat(1.0), endless_batches(), lambda m: {"loss": 1.0}, config)
    assert result.stopped_early and result.steps == 15 and result.best_step == 5


def test_a_cooldown_decays_the_rate_linearly_once_patience_runs_out_then_stops():
    config = TrainConfig(steps=100, eval_every=5, patience=2, cooldown=7, lr=1.0, warmup=0, min_lr_ratio=0.1)
    validated = []
    def evaluate(model):
        validated.append(len(validated))
        return {"loss": 1.0}
    result = fit(Flat(1.0), endless_batches(), evaluate, config)
    rates = [record["lr"] for record in result.history]
    # patience runs out at step 15; the next 7 steps decay from the cosine's rate there to the floor, the last
    # of them validated
    assert result.stopped_early and result.steps == 22 and result.best_step == 5
    assert rates[15] == pytest.approx(0.1 + 6 / 7 * (learning_rate(15, config) - 0.1)) and rates[21] == 0.1
    assert all(later < earlier for earlier, later in zip(rates[15:], rates[16:22]))
    assert len(validated) == 5 and "val_loss" in result.history[21]


def test_a_cooldown_ends_at_the_step_cap_when_that_comes_first():
    config = TrainConfig(steps=18, eval_every=5, patience=2, cooldown=10)
    result = fit(Flat(1.0), endless_batches(), lambda m: {"loss": 1.0}, config)
    assert not result.stopped_early and result.steps == 18


def test_non_finite_loss_is_reported_as_divergence():
    result = fit(Flat(math.nan), endless_batches(), lambda m: {"loss": 1.0}, TrainConfig(steps=10))
    assert result.diverged and result.steps == 0


def test_best_validation_weights_are_restored():
    evaluations = iter([{"loss": 1.0}, {"loss": 5.0}])

    class Drifting(Flat):
        def forward(self, batch):
            return self.weight

    model = Drifting(0.0)
    weights = []
    def evaluate(m):
        weights.append(m.weight.item())
        return next(evaluations)
    fit(model, endless_batches(), evaluate, TrainConfig(steps=10, eval_every=5, lr=0.1, warmup=0))
    assert model.weight.item() == pytest.approx(weights[0])
    assert weights[0] != weights[1]


def test_progress_is_silent_when_output_is_not_a_terminal(capsys):
    train_small(0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_micro_batches_accumulate_to_the_whole_batch_gradient():
    # without dropout: its masks are drawn per micro-batch, so they differ from the whole batch's
    whole, whole_model = train_small(1, dropout=0.0)
    split, split_model = train_small(1, dropout=0.0, micro_batch_size=4)
    assert split.micro_batch_size == 4
    losses = [r["loss"] for r in whole.history], [r["loss"] for r in split.history]
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)
    for name, tensor in whole_model.state_dict().items():
        torch.testing.assert_close(split_model.state_dict()[name], tensor, rtol=1e-4, atol=1e-5)


def test_out_of_memory_halves_the_micro_batch_and_keeps_the_batch():
    seen = []

    class Hungry(Flat):
        def forward(self, batch):
            seen.append(batch["x"].shape[0])
            if batch["x"].shape[0] > 3:
                raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
            return (self.weight - 2) ** 2

    def batches():
        while True:
            yield {"x": torch.zeros(10, 1)}

    result = fit(Hungry(0.0), batches(), lambda m: {"loss": 1.0}, TrainConfig(steps=3, batch_size=10))
    assert result.micro_batch_size == 2 and result.steps == 3 and not result.diverged
    # 10 fails, 5 fails, then 2, 2, 2, 2, 2 for every step
    assert seen[:2] == [10, 5] and seen[2:] == [2] * 15


def test_a_time_budget_ends_training_and_finishes_the_schedule():
    config = TrainConfig(steps=1000, lr=1.0, warmup=0.0, min_lr_ratio=0.1, time_budget=10.0)
    assert learning_rate(0, config, elapsed=5.0) == pytest.approx(0.55)
    assert learning_rate(900, config, elapsed=1.0) == pytest.approx(learning_rate(900, config.model_copy(
        update={"time_budget": None})))
    assert learning_rate(10, config, elapsed=20.0) == pytest.approx(0.1)

    class Slow(Flat):
        def forward(self, batch):
            time.sleep(0.01)
            return self.weight ** 2

    result = fit(Slow(0.0), endless_batches(), lambda m: {"loss": 1.0},
                 TrainConfig(steps=10_000, eval_every=1000, time_budget=0.2))
    assert 5 <= result.steps < 40 and result.stopped_early and "val_loss" in result.history[-1]


def test_bf16_autocast_trains_in_bfloat16_and_keeps_float32_weights():
    from seqarena.settings import TrainConfig
    from seqarena.train import autocast

    model = torch.nn.Linear(4, 4)
    config = TrainConfig(precision="bf16")
    with autocast(config):
        assert model(torch.randn(2, 4)).dtype == torch.bfloat16
    with autocast(TrainConfig()):
        assert model(torch.randn(2, 4)).dtype == torch.float32
    assert model.weight.dtype == torch.float32


def test_runs_share_a_gpu_as_its_memory_and_the_cores_allow(monkeypatch):
    from types import SimpleNamespace

    from seqarena.engine import runner

    monkeypatch.setattr(runner.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(runner.torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(runner.torch.cuda, "get_device_properties", lambda index: SimpleNamespace(
        total_memory=139 * 2**30))
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 16)
    assert runner.machine_workers("cuda") == runner.MAX_RUNS_PER_GPU
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 4)
    assert runner.machine_workers("cuda") == 4
    monkeypatch.setattr(runner.torch.cuda, "get_device_properties", lambda index: SimpleNamespace(
        total_memory=16 * 2**30))
    assert runner.machine_workers("cuda") == 2

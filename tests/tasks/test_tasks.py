import numpy as np
import pytest
import torch

from seqarena.errors import ConfigError
from seqarena.models import MIXERS, build_model
from seqarena.settings import ModelConfig
from seqarena.tasks import TASKS, load_task


def test_adding_targets_sum_the_two_marked_values_one_per_half():
    task = load_task("adding", length=20, n_train=300, n_val=10, n_test=10)
    x, y = task.train.x, task.train.y
    markers = x[..., 1]
    assert torch.equal(markers.sum(1), torch.full((300,), 2.0))
    assert torch.equal(markers[:, :10].sum(1), torch.ones(300))
    torch.testing.assert_close((x[..., 0] * markers).sum(1, keepdim=True), y)


def test_adding_chance_level_is_the_variance_of_the_target():
    task = load_task("adding", length=10, n_train=20000, n_val=10, n_test=20000)
    assert task.spec.chance == pytest.approx(1 / 6, abs=0.01)


def test_digits_splits_are_disjoint_stratified_and_cover_the_data():
    task = load_task("digits")
    rows = [set(map(tuple, split.x[..., 0].numpy().round(4))) for split in (task.train, task.val, task.test)]
    assert sum(len(split) for split in (task.train, task.val, task.test)) == 1797
    assert not rows[1] & rows[2]
    for split in (task.val, task.test):
        counts = np.bincount(split.y.numpy(), minlength=10)
        assert counts.min() >= 30
    assert 0.05 < task.spec.chance < 0.15 and task.spec.baseline > 0.9


@pytest.mark.parametrize("task_name", list(TASKS))
@pytest.mark.parametrize("model_name", list(MIXERS))
def test_every_model_takes_a_training_step_on_every_task(task_name, model_name):
    task = load_task(task_name)
    model = build_model(task.spec, ModelConfig(mixer=model_name, d_model=8, n_layers=1))
    batch = next(task.batches(4, torch.Generator().manual_seed(0)))
    loss = model(batch)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in model.parameters())


def test_unknown_task_and_bad_options_are_named():
    with pytest.raises(ConfigError, match="unknown task 'imagenet'"):
        load_task("imagenet")
    with pytest.raises(ConfigError, match="length"):
        load_task("adding", length="long")
    with pytest.raises(ConfigError, match="colour"):
        load_task("adding", colour=3)


def test_a_training_fraction_keeps_every_class_and_refits_the_baseline_on_it():
    """5% of digits: six sequences of each class (a random 1% once held 11 sequences for 10 classes), and the
    logistic baseline fit on those 60 sequences, not on all 1,078."""
    full = load_task("digits")
    small = full.with_training_fraction(0.05)
    assert torch.bincount(small.train.y).tolist() == [6] * 10
    assert small.spec.baseline < full.spec.baseline and "fit on the same subset" in small.spec.baseline_name
    assert len(small.val) == len(full.val) and len(small.test) == len(full.test)


def test_a_learning_curve_refuses_a_smallest_fraction_without_every_class_several_times():
    from seqarena.measure.learning import DataSizeOptions, check_smallest_subset

    check_smallest_subset(DataSizeOptions(task="digits", fractions=[0.05, 1.0]))
    with pytest.raises(ConfigError, match="fraction 0.01 holds class 0 only 2 times"):
        check_smallest_subset(DataSizeOptions(task="digits", fractions=[0.01, 1.0]))

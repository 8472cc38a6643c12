import math

import pytest
import torch

from seqarena.spec import IGNORE
from seqarena.tasks import load_task
from seqarena.tasks.synthetic import LISTOPS_CLOSE, LISTOPS_OPEN, LISTOPS_OPERATORS, order


def small(name, **options):
    return load_task(name, n_train=200, n_val=20, n_test=400, **options)


def test_copy_memory_layout_and_memoryless_chance():
    task = small("copy_memory", length=30)
    x, y = task.train.x, task.train.y
    assert x.shape == (200, 50) and torch.equal(x[:, 39], torch.full((200,), 9))
    assert torch.equal(y[:, -10:], x[:, :10]) and not y[:, :-10].any() and not x[:, 10:39].any()
    # label frequencies per position are the memoryless strategy: about 10 ln 8 / (T + 20) nats
    assert task.spec.chance == pytest.approx(10 * math.log(8) / 50, rel=0.02)


def test_selective_copy_asks_for_the_scattered_symbols_in_order():
    task = small("selective_copy", length=40, n_tokens=5)
    for x, y in zip(task.train.x[:20], task.train.y[:20]):
        scattered = x[:40][x[:40] >= 2] - 2
        assert len(scattered) == 5 and torch.equal(y[40:], scattered)
        assert (x[40:] == 1).all() and (y[:40] == IGNORE).all()


def test_associative_recall_labels_each_query_with_its_value():
    task = small("associative_recall", length=40, n_pairs=6, n_keys=10, n_values=10)
    for x, y in zip(task.train.x[:20], task.train.y[:20]):
        pairs = dict(zip(x[0:12:2].tolist(), (x[1:12:2] - 11).tolist()))
        asked = (y != IGNORE).nonzero().flatten()
        assert len(asked) == 6 and all(y[p].item() == pairs[x[p].item()] for p in asked)
        assert sorted(x[asked].tolist()) == sorted(pairs)


def test_order_labels_which_marker_comes_first_and_swapping_them_flips_it():
    task = order(length=12, n_symbols=4, n_train=400, n_val=10, n_test=200)
    x, y = task.train.x, task.train.y
    first, second = (x == 4).int().argmax(1), (x == 5).int().argmax(1)
    assert ((x == 4).sum(1) == 1).all() and ((x == 5).sum(1) == 1).all()
    assert torch.equal(y, (first < second).long())
    swapped = x.clone()
    swapped[x == 4], swapped[x == 5] = 5, 4
    assert torch.equal((swapped == 4).int().argmax(1) < (swapped == 5).int().argmax(1), ~(first < second))
    assert 0.4 < y.float().mean() < 0.6 and task.spec.chance < 0.6


def test_parity_labels_and_the_linear_baseline_fails():
    task = small("parity", length=16)
    assert torch.equal(task.train.y, task.train.x.sum(1) % 2)
    assert task.spec.baseline < 0.65


def evaluate(tokens):
    """An independent evaluator: reads the token list back as nested lists."""
    names = {token: name for name, token in LISTOPS_OPEN.items()}
    stack = [[]]
    for token in tokens:
        if token in names:
            stack.append([names[token]])
        elif token == LISTOPS_CLOSE:
            name, *values = stack.pop()
            stack[-1].append(LISTOPS_OPERATORS[name](values))
        else:
            stack[-1].append(token - 1)
    return stack[0][0]


def test_listops_values_brackets_and_padding():
    task = small("listops", length=64)
    assert task.train.x.shape == (200, 64)
    for x, y, mask in zip(task.train.x, task.train.y, task.train.mask):
        tokens = x[mask].tolist()
        assert mask.sum() == len(tokens) and not x[~mask].any()
        assert tokens.count(LISTOPS_CLOSE) == sum(tokens.count(t) for t in LISTOPS_OPEN.values())
        assert evaluate(tokens) == y.item()


@pytest.mark.parametrize("name", ["copy_memory", "selective_copy", "associative_recall", "parity", "listops", "order"])
def test_probes_are_reproducible_and_splits_differ(name):
    first, second = small(name, seed=3), load_task(name, n_train=200, n_val=20, n_test=400, seed=3)
    assert torch.equal(first.train.x, second.train.x)
    assert not torch.equal(first.train.x[:20], first.test.x[:20])

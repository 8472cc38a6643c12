"""The Kneser-Ney n-gram reference (measure/ngram.py) against its naive twin, a dictionary of n-gram counts read
one position at a time; a distribution at every context; the reference row of a language-modelling task."""

import itertools
from collections import Counter

import numpy as np
import pytest
import torch

from seqarena.measure.ngram import bits_by_order, count_orders, fit_kneser_ney, stream, window_probabilities
from seqarena.measure.references import reference_rows
from seqarena.tasks.base import Split
from seqarena.tasks.text import text_windows

VOCAB = 5


def naive_kneser_ney(train: list[int], order: int, vocab: int):
    """P(w | context) by the recursion as written: raw counts at the highest order, continuation counts below,
    one discount n1 / (n1 + 2 n2) per order, uniform below the unigram."""
    grams = {n: Counter(tuple(train[i:i + n]) for i in range(len(train) - n + 1)) for n in range(1, order + 1)}
    counts = {order: grams[order]}
    for n in range(1, order):
        counts[n] = Counter(gram[1:] for gram in grams[n + 1])
    discounts = {}
    for n, table in counts.items():
        n1, n2 = sum(v == 1 for v in table.values()), sum(v == 2 for v in table.values())
        discounts[n] = n1 / (n1 + 2 * n2) if n1 and n2 else 0.5

    def probability(word: int, context: tuple[int, ...]) -> float:
        n = len(context) + 1
        lower = 1.0 / vocab if n == 1 else probability(word, context[1:])
        after = {gram: value for gram, value in counts[n].items() if gram[:-1] == context}
        total = sum(after.values())
        if total == 0:
            return lower
        discount = discounts[n]
        return (max(after.get((*context, word), 0) - discount, 0) + discount * len(after) * lower) / total

    return probability


def random_text(length: int, seed: int) -> np.ndarray:
    """A Markov chain over VOCAB symbols with a skewed transition table, so every order has something to learn."""
    generator = np.random.default_rng(seed)
    transitions = generator.dirichlet(np.full(VOCAB, 0.3), size=VOCAB)
    ids = [0]
    for _ in range(length - 1):
        ids.append(int(generator.choice(VOCAB, p=transitions[ids[-1]])))
    return np.array(ids)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_the_vectorised_model_matches_its_naive_twin_at_every_window_position(order):
    train, test = random_text(600, 0), random_text(121, 1)
    windows = text_windows(test, 8)
    fast = window_probabilities(fit_kneser_ney(train, VOCAB, order), windows, VOCAB)
    naive = naive_kneser_ney(train.tolist(), order, VOCAB)
    x, y = windows.x.tolist(), windows.y.tolist()
    expected = [[naive(y[i][j], tuple(x[i][max(0, j - order + 2):j + 1])) for j in range(8)] for i in range(len(x))]
    np.testing.assert_allclose(fast, expected, rtol=1e-12)


def test_every_context_gets_a_distribution_over_the_vocabulary():
    tables = fit_kneser_ney(random_text(400, 2), VOCAB, 3)
    contexts = list(itertools.product(range(VOCAB), repeat=2))
    x = torch.tensor([[a, b] for a, b in contexts for _ in range(VOCAB)])
    y = torch.tensor([[0, word] for _ in contexts for word in range(VOCAB)])
    total = window_probabilities(tables, Split(x, y), VOCAB)[:, 1].reshape(len(contexts), VOCAB).sum(1)
    np.testing.assert_allclose(total, 1.0, rtol=1e-12)


def test_the_window_stream_is_the_text_the_windows_were_cut_from():
    ids = random_text(101, 3)
    np.testing.assert_array_equal(stream(text_windows(ids, 10)), ids)


def test_a_language_modelling_task_gets_the_n_gram_row_with_its_order_chosen_on_validation(tmp_path):
    text = tmp_path / "verses.txt"
    text.write_text(" ".join(["in the beginning god created the heaven and the earth"] * 200))
    (row,) = reference_rows("txt", {"path": str(text), "context": 32})
    assert (row.model, row.metric) == ("Kneser-Ney n-gram", "bpc")
    assert row.test_score < 0.5 and "chosen on validation" in row.detail


def test_higher_orders_learn_what_the_bigram_cannot():
    ids = np.array([0, 1, 0, 2, 0, 3, 0, 4] * 100)
    windows = text_windows(ids, 16)
    bits = {order: float(-np.log2(window_probabilities(fit_kneser_ney(ids, VOCAB, order), windows, VOCAB)).mean())
            for order in (2, 4)}
    assert bits[4] < 0.2 < bits[2]


def test_one_counting_scores_every_order_as_each_order_alone_does():
    train, windows = random_text(600, 4), text_windows(random_text(121, 5), 8)
    alone = [float(-np.log2(window_probabilities(fit_kneser_ney(train, VOCAB, order), windows, VOCAB)).mean())
             for order in range(1, 6)]
    np.testing.assert_allclose(bits_by_order(count_orders(train, VOCAB, 5), windows, VOCAB), alone, rtol=1e-12)

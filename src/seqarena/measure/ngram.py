"""The classical reference of a language-modelling task: a character (or byte) n-gram model with interpolated
Kneser-Ney smoothing (Kneser & Ney 1995; the interpolated form of Chen & Goodman 1999, section 3, with one absolute
discount per order, D = n1 / (n1 + 2 n2)), counted on the training split and scored on the test split's windows
exactly as the models are: the symbol after position j of a window is predicted from that window's symbols up to j,
so the first positions of a window fall back to the lower orders as a model sees less context there. The order is
chosen on the validation split, as a model's learning rate is.

    P_n(w | h) = max(c(h w) - D_n, 0) / c(h) + D_n N1+(h •) / c(h) P_{n-1}(w | h')      (c(h) > 0; else P_{n-1})

with raw counts at the highest order and continuation counts N1+(• h w) below it; P_0 is uniform over the
vocabulary, so a symbol never seen in training keeps a probability. Every n-gram is one integer key (base V), so
counting is a sort and every lookup a binary search over the test positions at once."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from seqarena.tasks.base import Split, Task

# the orders tried on validation; 1 is the unigram
ORDERS = range(1, 9)


@dataclass(frozen=True)
class OrderCounts:
    """One order's n-gram keys (sorted) and counts, and per context (the key without its last symbol) the total
    count and the number of distinct symbols after it."""

    keys: np.ndarray
    counts: np.ndarray
    contexts: np.ndarray
    context_totals: np.ndarray
    context_types: np.ndarray
    discount: float


def stream(split: Split) -> np.ndarray:
    """The token stream the split's non-overlapping windows were cut from (its trailing partial window aside)."""
    x = split.x.numpy()
    return np.concatenate([x.reshape(-1), split.y.numpy()[-1:, -1]]).astype(np.int64)


def ngram_keys(ids: np.ndarray, order: int, base: int) -> np.ndarray:
    """The key of every n-gram of this order in the stream: sum of ids[i + k] * base^(order - 1 - k)."""
    keys = np.zeros(len(ids) - order + 1, dtype=np.int64)
    for offset in range(order):
        keys = keys * base + ids[offset:len(ids) - order + 1 + offset]
    return keys


def order_counts(keys: np.ndarray, counts: np.ndarray, base: int) -> OrderCounts:
    """Counts grouped by context; the discount from the counts of count 1 and 2 (0.5 when either is missing)."""
    contexts, first = np.unique(keys // base, return_index=True)
    totals = np.add.reduceat(counts, first)
    types = np.diff(np.append(first, len(keys)))
    n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
    discount = n1 / (n1 + 2 * n2) if n1 and n2 else 0.5
    return OrderCounts(keys, counts, contexts, totals, types, float(discount))


@dataclass(frozen=True)
class Counted:
    """The counts of every order up to the highest tried: raw counts (a model's highest order) and continuation
    counts (its lower orders), so the models of every order share one counting."""

    raw: list[OrderCounts]
    continuation: list[OrderCounts]

    def tables(self, order: int) -> list[OrderCounts]:
        """The order-n model's tables, orders 1..n."""
        return [*self.continuation[:order - 1], self.raw[order - 1]]


def count_orders(train: np.ndarray, vocab: int, highest: int) -> Counted:
    """Raw counts of orders 1..highest; continuation counts N1+(• w_1..w_k), the distinct (k+1)-grams ending in each
    k-gram, of orders 1..highest - 1."""
    raw, continuation = [], []
    for order in range(1, highest + 1):
        keys, counts = np.unique(ngram_keys(train, order, vocab), return_counts=True)
        raw.append(order_counts(keys, counts, vocab))
        if order > 1:
            continuation.append(order_counts(*np.unique(keys % vocab ** (order - 1), return_counts=True), vocab))
    return Counted(raw, continuation)


def fit_kneser_ney(train: np.ndarray, vocab: int, order: int) -> list[OrderCounts]:
    """Per order 1..order: raw counts at the highest, continuation counts (distinct left neighbours) below it."""
    return count_orders(train, vocab, order).tables(order)


def looked_up(table: np.ndarray, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """values[i] where table[i] == query, else 0."""
    at = np.clip(np.searchsorted(table, queries), 0, len(table) - 1)
    return np.where(table[at] == queries, values[at], 0)


def window_contexts(x: np.ndarray, vocab: int, highest: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per order 1..highest, the key of the last order - 1 symbols up to each window position j, and whether the
    window holds that many there."""
    context = np.zeros_like(x)
    for order in range(1, highest + 1):
        if order > 1:
            # one more symbol, x[j - order + 2], at the highest place
            shifted = np.zeros_like(x)
            shifted[:, order - 2:] = x[:, :x.shape[1] - order + 2]
            context = shifted * vocab ** (order - 2) + context
        yield context, np.arange(x.shape[1])[None, :] + 1 >= order - 1


def interpolated(counts: OrderCounts, vocab: int, context: np.ndarray, seen: np.ndarray, y: np.ndarray,
                 lower: np.ndarray) -> np.ndarray:
    """One order's step of the recursion: its discounted count interpolated with the lower order's probability,
    which stands alone where the window is too short for the context or the context was never counted."""
    totals = looked_up(counts.contexts, counts.context_totals, context)
    types = looked_up(counts.contexts, counts.context_types, context)
    pairs = looked_up(counts.keys, counts.counts, context * vocab + y)
    smoothed = (np.maximum(pairs - counts.discount, 0) + counts.discount * types * lower) / np.maximum(totals, 1)
    return np.where(seen & (totals > 0), smoothed, lower)


def window_probabilities(tables: list[OrderCounts], split: Split, vocab: int) -> np.ndarray:
    """P(y[i, j] | x[i, :j + 1]) for every window position, each position using at most the symbols of its window."""
    x, y = split.x.numpy().astype(np.int64), split.y.numpy().astype(np.int64)
    probability = np.full(y.shape, 1.0 / vocab)
    for counts, (context, seen) in zip(tables, window_contexts(x, vocab, len(tables))):
        probability = interpolated(counts, vocab, context, seen, y, probability)
    return probability


def bits_by_order(counted: Counted, split: Split, vocab: int) -> list[float]:
    """Bits per symbol of the models of every order counted, in one pass: the order-n model's top step reads the
    order-(n-1) continuation probability that the models above it share."""
    x, y = split.x.numpy().astype(np.int64), split.y.numpy().astype(np.int64)
    lower, bits = np.full(y.shape, 1.0 / vocab), []
    for order, (context, seen) in enumerate(window_contexts(x, vocab, len(counted.raw)), start=1):
        top = interpolated(counted.raw[order - 1], vocab, context, seen, y, lower)
        bits.append(float(-np.log2(top).mean()))
        if order < len(counted.raw):
            lower = interpolated(counted.continuation[order - 1], vocab, context, seen, y, lower)
    return bits


def usable_orders(vocab: int) -> list[int]:
    """The orders whose keys fit in 62 bits."""
    return [order for order in ORDERS if order * math.log2(max(vocab, 2)) <= 62]


def kneser_ney_reference(task: Task) -> tuple[str, float, float, str]:
    """(method, test bits per symbol at the order with the best validation bits, seconds to fit and score every
    order tried, detail)."""
    started = time.perf_counter()
    vocab, orders = task.spec.n_inputs, usable_orders(task.spec.n_inputs)
    counted = count_orders(stream(task.train), vocab, orders[-1])
    validation, test = (bits_by_order(counted, split, vocab) for split in (task.val, task.test))
    best = min(range(len(orders)), key=validation.__getitem__)
    return ("Kneser-Ney n-gram", test[best], time.perf_counter() - started,
            f"order {orders[best]} of {orders[0]}-{orders[-1]} chosen on validation ({validation[best]:.3f} bits), "
            "interpolated Kneser-Ney counted on the training split")

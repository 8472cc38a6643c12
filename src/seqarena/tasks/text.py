"""Text: character-level language modelling (bits per character) and byte-level text classification; and the
King James Bible, a public-domain corpus shipped inside this package (data/kjv.tsv.gz, see data/README.md)."""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources

import numpy as np
import torch

from seqarena.errors import DataError
from seqarena.spec import TaskSpec
from seqarena.tasks.base import Split, Task, split_points
from seqarena.tasks.sequences import About, labelled_task, pad, stratified_parts

TEXT_FRACTIONS = (0.9, 0.05, 0.05)
UNKNOWN = "\ufffd"


def text_windows(ids: np.ndarray, context: int) -> Split:
    """Non-overlapping windows: x = ids[i : i + context], y = ids[i + 1 : i + context + 1]."""
    count = (len(ids) - 1) // context
    x = ids[:count * context].reshape(count, context)
    y = ids[1:count * context + 1].reshape(count, context)
    return Split(torch.tensor(x, dtype=torch.long), torch.tensor(y, dtype=torch.long))


def ngram_bits(train: np.ndarray, test: np.ndarray, vocab: int, order: int) -> float:
    """Bits per character on test of a unigram (order 1) or bigram (order 2) model counted on train."""
    if order == 1:
        counts = np.bincount(train, minlength=vocab) + 0.01
        return float(-np.log2(counts[test] / counts.sum()).mean())
    pairs = np.zeros((vocab, vocab))
    np.add.at(pairs, (train[:-1], train[1:]), 1)
    pairs += 0.01
    probabilities = pairs / pairs.sum(1, keepdims=True)
    return float(-np.log2(probabilities[test[:-1], test[1:]]).mean())


def character_lm(text: str, context: int, about: About, source: str) -> Task:
    """Split 90/5/5 in reading order, windows of `context` characters, bits per character. The vocabulary is
    the training part's characters plus one unknown symbol."""
    train_end, val_end = split_points(len(text), TEXT_FRACTIONS)
    if min(val_end - train_end, len(text) - val_end) < context + 1:
        raise DataError(f"{source} has {len(text)} characters: its 5% validation and test parts need at least "
                        f"{context + 1} each (context {context}); use a longer text or a smaller context")
    vocabulary = tuple(sorted(set(text[:train_end]))) + (UNKNOWN,)
    index = {char: i for i, char in enumerate(vocabulary)}
    ids = np.array([index.get(char, len(vocabulary) - 1) for char in text], dtype=np.int64)
    parts = ids[:train_end], ids[train_end:val_end], ids[val_end:]
    train, val, test = (text_windows(part, context) for part in parts)
    spec = TaskSpec(
        name=about.name, kind="lm", input_kind="tokens", n_inputs=len(vocabulary), n_outputs=len(vocabulary),
        seq_len=context, causal=True, metric="bpc",
        chance=ngram_bits(parts[0], parts[2], len(vocabulary), 1), chance_name="unigram character frequencies",
        baseline=ngram_bits(parts[0], parts[2], len(vocabulary), 2),
        baseline_name="bigram: the next character given the current one", domain=about.domain,
        licence=about.licence, description=about.description,
    )
    return Task(spec, train, val, test, vocabulary)


def byte_sequences(texts: list[str], max_bytes: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Texts as UTF-8 byte ids (N, T <= max_bytes) with their mask, and how many texts were cut at max_bytes."""
    encoded = [np.frombuffer(text.encode("utf-8")[:max_bytes], dtype=np.uint8).astype(np.int64) for text in texts]
    ids, mask = pad(encoded)
    return ids, mask, sum(len(text.encode("utf-8")) > max_bytes for text in texts)


def text_classification(texts: list[str], labels: np.ndarray, parts: tuple[np.ndarray, np.ndarray, np.ndarray],
                        max_bytes: int, about: About) -> Task:
    """Byte-level classification: each text is read as its UTF-8 bytes (vocabulary 256), cut at `max_bytes`."""
    ids, mask, cut = byte_sequences(texts, max_bytes)
    described = about.description + (f"; {cut} of {len(texts)} texts cut at {max_bytes} bytes" if cut else "")
    return labelled_task(ids, mask, labels, parts, replace(about, description=described))


@dataclass(frozen=True)
class Verse:
    book: str
    chapter: int
    text: str


KJV_LICENCE = ("public domain (King James Version, 1611), text from Debian's bible-kjv-text 4.38; "
               "shipped in this package")
# The Protestant canon's divisions, as consecutive runs of books: (division, number of books)
KJV_DIVISIONS = (("law", 5), ("history", 12), ("poetry", 5), ("prophets", 17), ("gospels and acts", 5),
                 ("epistles and revelation", 22))


@lru_cache(maxsize=1)
def kjv_verses() -> tuple[Verse, ...]:
    """The 31,102 verses of the King James Bible in canonical order."""
    packed = resources.files("seqarena.tasks").joinpath("data/kjv.tsv.gz").read_bytes()
    rows = csv.DictReader(io.StringIO(gzip.decompress(packed).decode("ascii")), delimiter="\t",
                          quoting=csv.QUOTE_NONE)
    return tuple(Verse(verse["book"], int(verse["chapter"]), verse["text"]) for verse in rows)


def kjv_lm(context: int = 128) -> Task:
    """Character-level language modelling of the whole King James Bible, one verse per line (4.3 M characters)."""
    text = "\n".join(verse.text for verse in kjv_verses()) + "\n"
    about = About("kjv", "NLP: character-level language modelling", KJV_LICENCE,
                  f"the King James Bible, one verse per line, {len(text):,} characters, context {context}")
    return character_lm(text, context, about, "the King James Bible")


def kjv_divisions(max_bytes: int = 256, seed: int = 0) -> Task:
    """Which of six divisions of the Bible a verse comes from, read byte by byte. Whole chapters go to one
    split (70/10/20, stratified by division), so no chapter's neighbouring verses straddle train and test."""
    verses = kjv_verses()
    books = list(dict.fromkeys(verse.book for verse in verses))
    division_of_book = dict(zip(books, np.repeat(np.arange(len(KJV_DIVISIONS)), [n for _, n in KJV_DIVISIONS])))
    chapters = list(dict.fromkeys((verse.book, verse.chapter) for verse in verses))
    chapter_division = np.array([division_of_book[book] for book, _ in chapters], dtype=np.int64)
    chapter_part = np.empty(len(chapters), dtype=np.int64)
    for part, index in enumerate(stratified_parts(chapter_division, seed, val=0.1, test=0.2)):
        chapter_part[index] = part
    chapter_index = {chapter: i for i, chapter in enumerate(chapters)}
    verse_part = np.array([chapter_part[chapter_index[verse.book, verse.chapter]] for verse in verses])
    parts = tuple(np.flatnonzero(verse_part == part) for part in range(3))
    labels = np.array([division_of_book[verse.book] for verse in verses], dtype=np.int64)
    about = About("kjv_divisions", "NLP: text classification", KJV_LICENCE,
                  "which division of the Bible a verse is from (" + ", ".join(name for name, _ in KJV_DIVISIONS)
                  + f"), byte by byte; {len(verses):,} verses, chapters kept whole within a split",
                  tuple(name for name, _ in KJV_DIVISIONS))
    return text_classification([verse.text for verse in verses], labels, parts, max_bytes, about)

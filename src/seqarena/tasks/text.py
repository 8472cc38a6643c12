"""Text: character-level language modelling (bits per character) and byte-level text classification; and the
King James Bible, a public-domain corpus shipped inside this package (data/kjv.tsv.gz, see data/README.md)."""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Literal

import numpy as np
import torch

from seqarena.errors import DataError
from seqarena.spec import TaskSpec
from seqarena.tasks.base import Split, Task, split_points
from seqarena.tasks.sequences import About, labelled_task, pad, stratified_parts

TEXT_FRACTIONS = (0.9, 0.05, 0.05)
UNKNOWN = "\ufffd"
# how text becomes tokens: its characters, or its UTF-8 bytes
Alphabet = Literal["characters", "bytes"]


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


def character_lm(text: str, context: int, about: About, source: str, alphabet: Alphabet = "characters") -> Task:
    """Split 90/5/5 in reading order, then `text_parts_lm`."""
    train_end, val_end = split_points(len(text), TEXT_FRACTIONS)
    return text_parts_lm((text[:train_end], text[train_end:val_end], text[val_end:]), context, about, source,
                         alphabet)


def text_parts_lm(parts: tuple[str, str, str], context: int, about: About, source: str,
                  alphabet: Alphabet = "characters") -> Task:
    """Language modelling of train/val/test texts in windows of `context` symbols, bits per symbol. The
    vocabulary is the training part's characters plus one unknown symbol, or the 256 byte values of UTF-8 (the
    alphabet of the byte-level classification tasks, so a backbone pretrained here fits them)."""
    if min(len(parts[1]), len(parts[2])) < context + 1:
        raise DataError(f"{source} has {sum(map(len, parts))} characters: its validation and test parts need at "
                        f"least {context + 1} each (context {context}); use a longer text or a smaller context")
    if alphabet == "bytes":
        vocabulary = tuple(chr(byte) for byte in range(256))
        ids = [np.frombuffer(part.encode("utf-8"), dtype=np.uint8).astype(np.int64) for part in parts]
    else:
        vocabulary = tuple(sorted(set(parts[0]))) + (UNKNOWN,)
        index = {char: i for i, char in enumerate(vocabulary)}
        ids = [np.array([index.get(char, len(vocabulary) - 1) for char in part], dtype=np.int64) for part in parts]
    train, val, test = (text_windows(part, context) for part in ids)
    spec = TaskSpec(
        name=about.name, kind="lm", input_kind="tokens", n_inputs=len(vocabulary), n_outputs=len(vocabulary),
        seq_len=context, causal=True, metric="bpc",
        chance=ngram_bits(ids[0], ids[2], len(vocabulary), 1), chance_name=f"unigram {alphabet[:-1]} frequencies",
        baseline=ngram_bits(ids[0], ids[2], len(vocabulary), 2),
        baseline_name=f"bigram: the next {alphabet[:-1]} given the current one", domain=about.domain,
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
    """Byte-level classification: each text is read as its UTF-8 bytes (vocabulary 256, whichever bytes occur, so
    new texts and byte-level pretrained backbones fit), cut at `max_bytes`."""
    ids, mask, cut = byte_sequences(texts, max_bytes)
    described = about.description + (f"; {cut} of {len(texts)} texts cut at {max_bytes} bytes" if cut else "")
    return labelled_task(ids, mask, labels, parts, replace(about, description=described), vocab=256)


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


def kjv_lm(context: int = 128, split: Literal["reading", "chapters"] = "reading", alphabet: Alphabet = "characters",
           seed: int = 0) -> Task:
    """Character-level language modelling of the whole King James Bible, one verse per line (4.3 M characters),
    split 90/5/5 in reading order; or, with split="chapters", split by whole chapters exactly as `kjv_divisions`
    with the same seed splits them, so a model pretrained on this task's training text has never read a
    validation or test verse of the classification."""
    verses = kjv_verses()
    if split == "reading":
        text = "\n".join(verse.text for verse in verses) + "\n"
        about = About("kjv", "NLP: character-level language modelling", KJV_LICENCE,
                      f"the King James Bible, one verse per line, {len(text):,} characters, context {context}")
        return character_lm(text, context, about, "the King James Bible", alphabet)
    parts = tuple("\n".join(verses[i].text for i in part) + "\n" for part in kjv_chapter_parts(seed))
    about = About("kjv", "NLP: character-level language modelling", KJV_LICENCE,
                  f"the King James Bible, one verse per line, split by whole chapters as kjv_divisions (seed {seed}): "
                  f"{len(parts[0]):,} training characters, context {context}")
    return text_parts_lm(parts, context, about, "the King James Bible", alphabet)


def division_labels() -> np.ndarray:
    """Each verse's division (index into KJV_DIVISIONS)."""
    verses = kjv_verses()
    books = list(dict.fromkeys(verse.book for verse in verses))
    division_of_book = dict(zip(books, np.repeat(np.arange(len(KJV_DIVISIONS)), [n for _, n in KJV_DIVISIONS])))
    return np.array([division_of_book[verse.book] for verse in verses], dtype=np.int64)


def kjv_chapter_parts(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Verse indices of the train/val/test parts: whole chapters to one part (70/10/20, stratified by division)."""
    verses, labels = kjv_verses(), division_labels()
    chapters = list(dict.fromkeys((verse.book, verse.chapter) for verse in verses))
    chapter_index = {chapter: i for i, chapter in enumerate(chapters)}
    verse_chapter = np.array([chapter_index[verse.book, verse.chapter] for verse in verses])
    chapter_division = np.zeros(len(chapters), dtype=np.int64)
    chapter_division[verse_chapter] = labels
    chapter_part = np.empty(len(chapters), dtype=np.int64)
    for part, index in enumerate(stratified_parts(chapter_division, seed, val=0.1, test=0.2)):
        chapter_part[index] = part
    verse_part = chapter_part[verse_chapter]
    return tuple(np.flatnonzero(verse_part == part) for part in range(3))


def kjv_divisions(max_bytes: int = 256, seed: int = 0) -> Task:
    """Which of six divisions of the Bible a verse comes from, read byte by byte. Whole chapters go to one
    split (70/10/20, stratified by division), so no chapter's neighbouring verses straddle train and test."""
    verses = kjv_verses()
    about = About("kjv_divisions", "NLP: text classification", KJV_LICENCE,
                  "which division of the Bible a verse is from (" + ", ".join(name for name, _ in KJV_DIVISIONS)
                  + f"), byte by byte; {len(verses):,} verses, chapters kept whole within a split",
                  tuple(name for name, _ in KJV_DIVISIONS))
    return text_classification([verse.text for verse in verses], division_labels(), kjv_chapter_parts(seed),
                               max_bytes, about)

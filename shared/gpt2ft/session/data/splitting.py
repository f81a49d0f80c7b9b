"""Train / validation / test splits of a binary classification set, stratified by label.

Introduced in ``sprints/sprint11_classification/01_data`` (see
:mod:`gpt2ft.session.data.classification`). Our ``test`` is the reference test portion of
the data README's bag-of-words figures and ``train`` plus ``validation`` is exactly
the reference training portion, so the test split never depends on SEED; only the
validation slice (and any ``max_examples`` cap on train/validation) does.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from gpt2ft.session.data.sources import message

SPLITS = ("train", "validation", "test")
TEST_FRACTION, TEST_SEED = 0.2, 0  # the README's "80/20 (seed 0)" reference split
VALIDATION_CAP = 872  # the size of SST-2's dev set; keeps 66k SST-2 rows for training

Part = tuple[list[str], list[int]]  # texts and their labels (0|1)
Parts = dict[str, Part]


def require_both_classes(labels: list[int], label_names: tuple[str, str], what: str,
                         file: Path | str | None, fix: str) -> None:
    """Refuse ``labels`` unless both classes occur in them.

    One class trains a model that always says it (SMS: accuracy 1.0 on an all-ham
    test, spam recall 0) and breaks the bag-of-words baseline deep in scikit-learn.
    """
    counts = Counter(labels)
    present = [label_names[v] for v in (0, 1) if counts[v]]
    if len(present) == 2:
        return
    found = f"all {len(labels):,} rows are {present[0]!r}" if present else "0 rows"
    raise ValueError(message(
        f"Only one class in {file or what}: a classifier needs both.", file=file, where=what,
        found=found, expected=f"both classes ({label_names[0]!r} and {label_names[1]!r}) "
                              "in every split used for training and evaluation", fix=fix))


def make_splits(parts: Parts, test_name: str, seed: int, validation_size: float | int | None,
                max_examples: int, label_names: tuple[str, str]) -> tuple[Parts, str]:
    """Our three splits of ``parts`` ("all", or "train" + "test") and a note on how they were made."""
    if "all" in parts:
        texts, labels = parts["all"]
        pool_idx, test_idx = _stratified(len(labels), labels, TEST_FRACTION, TEST_SEED)
        pool = _subset(parts["all"], pool_idx)
        test = _subset(parts["all"], test_idx)
        test_note = (f"test = a stratified 20 % of the {len(labels):,} rows "
                     "(train_test_split(test_size=0.2, random_state=0, stratify=label), "
                     "as for the data README's reference figures)")
    else:
        pool, test = parts["train"], parts["test"]
        test_note = f"test = {test_name} ({len(test[1]):,} rows)"
    n_val = _validation_count(len(pool[1]), validation_size)
    train_idx, val_idx = _stratified(len(pool[1]), pool[1], n_val, seed)
    splits = {"train": _subset(pool, train_idx), "validation": _subset(pool, val_idx),
              "test": test}
    note = (f"{test_note}; validation = a stratified {n_val:,}-row slice of the training "
            f"portion (SEED={seed}); train = the other {len(train_idx):,} rows.")
    if max_examples:  # 0 = every row
        splits = {name: _cap(split, max_examples, TEST_SEED if name == "test" else seed)
                  for name, split in splits.items()}
        note += f" Each split then capped at {max_examples:,} rows (stratified draw)."
    for name in SPLITS:  # a cap of 1 row, or a part with a single example of a class
        require_both_classes(splits[name][1], label_names, f"the {name!r} split", None,
                             "raise max_examples / validation_size so every split keeps both "
                             "classes, or use a larger file")
    return splits, note


def _validation_count(n: int, size: float | int | None) -> int:
    if size is None:
        return max(2, min(VALIDATION_CAP, round(0.1 * n)))
    count = round(size * n) if isinstance(size, float) else int(size)
    if not 2 <= count < n:
        raise ValueError(message(f"validation_size={size!r} leaves no usable split",
                                 found=f"{count} of {n} training rows",
                                 expected="a fraction in (0, 1) or a row count below that"))
    return count


def _stratified(n: int, labels: list[int], test_size: float | int,
                seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of (rest, drawn), each in file order, drawn stratified by label."""
    try:
        rest, drawn = train_test_split(np.arange(n), test_size=test_size, random_state=seed,
                                       stratify=labels)
    except ValueError as err:  # sklearn's words: "The least populated class in y has..."
        counts = dict(sorted(Counter(labels).items()))
        raise ValueError(message("Too few examples per label to split them stratified.",
                                 found=f"label counts {counts}: {err}",
                                 expected="at least a few examples of every label")) from None
    return np.sort(rest), np.sort(drawn)


def _cap(split: Part, limit: int, seed: int) -> Part:
    texts, labels = split
    if len(labels) <= limit:
        return split
    try:
        _, kept = _stratified(len(labels), labels, limit, seed)
    except ValueError:  # a cap smaller than the number of classes cannot be stratified
        kept = np.sort(np.random.default_rng(seed).choice(len(labels), limit, replace=False))
    return _subset(split, kept)


def _subset(split: Part, idx: np.ndarray) -> Part:
    texts, labels = split
    return [texts[i] for i in idx], [labels[i] for i in idx]

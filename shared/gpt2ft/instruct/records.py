"""Instruction records: seeded splits and token lengths.

Introduced in ``sprints/sprint13_instructions/01_data``. The fine-tuned model of
``03_finetune`` is saved and found again by the training engine
(``runs.export``, ``Settings.find_finetuned``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import pandas as pd

from gpt2ft.instruct.template import format_prompt

SPLITS = ("train", "validation", "test")


def split_records(records: Sequence[dict], seed: int = 0,
                  fractions: tuple[float, float, float] = (0.85, 0.05, 0.10)) -> dict[str, list[dict]]:
    """Seeded train/validation/test split (same seed and records, same split).

    Sizes: test and validation are rounded shares of the records (at least one
    each when there are 3 or more records), train is the rest. Each record keeps
    its keys; the order within a split follows the shuffle.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions={fractions!r}: give three shares >= 0 that add up to 1, "
                         "e.g. (0.85, 0.05, 0.10).")
    n = len(records)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    at_least = 1 if n >= 3 else 0
    n_test = max(round(n * fractions[2]), at_least if fractions[2] else 0)
    n_val = max(round(n * fractions[1]), at_least if fractions[1] else 0)
    test, val, train = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    return {name: [records[i] for i in part]
            for name, part in zip(SPLITS, (train, val, test), strict=True)}


def token_lengths(records: Sequence[dict], tokenizer) -> pd.DataFrame:
    """Per record: prompt tokens (template included), response tokens (+ end-of-text), has input."""
    return pd.DataFrame({
        "prompt tokens": [len(tokenizer.encode(format_prompt(r))) for r in records],
        "response tokens": [len(tokenizer.encode(r["output"])) + 1 for r in records],
        "has input": [bool(r.get("input")) for r in records],
    }).assign(**{"total tokens": lambda d: d["prompt tokens"] + d["response tokens"]})


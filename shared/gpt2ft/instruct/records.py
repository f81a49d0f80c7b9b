"""Instruction records: seeded splits, token lengths, a fingerprint, the saved model.

Introduced in ``sprints/sprint13_instructions/01_data`` (splits, lengths) and
``03_finetune`` (the fingerprint and the model notebook 04 reads).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from gpt2ft.core.processes import is_main_process, wait_for_everyone
from gpt2ft.instruct.template import format_prompt
from gpt2ft.training.runs import text_fingerprint

SPLITS = ("train", "validation", "test")
FINETUNED = "finetuned"  # the folder name, inside a run folder of 03_finetune
ABOUT = "training.json"  # beside the weights: how the model was trained


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


def records_fingerprint(records: Sequence[dict]) -> str:
    """SHA-256 of the records' instruction, input and output, in order.

    Part of a run's identity in ``03_finetune`` (so a changed file or
    ``DATA_SOURCE`` never lands in another run's folder) and how ``04_evaluate``
    finds the model fine-tuned on the same records.
    """
    return text_fingerprint(*(json.dumps([r["instruction"], r.get("input") or "", r["output"]])
                              for r in records))


def save_finetuned(model, tokenizer, folder: str | os.PathLike, about: Mapping) -> Path:
    """Save ``model`` and ``tokenizer`` (``save_pretrained``) with ``training.json`` beside them.

    ``about`` should hold ``data fingerprint`` and ``base weights fingerprint``
    (:func:`records_fingerprint`, ``runs.weights_fingerprint`` of the starting
    weights): :func:`find_finetuned` matches on them. Under ``accelerate
    launch`` only the main process writes; every process returns the folder.
    """
    folder = Path(folder)
    if is_main_process():
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        (folder / ABOUT).write_text(json.dumps(dict(about), indent=2, default=str) + "\n")
    wait_for_everyone()
    return folder


def find_finetuned(parent: str | os.PathLike, *, data_fp: str, model_fp: str) -> Path:
    """The newest ``*/finetuned/`` below ``parent`` trained on these records from these weights.

    Raises ``FileNotFoundError`` saying what to run when there is none (a
    changed ``DATA_DIR``, ``DATA_SOURCE``, ``MODEL`` or ``SEED`` changes the
    fingerprints, so a model trained on other data is never picked up).
    """
    found = []
    for about_file in Path(parent).glob(f"*/{FINETUNED}/{ABOUT}"):
        try:
            about = json.loads(about_file.read_text())
        except ValueError:
            continue
        if (about.get("data fingerprint") == data_fp and about.get("base weights fingerprint") == model_fp
                and (about_file.parent / "config.json").is_file()):
            found.append(about_file.parent)
    if not found:
        raise FileNotFoundError(
            f"No fine-tuned model below {parent} was trained on these records from these starting "
            "weights. Run 03_finetune first with the same PROFILE, MODEL, DATA_DIR, DATA_SOURCE "
            "and SEED (e.g. make sprint13 runs 01-05 in order).")
    return max(found, key=lambda folder: (folder / ABOUT).stat().st_mtime)

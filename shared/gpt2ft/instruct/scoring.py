"""Scores of a generated response: token F1, ROUGE-L, template adherence.

Introduced in ``sprints/sprint13_instructions/04_evaluate``.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping

import pandas as pd

from gpt2ft.instruct.template import TEMPLATE_MARKERS, extract_response
from gpt2ft.session.data.instructions import template_markers

NEW_INSTRUCTION = "### Instruction"
ECHO_MARKERS = tuple(m for m in TEMPLATE_MARKERS if m != NEW_INSTRUCTION)
ADHERENCE = ("has response", "stopped", "no template echo", "no new instruction")


def normalise(text: str) -> list[str]:
    """Lower case, no punctuation, no articles, split on white space (SQuAD style)."""
    text = text.lower().translate(str.maketrans("", "", string.punctuation))
    return re.sub(r"\b(a|an|the)\b", " ", text).split()


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = normalise(prediction), normalise(reference)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or common == 0:
        return float(pred == ref)
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def _lcs(a: list[str], b: list[str]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        previous = 0
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], previous + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 on normalised words (longest common subsequence)."""
    pred, ref = normalise(prediction), normalise(reference)
    lcs = _lcs(pred, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def adherence(raw_generation: str, stopped: bool) -> dict:
    """Format checks for one generation (the text after the prompt).

    ``has response``: something is left after extraction; ``stopped``: the model
    emitted end-of-text before the token limit; ``no template echo``: no preamble,
    ``### Input`` or ``### Response`` header repeated; ``no new instruction``: it
    did not invent a further ``### Instruction``. ``adheres``: all four. A header
    counts only as the template writes it (:func:`template_markers`): a markdown
    heading such as ``### Step 1`` in an answer is neither.
    """
    found = template_markers(raw_generation)
    checks = {
        "has response": bool(extract_response(raw_generation)),
        "stopped": bool(stopped),
        "no template echo": not any(m.startswith(ECHO_MARKERS) for m in found),
        "no new instruction": not any(m.startswith(NEW_INSTRUCTION) for m in found),
    }
    return {**checks, "adheres": all(checks.values())}


def score(raw_generation: str, stopped: bool, reference: str) -> dict:
    """All per-example measures: adherence, exact match, token F1, ROUGE-L, length."""
    response = extract_response(raw_generation)
    return {
        **adherence(raw_generation, stopped),
        "exact match": float(normalise(response) == normalise(reference)),
        "token F1": token_f1(response, reference),
        "ROUGE-L": rouge_l(response, reference),
        "length (words)": len(response.split()),
    }


def summarise(evaluations: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per model: adherence rates, exact match, token F1, ROUGE-L (means), length."""
    measures = [*ADHERENCE, "adheres", "exact match", "token F1", "ROUGE-L", "length (words)"]
    table = pd.DataFrame({name: frame[measures].astype(float).mean() for name, frame in evaluations.items()}).T
    table.insert(0, "examples", [len(frame) for frame in evaluations.values()])
    table.index.name = "model"
    return table.round(3)

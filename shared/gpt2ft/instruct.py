"""Instruction tuning: the Alpaca template, masked labels, response extraction, scores.

Introduced in ``sprints/sprint13_instructions/02_format_and_batch``.

The template lives here and only here: training and generation both call
``format_prompt``, so the model is asked questions in exactly the form it was
trained on. Labels are ``-100`` on the prompt (and on padding, see
``batching``), so the loss is the response's alone.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass

from datasets import Dataset

IGNORE_INDEX = -100  # what torch's cross-entropy skips
PREAMBLE = ("Below is an instruction that describes a task{extra}. "
            "Write a response that appropriately completes the request.")
RESPONSE_HEADER = "### Response:\n"
TEMPLATE_MARKERS = ("### Instruction", "### Input", "### Response", "Below is an instruction")


def format_prompt(record: dict) -> str:
    """The Alpaca prompt for ``record``, ending with the response header."""
    if record.get("input"):
        return (PREAMBLE.format(extra=", paired with an input that provides further context") + "\n\n"
                f"### Instruction:\n{record['instruction']}\n\n### Input:\n{record['input']}\n\n"
                + RESPONSE_HEADER)
    return (PREAMBLE.format(extra="") + "\n\n"
            f"### Instruction:\n{record['instruction']}\n\n" + RESPONSE_HEADER)


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    truncated: bool


def encode(record: dict, tokenizer, max_length: int, mask_prompt: bool = True) -> Encoded:
    """prompt + response + end-of-text as ids; labels masked on the prompt.

    Over ``max_length``, the prompt is cut first, from its start (the preamble
    goes before the instruction), always keeping the response header so the
    model still sees where the answer begins; only then is the response cut
    from its end (and it then has no end-of-text: it did not end).
    """
    prompt = tokenizer.encode(format_prompt(record))
    header = tokenizer.encode(RESPONSE_HEADER)
    response = tokenizer.encode(record["output"]) + [tokenizer.eos_token_id]
    overflow = len(prompt) + len(response) - max_length
    truncated = overflow > 0
    if truncated:
        cut = min(overflow, len(prompt) - len(header))
        prompt, overflow = prompt[cut:], overflow - cut
        if overflow > 0:
            response = response[: len(response) - overflow]
    prompt_labels = [IGNORE_INDEX] * len(prompt) if mask_prompt else list(prompt)
    return Encoded(prompt + response, prompt_labels + response, truncated)


def encode_records(records: list[dict], tokenizer, max_length: int,
                   mask_prompt: bool = True) -> tuple[Dataset, int]:
    """A Dataset of ``input_ids``/``attention_mask``/``labels`` and the count of truncated records."""
    encoded = [encode(r, tokenizer, max_length, mask_prompt) for r in records]
    data = Dataset.from_dict({
        "input_ids": [e.input_ids for e in encoded],
        "attention_mask": [[1] * len(e.input_ids) for e in encoded],
        "labels": [e.labels for e in encoded],
    })
    return data, sum(e.truncated for e in encoded)


def extract_response(generated: str) -> str:
    """The answer part of a generation: up to a new template section, if any."""
    for marker in ("\n### ", "### Instruction", "### Input", "### Response"):
        generated = generated.split(marker)[0]
    return generated.strip()


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
    """Format checks for one generation (the text after the prompt)."""
    response = extract_response(raw_generation)
    return {
        "has response": bool(response),
        "stopped": stopped,
        "no template echo": not any(m in raw_generation for m in TEMPLATE_MARKERS),
    }


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

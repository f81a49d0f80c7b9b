"""Instruction tuning: the Alpaca template, masked labels, response extraction, scores.

Introduced across ``sprints/sprint13_instructions/``:

- ``01_data``: :func:`split_records` (seeded train/validation/test), :func:`token_lengths`;
- ``02_format_and_batch``: :func:`format_prompt`, :func:`encode`, :func:`encode_records`,
  :func:`masking_figure` (the diagram of which labels carry the loss);
- ``03_finetune``: :func:`label_loss` (mean loss on the tokens that carry a label),
  :func:`records_fingerprint`, :func:`save_finetuned` (the model notebook 04 reads);
- ``04_evaluate``: :func:`find_finetuned`, :func:`generate_responses` (same template,
  greedy, stops at end-of-text, says whether it stopped), :func:`extract_response`,
  :func:`score`, :func:`evaluate`, :func:`summarise`.

The template lives here and only here: training and generation both call
``format_prompt``, so the model is asked questions in exactly the form it was
trained on. Labels are ``-100`` on the prompt (and on padding, see
``batching``), so the loss is the response's alone.
"""

from __future__ import annotations

import json
import os
import random
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from datasets import Dataset

from .processes import is_main_process, wait_for_everyone
from .runs import text_fingerprint

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


def _sections(record: dict) -> list[tuple[str, str, bool]]:
    """(name, text, is prompt) for each part of the encoded record, in order."""
    preamble = format_prompt(record).split("### Instruction:")[0]
    parts = [("preamble", preamble, True), ("###\nInstruction:", "### Instruction:\n", True),
             ("instruction", record["instruction"] + "\n\n", True)]
    if record.get("input"):
        parts += [("###\nInput:", "### Input:\n", True), ("input", record["input"] + "\n\n", True)]
    return parts + [("###\nResponse:", RESPONSE_HEADER, True), ("response", record["output"], False)]


def masking_figure(record: dict, tokenizer, title: str | None = None):
    """The prompt-masking diagram of ``02_format_and_batch``, drawn from a real record.

    Three rows of boxes, one box per section of the Alpaca template, as wide as
    its tokens: the ``input_ids``; the labels with the prompt masked (``-100``,
    grey: no loss) and the response + end-of-text kept (the loss); the labels
    of the loss-on-everything alternative.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    sections, text = [], ""
    for name, part, is_prompt in _sections(record):
        before = len(tokenizer.encode(text)) if text else 0
        text += part
        sections.append((name, len(tokenizer.encode(text)) - before, is_prompt))
    sections.append(("end-of-\ntext", 1, False))
    colours = {"preamble": "#c6dbef", "instruction": "#9ecae1", "input": "#fdd0a2",
               "response": "#a1d99b", "end-of-\ntext": "#74c476"}
    header = "#dadaeb"
    widths = [max(n, 6.0) for _, n, _ in sections]  # short sections stay readable
    fig, ax = plt.subplots(figsize=(11, 3.3))
    rows = [("input_ids", None), ("labels: prompt masked", "masked"), ("labels: loss on everything", "all")]
    for r, (row_name, kind) in enumerate(rows):
        y, x = 2 - r, 0.0
        ax.text(-0.5, y + 0.4, row_name, ha="right", va="center", fontsize=9)
        for (name, n, is_prompt), w in zip(sections, widths, strict=True):
            grey = kind == "masked" and is_prompt
            colour = "#e0e0e0" if grey else colours.get(name, header)
            ax.add_patch(FancyBboxPatch((x + 0.1, y + 0.05), w - 0.2, 0.7, boxstyle="round,pad=0.02",
                                        fc=colour, ec="#555555", lw=0.8))
            label = (f"{name}\n{n} tok" if kind is None else "-100" if grey else "= ids")
            ax.text(x + w / 2, y + 0.4, label, ha="center", va="center", fontsize=7,
                    color="#777777" if grey else "black")
            x += w
    start = sum(w for (_, _, is_prompt), w in zip(sections, widths, strict=True) if is_prompt)
    ax.annotate("", xy=(start, 0.93), xytext=(x, 0.93),
                arrowprops=dict(arrowstyle="<->", color="#238b45", lw=1.5))
    ax.text(start - 0.5, 0.93, "the loss when the prompt is masked", ha="right", va="center",
            fontsize=8, color="#238b45")
    ax.set_xlim(-12, x + 0.5)
    ax.set_ylim(-0.1, 3.2)
    ax.axis("off")
    ax.set_title(title or "Prompt masking: labels are -100 on the prompt, the loss is the response's",
                 fontsize=10)
    fig.tight_layout()
    return fig


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


NEW_INSTRUCTION = "### Instruction"
ECHO_MARKERS = tuple(m for m in TEMPLATE_MARKERS if m != NEW_INSTRUCTION)
ADHERENCE = ("has response", "stopped", "no template echo", "no new instruction")


def adherence(raw_generation: str, stopped: bool) -> dict:
    """Format checks for one generation (the text after the prompt).

    ``has response``: something is left after extraction; ``stopped``: the model
    emitted end-of-text before the token limit; ``no template echo``: no preamble,
    ``### Input`` or ``### Response`` header repeated; ``no new instruction``: it
    did not invent a further ``### Instruction``. ``adheres``: all four.
    """
    checks = {
        "has response": bool(extract_response(raw_generation)),
        "stopped": bool(stopped),
        "no template echo": not any(m in raw_generation for m in ECHO_MARKERS),
        "no new instruction": NEW_INSTRUCTION not in raw_generation,
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


# --------------------------------------------------------------------------- data (01_data)

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


def records_fingerprint(records: Sequence[dict]) -> str:
    """SHA-256 of the records' instruction, input and output, in order.

    Part of a run's identity in ``03_finetune`` (so a changed file or
    ``DATA_SOURCE`` never lands in another run's folder) and how ``04_evaluate``
    finds the model fine-tuned on the same records.
    """
    return text_fingerprint(*(json.dumps([r["instruction"], r.get("input") or "", r["output"]])
                              for r in records))


# --------------------------------------------------------------------------- loss (03_finetune)

@torch.no_grad()
def label_loss(model, dataset, pad_token_id: int, batch_size: int = 16) -> float:
    """Mean next-token loss over every token whose label is not ``-100`` (nats/token).

    On a prompt-masked dataset this is the response-token loss; on an unmasked
    one, the loss on everything. Token-weighted, so batches of different sizes
    count by their tokens.
    """
    from .batching import DynamicPadding

    collate = DynamicPadding(pad_token_id=pad_token_id)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(dataset), batch_size):
        batch = collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        batch = {k: v.to(model.device) for k, v in batch.items()}
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        targets = batch["labels"][:, 1:]
        total += torch.nn.functional.cross_entropy(
            logits[:, :-1].float().reshape(-1, logits.size(-1)), targets.reshape(-1),
            ignore_index=IGNORE_INDEX, reduction="sum").item()
        count += int((targets != IGNORE_INDEX).sum())
    model.train(was_training)
    return total / max(1, count)


# --------------------------------------------------------------------------- the model 04 reads

FINETUNED = "finetuned"  # the folder name, inside a run folder of 03_finetune
ABOUT = "training.json"  # beside the weights: how the model was trained


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


# --------------------------------------------------------------------------- generation (04_evaluate)

@dataclass
class Generation:
    raw: str  # the decoded new tokens, up to (not including) end-of-text
    response: str  # extract_response(raw)
    stopped: bool  # end-of-text came before the token limit
    new_tokens: int  # tokens generated before end-of-text (or the limit)


@torch.no_grad()
def generate_responses(model, tokenizer, records: Sequence[dict], *, max_new_tokens: int = 64,
                       batch_size: int = 8) -> list[Generation]:
    """Greedy answers to ``records`` asked with :func:`format_prompt`, stopping at end-of-text.

    Prompts are left-padded into batches (GPT-2 then gets position ids from the
    attention mask, so a padded prompt is answered as if alone). A prompt that
    leaves fewer than ``max_new_tokens`` positions of the context is cut from
    its start, as in training.
    """
    eos = tokenizer.eos_token_id
    context = getattr(model.config, "n_positions", None) or model.config.max_position_embeddings
    room = context - max_new_tokens
    if room < 8:
        raise ValueError(f"max_new_tokens={max_new_tokens} leaves {room} of the model's "
                         f"{context} positions for the prompt; use fewer new tokens.")
    was_training = model.training
    model.eval()
    out: list[Generation] = []
    for start in range(0, len(records), batch_size):
        prompts = [tokenizer.encode(format_prompt(r))[-room:] for r in records[start:start + batch_size]]
        width = max(map(len, prompts))
        input_ids = torch.tensor([[eos] * (width - len(p)) + p for p in prompts], device=model.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=model.device)
        generated = model.generate(input_ids=input_ids, attention_mask=mask, do_sample=False,
                                   max_new_tokens=max_new_tokens, eos_token_id=eos, pad_token_id=eos)
        for row in generated[:, width:].tolist():
            stopped = eos in row
            tokens = row[: row.index(eos)] if stopped else row
            raw = tokenizer.decode(tokens, skip_special_tokens=True)
            out.append(Generation(raw, extract_response(raw), stopped, len(tokens)))
    model.train(was_training)
    return out


def evaluate(model, tokenizer, records: Sequence[dict], **generate_kwargs) -> pd.DataFrame:
    """One row per record: the generation, its response, and every measure of :func:`score`."""
    rows = []
    for record, gen in zip(records, generate_responses(model, tokenizer, records, **generate_kwargs),
                           strict=True):
        rows.append({"instruction": record["instruction"], "input": record.get("input", ""),
                     "reference": record["output"], "raw": gen.raw, "response": gen.response,
                     "new tokens": gen.new_tokens, **score(gen.raw, gen.stopped, record["output"])})
    return pd.DataFrame(rows)


def summarise(evaluations: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per model: adherence rates, exact match, token F1, ROUGE-L (means), length."""
    measures = [*ADHERENCE, "adheres", "exact match", "token F1", "ROUGE-L", "length (words)"]
    table = pd.DataFrame({name: frame[measures].astype(float).mean() for name, frame in evaluations.items()}).T
    table.insert(0, "examples", [len(frame) for frame in evaluations.values()])
    table.index.name = "model"
    return table.round(3)

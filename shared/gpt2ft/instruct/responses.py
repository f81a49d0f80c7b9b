"""The instruction-tuned model at work: the response-token loss, generated answers.

Introduced in ``sprints/sprint13_instructions/03_finetune`` (:func:`label_loss`) and
``04_evaluate`` (:func:`generate_responses`, :func:`evaluate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral

import pandas as pd
import torch

from gpt2ft.core.models import context_length
from gpt2ft.instruct.scoring import score
from gpt2ft.instruct.template import IGNORE_INDEX, extract_response, format_prompt


@torch.no_grad()
def label_loss(model, dataset, pad_token_id: int, batch_size: int = 16) -> float:
    """Mean next-token loss over every token whose label is not ``-100`` (nats/token).

    On a prompt-masked dataset this is the response-token loss; on an unmasked
    one, the loss on everything. Token-weighted, so batches of different sizes
    count by their tokens.
    """
    from gpt2ft.training.batching import DynamicPadding

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


MIN_PROMPT_ROOM = 8  # positions a prompt keeps at least: the response header and a little before it


@dataclass
class Generation:
    raw: str  # the decoded new tokens, up to (not including) end-of-text
    response: str  # extract_response(raw)
    stopped: bool  # end-of-text came before the token limit
    new_tokens: int  # tokens generated before end-of-text (or the limit)
    prompt_tokens_cut: int = 0  # tokens cut from the prompt's start to leave room (0: the whole prompt)


@torch.no_grad()
def generate_responses(model, tokenizer, records: Sequence[dict], *, max_new_tokens: int = 64,
                       batch_size: int = 8) -> list[Generation]:
    """Greedy answers to ``records`` asked with :func:`format_prompt`, stopping at end-of-text.

    Prompts are left-padded into batches (GPT-2 then gets position ids from the
    attention mask, so a padded prompt is answered as if alone). A prompt that
    leaves fewer than ``max_new_tokens`` positions of the context is cut from
    its start, as in training; a printed note says how many were cut (and each
    :class:`Generation` by how much). ``max_new_tokens`` that leaves fewer than
    :data:`MIN_PROMPT_ROOM` positions for the prompt is refused before any work.
    """
    eos = tokenizer.eos_token_id
    context = context_length(model)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, Integral) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens!r} is not allowed: use a whole number >= 1 "
                         f"(MAX_NEW_TOKENS), e.g. 64.")
    room = None if context is None else context - max_new_tokens
    if room is not None and room < MIN_PROMPT_ROOM:
        raise ValueError(
            f"max_new_tokens={max_new_tokens} on a model whose context (n_positions) is {context} "
            f"leaves {room} positions for the prompt (at least {MIN_PROMPT_ROOM} are needed). Nothing was "
            f"generated. Fix: use fewer new tokens: MAX_NEW_TOKENS <= {context - MIN_PROMPT_ROOM} (max_new_tokens=), "
            f"or a model with a longer context.")
    encoded = [tokenizer.encode(format_prompt(r)) for r in records]
    cut = [max(0, len(ids) - room) if room is not None else 0 for ids in encoded]
    if any(cut):
        print(f"Note: {sum(1 for c in cut if c)} of {len(records)} prompts are longer than the {room} "
              f"positions max_new_tokens={max_new_tokens} leaves of the model's {context}: their first "
              f"tokens were cut (up to {max(cut)}), keeping the end with the response header, as in "
              f"training. Fix, to keep them whole: a smaller MAX_NEW_TOKENS, or shorter records.")
    was_training = model.training
    model.eval()
    out: list[Generation] = []
    for start in range(0, len(records), batch_size):
        prompts = [ids[c:] for ids, c in zip(encoded[start:start + batch_size], cut[start:start + batch_size],
                                              strict=True)]
        width = max(map(len, prompts))
        input_ids = torch.tensor([[eos] * (width - len(p)) + p for p in prompts], device=model.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=model.device)
        generated = model.generate(input_ids=input_ids, attention_mask=mask, do_sample=False,
                                   max_new_tokens=max_new_tokens, eos_token_id=eos, pad_token_id=eos)
        for row in generated[:, width:].tolist():
            stopped = eos in row
            tokens = row[: row.index(eos)] if stopped else row
            raw = tokenizer.decode(tokens, skip_special_tokens=True)
            out.append(Generation(raw, extract_response(raw), stopped, len(tokens), cut[len(out)]))
    model.train(was_training)
    return out


def evaluate_responses(model, tokenizer, records: Sequence[dict], **generate_kwargs) -> pd.DataFrame:
    """One row per record: the generation, its response, and every measure of :func:`score`."""
    rows = []
    for record, gen in zip(records, generate_responses(model, tokenizer, records, **generate_kwargs),
                           strict=True):
        rows.append({"instruction": record["instruction"], "input": record.get("input", ""),
                     "reference": record["output"], "raw": gen.raw, "response": gen.response,
                     "new tokens": gen.new_tokens, **score(gen.raw, gen.stopped, record["output"])})
    return pd.DataFrame(rows)

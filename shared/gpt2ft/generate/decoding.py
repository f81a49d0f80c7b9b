"""Decoding strategies side by side, and numbers for what each one changes.

Introduced in ``sprints/sprint10_generation/03_decoding_strategies`` (which
also writes temperature, top-k, top-p and the repetition penalty by hand and
checks them against ``model.generate``); ``next_token_table`` in
``02_next_token``; ``positions_run`` in ``06_check_yourself``.

Every strategy is a set of ``model.generate`` keyword arguments, so the table
below *is* the documentation of what each strategy sets. Measures:

- ``distinct-n``: unique n-grams / all n-grams over a strategy's outputs
  (higher = more varied wording);
- ``repetition``: share of a text's 3-grams already seen earlier in the same
  text (loops such as "the the the" push it towards 1);
- ``length``: new tokens generated (beam search and greedy often stop early or
  loop; sampling rarely stops before the limit);
- ``log-prob / token``: the mean log-probability of the generated tokens under
  the model's own distribution (no temperature, filter or penalty): how likely
  the model finds the text it wrote (greedy and beam search near 0, sampling at
  a high temperature far below).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import pandas as pd
import torch

from gpt2ft.core.models import context_length

DECODING_STRATEGIES: dict[str, dict] = {
    "greedy": {"do_sample": False},
    "beam search (4)": {"do_sample": False, "num_beams": 4, "early_stopping": True},
    "temperature 0.7": {"do_sample": True, "temperature": 0.7, "top_k": 0},
    "temperature 1.3": {"do_sample": True, "temperature": 1.3, "top_k": 0},
    "top-k 40": {"do_sample": True, "top_k": 40},
    "top-p 0.9": {"do_sample": True, "top_p": 0.9, "top_k": 0},
    "greedy + repetition penalty 1.3": {"do_sample": False, "repetition_penalty": 1.3},
}


def strategy_table(strategies: dict[str, dict] = DECODING_STRATEGIES) -> pd.DataFrame:
    """What each strategy sets, one row each (unset = the generate default)."""
    rows = [{"strategy": name, **kwargs} for name, kwargs in strategies.items()]
    return pd.DataFrame(rows, dtype=object).set_index("strategy").fillna("-")


def check_generation_length(model, prompt_tokens: int, max_new_tokens) -> None:
    """Refuse a generation whose prompt + new tokens would run past the model's context.

    GPT-2 has one position embedding per position (``n_positions``); past the
    last one ``model.generate`` fails deep inside with an ``IndexError``. The
    message names both numbers and the fix.
    """
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, Integral) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens!r} is not allowed: use a whole number >= 1 "
                         f"(MAX_NEW_TOKENS), e.g. 40.")
    context = context_length(model)
    if context is None or prompt_tokens + max_new_tokens <= context:
        return
    room = context - prompt_tokens
    fix = (f"use fewer new tokens: MAX_NEW_TOKENS <= {room} (max_new_tokens=) for this prompt, or a shorter prompt"
           if room >= 1 else f"use a prompt of at most {context - 1} tokens")
    raise ValueError(
        f"The prompt has {prompt_tokens} tokens and max_new_tokens={max_new_tokens}: "
        f"{prompt_tokens + max_new_tokens} positions, over the model's context (n_positions) = {context}. "
        f"Nothing was generated. Fix: {fix}.")


@torch.no_grad()
def generate(model, tokenizer, prompt: str, *, seed: int = 0, max_new_tokens: int = 40,
             **kwargs) -> list[int]:
    """New token ids for ``prompt`` (the prompt itself stripped off).

    The seed is set right before the call so that a sampling strategy gives the
    same text for the same prompt, seed and settings, whatever ran before. A
    prompt and ``max_new_tokens`` that together do not fit in the model's context
    are refused before any work (see :func:`check_generation_length`).
    """
    encoded = tokenizer(prompt, return_tensors="pt").to(model.device)
    check_generation_length(model, encoded["input_ids"].shape[1], max_new_tokens)
    torch.manual_seed(seed)
    output = model.generate(**encoded, max_new_tokens=max_new_tokens,
                            pad_token_id=tokenizer.eos_token_id, **kwargs)
    return output[0, encoded["input_ids"].shape[1]:].tolist()


@torch.no_grad()
def next_token_table(model, tokenizer, prompt: str, k: int = 10) -> pd.DataFrame:
    """The ``k`` most likely next tokens after ``prompt``, with probability and logit.

    Introduced in ``sprints/sprint10_generation/02_next_token``: the LM head
    turns the last position's hidden state into one logit per vocabulary entry,
    and a softmax turns those into a distribution.
    """
    encoded = tokenizer(prompt, return_tensors="pt").to(model.device)
    logits = model(**encoded).logits[0, -1].float()
    probs = logits.softmax(-1)
    top = probs.topk(k)
    return pd.DataFrame({
        "token": [repr(tokenizer.decode([i])) for i in top.indices.tolist()],
        "id": top.indices.tolist(),
        "probability": top.values.tolist(),
        "logit": logits[top.indices].tolist(),
    })


@torch.no_grad()
def positions_run(model, tokenizer, prompt: str, new_tokens: int, *, use_cache: bool) -> int:
    """How many token positions greedy decoding runs through ``model`` to write ``new_tokens`` after ``prompt``.

    Counted, not computed: a hook on the model's forward adds up the positions of
    every call ``generate`` makes (exactly ``new_tokens`` tokens, the end token
    held back). ``use_cache=False`` feeds the whole sequence at every step, as the
    greedy loop of ``sprints/sprint10_generation/02_next_token`` does; ``True``
    (the KV cache) the prompt once, then one position per step. Introduced in
    ``sprints/sprint10_generation/06_check_yourself``.
    """
    fed: list[int] = []

    def count(_module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        fed.append(int(ids.shape[1]))

    encoded = tokenizer(prompt, return_tensors="pt").to(model.device)
    check_generation_length(model, encoded["input_ids"].shape[1], new_tokens)
    hook = model.register_forward_pre_hook(count, with_kwargs=True)
    try:
        model.generate(**encoded, do_sample=False, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                       use_cache=use_cache, pad_token_id=tokenizer.eos_token_id)
    finally:
        hook.remove()
    return sum(fed)


def ngrams(tokens: Sequence[int], n: int) -> list[tuple[int, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts: Sequence[Sequence[int]], n: int) -> float:
    """Unique n-grams over all n-grams of ``texts`` (0 when there are none)."""
    grams = [g for tokens in texts for g in ngrams(tokens, n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def repetition_rate(tokens: Sequence[int], n: int = 3) -> float:
    """Share of the n-grams of one text that already appeared earlier in it."""
    seen: set[tuple[int, ...]] = set()
    repeats = 0
    grams = ngrams(tokens, n)
    for gram in grams:
        repeats += gram in seen
        seen.add(gram)
    return repeats / len(grams) if grams else 0.0


@torch.no_grad()
def mean_logprob(model, tokenizer, prompt: str, tokens: Sequence[int]) -> float:
    """Mean of log p(token | everything before it) over ``tokens``, the continuation of ``prompt``.

    One forward pass over prompt + continuation with the model's raw distribution
    (the log-softmax of its logits): what each strategy's choices cost in the
    model's own eyes. ``nan`` for an empty continuation.
    """
    if not tokens:
        return float("nan")
    prompt_ids = tokenizer(prompt, return_tensors="pt")["input_ids"][0]
    ids = torch.cat([prompt_ids, torch.tensor(list(tokens), dtype=prompt_ids.dtype)]).to(model.device)
    logprobs = model(ids[None]).logits[0, :-1].float().log_softmax(-1)
    start = len(prompt_ids) - 1  # the position that predicts the first new token
    return float(logprobs[torch.arange(start, len(ids) - 1, device=ids.device), ids[start + 1:]].mean())


def compare_strategies(model, tokenizer, prompts: Sequence[str], *, seed: int = 0,
                       max_new_tokens: int = 40,
                       strategies: dict[str, dict] = DECODING_STRATEGIES) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every strategy on every prompt with the same seeds.

    Prompt ``i`` gets seed ``seed + i`` under every strategy: the strategies see
    the same random draws, while different prompts don't share them.

    Returns ``(samples, summary)``: one row per (strategy, prompt) with the new
    token ids, their text and their mean log-probability per token
    (:func:`mean_logprob`), and one row per strategy with the measures averaged
    over prompts.
    """
    for prompt in prompts:  # every prompt fits, or nothing is generated
        check_generation_length(model, len(tokenizer(prompt)["input_ids"]), max_new_tokens)
    rows = []
    for name, kwargs in strategies.items():
        for i, prompt in enumerate(prompts):
            tokens = generate(model, tokenizer, prompt, seed=seed + i,
                              max_new_tokens=max_new_tokens, **kwargs)
            rows.append({"strategy": name, "prompt": prompt, "tokens": tokens,
                         "text": tokenizer.decode(tokens, skip_special_tokens=True),
                         "log-prob / token": mean_logprob(model, tokenizer, prompt, tokens)})
    samples = pd.DataFrame(rows)
    by_strategy = samples.groupby("strategy", sort=False)
    summary = by_strategy["tokens"].agg(
        **{"distinct-1": lambda t: distinct_n(list(t), 1),
           "distinct-2": lambda t: distinct_n(list(t), 2),
           "repetition": lambda t: sum(map(repetition_rate, t)) / len(t),
           "length": lambda t: sum(map(len, t)) / len(t)})
    summary["log-prob / token"] = by_strategy["log-prob / token"].mean()
    return samples, summary.round(3)

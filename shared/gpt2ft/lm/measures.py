"""Measures for a causal language model before and after fine-tuning.

Introduced in ``sprints/sprint12_book/04_evaluate`` (perplexity computed there by
hand, as exp of the mean of the model's block losses, and checked equal to
:func:`perplexity`); ``unigram_loss`` is first used in ``01_prepare_data``.

- ``perplexity``: exp of the mean next-token loss over packed blocks;
- ``unigram_loss``: the loss of a model that ignores context (token
  frequencies of the training text): a fine-tuned model must beat it;
- ``StyleClassifier``: a small TF-IDF + logistic-regression classifier that
  tells book text from control text; its mean P(book) over generated samples is
  the style score;
- ``ngram_overlap``: share of a text's word n-grams found in a reference text;
- ``longest_copied_span``: the longest run of generated tokens that appears
  verbatim in the training tokens (memorisation check);
- ``continuation_match``: how much of a block's own continuation the model
  writes back greedily from its first tokens (extraction test of memorisation,
  compared on held-in training blocks and held-out validation blocks).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from torch.utils.data import DataLoader


@torch.no_grad()
def mean_loss(model, dataset, batch_size: int = 8) -> float:
    """Mean next-token cross-entropy (nats/token) over packed, equal-length blocks."""
    model.eval()
    total, count = 0.0, 0
    for batch in DataLoader(dataset, batch_size=batch_size):
        input_ids = batch["input_ids"].to(model.device)
        logits = model(input_ids=input_ids).logits[:, :-1].float()
        targets = input_ids[:, 1:]
        total += torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="sum").item()
        count += targets.numel()
    return total / count


def perplexity(model, dataset, batch_size: int = 8) -> float:
    return math.exp(mean_loss(model, dataset, batch_size))


def unigram_loss(train_ids: np.ndarray, eval_ids: np.ndarray, vocab_size: int,
                 alphas: Sequence[float] = (1.0, 0.1, 0.01, 0.001)) -> float:
    """Cross-entropy (nats/token) on ``eval_ids`` of the training text's token frequencies.

    The context-free baseline: what a model scores by learning only which tokens
    are common in the book. Unseen tokens need some probability, so counts are
    add-alpha smoothed; we report the best of a few alphas *on the evaluation
    text itself*, which makes the baseline generous, never a straw man.
    """
    counts = np.bincount(train_ids, minlength=vocab_size).astype(np.float64)
    losses = []
    for alpha in alphas:
        log_probs = np.log((counts + alpha) / (counts.sum() + alpha * vocab_size))
        losses.append(float(-log_probs[eval_ids].mean()))
    return min(losses)


def chunks(text: str, words: int = 40) -> list[str]:
    """Consecutive pieces of about ``words`` words (classifier samples)."""
    tokens = text.split()
    return [" ".join(tokens[i:i + words]) for i in range(0, len(tokens) - words + 1, words)]


class StyleClassifier:
    """Book text versus control text, from word and character n-grams."""

    def __init__(self, book: str, control: str, words: int = 40, seed: int = 0):
        book_chunks, control_chunks = chunks(book, words), chunks(control, words)
        if len(book_chunks) < 2 or len(control_chunks) < 2:
            raise ValueError("The style classifier needs at least 2 chunks of book and of control text.")
        self.pipeline = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2),
            LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed))
        self.pipeline.fit(book_chunks + control_chunks, [1] * len(book_chunks) + [0] * len(control_chunks))

    def score(self, texts: Sequence[str]) -> float:
        """Mean probability that ``texts`` are book text (0 = control-like, 1 = book-like)."""
        return float(self.pipeline.predict_proba(list(texts))[:, 1].mean())


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def ngram_overlap(texts: Sequence[str], reference: str, n: int = 2) -> float:
    """Share of the word n-grams of ``texts`` that occur in ``reference``."""
    ref = {tuple(g) for g in _word_ngrams(words(reference), n)}
    grams = [tuple(g) for text in texts for g in _word_ngrams(words(text), n)]
    return sum(g in ref for g in grams) / len(grams) if grams else 0.0


def _word_ngrams(tokens: list[str], n: int):
    return (tokens[i:i + n] for i in range(len(tokens) - n + 1))


def _has_common_run(generated: Sequence[int], train: Sequence[int], length: int) -> int | None:
    """Start (in ``generated``) of a ``length``-token run also found in ``train``, else None."""
    seen = {tuple(train[i:i + length]) for i in range(len(train) - length + 1)}
    for start in range(len(generated) - length + 1):
        if tuple(generated[start:start + length]) in seen:
            return start
    return None


def longest_copied_span(generated: Sequence[int], train: Sequence[int]) -> tuple[int, int]:
    """``(length, start)`` of the longest run of ``generated`` found verbatim in ``train``.

    Binary search on the length: if a run of L tokens is shared, so is one of L-1.
    """
    generated, train = list(map(int, generated)), list(map(int, train))
    low, high, start = 0, min(len(generated), len(train)), 0
    while low < high:
        mid = (low + high + 1) // 2
        found = _has_common_run(generated, train, mid)
        if found is None:
            high = mid - 1
        else:
            low, start = mid, found
    return low, start


@torch.no_grad()
def continuation_match(model, blocks, prefix: int = 32, length: int = 32) -> list[int]:
    """For each block, how many tokens of its own continuation the model writes back.

    The model reads the block's first ``prefix`` tokens and continues greedily for
    ``length`` tokens; the count is how many of them, from the first on, equal the
    block's next ``length`` tokens (0: the first one already differs; ``length``: the
    whole span, verbatim). This is the extraction test of memorisation (Carlini et
    al., "Quantifying Memorization Across Neural Language Models", 2023): on blocks
    the model trained on (held-in) against blocks it never saw (held-out), the gap is
    what training wrote into the weights.
    A plain greedy loop with the key/value cache (no stop token, no padding: every
    prompt has the same length), so it is the same for any causal LM.
    """
    ids = torch.as_tensor(np.asarray(blocks), dtype=torch.long)
    if ids.ndim != 2 or ids.shape[1] < prefix + length or prefix < 1 or length < 1:
        raise ValueError(f"continuation_match needs blocks of at least prefix + length = {prefix + length} "
                         f"tokens (prefix >= 1, length >= 1); got shape {tuple(ids.shape)}.")
    model.eval()
    truth = ids[:, prefix:prefix + length]
    step, past, written = ids[:, :prefix].to(model.device), None, []
    for _ in range(length):
        out = model(input_ids=step, past_key_values=past, use_cache=True)
        past, step = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
        written.append(step.cpu())
    same = (torch.cat(written, dim=1) == truth).long()
    return same.cumprod(dim=1).sum(dim=1).tolist()  # leading tokens that match

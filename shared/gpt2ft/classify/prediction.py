"""A classifier's logits on an encoded split, batched to fit, and its scores.

Introduced in ``sprints/sprint11_classification/04_finetune``: :func:`predict`
(rows shortest first, at most a token budget a batch) and :func:`evaluate_classifier`
(:func:`~gpt2ft.classify.metrics.classification_metrics` of those logits).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from gpt2ft.classify.classifier import check_pad_tokens
from gpt2ft.classify.metrics import classification_metrics
from gpt2ft.training.batching import DynamicPadding


def prediction_budget(device) -> int:
    """Padded tokens per prediction batch: 16,384 on a CPU, 4,096 per GiB of GPU memory."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory / 2**30) * 4096
    return 16_384


def prediction_batches(lengths: Sequence[int], batch_size: int, max_tokens: int) -> list[np.ndarray]:
    """Row indices, shortest first, cut into batches of at most ``batch_size`` rows and
    ``max_tokens`` padded tokens (rows x the batch's longest row); a longer row goes alone."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    batches, current = [], []
    for i in order:
        if current and (len(current) >= batch_size or (len(current) + 1) * lengths[i] > max_tokens):
            batches.append(np.asarray(current))
            current = []
        current.append(i)
    if current:
        batches.append(np.asarray(current))
    return batches


@torch.no_grad()


def predict(model: torch.nn.Module, encoded, tokenizer: PreTrainedTokenizerBase,
            batch_size: int = 64, max_tokens: int | None = None) -> np.ndarray:
    """Logits for every row of an encoded dataset, in its order (shape ``rows x labels``).

    Rows are batched shortest first so little padding is computed, at most
    ``batch_size`` rows and ``max_tokens`` padded tokens a batch (default
    :func:`prediction_budget`: long IMDB reviews go a few at a time on a CPU).
    Runs where the model is (the GPU when it is there); the model is put in eval
    mode (no dropout).
    """
    check_pad_tokens(tokenizer, model)
    model.eval()
    device = next(model.parameters()).device
    ids = encoded["input_ids"]
    masks = encoded["attention_mask"]
    budget = max_tokens or prediction_budget(device)
    pad = DynamicPadding(pad_token_id=tokenizer.pad_token_id)
    out = np.zeros((len(ids), model.config.num_labels), dtype=np.float32)
    for rows in prediction_batches([len(x) for x in ids], batch_size, budget):
        batch = pad([{"input_ids": ids[i], "attention_mask": masks[i]} for i in rows])
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
        out[rows] = logits.float().cpu().numpy()
    return out


def evaluate_classifier(model, encoded, tokenizer, label_names: Sequence[str], batch_size: int = 64,
             max_tokens: int | None = None) -> tuple[dict[str, float], np.ndarray]:
    """:func:`classification_metrics` of the model on an encoded split, and its logits."""
    logits = predict(model, encoded, tokenizer, batch_size, max_tokens)
    return classification_metrics(encoded["labels"], logits.argmax(-1), label_names), logits

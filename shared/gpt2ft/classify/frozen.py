"""A head trained on frozen features: the body read once, the ``score`` head trained on its states.

Introduced in ``sprints/sprint11_classification/08_exercises``. A frozen body computes the
same hidden states every time it reads a text (in eval mode: no dropout), so a comparison
of heads (which position they read, their learning rate, a class-weighted loss, the
``max_length`` of the texts) runs the body once (:func:`hidden_states`) and trains each
head in a fraction of a second (:func:`train_head`) by the loop of ``04_finetune``: AdamW,
a 10 % warm-up then linear decay, clipping at 1.0, seeded batches epoch after epoch.
:func:`head_scores` scores a head with :func:`gpt2ft.classify.classification_metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from gpt2ft.classify.metrics import classification_metrics
from gpt2ft.classify.prediction import prediction_batches
from gpt2ft.training.batching import DynamicPadding


def hidden_states(model, split, positions: Callable[[int], Sequence[int]], *, batch_rows: int = 64,
                  max_tokens: int = 16_384) -> torch.Tensor:
    """The body's last hidden state at ``positions(n)`` (positions in a row of n tokens, the
    same count for every row) of every row of ``split`` (``input_ids``, ``attention_mask``):
    rows x positions x d, on the CPU. Computed once without gradients, by the body alone
    (``model.base_model``, the blocks and the final norm, no head), rows batched shortest
    first and padded on the right with the model's pad id."""
    body = model.base_model.eval()
    pad = DynamicPadding(pad_token_id=model.config.pad_token_id)
    ids, masks = split["input_ids"], split["attention_mask"]
    out = None
    with torch.no_grad():
        for rows in prediction_batches([len(x) for x in ids], batch_rows, max_tokens):
            batch = pad([{"input_ids": ids[i], "attention_mask": masks[i]} for i in rows])
            hidden = body(**{k: v.to(model.device) for k, v in batch.items()}).last_hidden_state.float().cpu()
            where = torch.tensor([list(positions(len(ids[i]))) for i in rows])
            picked = hidden[torch.arange(len(rows))[:, None], where]
            if out is None:
                out = torch.zeros(len(ids), where.shape[1], hidden.shape[-1])
            out[torch.as_tensor(rows)] = picked
    return out


def train_head(model, features: torch.Tensor, labels: Sequence[int], learning_rate: float, steps: int, *,
               batch_size: int, seed: int = 0, class_weights=None) -> tuple[torch.nn.Linear, float]:
    """A copy of ``model.score`` (its seeded start) trained on ``features`` (rows x d) for
    ``steps`` optimizer steps by the loop of ``04_finetune``: AdamW (weight decay 0.01), a 10 %
    warm-up then linear decay, clipping at 1.0, batches of ``batch_size`` in a seeded order,
    epoch after epoch; cross-entropy, weighted by ``class_weights`` when given. Returns the
    head and the mean training loss of its last epoch (NaN for 0 steps: the untrained start)."""
    start = model.score.weight.detach()
    head = torch.nn.Linear(start.shape[1], start.shape[0], bias=False).to(start.device)
    head.weight.data.copy_(start)
    X, y = features.to(start.device), torch.as_tensor(np.asarray(labels)).to(start.device)
    weights = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float).to(start.device)
    optimizer = torch.optim.AdamW(head.parameters(), lr=learning_rate, weight_decay=0.01)
    warmup = int(0.1 * steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: s / warmup if s < warmup else max(0.0, (steps - s) / max(1, steps - warmup)))
    generator = torch.Generator().manual_seed(seed)
    step, epoch_losses = 0, []
    while step < steps:
        epoch_losses = []
        for rows in torch.randperm(len(y), generator=generator).split(batch_size):
            loss = F.cross_entropy(head(X[rows]), y[rows], weight=weights)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(head.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            epoch_losses.append(loss.item())
            step += 1
            if step == steps:
                break
    return head, float(np.mean(epoch_losses)) if epoch_losses else float("nan")


def head_scores(head: torch.nn.Linear, features: torch.Tensor, labels: Sequence[int],
                label_names: Sequence[str]) -> dict[str, float]:
    """:func:`~gpt2ft.classify.classification_metrics` of the head's predictions on ``features``."""
    with torch.no_grad():
        predicted = head(features.to(head.weight.device)).argmax(-1).cpu().numpy()
    return classification_metrics(np.asarray(labels), predicted, label_names)

"""A classifier's predictions and how good they are: logits, metrics, confusion matrix.

Introduced in ``sprints/sprint11_classification/04_finetune``: :func:`predict`
and :func:`evaluate` on an encoded split, :func:`classification_metrics`
(accuracy, precision/recall/F1 per class and macro-averaged), :func:`metrics_table`,
:func:`metrics_fn` (the same scores at every evaluation of the training engine),
:func:`confusion_figure` and :func:`predictions_frame` (one row per example).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support
from transformers import PreTrainedTokenizerBase

from ..batching import DynamicPadding
from .model import check_pad_tokens


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


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def evaluate(model, encoded, tokenizer, label_names: Sequence[str], batch_size: int = 64,
             max_tokens: int | None = None) -> tuple[dict[str, float], np.ndarray]:
    """:func:`classification_metrics` of the model on an encoded split, and its logits."""
    logits = predict(model, encoded, tokenizer, batch_size, max_tokens)
    return classification_metrics(encoded["labels"], logits.argmax(-1), label_names), logits


def predictions_frame(texts: Sequence[str], labels: Sequence[int], logits: np.ndarray,
                      label_names: Sequence[str]) -> pd.DataFrame:
    """One row per example: text, label, predicted label, probability of the prediction."""
    probs = softmax(np.asarray(logits))
    pred = probs.argmax(-1)
    names = np.asarray(label_names)
    return pd.DataFrame({"text": list(texts), "label": names[np.asarray(labels)],
                         "predicted": names[pred], "probability": probs.max(-1).round(4),
                         "correct": np.asarray(labels) == pred})


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int],
                           label_names: Sequence[str]) -> dict[str, float]:
    """Accuracy; precision, recall and F1 per class and macro-averaged (sklearn).

    Keys: ``accuracy``, ``macro_precision``, ``macro_recall``, ``macro_f1`` and
    ``precision_<name>``, ``recall_<name>``, ``f1_<name>`` for every label. A
    class never predicted has precision 0 (not a warning).
    """
    labels = list(range(len(label_names)))
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out = {"accuracy": float(accuracy_score(y_true, y_pred)),
           "macro_precision": float(p.mean()), "macro_recall": float(r.mean()),
           "macro_f1": float(f.mean())}
    for i, name in enumerate(label_names):
        out[f"precision_{name}"] = float(p[i])
        out[f"recall_{name}"] = float(r[i])
        out[f"f1_{name}"] = float(f[i])
    return out


def metrics_table(y_true: Sequence[int], y_pred: Sequence[int],
                  label_names: Sequence[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support per class, then the macro average."""
    labels = list(range(len(label_names)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    table = pd.DataFrame({"precision": p, "recall": r, "f1": f, "support": s},
                         index=list(label_names))
    table.loc["macro avg"] = [p.mean(), r.mean(), f.mean(), s.sum()]
    table["support"] = table["support"].astype(int)
    return table.round(4)


def metrics_fn(label_names: Sequence[str]) -> Callable[[torch.Tensor, torch.Tensor], dict]:
    """For the training engine: ``(logits, labels) -> {"accuracy", "macro_f1", recall per class}``."""
    def compute(logits, labels) -> dict[str, float]:
        logits = torch.as_tensor(logits)
        y_pred = logits.argmax(-1).cpu().numpy()
        y_true = torch.as_tensor(labels).cpu().numpy()
        m = classification_metrics(y_true, y_pred, label_names)
        keep = ["accuracy", "macro_f1"] + [f"recall_{n}" for n in label_names]
        return {k: m[k] for k in keep}
    return compute


def confusion_figure(y_true: Sequence[int], y_pred: Sequence[int], label_names: Sequence[str],
                     title: str = "", ax=None):
    """Confusion matrix (rows: true label, columns: predicted), counts and row shares."""
    import matplotlib.pyplot as plt

    cm = confusion_matrix(y_true, y_pred, labels=list(range(len(label_names))))
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    if ax is None:
        fig, ax = plt.subplots(figsize=(3.2 + 0.4 * len(label_names), 3 + 0.3 * len(label_names)))
    else:
        fig = ax.figure
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(label_names))
    ax.set_xticks(ticks, label_names)
    ax.set_yticks(ticks, label_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in ticks:
        for j in ticks:
            ax.text(j, i, f"{cm[i, j]}\n{share[i, j]:.0%}", ha="center", va="center",
                    color="white" if share[i, j] > 0.5 else "black", fontsize=9)
    ax.set_title(title)
    fig.tight_layout()
    return fig

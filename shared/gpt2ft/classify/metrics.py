"""How good a classifier's predictions are: metrics, confusion matrix, one row per example.

Plain scikit-learn and NumPy, so the bag-of-words baseline uses it without the engine.

Introduced in ``sprints/sprint11_classification/03_baseline`` and ``04_finetune``:
:func:`classification_metrics`
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


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


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

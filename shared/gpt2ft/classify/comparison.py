"""Figures that set several runs side by side.

:func:`loss_curves_figure` (introduced in ``sprints/sprint11_classification/05_strategies``):
the training loss of each strategy on one axis, with the loss of a head that gives every
class the same probability. :func:`confusion_grid` (``06_imbalance``): one confusion matrix
per run, in a row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt

from gpt2ft.classify.metrics import confusion_figure

STYLES = ("o-", "s--", "^-.", "d:", "v-", "x--")


def loss_curves_figure(histories: Mapping[str, object], labels: Mapping[str, str] | None = None,
                       title: str = "", num_labels: int = 2):
    """One line per run: ``history["train_loss"]`` against ``history["step"]`` (the engine's
    history, rows without a training loss dropped), labelled ``labels[name]`` or the name; a
    dotted line at ln(``num_labels``), the loss of a head that gives every class the same
    probability."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for (name, history), style in zip(histories.items(), STYLES * len(histories), strict=False):
        h = history.dropna(subset=["train_loss"])
        ax.plot(h["step"], h["train_loss"], style, label=(labels or {}).get(name, name), alpha=0.8)
    ax.axhline(math.log(num_labels), color="grey", lw=0.8, ls=":")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (mean since the last point)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def confusion_grid(y_true: Sequence[int], predictions: Mapping[str, Sequence[int]],
                   label_names: Sequence[str]):
    """The confusion matrix of each run's predictions (:func:`confusion_figure`), titled by
    its name, side by side."""
    fig, axes = plt.subplots(1, len(predictions), figsize=(3.5 * len(predictions), 3.2), squeeze=False)
    for ax, (name, predicted) in zip(axes[0], predictions.items(), strict=True):
        confusion_figure(y_true, predicted, label_names, title=name, ax=ax)
    fig.tight_layout()
    return fig

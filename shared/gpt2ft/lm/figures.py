"""The figures of Sprint 12's notebooks, one function each (read them here; the notebooks call them).

Introduced in ``sprints/sprint12_book``: ``01_prepare_data`` (the token stream cut into
blocks, :func:`packing_bar`), ``02_finetune`` (inputs and targets one position apart,
with the loss at each position, :func:`label_shift`) and ``06_exercises`` (train against
validation loss, :func:`train_and_validation`; the loss by block size and by position,
:func:`context`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt


def packing_bar(report: Mapping, title: str):
    """The token stream as one bar: training blocks, validation blocks, the dropped tails.

    ``report`` is :attr:`gpt2ft.lm.packing.PackedCorpus.report` (tokens, block size, the
    tokens and blocks of each side). Blocks alternate in two shades so the cuts show.
    """
    fig, ax = plt.subplots(figsize=(8, 1.9))
    total, size = report["tokens"], report["block size"]
    sides = [(0, report["train tokens"], report["train blocks"], ("#1f77b4", "#7fb2dc"), "train", "left"),
             (report["train tokens"], report["validation tokens"], report["validation blocks"],
              ("#ff7f0e", "#ffbb78"), "validation", "right")]
    for start, length, n, shades, name, side in sides:
        ax.broken_barh([(start + b * size, size) for b in range(n)], (-0.4, 0.8),
                       facecolors=[shades[b % 2] for b in range(n)])
        tail = length - n * size
        ax.broken_barh([(start + n * size, tail)], (-0.4, 0.8), facecolors="lightgrey", hatch="///",
                       edgecolor="grey")
        x = start if side == "left" else start + length
        ax.text(x, 0.55, f"{name}: {n} blocks of {size} + {tail} tokens dropped", ha=side, va="bottom",
                fontsize=8)
    ax.vlines(report["train tokens"], -0.5, 0.5, color="black", linewidth=1.5)  # the cut
    ax.set_xlim(0, total)
    ax.set_ylim(-0.5, 1.1)
    ax.set_yticks([])
    ax.set_xlabel(f"position in the token stream (of {total:,} tokens)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def label_shift(tokenizer, tokens: Sequence[int], losses: Mapping[str, Sequence[float]], n: int = 14):
    """Input tokens on top, the token each position must predict below, and its loss per model.

    ``losses`` maps a model's name to its loss at every position of ``tokens`` (one fewer
    than the tokens). The window of ``n`` positions starts a few tokens before the block's
    first blank line (a new speaker in a play), else at 0. The dashed line is the loss of a
    uniform guess over the vocabulary, ln(vocabulary size).
    """
    pieces = [tokenizer.decode([t]) for t in tokens]
    words = [repr(piece)[1:-1] or "·" for piece in pieces]
    blank_line = next((i for i in range(len(pieces)) if "\n\n" in "".join(pieces[:i + 1])), 0)
    start = min(max(0, blank_line - 4), len(tokens) - n - 1)
    fig, (top, bars) = plt.subplots(2, 1, figsize=(11, 3.8), height_ratios=[1.3, 1], sharex=True)
    for t in range(n):
        top.text(t, 1, words[start + t], ha="center", va="center", fontsize=8,
                 bbox=dict(boxstyle="round", facecolor="#dbe9f6", edgecolor="tab:blue"))
        top.text(t, 0, words[start + t + 1], ha="center", va="center", fontsize=8,
                 bbox=dict(boxstyle="round", facecolor="#fde5cc", edgecolor="tab:orange"))
        top.annotate("", xy=(t, 0.22), xytext=(t, 0.78), arrowprops=dict(arrowstyle="->", color="grey"))
    top.text(-0.7, 1, "input t", ha="right", va="center", fontsize=9)
    top.text(-0.7, 0, "target = input t+1", ha="right", va="center", fontsize=9)
    top.set_ylim(-0.5, 1.5)
    top.axis("off")
    width = 0.8 / len(losses)
    for i, (name, values) in enumerate(losses.items()):
        offset = (i - (len(losses) - 1) / 2) * width
        bars.bar([t + offset for t in range(n)], list(values[start:start + n]), width=width, label=name,
                 color=("tab:orange", "tab:green")[i % 2])
    bars.axhline(math.log(len(tokenizer)), color="grey", linestyle="--", linewidth=1,
                 label=f"ln {len(tokenizer):,} (a uniform guess)")
    bars.set_ylabel("loss at t (nats)")
    bars.set_xticks(range(n), [f"t={start + t}" for t in range(n)])
    bars.legend(loc="upper right", fontsize=8)
    fig.suptitle("Each position predicts the next token; the loss is the mean of the bars", fontsize=10)
    fig.tight_layout()
    return fig


def train_and_validation(history, title: str):
    """Training loss at every logged step and validation loss at every evaluation (the
    engine's ``TrainResult.history``)."""
    evals = history.dropna(subset=["eval_loss"])
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(history["step"], history["train_loss"], label="train loss")
    ax.plot(evals["step"], evals["eval_loss"], "o-", markersize=3, label="validation loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title(title, fontsize=10)
    ax.legend()
    fig.tight_layout()
    return fig


def context(loss_by_size: Mapping[int, float], loss_by_position: Sequence[float], block_size: int):
    """Left: the mean loss against the block size (log scale). Right: the mean loss at each
    position of a ``block_size``-token block (position 1 is predicted from one token)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.plot(list(loss_by_size), list(loss_by_size.values()), "o-")
    left.set_xscale("log", base=2)
    left.set_xlabel("block size (tokens)")
    left.set_ylabel("validation loss")
    right.plot(range(1, len(loss_by_position) + 1), list(loss_by_position))
    right.set_xlabel(f"position of the predicted token in a {block_size}-token block")
    right.set_ylabel("mean loss at that position")
    fig.tight_layout()
    return fig

"""The figures the notebooks show, one function each.

Introduced in ``sprints/sprint10_generation``: ``01_load_and_inspect`` (the GPT-2
stack, from text to the next token), ``02_next_token`` (next-token bars) and
``03_decoding_strategies`` (the distribution under three temperatures with the
top-k and top-p cuts; the strategy comparison).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch


def next_token_bars(table: pd.DataFrame, prompt: str):
    """Horizontal bars of the most likely next tokens (from decoding.next_token_table)."""
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(table) + 1))
    ax.barh(table["token"][::-1], table["probability"][::-1], color="tab:blue")
    ax.set_xlabel("probability of the next token")
    ax.set_title(f"After {prompt!r}", fontsize=10)
    fig.tight_layout()
    return fig


def strategy_comparison(summary: pd.DataFrame):
    """One panel per measure, one bar per decoding strategy."""
    measures = list(summary.columns)
    fig, axes = plt.subplots(1, len(measures), figsize=(3.2 * len(measures), 3.6), sharey=True)
    for ax, measure in zip(axes, measures, strict=True):
        ax.barh(summary.index[::-1], summary[measure][::-1], color="tab:orange")
        ax.set_title(measure)
    fig.tight_layout()
    return fig


def _box(ax, x, y, text, color, width=1.9, height=0.95):
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.04,rounding_size=0.12",
                                facecolor=color, edgecolor="0.35", linewidth=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=8.5, linespacing=1.25)


def _arrow(ax, start, end, text="", **kwargs):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12,
                                 color="0.3", linewidth=1.1, **kwargs))
    if text:
        ax.text((start[0] + end[0]) / 2 - 0.25, (start[1] + end[1]) / 2 + 0.1, text,
                ha="right", va="bottom", fontsize=8.5, color="0.25")


def gpt2_pipeline(config, n_prompt_tokens: int | None = None):
    """The GPT-2 stack from text to the next token, with this model's sizes.

    Top row (left to right): text -> token ids -> embeddings -> transformer
    blocks -> final layer norm. Bottom row (right to left): the LM head (the
    token-embedding matrix again, tied) -> logits -> softmax of the last
    position -> the decoding choice -> one new token, appended to the ids.
    A Llama-family config (SmolLM2) gets its own names: rotary positions, RMSNorm.
    """
    d = getattr(config, "n_embd", None) or config.hidden_size
    layers = getattr(config, "n_layer", None) or config.num_hidden_layers
    vocab = config.vocab_size
    gpt2 = getattr(config, "model_type", "gpt2") == "gpt2"
    tied = getattr(config, "tie_word_embeddings", True)
    embeddings = "token (wte) + position (wpe)" if gpt2 else "token (embed_tokens);\nrotary positions"
    norm = "final layer norm\n(ln_f)" if gpt2 else "final RMSNorm\n(norm)"
    head = (f"= {'wte' if gpt2 else 'embed_tokens'}ᵀ{' ' if gpt2 else chr(10)}(tied weights)" if tied
            else "(lm_head, own weights)")  # Llama's longer name: the note on a line of its own
    t = "T" if n_prompt_tokens is None else str(n_prompt_tokens)
    fig, ax = plt.subplots(figsize=(11, 4.1))
    ax.set(xlim=(0, 11), ylim=(0, 4.1))
    ax.axis("off")
    top, bottom = 3.05, 1.0
    xs = [1.05, 3.25, 5.45, 7.65, 9.85]
    blue, green, orange, grey = "#dbe8f6", "#dcefdc", "#fbe3c8", "#eeeeee"
    top_boxes = [
        ("text\n(the prompt)", grey),
        (f"tokenizer\n(byte-level BPE)\n{t} token ids", grey),
        (f"embeddings\n{embeddings}\n({t}, {d})", blue),
        (f"{layers} × transformer block\nattention + MLP\n({t}, {d})", blue),
        (f"{norm}\n({t}, {d})", blue),
    ]
    bottom_boxes = [
        ("next token\nappended to the ids", grey),
        ("decoding choice\ngreedy = argmax, or sample\n(temperature, top-k, top-p,\nrepetition penalty)", orange),
        (f"softmax of the\nlast position\n→ next-token distribution\n({vocab:,} probabilities)", green),
        (f"logits\none score per token\n({t}, {vocab:,})", green),
        (f"LM head\n{head}\n({d} → {vocab:,})", blue),
    ]
    for x, (text, color) in zip(xs, top_boxes, strict=True):
        _box(ax, x, top, text, color)
    for x, (text, color) in zip(xs, bottom_boxes, strict=True):
        _box(ax, x, bottom, text, color, height=1.15 if "decoding" in text else 0.95)
    for a, b in zip(xs, xs[1:], strict=False):
        _arrow(ax, (a + 0.97, top), (b - 0.97, top))
        _arrow(ax, (b - 0.97, bottom), (a + 0.97, bottom))
    _arrow(ax, (xs[-1], top - 0.5), (xs[-1], bottom + 0.5))
    _arrow(ax, (xs[0], bottom + 0.5), (xs[1] - 0.3, top - 0.5), "append, repeat",
           connectionstyle="arc3,rad=-0.25")
    ax.text(5.5, 4.0, "One step of generation: the model (blue) gives logits, the softmax (green) "
            "a distribution, the decoding strategy (orange) one token",
            ha="center", va="top", fontsize=9.5)
    fig.tight_layout()
    return fig


def _nucleus_size(probs: torch.Tensor, top_p: float) -> int:
    """How many of the most likely tokens it takes for their probabilities to reach top_p."""
    cumulative = probs.sort(descending=True).values.cumsum(-1)
    return int((cumulative < top_p).sum()) + 1


def temperature_cuts(logits: torch.Tensor, temperatures=(0.7, 1.0, 1.3), top_k: int = 40,
                     top_p: float = 0.9, title: str = ""):
    """The next-token distribution at several temperatures, with the top-k and top-p cuts.

    Left: probability against rank (both axes logarithmic), one curve per
    temperature; the grey dashed line is the top-k cut (rank ``top_k``), the
    dotted line in each curve's colour its top-p cut (the nucleus size). Right:
    the cumulative probability of the most likely tokens, with ``top_p``.
    """
    logits = logits.detach().float().cpu()
    ranks = torch.arange(1, logits.numel() + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.9))
    colors = ["tab:blue", "tab:green", "tab:red", "tab:purple", "tab:orange"]
    for temperature, color in zip(temperatures, colors, strict=False):
        probs = (logits / temperature).softmax(-1)
        ordered = probs.sort(descending=True).values
        size = _nucleus_size(probs, top_p)
        label = f"T = {temperature:g}: top-p {top_p:g} keeps {size:,} tokens"
        left.plot(ranks, ordered, color=color, label=label)
        right.plot(ranks, ordered.cumsum(-1), color=color, label=label)
        for ax in (left, right):
            ax.axvline(size, color=color, linestyle=":", linewidth=1.3)
    for ax in (left, right):
        ax.axvline(top_k, color="0.4", linestyle="--", linewidth=1.2)
        ax.set_xscale("log")
        ax.set_xlabel("rank of the token (1 = most likely)")
    left.set_yscale("log")
    left.set_ylabel("probability")
    left.set_title("the distribution: dashed = top-k cut, dotted = top-p cut", fontsize=9.5)
    right.axhline(top_p, color="0.4", linestyle="-.", linewidth=1)
    right.text(1.2, top_p, f"p = {top_p:g}", va="bottom", fontsize=8, color="0.3")
    right.text(top_k * 1.1, 0.55, f"k = {top_k}", fontsize=8, color="0.3")
    right.set_ylim(0, 1.02)
    right.set_ylabel("cumulative probability")
    right.set_title("probability held by the most likely tokens", fontsize=9.5)
    right.legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig

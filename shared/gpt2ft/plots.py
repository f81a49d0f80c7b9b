"""The figures the notebooks show, one function each.

Introduced in ``sprints/sprint10_generation/02_next_token`` (next-token bars)
and ``03_decoding_strategies`` (strategy comparison).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


def next_token_bars(table: pd.DataFrame, prompt: str):
    """Horizontal bars of the most likely next tokens (from generation.next_token_table)."""
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

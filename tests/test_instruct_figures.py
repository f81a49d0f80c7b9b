"""The figures of Sprint 13's notebooks (``gpt2ft.instruct.figures``), drawn from made-up measurements."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from gpt2ft import instruct


def test_lengths_figure_has_a_histogram_per_length_and_group():
    lengths = pd.DataFrame({"prompt tokens": [40, 41, 60, 70], "response tokens": [5, 12, 3, 9],
                            "has input": [False, False, True, True]})
    fig = instruct.lengths_figure(lengths, title="Token lengths of 4 records (tiny profile)")
    axes = fig.get_axes()
    assert [ax.get_xlabel() for ax in axes] == ["prompt tokens", "response tokens"]
    assert all(sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["no input", "with input"] for ax in axes)
    assert fig._suptitle.get_text() == "Token lengths of 4 records (tiny profile)"
    plt.close(fig)


def history(start: float) -> pd.DataFrame:
    steps = np.arange(1, 11)
    return pd.DataFrame({"step": np.concatenate([steps, [5, 10]]),
                         "train_loss": np.concatenate([start - 0.05 * steps, [np.nan, np.nan]]),
                         "eval_loss": np.concatenate([[np.nan] * 10, [start - 0.2, start - 0.3]])})


def test_training_curves_draw_each_runs_train_line_and_eval_dots_in_its_colour():
    fig = instruct.training_curves({"response only (prompt masked)": history(1.2), "loss on everything": history(2.4)})
    lines = fig.get_axes()[0].get_lines()
    assert len(lines) == 4
    assert [line.get_color() for line in lines] == ["tab:green", "tab:green", "tab:purple", "tab:purple"]
    assert list(lines[1].get_xdata()) == [5, 10] and lines[1].get_marker() == "o"
    plt.close(fig)


def test_per_token_figure_shades_the_prompt_and_draws_one_curve_per_model():
    per_token = {name: torch.rand(15) for name in ("starting weights", "trained: masked", "trained: everything")}
    fig = instruct.per_token_figure(per_token, n_prompt=10)
    ax = fig.get_axes()[0]
    assert [line.get_label() for line in ax.get_lines()] == list(per_token)
    assert list(ax.get_lines()[0].get_xdata()) == list(range(1, 16))  # token 0 is never predicted
    assert ax.get_title() == "Per-token loss along a validation record (10 prompt, 6 response tokens)"
    assert ax.patches or ax.collections  # the shaded prompt positions
    plt.close(fig)

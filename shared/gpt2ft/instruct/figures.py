"""The figures of Sprint 13's notebooks, drawn from what the notebook measured.

- :func:`lengths_figure`: prompt and response lengths, with and without an input
  (``sprints/sprint13_instructions/01_data``);
- :func:`training_curves`: the training and validation losses of the runs with the
  prompt masked and with the loss on everything, and :func:`per_token_figure`: the loss
  of each token along one record (``sprints/sprint13_instructions/03_finetune``).

Each returns the matplotlib figure; the notebook saves it (``results.save_figure``) and
shows it. The diagram of which labels carry the loss is ``template.masking_figure``.
"""

from __future__ import annotations

from collections.abc import Mapping


def lengths_figure(lengths, title: str):
    """Two histograms of :func:`~gpt2ft.instruct.token_lengths`' table: prompt tokens and
    response tokens, the records with an input apart from those without."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for ax, column in zip(axes, ["prompt tokens", "response tokens"], strict=True):
        for has_input, part in lengths.groupby("has input"):
            ax.hist(part[column], bins=30, alpha=0.6, label="with input" if has_input else "no input")
        ax.set_xlabel(column)
        ax.set_ylabel("records")
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# green = prompt masked, purple = loss on everything, in both figures of 03_finetune
RUN_COLOURS = ("tab:green", "tab:purple")


def training_curves(histories: Mapping[str, object]):
    """One line per run for its training loss (on its own labels, faint) and dots for its
    validation loss (response tokens: comparable across runs); ``histories`` maps a run's
    name to its ``TrainResult.history``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for (name, history), colour in zip(histories.items(), RUN_COLOURS, strict=False):
        h, e = history.dropna(subset=["train_loss"]), history.dropna(subset=["eval_loss"])
        ax.plot(h["step"], h["train_loss"], alpha=0.4, color=colour, label=f"{name}: train loss (its own labels)")
        ax.plot(e["step"], e["eval_loss"], "o-", color=colour, label=f"{name}: val loss, response tokens")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats/token)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def per_token_figure(per_token: Mapping[str, object], n_prompt: int):
    """The loss of each token of one record, one curve per model (the first dotted black: the
    starting weights; then the runs in :data:`RUN_COLOURS`), the prompt positions shaded.
    ``per_token`` maps a model's name to its losses of tokens 1, 2, ... (position 0 is never
    predicted); ``n_prompt`` is the record's prompt length in tokens."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.8))
    ax.axvspan(0.5, n_prompt - 0.5, color="#e0e0e0", label="prompt positions")
    n_tokens = None
    for (name, loss), style, colour in zip(per_token.items(), [":", "-", "-"], ["black", *RUN_COLOURS],
                                           strict=False):
        n_tokens = len(loss) + 1
        ax.plot(range(1, n_tokens), loss, style, color=colour, lw=1.2, label=name)
    ax.set_xlabel("token position in the record")
    ax.set_ylabel("loss of that token (nats)")
    ax.set_title(f"Per-token loss along a validation record ({n_prompt} prompt, "
                 f"{(n_tokens or n_prompt) - n_prompt} response tokens)", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4, frameon=False)
    fig.tight_layout()
    return fig

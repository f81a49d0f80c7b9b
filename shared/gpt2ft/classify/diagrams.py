"""Figures of the mechanism, drawn from the real tokenizer, config and data.

Introduced in ``sprints/sprint11_classification/01_data`` (:func:`length_figure`: the
token lengths of each set and the ``max_length`` chosen from them),
``02_padding_and_batches`` (:func:`padding_figure`: a right- and a left-padded batch, the
attention mask, the position ids and the one position the classifier reads) and
``04_finetune`` (:func:`stack_figure`: the stack with the classification head on the last
real token, next to the language-model head it replaces; GPT-2's parts or a Llama-family
model's, read from the config; :func:`loop_figure`: the loop written by hand against the
engine, step by step, and the learning-rate schedule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

REAL, PAD, READ = "#cfe2f3", "#eeeeee", "tab:red"


def _show(token: str, width: int = 9) -> str:
    """A GPT-2 token as text: its leading-space marker as a middle dot, cut to ``width``."""
    text = token.replace("Ġ", "·").replace("Ċ", "\\n")
    return text if len(text) <= width else text[:width - 1] + "…"


def padding_figure(tokenizer, texts: Sequence[str], pad_token_id: int | None = None):
    """A batch padded on the right and on the left: tokens, mask, position ids, the position read.

    Each cell is one token: blue where ``attention_mask`` is 1, grey and hatched where it is 0
    (padding); the number under the token is the position id a plain forward pass gives it.
    The red frame is the position ``…ForSequenceClassification`` reads: the last token that
    is not ``pad_token_id`` (named at the right of its row). On the right the real tokens keep
    the positions they have alone; on the left a padded row's tokens move.
    """
    pad_id = tokenizer.pad_token_id if pad_token_id is None else pad_token_id
    side = tokenizer.padding_side
    batches = {}
    try:
        for padding in ("right", "left"):
            tokenizer.padding_side = padding
            batches[padding] = tokenizer(list(texts), padding=True)
    finally:
        tokenizer.padding_side = side
    width = len(batches["right"]["input_ids"][0])
    rows = len(texts)
    fig, axes = plt.subplots(2, 1, figsize=(min(12.0, 0.8 * width + 2.2), 0.75 * rows * 2 + 1.3))
    titles = {"right": "right padding (what we use): real tokens keep positions 0, 1, 2, ...",
              "left": "left padding: a padded row's real tokens start at a later position"}
    for ax, (padding, batch) in zip(axes, batches.items(), strict=True):
        for r, (ids, mask) in enumerate(zip(batch["input_ids"], batch["attention_mask"], strict=True)):
            tokens = tokenizer.convert_ids_to_tokens(ids)
            non_pad = [c for c, i in enumerate(ids) if i != pad_id]
            read = non_pad[-1] if non_pad else width - 1
            y = rows - 1 - r
            for c in range(width):
                real = mask[c] == 1
                ax.add_patch(Rectangle((c, y), 0.95, 0.9, facecolor=REAL if real else PAD,
                                       edgecolor="white", hatch=None if real else "///"))
                ax.text(c + 0.475, y + 0.6, _show(tokens[c]) if real else "pad",
                        ha="center", va="center", fontsize=7.5, color="black" if real else "gray")
                ax.text(c + 0.475, y + 0.2, str(c), ha="center", va="center", fontsize=7,
                        color="dimgray")
            ax.add_patch(Rectangle((read - 0.03, y - 0.03), 1.01, 0.96, fill=False,
                                   edgecolor=READ, linewidth=2.2))
            ax.text(width + 0.15, y + 0.45, f"score reads\nposition {read}", fontsize=7.5,
                    color=READ, va="center", ha="left")
        ax.text(-0.15, rows - 1 + 0.2, "position", fontsize=7, color="dimgray", ha="right", va="center")
        ax.set_xlim(-1.3, width + 1.9)
        ax.set_ylim(-0.1, rows)
        ax.set_title(titles[padding], fontsize=9.5, loc="left")
        ax.axis("off")
    fig.text(0.01, 0.01, "blue: real token (attention_mask 1)   grey, hatched: padding (attention_mask 0)   "
             "number: position id   red frame: the position score reads", fontsize=7.5, color="dimgray")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def length_figure(lengths: Mapping[str, Sequence[int]], max_lengths: Mapping[str, int], xlabel: str,
                  title: str):
    """One histogram of token lengths per data set, its ``max_length`` (red) and median (grey)."""
    fig, axes = plt.subplots(1, len(lengths), figsize=(3.6 * len(lengths), 3), squeeze=False)
    for ax, (name, values) in zip(axes[0], lengths.items(), strict=True):
        values = np.asarray(values)
        ax.hist(values, bins=40, color="tab:blue", alpha=0.8)
        ax.axvline(max_lengths[name], color=READ, ls="--", label=f"max_length {max_lengths[name]}")
        ax.axvline(np.median(values), color="gray", ls=":", label="median")
        ax.set_title(name)
        ax.set_xlabel(xlabel)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("training texts")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def loop_figure(hand_losses: Sequence[float], engine_steps: Sequence[int], engine_losses: Sequence[float],
                hand_lrs: Sequence[float], warmup: int):
    """The loop by hand (circles) on the engine (line), step by step; the learning rate each step used."""
    fig, (ax, lr_ax) = plt.subplots(1, 2, figsize=(9, 3))
    steps = range(1, len(hand_losses) + 1)
    ax.plot(steps, hand_losses, "o", ms=5, mfc="none", label="loop by hand")
    ax.plot(list(engine_steps), list(engine_losses), "-", color="tab:orange", label="engine")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss")
    ax.legend()
    lr_ax.plot(steps, hand_lrs, color="tab:green")
    lr_ax.set_xlabel("optimizer step")
    lr_ax.set_ylabel("learning rate")
    lr_ax.set_title(f"warm-up {warmup} steps, then linear decay", fontsize=9)
    fig.tight_layout()
    return fig


def _box(ax, x, y, w, h, text, color, fontsize=8.5, textcolor="black", style="round,pad=0.02"):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=style, facecolor=color,
                                edgecolor="dimgray", linewidth=0.8))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize,
            color=textcolor)


def _arrow(ax, start, end, color="dimgray", lw=1.0, style="-|>"):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=9, color=color,
                                 linewidth=lw))


def stack_figure(config, tokens: Sequence[str], n_real: int):
    """A causal LM with a classification head: the stack, the last real token, ``score``, the logits.

    ``tokens`` are the token strings of one padded row (``n_real`` real ones, then
    padding). Left: what pre-training trained (the LM head at every position,
    next-token logits over the vocabulary). Right: what classification
    fine-tuning adds (``score`` at the last real position only, one logit per
    label). The sizes and the parts come from ``config``: GPT-2's learned position
    embedding and final layer norm ``ln_f``, or a Llama-family model's rotary
    positions and final RMSNorm ``norm``.
    """
    n_layer = getattr(config, "n_layer", getattr(config, "num_hidden_layers", 0))
    n_embd = getattr(config, "n_embd", getattr(config, "hidden_size", 0))
    vocab = getattr(config, "vocab_size", 0)
    labels = [config.id2label[i] for i in range(config.num_labels)]
    family = getattr(config, "model_type", "gpt2")
    fig, ax = plt.subplots(figsize=(9, 6))
    x0, w = 0.6, 0.95  # left edge of column 0, box width; columns 1.15 apart
    xs = [x0 + c * 1.15 for c in range(len(tokens))]
    _stack_body(ax, xs, w, tokens, n_real, n_layer, n_embd, vocab, family)
    sx, sw = _stack_heads(ax, xs, w, n_real, n_embd, vocab, labels)
    ax.set_xlim(-0.6, max(xs[-1] + w, sx + sw) + 0.3)
    ax.set_ylim(0, 8.1)
    ax.axis("off")
    name = "GPT2" if family == "gpt2" else family.capitalize()
    ax.set_title(f"{name}ForSequenceClassification: the class is read from the last real token",
                 fontsize=10)
    fig.tight_layout()
    return fig


def _stack_body(ax, xs, w, tokens, n_real, n_layer, n_embd, vocab, family="gpt2") -> None:
    """Tokens -> embeddings -> blocks -> final norm -> one hidden state per position."""
    gpt2 = family == "gpt2"
    x0, width = xs[0], xs[-1] + w - xs[0]
    for c, (x, tok) in enumerate(zip(xs, tokens, strict=True)):
        real = c < n_real
        _box(ax, x, 0.2, w, 0.55, _show(tok) if real else "pad", REAL if real else PAD,
             textcolor="black" if real else "gray")
    ax.text(x0 - 0.15, 0.47, "tokens", ha="right", va="center", fontsize=8.5)
    _box(ax, x0, 1.05, width, 0.5,
         f"token embedding (vocab {vocab:,} × {n_embd})"
         + (" + position embedding" if gpt2 else "; positions: rotary, inside attention"), "#fff2cc")
    _box(ax, x0, 1.85, width, 1.6,
         f"{n_layer} transformer blocks (causal self-attention + MLP)\n"
         "each position attends to itself and the positions before it;\n"
         "the attention mask hides the padding", "#d9ead3")
    _box(ax, x0, 3.75, width, 0.45, "final layer norm (ln_f)" if gpt2 else "final RMSNorm (norm)",
         "#d9ead3")
    for c, x in enumerate(xs):
        real = c < n_real
        _box(ax, x, 4.5, w, 0.5, f"h{c}" if real else "h (pad)", "#ead1dc" if real else PAD,
             textcolor="black" if real else "gray")
        _arrow(ax, (x + w / 2, 0.78), (x + w / 2, 1.02), lw=0.7)
    ax.text(x0 - 0.15, 4.75, f"hidden\nstates\n({n_embd} each)", ha="right", va="center",
            fontsize=8)
    for y in (1.57, 3.47, 4.22):
        _arrow(ax, (x0 + width / 2, y), (x0 + width / 2, y + 0.26), lw=0.8)


def _stack_heads(ax, xs, w, n_real, n_embd, vocab, labels) -> tuple[float, float]:
    """Pre-training's LM head at every position, fine-tuning's ``score`` at the last real one."""
    x0, last = xs[0], xs[n_real - 1]
    ax.add_patch(Rectangle((last - 0.05, 4.45), w + 0.1, 0.6, fill=False, edgecolor=READ,
                           linewidth=2.2))
    if n_real > 1:  # dashed, over the other real columns
        right = xs[n_real - 2] + w
        _box(ax, x0, 5.45, max(right - x0, 2.2), 0.75,
             f"pre-training: LM head at every position\n→ {vocab:,} next-token logits each",
             "white", fontsize=7.5)
        ax.patches[-1].set_linestyle("--")
        for x in xs[:n_real - 1]:
            _arrow(ax, (x + w / 2, 5.02), (x + w / 2, 5.43), color="gray", lw=0.7)
    sx, sw = last - 0.05, 2.0
    _box(ax, sx, 5.45, sw, 0.75, f"fine-tuning: score (new)\nLinear {n_embd} → {len(labels)}",
         "#f4cccc", fontsize=8)
    _arrow(ax, (last + w / 2, 5.07), (last + w / 2, 5.43), color=READ, lw=1.8)
    ax.text(last + w + 0.12, 5.2, "last real token only", fontsize=7.5, color=READ, va="center")
    _box(ax, sx, 6.5, sw, 0.6, "logits: " + ", ".join(labels), "#fce5cd", fontsize=8)
    _arrow(ax, (sx + sw / 2, 6.22), (sx + sw / 2, 6.48), color=READ, lw=1.2)
    _box(ax, sx, 7.4, sw, 0.55, "softmax → class\ncross-entropy with the label", "white",
         fontsize=7.5)
    _arrow(ax, (sx + sw / 2, 7.12), (sx + sw / 2, 7.38), lw=0.8)
    return sx, sw


__all__ = ["length_figure", "loop_figure", "padding_figure", "stack_figure"]

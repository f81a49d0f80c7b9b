# %% [markdown]
# # Sprint 12 · 02 — Fine-tune GPT-2 on the book
#
# We continue GPT-2's own objective, [next-token prediction](../../notes/glossary.md#next-token-prediction),
# on the book's training blocks from `01_prepare_data`, and watch the
# [validation](../../notes/glossary.md#validation-set) loss.
#
# **You will learn**
# - what a [causal language model](../../notes/glossary.md#causal-language-model)'s
#   loss is: the [cross-entropy](../../notes/glossary.md#cross-entropy) of each
#   position's prediction against the *next* token (the
#   [label shift](../../notes/glossary.md#label-shift)), written by hand and
#   checked against the model's own loss;
# - how to train it with the project's engine (`gpt2ft.training.train`) and
#   read the train and validation curves against the
#   [unigram baseline](../../notes/glossary.md#unigram-baseline) of `01_prepare_data`;
# - why a small book calls for [early stopping](../../notes/glossary.md#early-stopping):
#   keep the best weights, not the last.
#
# **The outputs below** come from `PROFILE=small`: SmolLM2-135M-Instruct (a
# real pre-trained model of GPT-2's size, see `01_prepare_data`) fine-tuned on
# the real Tiny Shakespeare on a CPU, with LoRA adapters and a short run (the
# settings are printed and explained at *Train*). Each reading also says what
# GPT-2 at full should show.
#
# Script: `python sprints/sprint12_book/02_finetune.py`. What the engine does
# beyond the loop (checkpoints, resume, several GPUs, a chunked loss) is in
# `05_appendix_engine`.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | small | full | auto
MODEL = ""  # "" = gpt2 (full), SmolLM2-135M-Instruct (small), a random tiny GPT-2 (tiny); or a folder
DATA_DIR = ""  # "" = download (full), ../shared/data (small), the bundled samples (tiny); or a folder
SEED = 0
BOOK = "tinyshakespeare"  # tinyshakespeare | the_verdict | path/to/book.txt
BLOCK_SIZE = 128  # tokens per training block
EPOCHS = 3
BATCH_SIZE = 8  # blocks per optimizer step (per process)
GRAD_ACCUM_STEPS = 1
LEARNING_RATE = 5e-5  # small: GPT-2 already knows English; a large rate erases it
MAX_STEPS = 0  # 0 = no cap (EPOCHS decides)
MAX_BATCH_TOKENS = 0  # a batch of more tokens is cut into micro-batches (same step); 0 = the engine's choice
MAX_EXAMPLES = 0  # blocks per split (train, validation); 0 = all
N_EVAL = 300  # validation blocks scored, at most (Tiny Shakespeare has 264)
EVAL_EVERY = 100  # optimizer steps between validation passes
SAVE_EVERY = 200  # optimizer steps between checkpoints
PATIENCE = 3  # evaluations without improvement before stopping early
RESUME = True  # continue this run from its last checkpoint; RESUME=0 starts over
STRATEGY = "full"  # full (every parameter) | lora (low-rank adapters on the attention projections)
LORA_R = 16  # rank of the LoRA update (STRATEGY=lora); its alpha is 2 x LORA_R
COMPILE = False  # torch.compile the training model (a GPU speed-up; make rehearse-gpu sets it)

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import display

from gpt2ft.core import models, paths
from gpt2ft.lm import measures, packing
from gpt2ft.session import data, loading, results, settings
from gpt2ft.training import LivePlot, runs, train

# tiny: the random model must learn everything in a minute: a 100x larger rate, small batches.
# small: SmolLM2 on a CPU: LoRA adapters, one epoch of the first 160 blocks (40 steps of 4 blocks).
run = settings.configure(globals(), tiny=dict(EPOCHS=4, BATCH_SIZE=4, LEARNING_RATE=5e-3,
                                              EVAL_EVERY=10, SAVE_EVERY=30),
                         small=dict(EPOCHS=1, BATCH_SIZE=4, LEARNING_RATE=1e-3, MAX_EXAMPLES=160, N_EVAL=32,
                                    EVAL_EVERY=10, SAVE_EVERY=20, STRATEGY="lora"),
                         choices=dict(STRATEGY=["full", "lora"]))

# %% [markdown]
# ## Data and model
#
# The same blocks as in `01_prepare_data` (the tokenization comes from the
# cache), and the model in evaluation mode on its device.

# %%
book = data.load_corpus(BOOK, run)
tokenizer = loading.load_tokenizer(run.model)
model = loading.load_causal_lm(run)
corpus = packing.prepare_corpus(book.text, tokenizer, block_size=BLOCK_SIZE,
                                max_context=models.context_length(model), max_blocks=MAX_EXAMPLES)
validation = corpus.validation.select(range(min(N_EVAL, len(corpus.validation))))
unigram = measures.unigram_loss(corpus.train_ids, corpus.validation_ids, len(tokenizer))
print(f"{book.name}: {len(corpus.train)} training / {len(validation)} validation blocks "
      f"of {BLOCK_SIZE} tokens; unigram baseline {unigram:.3f} nats/token")
print(f"model: {run.model_shown}, {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters "
      f"on {model.device}")

# %% [markdown]
# ## The loss, by hand
#
# The model gives one row of [logits](../../notes/glossary.md#logits) per
# position: a score for each token of the vocabulary that could come next
# (49,152 for SmolLM2, 50,257 for GPT-2). The
# logits at position *t* are compared with the token at *t + 1*: drop the last
# position's logits (nothing follows it in the block) and the first label
# (nothing predicts it), and take the cross-entropy over all the remaining
# positions.

# %%
rows = validation[:2]
input_ids = rows["input_ids"].to(model.device)  # every tensor goes where the model is
labels = rows["labels"].to(model.device)
with torch.no_grad():
    logits = model(input_ids=input_ids).logits  # batch x positions x vocabulary
    predictions = logits[:, :-1]  # position t predicts ...
    targets = labels[:, 1:]  # ... the token at t + 1
    per_position = F.cross_entropy(predictions.reshape(-1, logits.size(-1)).float(),
                                   targets.reshape(-1), reduction="none").view(targets.shape)
    by_hand = per_position.mean()
    theirs = model(input_ids=input_ids, labels=labels).loss  # the model shifts inside
print(f"logits {tuple(logits.shape)}; loss by hand {by_hand.item():.4f}, the model's {theirs.item():.4f}")

# %%
# NBVAL_CHECK_OUTPUT
print("the shifted cross-entropy by hand == the model's loss (relative difference below 1e-5):",
      torch.allclose(by_hand, theirs.float(), rtol=1e-5))
print("labels are the inputs:", torch.equal(input_ids, labels))


# %% [markdown]
# **Reading this output.** Both numbers are the same, 4.3646 nats per token,
# so the model's `labels=` argument does exactly this shift (the logits are 2
# blocks x 128 positions x 49,152 tokens). Pre-trained SmolLM2 scores 4.36
# nats on these two Shakespeare blocks before any fine-tuning, far below the
# uniform guess of ln 49,152 = 10.8 (where a random model sits). Pre-trained
# GPT-2 scores about 3.1 on web text and 3.6 on *The Verdict* (external
# figures, sources in the card); verse with speaker names is harder for both.
#
# ### The picture: inputs and targets, one position apart

# %%
def draw_label_shift(tokens, losses, n=14):
    """Input tokens on top, the token each position must predict below, and its loss per model.

    ``losses`` maps a model's name to its loss at every position; the window of ``n`` positions
    starts a few tokens before the block's first blank line (a new speaker in a play), else at 0.
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
        bars.bar([t + offset for t in range(n)], values[start:start + n], width=width, label=name,
                 color=("tab:orange", "tab:green")[i % 2])
    bars.axhline(math.log(len(tokenizer)), color="grey", linestyle="--", linewidth=1,
                 label=f"ln {len(tokenizer):,} (a uniform guess)")
    bars.set_ylabel("loss at t (nats)")
    bars.set_xticks(range(n), [f"t={start + t}" for t in range(n)])
    bars.legend(loc="upper right", fontsize=8)
    fig.suptitle("Each position predicts the next token; the loss is the mean of the bars", fontsize=10)
    fig.tight_layout()
    return fig


bars_before = {"original": per_position[0].tolist()}
fig = draw_label_shift(input_ids[0].tolist(), bars_before)
plt.show()

# %% [markdown]
# **Reading this output.** The top row is what the model reads, the bottom row
# what each position must predict: the same tokens, one place to the left
# (`\n` is a line break; the window starts a few tokens before the block's
# first blank line, where a new speaker begins). The bars are `-log p(target)`
# for pre-trained SmolLM2 at positions 90 to 103 of the first validation
# block; the loss of a block is their mean over all 127 positions (a block of
# 128 tokens has 127 targets). A real model's bars vary a lot: almost 0 at
# t=92, where a line break after "I hear." is obvious, 1.3 to 1.5 where a
# word or name finishes (`NA` after `ARI`), and high where something new
# starts, above all the speaker's name after the blank line, which SmolLM2
# cuts into pieces it has no reason to expect (`K`, then `ATH` at 7.3 nats).
# At t=96 (`ARI`, 11.7 nats) the bar rises above the uniform-guess line: a
# confident wrong guess costs more than no guess at all. (A random model's
# bars, at tiny, all sit on that line.)
#
# ## The loop, and what the engine adds
#
# The training loop itself is written by hand, in plain PyTorch, in Sprint 11's
# [`04_finetune`](../sprint11_classification/04_finetune.ipynb) (forward, loss,
# backward, clip, optimizer step, schedule, evaluate), and checked there step
# for step against `gpt2ft.training.train`. For a causal language model only
# three things change:
#
# | Sprint 11's loop by hand (classification) | here (causal LM) |
# |---|---|
# | `labels`: one class per row | `labels`: the block itself (`labels == input_ids`) |
# | loss: cross-entropy of the class scores | loss: each position against the next token, shifted inside the model |
# | rows padded to one length, with a mask | packed blocks of `BLOCK_SIZE` tokens: stacked, no padding, no mask |
#
# Everything else is the same loop. The table says what `train` adds around
# it, and when you need it; the terms are in the glossary
# ([AdamW](../../notes/glossary.md#adamw), [weight decay](../../notes/glossary.md#weight-decay),
# [warm-up](../../notes/glossary.md#warm-up), [gradient clipping](../../notes/glossary.md#gradient-clipping),
# [accumulation](../../notes/glossary.md#batch-micro-batch-and-gradient-accumulation),
# [checkpoints](../../notes/glossary.md#checkpoint), [bf16](../../notes/glossary.md#bf16-and-fp16)),
# the details and checks in `05_appendix_engine`.
#
# | the engine adds | when you need it |
# |---|---|
# | AdamW, weight decay on matrices only, warm-up then linear decay, clipping | always: the GPT-2 recipe |
# | gradient accumulation; a big batch cut into micro-batches, same gradients | a batch too big for memory |
# | evaluation every `EVAL_EVERY` steps, early stopping, the best weights kept | always on a small book |
# | atomic checkpoints, exact resume, a run folder per identity (`RESUME`) | long or interruptible runs |
# | bf16/fp16 autocast, fused AdamW, `torch.compile` | speed and memory on a GPU |
# | a chunked loss that never holds all the logits | little memory; a CPU (picked there by itself: faster) |
# | several processes (`accelerate launch`), only the main one writing files | several GPUs |
# | a progress bar, a live loss plot, the history table | always |
#
# ## Train
#
# One setting decides everything that follows: the
# [learning rate](../../notes/glossary.md#learning-rate). Pre-trained GPT-2
# already knows English, and a large rate erases that before it learns the
# book's style, so the full run uses 5e-5; the tiny model starts from random
# weights and needs 5e-3.
#
# **At small** (these outputs) a second choice comes first: which parameters
# train. Full fine-tuning of all 134.5 M parameters on a CPU costs more per
# step and 1.6 GB of optimizer state, so the run uses LoRA (`STRATEGY=lora`,
# Sprint 11's `05_strategies`): rank-16 adapters on the attention projections
# (query, key, value, output) of all 30 blocks, 1.8 M parameters (1.4 %), the
# rest frozen. The adapters start at zero, so training starts exactly from the
# pre-trained model, and they need a larger rate than full fine-tuning: 1e-3
# (exercise 3 of `06_exercises` sweeps it). The run is one epoch over the
# first 160 of the 2,398 training blocks (40 steps of 4 blocks), evaluated every
# 10 steps on the first 32 validation blocks (`N_EVAL`): what fits the
# project's CPU budget. The first 160 blocks are the opening of one play
# (*Coriolanus*), not a sample of the whole book; `04_evaluate` then asks
# whether the model memorised exactly these blocks. A full run trains every
# parameter of GPT-2 on all 2,376 blocks for up to 3 epochs.
#
# `run.train_config("train", ...)` builds the run's settings: every training
# setting of the parameters cell (`LEARNING_RATE`, `BATCH_SIZE`, `EPOCHS`,
# `MAX_STEPS`, `MAX_BATCH_TOKENS`, `EVAL_EVERY`, `PATIENCE`, ...) is carried
# over, and the keyword arguments add what this lesson chooses: a short
# warm-up, the loss logged every 5 steps, the best weights loaded at the end.
# The rest is the GPT-2 recipe the engine uses by default (weight decay 0.01,
# linear decay, clipping at 1.0).
#
# `train` names the run's folder after what makes the run: the model's starting
# weights, the book (`source=book`), the blocks and the settings that change
# the result (the learning rate does; `SAVE_EVERY` does not). Rerunning the
# same run with `RESUME = True` continues from its last checkpoint; another
# model, book or such setting gets a new folder, so no run overwrites or
# resumes another. The run's length is not part of the name: with another
# `EPOCHS` or `MAX_STEPS` the run goes on in the same folder only where its
# learning-rate schedule allows it, and otherwise stops and says so.
# `RESUME=0` starts this run over in the same folder (its old checkpoints and
# export are deleted).

# %%
cfg = run.train_config("train", warmup_ratio=0.05, log_every=5, load_best_at_end=True,
                       strategy=STRATEGY, lora_r=LORA_R, lora_alpha=2 * LORA_R)
print(f"{cfg.run_name}: strategy {cfg.strategy}" + (f" (rank {cfg.lora_r})" if STRATEGY == "lora" else "")
      + f", learning rate {cfg.learning_rate:g}, {cfg.num_epochs} epochs of {len(corpus.train)} blocks, "
      f"{cfg.batch_size} per step (max_steps={cfg.max_steps}), warm-up {cfg.warmup_ratio:.0%}, "
      f"patience {cfg.early_stopping_patience} evaluations")

# %%
before = measures.mean_loss(model, validation)
live = LivePlot(title=f"{book.name}: train vs validation loss")
result = train(model, corpus.train, validation, cfg, callbacks=[live], source=book, tokenizer=tokenizer)
print(f"{result.steps} optimizer steps; best validation loss {result.best_eval_loss:.3f}; "
      f"stopped early: {result.stopped_early}")
print("run folder:", paths.shown(result.run_dir))

# %% [markdown]
# **Reading this output.** The first line says what runs: 40 optimizer steps
# of 4 blocks on the CPU, with the chunked loss (`05_appendix_engine`). The bar
# counts the steps (its time per step is this 2-core CPU's, both cores
# working). Each validation pass prints its loss and
# [perplexity](../../notes/glossary.md#perplexity) (the exponential of the
# loss), marked "best so far" when it improves: 3.814, 3.747, 3.717, 3.712 at
# steps 10 to 40 (perplexity 45.3 to 40.9), from 4.084 (59.4) before
# training. Every evaluation was a new best, so early stopping never fired.
# A full run starts from pre-trained GPT-2 and lowers the validation loss the
# same way as it picks up the book's vocabulary and layout (speaker names,
# verse lines); on a book as short as *The Verdict* it soon starts to memorise
# and early stopping ends the run (not measured here: no GPT-2 weights can be
# downloaded in this workplace).
#
# ## Train against validation
#
# The live plot above was redrawn during training. Here is the final figure
# with the unigram baseline from `01_prepare_data` (dashed), saved with the
# results.

# %%
history = result.history
fig = live.figure()
fig.axes[0].axhline(unigram, color="grey", linestyle="--", label="unigram baseline")
fig.axes[0].legend()
display(fig)
results.save_figure(fig, "sprint12", f"loss_curves_{book.name}", run)
plt.close(fig)  # shown once: no second copy from the inline backend

# %% [markdown]
# **Reading this output.** Both curves start far *below* the unigram line
# (dashed, 6.478): SmolLM2 already models English. The validation loss falls
# most in the first 20 steps (4.08 to 3.75) and then flattens (3.71 at step
# 40): the first thing a pre-trained model learns from a play is its layout,
# which is quick. The training curve is noisier (each point is the mean of 5
# batches of 4 blocks) and ends a little below the validation curve; each
# block was seen once, so there is no sign of memorising yet. The gap between
# the curves is the [overfitting](../../notes/glossary.md#overfitting) signal:
# on a small book, training loss keeps falling as the model memorises its
# blocks while validation loss flattens and turns up (exercise 1 of
# `06_exercises` makes it happen). Early stopping ends a run after `PATIENCE`
# evaluations without a new best, and the best weights are loaded, not the
# last. A full run of GPT-2 should show the same shape over its 891 steps.

# %%
best = result.best_eval_loss
print(f"validation loss: {before:.3f} before -> {best:.3f} best "
      f"(perplexity {math.exp(before):,.1f} -> {math.exp(best):,.1f}); unigram baseline {unigram:.3f}")
below = history.dropna(subset=["eval_loss"]).query("eval_loss < @unigram")
print("first evaluation below the unigram baseline:",
      f"step {int(below['step'].iloc[0])}" if len(below) else "none")
if math.exp(best) < 1.5:
    print("Warning: validation perplexity near 1 means the model recites the text (memorised).")

# %%
# NBVAL_CHECK_OUTPUT
print("validation loss fell:", best < before)
print("below the unigram baseline:", best < unigram)

# %% [markdown]
# **Reading this output.** A validation perplexity of *P* means the model is,
# on average, as unsure as a choice among *P* equally likely tokens: after 40
# steps SmolLM2 hesitates among about 41 tokens where it hesitated among 59,
# and the unigram baseline among 651. It was below the unigram line from the
# first evaluation on (a pre-trained model starts there; a random one, at
# tiny, starts at the vocabulary size and must cross it).
#
# ## The loss at each position, before and after
#
# The same two validation blocks as in *The loss, by hand*, scored again by the
# trained model (its best weights), position by position: where did training
# help?

# %%
tuned = result.model.eval()  # the best weights; eval: no dropout
with torch.no_grad():
    logits = tuned(input_ids=input_ids).logits[:, :-1].float()
    per_position_after = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                                         reduction="none").view(targets.shape)
fig = draw_label_shift(input_ids[0].tolist(), {**bars_before, "fine-tuned": per_position_after[0].tolist()})
plt.show()
drop = (per_position - per_position_after)[0]
print(f"mean over the two blocks' {targets.numel()} positions: {per_position.mean():.3f} before, "
      f"{per_position_after.mean():.3f} after")
print("the five targets of the first block whose loss fell most:",
      ", ".join(f"{tokenizer.decode([int(targets[0, t])])!r} ({per_position[0, t]:.1f} -> "
                f"{per_position_after[0, t]:.1f})" for t in drop.topk(5).indices.tolist()))

# %% [markdown]
# **Reading this output.** Green is the fine-tuned model, orange the original,
# on the same positions. The bars fell most where the play's *layout* decides
# the next token: the blank line (t=93, 3.6 to 1.2 nats), the capital that
# starts the name after it (t=94, 4.9 to 3.1), the name's pieces (`ATH` 7.3
# to 3.3, `ARI` 11.7 to 8.1) and the line break after the name's colon (t=99,
# 3.6 to 0.1): the model has learned that a speech starts with a name in
# capitals, a colon and a new line. Not every bar falls (`NA` after `ARI`
# rose from 2.5 to 4.3), and words that depend on the meaning fall less
# (`Well`, t=100, 5.8 to 5.4; ` bid` elsewhere in the block, 9.7 to 6.7).
# Over the 254 positions of the two blocks the mean fell from 4.365 to
# 4.081. This is what a pre-trained model mostly takes from a book in a short
# run: its form first. GPT-2 at full should show the same
# pattern (its tokenizer cuts the names differently: not measured here).
#
# ## Save the best model for the next notebooks
#
# `runs.export` writes the best weights and the tokenizer into the run's own
# folder, as `finetuned/`: a folder that `from_pretrained` (and `MODEL=<folder>`)
# loads anywhere, with the history (`history.csv`) and the run's settings
# (`training.json`) beside them. Each run keeps its own export, so a run with
# another setting never overwrites this one. `03_generate`, `04_evaluate` and
# `06_exercises` find it again from what they hold, the book and the original
# model: `run.find_finetuned("train", model=original, source=book)`. (Under
# `accelerate launch` every process runs this notebook; only the main one
# writes files: `05_appendix_engine`.)

# %%
finetuned_dir = runs.export(result, tokenizer, about={"book": book.source, "command": run.command})
print("saved the best model to", paths.shown(finetuned_dir))

# %% [markdown]
# ## What you learned

# %%
print(f"- The loss by hand (logits[:, :-1] against labels[:, 1:]) is the model's own loss: "
      f"{by_hand.item():.3f} nats before training on two validation blocks.")
print(f"- Training took {result.steps} optimizer steps of {BATCH_SIZE} blocks x {BLOCK_SIZE} tokens; "
      f"validation loss {before:.3f} -> {best:.3f} (unigram baseline {unigram:.3f}).")
print(f"- The best weights (not the last) are saved in {result.run_dir.name}/{finetuned_dir.name}/, "
      "where 03_generate, 04_evaluate and 06_exercises find them.")

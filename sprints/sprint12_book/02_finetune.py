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
# Script: `python sprints/sprint12_book/02_finetune.py`. What the engine does
# beyond the loop (checkpoints, resume, several GPUs, a chunked loss) is in
# `05_appendix_engine`.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = ""  # "" = gpt2 (full) or a random tiny GPT-2 (tiny); or a hub name / local folder
DATA_DIR = ""  # "" = download (full) or the bundled samples (tiny); e.g. ../shared/data (from the repository root)
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

# The tiny model starts from random weights and must learn everything in a minute:
# a 100x larger learning rate, smaller batches, more frequent evaluations.
run = settings.configure(globals(), tiny=dict(EPOCHS=4, BATCH_SIZE=4, LEARNING_RATE=5e-3,
                                              EVAL_EVERY=10, SAVE_EVERY=30))

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
print(f"model: {run.model}, {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters "
      f"on {model.device}")

# %% [markdown]
# ## The loss, by hand
#
# The model gives one row of [logits](../../notes/glossary.md#logits) per
# position: a score for each of the 50,257 tokens that could come next. The
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
# **Reading this output.** Both numbers are the same, so the model's
# `labels=` argument does exactly this shift. The value itself is about
# ln 50,257 = 10.8 for the random tiny model: it spreads its probability evenly
# over the vocabulary. Pre-trained GPT-2 scores far lower on English text:
# about 3.1 on web text and 3.6 on *The Verdict* (external figures, sources in
# the card).
#
# ### The picture: inputs and targets, one position apart

# %%
def draw_label_shift(tokens, losses, n=8):
    """Input tokens on top, the token each position must predict below, and its loss."""
    words = [repr(tokenizer.decode([t]))[1:-1] or "·" for t in tokens[:n + 1]]
    fig, (top, bars) = plt.subplots(2, 1, figsize=(9, 3.6), height_ratios=[1.3, 1], sharex=True)
    for t in range(n):
        top.text(t, 1, words[t], ha="center", va="center", fontsize=9,
                 bbox=dict(boxstyle="round", facecolor="#dbe9f6", edgecolor="tab:blue"))
        top.text(t, 0, words[t + 1], ha="center", va="center", fontsize=9,
                 bbox=dict(boxstyle="round", facecolor="#fde5cc", edgecolor="tab:orange"))
        top.annotate("", xy=(t, 0.22), xytext=(t, 0.78), arrowprops=dict(arrowstyle="->", color="grey"))
    top.text(-0.7, 1, "input t", ha="right", va="center", fontsize=9)
    top.text(-0.7, 0, "target = input t+1", ha="right", va="center", fontsize=9)
    top.set_ylim(-0.5, 1.5)
    top.axis("off")
    bars.bar(range(n), losses[:n], color="tab:orange")
    bars.axhline(math.log(len(tokenizer)), color="grey", linestyle="--", linewidth=1,
                 label="ln 50,257 (a uniform guess)")
    bars.set_ylabel("loss at t (nats)")
    bars.set_xticks(range(n), [f"t={t}" for t in range(n)])
    bars.legend(loc="lower right", fontsize=8)
    fig.suptitle("Each position predicts the next token; the loss is the mean of the bars", fontsize=10)
    fig.tight_layout()
    return fig


fig = draw_label_shift(input_ids[0].tolist(), per_position[0].tolist())
plt.show()

# %% [markdown]
# **Reading this output.** The top row is what the model reads, the bottom row
# what each position must predict: the same tokens, one place to the left. The
# bars are `-log p(target)` at each position; the loss of a block is their
# mean over all 127 positions (a block of 128 tokens has 127 targets). For the
# random tiny model every bar sits at the uniform-guess line. After training
# they vary: low where the book makes the next token obvious (the rest of a
# speaker's name, a line break after a line), high at the first word of a new
# thought.
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
cfg = run.train_config("train", warmup_ratio=0.05, log_every=5, load_best_at_end=True)
print(f"{cfg.run_name}: learning rate {cfg.learning_rate:g}, {cfg.num_epochs} epochs of {cfg.batch_size} blocks "
      f"(max_steps={cfg.max_steps}, max_batch_tokens={cfg.max_batch_tokens}), warm-up {cfg.warmup_ratio:.0%}, "
      f"patience {cfg.early_stopping_patience} evaluations")

# %%
before = measures.mean_loss(model, validation)
live = LivePlot(title=f"{book.name}: train vs validation loss")
result = train(model, corpus.train, validation, cfg, callbacks=[live], source=book, tokenizer=tokenizer)
print(f"{result.steps} optimizer steps; best validation loss {result.best_eval_loss:.3f}; "
      f"stopped early: {result.stopped_early}")
print("run folder:", paths.shown(result.run_dir))

# %% [markdown]
# **Reading this output.** The first line says what runs: the number of
# optimizer steps, the global batch and the device. The bar counts the steps;
# each validation pass prints its loss and
# [perplexity](../../notes/glossary.md#perplexity) (the exponential of the
# loss), marked "best so far" when it improves. At tiny the random model's
# loss falls from about 10.8 (a uniform guess) to about 3.8, mostly by learning
# which tokens the sample uses at all. A full run starts from pre-trained
# GPT-2, already far below the unigram line, and lowers the validation loss
# further as it picks up the book's vocabulary and layout (speaker names,
# verse lines); on a book as short as *The Verdict* it soon starts to memorise
# and early stopping ends the run (not measured here: no pre-trained weights
# can be downloaded in this workplace).
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
# **Reading this output.** The gap between the curves is the
# [overfitting](../../notes/glossary.md#overfitting) signal: training loss
# keeps falling as the model memorises the training blocks, validation loss
# flattens and then turns up. Early stopping ends the
# run after `PATIENCE` evaluations without a new best, and the best weights are
# loaded, not the last. In the tiny run both curves fall for all 60 steps (a
# random model has much to learn from a few dozen blocks) and cross the unigram
# line within the first few evaluations (the step is printed below); in a full
# run the validation curve starts *below* the line (GPT-2 already models
# English) and flattens within the first epoch or two. Early on the validation
# dots can sit *below* the training line: each training point is the mean over
# the last 5 steps (`log_every=5`), taken while the weights were still worse,
# while a validation pass uses the weights at the end of those steps.

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
# **Reading this output.** A validation perplexity of *P* (printed above)
# means the model is, on average, as unsure as a choice among *P* equally
# likely tokens; the random start was about 50,000 (the vocabulary size). At
# tiny the template-built sample is easy, so do not compare its perplexity
# with a real book's.
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

# %% [markdown]
# # Sprint 12 · 06 — Exercises, with worked solutions
#
# Five exercises that extend the sprint. Each states a question; try it
# yourself first (copy the cell, change it), then read the worked solution
# that follows, which runs at every profile (at tiny in seconds, so its
# numbers are smoke numbers; the notes say what a full run shows).
#
# **You will learn**
# - to see [memorisation](../../notes/glossary.md#memorisation) happen: train
#   loss far below validation loss, and text copied from the book;
# - how the amount of context and the [learning rate](../../notes/glossary.md#learning-rate)
#   change the loss, and what early-stopping patience decides;
# - to take the loss on only part of each block with `-100` labels
#   ([loss masking](../../notes/glossary.md#loss-masking)), the tool Sprint 13
#   builds on.
#
# Exercises 2 and 5 use the model `02_finetune` exported for the same `BOOK`
# and `MODEL`; run it first.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = ""  # "" = gpt2 (full) or a random tiny GPT-2 (tiny)
DATA_DIR = ""  # "" = download (full) or the bundled samples (tiny)
SEED = 0
BOOK = "tinyshakespeare"  # the book 02_finetune trained on (exercises 2, 3, 5)
BLOCK_SIZE = 128
BATCH_SIZE = 8
LEARNING_RATE = 5e-5
EPOCHS = 10  # exercise 1: epochs over The Verdict
OVERFIT_BLOCKS = 0  # exercise 1: training blocks of The Verdict; 0 = all (36 at full)
SWEEP_STEPS = 100  # exercise 3: optimizer steps per learning rate
MAX_STEPS = 0  # a cap on every training run here; 0 = none
MAX_BATCH_TOKENS = 0  # a batch of more tokens is cut into micro-batches (same step); 0 = the engine's choice
MAX_EXAMPLES = 0  # blocks per split of the book in exercises 2, 3 and 5; 0 = all
N_EVAL = 64  # validation blocks scored in exercises 2, 3 and 5 (at most)
MAX_NEW_TOKENS = 60  # exercise 1: tokens generated from a training prompt

# %%
import dataclasses
import math

import matplotlib.pyplot as plt
import pandas as pd
import torch
import torch.nn.functional as F
from datasets import Dataset
from IPython.display import display

from gpt2ft.core import models
from gpt2ft.generate import decoding
from gpt2ft.lm import measures, packing
from gpt2ft.session import data, loading, settings
from gpt2ft.training import train
from gpt2ft.training.state import RunState

# Tiny: a random 2-block model must overfit within a minute on a CPU: two short blocks,
# many epochs, a large learning rate; short sweeps.
run = settings.configure(globals(), tiny=dict(BLOCK_SIZE=64, BATCH_SIZE=2, LEARNING_RATE=1e-2, EPOCHS=40,
                                              OVERFIT_BLOCKS=2, SWEEP_STEPS=6, MAX_NEW_TOKENS=40))
tokenizer = loading.load_tokenizer(run.model)


def steps(n):
    """``n`` optimizer steps, or fewer under the MAX_STEPS cap."""
    return min(n, MAX_STEPS) if MAX_STEPS else n


def per_token_losses(model, ids, batch=8):
    """Next-token loss at every position of every block (blocks x positions-1), 8 blocks at a time."""
    parts = []
    with torch.no_grad():
        for i in range(0, len(ids), batch):
            chunk = ids[i:i + batch].to(model.device)
            logits = model(input_ids=chunk).logits[:, :-1].float()
            parts.append(F.cross_entropy(logits.transpose(1, 2), chunk[:, 1:], reduction="none").cpu())
    return torch.cat(parts)


# %% [markdown]
# ## Exercise 1: watch a model memorise The Verdict
#
# *The Verdict* is a short story (about 5,100 GPT-2 tokens at full, 36
# training blocks; at tiny, a project-written stand-in of about 25 KB).
# Fine-tune the profile's model on it for `EPOCHS` epochs at
# a constant learning rate (after a short warm-up) **without** early stopping,
# evaluating after every epoch. Plot train and validation loss. Then let the
# model continue the first 8 tokens of a training block
# [greedily](../../notes/glossary.md#greedy-decoding) and measure, with
# `measures.longest_copied_span`, the longest run of its output found
# verbatim in the training text.
# Questions: where do the two curves part? How many tokens does it copy?
#
# **Worked solution.**

# %% tags=["hide-input"]
verdict = data.load_corpus("the_verdict", run)
model = loading.load_causal_lm(run)
story = packing.prepare_corpus(verdict.text, tokenizer, block_size=BLOCK_SIZE,
                               max_context=models.context_length(model))
blocks = story.train.select(range(OVERFIT_BLOCKS)) if OVERFIT_BLOCKS else story.train
# EPOCHS, BATCH_SIZE, LEARNING_RATE, MAX_STEPS... come from the parameters cell; no early stopping,
# no checkpoints (save_every=None, save_final=False): a throwaway run, started over every time.
overfit = run.train_config("overfit", eval_every="epoch", save_every=None, save_final=False, log_every=1,
                           warmup_ratio=0.05, scheduler="constant", resume=False, progress_bar=False,
                           verbose=False)
memorised = train(model, blocks, story.validation, overfit, source=verdict)
curves = memorised.history
evals = curves.dropna(subset=["eval_loss"])

fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(curves["step"], curves["train_loss"], label="train loss")
ax.plot(evals["step"], evals["eval_loss"], "o-", markersize=3, label="validation loss")
ax.set_xlabel("optimizer step")
ax.set_ylabel("loss (nats/token)")
ax.set_title(f"{len(blocks)} blocks of The Verdict, {memorised.steps} steps, no early stopping", fontsize=10)
ax.legend()
fig.tight_layout()
plt.show()

prompt_ids = blocks[0]["input_ids"][:8].tolist()
continuation = decoding.generate(memorised.model, tokenizer, tokenizer.decode(prompt_ids),
                                   max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
span, start = measures.longest_copied_span(continuation, story.train_ids)
last = curves.dropna(subset=["train_loss"]).iloc[-1]
best_step = int(evals.loc[evals["eval_loss"].idxmin(), "step"])
print(f"final train loss {last['train_loss']:.2f}, final validation loss {evals['eval_loss'].iloc[-1]:.2f}, "
      f"best validation loss {evals['eval_loss'].min():.2f} at step {best_step}")
print(f"longest span copied from the training text: {span} tokens: "
      f"{tokenizer.decode(continuation[start:start + span])!r}")

# %% [markdown]
# **Reading this output.** Training loss keeps falling as the model learns the
# training blocks by heart; validation loss falls only while the model learns
# what is general (which tokens the story uses), then stalls far above it.
# At tiny the random 2-block model sees only two blocks (of 64 tokens), 40
# times: train loss falls to almost 0 while validation loss, after its best
# (the step is printed above), climbs again, and the greedy continuation
# recites the training text word for word (the printed span). A sudden spike
# in the train loss, if you see one, is a step that overshot at this large
# constant rate; the run recovers. With real GPT-2 on all 36 blocks expect the
# same shape (not measured here). The nearest external figure is
# LLMs-from-scratch's chapter 5, which trains a 124M GPT *from scratch* (not
# pre-trained) on this story for 10 epochs and reports train loss 0.39
# against validation loss 6.45, with generations that quote the story
# (external, see the card).
#
# ## Exercise 2: does more context lower the loss?
#
# Score the fine-tuned model from `02_finetune` on the book's validation
# stream cut into blocks of 8, 16, 32, 64 and 128 tokens (`packing.pack_blocks`),
# and plot the loss against the block size. Then compute the mean loss at each
# position of the `BLOCK_SIZE`-token blocks. Why is the loss of a short block
# higher?
#
# **Worked solution.**

# %% tags=["hide-input"]
book = data.load_corpus(BOOK, run)
corpus = packing.prepare_corpus(book.text, tokenizer, block_size=BLOCK_SIZE, max_blocks=MAX_EXAMPLES)
scored = corpus.validation.select(range(min(N_EVAL, len(corpus.validation))))  # the blocks we score
original = loading.load_causal_lm(run)  # the model 02_finetune started from
finetuned_dir = run.find_finetuned("train", model=original, source=book)  # 02's run of this model and book
finetuned = loading.load_causal_lm(dataclasses.replace(run, model=str(finetuned_dir)))
stream = corpus.validation_ids[:len(scored) * BLOCK_SIZE]  # the same tokens at every size
by_size = {}
for size in (8, 16, 32, 64, 128):
    cut, _ = packing.pack_blocks(stream, size)
    by_size[size] = measures.mean_loss(finetuned, Dataset.from_dict({"input_ids": cut.tolist()})
                                         .with_format("torch"))
per_position = per_token_losses(finetuned, scored[:]["input_ids"]).mean(0)

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
left.plot(list(by_size), list(by_size.values()), "o-")
left.set_xscale("log", base=2)
left.set_xlabel("block size (tokens)")
left.set_ylabel("validation loss")
right.plot(range(1, len(per_position) + 1), per_position.numpy())
right.set_xlabel(f"position of the predicted token in a {BLOCK_SIZE}-token block")
right.set_ylabel("mean loss at that position")
fig.tight_layout()
plt.show()
print("validation loss by block size:", {k: round(v, 3) for k, v in by_size.items()})
print(f"mean loss predicting token 1 (one token of context): {per_position[0]:.2f}; "
      f"the second half of the block: {per_position[len(per_position) // 2:].mean():.2f}")

# %% [markdown]
# **Reading this output.** A block's first tokens are predicted from almost no
# context (token 1 sees only token 0), so a short block has a larger share of
# poorly informed predictions. How much the loss falls with more context
# depends on how much context the model uses: the tiny 2-block model, trained
# for a minute, uses little beyond the last few tokens, so its curve is nearly
# flat (mind the left plot's y-axis: at tiny it spans only a few hundredths
# of a nat) and the position curve is noisy (few blocks, each position
# averaged over only those). GPT-2's loss falls steeply over the first dozens of
# positions; that is why `BLOCK_SIZE` (and, for pre-training, the context of
# 1,024) matters.
#
# ## Exercise 3: a learning-rate sweep
#
# Train the profile's model on the book for `SWEEP_STEPS` steps at
# `LEARNING_RATE / 5`, `LEARNING_RATE` and `5 x LEARNING_RATE`, and compare
# the validation loss at the end. Which rate wins in this budget, and what
# does the largest one do?
#
# **Worked solution.**

# %% tags=["hide-input"]
# SWEEP_STEPS steps (or fewer under MAX_STEPS) whatever the epochs; one run per rate, each in its own folder
sweep_cfg = run.train_config("sweep", num_epochs=SWEEP_STEPS, max_steps=steps(SWEEP_STEPS), eval_every=None,
                             save_every=None, save_final=False, warmup_ratio=0.05, resume=False,
                             progress_bar=False, verbose=False)
sweep = []
for rate in (LEARNING_RATE / 5, LEARNING_RATE, 5 * LEARNING_RATE):
    cfg = dataclasses.replace(sweep_cfg, learning_rate=rate)
    result = train(loading.load_causal_lm(run), corpus.train, scored, cfg, source=book)
    history = result.history.dropna(subset=["train_loss"])
    sweep.append({"learning rate": rate, "last train loss": history["train_loss"].iloc[-1],
                  "validation loss": result.history["eval_loss"].dropna().iloc[-1]})
sweep = pd.DataFrame(sweep).set_index("learning rate")
display(sweep.round(3))
print("lowest validation loss at learning rate", f"{sweep['validation loss'].idxmin():g}")

# %% [markdown]
# **Reading this output.** In a short budget a larger rate gets further, up to
# the point where steps overshoot. At tiny a random model has nothing to lose
# and everything to learn in a few steps, so the largest rate usually gets
# furthest here (the winner is printed above); over longer runs its
# overshooting steps cost more than its speed gains (try `SWEEP_STEPS=60`: at
# tiny the middle rate then ends a little lower). Fine-tuning a pre-trained GPT-2 is the opposite regime:
# it already knows English, and rates much above 5e-5 erase that knowledge
# before the book is learned; the full run's sweep (1e-5, 5e-5, 2.5e-4) is
# the one to run on a GPU (not measured here).
#
# ## Exercise 4: what does early-stopping patience decide?
#
# Take the validation losses of exercise 1 (one per epoch, no early stopping)
# and work out, by hand, at which evaluation a run with patience 1, 2 or 3
# would have stopped and which validation loss its best (kept) weights had.
# Check your rule against the engine's own (`RunState.track`).
#
# **Worked solution.**

# %% tags=["hide-input"]
losses = evals["eval_loss"].tolist()


def stop_by_hand(losses, patience):
    """(evaluations run, best loss kept): stop after `patience` evaluations without a new best."""
    best, waited = math.inf, 0
    for n, loss in enumerate(losses, start=1):
        if loss < best:
            best, waited = loss, 0
        else:
            waited += 1
            if waited >= patience:
                return n, best
    return len(losses), best


def stop_by_engine(losses, patience):
    state = RunState(total_steps=len(losses), world_size=1)
    for n, loss in enumerate(losses, start=1):
        state.track(loss, 0.0, patience)
        if state.stopped_early:
            return n, state.best_eval_loss
    return len(losses), state.best_eval_loss


patience_table = pd.DataFrame(
    [{"patience": p, "evaluations run": stop_by_hand(losses, p)[0], "best validation loss kept":
      stop_by_hand(losses, p)[1]} for p in (1, 2, 3)]).set_index("patience")
display(patience_table.round(3))
print(f"without early stopping: best validation loss {min(losses):.3f} at evaluation "
      f"{losses.index(min(losses)) + 1} of {len(losses)}")

# %%
# NBVAL_CHECK_OUTPUT
print("the rule by hand == the engine's RunState.track for patience 1, 2, 3:",
      all(stop_by_hand(losses, p) == stop_by_engine(losses, p) for p in (1, 2, 3)))

# %% [markdown]
# **Reading this output.** Patience trades time for the chance that a plateau
# is followed by a new best. With patience 1 the run stops at the first
# evaluation that does not improve, even if a later one would have; larger
# patience runs longer and keeps a best loss as low or lower. Whichever it
# stops at, the engine keeps and reloads the *best* weights
# (`load_best_at_end=True`), so patience costs time, never quality already
# reached. At tiny the validation loss of exercise 1 reaches its best early
# and then mostly rises: patience 1 stops at the first evaluation without a
# new best and keeps a slightly worse loss; patience 2 and 3 wait for the
# run's best and stop a few evaluations after it. All stop long before 40
# epochs of memorisation. On a curve with a long plateau before a new best, a
# small patience stops too soon: patience is a bet that a plateau is the end.
# `02_finetune` uses patience 3 with an evaluation every 100 steps, about a
# third of an epoch of Tiny Shakespeare.
#
# ## Exercise 5: the loss on only the second half of each block
#
# Labels of `-100` carry no loss. Make labels that keep only the second half
# of each of 8 validation blocks (the first half set to `-100`), pass them to the
# fine-tuned model, and check the loss it returns against your own mean over
# those positions. Is the second half easier to predict than the first?
#
# **Worked solution.**

# %% tags=["hide-input"]
ids = scored[:8]["input_ids"].to(finetuned.device)  # the first 8 scored blocks
half = BLOCK_SIZE // 2
second_half = ids.clone()
second_half[:, :half] = -100  # no loss on the first half's targets
with torch.no_grad():
    theirs = finetuned(input_ids=ids, labels=second_half).loss
per_token = per_token_losses(finetuned, ids)
# the model shifts: label t + 1 is kept when t + 1 >= half, i.e. the predictions from position half - 1 on
by_hand = per_token[:, half - 1:].mean()
first_half = per_token[:, :half - 1].mean()
print(f"second half: the model's loss {theirs.item():.4f}, by hand {by_hand.item():.4f}; "
      f"first half {first_half.item():.4f}")
print("the second half is easier than the first:", bool(by_hand < first_half))

# %%
# NBVAL_CHECK_OUTPUT
print("-100 labels by hand == the model's masked loss (relative difference below 1e-5):",
      torch.allclose(theirs.float().cpu(), by_hand, rtol=1e-5))

# %% [markdown]
# **Reading this output.** The model ignores every target labelled `-100`, and
# because it shifts the labels, keeping "the second half" means keeping the
# predictions made *from* position `half - 1` on. The second half sees more
# context, so with GPT-2 its loss is lower. The tiny model uses little context
# (exercise 2): which of its halves scores better depends on which tokens
# happen to fall in them (the last line above says which), not on
# context. Training with such
# labels teaches the model only the masked-in part: Sprint 13 uses exactly
# this to learn the answers of instructions and not their prompts.
#
# ## What you learned

# %%
print(f"- Exercise 1: {len(blocks)} blocks, {memorised.steps} steps: train loss {last['train_loss']:.2f} vs "
      f"validation {evals['eval_loss'].iloc[-1]:.2f}; longest span copied verbatim: {span} tokens.")
print(f"- Exercise 2: validation loss {by_size[8]:.3f} with 8-token blocks, {by_size[128]:.3f} with 128.")
print(f"- Exercise 3: the best of the three learning rates here: {sweep['validation loss'].idxmin():g}.")
print("- Exercise 4: patience", ", ".join(f"{p} stops after {patience_table.loc[p, 'evaluations run']}"
                                         for p in (1, 2, 3)), f"of {len(losses)} evaluations.")
print(f"- Exercise 5: -100 labels keep the loss to the second half ({by_hand.item():.3f} nats).")

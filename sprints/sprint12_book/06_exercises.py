# %% [markdown]
# # Sprint 12 · 06 — Exercises, with worked solutions
#
# Five exercises that extend the sprint. Each states a task; work it out in
# the empty cell under it (its comments name what to compute and the
# functions to use), then open the worked solution below it: its code, its
# output and its discussion are collapsed (in JupyterLab click the bar beside
# a hidden cell; in the book, the toggle), and it runs at every profile, so
# your numbers can be compared with it. The outputs below come from
# `PROFILE=small`: SmolLM2-135M-Instruct trained with LoRA adapters (rank 16)
# on a CPU, every run sized to take a minute or two; each reading says what
# GPT-2 at full should show.
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
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # "" = gpt2 (full), SmolLM2-135M-Instruct (small), a random tiny GPT-2 (tiny); or a folder
DATA_DIR = ""  # "" = download (full), ../shared/data (small), the bundled samples (tiny); or a folder
SEED = 0
BOOK = "tinyshakespeare"  # the book 02_finetune trained on (exercises 2, 3, 5)
BLOCK_SIZE = 128
BATCH_SIZE = 8
LEARNING_RATE = 5e-5  # exercise 3: the middle rate of the sweep
OVERFIT_LR = 5e-5  # exercise 1: the constant learning rate of the memorising run
EPOCHS = 10  # exercise 1: epochs over The Verdict
OVERFIT_BLOCKS = 0  # exercise 1: training blocks of The Verdict; 0 = all (36 at full)
SWEEP_STEPS = 100  # exercise 3: optimizer steps per learning rate
MAX_STEPS = 0  # a cap on every training run here; 0 = none
MAX_BATCH_TOKENS = 0  # a batch of more tokens is cut into micro-batches (same step); 0 = the engine's choice
MAX_EXAMPLES = 0  # blocks per split of the book in exercises 2, 3 and 5; 0 = all
N_EVAL = 64  # validation blocks scored in exercises 2, 3 and 5 (at most)
MAX_NEW_TOKENS = 60  # exercise 1: tokens generated from a training prompt
STRATEGY = "full"  # full (every parameter) | lora (low-rank adapters on the attention projections)
LORA_R = 16  # rank of the LoRA update (STRATEGY=lora); its alpha is 2 x LORA_R

# %%
import dataclasses
import math

import matplotlib.pyplot as plt
import pandas as pd
import torch
import torch.nn.functional as F
from datasets import Dataset
from IPython.display import display

from gpt2ft.core import checks, models, paths
from gpt2ft.generate import decoding
from gpt2ft.lm import figures, measures, packing
from gpt2ft.session import data, loading, results, settings
from gpt2ft.training import throwaway, train
from gpt2ft.training.state import RunState

# tiny: a random 2-block model must overfit within a minute on a CPU: two short blocks,
# many epochs, a large learning rate; short sweeps.
# small: SmolLM2 with LoRA adapters: four blocks of The Verdict, 15 epochs; sweeps of 12 steps.
run = settings.configure(globals(), tiny=dict(BLOCK_SIZE=64, BATCH_SIZE=2, LEARNING_RATE=5e-3, OVERFIT_LR=1e-2,
                                              EPOCHS=40, OVERFIT_BLOCKS=2, SWEEP_STEPS=6, MAX_NEW_TOKENS=40),
                         small=dict(BATCH_SIZE=4, LEARNING_RATE=1e-3, OVERFIT_LR=3e-3, EPOCHS=15, OVERFIT_BLOCKS=4,
                                    SWEEP_STEPS=12, MAX_EXAMPLES=160, N_EVAL=16, MAX_NEW_TOKENS=40,
                                    STRATEGY="lora"),
                         choices=dict(STRATEGY=["full", "lora"]))
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
            # one row of logits per position (a log-softmax along contiguous rows, as the model's loss does)
            losses = F.cross_entropy(logits.reshape(-1, logits.size(-1)), chunk[:, 1:].reshape(-1), reduction="none")
            parts.append(losses.view(len(chunk), -1).cpu())
    return torch.cat(parts)


# %% [markdown]
# ## Exercise 1: watch a model memorise The Verdict
#
# *The Verdict* is a short story (5,162 SmolLM2 tokens, 5,145 GPT-2 tokens:
# 36 training blocks of 128; at tiny, a project-written stand-in of about
# 25 KB). Fine-tune the profile's model on `OVERFIT_BLOCKS` of its blocks (4 at
# small, all 36 at full) for `EPOCHS` epochs at
# a constant learning rate, `OVERFIT_LR` (after a warm-up of 5 % of the steps: none in
# small's 15), **without** early stopping,
# evaluating after every epoch. Plot train and validation loss. Then let the
# model continue the first 8 tokens of a training block
# [greedily](../../notes/glossary.md#greedy-decoding) and measure, with
# `measures.longest_copied_span`, the longest run of its output found
# verbatim in the training text.
# Questions: where do the two curves part? How many tokens does it copy?

# %% tags=["try"]
# Your turn. The story: data.load_corpus("the_verdict", run), cut by packing.prepare_corpus
# (block_size=BLOCK_SIZE); keep its first OVERFIT_BLOCKS training blocks (.select(range(...))).
# The run: throwaway(run.train_config("overfit", ...)) with learning_rate=OVERFIT_LR, eval_every="epoch",
# warmup_ratio=0.05, scheduler="constant", strategy=STRATEGY; then train(model, blocks, story.validation,
# cfg, source=verdict) and plot result.history (train_loss, eval_loss against step).
# The copy test: decoding.generate(result.model, tokenizer, prompt, max_new_tokens=MAX_NEW_TOKENS,
# do_sample=False) from the first 8 tokens of a training block, then
# measures.longest_copied_span(continuation, story.train_ids).

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
verdict = data.load_corpus("the_verdict", run)
model = loading.load_causal_lm(run)
story = packing.prepare_corpus(verdict.text, tokenizer, block_size=BLOCK_SIZE,
                               max_context=models.context_length(model))
blocks = story.train.select(range(OVERFIT_BLOCKS)) if OVERFIT_BLOCKS else story.train
# EPOCHS, BATCH_SIZE, MAX_STEPS, LORA_R... come from the parameters cell; no early stopping (no PATIENCE);
# a throwaway run: no checkpoints, started over every time, quiet (gpt2ft/training/config.py).
overfit = throwaway(run.train_config("overfit", learning_rate=OVERFIT_LR, eval_every="epoch", warmup_ratio=0.05,
                                     scheduler="constant", strategy=STRATEGY))
memorised = train(model, blocks, story.validation, overfit, source=verdict)
curves = memorised.history
evals = curves.dropna(subset=["eval_loss"])
fig = figures.train_and_validation(
    curves, f"{len(blocks)} blocks of The Verdict, {memorised.steps} steps, no early stopping")
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

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Reading this output.** SmolLM2 with rank-16 LoRA adapters (1.8 M
# trainable parameters) sees the same 4 blocks (512 tokens) of the story 15
# times at a constant 3e-3. Training loss falls from 4.3 to 0.10: it learns
# those 512 tokens by heart. Validation loss (the story's last 10 %, 4 blocks)
# improves only at first, from 3.77 after step 1 to its best, 3.72 at step 2
# (what is general: the story's names and voice), then climbs every epoch to
# 6.90, far above where it started: the weights now serve the four blocks,
# not English.
# Given the first 8 tokens of a training block, the greedy continuation
# recites all 40 tokens that follow in the story, word for word (the printed
# span, "burn rather a cheap genius--though a good fellow enough--..."). That
# is memorisation, with adapters of 1.4 % of the parameters. With GPT-2 at
# full (all 36 blocks, every parameter, 10 epochs) expect the same shape (not
# measured here). The nearest external figure is LLMs-from-scratch's
# chapter 5, which trains a 124M GPT *from scratch* on this story for 10
# epochs and reports train loss 0.39 against validation loss 6.45, with
# generations that quote the story (external; the source is in
# `notes/maintenance.md`).

# %% [markdown]
# ## Exercise 2: does more context lower the loss?
#
# Score the fine-tuned model from `02_finetune` on the book's validation
# stream cut into blocks of 8, 16, 32, 64 and 128 tokens (`packing.pack_blocks`),
# and plot the loss against the block size. Then compute the mean loss at each
# position of the `BLOCK_SIZE`-token blocks. Why is the loss of a short block
# higher?

# %% tags=["try"]
# Your turn. The fine-tuned model: run.find_finetuned("train", model=original, source=book) gives its
# folder (original = loading.load_causal_lm(run), book = data.load_corpus(BOOK, run)); load it with
# loading.load_causal_lm(dataclasses.replace(run, model=str(folder))).
# The same validation tokens at every size: packing.pack_blocks(stream, size) for size in 8 ... 128,
# each scored by measures.mean_loss(model, Dataset.from_dict({"input_ids": blocks}).with_format("torch")).
# The loss at each position: per_token_losses(model, ids) (set-up cell), averaged over the blocks.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
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
fig = figures.context(by_size, per_position.tolist(), BLOCK_SIZE)
plt.show()
print("validation loss by block size:", {k: round(v, 3) for k, v in by_size.items()})
print(f"mean loss predicting token 1 (one token of context): {per_position[0]:.2f}; "
      f"the second half of the block: {per_position[len(per_position) // 2:].mean():.2f}")

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Reading this output.** The fine-tuned SmolLM2 of `02_finetune`, on the
# same 2,048 validation tokens cut five ways: the loss falls with every
# doubling of the block, 5.196 nats with 8-token blocks, 4.585, 4.179, 3.784
# and 3.448 with 128-token blocks. A block's first tokens are
# predicted from almost no context (token 1 sees only token 0), so a short
# block has a larger share of poorly informed predictions. The right plot
# shows it position by position: predicting token 1 from one token costs
# 8.99 nats, the next twenty positions between about 3 and 6, and from there
# on the loss hovers mostly between 2 and 5 (the second half of the block
# averages 3.20);
# each point is the mean of only 16 tokens, hence the noise. GPT-2 was pre-trained with a
# context of 1,024 tokens and should show the same steep fall (not measured
# here); that is why `BLOCK_SIZE` matters. (At tiny, a random 2-block model
# trained for a minute uses almost no context, and both curves are flat.)

# %% [markdown]
# ## Exercise 3: a learning-rate sweep
#
# Train the profile's model on the book for `SWEEP_STEPS` steps at
# `LEARNING_RATE / 10`, `LEARNING_RATE` and `10 x LEARNING_RATE`, and compare
# the validation loss at the end, and the loss on the general control text
# (IMDB reviews, as in `04_evaluate`) against the original model's. Which rate
# wins in this budget, and what does the largest one do?

# %% tags=["try"]
# Your turn. One throwaway run per rate: throwaway(run.train_config("sweep", learning_rate=rate, max_steps=...,
# num_epochs=..., eval_every=None, strategy=STRATEGY)) (steps(SWEEP_STEPS) applies the MAX_STEPS cap),
# each trained from a fresh loading.load_causal_lm(run) on corpus.train, evaluated on the scored blocks
# (exercise 2's). The control text: data.control_text(run), cut by packing.prepare_corpus(...).train;
# its loss: measures.mean_loss(model, control_blocks), for the original model too.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# SWEEP_STEPS steps (or fewer under MAX_STEPS) whatever the epochs; one run per rate, each in its own folder
sweep_cfg = throwaway(run.train_config("sweep", num_epochs=SWEEP_STEPS, max_steps=steps(SWEEP_STEPS),
                                       eval_every=None, warmup_ratio=0.05, strategy=STRATEGY))
control = data.control_text(run)  # everyday modern prose: what the model knew before the book
control_blocks = packing.prepare_corpus(control.text, tokenizer, block_size=BLOCK_SIZE, max_blocks=N_EVAL).train
sweep = [{"learning rate": "none (the original)", "last train loss": math.nan,
          "validation loss": measures.mean_loss(original, scored),
          "control loss": measures.mean_loss(original, control_blocks)}]
for rate in (LEARNING_RATE / 10, LEARNING_RATE, 10 * LEARNING_RATE):
    cfg = dataclasses.replace(sweep_cfg, learning_rate=rate)
    result = train(loading.load_causal_lm(run), corpus.train, scored, cfg, source=book)
    history = result.history.dropna(subset=["train_loss"])
    sweep.append({"learning rate": f"{rate:g}", "last train loss": history["train_loss"].iloc[-1],
                  "validation loss": result.history["eval_loss"].dropna().iloc[-1],
                  "control loss": measures.mean_loss(result.model, control_blocks)})
sweep = pd.DataFrame(sweep).set_index("learning rate")
display(sweep.round(3))
trained = sweep.iloc[1:]
print(f"lowest validation loss at learning rate {trained['validation loss'].idxmin()}; the control loss "
      f"rose most at {trained['control loss'].idxmax()} (from {sweep['control loss'].iloc[0]:.3f})")

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Reading this output.** Three LoRA runs of 12 steps on the first 160
# training blocks, scored on 16 validation blocks and 16 blocks of reviews.
# The original scores 3.831 on the book and 4.263 on the reviews. At 1e-4 the
# model barely moves (3.786, reviews unchanged): too small for this budget.
# At 1e-3 (the rate of `02_finetune`) the book loss falls most, to 3.548,
# and the reviews get a little harder (4.337). At 1e-2 the book loss is
# *worse* than at 1e-3 (3.636: the steps overshoot) and the reviews' loss
# jumps to 5.035: the large steps learn the book no better and erase what
# the model knew of everyday English. (At 3e-2, tried while choosing these
# settings, the run diverges: losses above 50.) So in a short budget a
# larger rate gets further only up to a point; past it, a pre-trained model
# loses more than it learns. LoRA's update starts at zero and takes rates
# around 1e-4 to 1e-3; full fine-tuning of GPT-2 sits lower: the full run's
# sweep is 5e-6, 5e-5, 5e-4, where 5e-4 is expected to erase much of what
# GPT-2 knows (not measured here).

# %% [markdown]
# ## Exercise 4: what does early-stopping patience decide?
#
# Take the validation losses of exercise 1 (one per epoch, no early stopping)
# and work out, by hand, at which evaluation a run with patience 1, 2 or 3
# would have stopped and which validation loss its best (kept) weights had.
# Check your rule against the engine's own (`RunState.track`).

# %% tags=["try"]
# Your turn. The validation losses of exercise 1, one per epoch: evals["eval_loss"].tolist().
# Write stop_by_hand(losses, patience) -> (evaluations run, best loss kept), then feed the same losses to
# the engine: state = RunState(total_steps=len(losses), world_size=1); state.track(loss, 0.0, patience)
# for each loss until state.stopped_early; compare (checks.same) for patience 1, 2 and 3.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
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

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# NBVAL_CHECK_OUTPUT
checks.same("the rule by hand == the engine's RunState.track, for patience 1, 2 and 3",
            [stop_by_hand(losses, p) for p in (1, 2, 3)], [stop_by_engine(losses, p) for p in (1, 2, 3)])

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Reading this output.** Patience trades time for the chance that a plateau
# is followed by a new best. Exercise 1's validation loss has its best at the
# second of its 15 evaluations (3.717) and only rises after it, so patience 1
# stops at evaluation 3, patience 2 at 4 and patience 3 at 5, and all three
# keep the same best weights: the engine reloads the *best* weights
# (`load_best_at_end=True`), so patience costs time, never quality already
# reached. On a curve like this any patience is enough; on a curve with a
# long plateau before a new best, a small patience stops too soon (a
# decaying learning rate often gives one): patience is a bet that a plateau
# is the end. `02_finetune` uses patience 3 with an evaluation every 100
# steps at full (a third of an epoch of Tiny Shakespeare), every 10 at small.

# %% [markdown]
# ## Exercise 5: the loss on only the second half of each block
#
# Labels of `-100` carry no loss. Make labels that keep only the second half
# of each of 8 validation blocks (the first half set to `-100`), pass them to the
# fine-tuned model, and check the loss it returns against your own mean over
# those positions. Is the second half easier to predict than the first?

# %% tags=["try"]
# Your turn. ids = scored[:8]["input_ids"] (exercise 2's blocks); labels = ids.clone() with the first
# BLOCK_SIZE // 2 entries of each row set to -100; the model's loss: finetuned(input_ids=ids, labels=labels).loss.
# Your own: per_token_losses(finetuned, ids) (set-up cell) gives the loss of position t against token t + 1;
# average the positions whose target is kept, then checks.same(...) the two.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
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

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# NBVAL_CHECK_OUTPUT
checks.same("the mean over the kept targets, by hand == the model's loss with -100 labels", by_hand,
            theirs.float().cpu(), rtol=1e-5)

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Reading this output.** The model ignores every target labelled `-100`, and
# because it shifts the labels, keeping "the second half" means keeping the
# predictions made *from* position `half - 1` on. The fine-tuned SmolLM2's
# loss on the second halves of 8 validation blocks is 2.730 both ways; the
# first halves cost 3.642. The second half is easier by 0.9 nats because each
# of its predictions sees at least 64 tokens of context (exercise 2's
# position curve); GPT-2 should show the same. By hand, each position's loss
# is taken along a contiguous row of logits, as the model's loss does:
# computed over a transposed tensor instead, the 49,152 exponentials of each
# position are added in another order and the mean differs by 4e-5 of its
# size (seen while writing this), enough to fail a 1e-5 check on a real
# model. Training with such labels teaches the model only the masked-in
# part: Sprint 13 uses exactly this to learn the answers of instructions and
# not their prompts.

# %% [markdown]
# ## What you learned
#
# The exercises' numbers, in one table in `results/` (the sprint card quotes
# it):

# %%
rates = list(sweep.index[1:])
summary = pd.Series({
    "1: final train loss": last["train_loss"],
    "1: best validation loss": evals["eval_loss"].min(),
    "1: final validation loss": evals["eval_loss"].iloc[-1],
    f"1: tokens recited verbatim (of {MAX_NEW_TOKENS})": span,
    **{f"2: validation loss, {size}-token blocks": loss for size, loss in by_size.items()},
    "3: validation loss, original": sweep["validation loss"].iloc[0],
    **{f"3: validation loss, learning rate {rate}": sweep.loc[rate, "validation loss"] for rate in rates},
    "3: control loss, original": sweep["control loss"].iloc[0],
    **{f"3: control loss, learning rate {rate}": sweep.loc[rate, "control loss"] for rate in rates},
    **{f"4: evaluations run, patience {p}": patience_table.loc[p, "evaluations run"] for p in (1, 2, 3)},
    "5: loss on the second half of each block": by_hand.item(),
    "5: loss on the first half": first_half.item(),
}, name="value").round(3).to_frame()
summary.index.name = "exercise: measure"
path = results.write_table(summary, "sprint12", "exercises", run, title="Sprint 12: the exercises' results")
print("wrote", paths.shown(path))

# %%
print(f"- Exercise 1: {len(blocks)} blocks, {memorised.steps} steps: train loss {last['train_loss']:.2f} vs "
      f"validation {evals['eval_loss'].iloc[-1]:.2f}; longest span copied verbatim: {span} tokens.")
print(f"- Exercise 2: validation loss {by_size[8]:.3f} with 8-token blocks, {by_size[128]:.3f} with 128.")
print(f"- Exercise 3: the best of the three learning rates here: {trained['validation loss'].idxmin()}; "
      f"the control loss rose most at {trained['control loss'].idxmax()}.")
print("- Exercise 4: patience", ", ".join(f"{p} stops after {patience_table.loc[p, 'evaluations run']}"
                                         for p in (1, 2, 3)), f"of {len(losses)} evaluations.")
print(f"- Exercise 5: -100 labels keep the loss to the second half ({by_hand.item():.3f} nats).")

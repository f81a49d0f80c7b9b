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
# - the training loop, by hand in plain PyTorch (blocks, the shifted loss,
#   AdamW with its two parameter groups, warm-up and decay, clipping, an
#   evaluation on held-out blocks), checked step for step against the
#   project's engine, `gpt2ft.training.train`;
# - how to train with the engine and read the train and validation curves
#   against the [unigram baseline](../../notes/glossary.md#unigram-baseline) of `01_prepare_data`;
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
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
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
HAND_STEPS = 5  # optimizer steps of the loop written by hand (MAX_STEPS caps them too)

# %%
import math

import matplotlib.pyplot as plt
import pandas as pd
import torch
import torch.nn.functional as F
from IPython.display import display

from gpt2ft.core import checks, models, paths
from gpt2ft.lm import figures, measures, packing
from gpt2ft.session import data, loading, results, settings
from gpt2ft.training import LivePlot, batching, runs, step_by_step, strategies, train
from gpt2ft.training.compare import one_process_only

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
checks.same("the shifted cross-entropy by hand == the model's own loss", by_hand, theirs.float(), rtol=1e-5)
checks.same("the labels are the inputs", labels, input_ids)

# %% [markdown]
# **Reading this output.** Both numbers are the same, 4.3646 nats per token,
# so the model's `labels=` argument does exactly this shift (the logits are 2
# blocks x 128 positions x 49,152 tokens). Pre-trained SmolLM2 scores 4.36
# nats on these two Shakespeare blocks before any fine-tuning, far below the
# uniform guess of ln 49,152 = 10.8 (where a random model sits). Pre-trained
# GPT-2 scores about 3.1 on web text and 3.6 on *The Verdict* (external
# figures, sources in `notes/maintenance.md`); verse with speaker names is
# harder for both.
#
# ### The picture: inputs and targets, one position apart
#
# Drawn by `gpt2ft.lm.figures.label_shift` (the matplotlib code is there, to
# read) from the first block's tokens and the loss at each of its positions.

# %%
bars_before = {"original": per_position[0].tolist()}
fig = figures.label_shift(tokenizer, input_ids[0].tolist(), bars_before)
plt.show()

# %% [markdown]
# **Reading this output.** The top row is what the model reads, the bottom row
# what each position must predict: the same tokens, one place to the left
# (`\n` is a line break; the window starts a few tokens before the block's
# first blank line, where a new speaker begins). The bars are `-log p(target)`
# for pre-trained SmolLM2 at positions 90 to 103 of the first validation
# block; the loss of a block is their mean over all 127 positions (a block of
# 128 tokens has 127 targets). A real model's bars vary a lot: almost 0 at
# t=92, where a line break after "I hear." is obvious, 1.3 to 2.5 where a
# word or name finishes (`.` after `hear` 1.4, `NA` after `ARI` 2.5, the
# colon after `NA` 1.3), and high where something new
# starts, above all the speaker's name after the blank line, which SmolLM2
# cuts into pieces it has no reason to expect (`K`, then `ATH` at 7.3 nats).
# At t=96 (`ARI`, 11.7 nats) the bar rises above the uniform-guess line: a
# confident wrong guess costs more than no guess at all. (A random model's
# bars, at tiny, all sit on that line.)
#
# ## The training loop, by hand
#
# The model learns the book by repeating one step: the loss above on a batch
# of training blocks, its gradient, a small move of the weights. Here is that
# loop in plain PyTorch, for `HAND_STEPS` optimizer steps (fewer under
# `MAX_STEPS`), with the recipe of the run below:
#
# 1. **blocks**: the training blocks, cut by hand from the token stream again
#    (`BLOCK_SIZE` tokens each, as in `01_prepare_data`), `BATCH_SIZE` blocks
#    a step in the engine's shuffled order (Sprint 11's `ResumableBatchSampler`:
#    one order per epoch, drawn from `SEED`). Blocks have one length, so a
#    batch is a plain stack: no padding, no mask;
# 2. **which weights train**: `STRATEGY`, added the way the engine adds it (at
#    small, LoRA adapters of rank `LORA_R` with α = 2 × rank; at full, every weight);
# 3. **optimizer**: [AdamW](../../notes/glossary.md#adamw) with two parameter
#    groups, [weight decay](../../notes/glossary.md#weight-decay) 0.01 on the
#    weight matrices and none on biases and norm gains;
# 4. **schedule**: the learning rate rises from 0 over one
#    [warm-up](../../notes/glossary.md#warm-up) step, then falls linearly to 0
#    (a `LambdaLR` multiplying `LEARNING_RATE`);
# 5. **each step**: forward, the shifted cross-entropy of *The loss, by hand*,
#    backward, [clip](../../notes/glossary.md#gradient-clipping) the gradient
#    norm to 1.0, optimizer step, schedule step, zero the gradients;
# 6. **evaluation**: after the last step, the mean loss over every target of
#    `2 x BATCH_SIZE` held-out validation blocks, without gradients and with
#    dropout off.
#
# `torch.manual_seed(SEED)` comes right before the adapters and the optimizer
# are made, as in the engine: LoRA's first matrices and every dropout mask are
# then drawn from the same random state in both runs.

# %%
n_blocks = len(corpus.train)  # this run's training blocks (MAX_EXAMPLES caps them)
train_blocks = torch.as_tensor(corpus.train_ids[:n_blocks * BLOCK_SIZE]).long().view(n_blocks, BLOCK_SIZE)  # 1.
held_out = validation.select(range(min(len(validation), 2 * BATCH_SIZE)))  # 6. scored after the last step
sampler = batching.ResumableBatchSampler(n_blocks, BATCH_SIZE, seed=SEED)  # the engine's order of blocks
hand_steps = min(HAND_STEPS, MAX_STEPS or HAND_STEPS, len(sampler))  # within the first epoch
warmup = 1  # steps

hand_model = loading.load_causal_lm(run)  # a fresh copy of the starting weights
torch.manual_seed(SEED)
hand_model = strategies.apply_strategy(hand_model, STRATEGY, lora_r=LORA_R, lora_alpha=2 * LORA_R)  # 2.
trainable = [p for p in hand_model.parameters() if p.requires_grad]
optimizer = torch.optim.AdamW([{"params": [p for p in trainable if p.dim() >= 2], "weight_decay": 0.01},  # 3.
                               {"params": [p for p in trainable if p.dim() < 2], "weight_decay": 0.0}],
                              lr=LEARNING_RATE, fused=True)


def lr_factor(step):  # 4. 0 -> 1 over the warm-up, then linearly down to 0 one step after the last
    if step < warmup:
        return step / warmup
    return (hand_steps - step) / max(1, hand_steps - warmup)


scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
checks.same("the blocks cut by hand == the training set's", train_blocks, corpus.train[:]["input_ids"])
print(f"{STRATEGY}: {strategies.describe(hand_model)}; "
      f"{sum(p.numel() for p in optimizer.param_groups[0]['params']):,} of them decayed")

# %%
hand_losses, hand_lrs = [], []
hand_model.train()  # dropout on (GPT-2's own; LoRA's at small)
for rows in list(sampler)[:hand_steps]:  # 1. the block numbers of each step, in the engine's order
    batch = train_blocks[rows].to(hand_model.device)  # the inputs, and the labels too
    logits = hand_model(input_ids=batch).logits  # 5. forward: blocks x positions x vocabulary
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)).float(),  # position t ...
                           batch[:, 1:].reshape(-1))  # ... against the token at t + 1
    loss.backward()
    torch.nn.utils.clip_grad_norm_(hand_model.parameters(), 1.0)
    hand_lrs.append(scheduler.get_last_lr()[0])  # the rate this step uses
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    hand_losses.append(loss.item())

hand_model.eval()  # 6. dropout off, no gradients, the mean over every target token
loss_sum, n_targets = 0.0, 0
with torch.no_grad():
    for start in range(0, len(held_out), BATCH_SIZE):
        batch = held_out[start:start + BATCH_SIZE]["input_ids"].to(hand_model.device)
        logits = hand_model(input_ids=batch).logits[:, :-1].float()
        loss_sum += F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1),
                                    reduction="sum").item()
        n_targets += batch[:, 1:].numel()
hand_eval_loss = loss_sum / n_targets
print(f"{hand_steps} steps of {BATCH_SIZE} blocks: training loss {hand_losses[0]:.4f} at the first step, "
      f"{hand_losses[-1]:.4f} at the last; held-out loss {hand_eval_loss:.4f} on {len(held_out)} blocks")

# %% [markdown]
# **Reading this output.** The cut by hand gives exactly the training set's
# 160 blocks. With LoRA, 1,843,200 of SmolLM2's 136,358,208 weights train
# (1.35 %: rank-16 adapters on the query, key, value and output projections
# of 30 blocks); all are matrices, so all are decayed, and the second group is
# empty (at full, GPT-2's biases and layer-norm gains land there). Five steps
# of 4 blocks teach little: the loss moves with each batch (3.989 at the
# first step, where the rate is still 0, then 4.264, 4.332, 4.218 and 4.067)
# and the 8 held-out blocks score 3.415. The point here is the arithmetic,
# not the score.
#
# Now the same steps through the engine: a fresh copy of the same starting
# weights, the same blocks and held-out blocks, and `step_by_step`, as in
# Sprint 11 `04`: `run.train_config` (the parameters cell's learning rate,
# batch size, seed, strategy and rank) cut to the loop's steps and made to do
# exactly the loop's arithmetic: float32, no compiling, one batch per step,
# every step's loss logged, one evaluation after the last step, no step
# checkpoints and no resume (only its evaluated weights stay, in
# `runs/.../loop-by-hand-*/best/`; read it in `gpt2ft/training/config.py`). The keyword arguments
# are the loop's own: its warm-up and its device. On a CPU the engine
# computes the loss in chunks, never the whole logits matrix (`lm_loss`, the
# appendix `05`): another path to the same numbers.

# %%
config = run.train_config("loop", strategy=STRATEGY)
twin = step_by_step(config, hand_steps, warmup_steps=warmup, device=run.device)
engine = train(loading.load_causal_lm(run), corpus.train, held_out, twin)
logged = engine.history.dropna(subset=["train_loss"])
engine_eval_loss = engine.history["eval_loss"].dropna().iloc[-1]
pd.DataFrame({"rate, by hand": hand_lrs, "rate, engine": logged["lr"].tolist(),
              "loss, by hand": hand_losses, "loss, engine": logged["train_loss"].tolist()},
             index=pd.RangeIndex(1, len(hand_losses) + 1, name="step")).round(6)

# %%
# NBVAL_CHECK_OUTPUT
tolerance = 1e-5 if run.device == "cpu" else 1e-4  # a GPU's kernels may sum in another order
with one_process_only():  # the loop by hand is one process's arithmetic (gpt2ft/training/compare.py)
    checks.same("as many steps", len(hand_losses), len(logged))
    checks.same("the learning rate of every step", torch.tensor(hand_lrs), torch.tensor(logged["lr"].tolist()),
                rtol=1e-9)
    checks.same("the training loss of every step", torch.tensor(hand_losses),
                torch.tensor(logged["train_loss"].tolist()), rtol=tolerance)
    checks.same("the held-out loss after the last step", hand_eval_loss, engine_eval_loss, rtol=tolerance)

# %% [markdown]
# **Reading this output.** The engine's learning rate at every step is the
# loop's own (0 at the warm-up step, 1e-3 at the next, then down by 2.5e-4,
# a quarter of the peak, each step), and so is its training loss, to about
# 1e-5 (4.332194 against 4.332200 at step 3: the engine's chunked loss adds
# the float32 sums in another order), and the held-out loss after the last
# step. On a CPU the two runs do the same computation up to that rounding; on
# a GPU the engine multiplies matrices in TF32, hence the looser tolerance
# there. For this to hold, the loop had to match the engine
# in three places, each a lesson: the seed set right before the adapters and
# the optimizer are made (LoRA's first matrices and its dropout masks come
# from it), the blocks in the same order, and the same optimizer (fused
# AdamW, the same two groups).
#
# Against Sprint 11's loop by hand
# ([`04_finetune`](../sprint11_classification/04_finetune.ipynb), a
# classifier), three things changed and nothing else:
#
# | Sprint 11 (classification) | here (causal LM) |
# |---|---|
# | `labels`: one class per row | `labels`: the block itself (`labels == input_ids`) |
# | loss: cross-entropy of the class scores, at the last real token | loss: each position against the next token |
# | rows padded to one length, with a mask | packed blocks of `BLOCK_SIZE` tokens: stacked, no padding, no mask |
#
# ### What the engine adds, and when you need it
#
# The terms are in the glossary
# ([accumulation](../../notes/glossary.md#batch-micro-batch-and-gradient-accumulation),
# [checkpoints](../../notes/glossary.md#checkpoint), [bf16](../../notes/glossary.md#bf16-and-fp16)),
# the details and checks in `05_appendix_engine`.
#
# | the engine adds | when you need it |
# |---|---|
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
# step and about 1.6 GB of gradients and AdamW moments (4 bytes each, three
# numbers per weight), so the run uses LoRA (`STRATEGY=lora`,
# Sprint 11's `05_strategies`): rank-16 adapters on the attention projections
# (query, key, value, output) of all 30 blocks, 1.8 M parameters (1.4 %), the
# rest frozen. Each adapter's update starts at zero (its second matrix is
# zeros), so training starts exactly from the pre-trained model, and they need a larger rate than full fine-tuning: 1e-3
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
# `MAX_STEPS`, `MAX_BATCH_TOKENS`, `EVAL_EVERY`, `PATIENCE`, `LORA_R` with its
# α = 2 × rank, ...) is carried over, and the keyword arguments add what this
# lesson chooses: a short warm-up, the loss logged every 5 steps, the best
# weights loaded at the end, and which weights train. The rest is the recipe
# of the loop by hand, the engine's defaults (weight decay 0.01, linear decay,
# clipping at 1.0).
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
cfg = run.train_config("train", warmup_ratio=0.05, log_every=5, load_best_at_end=True, strategy=STRATEGY)
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
fig = figures.label_shift(tokenizer, input_ids[0].tolist(),
                          {**bars_before, "fine-tuned": per_position_after[0].tolist()})
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
print(f"- The loop by hand (blocks, shifted loss, AdamW groups, warm-up and decay, clipping, evaluation) "
      f"is the engine's: {len(hand_losses)} steps, the same losses and learning rates.")
print(f"- Training took {result.steps} optimizer steps of {BATCH_SIZE} blocks x {BLOCK_SIZE} tokens; "
      f"validation loss {before:.3f} -> {best:.3f} (unigram baseline {unigram:.3f}).")
print(f"- The best weights (not the last) are saved in {result.run_dir.name}/{finetuned_dir.name}/, "
      "where 03_generate, 04_evaluate and 06_exercises find them.")

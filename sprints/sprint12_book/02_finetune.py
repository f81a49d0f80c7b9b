# %% [markdown]
# # Sprint 12 · 02 — Fine-tune GPT-2 on the book
#
# We continue GPT-2's own objective (next-token prediction) on the book's
# training blocks, through the project's training loop (`gpt2ft.training`):
#
# - AdamW with weight decay, linear warm-up then linear decay of the learning
#   rate, gradient clipping at norm 1, optional gradient accumulation;
# - evaluation on the validation blocks every `EVAL_EVERY` steps, with loss and
#   perplexity, a progress bar and a live plot;
# - checkpoints every `SAVE_EVERY` steps (written atomically) plus the best one
#   by validation loss; an interrupted run resumes from the last checkpoint and
#   ends exactly where an uninterrupted run would;
# - **early stopping**: on a small book the model soon starts to memorise it.
#   Validation loss then turns up while training loss keeps falling (a
#   validation perplexity near 1 would mean the text is recited). We stop after
#   `PATIENCE` evaluations without improvement and keep the best weights.
#
# Script: `python sprints/sprint12_book/02_finetune.py`; on several GPUs:
# `accelerate launch --num_processes 4 sprints/sprint12_book/02_finetune.py`.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = os.environ.get("MODEL", "")  # gpt2, gpt2-medium, a local folder; empty = the profile's default
DATA_DIR = os.environ.get("DATA_DIR", "")
SEED = int(os.environ.get("SEED", "0"))
BOOK = os.environ.get("BOOK", "tinyshakespeare")
BLOCK_SIZE = int(os.environ.get("BLOCK_SIZE", "128"))
RESUME = os.environ.get("RESUME", "1") == "1"  # 0: start over (the old run is kept, renamed)
# 0 = the profile's default; tiny trains a random model from scratch, so it needs a larger rate.
LEARNING_RATE = float(os.environ.get("LEARNING_RATE", "0"))  # tiny: 5e-3, full: 5e-5
EPOCHS = int(os.environ.get("EPOCHS", "0"))  # tiny: 4, full: 3
BATCH_SIZE = 0  # tiny: 4, full: 8
GRAD_ACCUM_STEPS = 1
EVAL_EVERY = 0  # tiny: 10, full: 100 optimizer steps
SAVE_EVERY = 0  # tiny: 30, full: 200
PATIENCE = 3  # evaluations without improvement before stopping
LM_LOSS = os.environ.get("LM_LOSS", "auto")  # auto | model | chunked (see "Where the compute goes")

# %%
import math
import time

import torch
from accelerate import PartialState
from IPython.display import display

from gpt2ft import data, lm_loss, lm_metrics, loading, packing, paths, settings
from gpt2ft.training import LivePlot, TrainConfig, train

run = settings.resolve(PROFILE, MODEL or None, data_dir=DATA_DIR or None, seed=SEED)
print(run.describe())
tiny = run.is_tiny
book = data.load_corpus(BOOK, run)
tokenizer = loading.load_tokenizer(run.model)
model = loading.load_causal_lm(run)
corpus = packing.prepare_corpus(book.text, tokenizer, block_size=BLOCK_SIZE,
                                max_context=model.config.n_positions)
unigram = lm_metrics.unigram_loss(corpus.train_ids, corpus.validation_ids, len(tokenizer))
print(f"{book.name}: {len(corpus.train)} train / {len(corpus.validation)} validation blocks "
      f"of {BLOCK_SIZE} tokens; unigram baseline {unigram:.3f} nats/token")

# %% [markdown]
# ## The settings
#
# Each run gets a folder named after its settings, holding its checkpoints:
# rerunning with the same settings (`RESUME=1`, the default) continues from the
# newest good checkpoint; changed settings start a new folder, so no run
# overwrites another.

# %%
learning_rate = LEARNING_RATE or (5e-3 if tiny else 5e-5)
batch_size = BATCH_SIZE or (4 if tiny else 8)
epochs = EPOCHS or (4 if tiny else 3)
run_dir = paths.runs_dir("sprint12", run.profile, book.name)
output_dir = run_dir / (f"train-lr{learning_rate:g}-bs{batch_size}x{GRAD_ACCUM_STEPS}-ep{epochs}"
                        f"-block{BLOCK_SIZE}-seed{SEED}")
# Under `accelerate launch` this cell runs in every process; only the main one touches files.
state = PartialState(cpu=run.device == "cpu")  # the same process group the training loop joins
if not RESUME and output_dir.exists() and state.is_main_process:
    kept = output_dir.rename(output_dir.with_name(output_dir.name + time.strftime("-%Y%m%d-%H%M%S")))
    print("RESUME=0: the previous run is kept in", kept)
state.wait_for_everyone()
cfg = TrainConfig(
    output_dir=output_dir,
    learning_rate=learning_rate,
    weight_decay=0.01,
    batch_size=batch_size,
    grad_accum_steps=GRAD_ACCUM_STEPS,
    num_epochs=epochs,
    warmup_ratio=0.05,
    scheduler="linear",
    max_grad_norm=1.0,
    eval_every=EVAL_EVERY or (10 if tiny else 100),
    save_every=SAVE_EVERY or (30 if tiny else 200),
    log_every=5 if tiny else 20,
    early_stopping_patience=PATIENCE,
    load_best_at_end=True,
    seed=SEED,
    resume=RESUME,
    lm_loss=LM_LOSS,
)
print({k: getattr(cfg, k) for k in ("learning_rate", "batch_size", "grad_accum_steps", "num_epochs",
                                     "eval_every", "save_every", "early_stopping_patience", "lm_loss")})

# %% [markdown]
# ## Where the compute goes: the output layer
#
# Every position's hidden state (768 numbers in GPT-2 small) is multiplied by
# the 50,257 x 768 embedding matrix to score every token of the vocabulary.
# For a batch that is a `tokens x 50,257` matrix of logits: for 8 blocks of 128
# tokens, 51 million numbers (206 MB in fp32), then a log-softmax over it, then
# two more matrix products for the gradients. In the tiny model (64 dimensions)
# this layer is nearly all of the work.
#
# The loss never needs the whole matrix at once. Taken a few rows at a time,
# each chunk's logits give its part of the loss *and* its gradient (the
# softmax minus the one-hot target) and are dropped before the next chunk.
# `gpt2ft.lm_loss.chunked_lm_loss` does that; the training loop uses it when
# `lm_loss="chunked"`, which `"auto"` picks on a CPU, where it was measured
# faster (the chunks stay in cache; numbers in `notes/training_engine.md`). The
# arithmetic is the same, so the loss is the same:

# %%
rows = corpus.train[:2]
model.eval()  # no dropout, so both computations see the same network (train() switches it back)
with torch.no_grad():
    own = model(input_ids=rows["input_ids"], labels=rows["labels"]).loss
    hidden = model.transformer(input_ids=rows["input_ids"]).last_hidden_state
    chunked = lm_loss.chunked_lm_loss(hidden, model.lm_head.weight, rows["labels"], chunk_rows=32)
n_logits = rows["input_ids"].numel() * model.config.vocab_size
print(f"the model's loss {own.item():.6f}, chunked {chunked.item():.6f}; logits never held at once: "
      f"{n_logits:,} ({4 * n_logits / 1e6:.0f} MB in fp32), at most {32 * model.config.vocab_size:,} at a time")

# %%
# NBVAL_CHECK_OUTPUT
print("same loss:", torch.allclose(own, chunked, rtol=1e-5))

# %% [markdown]
# ## Train

# %%
before = lm_metrics.mean_loss(model, corpus.validation)
live = LivePlot(title=f"{book.name}: train vs validation loss")
result = train(model, corpus.train, corpus.validation, cfg, callbacks=[live])
print(f"{result.steps} steps in {result.elapsed_s:.1f} s; stopped early: {result.stopped_early}")

# %% [markdown]
# ## Train against validation
#
# The gap between the two curves is the overfitting signal: training loss
# keeps falling as the model memorises the training blocks, validation loss
# flattens or turns up. The dashed line is the unigram baseline.

# %%
history = result.history
evals = history.dropna(subset=["eval_loss"])
fig = live.figure()
fig.axes[0].axhline(unigram, color="grey", linestyle="--", label="unigram baseline")
fig.axes[0].legend()
display(fig)
if state.is_main_process:
    fig.savefig(run_dir / "loss_curves.png", dpi=120, bbox_inches="tight")

# %%
best = result.best_eval_loss
print(f"validation loss: {before:.3f} before -> {best:.3f} best "
      f"(perplexity {math.exp(before):,.1f} -> {math.exp(best):,.1f}); unigram baseline {unigram:.3f}")
if math.exp(best) < 1.5:
    print("Warning: validation perplexity near 1 means the model recites the text (memorised).")

# %%
# NBVAL_CHECK_OUTPUT
print("validation loss fell:", best < before)
print("below the unigram baseline:", best < unigram)

# %% [markdown]
# ## Save the best model for the next notebooks
#
# `save_pretrained` writes a folder that `from_pretrained` (and `MODEL=<dir>`)
# can load anywhere; the tokenizer goes along so the folder is self-contained.

# %%
finetuned_dir = run_dir / "finetuned"
if state.is_main_process:
    result.model.save_pretrained(finetuned_dir)
    tokenizer.save_pretrained(finetuned_dir)
    history.to_csv(run_dir / "history.csv", index=False)
    print("saved", finetuned_dir)

# %% [markdown]
# # Sprint 12 · 05 — Appendix: what the engine adds
#
# `02_finetune` trains with one call, `train(model, train_blocks,
# validation_blocks, cfg)`. This appendix opens the parts of the engine
# (`gpt2ft.training`) that a learner does not need for a first run but a
# practitioner meets soon: memory, interrupted runs, several GPUs.
#
# **You will learn**
# - where the compute of a language-model step goes (the 50,257-wide output
#   layer), and the chunked loss that never holds all the logits, checked equal
#   to the model's loss and gradients;
# - how a run is named by its *identity*, how `RESUME` continues it, and that a
#   run killed mid-way resumes to exactly the weights of an uninterrupted one;
# - how the same notebook runs on several processes (`accelerate launch`),
#   with only the main process writing files.
#
# The training loop itself, by hand and checked step for step against the
# engine, is in Sprint 11's [`04_finetune`](../sprint11_classification/04_finetune.ipynb);
# the engine's design and benchmark are in `notes/training_engine.md`.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = ""  # "" = gpt2 (full) or a random tiny GPT-2 (tiny): the model of section 1
DATA_DIR = ""  # "" = download (full) or the bundled samples (tiny)
SEED = 0
BOOK = "tinyshakespeare"
BLOCK_SIZE = 128
MAX_STEPS = 4  # optimizer steps of each demonstration run in section 3 (at least 2)

# %%
import shutil
from dataclasses import replace

import torch

from gpt2ft.core import models, paths, processes
from gpt2ft.lm import packing
from gpt2ft.session import data, loading, settings
from gpt2ft.training import TrainConfig, lm_loss, runs, train

run = settings.configure(globals())
book = data.load_corpus(BOOK, run)
tokenizer = loading.load_tokenizer(run.model)
model = loading.load_causal_lm(run)
corpus = packing.prepare_corpus(book.text, tokenizer, block_size=BLOCK_SIZE,
                                max_context=models.context_length(model))

# %% [markdown]
# ## 1. Where the compute goes: the output layer
#
# Every position's [hidden state](../../notes/glossary.md#hidden-state) (768
# numbers in GPT-2 small) is multiplied by the 50,257 x 768 token-embedding
# matrix (GPT-2's output layer reuses it: the weights are *tied*) to score
# every token of the vocabulary. For a batch that is a
# `tokens x 50,257` matrix of logits: for 8 blocks of 128 tokens, 51 million
# numbers (206 MB in fp32), then a log-softmax over it, then two more matrix
# products for the gradients. In the tiny model (64 dimensions) this layer is
# nearly all of the work.
#
# The loss never needs the whole matrix at once. Taken a few rows at a time,
# each chunk's logits give its part of the loss *and* its gradient (the
# softmax probabilities, minus 1 at the target token) and are dropped before the next chunk.
# `gpt2ft.training.lm_loss.chunked_lm_loss` does that; the engine uses it when
# `TrainConfig(lm_loss="chunked")`, which the default `"auto"` picks on a CPU,
# where it was measured faster (the chunks stay in cache; numbers in
# `notes/training_engine.md`). The arithmetic is the same, so the loss and the
# gradients are the same:

# %%
rows = corpus.validation[:2]
input_ids = rows["input_ids"].to(model.device)  # every tensor goes where the model is
labels = rows["labels"].to(model.device)
model.eval()  # no dropout: both computations see the same network


def head_gradient(compute_loss):
    """The loss, and the gradient it leaves on the (tied) output layer."""
    model.zero_grad(set_to_none=True)
    loss = compute_loss()
    loss.backward()
    return loss.detach(), model.lm_head.weight.grad.detach().clone()


own, own_grad = head_gradient(lambda: model(input_ids=input_ids, labels=labels).loss)
chunked, chunked_grad = head_gradient(lambda: lm_loss.chunked_lm_loss(
    model.transformer(input_ids=input_ids).last_hidden_state, model.lm_head.weight, labels, chunk_rows=32))
model.zero_grad(set_to_none=True)
n_logits = input_ids.numel() * model.config.vocab_size
print(f"the model's loss {own.item():.5f}, chunked {chunked.item():.5f}; logits never held at once: "
      f"{n_logits:,} ({4 * n_logits / 1e6:.0f} MB in fp32), at most {32 * model.config.vocab_size:,} at a time")

# %%
# NBVAL_CHECK_OUTPUT
print("same loss (relative difference below 1e-5):", torch.allclose(own, chunked, rtol=1e-5))
print("same gradient of the output layer (largest difference below 1e-5 of its scale):",
      bool((own_grad - chunked_grad).abs().max() <= 1e-5 * own_grad.abs().max()))

# %% [markdown]
# **Reading this output.** Two blocks of 128 tokens already make 12.9 million
# logits; the chunked loss computes 32 rows (1.6 million logits) at a time and
# gets the same loss and the same gradient. On a GPU the engine keeps the
# model's own loss by default (`lm_loss="auto"`), whose fused kernels are fast
# there; choose `lm_loss="chunked"` when the logits of a long-context batch do
# not fit in memory (16 blocks of 1,024 tokens: 3.3 GB in fp32).
#
# ## 2. A run's identity and its folder
#
# A run is defined by what changes its result: the data, the starting weights
# and the settings. `02_finetune` names its folder after a hash of exactly
# that, with `runs.run_folder`:

# %%
# four of 02's settings, to keep it short (02's identity holds all of them)
settings_of_02 = {"BOOK": BOOK, "BLOCK_SIZE": BLOCK_SIZE, "LEARNING_RATE": 5e-5, "EPOCHS": 3}
identity = {"book": book.source, "book_fp": runs.text_fingerprint(book.text),
            "model": run.model, "model_fp": runs.weights_fingerprint(model), "settings": settings_of_02}
parent = paths.runs_dir("sprint12", run.profile, book.name)
same = runs.run_folder(parent, "train", dict(identity))
faster = runs.run_folder(parent, "train", {**identity, "settings": {**settings_of_02, "LEARNING_RATE": 1e-4}})
print("this identity:       ", same.name)
print("another learning rate:", faster.name)

# %%
# NBVAL_CHECK_OUTPUT
print("the same identity, in any key order, gives the same folder:",
      same == runs.run_folder(parent, "train", dict(reversed(identity.items()))))
print("a changed setting gives another folder:", same != faster)

# %% [markdown]
# The engine checks the identity too. When `train` starts it writes
# `identity.json` into the run folder: its settings, a fingerprint of the
# starting weights and of every training and validation block. With
# `resume=True` (the notebooks' `RESUME = True`) it continues a run only if the
# folder holds the *same* identity, and refuses any other, naming what
# differs; `resume=False` (`RESUME=0`) starts over, keeping any other run's
# folder aside under a new name.
#
# ## 3. Kill a run, resume it, get the same weights
#
# The demonstration runs use a small random GPT-2 on the book's first 16
# blocks, whatever the profile: the mechanism does not depend on the model's
# size, and each run takes seconds. They run on the CPU on purpose: there a
# resumed run is bit-identical to an uninterrupted one; on a GPU some kernels
# (the embedding's gradient) add in a nondeterministic order, so a resumed run
# matches to rounding only.
#
# The "kill" is an error raised while the batch after the last checkpoint is
# read (in every process, so it also works under `accelerate launch`). A
# real crash (`kill -9`, a lost machine) is tested the same way in
# `tests/test_checkpointing.py`.

# %%
class Crash(RuntimeError):
    """Stands in for a crash mid-run."""


class Batches:
    """Stack the packed blocks into a batch; raise Crash when batch number ``crash_at`` is read."""

    def __init__(self, crash_at=None):
        self.crash_at, self.read = crash_at, 0

    def __call__(self, rows):
        self.read += 1
        if self.read == self.crash_at:
            raise Crash(f"crashed while reading batch {self.read}")
        return {key: torch.stack([row[key] for row in rows]) for key in ("input_ids", "labels")}


steps = max(2, MAX_STEPS)
save_every = max(1, steps // 2)
blocks = corpus.train.select(range(min(16, len(corpus.train))))
demo_dir = paths.runs_dir("sprint12", run.profile, "appendix")
if processes.is_main_process():  # a fresh folder for the demonstration runs; one process deletes it
    shutil.rmtree(demo_dir)
    demo_dir.mkdir(parents=True)
processes.wait_for_everyone()
demo = TrainConfig(output_dir=demo_dir / "uninterrupted", learning_rate=5e-3, batch_size=4,
                   num_epochs=steps, max_steps=steps, save_every=save_every, eval_every=None, log_every=1,
                   seed=SEED, device="cpu", progress_bar=False, verbose=False)
uninterrupted = train(models.tiny_model(SEED), blocks, None, demo, collate_fn=Batches())

killed = replace(demo, output_dir=demo_dir / "killed")
try:
    train(models.tiny_model(SEED), blocks, None, killed, collate_fn=Batches(crash_at=save_every + 1))
except Crash as err:
    print(f"the run {err}; checkpoints on disk:",
          [p.name for p in killed.output_dir.iterdir() if p.name.startswith("step-")])
resumed = train(models.tiny_model(SEED), blocks, None, killed, collate_fn=Batches())
print(f"resumed from {resumed.resumed_from.name}, trained to step {resumed.steps}")

# %% [markdown]
# The resumed run started from the same (untrained) weights, so it has the
# same identity; the engine loaded the newest checkpoint that verifies (its
# weights, the optimizer's moments, the schedule, the random-number states and
# the position in the data order) and went on from there.

# %%
# NBVAL_CHECK_OUTPUT
a, b = uninterrupted.model.state_dict(), resumed.model.state_dict()
print("resumed run == uninterrupted run, every weight bit for bit:", all(torch.equal(a[k], b[k]) for k in a))
print("same training-loss history:",
      uninterrupted.history["train_loss"].tolist() == resumed.history["train_loss"].tolist())

# %% [markdown]
# **Reading this output.** The killed run wrote checkpoints every
# `save_every` steps (the engine keeps the newest `keep_checkpoints`, 2 by
# default), crashed one step after the last one, and the resumed run redid
# that step from the checkpoint. Its weights and its loss history are exactly
# the uninterrupted run's: nothing about the crash leaks into the result.
#
# ### Another run is never resumed in its place
#
# Asking for a different run (here: twice the learning rate) in the killed
# run's folder is refused before any work, with what differs. With
# `resume=False` the other run's folder is kept aside and the new run starts.

# %%
other = replace(killed, learning_rate=2 * killed.learning_rate)
try:
    train(models.tiny_model(SEED), blocks, None, other, collate_fn=Batches())
except runs.RunMismatchError as err:
    refused = err
print(str(refused).splitlines()[1].strip())  # the first difference it names
started_over = train(models.tiny_model(SEED), blocks, None, replace(other, resume=False, max_steps=2),
                     collate_fn=Batches())
print("run folders now:", sorted(p.name.split("-kept-")[0] + ("-kept-<time>" if "-kept-" in p.name else "")
                                 for p in demo_dir.iterdir()))

# %%
# NBVAL_CHECK_OUTPUT
print("another identity was refused:", isinstance(refused, runs.RunMismatchError))
print("resume=False kept the old run aside:", any("-kept-" in p.name for p in demo_dir.iterdir()))
print("and started the new run from step 0:", started_over.resumed_from is None and started_over.steps == 2)

# %% [markdown]
# **Reading this output.** The refusal names each difference as
# `what: old value -> new value`. With `resume=False` nothing is deleted: the
# old folder is renamed `killed-kept-<time>` (the time it was set aside) and
# the new run starts in `killed/` from step 0.

# %% [markdown]
# ## 4. One notebook, several processes
#
# The training notebooks run unchanged on several GPUs:
#
# ```bash
# accelerate launch --num_processes 4 sprints/sprint12_book/02_finetune.py   # one machine, 4 GPUs
# accelerate launch --multi_gpu --num_processes 2 sprints/sprint12_book/02_finetune.py  # 2 CPU processes
# ```
#
# Every process runs the whole script. `train` joins them into one process
# group, gives each process its share of every batch (`BATCH_SIZE` is per
# process: the global batch is `BATCH_SIZE x GRAD_ACCUM_STEPS x processes`) and
# averages the gradients once per step. Everything that writes a file must run
# on one process only, or several processes write the same file at once:
#
# | what writes | how it is guarded |
# |---|---|
# | checkpoints, `best/`, `identity.json` | inside `train`: the main process writes, all wait |
# | result tables and figures | inside `results.write_table` / `results.save_figure` |
# | what a notebook writes itself (`save_pretrained` in 02) | `if processes.is_main_process(): ...` |
#
# and `processes.wait_for_everyone()` after a write that other processes then read.
#
# Resuming on several machines needs an `output_dir` on a file system they all
# share. One pitfall: creating accelerate's `PartialState()` before `train` in
# a CPU launch makes each process train alone on all the data; `train` refuses
# to start then and says so.

# %%
print("this process is the main one:", processes.is_main_process(),
      "| processes launched:", os.environ.get("WORLD_SIZE", "1 (a plain run)"))

# %% [markdown]
# **Reading this output.** A plain run (a notebook, `python 05_...py`) is one
# process, which is the main one. Under `accelerate launch --num_processes 4`
# the same line prints four times, `True` once.
#
# ## 5. What the engine adds, and where it lives
#
# | the engine adds | where (`training/`) | when you need it |
# |---|---|---|
# | AdamW (no decay on biases, norms), warm-up + decay, clipping | `runtime.py` | always |
# | accumulation; a batch over `max_batch_tokens` cut, same gradients | `loop.py`, `batches.py` | long blocks |
# | token-weighted evaluation, early stopping, best weights kept | `evaluation.py`, `state.py` | a small book |
# | atomic, verified checkpoints; exact resume; the run identity | `state.py`, `../runs.py` | long runs |
# | bf16 autocast (fp16 + `GradScaler`), TF32, fused AdamW, compile | `runtime.py` | speed on a GPU |
# | the chunked LM loss (section 1) | `../lm_loss.py` | a CPU; huge logits |
# | DDP through `accelerate`, one writer (section 4) | `runtime.py`, `../processes.py` | several GPUs |
# | a NaN/inf loss stops the run, naming the step and the rows | `state.py` | a rate too high |
# | a progress bar, a live plot, the history table | `callbacks.py`, `records.py` | always |
#
# ## What you learned

# %%
print(f"- The chunked loss equals the model's ({own.item():.4f}) without ever holding "
      f"{n_logits:,} logits at once.")
print(f"- A run killed after step {save_every} resumed from {resumed.resumed_from.name} to step "
      f"{resumed.steps} with bit-identical weights; another run was refused, and resume=False kept it aside.")
print("- Under accelerate launch every process runs the notebook; only the main one writes files.")

# %% [markdown]
# # Sprint 12 · 05 — Appendix: what the engine adds
#
# `02_finetune` trains with one call, `train(model, train_blocks,
# validation_blocks, cfg, source=book)`. This appendix opens the parts of
# the engine (`gpt2ft.training`) that a learner does not need for a first run
# but a practitioner meets soon: memory, interrupted runs, several GPUs.
#
# **You will learn**
# - where the compute of a language-model step goes (the vocabulary-wide
#   output layer), and the chunked loss that never holds all the logits,
#   checked equal to the model's loss and gradients;
# - how `train` names a run's folder after its *identity* (and how a later
#   notebook finds the run again), how resume continues it, and that a run
#   killed mid-way resumes to exactly the weights of an uninterrupted one;
# - how the same notebook runs on several processes (`accelerate launch`),
#   with only the main process writing files.
#
# The causal-LM training loop itself, by hand and checked step for step
# against the engine, is in `02_finetune` (a classifier's, in Sprint 11's
# [`04_finetune`](../sprint11_classification/04_finetune.ipynb)); the engine's
# design and benchmark are in the project's
# [`notes/training_engine.md`](../../notes/training_engine.md).
#
# At `PROFILE=small` (the outputs below) section 1 uses SmolLM2-135M-Instruct,
# the real model of the other notebooks; its code goes through the names every
# `transformers` causal LM has (`model.base_model`, `get_output_embeddings()`),
# so it holds for GPT-2 too. Sections 2 and 3 use a small random GPT-2 at every
# profile.

# %% tags=["parameters"]
import os

PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # the model of section 1: "" = gpt2 (full), SmolLM2-135M-Instruct (small), random (tiny)
DATA_DIR = ""  # "" = download (full), ../shared/data (small), the bundled samples (tiny); or a folder
SEED = 0
BOOK = "tinyshakespeare"
BLOCK_SIZE = 128
# The demonstration runs of sections 2 and 3 (a small random GPT-2 on 16 blocks, whatever the profile):
EPOCHS = 1
BATCH_SIZE = 4  # blocks per step: 16 blocks = 4 steps an epoch
LEARNING_RATE = 5e-3  # a random model learns fast at a large rate
MAX_STEPS = 0  # 0 = no cap (EPOCHS decides); a cap of 1 counts as 2: the kill of section 3 needs a checkpoint
MAX_BATCH_TOKENS = 0  # a batch of more tokens is cut into micro-batches (same step); 0 = the engine's choice

# %%
import math
import re
from dataclasses import replace

import torch

from gpt2ft.core import checks, models, paths, processes
from gpt2ft.lm import packing
from gpt2ft.session import data, loading, settings
from gpt2ft.training import lm_loss, runs, throwaway, train

run = settings.configure(globals())
book = data.load_corpus(BOOK, run)
tokenizer = loading.load_tokenizer(run.model)
model = loading.load_causal_lm(run)
corpus = packing.prepare_corpus(book.text, tokenizer, block_size=BLOCK_SIZE,
                                max_context=models.context_length(model))

# %% [markdown]
# ## 1. Where the compute goes: the output layer
#
# Every position's [hidden state](../../notes/glossary.md#hidden-state) (576
# numbers in SmolLM2, 768 in GPT-2 small) is multiplied by the token-embedding
# matrix (49,152 x 576 in SmolLM2, 50,257 x 768 in GPT-2: both models' output
# layers reuse it, the weights are *tied*) to score every token of the
# vocabulary. For a batch that is a `tokens x vocabulary` matrix of logits:
# for 8 blocks of 128 tokens, 50 million numbers (201 MB in fp32; GPT-2: 51
# million, 206 MB), then a log-softmax over it, then two more matrix products
# for the gradients. Per token, this one matrix is about a fifth of SmolLM2's
# multiply-adds (28 M of its 134.5 M parameters) and a third of GPT-2's; in
# the tiny model (64 dimensions) it is nearly all of the work.
#
# The loss never needs the whole matrix at once. Taken a few rows at a time,
# each chunk's logits give its part of the loss *and* its gradient (the
# softmax probabilities, minus 1 at the target token) and are dropped before the next chunk.
# `gpt2ft.training.lm_loss.chunked_lm_loss` does that; the engine uses it when
# `TrainConfig(lm_loss="chunked")`, which the default `"auto"` picks on a CPU,
# where it was measured faster (the chunks stay in cache; numbers in the
# project's [`notes/training_engine.md`](../../notes/training_engine.md)).
# The arithmetic is the same, so the loss and the gradients are the same, up
# to float32 rounding (the reading below says how close). The code below takes the model's body and its
# output layer by the names every `transformers` causal LM has:
# `model.base_model` (GPT-2's `transformer`, SmolLM2's `model`) and
# `model.get_output_embeddings()` (both call it `lm_head`):

# %%
rows = corpus.validation[:2]
input_ids = rows["input_ids"].to(model.device)  # every tensor goes where the model is
labels = rows["labels"].to(model.device)
model.eval()  # no dropout: both computations see the same network


head = model.get_output_embeddings()  # the output layer, whatever the model calls it (GPT-2, SmolLM2: lm_head)
body = model.base_model  # the blocks and the final norm: GPT-2's transformer, SmolLM2's model


def head_gradient(compute_loss):
    """The loss, and the gradient it leaves on the (tied) output layer."""
    model.zero_grad(set_to_none=True)
    loss = compute_loss()
    loss.backward()
    return loss.detach(), head.weight.grad.detach().clone()


own, own_grad = head_gradient(lambda: model(input_ids=input_ids, labels=labels).loss)
chunked, chunked_grad = head_gradient(lambda: lm_loss.chunked_lm_loss(
    body(input_ids=input_ids).last_hidden_state, head.weight, labels, chunk_rows=32))
model.zero_grad(set_to_none=True)
n_logits = input_ids.numel() * model.config.vocab_size
print(f"the model's loss {own.item():.5f}, chunked {chunked.item():.5f}; logits never held at once: "
      f"{n_logits:,} ({4 * n_logits / 1e6:.0f} MB in fp32), at most {32 * model.config.vocab_size:,} at a time")
print(f"the two gradients of the output layer differ by {(own_grad - chunked_grad).norm() / own_grad.norm():.1e} "
      "of their size")

# %%
# NBVAL_CHECK_OUTPUT
checks.holds("the output layer is the token embedding (tied)",
             head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr())
checks.same("the chunked loss == the model's loss", chunked, own, rtol=1e-5)
gap = ((own_grad - chunked_grad).norm() / own_grad.norm()).item()
checks.holds("the same gradient of the output layer (relative difference below 1e-4)", gap <= 1e-4,
             f"they differ by {gap:.1e} of its size")

# %% [markdown]
# **Reading this output.** With SmolLM2's vocabulary two blocks of 128 tokens
# already make 12.6 million logits (50 MB); the chunked loss computes 32 rows
# (1.6 million logits) at a time and gets the same loss, 4.36462 against
# 4.36463, and the same gradient. "The same" is to float32 precision: the two
# computations add the same products in a different order, and the gradient
# of the tied matrix also collects what flows back through all 30 blocks to
# the input embedding, so the two differ by about 2e-5 of its size (printed
# above; with the tiny 2-block model, 2e-7). A real mistake in the chunked
# arithmetic (a missing shift, a wrong scale) changes it by a large fraction
# of its size, so the 1e-4 tolerance still catches it. On a GPU the engine keeps the
# model's own loss by default (`lm_loss="auto"`), whose fused kernels are fast
# there; choose `lm_loss="chunked"` when the logits of a long-context batch do
# not fit in memory (16 blocks of 1,024 tokens: 3.3 GB in fp32).
#
# ## 2. A run names its own folder
#
# A run is defined by what changes its result: the starting weights, the data
# and the settings. When `train` starts it fingerprints exactly that, the run's
# *identity*: a hash of every weight, of every training and validation block,
# of the data the notebook passes as `source` (the book), the device and
# precision, and every setting that changes the result (the learning rate
# does; how often checkpoints are written, `save_every`, or `compile` do not).
# The run's length (`num_epochs`, `max_steps`) is left out too: asked to
# train longer or shorter, the run goes on in its own folder where its
# learning-rate schedule allows it, and otherwise stops before loading
# anything and says why. It writes the identity into the
# run's folder (`identity.json`) and names the folder
# `<run name>-<8 hex digits of the identity>`, below `runs/sprint12/<profile>/`;
# `result.run_dir` says which. So `02_finetune` never names a folder: it gives
# its run a name, `run.train_config("train", ...)`, and `train` does the rest.
#
# The demonstration runs here and in section 3 use a small random GPT-2
# (`models.tiny_model`) on the book's first 16 blocks, whatever the profile:
# the mechanism does not depend on the model's size, and each run takes
# seconds. (At small the blocks hold SmolLM2's token ids; all are below
# GPT-2's 50,257, so the random GPT-2 reads them as well as any: it learns
# nothing worth keeping in 4 steps, and only the folders and the weights'
# bits are compared.) They run on the CPU on purpose: there a resumed run is
# bit-identical to an uninterrupted one; on a GPU some kernels (the
# embedding's gradient) add in a nondeterministic order, so a resumed run
# matches to rounding only. `EPOCHS`, `BATCH_SIZE`, `LEARNING_RATE`,
# `MAX_STEPS` and `MAX_BATCH_TOKENS` come from the parameters cell; the rest
# are those of a throwaway run (`throwaway`, in
# `gpt2ft/training/config.py`): it starts over in its folder every time
# (`resume=False`: the old checkpoints are deleted, so the notebook shows the
# same thing every time it runs), logs every step and prints nothing. The
# keyword arguments are what this demonstration needs: the run's length, a
# checkpoint every `save_every` steps and one at the end, and the CPU.

# %%
class Crash(RuntimeError):
    """Stands in for a crash mid-run (section 3)."""


class Batches:
    """Stack the packed blocks into a batch; raise Crash when batch number ``crash_at`` is read."""

    def __init__(self, crash_at=None):
        self.crash_at, self.read = crash_at, 0

    def __call__(self, rows):
        self.read += 1
        if self.read == self.crash_at:
            raise Crash(f"crashed while reading batch {self.read}")
        return {key: torch.stack([row[key] for row in rows]) for key in ("input_ids", "labels")}


def demo_run(cfg, crash_at=None):
    """Train a fresh tiny GPT-2 (the same starting weights every time) on the 16 blocks."""
    return train(models.tiny_model(SEED), blocks, None, cfg, collate_fn=Batches(crash_at), source=book)


blocks = corpus.train.select(range(min(16, len(corpus.train))))
max_steps = MAX_STEPS and max(2, MAX_STEPS)  # a cap of 1 counts as 2: section 3 kills a run after a checkpoint
steps = min(EPOCHS * math.ceil(len(blocks) / BATCH_SIZE), max_steps or math.inf)  # each run's length
save_every = max(1, steps // 2)
demo = throwaway(run.train_config("demo", max_steps=max_steps), save_every=save_every, save_final=True, device="cpu")
first = demo_run(demo)
faster = demo_run(replace(demo, learning_rate=2 * demo.learning_rate))
again = demo_run(replace(demo, save_every=1, resume=True))  # checkpoints more often: the same run
print("the run:                  ", paths.shown(first.run_dir))
print("twice the learning rate:  ", faster.run_dir.name)
print("checkpoints every step:   ", again.run_dir.name, "(resumed from", again.resumed_from.name + ")")

# %%
# NBVAL_CHECK_OUTPUT
checks.holds("folders named <run name>-<8 hex digits>",
             all(re.fullmatch(r"demo-[0-9a-f]{8}", r.run_dir.name) for r in (first, faster, again)))
checks.holds("another learning rate, another folder", faster.run_dir != first.run_dir)
checks.same("another save_every, the same folder", again.run_dir, first.run_dir)
checks.holds("... and the run resumed there", again.resumed_from is not None)

# %% [markdown]
# **Reading this output.** The learning rate changes what the run computes,
# so twice the rate is another run in another folder; it can never resume or
# overwrite the first. `save_every` only says how often checkpoints are
# written, so asking again with checkpoints every step is the *same* run: it
# lands in the first run's folder and resumes it (the run had already
# finished, so there was nothing left to train).
#
# The model a run exports goes into its own folder too (`runs.export`, as in
# `02_finetune`), and a later notebook finds it from what it already holds,
# the starting model and the data: `run.find_finetuned` picks the run of that
# name whose identity has the same starting weights and the same `source`,
# and says which run it found (here the first: the other was not exported).

# %%
exported = runs.export(first)  # the model, into <run folder>/finetuned/
found = run.find_finetuned("demo", model=models.tiny_model(SEED), source=book)

# %%
# NBVAL_CHECK_OUTPUT
checks.same("found the exported model of the same starting weights and book", found, exported)

# %% [markdown]
# ## 3. Kill a run, resume it, get the same weights
#
# The "kill" is an error raised while the batch after the last checkpoint is
# read (in every process, so it also works under `accelerate launch`). A
# real crash (`kill -9`, a lost machine) is tested the same way in
# `tests/test_checkpointing.py`. The killed run is `demo`'s run under another
# name, so its folder has the same 8 hex digits: the same identity.

# %%
killed = replace(demo, run_name="killed")
try:
    demo_run(killed, crash_at=save_every + 1)
except Crash as err:
    print(f"the run {err}, after its checkpoint at step {save_every}")
resumed = demo_run(replace(killed, resume=True))
print(f"{resumed.run_dir.name} resumed from {resumed.resumed_from.name}, trained to step {resumed.steps}")

# %% [markdown]
# The resumed run started from the same (untrained) weights, so it has the
# same identity; the engine loaded the newest checkpoint that verifies (its
# weights, the optimizer's moments, the schedule, the random-number states and
# the position in the data order) and went on from there.

# %%
# NBVAL_CHECK_OUTPUT
a, b = first.model.state_dict(), resumed.model.state_dict()
checks.same("the same weights, by name", sorted(b), sorted(a))
checks.holds("resumed run == uninterrupted run, every weight bit for bit", all(torch.equal(a[k], b[k]) for k in a),
             f"these differ: {[k for k in a if not torch.equal(a[k], b[k])]}")
checks.same("the same training-loss history", resumed.history["train_loss"].tolist(),
            first.history["train_loss"].tolist())

# %% [markdown]
# **Reading this output.** The killed run wrote checkpoints every
# `save_every` steps (the engine keeps the newest `keep_checkpoints`, 2 by
# default), crashed one step after the last one, and the resumed run redid
# that step from the checkpoint. Its weights and its loss history are exactly
# the uninterrupted run's (section 2's first run): nothing about the crash
# leaks into the result.
#
# ### A folder named by hand is guarded too
#
# Without a run name (`run_name=None`), `output_dir` itself is the run folder,
# named by whoever wrote the config. The engine still reads the
# `identity.json` there: asking for another run (twice the learning rate) in
# the killed run's folder is refused before any work, naming what differs.
# (With `resume=False` the other run's folder would be kept aside under a new
# name, `<folder>-kept-<time>`, and the new run would start.)

# %%
by_hand = replace(killed, run_name=None, output_dir=resumed.run_dir,
                  learning_rate=2 * killed.learning_rate, resume=True)
try:
    demo_run(by_hand)
except runs.RunMismatchError as err:
    refused = err
print(str(refused).splitlines()[1].strip())  # the first difference it names

# %%
# NBVAL_CHECK_OUTPUT
checks.holds("another identity was refused", isinstance(refused, runs.RunMismatchError))

# %% [markdown]
# **Reading this output.** The refusal names each difference as
# `what: old value -> new value`, and nothing in the folder was changed.

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
# | the exported model (`runs.export` in 02) | inside `runs.export` |
# | result tables and figures | inside `results.write_table` / `results.save_figure` |
# | what a notebook writes itself | `if processes.is_main_process(): ...` |
#
# and `processes.wait_for_everyone()` after a write that other processes then read.
#
# Resuming on several machines needs the run folders (`runs/`, or wherever
# `RUNS_DIR` points) on a file system they all share. One pitfall: creating
# accelerate's `PartialState()` before `train` in a CPU launch makes each
# process train alone on all the data; `train` refuses to start then and says
# so.

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
# | AdamW (no decay on biases, norms), warm-up + decay, clipping | `runtime.py`, `step.py` | always |
# | accumulation; a batch over `max_batch_tokens` cut, same gradients | `step.py`, `inputs.py` | long blocks |
# | token-weighted evaluation, early stopping, best weights kept | `evaluation.py`, `state.py` | a small book |
# | the run's identity, its folder, the export (section 2) | `runs.py` | always |
# | atomic, verified checkpoints; exact resume (section 3) | `state.py`, `checkpointing.py` | long runs |
# | bf16 autocast (fp16 + `GradScaler`), TF32, fused AdamW, compile | `runtime.py` | speed on a GPU |
# | the chunked LM loss (section 1) | `lm_loss.py` | a CPU; huge logits |
# | DDP through `accelerate`, one writer (section 4) | `runtime.py`, `core/processes.py` | several GPUs |
# | a NaN/inf loss stops the run, naming the step and the rows | `state.py` | a rate too high |
# | a progress bar, a live plot, the history table | `callbacks.py`, `reporting.py` | always |
#
# ## What you learned

# %%
print(f"- The chunked loss equals the model's ({own.item():.4f}) without ever holding "
      f"{n_logits:,} logits at once.")
print(f"- train named each run's folder after its identity ({first.run_dir.name}); another learning rate "
      f"got another folder, another save_every the same one.")
print(f"- A run killed after step {save_every} resumed from {resumed.resumed_from.name} to step "
      f"{resumed.steps} with bit-identical weights; another run in its folder was refused.")
print("- Under accelerate launch every process runs the notebook; only the main one writes files.")

# %% [markdown]
# # Sprint 12 · 07 — Check yourself
#
# Seven questions on the sprint's lesson: blocks (without and with overlap),
# the label shift, `-100`, perplexity, the learning-rate schedule, and what
# held-in against held-out text measures. Each answer is a number you can work out from the sprint's
# notebooks and the values printed here. Put it in place of `None` in the
# question's cell and run the cell: `selfcheck.check` compares it with the
# answer the package computes from the real tokenizer, data and model
# (hidden until you are right), says why when you are, and gives a hint when
# you are not (it prints its verdict and returns nothing). The worked
# solution below each question is collapsed (in JupyterLab click the bar
# beside it; in the book, the toggle): it computes the answer by hand and
# passes it to `selfcheck.solution`, which prints `✔ right.` and the
# explanation, and stops the notebook if the worked answer were wrong.
#
# The values come from `PROFILE=small` (SmolLM2-135M-Instruct's tokenizer and
# weights, the real Tiny Shakespeare); at another profile the numbers differ
# and the checks follow them. The last question uses the model `02_finetune`
# exported: run it first. Nothing here trains: a minute at most on a CPU.

# %% tags=["parameters"]
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # the original model, as in 02: "" = gpt2 (full), SmolLM2-135M-Instruct (small), random (tiny)
DATA_DIR = ""  # "" = download (full), ../shared/data (small), the bundled samples (tiny); or a folder
SEED = 0
BOOK = "tinyshakespeare"  # the book 02_finetune trained on
BLOCK_SIZE = 128  # tokens per block, as in 01 and 02
N_BLOCKS = 8  # blocks of each side scored in questions 5 and 7

# %%
import dataclasses
import math

import pandas as pd
import torch
from IPython.display import display

from gpt2ft.core import models
from gpt2ft.lm import measures, packing
from gpt2ft.session import data, loading, selfcheck, settings
from gpt2ft.training import reporting, runtime

run = settings.configure(globals())
book = data.load_corpus(BOOK, run)
tokenizer = loading.load_tokenizer(run.model)
original = loading.load_causal_lm(run)
corpus = packing.prepare_corpus(book.text, tokenizer, block_size=BLOCK_SIZE,
                                max_context=models.context_length(original))
n_train = len(corpus.train_ids)
print(f"{book.name}: {len(corpus.train_ids) + len(corpus.validation_ids):,} tokens; "
      f"the training part (the first 90 %): {n_train:,} tokens")

# %% [markdown]
# ## 1. Blocks from a text
#
# `01_prepare_data` cuts the training part of the book (its number of tokens
# is printed above) into blocks of `BLOCK_SIZE` tokens, one after the other,
# and drops the tail that does not fill a last block. How many training
# blocks does it get?

# %%
# NBVAL_CHECK_OUTPUT
answer = None  # your answer: a whole number of blocks
selfcheck.check(answer, expected=len(corpus.train),
                why=f"{n_train:,} tokens // {BLOCK_SIZE} = {len(corpus.train):,} whole blocks; the last "
                    f"{corpus.report['train tail dropped']} tokens fill no block and are dropped.",
                hint="whole blocks only: how many times does BLOCK_SIZE fit into the number of tokens?")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
answer = n_train // BLOCK_SIZE  # whole blocks; the remainder is the dropped tail
selfcheck.solution(answer, expected=len(corpus.train),
                       why=f"{n_train:,} // {BLOCK_SIZE} = {answer:,}, with {n_train % BLOCK_SIZE} tokens left over.")

# %% [markdown]
# ## 2. Overlapping blocks: a stride
#
# Blocks may also overlap: a block of `BLOCK_SIZE` tokens starts every
# *stride* tokens, so with a stride of half a block each block shares its
# second half with the next one's first half. The last block must still end
# inside the text. With a stride of `BLOCK_SIZE // 2` tokens, how many full
# blocks does the same training part give?

# %%
# NBVAL_CHECK_OUTPUT
stride = BLOCK_SIZE // 2
answer = None  # your answer: a whole number of blocks
windows = torch.as_tensor(corpus.train_ids.astype("int64")).unfold(0, BLOCK_SIZE, stride)  # every full window
selfcheck.check(answer, expected=windows.shape[0],
                why=f"blocks start at 0, {stride}, {2 * stride}, ... up to the last start that leaves room "
                    f"for {BLOCK_SIZE} tokens: {windows.shape[0]:,} blocks, about twice as many as without "
                    "overlap, so every token is read about twice an epoch (in two different contexts).",
                hint=f"count the starts 0, {stride}, {2 * stride}, ...: the last one is at most "
                     "(tokens - BLOCK_SIZE).")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
answer = (n_train - BLOCK_SIZE) // stride + 1  # the starts 0, stride, ... <= n_train - BLOCK_SIZE, and the first
selfcheck.solution(answer, expected=windows.shape[0],
                       why=f"({n_train:,} - {BLOCK_SIZE}) // {stride} + 1 = {answer:,}.")

# %% [markdown]
# ## 3. Which token does a position predict?
#
# The first training block starts with these tokens (`labels` are the
# `input_ids` themselves):

# %%
first = corpus.train[0]
display(pd.DataFrame({"input_ids": first["input_ids"][:8].tolist(),
                      "token": [repr(tokenizer.decode([t])) for t in first["input_ids"][:8].tolist()]},
                     index=pd.RangeIndex(8, name="position")).T)

# %% [markdown]
# The model's prediction at position 3 (counting from 0) is scored against
# one token of the block. Which token id is it?

# %%
# NBVAL_CHECK_OUTPUT
answer = None  # your answer: a token id (a whole number from the table)
selfcheck.check(answer, expected=int(first["labels"][1:][3]),
                why="position t is scored against the token at t + 1 (the label shift): position 3, which has "
                    "read tokens 0 to 3, must predict token 4.",
                hint="a causal LM never predicts the token it has just read.")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
answer = int(first["input_ids"][3 + 1])  # the next token: labels == input_ids, shifted by one inside the loss
selfcheck.solution(answer, expected=int(first["labels"][1:][3]),
                       why=f"token 4, {tokenizer.decode([answer])!r} (id {answer}).")

# %% [markdown]
# ## 4. What `-100` does
#
# A batch of 4 training blocks, with labels equal to the inputs except the
# first half of each block, `labels[:, :BLOCK_SIZE // 2]`, set to `-100`.
# Over how many targets does the model's loss take its mean?

# %%
batch = {"input_ids": corpus.train[:4]["input_ids"]}
batch["labels"] = batch["input_ids"].clone()
batch["labels"][:, :BLOCK_SIZE // 2] = -100

# %%
# NBVAL_CHECK_OUTPUT
answer = None  # your answer: a whole number of targets
selfcheck.check(answer, expected=int(reporting.loss_weight(batch, causal=True)),
                why="a label of -100 carries no loss, and the label of position 0 is never a target (no "
                    "position predicts the first token); what is left are the labels from BLOCK_SIZE // 2 on, "
                    "predicted by positions BLOCK_SIZE // 2 - 1 to BLOCK_SIZE - 2: half a block per block.",
                hint="the model shifts first (labels[:, 1:]), then drops every -100: count what remains.")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
kept = batch["labels"][:, 1:] != -100  # the targets after the shift, without the -100s
answer = int(kept.sum())
selfcheck.solution(answer, expected=int(reporting.loss_weight(batch, causal=True)),
                       why=f"4 blocks x {answer // 4} kept targets = {answer}.")

# %% [markdown]
# ## 5. Perplexity from a loss
#
# The original model's mean next-token loss on the first `N_BLOCKS`
# validation blocks:

# %%
held_out = corpus.validation.select(range(min(N_BLOCKS, len(corpus.validation))))
loss = measures.mean_loss(original, held_out)
print(f"mean loss: {loss:.4f} nats per token")

# %% [markdown]
# What is its perplexity (to within 1 %)?

# %%
# NBVAL_CHECK_OUTPUT
answer = None  # your answer: a number (the perplexity)
selfcheck.check(answer, expected=measures.perplexity(original, held_out), tolerance=0.01,
                why="perplexity is the exponential of the mean loss in nats: the model is, on average, as "
                    "unsure as a choice among that many equally likely tokens.",
                hint="the loss is a mean of -ln p(target); undo the logarithm.")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
answer = math.exp(loss)  # e to the loss
selfcheck.solution(answer, expected=measures.perplexity(original, held_out), tolerance=0.01,
                       why=f"e^{loss:.4f} = {answer:,.1f}.")

# %% [markdown]
# ## 6. The learning rate of the last step
#
# `02_finetune`'s run at small is 40 optimizer steps at a peak rate of 1e-3,
# with a warm-up of 2 steps (5 % of 40), then a linear decay to 0: the
# engine's schedule, the loop by hand's `lr_factor`. The first step uses the
# rate 0, the second half the peak, the third the peak. What rate does the
# 40th and last step use, as a fraction of the peak (1 = the peak)?

# %%
# NBVAL_CHECK_OUTPUT
steps_in_run, warmup_steps = 40, 2
answer = None  # your answer: a fraction of the peak rate, e.g. 0.5
selfcheck.check(answer, expected=runtime.schedule("linear", warmup_steps, steps_in_run)(steps_in_run - 1),
                tolerance=5e-4,
                why="after the warm-up the rate falls by the same amount each step and would reach 0 one step "
                    "after the last: the last step still uses a small rate, one step's worth of the decay.",
                hint="step k (counting from 1) uses the factor of k - 1 steps done; the decay runs from 1 at "
                     "step 3 down to 0 over the 38 steps after the warm-up.")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
done = steps_in_run - 1  # steps done before the last one
answer = (steps_in_run - done) / (steps_in_run - warmup_steps)  # the loop by hand's lr_factor
selfcheck.solution(answer, expected=runtime.schedule("linear", warmup_steps, steps_in_run)(done),
                       tolerance=5e-4, why=f"(40 - 39) / (40 - 2) = 1/38 = {answer:.4f} of the peak.")

# %% [markdown]
# ## 7. Held in against held out
#
# `04_evaluate` compares text the model trained on (held in: the first
# training blocks, which `02_finetune` trained on at every profile) with
# text of the same book it never saw (held out: validation blocks). Here is
# the mean loss of both models on `N_BLOCKS` blocks of each side:

# %%
finetuned_dir = run.find_finetuned("train", model=original, source=book)
finetuned = loading.load_causal_lm(dataclasses.replace(run, model=str(finetuned_dir)))
held_in = corpus.train.select(range(min(N_BLOCKS, len(corpus.train))))
losses = pd.DataFrame({name: {"held in": measures.mean_loss(m, held_in), "held out": measures.mean_loss(m, held_out)}
                       for name, m in (("original", original), ("fine-tuned", finetuned))}).T
display(losses.round(4))

# %% [markdown]
# The original model never saw either side, so its gap between them only
# says which blocks are harder. Memorisation shows as what training *adds*
# to the gap: how much more the loss fell on the blocks the model trained on
# than on the held-out ones. In nats per token, to within 0.01: by how much
# more did fine-tuning lower the held-in loss than the held-out loss?

# %%
# NBVAL_CHECK_OUTPUT
answer = None  # your answer: nats per token (negative if the held-out loss fell more)
gap = losses["held out"] - losses["held in"]  # per model: how much easier the seen blocks are
selfcheck.check(answer, expected=gap["fine-tuned"] - gap["original"], tolerance=0.01,
                why="the fall on held-in text minus the fall on held-out text: the part of the gain that is "
                    "specific to the blocks the model saw (their play, their names, and the start of learning "
                    "them by heart), where the rest is the book's form, learned for unseen text too. It grows "
                    "with every pass over the same blocks: memorisation (exercise 1 of 06_exercises makes it "
                    "happen, with a gap of several nats).",
                hint="compute each side's fall, original minus fine-tuned, then subtract the held-out fall "
                     "from the held-in fall.")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
fall = losses.loc["original"] - losses.loc["fine-tuned"]  # how far each side's loss fell in training
answer = fall["held in"] - fall["held out"]
selfcheck.solution(answer, expected=gap["fine-tuned"] - gap["original"], tolerance=0.01,
                       why=f"held in fell {fall['held in']:.3f} nats, held out {fall['held out']:.3f}: "
                           f"{answer:+.3f} nats more on the text it trained on.")

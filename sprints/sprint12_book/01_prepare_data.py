# %% [markdown]
# # Sprint 12 · 01 — A book as language-model training data
#
# To make GPT-2 write like a book, we keep training it on the book with the
# objective it was [pre-trained](../../notes/glossary.md#pre-training) on:
# [next-token prediction](../../notes/glossary.md#next-token-prediction). This
# notebook turns the text into training examples.
#
# **You will learn**
# - how a whole book becomes one stream of [tokens](../../notes/glossary.md#token-and-tokenizer),
#   split into train and [validation](../../notes/glossary.md#validation-set)
#   by *contiguous* ranges;
# - how the stream is cut into equal blocks whose labels are the inputs
#   themselves ([packing](../../notes/glossary.md#packing): no
#   [padding](../../notes/glossary.md#padding) needed), by hand and with
#   `gpt2ft.lm.packing`;
# - the bar a fine-tuned model must clear: the loss of a
#   [unigram baseline](../../notes/glossary.md#unigram-baseline) that knows the
#   book's token frequencies and nothing else.
#
# **Which model.** The outputs saved in this sprint's notebooks come from
# `PROFILE=small`: SmolLM2-135M-Instruct, a real pre-trained causal language
# model of GPT-2's size (no GPT-2 weights can be downloaded where this project
# is built; Sprint 10's `01_load_and_inspect` compares the two), on the real
# Tiny Shakespeare, on a CPU. Here only its *tokenizer* matters: SmolLM2's
# 49,152-token BPE cuts the text a little differently from GPT-2's 50,257-token
# one, so the token and block counts below differ slightly from GPT-2's, which
# each reading gives too.
#
# Runs as a notebook or as a script: `python sprints/sprint12_book/01_prepare_data.py`.

# %% tags=["parameters"]
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # whose tokenizer: "" = gpt2 (full), SmolLM2-135M-Instruct (small), the real GPT-2 BPE (tiny); or a folder
DATA_DIR = ""  # "" = download (full), ../shared/data (small), the bundled samples (tiny); or a folder
SEED = 0
BOOK = "tinyshakespeare"  # tinyshakespeare | the_verdict | path/to/book.txt
BLOCK_SIZE = 128  # tokens per training example

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display

from gpt2ft.core import checks, models
from gpt2ft.lm import figures, measures, packing
from gpt2ft.session import data, loading, settings

run = settings.configure(globals())
book = data.load_corpus(BOOK, run)
print(f"book: {book.name} ({len(book):,} characters) from {book.source}")

# %% [markdown]
# ## A first look at the text

# %%
print(book.text[:600])

# %% [markdown]
# **Reading this output.** The real Tiny Shakespeare (Karpathy's
# `input.txt`, read from `DATA_DIR`): 1,115,394 characters of the plays, one
# speech after another, each under its speaker's name in capitals and a colon,
# in short verse lines. Its layout and its early-modern English (*know't*,
# *on't*) are far from the web text a pre-trained model mostly read, which is
# what makes the change from fine-tuning easy to see. (At the tiny profile this
# is the project's own Shakespeare-style *sample*, about 26 KB: the layout,
# not the language.)

# %% [markdown]
# ## From text to blocks, by hand
#
# Four steps, in plain Python:
#
# 1. **Tokenize the whole text in one call**, so the tokenizer sees the real
#    word boundaries everywhere (tokenizing line by line would change the
#    tokens at every line start).
# 2. **Split by a contiguous range**: the first 90 % of the stream is training
#    text, the last 10 % validation. Cutting random blocks of one book into the
#    two sides would put neighbouring lines on both sides and flatter the
#    validation loss.
# 3. **Cut each side into blocks** of `BLOCK_SIZE` tokens, one after the other.
# 4. **Drop the tail** that does not fill a last block. Every block then has the
#    same length, so a batch is a plain stack of blocks: no padding, no
#    [attention mask](../../notes/glossary.md#attention-mask).
#
# The labels of a block are the block itself: the model compares position *t*'s
# prediction with token *t + 1* inside (the [label shift](../../notes/glossary.md#label-shift),
# drawn in `02_finetune`).

# %%
tokenizer = loading.load_tokenizer(run.model)
ids = tokenizer(book.text, verbose=False)["input_ids"]  # 1. the whole book, one call
cut = int(len(ids) * 0.9)  # 2. the last 10 % is validation
train_ids, validation_ids = ids[:cut], ids[cut:]
n_blocks = len(train_ids) // BLOCK_SIZE  # 3. whole blocks only
blocks = [train_ids[i * BLOCK_SIZE:(i + 1) * BLOCK_SIZE] for i in range(n_blocks)]
dropped = len(train_ids) - n_blocks * BLOCK_SIZE  # 4. the tail left out
print(f"{len(ids):,} tokens ({len(book) / len(ids):.2f} characters per token): "
      f"{len(train_ids):,} train, {len(validation_ids):,} validation")
print(f"{n_blocks} training blocks of {BLOCK_SIZE} tokens; {dropped} tail tokens dropped")
print("the first block starts:", repr(tokenizer.decode(blocks[0][:12])))

# %% [markdown]
# **Reading this output.** SmolLM2's tokenizer cuts the book into 341,094
# tokens, 3.27 characters each (this verse is full of short words and line
# breaks; ordinary English prose averages about 4): 306,984 for training,
# 34,110 for validation, 2,398 training blocks of 128 tokens. Every speaker
# name and line break is a token the model must predict. GPT-2's tokenizer
# gives 338,025 tokens, 2,376 training and 264 validation blocks (measured
# with this notebook at `PROFILE=tiny DATA_DIR=../shared/data`, whose
# tokenizer is the real GPT-2 BPE; *The Verdict*: 5,145 tokens, 36 and 4
# blocks). Less than one block's worth of tokens is ever dropped per side.
#
# ### The same blocks from `gpt2ft.lm.packing`
#
# `packing.prepare_corpus` does the four steps (tokenization cached on disk)
# and returns the blocks as a `datasets.Dataset` with `input_ids` and
# `labels` columns. Its blocks must be exactly ours (each check below stops
# the notebook with both values if it fails, and prints one line if it holds):

# %%
context = models.context_length(loading.load_config(run))
corpus = packing.prepare_corpus(book.text, tokenizer, block_size=BLOCK_SIZE, max_context=context)
packed, packed_dropped = packing.pack_blocks(np.asarray(train_ids), BLOCK_SIZE)

# %%
# NBVAL_CHECK_OUTPUT
by_hand = torch.tensor(blocks)
checks.same("the token stream by hand == prepare_corpus's, train then validation", torch.tensor(ids),
            torch.from_numpy(np.concatenate([corpus.train_ids, corpus.validation_ids])))
checks.same("blocks cut by hand == packing.pack_blocks", by_hand, torch.from_numpy(packed))
checks.same("the same tail dropped", dropped, int(packed_dropped))
checks.same("blocks cut by hand == prepare_corpus's training set", by_hand, corpus.train[:]["input_ids"])
checks.same("labels == inputs in every block", by_hand, corpus.train[:]["labels"])
checks.same("validation starts where training ends", ids[cut], int(corpus.validation_ids[0]))

# %% [markdown]
# What the library adds to the four lines by hand, and when you need it:
#
# | `gpt2ft.lm.packing` adds | why, and when you need it |
# |---|---|
# | a token cache (`.cache/tokens/`), keyed by text and tokenizer | 1 M characters take seconds; every re-run |
# | checks before any work | a block longer than the model's context, a text too short: fails with the fix |
# | a report of what was kept and dropped | so nothing is lost silently (printed below) |
# | a `datasets.Dataset` in torch format | the training engine batches it as it is (`02_finetune`) |

# %%
report = pd.Series(corpus.report, name=book.name)
display(report.to_frame())
again = packing.prepare_corpus(book.text, tokenizer, block_size=BLOCK_SIZE, max_context=context)
checks.holds("the second call read the token cache", again.report["tokenized from cache"])

# %% [markdown]
# **Reading this output.** The report repeats the numbers we computed by hand:
# 2,398 training and 266 validation blocks, 40 and 62 tail tokens dropped.
# "tokenized from cache" is already `True` on the first call here because an
# earlier run tokenized the same text with the same tokenizer (the cache key
# holds both: GPT-2's tokenizer gets a cache entry of its own); the second
# call always reads the cache.
#
# ## The picture: one stream, two sides, equal blocks
#
# Drawn from the report by `gpt2ft.lm.figures.packing_bar` (the matplotlib
# code is there, to read).

# %%
fig = figures.packing_bar(corpus.report, f"{book.name}: contiguous split, then blocks of {BLOCK_SIZE} tokens")
plt.show()

# %% [markdown]
# **Reading this output.** The black line is the train/validation cut. Each
# of the 2,664 blocks is a segment in alternating shades, too thin to tell
# apart at this scale (a block is 128 of 341,094 tokens): they blur into fine
# stripes, blue for training, orange for validation. The dropped tails (40 and
# 62 tokens) are slivers too thin to see. What the picture shows is the split:
# the first 90 % of the book trains, the last 10 % (the end of the last plays)
# measures.
#
# ## The bar to clear: a unigram model
#
# A model that only knows how often each token appears in the training part
# scores this loss on the validation part (the mean
# [cross-entropy](../../notes/glossary.md#cross-entropy) in nats per token:
# nats because it uses the natural logarithm;
# [perplexity](../../notes/glossary.md#perplexity) is its exponential). It
# keeps a little probability for tokens it never saw in training (smoothing);
# we give it the best of a few smoothing strengths, chosen on validation
# itself, so it is a generous baseline. A fine-tuned model whose validation loss is not below
# it has learned nothing about context.

# %%
unigram = measures.unigram_loss(corpus.train_ids, corpus.validation_ids, len(tokenizer))
uniform = math.log(len(tokenizer))
print(f"unigram validation loss: {unigram:.3f} nats/token (perplexity {math.exp(unigram):,.0f})")
print(f"a uniform guess over the {len(tokenizer):,}-token vocabulary: {uniform:.3f} nats/token")

# %% [markdown]
# **Reading this output.** Knowing only how often each of SmolLM2's tokens
# appears in the training part scores 6.478 nats per token on the validation
# part (perplexity 651): a choice among about 650 equally likely tokens at
# every step. With GPT-2's tokenizer the same baseline is 6.450 nats
# (perplexity 633; *The Verdict*: 6.60), measured at `PROFILE=tiny
# DATA_DIR=../shared/data`. A model that knew nothing at all would score the
# uniform guess, ln 49,152 = 10.803 nats (GPT-2: ln 50,257 = 10.825), which is
# where a random model starts. A pre-trained model already scores far below
# the unigram line: `02_finetune` measures SmolLM2 at about 4.1 nats on the
# first 32 of these validation blocks before any fine-tuning.
#
# ## What you learned

# %%
print(f"- {book.name}: {report['tokens']:,} tokens -> {report['train blocks']} training and "
      f"{report['validation blocks']} validation blocks of {BLOCK_SIZE} tokens "
      f"({report['train tail dropped'] + report['validation tail dropped']} tail tokens dropped).")
print("- The blocks cut by hand are exactly packing.pack_blocks / prepare_corpus's; labels == inputs.")
print(f"- The bar for 02_finetune: validation loss below the unigram baseline, {unigram:.3f} nats/token.")

# %% [markdown]
# # Sprint 12 · 01 — A book as language-model training data
#
# To make GPT-2 write like a book, we keep training it on the book with the
# same objective it was pre-trained on: predict the next token. This notebook
# turns the text into training examples:
#
# 1. tokenize the whole text once (and cache the result);
# 2. split it into train and validation **by contiguous ranges**: the last 10 %
#    of the book is validation, so no sentence sits on both sides;
# 3. cut each side into blocks of `BLOCK_SIZE` tokens whose labels are the
#    inputs themselves (the model shifts them by one position inside).
#
# It also computes the number a fine-tuned model has to beat: the validation
# loss of a **unigram** model that knows the book's token frequencies but no
# context.
#
# Runs as a notebook or as a script: `python sprints/sprint12_book/01_prepare_data.py`.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = os.environ.get("MODEL", "")  # whose tokenizer; empty = the profile's default
DATA_DIR = os.environ.get("DATA_DIR", "")  # folder with tinyshakespeare/, the_verdict/
SEED = int(os.environ.get("SEED", "0"))
BOOK = os.environ.get("BOOK", "tinyshakespeare")  # tinyshakespeare | the_verdict | path/to/book.txt
BLOCK_SIZE = int(os.environ.get("BLOCK_SIZE", "128"))
VALIDATION_FRACTION = 0.1

# %%
import math

import pandas as pd
from IPython.display import display

from gpt2ft import data, lm_metrics, loading, packing, settings

run = settings.resolve(PROFILE, MODEL or None, data_dir=DATA_DIR or None, seed=SEED)
print(run.describe())
book = data.load_corpus(BOOK, run)
print(f"book: {book.name} ({len(book):,} characters) from {book.source}")

# %% [markdown]
# ## A first look at the text

# %%
print(book.text[:600])

# %% [markdown]
# ## Tokenize, split, pack
#
# The report says what was kept: tokens per split, full blocks, and the tail of
# each split that did not fill a last block (dropped, never padded: a padded
# block would teach the model to predict padding).

# %%
tokenizer = loading.load_tokenizer(run.model)
context = loading.load_config(run).n_positions
corpus = packing.prepare_corpus(book.text, tokenizer, block_size=BLOCK_SIZE,
                                validation_fraction=VALIDATION_FRACTION, max_context=context)
report = pd.Series(corpus.report, name=book.name)
display(report.to_frame())
print(f"{len(book) / report['tokens']:.2f} characters per token")

# %% [markdown]
# The split is a clean cut of the token stream: the first block of validation
# starts exactly where the training stream ends.

# %%
# NBVAL_CHECK_OUTPUT
print("train + validation = the whole stream:",
      report["train tokens"] + report["validation tokens"] == report["tokens"])
print("blocks are", tuple(corpus.train[0]["input_ids"].shape), "tokens, labels == inputs:",
      bool((corpus.train[0]["input_ids"] == corpus.train[0]["labels"]).all()))
print("columns:", corpus.train.column_names)

# %% [markdown]
# ## The second run reads the cache
#
# The token ids are stored under `.cache/tokens/`, keyed by a hash of the text
# and of the tokenizer: a changed book or tokenizer gets a fresh tokenization.

# %%
again = packing.prepare_corpus(book.text, tokenizer, block_size=BLOCK_SIZE,
                               validation_fraction=VALIDATION_FRACTION, max_context=context)
print("tokenized from cache:", again.report["tokenized from cache"])

# %% [markdown]
# ## The bar to clear: a unigram model
#
# A model that only knows how often each token appears in the training part
# scores this loss on the validation part (nats per token; perplexity is its
# exponential). We give it the best of a few smoothing strengths, chosen on
# validation itself, so it is a generous baseline. A fine-tuned model whose
# validation loss is not below it has learned nothing about context.

# %%
unigram = lm_metrics.unigram_loss(corpus.train_ids, corpus.validation_ids, len(tokenizer))
print(f"unigram validation loss: {unigram:.3f} nats/token (perplexity {math.exp(unigram):,.0f})")

# %% [markdown]
# # Sprint 12 · 03 — Before and after: the same prompts, seeds and settings
#
# The original and the fine-tuned model continue the same prompts with the
# same [sampling](../../notes/glossary.md#sampling) settings and the same seed,
# so any difference comes from the weights. The prompts are the opening tokens
# of passages from the **validation** part of the book, which neither model was
# trained on.
#
# **You will learn**
# - how to compare two models fairly: one table of settings, the same seed per
#   prompt, prompts neither model trained on;
# - what fine-tuning on a book changes in the text a model writes;
# - why a tiny smoke run can only show the *mechanics* of this comparison.
#
# Script: `python sprints/sprint12_book/03_generate.py` (after `02_finetune`).

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = ""  # the original model: "" = gpt2 (full) or the random tiny GPT-2 (tiny); as in 02
DATA_DIR = ""  # "" = download (full) or the bundled samples (tiny)
SEED = 0
BOOK = "tinyshakespeare"  # the book 02_finetune trained on
BLOCK_SIZE = 128
N_SAMPLES = 4  # prompts, each continued by both models
PROMPT_TOKENS = 8  # tokens of validation text per prompt
MAX_NEW_TOKENS = 80  # tokens each model writes per prompt
TEMPERATURE = 0.8
TOP_K = 40
TOP_P = 0.95

# %%
import dataclasses

import pandas as pd

from gpt2ft.core import paths
from gpt2ft.generate import decoding
from gpt2ft.lm import packing
from gpt2ft.session import data, loading, results, settings

run = settings.configure(globals(), tiny=dict(MAX_NEW_TOKENS=40))
book = data.load_corpus(BOOK, run)
tokenizer = loading.load_tokenizer(run.model)
original = loading.load_causal_lm(run)

# %% [markdown]
# The fine-tuned model is the one `02_finetune` made from *this* original
# model and *this* book: `run.find_finetuned` looks among the sprint's `train`
# runs for one that started from `original`'s weights and trained on `book`,
# and prints which run it found, with its learning rate and batch size. Where
# several match (02 run again with other settings), it takes the newest export
# and says how many others there are. Where there is none (02 not run yet, or
# run with another `BOOK`, `MODEL` or `DATA_DIR`), it says so and what to run.

# %%
finetuned_dir = run.find_finetuned("train", model=original, source=book)
finetuned = loading.load_causal_lm(dataclasses.replace(run, model=str(finetuned_dir)))

# %% [markdown]
# The prompts, and the settings both models get (one place, so they cannot
# drift apart). [Temperature](../../notes/glossary.md#temperature),
# [top-k](../../notes/glossary.md#top-k-sampling) and
# [top-p](../../notes/glossary.md#top-p-nucleus-sampling) are Sprint 10's
# decoding settings; prompt *i* gets seed `SEED + i` for both models.

# %%
corpus = packing.prepare_corpus(book.text, tokenizer, block_size=BLOCK_SIZE)
prompts = packing.prompts_from(corpus.validation_ids, tokenizer, N_SAMPLES, PROMPT_TOKENS)
sampling = {"do_sample": True, "temperature": TEMPERATURE, "top_k": TOP_K, "top_p": TOP_P,
            "max_new_tokens": MAX_NEW_TOKENS}

# %%
# NBVAL_CHECK_OUTPUT
print(sampling, "| prompts:", len(prompts))

# %%
rows = []
for i, prompt in enumerate(prompts):
    row = {"prompt": prompt}
    for label, model in (("original", original), ("fine-tuned", finetuned)):
        tokens = decoding.generate(model, tokenizer, prompt, seed=SEED + i, **sampling)
        row[label] = tokenizer.decode(tokens, skip_special_tokens=True)
    rows.append(row)
side_by_side = pd.DataFrame(rows)
# Markdown tables can't hold raw newlines: show them as ⏎ so the layout survives.
shown = side_by_side.replace({"\n": " ⏎ ", r"\|": "/"}, regex=True)
results.show_markdown(shown.to_markdown(index=False))

# %% [markdown]
# **Reading this output.** Each row is one prompt; the two model columns hold
# only what each model wrote after it (⏎ marks a line break). At tiny the
# *original* is a random 2-block model: its continuations are unrelated tokens
# from anywhere in GPT-2's 50,257-token vocabulary. The *fine-tuned* tiny
# model has learned, in a minute of training on a template-built sample,
# which words the sample uses and a little of its layout (line breaks,
# capital letters at line starts, `:`), but not grammar. That is all
# this run can show: the comparison works, the prompts and seeds are shared.
# With real GPT-2 (a full run) the original writes fluent modern prose that
# ignores the play's layout; the fine-tuned model answers in the book's voice:
# speaker names in capitals followed by a colon, short verse lines, *thou* and
# *thee* (what nanoGPT's README shows for a fine-tuned GPT-2-xl: external).
# `04_evaluate` puts numbers on the change.

# %%
path = results.write_table(shown, "sprint12", f"before_after_{book.name}", run, index=False,
                           title=f"Sprint 12: {book.name}, original vs fine-tuned, same prompts and seeds")
print("wrote", paths.shown(path))

# %% [markdown]
# ## What you learned

# %%
print(f"- {len(prompts)} validation prompts of {PROMPT_TOKENS} tokens, each continued by both models "
      f"with the same seed and settings ({MAX_NEW_TOKENS} new tokens).")
print(f"- The table is in {paths.shown(path)}; "
      "04_evaluate measures what changed.")

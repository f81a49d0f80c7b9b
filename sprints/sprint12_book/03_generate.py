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
# - what fine-tuning on a book changes in the text a model writes.
#
# The outputs below come from `PROFILE=small`: pre-trained SmolLM2-135M-Instruct
# against the same model after `02_finetune`'s short LoRA run on Tiny
# Shakespeare (40 steps on a CPU).
#
# Script: `python sprints/sprint12_book/03_generate.py` (after `02_finetune`).

# %% tags=["parameters"]
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # the original model, as in 02: "" = gpt2 (full), SmolLM2-135M-Instruct (small), random (tiny)
DATA_DIR = ""  # "" = download (full), ../shared/data (small), the bundled samples (tiny); or a folder
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

from gpt2ft.core import checks, paths
from gpt2ft.generate import decoding
from gpt2ft.lm import packing
from gpt2ft.session import data, loading, results, settings

run = settings.configure(globals(), tiny=dict(MAX_NEW_TOKENS=40), small=dict(MAX_NEW_TOKENS=64))
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
print(sampling, "| prompts:", len(prompts))

# %%
# NBVAL_CHECK_OUTPUT
held_out = tokenizer.decode(corpus.validation_ids.tolist())
checks.same("one prompt per sample", len(prompts), N_SAMPLES)
checks.holds("every prompt is taken from the validation text", all(p in held_out for p in prompts))
print("settings both models get:", sorted(sampling))

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
# **Reading this output.** Each row is one prompt (8 tokens of the
# validation text, which neither model trained on); the two model columns hold
# only what each model wrote after it, 64 tokens (⏎ marks a line break). The
# *original* SmolLM2 ignores the play: it continues the first prompt as modern
# prose ("She will take a step forward, and will walk alone...") and falls
# into loops on the others ("... a lady." on seven lines, "very" to the end,
# "A long life," over and over), a small model's habit when sampling at
# temperature 0.8 from text unlike what it was trained on. The *fine-tuned*
# model answers in the book's form: speeches under invented speaker names in
# capitals followed by a colon (`SCOTUS:`, `MARIA:`, `GODGERSUS:`), short verse
# lines that start with a capital, blank lines between speeches, and early
# modern English (*hath*, *thou art*, *'Tis*, *Tho'*). The names are made up and
# the sense wanders: 40 steps taught the form, not Shakespeare. This is the
# change nanoGPT's README shows for a fine-tuned GPT-2-xl (external); GPT-2
# (124M) at full, trained on all the blocks for up to 3 epochs, should write
# the same form with more of the plays' vocabulary (not measured here).
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

# %% [markdown]
# # Sprint 13 · 01 — Instruction data: load, check, split, explore
#
# [Instruction fine-tuning](../../notes/glossary.md#instruction-fine-tuning)
# teaches a language model to *answer* rather than to continue text. Its data
# are Alpaca-format records: an `instruction`, an optional `input` that gives
# it context, and the reference `output`.
#
# **You will learn**
#
# - what an Alpaca-format record is, and how every invalid record is reported by its index instead of being dropped
#   silently;
# - how a seeded train / validation / test split works (written by hand, then checked against the package's);
# - how long prompts and responses are in the model's tokens, and why that sets `MAX_LENGTH` for the next notebooks.
#
# **Profiles.** The outputs you are reading come from `PROFILE=small`: the real
# 1,100-record `alpaca_instruction/instruction-data.json` (the file of
# Raschka's chapter 7) from `../shared/data`, measured in the tokens of
# SmolLM2-135M-Instruct, the pre-trained model of GPT-2's size this sprint
# fine-tunes on a CPU (Sprint 10's `01_load_and_inspect` says why it is not
# GPT-2). `full` reads the same file from `DATA_DIR`, or downloads it, and
# counts GPT-2 tokens; `tiny` reads the project's bundled synthetic sample (80
# records) unless `DATA_DIR` is set. `DATA_SOURCE` may also be `alpaca` or
# `alpaca-gpt4` (Hugging Face hub) or the path of any local `.json`/`.jsonl` file
# in the same format.

# %% tags=["parameters"]
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # "" = gpt2 (full), SmolLM2-135M-Instruct (small), a random tiny GPT-2 (tiny); only its tokenizer is used
DATA_DIR = ""  # "" = download (full), ../shared/data (small), the bundled sample (tiny); or a folder
DATA_SOURCE = "alpaca_instruction"  # alpaca_instruction | alpaca | alpaca-gpt4 | a .json/.jsonl path
SEED = 0
ON_INVALID = "skip"  # skip | raise: what to do with an invalid record

# %%
import json
import random
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from gpt2ft import instruct
from gpt2ft.core import checks
from gpt2ft.session import loading, results, settings
from gpt2ft.session.data import load_instructions

run = settings.configure(globals(), choices=dict(ON_INVALID=["skip", "raise"]))

# %% [markdown]
# ## Load and check every record
#
# Each record must have a string `instruction` and a non-empty string `output`;
# `input` may be missing, null or empty (no input). A record that breaks a rule
# is never dropped silently: it is listed by index in `problems` and skipped
# (`ON_INVALID=skip`), or the load stops with the whole list (`ON_INVALID=raise`).

# %%
data = load_instructions(DATA_SOURCE, run, on_invalid=ON_INVALID)
print(f"{len(data)} valid records from {data.source}")
print(f"{len(data.problems)} invalid record(s) skipped" + (":" if data.problems else ""))
for problem in data.problems:
    print("  ", problem)

# %% [markdown]
# What the report looks like for a file with mistakes in it: one good record and
# three bad ones (a missing output, an empty output, a number where text belongs).

# %%
# NBVAL_CHECK_OUTPUT
broken = Path(tempfile.mkdtemp()) / "broken.jsonl"
broken.write_text("\n".join(json.dumps(row) for row in [
    {"instruction": "Name a colour.", "output": "Blue."},
    {"instruction": "Name a fruit."},
    {"instruction": "Translate to French.", "input": "cat", "output": ""},
    {"instruction": 42, "output": "The answer."},
]) + "\n")
checked = load_instructions(broken, run, on_invalid="skip")
print(f"on_invalid='skip': {len(checked)} valid record, {len(checked.problems)} problems listed:")
for problem in checked.problems:
    print("  ", problem)
try:
    load_instructions(broken, run, on_invalid="raise")
except ValueError as err:
    print("on_invalid='raise' stops with:", str(err).splitlines()[0].split(" in local file")[0])

# %% [markdown]
# ## A seeded train / validation / test split, by hand
#
# 85 % to train on, 5 % to watch the validation loss during training (the
# [validation set](../../notes/glossary.md#validation-set)), 10 % held out for
# the final evaluation (never trained on, never used to pick a checkpoint).
# By hand: shuffle the record numbers with a generator seeded by `SEED`, take
# the first 10 % as test, the next 5 % as validation, the rest as train.

# %%
n = len(data.records)
order = list(range(n))
random.Random(SEED).shuffle(order)
n_test, n_val = max(round(n * 0.10), 1), max(round(n * 0.05), 1)
by_hand = {
    "train": [data.records[i] for i in order[n_test + n_val:]],
    "validation": [data.records[i] for i in order[n_test:n_test + n_val]],
    "test": [data.records[i] for i in order[:n_test]],
}
print({name: len(records) for name, records in by_hand.items()})

# %% [markdown]
# The package's `instruct.split_records` is what the later notebooks call, so
# they all see exactly this split. Same records, same seed, same split:

# %%
# NBVAL_CHECK_OUTPUT
split = instruct.split_records(data.records, seed=SEED)
checks.same("instruct.split_records gives the split by hand", by_hand, split)
checks.same("the same seed gives the same split again", instruct.split_records(data.records, seed=SEED), split)
checks.holds("another seed gives another split", instruct.split_records(data.records, seed=SEED + 1) != split)
test_ids = {json.dumps(r, sort_keys=True) for r in split["test"]}
leaked = [r for r in split["train"] if json.dumps(r, sort_keys=True) in test_ids]
checks.holds("no test record is in the training split", not leaked, f"{len(leaked)} are")

# %% [markdown]
# What the package adds to the lines by hand, and when you need it:
#
# | the package adds | you need it for |
# |---|---|
# | one loader: a name, `DATA_DIR`, a download pinned by sha256, or a `.json`/`.jsonl` | other data, same notebooks |
# | every record checked; invalid ones listed by index, skipped or refused | files you did not write |
# | a clear error for an empty file or one without a valid record | a wrong path, a broken export |
# | one validation and one test record at least, from 3 records on; shares checked | tiny data, other fractions |
#
# Three training records as they are stored:

# %%
with pd.option_context("display.max_colwidth", 80):
    display(pd.DataFrame(split["train"][:3]))

# %% [markdown]
# ## How long are prompts and responses?
#
# Lengths are in the model's [tokens](../../notes/glossary.md#token-and-tokenizer):
# SmolLM2's tokenizer here (a byte-level BPE like GPT-2's, with 49,152 entries
# against GPT-2's 50,257; on English text the two give similar counts).
# The *prompt* is the record inside the Alpaca
# [prompt template](../../notes/glossary.md#prompt-template) (next notebook):
# about 30 tokens of template text plus the instruction and input. The
# *response* is the output plus one
# [end-of-text token](../../notes/glossary.md#end-of-text-token). Their sum must fit the
# length the model is trained with (`MAX_LENGTH` in notebooks 02 and 03).

# %%
tokenizer = loading.load_tokenizer(run.model)
lengths = pd.concat({name: instruct.token_lengths(records, tokenizer) for name, records in split.items()},
                    names=["split", "row"]).reset_index(level="row", drop=True)
summary = lengths.groupby("split", sort=False).agg(
    records=("prompt tokens", "size"),
    with_input=("has input", "mean"),
    prompt_median=("prompt tokens", "median"),
    prompt_max=("prompt tokens", "max"),
    response_median=("response tokens", "median"),
    response_max=("response tokens", "max"),
    total_mean=("total tokens", "mean"),
    total_max=("total tokens", "max"),
).round(3)
results.write_table(summary, "sprint13", "data", run,
                    title=f"Sprint 13: instruction data ({data.source})")
summary

# %% [markdown]
# **Reading this output.** One row per split of the 1,100 real records: 935
# to train on, 55 to validate, 110 held out. About 30 % of the records have an
# input (25 % of the test split). The median prompt is 41 SmolLM2 tokens and the
# median response 12: most of every sequence is prompt, which is why the next
# notebook masks it out of the loss. The longest record is 103 tokens, so every
# record fits whole in the 128 tokens the small profile trains with (notebooks
# 02 and 03), and in the 512 of `full`. GPT-2's tokenizer (`full`) counts
# nearly the same on this file (measured with it on the training split: median
# prompt 41, median response 12, longest record 101 tokens).
#
# The histogram shows the same lengths, records with and without an input
# apart: the ones with an input use the second template (an `### Input:`
# section) and are longer (`instruct.lengths_figure` draws it).

# %%
fig = instruct.lengths_figure(lengths, title=f"Token lengths of {len(lengths)} records ({run.profile} profile)")
results.save_figure(fig, "sprint13", "lengths", run)
plt.show()

# %% [markdown]
# **Reading this output.** Mind the two x-axes: prompts (left) are several
# times longer than responses (right). Prompts without an input (blue) bunch
# between 36 and 42 tokens (30-odd tokens of template plus a one-line
# instruction; a few longer instructions reach 59). With an input (orange) a
# prompt is longer by the input and its `### Input:` header: 54 to 74 tokens,
# so the two groups barely overlap. Responses spread from 2 tokens (a one-word
# answer and its end-of-text) to 55, most of them a short sentence of 10 to 15
# tokens; records with an input tend to have the shorter answers (a word to
# fill in, a sentence rewritten).
#
# ## What you learned

# %%
with_input = sum(bool(r["input"]) for r in data.records)
print(f"- {len(data)} valid records ({len(data.problems)} skipped) from {data.source}; "
      f"{with_input} ({with_input / len(data):.0%}) have an input.")
print(f"- The seeded split (SEED={SEED}) gives " + ", ".join(f"{len(v)} {k}" for k, v in split.items())
      + "; the split by hand is the package's split.")
print(f"- The longest record is {lengths['total tokens'].max()} tokens, the median prompt "
      f"{lengths['prompt tokens'].median():.0f} and the median response {lengths['response tokens'].median():.0f}: "
      "the prompt is most of every sequence.")

# %% [markdown]
# # Sprint 13 · 01 — Instruction data: load, check, split, explore
#
# Instruction tuning teaches a language model to *answer* rather than to
# continue text. The data are Alpaca-format records: an `instruction`, an
# optional `input` that gives it context, and the reference `output`.
#
# **Profiles.** `tiny` reads the project's bundled synthetic sample (80 records)
# unless `DATA_DIR` points at the real files (`DATA_DIR=../shared/data` reads the
# 1,100-record `alpaca_instruction/instruction-data.json`); `full` reads the same
# file from `DATA_DIR`, or downloads it. `DATA_SOURCE` may also be `alpaca` or
# `alpaca-gpt4` (Hugging Face hub) or the path of any local `.json`/`.jsonl` file
# in the same format.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = os.environ.get("MODEL", "")  # only its tokenizer is used here
SEED = int(os.environ.get("SEED", "0"))
DATA_DIR = os.environ.get("DATA_DIR", "")  # folder with alpaca_instruction/instruction-data.json
DATA_SOURCE = os.environ.get("DATA_SOURCE", "alpaca_instruction")  # a name or a .json/.jsonl path
ON_INVALID = os.environ.get("ON_INVALID", "skip")  # skip | raise: what to do with a bad record

# %%
import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from gpt2ft import instruct, loading, results, settings
from gpt2ft.data import load_instructions

run = settings.resolve(PROFILE, MODEL or None, data_dir=DATA_DIR or None, seed=SEED)
print(run.describe())
tag = instruct.run_tag(DATA_SOURCE, run)
print("results are tagged", tag)

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
# ## A seeded train / validation / test split
#
# 85 % to train on, 5 % to watch the validation loss during training, 10 % held
# out for the final evaluation (never seen in training, never used to pick a
# checkpoint). The split depends only on the records and `SEED`, so the later
# notebooks recompute exactly this split with `instruct.split_records`.

# %%
# NBVAL_CHECK_OUTPUT
split = instruct.split_records(data.records, seed=run.seed)
print({name: len(records) for name, records in split.items()})
assert instruct.split_records(data.records, seed=run.seed) == split  # same seed, same split

# %% [markdown]
# Three training records as they are stored:

# %%
with pd.option_context("display.max_colwidth", 80):
    display(pd.DataFrame(split["train"][:3]))

# %% [markdown]
# ## How long are prompts and responses?
#
# Lengths are in GPT-2 tokens. The *prompt* is the record inside the Alpaca
# template (next notebook): about 30 tokens of template text plus the
# instruction and input. The *response* is the output plus one end-of-text
# token. Their sum must fit the context the model is trained with.

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
    total_max=("total tokens", "max"),
).round(3)
summary

# %% [markdown]
# The share of records with an `input` matters: those prompts use the second
# template (with an `### Input:` section) and are longer.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for ax, column in zip(axes, ["prompt tokens", "response tokens"], strict=True):
    for has_input, part in lengths.groupby("has input"):
        ax.hist(part[column], bins=30, alpha=0.6, label="with input" if has_input else "no input")
    ax.set_xlabel(column)
    ax.set_ylabel("records")
    ax.legend()
fig.suptitle(f"Token lengths, {len(lengths)} records ({tag})")
fig.tight_layout()
results.save_figure(fig, "sprint13", f"lengths_{tag}", run)
plt.show()

# %%
command = f"make sprint13 PROFILE={run.profile}" + (f" DATA_DIR={run.data_dir}" if run.data_dir else "")
path = results.write_table(summary, "sprint13", f"data_{tag}", run,
                           title=f"Sprint 13: instruction data ({data.source})", command=command)
print("wrote", path.name)

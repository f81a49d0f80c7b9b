# %% [markdown]
# # Sprint 13 · 02 — The prompt template, masked labels, and batches
#
# Every record becomes one token sequence: **prompt** (the Alpaca template
# around the instruction and input) + **response** (the reference output) +
# **end-of-text**. The model is trained to predict the response and the
# end-of-text, not the prompt: labels are `-100` on every prompt token, and
# `-100` is what PyTorch's cross-entropy skips. The end-of-text label is what
# teaches the model to stop.
#
# The template lives in one place, `gpt2ft.instruct.format_prompt`; training
# (here) and generation (notebook 04) both call it.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = os.environ.get("MODEL", "")
SEED = int(os.environ.get("SEED", "0"))
DATA_DIR = os.environ.get("DATA_DIR", "")
DATA_SOURCE = os.environ.get("DATA_SOURCE", "alpaca_instruction")
MAX_LENGTH = int(os.environ.get("MAX_LENGTH", "0"))  # 0 = the profile's default (tiny: 128, full: 512)

# %%
import pandas as pd
from IPython.display import display

from gpt2ft import batching, instruct, loading, settings
from gpt2ft.data import load_instructions

run = settings.resolve(PROFILE, MODEL or None, data_dir=DATA_DIR or None, seed=SEED)
print(run.describe())
tokenizer = loading.load_tokenizer(run.model)
context = loading.load_config(run).n_positions
max_length = min(MAX_LENGTH or (128 if run.is_tiny else 512), context)
print(f"max_length = {max_length} tokens (the model's context: {context})")
split = instruct.split_records(load_instructions(DATA_SOURCE, run).records, seed=run.seed)

# %% [markdown]
# ## The template, with and without an input
#
# A preamble, then `### Instruction:`, then (only when the record has one)
# `### Input:`, then `### Response:` followed by a newline: the model's answer
# starts right after it.

# %%
# NBVAL_CHECK_OUTPUT
example = {"instruction": "Rewrite the sentence in the past tense.", "input": "She walks to school.",
           "output": "She walked to school."}
print(instruct.format_prompt(example) + example["output"])
print("-" * 60)
print(instruct.format_prompt({**example, "input": ""}) + example["output"])

# %% [markdown]
# ## Token by token: which positions carry a label
#
# The first training record, encoded. `label` is `-100` on the whole prompt
# and equals the token id on the response and the final `<|endoftext|>`. (The
# model shifts labels by one position inside: the label at position *i* is
# predicted from the tokens before it.)

# %%
# NBVAL_CHECK_OUTPUT
record = split["train"][0]
encoded = instruct.encode(record, tokenizer, max_length)
n_prompt = len(tokenizer.encode(instruct.format_prompt(record)))
view = pd.DataFrame({
    "token": [repr(tokenizer.decode([t])) for t in encoded.input_ids],
    "id": encoded.input_ids,
    "label": encoded.labels,
    "part": ["prompt"] * n_prompt + ["response"] * (len(encoded.input_ids) - n_prompt),
})
print(f"{len(view)} tokens: {n_prompt} prompt (label -100), {len(view) - n_prompt} response + end-of-text")
with pd.option_context("display.max_rows", 20):
    display(view.iloc[n_prompt - 6:])

# %% [markdown]
# The alternative, **loss on everything**, keeps every label: the model then
# also learns to reproduce the template and the instructions. Over the whole
# training split, most label tokens would then be prompt tokens:

# %%
# NBVAL_CHECK_OUTPUT
masked, _ = instruct.encode_records(split["train"], tokenizer, max_length)
everything, _ = instruct.encode_records(split["train"], tokenizer, max_length, mask_prompt=False)
count = {name: sum(sum(label != instruct.IGNORE_INDEX for label in row) for row in ds["labels"])
         for name, ds in [("response only", masked), ("everything", everything)]}
print(f"label tokens, response only: {count['response only']:,}; loss on everything: "
      f"{count['everything']:,} ({count['response only'] / count['everything']:.0%} of them are response)")

# %% [markdown]
# ## Too long for the context: the prompt is cut first
#
# A record whose prompt + response + end-of-text is longer than `max_length`
# loses tokens from the **start of the prompt** (the generic preamble goes
# first), always keeping `### Response:`; only if that is not enough is the
# response cut from its end. The count of truncated records is reported:

# %%
truncated = {name: instruct.encode_records(records, tokenizer, max_length)[1] for name, records in split.items()}
print(f"records over max_length={max_length}:", truncated)

# %% [markdown]
# With a deliberately short `max_length` of 40 the rule becomes visible on the
# longest training record: the preamble is gone and the instruction has lost its
# first words, while the response and its end-of-text are whole. A cut prompt
# may no longer say what was asked, so `max_length` should sit above the
# longest record (the table in notebook 01 shows it does here).

# %%
# NBVAL_CHECK_OUTPUT
short = 40
_, n_short = instruct.encode_records(split["train"], tokenizer, short)
print(f"max_length={short}: {n_short} of {len(split['train'])} training records truncated")
longest = max(split["train"], key=lambda r: len(tokenizer.encode(instruct.format_prompt(r) + r["output"])))
cut = instruct.encode(longest, tokenizer, short)
print(repr(tokenizer.decode(cut.input_ids)))

# %% [markdown]
# ## Batches padded per batch
#
# Rows have different lengths. The collate function
# (`gpt2ft.batching.DynamicPadding`, the one the training loop uses) pads each
# batch only to its own longest row, on the right: `input_ids` with the pad id
# (GPT-2 has none, so end-of-text is used; the attention mask hides it),
# `attention_mask` with 0 and `labels` with `-100`, so padding never counts in
# the loss.

# %%
# NBVAL_CHECK_OUTPUT
collate = batching.DynamicPadding(pad_token_id=tokenizer.eos_token_id)
batch = collate([masked[i] for i in range(4)])
print("row lengths:", [len(masked[i]["input_ids"]) for i in range(4)])
print({key: tuple(value.shape) for key, value in batch.items()})
pad = batch["attention_mask"] == 0
print("padded positions:", int(pad.sum()), "| all with label -100:", bool((batch["labels"][pad] == -100).all()))

# %% [markdown]
# How much of a batch is padding: padding each batch to its own longest row
# (random order) against padding everything to `max_length`, and with rows of
# similar length grouped into the same batches (`length_grouped=True` in the
# training loop).

# %%
import torch

lengths = batching.sequence_lengths(masked)
batch_size = 8


def padding_share(batches):
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    return 1 - sum(lengths) / padded


order = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(run.seed)).tolist()
random_batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
grouped = batching.length_grouped_order(lengths, batch_size, torch.Generator().manual_seed(run.seed))
pd.Series({
    "pad to max_length": 1 - sum(lengths) / (len(lengths) * max_length),
    "pad per batch, random order": padding_share(random_batches),
    "pad per batch, length-grouped": padding_share(grouped),
}, name="share of padding tokens").round(3).to_frame()

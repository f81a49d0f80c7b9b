# %% [markdown]
# # Sprint 13 · 02 — The prompt template, masked labels, and batches
#
# Every record becomes one token sequence: **prompt** (the Alpaca
# [prompt template](../../notes/glossary.md#prompt-template) around the
# instruction and input) + **response** (the reference output) +
# **end-of-text** (the [end-of-text token](../../notes/glossary.md#end-of-text-token):
# GPT-2's `<|endoftext|>`; SmolLM2's `<|im_end|>`, the token that ends every
# turn of its own chat template). The model is trained to predict the response and the
# end-of-text, not the prompt: labels are `-100` on every prompt token, and
# `-100` is what PyTorch's [cross-entropy](../../notes/glossary.md#cross-entropy)
# skips ([loss masking](../../notes/glossary.md#loss-masking)). The end-of-text
# label is what teaches the model to stop.
#
# **You will learn**
#
# - the Alpaca template, with and without an input, and which tokens carry a label (a diagram, then token by token);
# - how to build the masked labels and a padded batch by hand, and that they equal the package's `instruct.encode` and
#   `batching.DynamicPadding`;
# - what happens to a record longer than `MAX_LENGTH`, and how much of a batch is padding.
#
# The template lives in one place, `gpt2ft.instruct.format_prompt`; training
# (notebook 03) and generation (notebook 04) both call it.
#
# **Profiles.** The outputs you are reading come from `PROFILE=small`: the real
# 1,100-record file in the tokens of SmolLM2-135M-Instruct (the model notebook 03
# fine-tunes), with `MAX_LENGTH` 128 (every record fits whole, notebook 01) and
# batches of 8. `full` counts GPT-2 tokens with `MAX_LENGTH` 512.

# %% tags=["parameters"]
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # "" = gpt2 (full), SmolLM2-135M-Instruct (small), a random tiny GPT-2 (tiny); its tokenizer and context
DATA_DIR = ""  # "" = download (full), ../shared/data (small), the bundled sample (tiny); or a folder
DATA_SOURCE = "alpaca_instruction"  # alpaca_instruction | alpaca | alpaca-gpt4 | a .json/.jsonl path
SEED = 0
MAX_LENGTH = 512  # longest training sequence in tokens (prompt + response + end-of-text)
BATCH_SIZE = 8  # rows per batch, for the padding measurements

# %%
import pandas as pd
import torch
from IPython.display import display

from gpt2ft import instruct
from gpt2ft.core import checks, models
from gpt2ft.session import loading, settings
from gpt2ft.session.data import load_instructions
from gpt2ft.training import batching

run = settings.configure(globals(), tiny=dict(MAX_LENGTH=128, BATCH_SIZE=4), small=dict(MAX_LENGTH=128))
tokenizer = loading.load_tokenizer(run.model)
context = models.context_length(loading.load_config(run))
max_length = min(MAX_LENGTH, context)
print(f"max_length = {max_length} tokens (MAX_LENGTH={MAX_LENGTH}, the model's context: {context})")
split = instruct.split_records(load_instructions(DATA_SOURCE, run).records, seed=SEED)

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
# ## Which tokens carry a label: the diagram
#
# The same record, section by section, each box as wide as its tokens (at
# least a few, so that the short ones stay readable). Top: the `input_ids` the
# model reads. Middle: the labels with the prompt masked: `-100` (grey) on
# every prompt token, the token ids themselves on the response and the
# end-of-text. Bottom: the alternative, **loss on everything**, where every
# position keeps its token as label.

# %%
fig = instruct.masking_figure(example, tokenizer)

# %% [markdown]
# **Reading this output.** The preamble alone is 28 of the record's 66 tokens
# (SmolLM2's tokenizer; GPT-2's also counts 28, and 65 in all) and is the same
# in every record with an input (records without one get a slightly shorter
# preamble, also always the same); with the instruction, input and headers, the
# prompt is most of the sequence and the response a small part at the end. With
# the prompt masked, only the green boxes add to the loss: the model is graded
# on the answer (and on stopping after it), while it still *reads* the prompt
# as context at every position. With the loss on everything, most of the
# gradient goes to reproducing the template and the instruction.
#
# Inside the model the labels are shifted by one
# ([label shift](../../notes/glossary.md#label-shift)): the logits at position
# *t* are scored against the label at *t + 1*, so the last prompt token
# (the newline after `### Response:`) is where the first response token is
# predicted.
#
# ## Token by token
#
# The first training record, encoded by `instruct.encode`. `label` is `-100`
# on the whole prompt and equals the token id on the response and the final
# end-of-text. The table starts at the last six prompt tokens and runs to the
# end of the response (pandas elides its middle rows):

# %%
record = split["train"][0]
encoded = instruct.encode(record, tokenizer, max_length)
n_prompt = len(tokenizer.encode(instruct.format_prompt(record)))
view = pd.DataFrame({
    "token": [repr(tokenizer.decode([t])) for t in encoded.input_ids],
    "id": encoded.input_ids,
    "label": encoded.labels,
    "part": ["prompt"] * n_prompt + ["response"] * (len(encoded.input_ids) - n_prompt),
})
print(f"{len(view)} tokens: {n_prompt} prompt (label -100), {len(view) - n_prompt} response + end-of-text "
      f"({tokenizer.eos_token}, id {tokenizer.eos_token_id})")
with pd.option_context("display.max_rows", 20):
    display(view.iloc[n_prompt - 6:])

# %% [markdown]
# **Reading this output.** The record asks for two synonyms of "intelligent":
# 38 prompt tokens, all labelled `-100`, then 16 tokens of the answer and
# SmolLM2's end-of-text `<|im_end|>` (id 2), each labelled with its own id (the
# table elides the middle rows). Like GPT-2's, SmolLM2's tokenizer carries the
# space before a word inside its token (`' "'`) and cuts a rarer word into
# pieces (`'cle'`, `'ver'`). The same rules, checked on every position of this
# record:

# %%
# NBVAL_CHECK_OUTPUT
checks.holds("label -100 on every prompt token", all(y == -100 for y in view["label"][:n_prompt]))
checks.same("label = token id on every response token", view["label"][n_prompt:].tolist(),
            view["id"][n_prompt:].tolist())
checks.same("the last token is the end-of-text", encoded.input_ids[-1], tokenizer.eos_token_id)
checks.same("the tokens decode to the template, the reference and the end-of-text", tokenizer.decode(encoded.input_ids),
            instruct.format_prompt(record) + record["output"] + tokenizer.eos_token)

# %% [markdown]
# ## The masked labels, by hand
#
# Nothing more than: tokenize the prompt, tokenize the response, add the
# end-of-text id; the labels are `-100` for every prompt token, then the
# response ids. Loss on everything keeps the prompt ids as labels too.

# %%
def labels_by_hand(record, mask_prompt=True):
    prompt_ids = tokenizer.encode(instruct.format_prompt(record))
    response_ids = tokenizer.encode(record["output"]) + [tokenizer.eos_token_id]
    prompt_labels = [-100] * len(prompt_ids) if mask_prompt else prompt_ids
    return prompt_ids + response_ids, prompt_labels + response_ids


with_input = next(r for r in split["train"] if r["input"])
without_input = next(r for r in split["train"] if not r["input"])

# %% [markdown]
# The package's `instruct.encode` gives the same ids and labels, for a record
# with an input and one without, masked and unmasked:

# %%
# NBVAL_CHECK_OUTPUT
for name, r in [("with an input", with_input), ("without an input", without_input)]:
    for mask in (True, False):
        ids, labels = labels_by_hand(r, mask_prompt=mask)
        package = instruct.encode(r, tokenizer, max_length, mask_prompt=mask)
        checks.same(f"{name}, mask_prompt={mask}: the ids and labels by hand are instruct.encode's",
                    (ids, labels), (package.input_ids, package.labels))

# %% [markdown]
# Over the whole training split, most label tokens are prompt tokens when the
# loss is on everything:

# %%
masked, _ = instruct.encode_records(split["train"], tokenizer, max_length)
everything, _ = instruct.encode_records(split["train"], tokenizer, max_length, mask_prompt=False)
count = {name: sum(sum(label != instruct.IGNORE_INDEX for label in row) for row in ds["labels"])
         for name, ds in [("response only", masked), ("everything", everything)]}
print(f"label tokens, response only: {count['response only']:,}; loss on everything: "
      f"{count['everything']:,} ({count['response only'] / count['everything']:.0%} of them are response)")

# %% [markdown]
# **Reading this output.** On the 935 training records, 12,674 of 56,618 label
# tokens (22 %) are response tokens (end-of-text included); with GPT-2's
# tokenizer the share is the same 22 % (12,253 of 56,314).
# Trained on everything, the model spends most of its gradient on text that is
# given at question time anyway. Notebook 03 measures what that changes.
#
# ## Too long for the context: the prompt is cut first
#
# A record whose prompt + response + end-of-text is longer than `max_length`
# loses tokens from the **start of the prompt** (the generic preamble goes
# first), always keeping `### Response:`; only if that is not enough is the
# response cut from its end
# ([truncation](../../notes/glossary.md#truncation)). The count of truncated
# records is reported:

# %%
truncated = {name: instruct.encode_records(records, tokenizer, max_length)[1] for name, records in split.items()}
print(f"records over max_length={max_length}:", truncated)

# %% [markdown]
# With a deliberately short `max_length` of 40 the rule becomes visible on the
# training record with the longest prompt: the preamble is gone and the
# instruction has lost its first words, while the response and its end-of-text
# are whole. A cut prompt may no longer say what was asked, so `max_length`
# should sit above the longest record (notebook 01 shows it does here).

# %%
short = 40
_, n_short = instruct.encode_records(split["train"], tokenizer, short)
print(f"max_length={short}: {n_short} of {len(split['train'])} training records truncated")
longest = max(split["train"], key=lambda r: len(tokenizer.encode(instruct.format_prompt(r))))
cut = instruct.encode(longest, tokenizer, short)
print(repr(tokenizer.decode(cut.input_ids)))

# %% [markdown]
# The rule, checked on that record: the cut sequence is exactly `max_length`
# long, ends with the whole response and its end-of-text, and still holds the
# response header right before them.

# %%
# NBVAL_CHECK_OUTPUT
response = tokenizer.encode(longest["output"]) + [tokenizer.eos_token_id]
checks.holds(f"cut to max_length={short}", cut.truncated and len(cut.input_ids) == short,
             f"{len(cut.input_ids)} tokens, truncated={cut.truncated}")
checks.same("the whole response and its end-of-text are kept", cut.input_ids[-len(response):], response)
checks.holds("the response header is kept",
             tokenizer.decode(cut.input_ids[:-len(response)]).endswith(instruct.RESPONSE_HEADER))
checks.same("the labels are still -100 on what is left of the prompt", set(cut.labels[:-len(response)]), {-100})

# %% [markdown]
# ## A padded batch, by hand
#
# Rows have different lengths; a batch is a rectangle. Pad each row on the right
# to the batch's own longest row ([padding](../../notes/glossary.md#padding);
# per batch, this is [dynamic padding](../../notes/glossary.md#dynamic-padding)):
# `input_ids` with a pad id (GPT-2 has none, so end-of-text is used; SmolLM2's
# pad token *is* its end-of-text, `<|im_end|>`), the
# [attention mask](../../notes/glossary.md#attention-mask) with 0 (the model
# ignores those positions), and `labels` with `-100` (the loss ignores them).

# %%
rows = [masked[i] for i in range(4)]
width = max(len(row["input_ids"]) for row in rows)
by_hand = {
    "input_ids": torch.tensor([row["input_ids"] + [tokenizer.eos_token_id] * (width - len(row["input_ids"]))
                               for row in rows]),
    "attention_mask": torch.tensor([[1] * len(row["input_ids"]) + [0] * (width - len(row["input_ids"]))
                                    for row in rows]),
    "labels": torch.tensor([row["labels"] + [-100] * (width - len(row["labels"])) for row in rows]),
}
print("row lengths:", [len(row["input_ids"]) for row in rows], "-> batch", tuple(by_hand["input_ids"].shape))

# %% [markdown]
# The collate function the training engine uses, `gpt2ft.training.batching.DynamicPadding`,
# makes the same batch:

# %%
# NBVAL_CHECK_OUTPUT
collate = batching.DynamicPadding(pad_token_id=tokenizer.eos_token_id)
batch = collate(rows)
checks.same("DynamicPadding makes the keys made by hand", sorted(batch), sorted(by_hand))
for key in by_hand:
    checks.same(f"DynamicPadding's {key} are the ones padded by hand", batch[key], by_hand[key])
pad = batch["attention_mask"] == 0
checks.holds("some positions are padding", pad.any())
checks.holds("every padding position has the label -100", (batch["labels"][pad] == -100).all())

# %% [markdown]
# What the package adds to the lines by hand, and when you need it:
#
# | | adds | you need it for |
# |---|---|---|
# | `encode` | prompt-side truncation that keeps `### Response:`; the count of cut records | records over `MAX_LENGTH` |
# | `DynamicPadding` | any keys; `pad_to_multiple_of` (8 on a GPU: faster kernels); a `max_length` check | every run |
# | `length_grouped=True` | batches of rows of similar length, in a seeded, resumable order | long, uneven records |
#
# ## How much of a batch is padding
#
# Padding each batch to its own longest row (random order) against padding
# everything to `max_length`, and with rows of similar length grouped into the
# same batches (`length_grouped=True` in the training engine):

# %%
lengths = batching.sequence_lengths(masked)


def padding_share(batches):
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    return 1 - sum(lengths) / padded


order = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(SEED)).tolist()
random_batches = [order[i:i + BATCH_SIZE] for i in range(0, len(order), BATCH_SIZE)]
grouped = batching.length_grouped_order(lengths, BATCH_SIZE, torch.Generator().manual_seed(SEED))
shares = pd.Series({
    "pad to max_length": 1 - sum(lengths) / (len(lengths) * max_length),
    "pad per batch, random order": padding_share(random_batches),
    "pad per batch, length-grouped": padding_share(grouped),
}, name=f"share of padding tokens (batch {BATCH_SIZE})").round(3).to_frame()
shares

# %% [markdown]
# **Reading this output.** Padding every row to `max_length` (128 here)
# computes 53 % padding: the records average 61 tokens. Padding each batch of 8
# to its own longest row (random order) leaves 22 %; grouping rows of similar
# length leaves 2 %. At full (`MAX_LENGTH` 512, GPT-2's tokens) the first share
# grows to 88 % while the other two stay near 22 % and 2 %: per-batch padding
# does not depend on `max_length`. The engine pads per batch;
# `length_grouped=True` is one setting away when records are long and uneven.
#
# ## What you learned

# %%
print(f"- A record is prompt + response + end-of-text; {count['response only']:,} of the "
      f"{count['everything']:,} label tokens of the training split "
      f"({count['response only'] / count['everything']:.0%}) are response tokens, the rest are masked (-100).")
print("- The masked labels and the padded batch by hand equal instruct.encode and "
      "batching.DynamicPadding.")
print(f"- At max_length={max_length}, {sum(truncated.values())} record(s) are truncated; padding per batch "
      f"leaves {shares.iloc[1, 0]:.0%} padding, length-grouped {shares.iloc[2, 0]:.0%} "
      f"(against {shares.iloc[0, 0]:.0%} padded to max_length).")

# %% [markdown]
# # Sprint 11 · 02 — Padding, the last token, and batches
#
# `GPT2ForSequenceClassification` puts a linear layer (`score`) on top of
# GPT-2's hidden states and reads the class from **one** position: the last
# token that is not padding. GPT-2 is causal, so that is the only position that
# has seen the whole text. Three things follow, and this notebook checks each:
#
# 1. GPT-2 has no pad token: we set `<|endoftext|>` as pad token on the
#    tokenizer **and** `pad_token_id` in the model's config (the model uses it
#    to find the last real token);
# 2. padding goes on the **right**: then a padded batch gives exactly the
#    logits of each text run alone;
# 3. batches are padded to their own longest row (dynamic padding), not to a
#    fixed 512.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = os.environ.get("MODEL", "")  # hub name or local GPT-2 folder; empty = the profile's default
SEED = int(os.environ.get("SEED", "0"))
DATA_DIR = os.environ.get("DATA_DIR", "")
DATASET = "sst2"  # the set whose batches are measured at the end
BATCH_SIZE = 32

# %%
import numpy as np
import pandas as pd
import torch

from gpt2ft import batching, classify, loading, results, settings
from gpt2ft.data import load_classification

run = settings.resolve(PROFILE, MODEL or None, data_dir=DATA_DIR or None, seed=SEED)
print(run.describe())
tokenizer = loading.load_tokenizer(run.model)
label_names = ["negative", "positive"]
texts = ["A gripping, beautifully acted film.",
         "The plot was dull and the jokes fell flat for two long hours.",
         "Meh."]

# %% [markdown]
# ## 1. No pad token: the tokenizer refuses, then the model refuses
#
# The model below has no `pad_token_id` in its config yet (we pass no
# tokenizer to `build_classifier`).

# %%
# NBVAL_CHECK_OUTPUT
model = classify.build_classifier(run.model, label_names, seed=SEED).eval()
print("tokenizer pad token:", tokenizer.pad_token, "| config pad_token_id:", model.config.pad_token_id)
try:
    tokenizer(texts, padding=True)
except ValueError as err:
    print("tokenizer:", str(err).split(".")[0])

tokenizer.pad_token = tokenizer.eos_token  # the tokenizer alone is not enough ...
batch = tokenizer(texts, padding=True, return_tensors="pt")
try:
    model(**batch)
except ValueError as err:
    print("model:    ", err)

# %% [markdown]
# `classify.set_pad_token(tokenizer, model)` does both: `<|endoftext|>` (id
# 50256) as pad token, `config.pad_token_id = 50256`, padding on the right.
# Reusing `<|endoftext|>` needs no new embedding row (adding a new `[PAD]`
# token would mean resizing the embeddings), and the attention mask keeps the
# model from attending to it.

# %%
# NBVAL_CHECK_OUTPUT
classify.set_pad_token(tokenizer, model)
print("tokenizer pad token:", repr(tokenizer.pad_token), "id", tokenizer.pad_token_id,
      "| side:", tokenizer.padding_side)
print("config pad_token_id:", model.config.pad_token_id)

# %% [markdown]
# ## 2. Which position the model reads
#
# For each row the model takes the right-most token that is not the pad id.
# With right padding that is `attention_mask.sum() - 1`: the last real token.

# %%
# NBVAL_CHECK_OUTPUT
batch = tokenizer(texts, padding=True, return_tensors="pt")
ids = batch["input_ids"]
non_pad = (ids != model.config.pad_token_id).int()
read_at = (torch.arange(ids.shape[1]) * non_pad).argmax(-1)
pd.DataFrame({"text": texts, "real tokens": batch["attention_mask"].sum(-1).tolist(),
              "padded to": ids.shape[1], "position read": read_at.tolist(),
              "token read": tokenizer.convert_ids_to_tokens(ids[torch.arange(len(texts)), read_at])})

# %% [markdown]
# ### A padded batch gives the same logits as each text alone
#
# Right padding changes nothing for the real tokens: GPT-2 is causal, so a
# token never sees what comes after it, and the pads after the last real token
# are never read. (`tests/test_classify.py` checks the same thing.)

# %%
# NBVAL_CHECK_OUTPUT
with torch.no_grad():
    alone = torch.cat([model(**tokenizer(t, return_tensors="pt")).logits for t in texts])
    padded = model(**batch).logits
print("right padding, same logits as alone:", torch.allclose(padded, alone, atol=1e-5))

# %% [markdown]
# ### What goes wrong with left padding
#
# Left padding puts the pads first. The model still finds the last real token
# (it is now the last column), but GPT-2 numbers positions from the first
# column, so every real token of a padded row gets a different position
# embedding than it would alone: the logits change. (Position ids computed
# from the attention mask would undo it; generation code does that, a plain
# forward pass does not.) We pad on the right.

# %%
# NBVAL_CHECK_OUTPUT
tokenizer.padding_side = "left"
left = tokenizer(texts, padding=True, return_tensors="pt")
with torch.no_grad():
    left_logits = model(**left).logits
    positions = (left["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    fixed = model(**left, position_ids=positions).logits
tokenizer.padding_side = "right"
print("left padding, same logits as alone:", torch.allclose(left_logits, alone, atol=1e-5))
print("left padding + position ids from the mask:", torch.allclose(fixed, alone, atol=1e-5))

# %% [markdown]
# ### What goes wrong with a `pad_token_id` that is not the tokenizer's
#
# If the config names another pad id than the one the tokenizer pads with
# (here 0, the `!` token), the model no longer recognises the padding and
# reads the last column: for every row shorter than the batch, a pad token.
# Short texts are then classified from padding; in a real run this is one
# way to get a model that predicts the same class for everything.

# %%
# NBVAL_CHECK_OUTPUT
model.config.pad_token_id = 0
with torch.no_grad():
    wrong = model(**batch).logits
model.config.pad_token_id = tokenizer.pad_token_id
print("config pad id 0, tokenizer pads with 50256, same logits as alone:",
      torch.allclose(wrong, alone, atol=1e-5))
pd.DataFrame({"text": texts, "alone": alone.argmax(-1).tolist(), "right padded": padded.argmax(-1).tolist(),
              "left padded": left_logits.argmax(-1).tolist(), "wrong pad id": wrong.argmax(-1).tolist()})

# %% [markdown]
# ## 3. Truncation and dynamic padding
#
# `classify.encode` tokenizes with truncation at `max_length` (the 95th
# percentile of the training lengths, see `01`) and **no** padding; the
# collator (`batching.DynamicPadding`) pads each batch to its own longest row.
# Below: how many of the token positions a model would compute are padding,
# for one epoch of `DATASET` in batches of `BATCH_SIZE`.

# %%
data = load_classification(DATASET, run)
train_texts = classify.model_texts(data)["train"]
lengths = classify.token_lengths(tokenizer, train_texts["text"])
max_length = classify.choose_max_length(lengths, 95, cap=classify.context_length(model.config))
encoded = classify.encode(train_texts, tokenizer, max_length)
real = np.array([len(x) for x in encoded["input_ids"]])
print(f"{DATASET}: {len(real)} training texts, max_length {max_length}, "
      f"{(lengths > max_length).mean():.1%} truncated")

# %%
# NBVAL_CHECK_OUTPUT
g = torch.Generator().manual_seed(SEED)
random_order = torch.randperm(len(real), generator=g).tolist()
random_batches = [random_order[i:i + BATCH_SIZE] for i in range(0, len(real), BATCH_SIZE)]
grouped_batches = batching.length_grouped_order(real.tolist(), BATCH_SIZE, g)


def computed(batches):
    return sum(len(b) * max(real[b]) for b in batches)


schemes = {"pad to 512": 512 * len(real), "pad to max_length": max_length * len(real),
           "dynamic (random batches)": computed(random_batches),
           "dynamic + length-grouped batches": computed(grouped_batches)}
padding = pd.DataFrame({"positions computed": schemes,
                        "share that is padding": {k: round(1 - real.sum() / v, 3) for k, v in schemes.items()},
                        "x real tokens": {k: round(v / real.sum(), 2) for k, v in schemes.items()}})
padding

# %% [markdown]
# One batch, as the training engine's collator builds it: `input_ids` padded
# with 50256, `attention_mask` with 0, the labels a plain vector.

# %%
# NBVAL_CHECK_OUTPUT
collate = classify.collator(tokenizer)
one = collate([encoded[i] for i in random_batches[0][:4]])
for key, value in one.items():
    print(f"{key:15} {tuple(value.shape)} {value.dtype}")
print("pad id used:", collate.pad_token_id)

# %%
path = results.write_table(padding, "sprint11", f"padding_{DATASET}", run,
                           title=f"Sprint 11: padded positions per epoch, {DATASET}, batch {BATCH_SIZE}",
                           command=f"make sprint11 PROFILE={run.profile}")
print("wrote", path)

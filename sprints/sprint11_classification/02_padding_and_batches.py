# %% [markdown]
# # Sprint 11 · 02 — Padding, the last token, and batches
#
# `GPT2ForSequenceClassification` puts a linear layer (`score`) on top of
# GPT-2's [hidden states](../../notes/glossary.md#hidden-state) and reads the
# class from **one** position: the last token that is not
# [padding](../../notes/glossary.md#padding) ([last-token pooling](../../notes/glossary.md#pooling-last-token)).
# GPT-2 is a [causal language model](../../notes/glossary.md#causal-language-model),
# so that is the only position that has seen the whole text.
#
# **You will learn**
# - why GPT-2 needs a pad token on the tokenizer **and** in the model's config,
#   and what goes wrong with left padding or a mismatched pad id;
# - last-token pooling by hand (hidden states → each row's last real position
#   → `score`), checked equal to the model's [logits](../../notes/glossary.md#logits);
# - how the training engine batches: a seeded, resumable batch order
#   (`ResumableBatchSampler`) and [dynamic padding](../../notes/glossary.md#dynamic-padding)
#   (`DynamicPadding`), and how much padding each scheme computes.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = ""  # "" = gpt2 (full) or a random tiny GPT-2 (tiny); or a hub name / local folder
DATA_DIR = ""  # "" = the hub (full) or the bundled samples (tiny); e.g. ../shared/data (from the repository root)
SEED = 0
DATASET = "sst2"  # the set whose batches are measured at the end
BATCH_SIZE = 32
MAX_EXAMPLES = 0  # rows per split (a stratified draw); 0 = all

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from gpt2ft import classify
from gpt2ft.core import models, paths
from gpt2ft.session import loading, results, settings
from gpt2ft.session.data import CLASSIFICATION_NAMES, load_classification
from gpt2ft.training import batching

run = settings.configure(globals(), choices=dict(DATASET=CLASSIFICATION_NAMES))
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
model = classify.build_classifier(run.model, label_names, seed=SEED).to(run.device).eval()
print("tokenizer pad token:", tokenizer.pad_token, "| config pad_token_id:", model.config.pad_token_id)
try:
    tokenizer(texts, padding=True)
except ValueError as err:
    print("tokenizer:", str(err).split(".")[0])

tokenizer.pad_token = tokenizer.eos_token  # the tokenizer alone is not enough ...
batch = tokenizer(texts, padding=True, return_tensors="pt").to(model.device)
try:
    model(**batch)
except ValueError as err:
    print("model:    ", err)

# %% [markdown]
# `classify.set_pad_token(tokenizer, model)` does both: `<|endoftext|>` (id
# 50256) as pad token, `config.pad_token_id = 50256`, padding on the right.
# Reusing `<|endoftext|>` needs no new [embedding](../../notes/glossary.md#embedding)
# row (adding a new `[PAD]` token would mean resizing the embeddings), and the
# [attention mask](../../notes/glossary.md#attention-mask) keeps the model from
# attending to it.

# %%
# NBVAL_CHECK_OUTPUT
classify.set_pad_token(tokenizer, model)
print("tokenizer pad token:", repr(tokenizer.pad_token), "id", tokenizer.pad_token_id,
      "| side:", tokenizer.padding_side)
print("config pad_token_id:", model.config.pad_token_id)

# %% [markdown]
# ## 2. The picture: a padded batch, the mask, the position read
#
# The three texts above as one batch, padded on the right (top) and on the
# left (bottom). Blue cells are real tokens (`attention_mask` 1), grey ones
# padding (mask 0); under each token, the position id a plain forward pass
# gives it; the red frame is the position `score` reads.

# %%
fig = classify.padding_figure(tokenizer, texts)
results.save_figure(fig, "sprint11", "padding_diagram", run)
plt.show()

# %% [markdown]
# **Reading this output.** With right padding every row's real tokens sit at
# positions 0, 1, 2, … exactly as when the text is alone, and the frame is on
# each row's own last token ("." here). With left padding the frame is always
# the last column, which is right, but the short rows' tokens moved: "Meh."
# now starts at position 11 instead of 0, and GPT-2 adds a position embedding
# to every token, so the same text gives different hidden states. Section 4
# measures the effect.
#
# ## 3. Last-token pooling by hand
#
# What the model does inside, in four lines of plain PyTorch: run the
# transformer (the stack without a head) to get one hidden state per position,
# find each row's last real position (with right padding, the number of real
# tokens minus one), take that row's hidden state, and apply the `score` layer.

# %%
with torch.no_grad():
    hidden = model.transformer(**batch).last_hidden_state  # rows x positions x n_embd
    last = batch["attention_mask"].sum(-1) - 1  # the last real position of each row
    pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]  # rows x n_embd
    ours = model.score(pooled)  # rows x labels
    theirs = model(**batch).logits
print(f"hidden states {tuple(hidden.shape)} -> pooled {tuple(pooled.shape)} -> logits {tuple(ours.shape)}")
print("last real position per row:", last.tolist())

# %%
# NBVAL_CHECK_OUTPUT
print("pooling by hand == the model's logits (max difference below 1e-6):",
      (ours - theirs).abs().max().item() < 1e-6)

# %% [markdown]
# **Reading this output.** The same logits, so `GPT2ForSequenceClassification`
# is exactly "transformer, then `score` on the last real token". The library
# finds that token differently: it looks for the right-most token that is not
# `config.pad_token_id` (not at the mask). With right padding the two rules
# agree; section 4 shows what happens when the pad id is wrong.
#
# | | by hand (above) | `GPT2ForSequenceClassification` |
# |---|---|---|
# | the position read | `attention_mask.sum(-1) - 1` | the last token that is not `pad_token_id` |
# | works with left padding | no | yes (and fails with a wrong pad id) |
# | the head | `model.score(pooled)` | `score`, made with `num_labels`; label names saved |
# | the loss | written in `04` | `labels=` gives cross-entropy |
# | you need it for | understanding; other pooling (`08`) | training, saving, `pipeline` |
#
# ## 4. A padded batch gives the same logits as each text alone
#
# Right padding changes nothing for the real tokens: GPT-2 is causal, so a
# token never sees what comes after it, and the pads after the last real token
# are never read. (`tests/test_classify.py` checks the same thing.)

# %%
# NBVAL_CHECK_OUTPUT
with torch.no_grad():
    alone = torch.cat([model(**tokenizer(t, return_tensors="pt").to(model.device)).logits for t in texts])
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
left = tokenizer(texts, padding=True, return_tensors="pt").to(model.device)
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
# **Reading this output.** The columns are the predicted class (0 negative,
# 1 positive) of each text under each way of batching. The logit checks above
# are the real test: only "right padded" gives exactly the logits of "alone".
# A class changes only where the change in the logits crosses the decision
# line: here the wrong pad id flips the first text (the model now reads a
# pad token for it). Elsewhere the classes agree even where the logits
# differ, because this model is untrained (at `tiny` entirely random) and the
# shifts are small. The second text is the longest row and has no padding at
# all, so every scheme gives it the same logits.
#
# ## 5. Truncation, dynamic padding and the batch order
#
# `classify.encode` tokenizes with truncation at `max_length` (the 95th
# percentile of the training lengths, see `01`) and **no** padding; the
# collator (`batching.DynamicPadding`) pads each batch to its own longest row.

# %%
data = load_classification(DATASET, run, max_examples=MAX_EXAMPLES)
train_texts = data.model_texts()["train"]
lengths = classify.token_lengths(tokenizer, train_texts["text"])
max_length = classify.choose_max_length(lengths, 95, cap=models.context_length(model))
encoded = classify.encode(train_texts, tokenizer, max_length)
real = np.array([len(x) for x in encoded["input_ids"]])
print(f"{DATASET}: {len(real)} training texts, max_length {max_length}, "
      f"{(lengths > max_length).mean():.1%} truncated")

# %% [markdown]
# The training engine takes its batches from `batching.ResumableBatchSampler`:
# the order of epoch *e* is a permutation drawn from a private random
# generator seeded with `seed * 1_000_003 + e`, cut into batches of
# `BATCH_SIZE`. By hand, that is one `torch.randperm`:

# %%
sampler = batching.ResumableBatchSampler(len(encoded), BATCH_SIZE, seed=SEED)
by_hand = []
for epoch in (0, 1):
    g = torch.Generator().manual_seed(SEED * 1_000_003 + epoch)
    order = torch.randperm(len(encoded), generator=g).tolist()
    by_hand.append([order[i:i + BATCH_SIZE] for i in range(0, len(order), BATCH_SIZE)])
print(f"{sampler.num_batches(0)} batches per epoch; the first rows of epoch 0: {by_hand[0][0][:6]}, "
      f"of epoch 1: {by_hand[1][0][:6]}")

# %%
# NBVAL_CHECK_OUTPUT
sampler.set_epoch(0)
print("epoch 0, same batches as randperm by hand:", list(sampler) == by_hand[0])
sampler.set_epoch(1)
print("epoch 1, same batches as randperm by hand:", list(sampler) == by_hand[1])
sampler.set_epoch(1, start_batch=2)  # a resumed run skips the batches it had already used
print("resuming at batch 2 gives the rest of epoch 1:", list(sampler) == by_hand[1][2:])

# %% [markdown]
# **Reading this output.** The sampler's batches are exactly the hand-made
# ones, a new order each [epoch](../../notes/glossary.md#epoch). What it adds is resuming in the middle of an
# epoch (`start_batch`), one slice of every batch per process when several run
# (`num_replicas`, `rank`), and length grouping (`lengths=`). Because its
# generator is private, drawing the order never moves the global random state
# that [dropout](../../notes/glossary.md#dropout) uses (`04` shows why that matters).
#
# A `DataLoader` with this sampler as `batch_sampler` and the collator as
# `collate_fn` is what the engine iterates over. One batch:

# %%
# NBVAL_CHECK_OUTPUT
collate = batching.DynamicPadding(pad_token_id=tokenizer.pad_token_id, max_length=max_length)
sampler.set_epoch(0)
loader = torch.utils.data.DataLoader(encoded, batch_sampler=sampler, collate_fn=collate,
                                     generator=torch.Generator())
one = next(iter(loader))
for key, value in one.items():
    print(f"{key:15} {tuple(value.shape)} {value.dtype}")
print("padded to the batch's longest row:", one["input_ids"].shape[1] == max(real[by_hand[0][0]]))
print("pad id used:", collate.pad_token_id, "| raw text dropped:", "text" not in one)

# %% [markdown]
# ### How much of the work is padding
#
# For one epoch of `DATASET` in batches of `BATCH_SIZE`: the token positions a
# model computes under each scheme, and the share that is padding.

# %%
# NBVAL_CHECK_OUTPUT
grouped = batching.ResumableBatchSampler(len(encoded), BATCH_SIZE, seed=SEED, lengths=real.tolist())


def computed(batches):
    return sum(len(b) * max(real[b]) for b in batches)


schemes = {"pad to 512": 512 * len(real), "pad to max_length": max_length * len(real),
           "dynamic (random batches)": computed(by_hand[0]),
           "dynamic + length-grouped batches": computed(grouped.global_batches(0))}
padding = pd.DataFrame({"positions computed": schemes,
                        "share that is padding": {k: round(1 - real.sum() / v, 3) for k, v in schemes.items()},
                        "x real tokens": {k: round(v / real.sum(), 2) for k, v in schemes.items()}})
padding

# %% [markdown]
# **Reading this output.** "x real tokens" is how many positions are computed
# per real token. Padding every text to 512 computes dozens of times the real
# work on short texts; padding to `max_length` is better; padding each batch
# to its own longest row (dynamic) is better again. Grouping rows of similar
# length into the same batch (transformers' scheme: shuffle, cut into
# "mega-batches" of up to 50 batches, fewer when that leaves under four
# mega-batches, and sort each by length) gains nothing at `tiny`: the sample
# has only a few batches, so a mega-batch is a single batch, sorting inside it
# changes nothing, and the two dynamic rows differ only by which random
# batches they drew. On a real set it pays: the real
# SST-2 (`DATA_DIR`; phrases of 1 to 64 tokens) has 27 % padding with random
# batches of 32 and 5 % with grouped ones, as the engine's benchmark measured
# (`notes/training_engine.md`). Grouping is a
# `TrainConfig(length_grouped=True)` switch; it changes which rows share a
# step (batches are no longer a uniform random draw), so it is not the
# default.

# %%
path = results.write_table(padding, "sprint11", f"padding_{DATASET}", run,
                           title=f"Sprint 11: padded positions per epoch, {DATASET}, batch {BATCH_SIZE}")
print("wrote", paths.shown(path))

# %% [markdown]
# ## What you learned

# %%
print(f"- pooling by hand equals the model's logits: {(ours - theirs).abs().max().item() < 1e-6}")
print(f"- right padding = each text alone: {torch.allclose(padded, alone, atol=1e-5)}; "
      f"left padding: {torch.allclose(left_logits, alone, atol=1e-5)}; "
      f"wrong pad id: {torch.allclose(wrong, alone, atol=1e-5)}")
print(f"- {DATASET}, batch {BATCH_SIZE}: padding share {padding.loc['pad to 512', 'share that is padding']:.0%} "
      f"when padding to 512, {padding.loc['dynamic (random batches)', 'share that is padding']:.0%} with "
      f"dynamic padding, {padding.loc['dynamic + length-grouped batches', 'share that is padding']:.0%} "
      "with length-grouped batches")

# %% [markdown]
# - GPT-2 classifies from the last real token; set the pad token on the
#   tokenizer and the config, and pad on the right.
# - The engine's batches are a seeded permutation (`ResumableBatchSampler`),
#   padded per batch (`DynamicPadding`).
# - Padding each batch to its own longest row computes far fewer positions
#   than padding every text to one fixed length; grouping similar lengths
#   saves more on sets with many batches of mixed lengths.
#
# Next: `03_baseline`, the score a word count gets on the same splits.

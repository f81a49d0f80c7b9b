# %% [markdown]
# # Sprint 11 · 02 — Padding, the last token, and batches
#
# `GPT2ForSequenceClassification` puts a linear layer (`score`) on top of
# GPT-2's [hidden states](../../notes/glossary.md#hidden-state) and reads the
# class from **one** position: the last token that is not
# [padding](../../notes/glossary.md#padding) ([last-token pooling](../../notes/glossary.md#pooling-last-token)).
# GPT-2 is a [causal language model](../../notes/glossary.md#causal-language-model),
# so that is the only position that has seen the whole text. Every
# decoder-only model gets the same head from `AutoModelForSequenceClassification`:
# the outputs below are the small profile's, with SmolLM2-135M-Instruct
# (`LlamaForSequenceClassification`), and every check holds for GPT-2 as well
# (`make test` runs them on a GPT-2).
#
# **You will learn**
# - why a causal LM needs a pad token on the tokenizer **and** in the model's
#   config, and what goes wrong with left padding or a mismatched pad id;
# - last-token pooling by hand (hidden states → each row's last real position
#   → `score`), checked equal to the model's [logits](../../notes/glossary.md#logits);
# - how the training engine batches: a seeded, resumable batch order
#   (`ResumableBatchSampler`) and [dynamic padding](../../notes/glossary.md#dynamic-padding)
#   (`DynamicPadding`), and how much padding each scheme computes.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | small | full | auto
MODEL = ""  # "" = gpt2 (full), SmolLM2-135M-Instruct (small), a random tiny GPT-2 (tiny); or a hub name / folder
DATA_DIR = ""  # "" = the hub (full), ../shared/data (small) or the bundled samples (tiny)
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

# At every profile: all of SST-2's training rows (tokenizing them takes seconds) and three
# forward passes of three sentences; nothing is trained here.
run = settings.configure(globals(), choices=dict(DATASET=CLASSIFICATION_NAMES))
tokenizer = loading.load_tokenizer(run.model)
label_names = ["negative", "positive"]
texts = ["A gripping, beautifully acted film.",
         "The plot was dull and the jokes fell flat for two long hours.",
         "Meh."]

# %% [markdown]
# ## 1. No pad token: the tokenizer refuses, then the model refuses
#
# GPT-2 ships without a pad token: its tokenizer has none and its config no
# `pad_token_id`. SmolLM2 ships with one. The model below is built without a
# tokenizer, so its config holds only what the checkpoint brought.

# %%
model = classify.build_classifier(run.model, label_names, seed=SEED).to(run.device).eval()
print(f"{classify.model_label(run)} as it comes: tokenizer pad token {tokenizer.pad_token!r}, "
      f"end-of-text token {tokenizer.eos_token!r}; config pad_token_id {model.config.pad_token_id}")

# %% [markdown]
# **Reading this output.** SmolLM2's tokenizer pads with `<|im_end|>` (id 2),
# the token that ends each turn of its chat format and its end-of-text, and
# its config says `pad_token_id` 2. With `gpt2` (and at `tiny`) both are `None`.
#
# Here is what happens without one, as GPT-2 ships: we take the pad token off
# the tokenizer and the config, then put it back on the tokenizer only.

# %%
# NBVAL_CHECK_OUTPUT
tokenizer.pad_token, model.config.pad_token_id = None, None  # as GPT-2 ships
try:
    tokenizer(texts, padding=True)
except ValueError as err:
    print("no pad token, the tokenizer:", str(err).split(".")[0])

tokenizer.pad_token = tokenizer.eos_token  # the tokenizer alone is not enough ...
batch = tokenizer(texts, padding=True, return_tensors="pt").to(model.device)
try:
    model(**batch)
except ValueError as err:
    print("a pad token on the tokenizer only, the model:", err)

# %% [markdown]
# **Reading this output.** Both refusals are the libraries' own: the tokenizer
# cannot pad without a pad token, and the model, given a padded batch but no
# `pad_token_id`, cannot tell which token of each row is the last real one.
#
# `classify.set_pad_token(tokenizer, model)` does both: a tokenizer without a
# pad token pads with its end-of-text token (GPT-2: `<|endoftext|>`, id 50256),
# a tokenizer that has one keeps it (SmolLM2: `<|im_end|>`, id 2), the config
# gets the same id, and padding goes on the right. Reusing the end-of-text
# token needs no new [embedding](../../notes/glossary.md#embedding) row (adding
# a new `[PAD]` token would mean resizing the embeddings), and the
# [attention mask](../../notes/glossary.md#attention-mask) keeps the model from
# attending to it.

# %%
classify.set_pad_token(tokenizer, model)
print("tokenizer pad token:", repr(tokenizer.pad_token), "id", tokenizer.pad_token_id,
      "| config pad_token_id:", model.config.pad_token_id)

# %%
# NBVAL_CHECK_OUTPUT
print("pad token = the end-of-text token:", tokenizer.pad_token == tokenizer.eos_token,
      "| padding side:", tokenizer.padding_side)
print("config pad_token_id = the tokenizer's pad id:", model.config.pad_token_id == tokenizer.pad_token_id)

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
# **Reading this output.** The tokens are SmolLM2's ("·" marks a leading
# space; "Meh." is three tokens, `Me`, `h`, `.`). With right padding every
# row's real tokens sit at positions 0, 1, 2, … exactly as when the text is
# alone, and the frame is on each row's own last token ("." here, at positions
# 6, 13 and 2). With left padding the frame is always the last column, which is
# right, but the short rows' tokens moved: "Meh." now starts at position 11
# instead of 0. Whether that matters depends on how the model encodes
# positions; section 4 measures it.
#
# ## 3. Last-token pooling by hand
#
# What the model does inside, in four lines of plain PyTorch: run the
# transformer (the stack without a head: `model.base_model`, which is GPT-2's
# `transformer` and a Llama's `model`) to get one hidden state per position,
# find each row's last real position (with right padding, the number of real
# tokens minus one), take that row's hidden state, and multiply it by the
# `score` layer's weight matrix (one row per label, no bias).

# %%
body = model.base_model  # the stack without a head: GPT-2's `transformer`, a Llama's `model`
with torch.no_grad():
    hidden = body(**batch).last_hidden_state  # rows x positions x hidden size, after the final norm
    last = batch["attention_mask"].sum(-1) - 1  # the last real position of each row
    pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]  # rows x hidden size
    ours = pooled @ model.score.weight.T  # score: one linear layer, no bias -> rows x labels
    theirs = model(**batch).logits
print(f"{type(body).__name__}: {len(models.transformer_blocks(model))} blocks, then "
      f"{type(models.final_norm(model)).__name__}; score {tuple(model.score.weight.shape)}, bias {model.score.bias}")
print(f"hidden states {tuple(hidden.shape)} -> pooled {tuple(pooled.shape)} -> logits {tuple(ours.shape)}")
print("last real position per row:", last.tolist())

# %%
# NBVAL_CHECK_OUTPUT
print("pooling by hand == the model's logits (max difference below 1e-6):",
      (ours - theirs).abs().max().item() < 1e-6)

# %% [markdown]
# **Reading this output.** SmolLM2's body is a `LlamaModel`: 30 blocks, then
# a final RMSNorm, so each of the 3 × 14 positions gets a 576-wide hidden state;
# `score` is a 2 × 576 matrix. The last real positions, 6, 13 and 2, are the
# frames of the diagram. The logits by hand are the model's (GPT-2: 12 blocks,
# then the layer norm `ln_f`, 768 wide; the same four lines). So a
# `…ForSequenceClassification` model is exactly "transformer, then `score` on
# the last real token". The library finds that token differently: it looks
# for the right-most token that is not `config.pad_token_id` (not at the
# mask). With right padding the two rules agree; section 4 shows what happens
# when the pad id is wrong.
#
# | | by hand (above) | `…ForSequenceClassification` |
# |---|---|---|
# | the position read | `attention_mask.sum(-1) - 1` | the last token that is not `pad_token_id` |
# | works with left padding | no | yes (and fails with a wrong pad id) |
# | the head | `pooled @ model.score.weight.T` | `score`, made with `num_labels`; label names saved |
# | the loss | written in `04` | `labels=` gives cross-entropy |
# | you need it for | understanding; other pooling (`08`) | training, saving, `pipeline` |
#
# ## 4. A padded batch gives the same logits as each text alone
#
# Right padding changes nothing for the real tokens: the model is causal, so a
# token never sees what comes after it, and the pads after the last real token
# are never read. (`tests/test_classify.py` checks the same thing for GPT-2
# and for a Llama-family model.)

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
# (it is now the last column), but a plain forward pass numbers positions from
# the first column, so every real token of a padded row gets another position
# than it has alone. GPT-2 *adds* a learned position embedding to each token,
# so its hidden states, and the logits, change. A Llama-family model such as
# SmolLM2 has no position embedding: its rotary encoding turns each query and
# key by an angle proportional to its position, and attention compares the
# two, so only the *distance* between tokens counts, and shifting every real
# token by the same offset changes nothing but rounding. (Position ids computed
# from the attention mask undo the shift for both; generation code does that,
# a plain forward pass does not.) The check below is the same for both models:
# left padding changes the logits exactly when positions are learned.

# %%
tokenizer.padding_side = "left"
left = tokenizer(texts, padding=True, return_tensors="pt").to(model.device)
with torch.no_grad():
    left_logits = model(**left).logits
    positions = (left["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    fixed = model(**left, position_ids=positions).logits
tokenizer.padding_side = "right"
learned_positions = models.position_embeddings(model) is not None  # GPT-2's wpe; rotary: None
print("position encoding:", "learned (a position embedding added to each token)" if learned_positions
      else "rotary (no position embedding: attention sees relative positions)")
for what, logits in {"right padding": padded, "left padding": left_logits,
                     "left padding + position ids from the mask": fixed}.items():
    print(f"{what:42} largest logit difference from alone: {(logits - alone).abs().max().item():.1e}")

# %%
# NBVAL_CHECK_OUTPUT
left_same = torch.allclose(left_logits, alone, atol=1e-4)
print("left padding changes the logits exactly when positions are learned:", left_same != learned_positions)
print("left padding + position ids from the mask, same logits as alone:", torch.allclose(fixed, alone, atol=1e-4))

# %% [markdown]
# **Reading this output.** SmolLM2's positions are rotary: the right-padded
# batch, the left-padded one and the left-padded one with position ids from
# the mask all differ from each text alone by 1.6e-06, float32 rounding (the
# padded batch is computed as one larger matrix product). With `gpt2` (and at
# `tiny`) the left-padded logits move by far more (0.25 at `tiny`) and only
# the position ids from the mask bring them back. We pad on the right, which
# is right for both.
#
# ### What goes wrong with a `pad_token_id` that is not the tokenizer's
#
# If the config names another pad id than the one the tokenizer pads with
# (here 0: GPT-2's `!` token, SmolLM2's `<|endoftext|>`), the model no longer
# recognises the padding and reads the last column: for every row shorter than
# the batch, a pad token.
# Short texts are then classified from padding; in a real run this is one
# way to get a model that predicts the same class for everything.

# %%
# NBVAL_CHECK_OUTPUT
model.config.pad_token_id = 0
with torch.no_grad():
    wrong = model(**batch).logits
model.config.pad_token_id = tokenizer.pad_token_id
print("config pad id 0, the tokenizer pads with its own id; same logits as alone:",
      torch.allclose(wrong, alone, atol=1e-5))
pd.DataFrame({"text": texts, "alone": alone.argmax(-1).tolist(), "right padded": padded.argmax(-1).tolist(),
              "left padded": left_logits.argmax(-1).tolist(), "wrong pad id": wrong.argmax(-1).tolist()})

# %% [markdown]
# **Reading this output.** The columns are the predicted class (0 negative,
# 1 positive) of each text under each way of batching; the head is still
# random (it is trained in `04`), so the classes themselves mean nothing yet.
# The logit checks above are the real test. A class changes only where the
# change in the logits crosses the decision line: here the wrong pad id flips
# the first text from 1 to 0 (the model now reads a pad token for it). "Meh."
# keeps its class although its logits changed too, and the second text is the
# longest row, with no padding at all, so every scheme gives it the same
# logits. With SmolLM2 "left padded" agrees with "alone" everywhere (rotary
# positions); with GPT-2 its logits differ, and a class flips wherever the
# shift crosses the line.
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
# **Reading this output.** All 66,477 SST-2 training phrases, cut at 32
# SmolLM2 tokens (the 95th percentile of `01`): 4.4 % of them lose their end.
#
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
# **Reading this output.** 2,078 batches of 32 per epoch (the last one
# shorter). The sampler's batches are exactly the hand-made
# ones, a new order each [epoch](../../notes/glossary.md#epoch). What it adds is resuming in the middle of an
# epoch (`start_batch`), one slice of every batch per process when several run
# (`num_replicas`, `rank`), and length grouping (`lengths=`). Because its
# generator is private, drawing the order never moves the global random state
# that [dropout](../../notes/glossary.md#dropout) uses (`04` shows why that matters).
#
# A `DataLoader` with this sampler as `batch_sampler` and the collator as
# `collate_fn` is what the engine iterates over. One batch (its shapes, then
# the checks):

# %%
collate = batching.DynamicPadding(pad_token_id=tokenizer.pad_token_id, max_length=max_length)
sampler.set_epoch(0)
loader = torch.utils.data.DataLoader(encoded, batch_sampler=sampler, collate_fn=collate,
                                     generator=torch.Generator())
one = next(iter(loader))
for key, value in one.items():
    print(f"{key:15} {tuple(value.shape)}")

# %%
# NBVAL_CHECK_OUTPUT
print({key: str(value.dtype) for key, value in one.items()})
print("padded to the batch's longest row:", one["input_ids"].shape[1] == max(real[by_hand[0][0]]))
print("pad id used = the tokenizer's:", collate.pad_token_id == tokenizer.pad_token_id,
      "| raw text dropped:", "text" not in one)

# %% [markdown]
# **Reading this output.** The first batch of epoch 0 is 32 rows padded to 32
# tokens: one of its phrases reaches `max_length`. The labels are one number
# per row; the raw text is gone.
#
# ### How much of the work is padding
#
# For one epoch of `DATASET` in batches of `BATCH_SIZE`: the token positions a
# model computes under each scheme, and the share that is padding.

# %%
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

# %%
# NBVAL_CHECK_OUTPUT
order = ["pad to 512", "pad to max_length", "dynamic (random batches)"]
print("positions computed: pad to 512 > pad to max_length > dynamic padding:",
      all(schemes[a] > schemes[b] for a, b in zip(order, order[1:], strict=False)))

# %% [markdown]
# **Reading this output.** "x real tokens" is how many positions are computed
# per real token, on the real SST-2 (745,869 real tokens in an epoch, 11.2 per
# phrase after truncation). Padding every phrase to 512 computes 45.6 times the
# real work (97.8 % padding). Padding to `max_length` (32) computes 2.85 times
# it. Dynamic padding with random batches barely improves on that here (2.78
# times, 64 % padding): SST-2's phrases are mostly short (half of them 8
# tokens or fewer) with a long tail, so a random batch of 32 almost always
# holds one phrase at or near 32 tokens, and the whole batch is padded to it.
# Grouping rows of similar length into the same batch (transformers' scheme:
# shuffle, cut into "mega-batches" of up to 50 batches, and sort each by
# length) is what pays: 1.03 times the real work, 2.6 % padding, a third of
# the positions of random batches. (At `tiny` the sample has a few batches of
# similar templates, so grouping gains nothing there.) Grouping is a
# `TrainConfig(length_grouped=True)` switch; it changes which rows share a
# step (batches are no longer a uniform random draw), so it is not the
# default. Where length carries the label it backfires: SMS spam is longer
# than ham, so grouped batches come out nearly one class each. We tried it
# for `04` at the small profile: the training loss swung between 0.0 and 4.2
# from one stretch of batches to the next, and the model ended predicting
# "ham" for every message (spam recall 0); with random batches the same run
# catches 93 % of the spam.

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
# - A causal LM (GPT-2, SmolLM2) classifies from the last real token; set the
#   pad token on the tokenizer and the config, and pad on the right (left
#   padding moves GPT-2's learned positions; rotary positions do not care).
# - The engine's batches are a seeded permutation (`ResumableBatchSampler`),
#   padded per batch (`DynamicPadding`).
# - Padding each batch to its own longest row computes far fewer positions
#   than padding every text to 512; on a set of mostly short texts with a long
#   tail (SST-2) random batches still pad most rows to the tail, and grouping
#   similar lengths is what removes the padding.
#
# Next: `03_baseline`, the score a word count gets on the same splits.

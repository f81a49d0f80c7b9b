# %% [markdown]
# # Sprint 11 · 02 — Padding, the last token, and batches
#
# `GPT2ForSequenceClassification` puts a linear layer (`score`) on top of GPT-2's
# [hidden states](../../notes/glossary.md#hidden-state) and reads the class from **one**
# position: the last token that is not [padding](../../notes/glossary.md#padding)
# ([last-token pooling](../../notes/glossary.md#pooling-last-token)). GPT-2 is a
# [causal language model](../../notes/glossary.md#causal-language-model), so that is the only
# position that has seen the whole text. Every decoder-only model gets the same head from
# `AutoModelForSequenceClassification`: the outputs are the small profile's, with
# SmolLM2-135M-Instruct (`LlamaForSequenceClassification`), and every check holds for GPT-2 too
# (`make test` runs them on one).
#
# **You will learn**
# - why a causal LM needs a pad token on the tokenizer **and** in the model's config, and
#   what goes wrong with left padding or a mismatched pad id;
# - last-token pooling by hand (hidden states → each row's last real position → `score`),
#   checked equal to the model's [logits](../../notes/glossary.md#logits);
# - how the training engine batches ([dynamic padding](../../notes/glossary.md#dynamic-padding))
#   and how much padding each scheme computes.

# %% tags=["parameters"]
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
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
from gpt2ft.core import checks, models, paths
from gpt2ft.session import loading, results, settings
from gpt2ft.session.data import CLASSIFICATION_NAMES, load_classification
from gpt2ft.training import batching

# At every profile: all of SST-2's training rows (tokenizing them takes seconds) and a few
# forward passes of three sentences; nothing is trained here.
run = settings.configure(globals(), choices=dict(DATASET=CLASSIFICATION_NAMES))
tokenizer = loading.load_tokenizer(run.model)
texts = ["A gripping, beautifully acted film.",
         "The plot was dull and the jokes fell flat for two long hours.",
         "Meh."]

# %% [markdown]
# ## 1. No pad token: the tokenizer refuses, then the model refuses
#
# GPT-2 ships without a pad token: its tokenizer has none and its config no `pad_token_id`.
# SmolLM2 ships with one: it pads with `<|im_end|>` (id 2), its end-of-text token, and its
# config says `pad_token_id` 2. The model below is built without a tokenizer, so its config
# holds only what the checkpoint brought. We take the pad token off, as GPT-2 ships, then put
# it back on the tokenizer only. Then
# `classify.set_pad_token(tokenizer, model)` does both: a tokenizer without a pad token pads
# with its end-of-text token (GPT-2: `<|endoftext|>`, id 50256), one that has a pad token keeps
# it, the config gets the same id, and padding goes on the right. Reusing the end-of-text
# token needs no new [embedding](../../notes/glossary.md#embedding) row, and the
# [attention mask](../../notes/glossary.md#attention-mask) keeps the model from attending to it.

# %%
# NBVAL_CHECK_OUTPUT
model = classify.build_classifier(run.model, ["negative", "positive"], seed=SEED).to(run.device).eval()
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

classify.set_pad_token(tokenizer, model)
checks.same("the pad token is the end-of-text token", tokenizer.pad_token, tokenizer.eos_token)
checks.same("config pad_token_id = the tokenizer's pad id", model.config.pad_token_id, tokenizer.pad_token_id)
checks.same("padding side", tokenizer.padding_side, "right")

# %% [markdown]
# **Reading this output.** Both refusals are the libraries' own: the tokenizer cannot pad
# without a pad token, and the model, given a padded batch but no `pad_token_id`, cannot tell
# which token of each row is the last real one.
#
# ## 2. The picture: a padded batch, the mask, the position read
#
# The three texts as one batch, padded on the right (top) and on the left (bottom), drawn by
# `classify.padding_figure` (`gpt2ft/classify/diagrams.py`).

# %%
fig = classify.padding_figure(tokenizer, texts)
results.save_figure(fig, "sprint11", "padding_diagram", run)
plt.show()

# %% [markdown]
# **Reading this output.** The tokens are SmolLM2's ("·" marks a leading space; "Meh." is
# `Me`, `h`, `.`). With right padding every row's real tokens sit at positions 0, 1, 2, …
# exactly as when the text is alone, and the frame is on each row's own last token (positions
# 6, 13 and 2). With left padding the frame is always the last column, but the short rows'
# tokens moved: "Meh." now starts at position 11 instead of 0. Section 4 measures whether that
# matters.
#
# ## 3. Last-token pooling by hand
#
# What the model does inside, in four lines: run the transformer without its head
# (`model.base_model`: GPT-2's `transformer`, a Llama's `model`) to get one hidden state per
# position, find each row's last real position (with right padding: the number of real tokens
# minus one), take that row's hidden state, and multiply it by the `score` layer's weight
# matrix (one row per label, no bias).

# %%
body = model.base_model
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
checks.same("pooling by hand = the model's logits", ours, theirs, atol=1e-6)

# %% [markdown]
# **Reading this output.** SmolLM2's body is a `LlamaModel`: 30 blocks, then a final RMSNorm,
# so each of the 3 × 14 positions gets a 576-wide hidden state; `score` is a 2 × 576 matrix
# (GPT-2: 12 blocks, then `ln_f`, 768 wide). The last real positions, 6, 13 and 2, are the
# diagram's frames, and the logits by hand are the model's: a `…ForSequenceClassification`
# model is exactly "transformer, then `score` on the last real token". The library finds that
# token differently, as the right-most token that is not `config.pad_token_id`; with right
# padding the two rules agree, and it also works with left padding (the mask rule does not).
#
# ## 4. Padded or alone: right, left, and a wrong pad id
#
# Right padding changes nothing for the real tokens: the model is causal, so a token never sees
# what comes after it. Left padding puts the pads first: the last real token is the last
# column, but a plain forward pass numbers positions from the first column, so a padded row's
# tokens get other positions than alone. GPT-2 *adds* a learned position embedding to each
# token, so its logits change. SmolLM2 has rotary positions: each query and key is turned by
# an angle proportional to its position, attention compares the two, and only the *distance*
# between tokens counts, so a common shift changes nothing but rounding. (Position ids from
# the attention mask undo the shift for both; generation code does that.) Last, a config
# `pad_token_id` that is not the tokenizer's (here 0: GPT-2's `!`, SmolLM2's `<|endoftext|>`):
# the model no longer recognises the padding and reads the last column, a pad token for every
# short row.

# %%
with torch.no_grad():
    alone = torch.cat([model(**tokenizer(t, return_tensors="pt").to(model.device)).logits for t in texts])
    padded = model(**batch).logits
    tokenizer.padding_side = "left"
    left = tokenizer(texts, padding=True, return_tensors="pt").to(model.device)
    tokenizer.padding_side = "right"
    left_logits = model(**left).logits
    fixed = model(**left, position_ids=(left["attention_mask"].cumsum(-1) - 1).clamp(min=0)).logits
    model.config.pad_token_id = 0  # not the id the tokenizer pads with
    wrong = model(**batch).logits
    model.config.pad_token_id = tokenizer.pad_token_id
learned_positions = models.position_embeddings(model) is not None  # GPT-2's wpe; rotary: None
print("position encoding:", "learned (added to each token)" if learned_positions else "rotary (relative)")
schemes = {"right padded": padded, "left padded": left_logits, "left + position ids": fixed, "wrong pad id": wrong}
pd.DataFrame({"largest logit difference from alone": {k: f"{(v - alone).abs().max().item():.1e}"
                                                      for k, v in schemes.items()}}).T

# %%
# NBVAL_CHECK_OUTPUT
checks.same("right padding: the same logits as each text alone", padded, alone, atol=1e-5)
checks.holds("left padding changes the logits exactly when positions are learned",
             torch.allclose(left_logits, alone, atol=1e-4) != learned_positions)
checks.same("left padding + position ids from the mask: the same logits as alone", fixed, alone, atol=1e-4)
checks.holds("a wrong pad id changes the logits", not torch.allclose(wrong, alone, atol=1e-5))

# %% [markdown]
# **Reading this output.** SmolLM2's positions are rotary: the right-padded batch, the
# left-padded one and the left-padded one with position ids from the mask all differ from each
# text alone by 1.7e-06, float32 rounding (a padded batch is one larger matrix product). With
# `gpt2` (and at `tiny`) left padding moves the logits by far more (0.25 at `tiny`), and only the
# position ids bring them back. The wrong pad id changes them by far more too: short texts are
# then classified from padding, one way a real run ends up predicting one class for
# everything. We pad on the right, which is right for both models.
#
# ## 5. Dynamic padding: how much of the work is padding
#
# `classify.encode` tokenizes with truncation at `max_length` (the 95th percentile of the
# training lengths, `01`) and **no** padding. The engine's batches come from a `DataLoader`
# whose `batch_sampler` is `batching.ResumableBatchSampler` (a seeded random order, a new one
# each [epoch](../../notes/glossary.md#epoch), resumable mid-epoch) and whose `collate_fn` is
# `batching.DynamicPadding`: each batch is padded to its own longest row. `04` writes its
# training loop on exactly this loader. Below: one batch, then for one epoch the token
# positions a model computes under each scheme, and the share that is padding.

# %%
data = load_classification(DATASET, run, max_examples=MAX_EXAMPLES)
train_texts = data.model_texts()["train"]
lengths = classify.token_lengths(tokenizer, train_texts["text"])
max_length = classify.choose_max_length(lengths, 95, cap=models.context_length(model))
encoded = classify.encode(train_texts, tokenizer, max_length)
real = np.array([len(x) for x in encoded["input_ids"]])
print(f"{DATASET}: {len(real)} training texts, max_length {max_length}, {(lengths > max_length).mean():.1%} truncated")

sampler = batching.ResumableBatchSampler(len(encoded), BATCH_SIZE, seed=SEED)
collate = batching.DynamicPadding(pad_token_id=tokenizer.pad_token_id, max_length=max_length)
loader = torch.utils.data.DataLoader(encoded, batch_sampler=sampler, collate_fn=collate, generator=torch.Generator())
sampler.set_epoch(0)
one = next(iter(loader))
print("one batch:", {key: tuple(value.shape) for key, value in one.items()})

random_batches = sampler.global_batches(0)
grouped = batching.ResumableBatchSampler(len(encoded), BATCH_SIZE, seed=SEED, lengths=real.tolist())
schemes = {"pad to 512": 512 * len(real), "pad to max_length": max_length * len(real),
           "dynamic (random batches)": sum(len(b) * max(real[b]) for b in random_batches),
           "dynamic + length-grouped batches": sum(len(b) * max(real[b]) for b in grouped.global_batches(0))}
padding = pd.DataFrame({"positions computed": schemes,
                        "share that is padding": {k: round(1 - real.sum() / v, 3) for k, v in schemes.items()},
                        "x real tokens": {k: round(v / real.sum(), 2) for k, v in schemes.items()}})
path = results.write_table(padding, "sprint11", f"padding_{DATASET}", run,
                           title=f"Sprint 11: padded positions per epoch, {DATASET}, batch {BATCH_SIZE}")
print("wrote", paths.shown(path))
padding

# %%
# NBVAL_CHECK_OUTPUT
checks.same("the batch is padded to its longest row", one["input_ids"].shape[1], int(max(real[random_batches[0]])))
checks.holds("its padding is the tokenizer's pad id",
             set(one["input_ids"][one["attention_mask"] == 0].tolist()) <= {tokenizer.pad_token_id})
checks.same("the raw text is dropped", sorted(one), ["attention_mask", "input_ids", "labels"])
order = ["pad to 512", "pad to max_length", "dynamic (random batches)"]
checks.holds("positions computed: pad to 512 > pad to max_length > dynamic padding",
             all(schemes[a] > schemes[b] for a, b in zip(order, order[1:], strict=False)))

# %% [markdown]
# **Reading this output.** All 66,477 SST-2 training phrases, cut at 32 SmolLM2 tokens (4.4 %
# lose their end); the first batch is 32 rows padded to 32 tokens. "x real tokens" is how many
# positions are computed per real token (745,869 real tokens in an epoch). Padding every
# phrase to 512 computes 45.6 times the real work (97.8 % padding); padding to `max_length`,
# 2.85 times. Dynamic padding with random batches barely improves on that here (2.78 times, 64 %
# padding): half of SST-2's phrases are 8 tokens or fewer, but a random batch of 32 almost
# always holds one near 32 tokens, and the whole batch is padded to it. Grouping rows of
# similar length into the same batch is what pays: 1.03 times the real work, 2.6 % padding.
# It is a `TrainConfig(length_grouped=True)` switch, not the default: batches are then no
# longer a uniform random draw, and where length carries the label it backfires (spam is
# longer than ham: grouped batches came out nearly one class each, and a run at the small
# profile ended predicting "ham" for every message). (At `tiny` the sample's templates are
# similar in length, and grouping gains nothing.)
#
# ## What you learned
#
# - A causal LM (GPT-2, SmolLM2) classifies from the last real token: set the pad token on the
#   tokenizer and the config, and pad on the right (left padding moves GPT-2's learned
#   positions; rotary positions do not care).
# - Pooling by hand is four lines, and gives the model's logits.
# - Padding each batch to its own longest row computes fewer positions than padding to 512;
#   on short texts with a long tail (SST-2), grouping similar lengths is what removes the padding.
#
# Next: `03_baseline`, the score a word count gets on the same splits.

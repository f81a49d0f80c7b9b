# %% [markdown]
# # Sprint 10 · 02 — The language-model head and the next token
#
# **You will learn**
# - how the last [hidden state](../../notes/glossary.md#hidden-state) becomes
#   one [logit](../../notes/glossary.md#logits) per vocabulary entry (the LM
#   head, by hand) and the [softmax](../../notes/glossary.md#softmax) a
#   distribution over the next token;
# - to read that distribution: the most likely tokens and its
#   [entropy](../../notes/glossary.md#entropy) (how unsure the model is);
# - [greedy decoding](../../notes/glossary.md#greedy-decoding) as a five-line
#   loop (forward, argmax, append) that gives exactly the tokens of
#   `model.generate(do_sample=False)`.
#
# This is the middle of the map drawn in `01_load_and_inspect`: logits →
# softmax → the next-token distribution → one choice (the argmax).

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = ""  # "" = gpt2 (full) or a random tiny GPT-2 (tiny); or a hub name / local folder
SEED = 0
PROMPT = "The capital of France is"
TOP_K = 10  # rows of the next-token table
MAX_NEW_TOKENS = 20  # tokens of the greedy loop

# %%
import torch

from gpt2ft.generate import decoding, figures
from gpt2ft.session import loading, results, settings

run = settings.configure(globals(), tiny=dict(MAX_NEW_TOKENS=10))
tokenizer, model = loading.load(run)

# %% [markdown]
# ## From hidden states to logits
#
# The transformer turns each of the prompt's tokens into a hidden vector of
# size `n_embd`; the LM head (a linear map, tied to the token embedding)
# multiplies it by the embedding matrix to get `vocab_size` logits.

# %%
# NBVAL_CHECK_OUTPUT
encoded = tokenizer(PROMPT, return_tensors="pt").to(model.device)
with torch.no_grad():
    out = model(**encoded, output_hidden_states=True)
print("prompt tokens:", encoded["input_ids"].shape[1])
print("last hidden state:", tuple(out.hidden_states[-1].shape), "= (batch, tokens, n_embd)")
print("logits:", tuple(out.logits.shape), "= (batch, tokens, vocab_size)")

# %% [markdown]
# **Reading this output.** Five prompt tokens, one hidden vector each (64
# numbers at tiny, 768 with `gpt2`), and one row of 50,257 logits per
# position. Every position predicts the token after it; for generation only
# the last row matters.
#
# ### The LM head by hand
#
# `out.hidden_states[-1]` is the output of the final layer norm. The LM head
# has no bias and its weight *is* the token-embedding matrix `wte` (50,257 ×
# `n_embd`), so the logits are one matrix product: `h @ wte.T`.

# %%
h_last = out.hidden_states[-1][0, -1]  # the last position's hidden state, (n_embd,)
wte = model.transformer.wte.weight  # (vocab_size, n_embd)
logits_by_hand = h_last @ wte.T  # (vocab_size,)
logits = out.logits[0, -1].float()

# %%
# NBVAL_CHECK_OUTPUT
print("logits by hand equal the model's (within 1e-4):",
      torch.allclose(logits_by_hand.float(), logits, rtol=1e-4, atol=1e-4))
print("same most likely token:", int(logits_by_hand.argmax()) == int(logits.argmax()))

# %% [markdown]
# **Reading this output.** The model's LM head is exactly this matrix product
# (the tolerance only allows for the order in which a CPU or GPU adds up the
# `n_embd` products of each logit: 64 at tiny, 768 with `gpt2`).
#
# ## The distribution of the next token
#
# The softmax exponentiates each logit and divides by the sum. Subtracting
# the largest logit first changes nothing mathematically (it cancels in the
# division) but keeps `exp` from overflowing, which is what `torch.softmax`
# does too.

# %%
exps = torch.exp(logits - logits.max())
probs_by_hand = exps / exps.sum()
table = decoding.next_token_table(model, tokenizer, PROMPT, k=TOP_K)

# %%
# NBVAL_CHECK_OUTPUT
probs = logits.softmax(-1)
print("softmax by hand equals torch.softmax (max difference below 1e-6):",
      float((probs_by_hand - probs).abs().max()) < 1e-6)
print(f"the top {TOP_K} ids by hand equal decoding.next_token_table's:",
      probs_by_hand.topk(TOP_K).indices.tolist() == table["id"].tolist())
table_probs = torch.tensor(table["probability"], device=probs_by_hand.device)
print("and their probabilities (below 1e-6):",
      float((probs_by_hand[table["id"].tolist()] - table_probs).abs().max()) < 1e-6)

# %% [markdown]
# **Reading this output.** Our two lines and the library agree, token for
# token. `decoding.next_token_table` is the helper the next notebooks use
# for the table below.
#
# The [entropy](../../notes/glossary.md#entropy), −Σ *p* log *p*, says how
# spread out the distribution is: 0 when one token has all the probability,
# log 50,257 = 10.82 nats when every token is equally likely.

# %%
entropy = float(-(probs * probs.log()).sum())
uniform = float(torch.log(torch.tensor(float(len(probs)))))
print(f"probabilities sum to {probs.sum():.4f}; entropy {entropy:.2f} nats "
      f"(uniform over the vocabulary: {uniform:.2f})")
table

# %% [markdown]
# **Reading this output.** At tiny the weights are random: the logits are all
# small numbers near zero, no token gets more than a few hundred-thousandths of
# the probability, and the entropy is within a hair of the uniform 10.82: the
# model has no idea, and the "top" tokens are arbitrary. With the real `gpt2`
# (not run in this workplace) expect a peaked distribution: a few plausible
# continuations (words like " the", " a", " Paris") get probabilities of
# percents rather than hundred-thousandths, and the entropy falls far below
# the uniform 10.82.

# %%
fig = figures.next_token_bars(table, PROMPT)
figure_path = results.save_figure(fig, "sprint10", "next_token", run)

# %% [markdown]
# **Reading this output.** The same table as bars. At tiny the ten bars are
# almost equally long, all within a factor of two of 1/50,257 ≈ 0.00002 (the
# axis is in units of 1e-5, the factor printed at its right end): what
# "untrained" looks like. With `gpt2` the first few bars dominate.
#
# ## Greedy decoding by hand
#
# Greedy decoding takes the most likely token, appends it and asks again. The
# whole algorithm is a loop: run the model on the sequence so far, take the
# argmax of the last position's logits, append it; stop after
# `MAX_NEW_TOKENS` tokens or at `<|endoftext|>`. (`logits_to_keep=1` asks the
# model to apply the LM head to the last position only, the one we use.)

# %%
@torch.no_grad()
def greedy_by_hand(model, ids: torch.Tensor, max_new_tokens: int, eos_id: int) -> list[int]:
    """New token ids, chosen one at a time by argmax (no cache: the whole sequence each step)."""
    new = []
    for _ in range(max_new_tokens):
        next_logits = model(ids, logits_to_keep=1).logits[0, -1]  # forward: the last position's logits
        token = int(next_logits.argmax())  # argmax: the most likely token
        new.append(token)
        ids = torch.cat([ids, torch.tensor([[token]], device=ids.device)], dim=1)  # append
        if token == eos_id:
            break
    return new


ours = greedy_by_hand(model, encoded["input_ids"], MAX_NEW_TOKENS, tokenizer.eos_token_id)
theirs = decoding.generate(model, tokenizer, PROMPT, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
print(repr(PROMPT + tokenizer.decode(ours)))

# %%
# NBVAL_CHECK_OUTPUT
print(f"greedy by hand, {len(ours)} tokens, same tokens as model.generate(do_sample=False):",
      ours == theirs)
print("its first token is the argmax of the table above:", ours[0] == int(table["id"][0]))

# %% [markdown]
# **Reading this output.** Our loop and `generate` pick the same tokens, one
# for one. At tiny the text is noise that locks into repeating itself at once
# (the last lines of this notebook count its distinct tokens): greedy decoding
# is deterministic, and a random model's argmax hardly changes when one more
# token is appended, so the same choice comes back again and again.
# With `gpt2` the text reads well for a sentence and then, typically, also
# starts repeating itself: the known weakness of greedy decoding that
# `03_decoding_strategies` measures.
#
# ### What our loop wastes
#
# Our loop feeds the model the whole sequence at every step, so step *n*
# recomputes the keys and values of all earlier tokens (what attention
# compares each new token with). `generate` keeps them in a
# [KV cache](../../notes/glossary.md#kv-cache) and feeds one new token per step:

# %%
prompt_len = encoded["input_ids"].shape[1]
fed_by_hand = sum(prompt_len + i for i in range(len(ours)))
fed_with_cache = prompt_len + len(ours) - 1
print(f"token positions run through the model: our loop {fed_by_hand:,}, "
      f"generate with its KV cache {fed_with_cache:,}")

# %% [markdown]
# **Reading this output.** Our loop runs the prompt and every token so far at
# each step; `generate` runs the prompt once, then one position per new token.
# The cost of our loop grows with the square of the length; with the cache it
# grows linearly. For a few dozen tokens it does not
# matter; for 1,000 it does. `03_decoding_strategies` lists what else `generate` adds.
#
# ## What you learned
#
# - The LM head is one matrix product with the (tied) token embedding; the
#   softmax of the last row of logits is the distribution of the next token,
#   and both are two lines of PyTorch that match the library.
# - Entropy measures how unsure that distribution is: at tiny it is nearly
#   uniform, which is why every strategy in the next notebook produces noise.
# - Greedy decoding is forward → argmax → append, repeated; `generate` gives
#   the same tokens, faster, thanks to its KV cache. This run's numbers:

# %%
print(f"entropy of the next token after {PROMPT!r}: {entropy:.2f} nats (uniform: {uniform:.2f}); "
      f"top token {table['token'][0]} with p = {table['probability'][0]:.5f}")
print(f"greedy: {len(ours)} tokens by hand, identical to generate: {ours == theirs}; "
      f"distinct tokens among them: {len(set(ours))}")

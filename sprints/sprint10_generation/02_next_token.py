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
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # "" = gpt2 (full), SmolLM2-135M-Instruct (small), a random tiny GPT-2 (tiny); or a hub name / folder
SEED = 0
PROMPT = "The capital of France is"
TOP_K = 10  # rows of the next-token table
MAX_NEW_TOKENS = 20  # tokens of the greedy loop

# %%
import torch

from gpt2ft.core import checks
from gpt2ft.generate import decoding, figures
from gpt2ft.session import loading, results, settings

run = settings.configure(globals(), tiny=dict(MAX_NEW_TOKENS=10))
tokenizer, model = loading.load(run)

# %% [markdown]
# ## From hidden states to logits
#
# The transformer turns each of the prompt's tokens into a hidden vector of
# the model's width (`hidden_size`: GPT-2 calls it `n_embd`); the LM head (a
# linear map, tied to the token embedding) multiplies it by the embedding
# matrix to get `vocab_size` logits.

# %%
encoded = tokenizer(PROMPT, return_tensors="pt").to(model.device)
with torch.no_grad():
    out = model(**encoded, output_hidden_states=True)
n_tokens, width, vocab = encoded["input_ids"].shape[1], model.config.hidden_size, model.config.vocab_size
print("prompt tokens:", n_tokens)
print("last hidden state:", tuple(out.hidden_states[-1].shape), "= (batch, tokens, hidden size)")
print("logits:", tuple(out.logits.shape), "= (batch, tokens, vocab_size)")

# %% [markdown]
# **Checks that fail loudly.** Every claim this sprint makes about an output
# ("the same shape", "our logits equal the model's") is checked in code, by
# `checks.same(what, ours, theirs)` or `checks.holds(claim, condition)` from
# `gpt2ft.core.checks`. A check must *raise* when it fails, not print
# `False`: in Jupyter a printed `False` is one more line of output, the
# notebook runs on, and every cell below builds on a claim that no longer
# holds (and a reader skimming a page of `True`s does not see the one
# `False`). A raised `Mismatch` stops the run at the broken claim, with both
# values and where they differ. When the check holds it prints one line,
# `✔` and the claim, with no numbers in it, so the line reads the same at
# every profile.

# %%
# NBVAL_CHECK_OUTPUT
checks.same("one hidden vector of the model's width per prompt token",
            tuple(out.hidden_states[-1].shape), (1, n_tokens, width))
checks.same("one logit per vocabulary entry at every position", tuple(out.logits.shape), (1, n_tokens, vocab))

# %% [markdown]
# **Reading this output.** Five prompt tokens (SmolLM2's tokenizer and
# GPT-2's both cut this prompt into five), one hidden vector each (576 numbers
# with SmolLM2, 768 with `gpt2`, 64 at tiny), and one row of logits per
# position: 49,152 with SmolLM2's vocabulary, 50,257 with GPT-2's. Every
# position predicts the token after it; for generation only the last row
# matters.
#
# ### The LM head by hand
#
# `out.hidden_states[-1]` is the model's final hidden state: the output of
# the norm after the last block (GPT-2's final layer norm `ln_f`, SmolLM2's
# RMSNorm `norm`). The LM head has no bias, and its weight *is* the
# token-embedding matrix (*vocab_size* × *hidden size*): `transformers` hands
# it out as `model.get_output_embeddings().weight` whatever the model calls it
# (`lm_head`, tied to GPT-2's `transformer.wte` or SmolLM2's
# `model.embed_tokens`). So the logits are one matrix product: `h @ W.T`.

# %%
h_last = out.hidden_states[-1][0, -1]  # the last position's final hidden state, (hidden size,)
head = model.get_output_embeddings().weight  # (vocab_size, hidden size), tied: the token embedding
logits_by_hand = h_last @ head.T  # (vocab_size,)
logits = out.logits[0, -1].float()

# %%
# NBVAL_CHECK_OUTPUT
checks.holds("the head's weight is the token embedding (tied)",
             head.data_ptr() == model.get_input_embeddings().weight.data_ptr())
checks.same("logits by hand equal the model's", logits_by_hand.float(), logits, rtol=1e-4, atol=1e-4)
checks.same("the same most likely token", int(logits_by_hand.argmax()), int(logits.argmax()))

# %% [markdown]
# **Reading this output.** The head's weight is the token embedding itself
# (one tensor, not a copy), and the model's LM head is exactly this matrix
# product (the tolerance only allows for the order in which a CPU or GPU adds
# up the products of each logit: 576 with SmolLM2, 768 with `gpt2`).
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
checks.same("softmax by hand equals torch.softmax", probs_by_hand, probs, rtol=1e-4, atol=1e-12)
checks.same(f"the top {TOP_K} ids by hand are decoding.next_token_table's",
            probs_by_hand.topk(TOP_K).indices.tolist(), table["id"].tolist())
checks.same("and so are their probabilities", probs_by_hand[table["id"].tolist()],
            torch.tensor(table["probability"].to_numpy()), rtol=1e-4, atol=1e-12)

# %% [markdown]
# **Reading this output.** Our two lines and the library agree, token for
# token. The tolerance is relative, 1e-4: PyTorch's CPU softmax computes
# `exp` with a fast approximation, good to about 1e-5 of each probability
# (measured on this prompt: our two lines are the more exact, within 3e-8 of
# a float64 softmax), so "equal" means equal to that precision, not bit for
# bit. `decoding.next_token_table` is the helper the next notebooks use for
# the table below.
#
# The [entropy](../../notes/glossary.md#entropy), −Σ *p* log *p*, says how
# spread out the distribution is: 0 when one token has all the probability,
# log *V* when all *V* tokens are equally likely (10.80 nats for SmolLM2's
# 49,152 tokens, 10.82 for GPT-2's 50,257).

# %%
entropy = float(-(probs * logits.log_softmax(-1)).sum())  # log_softmax: a probability of 0 adds 0, not nan
uniform = float(torch.log(torch.tensor(float(len(probs)))))
print(f"probabilities sum to {probs.sum():.4f}; entropy {entropy:.2f} nats "
      f"(uniform over the vocabulary: {uniform:.2f})")
table

# %% [markdown]
# **Reading this output.** A trained model knows the answer: " Paris" gets
# 77 % of the probability, " the" (as in "the city of …") 6.5 %, and then a
# long tail of plausible starts: " London" 1.2 % (a wrong capital, but a
# capital), " Le", " New", " La", " Mon" (first pieces of multi-token names)
# under 1 % each. The entropy is 1.48 nats, against 10.80 if every token were
# equally likely: the model is about as unsure as a choice among
# e^1.48 ≈ 4.4 equally likely tokens. The logits themselves span a few units
# (17.4 for " Paris", 14.9 for " the"): a gap of 2.5 in logits is a factor
# e^2.5 ≈ 12 in probability. **With `gpt2`** (`PROFILE=full`, not run here)
# expect the same shape, a few plausible continuations holding most of the
# probability and an entropy far below 10.82; how much of it goes to
# " Paris" we could not measure. For scale, GPT-2 small predicts the last word
# of a LAMBADA passage correctly 45.99 % of the time (Radford et al. 2019,
# Table 3; the sprint card lists the figures and how they were checked).

# %%
fig = figures.next_token_bars(table, PROMPT)
figure_path = results.save_figure(fig, "sprint10", "next_token", run)

# %% [markdown]
# **Reading this output.** The same table as bars: one bar, " Paris", dwarfs
# the other nine; the second, " the", is a twelfth of it. That is what a
# trained model's next-token distribution looks like at a step with one clear
# answer (the tiny profile's random model draws ten bars of almost equal
# length near 1/50,257 instead). With `gpt2` the first few bars should
# dominate the same way.
#
# ## Greedy decoding by hand
#
# Greedy decoding takes the most likely token, appends it and asks again. The
# whole algorithm is a loop: run the model on the sequence so far, take the
# argmax of the last position's logits, append it; stop after
# `MAX_NEW_TOKENS` tokens or at the model's end token (`<|endoftext|>` for
# GPT-2, `<|im_end|>` for SmolLM2). (`logits_to_keep=1` asks the model to
# apply the LM head to the last position only, the one we use.)

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
checks.same("greedy by hand gives the same tokens as model.generate(do_sample=False)", ours, theirs)
checks.same("its first token is the argmax of the table above", ours[0], int(table["id"][0]))

# %% [markdown]
# **Reading this output.** Our loop and `generate` pick the same tokens, one
# for one. The text answers ("Paris."), then goes on with what an
# instruction-tuned model has seen after many answers: a blank line and
# "The answer is:", followed by a made-up date. Greedy decoding never stops
# to ask whether the text should end; it takes the likeliest token each time,
# and after "The answer is: 2018-" digits are likely (13 distinct tokens among
# the 20: the digits and dashes repeat). With `gpt2` the text typically reads
# well for a sentence and then starts repeating itself: the known weakness of
# greedy decoding that `03_decoding_strategies` measures (Holtzman et al.
# 2020 found greedy continuations of GPT-2 Large repeating 73.66 % of the time
# in their measure; see the sprint card).
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
# **Reading this output.** For 20 new tokens our loop ran 290 positions
# through the model, `generate` 24: it runs the prompt once, then one position
# per new token. The cost of our loop grows with the square of the length;
# with the cache it grows linearly. For a few dozen tokens it hardly matters;
# for 1,000 it does. `03_decoding_strategies` lists what else `generate` adds.
#
# ## What you learned
#
# - The LM head is one matrix product with the (tied) token embedding; the
#   softmax of the last row of logits is the distribution of the next token,
#   and both are two lines of PyTorch that match the library.
# - Entropy measures how unsure that distribution is: a trained model is sure
#   where the answer is clear (1.48 nats after "The capital of France is",
#   against 10.80 for a uniform guess); a random model (tiny) is near uniform
#   everywhere, which is why every strategy produces noise there.
# - Greedy decoding is forward → argmax → append, repeated; `generate` gives
#   the same tokens, faster, thanks to its KV cache. This run's numbers:

# %%
print(f"entropy of the next token after {PROMPT!r}: {entropy:.2f} nats (uniform: {uniform:.2f}); "
      f"top token {table['token'][0]} with p = {table['probability'][0]:.5f}")
print(f"greedy: {len(ours)} tokens by hand, the same as generate's (checked above); "
      f"distinct tokens among them: {len(set(ours))}")

# %% [markdown]
# # Sprint 10 · 02 — The language-model head and the next token
#
# GPT-2 reads a prompt and, at every position, outputs one score (*logit*) per
# vocabulary entry for the token that comes next. A softmax turns the last
# position's logits into a probability distribution; every decoding strategy in
# the next notebook is a way of picking from it.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = os.environ.get("MODEL", "")
SEED = int(os.environ.get("SEED", "0"))
PROMPT = "The capital of France is"
TOP_K = 10

# %%
import torch

from gpt2ft import generation, loading, plots, results, settings

run = settings.resolve(PROFILE, MODEL or None, seed=SEED)
print(run.describe())
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
# ## The distribution of the next token
#
# Only the last position matters for what comes next. With the real `gpt2`,
# " Paris" leads; with the tiny random model the distribution is almost
# flat (no token above a fraction of a percent): that is what "untrained" looks like.

# %%
table = generation.next_token_table(model, tokenizer, PROMPT, k=TOP_K)
probs = out.logits[0, -1].float().softmax(-1)
print(f"probabilities sum to {probs.sum():.4f}; entropy {-(probs * probs.log()).sum():.2f} nats "
      f"(uniform over the vocabulary: {torch.log(torch.tensor(float(len(probs)))):.2f})")
table

# %%
fig = plots.next_token_bars(table, PROMPT)
results.save_figure(fig, "sprint10", "next_token", run)

# %% [markdown]
# ## Greedy decoding is the argmax, one step at a time
#
# Picking the most likely token, appending it and repeating is *greedy*
# decoding; `model.generate` does the same.

# %%
# NBVAL_CHECK_OUTPUT
first = generation.generate(model, tokenizer, PROMPT, max_new_tokens=1, do_sample=False)
print("argmax id equals generate's first greedy token:", first[0] == int(table["id"][0]))

# %% [markdown]
# # Sprint 10 · 03 — Decoding strategies, side by side
#
# The model gives a distribution over the next token; a *decoding strategy*
# decides which token to take. We run seven of them on the same prompts with the
# same seed and measure what each one changes:
#
# - **distinct-n**: unique n-grams / all n-grams (variety of wording);
# - **repetition**: share of a text's 3-grams seen earlier in it (loops);
# - **length**: new tokens before the end-of-text token or the limit.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = os.environ.get("MODEL", "")
SEED = int(os.environ.get("SEED", "0"))
PROMPTS = [
    "The meaning of life is",
    "In a shocking finding, scientists discovered",
    "Once upon a time, in a small village,",
]
MAX_NEW_TOKENS = 0  # 0 = the profile's default (tiny: 30, full: 60)

# %%
import pandas as pd
from IPython.display import display

from gpt2ft import generation, loading, plots, results, settings

run = settings.resolve(PROFILE, MODEL or None, seed=SEED)
print(run.describe())
max_new_tokens = MAX_NEW_TOKENS or (30 if run.is_tiny else 60)
tokenizer, model = loading.load(run)

# %% [markdown]
# ## The strategies and what each one sets
#
# - **greedy**: always the most likely token: safe, often dull, prone to loops.
# - **beam search**: keeps the 4 most likely *sequences*; even more prone to
#   generic, repetitive text in open-ended generation.
# - **temperature**: divides the logits by T before the softmax; T < 1 sharpens,
#   T > 1 flattens the distribution.
# - **top-k**: samples among the k most likely tokens only.
# - **top-p (nucleus)**: samples among the smallest set of tokens whose
#   probabilities add up to p: the set grows when the model is unsure.
# - **repetition penalty**: divides the logits of tokens already present.

# %%
# NBVAL_CHECK_OUTPUT
generation.strategy_table()

# %% [markdown]
# ## Same seed, same text
#
# Sampling is random, but seeded: running a strategy twice with the same seed
# gives the same tokens, so the comparison below is reproducible.

# %%
# NBVAL_CHECK_OUTPUT
kwargs = generation.STRATEGIES["top-p 0.9"]
a = generation.generate(model, tokenizer, PROMPTS[0], seed=SEED, max_new_tokens=10, **kwargs)
b = generation.generate(model, tokenizer, PROMPTS[0], seed=SEED, max_new_tokens=10, **kwargs)
print("same seed, same tokens:", a == b)

# %% [markdown]
# ## Every strategy on every prompt

# %%
samples, summary = generation.compare_strategies(
    model, tokenizer, PROMPTS, seed=SEED, max_new_tokens=max_new_tokens)
with pd.option_context("display.max_colwidth", 120):
    display(samples.pivot(index="strategy", columns="prompt", values="text")
            .loc[list(generation.STRATEGIES)])

# %% [markdown]
# ## What each strategy changes, measured
#
# What to look for with the real `gpt2`: greedy and beam search have the
# highest repetition and lowest distinct-n (they loop); temperature 1.3 has the
# most variety but drifts off topic; top-p 0.9 and top-k 40 sit in between;
# the repetition penalty cuts loops without sampling. With the tiny random
# model every strategy produces noise, so only the *mechanics* can be read here.

# %%
summary

# %%
fig = plots.strategy_comparison(summary)
results.save_figure(fig, "sprint10", "decoding_strategies", run)
table_path = results.write_table(
    summary, "sprint10", "decoding_strategies", run,
    title="Sprint 10: decoding strategies compared",
    command=f"make sprint10 PROFILE={run.profile}")
results.write_table(samples, "sprint10", "decoding_samples", run,
                    title="Sprint 10: generated samples", index=False)
print("wrote", table_path)

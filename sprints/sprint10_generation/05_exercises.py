# %% [markdown]
# # Sprint 10 · 05 — Exercises, with worked solutions
#
# **You will learn**
# - to measure what a decoding setting does (a temperature sweep, a
#   repetition-penalty sweep) instead of eyeballing one sample;
# - to write a new filter on the logits (min-p) and prove it equal to the
#   library's, the way `03_decoding_strategies` did for the other four;
# - to score whole continuations by hand, and to see why top-p adapts to the
#   shape of the distribution where top-k cannot.
#
# Try each exercise before reading its solution. The solutions run at the
# tiny profile in seconds (so CI checks them); with `PROFILE=full` they run on
# the real `gpt2`, where the effects described in the "what to expect" notes
# appear. In the book the solution code is folded: click to show it.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = ""  # "" = gpt2 (full) or a random tiny GPT-2 (tiny); or a hub name / local folder
SEED = 0
PROMPT = "The meaning of life is"
PROMPTS = [
    "The meaning of life is",
    "In a shocking finding, scientists discovered",
    "Once upon a time, in a small village,",
]
N_SAMPLES = 8  # texts per temperature in exercise 1
MAX_NEW_TOKENS = 40  # per generated text

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch
from transformers import MinPLogitsWarper

from gpt2ft.generate import decoding, figures
from gpt2ft.session import loading, results, settings

run = settings.configure(globals(), tiny=dict(N_SAMPLES=3, MAX_NEW_TOKENS=12))
tokenizer, model = loading.load(run)
prompt_ids = tokenizer(PROMPT, return_tensors="pt")["input_ids"][0].to(model.device)
with torch.no_grad():
    logits = model(prompt_ids[None]).logits[0, -1].float()  # the next token after PROMPT

# %% [markdown]
# ## Exercise 1 — A temperature sweep
#
# For T in 0.5, 0.8, 1.0, 1.3 and 1.6, sample `N_SAMPLES` continuations of
# `PROMPT` (`top_k=0` so that only the temperature acts; one `generate` call
# per temperature with `num_return_sequences=N_SAMPLES` samples them as a
# batch). Measure distinct-2 over the samples, the mean repetition
# rate (`decoding.distinct_n`, `decoding.repetition_rate`) and the
# [entropy](../../notes/glossary.md#entropy) of the first step's distribution
# at that temperature. Plot them against T.

# %% tags=["hide-input"]
def entropy(scores):
    probs = scores.softmax(-1)
    return float(-(probs * probs.log()).sum())


@torch.no_grad()
def samples_at(temperature):
    """N_SAMPLES continuations of PROMPT in one batched generate call (num_return_sequences)."""
    torch.manual_seed(SEED)
    out = model.generate(prompt_ids[None], attention_mask=torch.ones_like(prompt_ids[None]),
                         do_sample=True, temperature=temperature, top_k=0, num_return_sequences=N_SAMPLES,
                         max_new_tokens=MAX_NEW_TOKENS, pad_token_id=tokenizer.eos_token_id)
    return [row[len(prompt_ids):].tolist() for row in out]


rows = []
for temperature in (0.5, 0.8, 1.0, 1.3, 1.6):
    texts = samples_at(temperature)
    rows.append({"temperature": temperature,
                 "distinct-2": decoding.distinct_n(texts, 2),
                 "repetition": sum(map(decoding.repetition_rate, texts)) / len(texts),
                 "first-step entropy (nats)": entropy(logits / temperature)})
sweep = pd.DataFrame(rows).set_index("temperature").round(3)

fig, axes = plt.subplots(1, 3, figsize=(11, 3))
for ax, column in zip(axes, sweep.columns, strict=True):
    ax.plot(sweep.index, sweep[column], marker="o")
    ax.set(title=column, xlabel="temperature")
fig.tight_layout()
figure_path = results.save_figure(fig, "sprint10", "exercise_temperature_sweep", run)
sweep

# %% [markdown]
# **Reading this output.** One row per temperature, drawn as the three panels.
# At tiny nothing moves: distinct-2 is already 1 and
# repetition 0 at every temperature, and the entropy changes by a few
# hundredths of a nat (the right panel's axis spans only that, which makes
# the curve look steep), because the random model's distribution is almost
# uniform and dividing nearly equal logits by T leaves them nearly equal.
# **What to expect with `gpt2`:** the entropy grows markedly with T,
# distinct-2 rises and repetition falls; at high temperatures the text stops
# making sense even though its "variety" keeps improving, which is why variety
# alone is not quality.
#
# ## Exercise 2 — Write min-p sampling and check it against transformers
#
# *Min-p* keeps the tokens whose probability is at least `min_p` times the
# probability of the most likely token, so the cut scales with the model's
# confidence. Write `keep_min_p(logits, min_p)` (returning −∞ for the dropped
# tokens), check it against `transformers.MinPLogitsWarper` on the model's
# logits and on a peaked distribution, and count the tokens it keeps with
# `min_p = 0.1`, next to top-p 0.9.

# %% tags=["hide-input"]
def keep_min_p(logits, min_p):
    """Keep the tokens with probability >= min_p * (the largest probability); the rest -inf."""
    probs = logits.softmax(-1)
    return logits.masked_fill(probs < min_p * probs.max(), float("-inf"))


def keep_top_p(logits, p):  # as in 03_decoding_strategies
    sorted_logits, order = logits.sort(descending=True)
    sorted_probs = sorted_logits.softmax(-1)
    mass_above = sorted_probs.cumsum(-1) - sorted_probs
    drop = torch.zeros_like(mass_above, dtype=torch.bool).scatter(0, order, mass_above >= p)
    return logits.masked_fill(drop, float("-inf"))


def zipf_logits(s):
    """Logits over the vocabulary with p(rank r) proportional to 1 / r**s, in a shuffled order."""
    ranks = torch.randperm(len(logits), generator=torch.Generator().manual_seed(SEED)) + 1
    return -s * ranks.float().log()


distributions = {"this model after PROMPT": logits.cpu(), "uniform (flat)": torch.zeros(len(logits)),
                 "Zipf s = 1.2 (peaked)": zipf_logits(1.2), "Zipf s = 2 (very peaked)": zipf_logits(2.0)}

# %%
# NBVAL_CHECK_OUTPUT
for name, scores in distributions.items():
    ours, theirs = keep_min_p(scores, 0.1), MinPLogitsWarper(0.1)(None, scores[None])[0]
    print(f"{name:26} min-p by hand equals MinPLogitsWarper:",
          torch.equal(torch.isfinite(ours), torch.isfinite(theirs)) and torch.equal(ours, theirs))

# %% tags=["hide-input"]
pd.DataFrame.from_dict(orient="index", data={
    name: {"min-p 0.1 keeps": int(torch.isfinite(keep_min_p(scores, 0.1)).sum()),
           "top-p 0.9 keeps": int(torch.isfinite(keep_top_p(scores, 0.9)).sum())}
    for name, scores in distributions.items()})

# %% [markdown]
# **Reading this output.** Our three lines equal the library's processor on
# all four distributions (the two Zipf rows are made-up distributions where
# the token of rank *r* has probability proportional to 1 / *r*^*s*: a larger
# *s* is more peaked). On a flat distribution min-p keeps almost every
# token (all of them are within a factor 10 of the top one), like top-p; on
# the peaked ones it keeps few, since it cuts relative to the top token while
# top-p must collect 90 % of the mass from a long tail (Zipf s = 1.2: top-p
# keeps thousands of tokens, min-p a handful). That is what min-p is for:
# when the model is sure, the tail is cut hard. At tiny "this model" behaves
# like the flat row; with `gpt2` it falls between the flat and the peaked rows
# and moves from one step to the next.
#
# ## Exercise 3 — Beam search against greedy, scored by hand
#
# Generate `MAX_NEW_TOKENS` tokens from `PROMPT` with greedy decoding and with
# [beam search](../../notes/glossary.md#beam-search) (4 beams). Score each
# continuation by hand: one forward pass over prompt + continuation, the
# log-softmax at each position, the log-probability of the token that
# follows, summed. Check that `generate`'s `sequences_scores` for the beam is
# your sum divided by the continuation's length (the default
# `length_penalty=1.0`). Which continuation is more likely? Which repeats
# more?

# %% tags=["hide-input"]
@torch.no_grad()
def continuation_logprob(continuation):
    """Sum of log p(token | everything before it) over the continuation's tokens."""
    ids = torch.cat([prompt_ids, torch.tensor(continuation, device=prompt_ids.device)])
    logprobs = model(ids[None]).logits[0, :-1].float().log_softmax(-1)
    start = len(prompt_ids) - 1  # the position that predicts the first new token
    return float(logprobs[torch.arange(start, len(ids) - 1), ids[start + 1:]].sum())


greedy = decoding.generate(model, tokenizer, PROMPT, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
torch.manual_seed(SEED)
beam_out = model.generate(prompt_ids[None], attention_mask=torch.ones_like(prompt_ids[None]),
                          num_beams=4, do_sample=False, max_new_tokens=MAX_NEW_TOKENS,
                          pad_token_id=tokenizer.eos_token_id, output_scores=True,
                          return_dict_in_generate=True)
beam = beam_out.sequences[0, len(prompt_ids):].tolist()
scored = pd.DataFrame({
    "log-probability (sum)": [continuation_logprob(greedy), continuation_logprob(beam)],
    "tokens": [len(greedy), len(beam)],
    "repetition": [decoding.repetition_rate(greedy), decoding.repetition_rate(beam)],
    "text": [tokenizer.decode(greedy), tokenizer.decode(beam)],
}, index=["greedy", "beam search (4)"])
scored.round(3)

# %%
# NBVAL_CHECK_OUTPUT
by_hand = scored.loc["beam search (4)", "log-probability (sum)"] / len(beam)
print("beam's sequences_scores equals our log-probability / length (within 1e-4):",
      abs(float(beam_out.sequences_scores[0]) - by_hand) < 1e-4)
print("beam search found a continuation at least as likely as greedy's:",
      scored.loc["beam search (4)", "log-probability (sum)"] >= scored.loc["greedy", "log-probability (sum)"])

# %% [markdown]
# **Reading this output.** The table: each continuation's summed
# log-probability (closer to 0 is more likely), its length and its repetition
# rate. Beam search's own score is exactly the average log-probability we
# computed by hand. Keeping four candidate sequences
# instead of one found a continuation at least as likely as greedy's (beam
# search does not guarantee it, but it usually does), and at tiny both
# continuations are loops of a few noise tokens, so both repetition rates
# are high. **What to expect with `gpt2`:** the same ranking in likelihood,
# and beam search often *more* repetitive than greedy: the likeliest text is
# not the most human-like (external: Holtzman et al., 2020, Table 1, with
# GPT-2 Large, report 28.94 % repetition for beam search with 16 beams
# against 0.28 % for human text; see the sprint card).
#
# ## Exercise 4 — How much does the repetition penalty cut repetition?
#
# Run greedy decoding on the three `PROMPTS` with repetition penalties 1.0,
# 1.3 and 2.0. Report the mean repetition rate and distinct-1 per
# penalty.

# %% tags=["hide-input"]
rows = []
for penalty in (1.0, 1.3, 2.0):
    texts = [decoding.generate(model, tokenizer, prompt, max_new_tokens=MAX_NEW_TOKENS,
                                 do_sample=False, repetition_penalty=penalty) for prompt in PROMPTS]
    rows.append({"repetition penalty": penalty,
                 "repetition": sum(map(decoding.repetition_rate, texts)) / len(texts),
                 "distinct-1": decoding.distinct_n(texts, 1)})
penalties = pd.DataFrame(rows).set_index("repetition penalty").round(3)
penalties

# %% [markdown]
# **Reading this output.** Here the tiny model shows a real effect: greedy
# decoding of a random model loops, and the stronger the penalty, the lower
# the repetition and the higher distinct-1, until at 2.0 a token that has
# appeared once never wins again in the same text (distinct-1 pools the three
# texts, so a token that two of them share keeps it just under 1). **What to expect with `gpt2`:** the same
# direction, but a strong penalty also punishes the words a text *should*
# repeat ("the", names, punctuation), so past about 1.3 the text gets
# stilted; the penalty fixes the loops of greedy decoding, not its dullness.
#
# ## Exercise 5 — Top-k against top-p on flat and peaked distributions
#
# For the distributions of exercise 2, report how many tokens top-k 40 keeps,
# how much of the probability those 40 tokens hold, and how many tokens top-p
# 0.9 keeps. Then draw `figures.temperature_cuts` for the peaked one and compare
# with the model's plot in `03_decoding_strategies`.

# %% tags=["hide-input"]
def top_k_mass(scores, k=40):
    return float(scores.softmax(-1).topk(k).values.sum())


pd.DataFrame.from_dict(orient="index", data={
    name: {"top-k 40 keeps": 40, "probability those 40 hold": round(top_k_mass(scores), 3),
           "top-p 0.9 keeps": int(torch.isfinite(keep_top_p(scores, 0.9)).sum())}
    for name, scores in distributions.items()})

# %% [markdown]
# **Reading this output.** Top-k keeps 40 tokens whatever the shape: on a
# flat distribution they hold a sliver of the probability (40 / 50,257), so
# top-k throws away almost everything the model considers possible; on a very
# peaked one the same 40 tokens hold nearly all of it and top-p keeps fewer
# still. Top-p adapts: few tokens when the model is sure, many when it is not
# (Holtzman et al., 2020 introduced it for this reason). The plot below shows
# it on the Zipf s = 1.2 distribution, a stand-in for a trained model (word
# frequencies follow Zipf's law roughly).

# %% tags=["hide-input"]
fig = figures.temperature_cuts(distributions["Zipf s = 1.2 (peaked)"], (0.7, 1.0, 1.3), top_k=40, top_p=0.9,
                             title="A peaked stand-in (Zipf s = 1.2), not a model")
figure_path = results.save_figure(fig, "sprint10", "exercise_peaked_cuts", run)

# %% [markdown]
# **Reading this output.** The same two panels as in `03_decoding_strategies`
# (probability by rank; cumulative probability, with each temperature's top-p
# count in the legend). Unlike the tiny model's flat lines in
# `03_decoding_strategies`, the curves fall steeply and the temperature
# matters: at T = 0.7 the top-p cut moves to a few dozen tokens or fewer, at
# T = 1.3 out to many thousands, while the top-k cut (dashed) stays at 40.
# This is the behaviour to expect from `gpt2` at a confident step.
#
# ## What you learned
#
# - A decoding setting is judged by measures over several samples (distinct-n,
#   repetition, entropy), and at tiny only the penalty sweep shows an effect,
#   because the random model's distribution is flat.
# - Min-p is three lines on the logits, equal to `MinPLogitsWarper`; beam
#   search's score is the average log-probability you can compute by hand.
# - Top-k cuts at a fixed count, top-p and min-p at a share of the
#   probability, which adapts to the model's confidence. This run's numbers:

# %%
print(f"temperature sweep: first-step entropy {sweep.iloc[0, 2]:.2f} nats at T = {sweep.index[0]:g}, "
      f"{sweep.iloc[-1, 2]:.2f} at T = {sweep.index[-1]:g}")
print(f"beam vs greedy log-probability: {scored.iloc[1, 0]:.1f} vs {scored.iloc[0, 0]:.1f}")
print(f"greedy repetition at penalty 1.0: {penalties.iloc[0, 0]:.2f}; at 2.0: {penalties.iloc[-1, 0]:.2f}")

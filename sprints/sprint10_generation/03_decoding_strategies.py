# %% [markdown]
# # Sprint 10 · 03 — Decoding strategies, by hand and side by side
#
# **You will learn**
# - that [temperature](../../notes/glossary.md#temperature),
#   [top-k](../../notes/glossary.md#top-k-sampling),
#   [top-p](../../notes/glossary.md#top-p-nucleus-sampling) and the
#   [repetition penalty](../../notes/glossary.md#repetition-penalty) are each a
#   few lines on the logits: written by hand, they give exactly the
#   distributions `model.generate` samples from at every step, and a
#   [sampling](../../notes/glossary.md#sampling) loop by hand gives its tokens;
# - why the same seed gives the same draws (a draw is the argmax of the
#   probabilities divided by random noise), and when temperature changes
#   which token is drawn;
# - what seven strategies do to real text, measured: variety (distinct-n),
#   loops (repetition), length and how likely the model finds its own text
#   (log-probability), and what `generate` adds to our loop.
#
# The outputs are SmolLM2-135M-Instruct's (the small profile: a real
# pre-trained model of GPT-2's size on a CPU; `01_load_and_inspect` says why
# not GPT-2's); each reading says what `gpt2` itself should show.
#
# The model gives a distribution over the next token (`02_next_token`); a
# [decoding strategy](../../notes/glossary.md#decoding-strategy) decides which
# token to take. The measures used at the end:
#
# - **distinct-n**: unique n-grams / all n-grams (variety of wording);
# - **repetition**: share of a text's 3-grams seen earlier in it (loops);
# - **length**: new tokens before the end-of-text token or the limit;
# - **log-prob / token**: the mean log-probability of the generated tokens
#   under the model's own distribution (no temperature, filter or penalty):
#   0 would be a text the model is certain of; the more negative, the less
#   likely the model finds what it was made to write.

# %% tags=["parameters"]
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # "" = gpt2 (full), SmolLM2-135M-Instruct (small), a random tiny GPT-2 (tiny); or a hub name / folder
SEED = 0
PROMPTS = [
    "The meaning of life is",
    "In a shocking finding, scientists discovered",
    "Once upon a time, in a small village,",
]
MAX_NEW_TOKENS = 60  # per generated text
TEMPERATURE = 0.7  # the settings of the by-hand section
TOP_K = 40
TOP_P = 0.9
REPETITION_PENALTY = 1.3

# %%
import pandas as pd
import torch
from IPython.display import display
from transformers import (
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from gpt2ft.core import checks
from gpt2ft.generate import decoding, figures
from gpt2ft.session import loading, results, settings

run = settings.configure(globals(), tiny=dict(MAX_NEW_TOKENS=12))
tokenizer, model = loading.load(run)

# %% [markdown]
# ## The strategies and what each one sets
#
# - **greedy**: always the most likely token: safe, often dull, prone to loops.
# - **[beam search](../../notes/glossary.md#beam-search)**: keeps the 4 most
#   likely *sequences*; even more prone to generic, repetitive text in
#   open-ended generation.
# - **temperature**: divides the logits by T before the softmax; T < 1 sharpens,
#   T > 1 flattens the distribution.
# - **top-k**: samples among the k most likely tokens only.
# - **top-p (nucleus)**: samples among the smallest set of tokens whose
#   probabilities add up to p: the set grows when the model is unsure.
# - **repetition penalty**: divides the positive logits (multiplies the
#   negative ones) of tokens already in the text.
#
# Each strategy is a set of `model.generate` arguments:

# %%
# NBVAL_CHECK_OUTPUT
decoding.strategy_table()

# %% [markdown]
# **Reading this output.** One row per strategy, `-` where `generate`'s
# default applies. The pure-temperature and top-p rows set `top_k=0` on
# purpose: `generate` applies **top-k 50** whenever it samples and neither you
# nor the model's `generation_config.json` set `top_k` (a built-in default of
# `transformers`; neither `gpt2`'s file nor SmolLM2's sets one), so a bare
# `do_sample=True` is not pure sampling.
#
# ## Each strategy is a function on the logits
#
# `generate` turns the raw logits of the next token into *scores* in a fixed
# order: first the repetition penalty (a "logits processor"), then, when it
# samples, temperature → top-k → top-p (the "warpers"). A token a filter drops
# gets the score −∞, so probability 0 after the softmax. Here are the four, by
# hand:

# %%
def penalize_repeats(logits, ids, penalty):
    """Logits of the tokens already in ``ids``: positive ones divided by ``penalty``, negative multiplied."""
    seen = torch.unique(ids)
    picked = logits[seen]
    logits = logits.clone()
    logits[seen] = torch.where(picked > 0, picked / penalty, picked * penalty)
    return logits


def apply_temperature(logits, temperature):
    return logits / temperature


def keep_top_k(logits, k):
    """Keep the k largest logits (and any tied with the k-th); the rest become -inf."""
    kth = logits.topk(k).values[-1]
    return logits.masked_fill(logits < kth, float("-inf"))


def keep_top_p(logits, p):
    """Keep the smallest set of most likely tokens whose probabilities add up to at least p:
    drop the least likely tokens for as long as together they hold at most 1 - p."""
    sorted_logits, order = logits.sort()  # least likely first
    mass_up_to = sorted_logits.softmax(-1).cumsum(-1)  # probability of this token and all less likely ones
    drop = mass_up_to <= 1 - p
    drop[-1] = False  # the most likely token always stays
    return logits.masked_fill(drop.scatter(0, order, drop), float("-inf"))


def process(logits, ids, *, do_sample=False, temperature=1.0, top_k=50, top_p=1.0,
            repetition_penalty=1.0):
    """The scores generate samples from, for one step (same order; transformers' built-in defaults,
    which apply when the model's generation_config.json sets none, as neither gpt2's nor SmolLM2's does)."""
    if repetition_penalty != 1.0:
        logits = penalize_repeats(logits, ids, repetition_penalty)
    if do_sample:
        if temperature != 1.0:
            logits = apply_temperature(logits, temperature)
        if top_k:
            logits = keep_top_k(logits, top_k)
        if top_p < 1.0:
            logits = keep_top_p(logits, top_p)
    return logits


# %% [markdown]
# ### One step: what each filter keeps
#
# The next-token logits after the first prompt, through each function alone
# and through all four (with the settings of the parameters cell):

# %%
prompt_ids = tokenizer(PROMPTS[0], return_tensors="pt")["input_ids"][0].to(model.device)
with torch.no_grad():
    logits = model(prompt_ids[None]).logits[0, -1].float()


def describe(scores):
    probs = scores.softmax(-1)
    kept = probs > 0
    return {"tokens kept": int(kept.sum()), "top probability": float(probs.max()),
            "entropy (nats)": float(-(probs[kept] * probs[kept].log()).sum())}


all_four = dict(do_sample=True, temperature=TEMPERATURE, top_k=TOP_K, top_p=TOP_P,
                repetition_penalty=REPETITION_PENALTY)
one_step = pd.DataFrame.from_dict(orient="index", data={
    "raw logits": describe(logits),
    f"repetition penalty {REPETITION_PENALTY:g}": describe(penalize_repeats(logits, prompt_ids, REPETITION_PENALTY)),
    f"temperature {TEMPERATURE:g}": describe(apply_temperature(logits, TEMPERATURE)),
    f"top-k {TOP_K}": describe(keep_top_k(logits, TOP_K)),
    f"top-p {TOP_P:g}": describe(keep_top_p(logits, TOP_P)),
    "all four, in generate's order": describe(process(logits, prompt_ids, **all_four)),
})
one_step.round({"top probability": 6, "entropy (nats)": 2})

# %% [markdown]
# **Reading this output.** One row per filter: how many of the 49,152 tokens
# keep a probability above 0, the largest probability, and the entropy of
# what is left. After "The meaning of life is" the model is unsure (entropy
# 4.96 nats, the likeliest token under 10 %): many continuations make sense.
# Temperature 0.7 keeps every token but doubles the top probability (0.10 →
# 0.21) and cuts the entropy to 3.13 nats; top-k keeps exactly 40 tokens,
# top-p 0.9 the 341 it takes to reach 90 % of the probability; the penalty
# changes only the prompt's own five tokens (none of which is a likely next
# token, so the row barely moves). All four together leave 15 tokens, the
# likeliest with a quarter of the probability. **With `gpt2`** the raw
# distribution should be peaked in the same way (a few hundred tokens holding
# 90 %, fewer at a step with one clear answer); at tiny, where the random model
# is nearly uniform, top-p keeps nine tokens in ten and temperature does
# next to nothing.
#
# ### Our functions are the library's
#
# `transformers` implements each filter as a class (`TemperatureLogitsWarper`,
# `TopKLogitsWarper`, `TopPLogitsWarper`, `RepetitionPenaltyLogitsProcessor`)
# that takes `(input_ids, scores)`. Same logits in, same scores out? (A
# dropped token's −∞ only equals another −∞, so "the same scores" means the
# same tokens kept and the same values on them.)

# %%
# NBVAL_CHECK_OUTPUT
batch_ids, batch_logits = prompt_ids[None], logits[None]
pairs = {
    "repetition penalty": (penalize_repeats(logits, prompt_ids, REPETITION_PENALTY),
                           RepetitionPenaltyLogitsProcessor(REPETITION_PENALTY)(batch_ids, batch_logits.clone())),
    "temperature": (apply_temperature(logits, TEMPERATURE),
                    TemperatureLogitsWarper(TEMPERATURE)(batch_ids, batch_logits.clone())),
    "top-k": (keep_top_k(logits, TOP_K), TopKLogitsWarper(TOP_K)(batch_ids, batch_logits.clone())),
    "top-p": (keep_top_p(logits, TOP_P), TopPLogitsWarper(TOP_P)(batch_ids, batch_logits.clone())),
}
for name, (ours, theirs) in pairs.items():
    checks.same(f"{name} by hand equals transformers' processor", ours, theirs[0], atol=1e-6)

# %% [markdown]
# ### The distribution at three temperatures, with the cuts
#
# The same logits at T = 0.7, 1 and 1.3, tokens sorted from most to least
# likely. The grey dashed line is the top-k cut (rank 40); each dotted line is
# the top-p cut at that temperature (the nucleus: how many tokens it takes to
# reach 90 % of the probability).

# %%
fig = figures.temperature_cuts(logits, (TEMPERATURE, 1.0, 1.3), top_k=TOP_K, top_p=TOP_P,
                             title=f"Next token after {PROMPTS[0]!r} ({run.profile} profile)")
figure_path = results.save_figure(fig, "sprint10", "temperature_cuts", run)

# %% [markdown]
# **Reading this output.** Left: the probability of each token against its
# rank, both axes logarithmic; right: the probability held by the most likely
# tokens up to that rank (the rank axis logarithmic again), with the legend
# giving each temperature's top-p count.
#
# On the left, each curve is a short shelf, a long slope and a cliff. The
# three likeliest tokens are close (0.21, 0.18 and 0.15 at T = 0.7), the
# fourth is four times less likely; from there the curve falls along a
# nearly straight slope (at T = 0.7 about 2.3 powers of ten of probability
# per power of ten of rank, to 3e-6 at rank 1,000 and 2.5e-9 at rank 10,000);
# and the last few thousand tokens of the vocabulary drop almost vertically,
# to 4e-21 for the least likely one: tokens the model all but rules out.
#
# On the right, the cumulative curves do not rise in a line: each is a hockey
# stick, a steep climb, a bend, then a long flat blade just under 1. At
# T = 0.7 the climb is over early: 0.77 of the probability by rank 10, 0.90
# at rank 33, 0.99 at rank 303, and the remaining 48,849 tokens add the last
# percent. At T = 1 the bend comes later (0.90 at rank 341, 0.99 at 3,152);
# at T = 1.3 the climb stretches over more than three powers of ten of rank
# (0.40 at rank 40, 0.90 at 1,928, 0.99 only at 11,711) before the blade. The
# top-p cut is where a curve crosses the p = 0.9 line, so it moves with the
# bend: 33 tokens at T = 0.7, 341 at T = 1, 1,928 at T = 1.3. The top-k cut
# stays at rank 40 whatever the shape: there it holds 91 % of the
# probability at T = 0.7 but only 40 % at T = 1.3. So at T = 1.3 top-p 0.9
# admits almost 2,000 candidates, most of them from the long tail of the
# climb: the text samples below show what that does. `gpt2` should give
# curves of the same kind. A random model's, at tiny, are flat lines near
# 1/50,257 on the left, and on the right curves that stay near 0 until the
# last powers of ten of rank (every token holds the same sliver): neither
# temperature nor top-p has anything to work with.
#
# ## Inside `generate`: the same scores at every step
#
# `generate(..., output_logits=True, output_scores=True, return_dict_in_generate=True)`
# returns, for every step, the raw logits (`out.logits`) and the processed
# scores it sampled from (`out.scores`). Our `process`, applied to the raw
# logits and the tokens so far, must give the scores, step after step:

# %%
def generate_with_scores(prompt, seed, **kwargs):
    torch.manual_seed(seed)
    encoded = tokenizer(prompt, return_tensors="pt").to(model.device)
    out = model.generate(**encoded, max_new_tokens=MAX_NEW_TOKENS, pad_token_id=tokenizer.eos_token_id,
                         output_logits=True, output_scores=True, return_dict_in_generate=True, **kwargs)
    return encoded["input_ids"].shape[1], out


checked = {name: decoding.DECODING_STRATEGIES[name]  # one per mechanism; greedy: see 02, beams: see 05
           for name in ("temperature 0.7", "top-k 40", "top-p 0.9", "greedy + repetition penalty 1.3")}
checked["all four at once"] = all_four
ours_by_step, theirs_by_step, generated = {}, {}, {}
for name, kwargs in checked.items():
    start, out = generate_with_scores(PROMPTS[0], SEED, **kwargs)
    ours_by_step[name] = torch.stack([process(raw[0], out.sequences[0, :start + t], **kwargs)
                                      for t, raw in enumerate(out.logits)])  # (steps, vocab_size)
    theirs_by_step[name] = torch.cat(out.scores)  # one row per step
    generated[name] = out.sequences[0, start:].tolist()  # generate's tokens, for the next check
print("steps checked:", {name: len(steps) for name, steps in theirs_by_step.items()})

# %%
# NBVAL_CHECK_OUTPUT
for name in checked:
    checks.same(f"{name}: our scores equal generate's at every step",
                ours_by_step[name], theirs_by_step[name], atol=1e-6)

# %% [markdown]
# **Reading this output.** One strategy per mechanism (plain greedy was
# checked in `02_next_token`; beam search keeps several sequences, and
# exercise 3 of `05_exercises` checks its scores), every step: our four
# functions, in `generate`'s order and with its defaults, produce exactly the
# distribution `generate` sampled from. "All four at once" also checks the
# order (penalty, temperature, top-k, top-p). The step counts above differ
# because a text ends when the model writes its end token (`<|im_end|>`):
# the temperature 0.7 text after 42 tokens, the penalised greedy one after 53.
#
# One detail had to be exact for this to hold on real text. Top-p can be
# written two ways that are equal on paper: keep tokens from the most likely
# down until their probabilities reach *p*, or drop tokens from the least
# likely up while together they hold at most 1 − *p*. `keep_top_p` does the
# second, as `transformers` does: summing 49,152 float32 probabilities from
# one end or from the other differs in the last bits, and at one step of the
# top-p text (the 45th) one token sat right on the boundary: the first way
# kept 34 tokens, `generate` 35. Same decision, same order of additions.
#
# ## Sampling by hand
#
# Sampling draws the next token from the softmax of the scores. `generate`
# draws with `torch.multinomial(probs, 1)`; so does our loop, after the same
# seed. With the same distribution and the same random numbers, the draws
# must be the same as the tokens `generate` returned in the check above (it
# was seeded with `SEED` right before, as `decoding.generate` does):

# %%
@torch.no_grad()
def sample_by_hand(model, ids, max_new_tokens, eos_id, **kwargs):
    """New token ids: forward, process, draw (or argmax when not sampling), append."""
    new = []
    for _ in range(max_new_tokens):
        scores = process(model(ids[None], logits_to_keep=1).logits[0, -1].float(), ids, **kwargs)
        if kwargs.get("do_sample"):
            token = int(torch.multinomial(scores.softmax(-1), num_samples=1))
        else:
            token = int(scores.argmax())
        new.append(token)
        ids = torch.cat([ids, torch.tensor([token], device=ids.device)])
        if token == eos_id:
            break
    return new


by_hand = {}
for name, kwargs in checked.items():
    torch.manual_seed(SEED)  # the seed generate got right before it ran
    by_hand[name] = sample_by_hand(model, prompt_ids, MAX_NEW_TOKENS, tokenizer.eos_token_id, **kwargs)
print("matching tokens:", {name: f"{sum(a == b for a, b in zip(ours, generated[name], strict=False))}"
                                 f"/{len(generated[name])}" for name, ours in by_hand.items()})

# %%
# NBVAL_CHECK_OUTPUT
for name, ours in by_hand.items():
    checks.same(f"{name}: by hand = generate, token for token", ours, generated[name])

# %% [markdown]
# **Reading this output.** Our loop reproduces `generate` token for token, for
# each mechanism and for all four at once (the counts printed above the check:
# matching tokens out of the tokens `generate` returned). It has to be this
# exact: one different draw
# would change the context and every token after it. The match relies on two
# things: the same processed distribution (checked above) and the same random
# numbers (`torch.manual_seed` right before, and nothing else drawing in
# between). On a GPU our loop (which recomputes the whole sequence) and
# `generate` (which uses a [KV cache](../../notes/glossary.md#kv-cache)) can
# differ in the last bits of a logit; a draw then changes only if two tokens
# are tied to within that difference, which is rare. If it happens, the check
# above stops the notebook with both token lists, and the count shows where
# the texts part.
#
# ### What a draw is, and when temperature matters
#
# PyTorch draws one token from probabilities *p* by giving every token an
# independent random number *E* (exponentially distributed) and taking the
# argmax of *p* / *E* (the "exponential race", a form of the Gumbel-max trick).
# Same seed, same *E*:

# %%
# NBVAL_CHECK_OUTPUT
p = logits.softmax(-1)
torch.manual_seed(SEED)
drawn = int(torch.multinomial(p, num_samples=1))
torch.manual_seed(SEED)
noise = torch.empty_like(p).exponential_(1)
checks.same("torch.multinomial(p, 1) equals argmax(p / E) with the same seed", drawn, int((p / noise).argmax()))

# %% [markdown]
# Taking logs, the draw is argmax(logit / T − log *E*): the logits divided by
# the temperature, plus noise whose spread is fixed (standard deviation
# π/√6 ≈ 1.28). Whether T matters depends on how far apart the logits are
# compared with that noise. Over many draws with shared noise, how often do
# T = 0.7 and T = 1.3 pick the same token after the first prompt?

# %%
torch.manual_seed(SEED)
noise = torch.empty(200, len(logits), device=logits.device).exponential_(1)  # 200 draws' worth
cool, hot = (logits / TEMPERATURE).softmax(-1), (logits / 1.3).softmax(-1)
agree = int(((cool / noise).argmax(-1) == (hot / noise).argmax(-1)).sum())
print(f"spread of the logits: std {logits.std():.2f}; spread of the noise: std 1.28")
print(f"same token at T = {TEMPERATURE:g} and T = 1.3 with the same noise: {agree / 200:.0%} of 200 draws")

# %% [markdown]
# **Reading this output.** The model's logits spread over many units (a
# standard deviation of 3.64 across the vocabulary, against the noise's
# 1.28): a few tokens stand far above the rest, the noise decides between
# close contenders, and T reweights exactly those. With the same noise,
# T = 0.7 and T = 1.3 pick the same first token in only 42 % of the draws, and
# after the first different token the contexts differ and the texts go
# separate ways (the shared-token counts below). **With `gpt2`** the logits
# should spread the same way. A random model is the opposite case: at tiny
# the logits spread far less than the noise (a standard deviation near 0.16),
# the noise alone picks the token, and the two temperatures agree in nine
# draws out of ten.
#
# ## What `generate` adds to our loop
#
# | `generate` adds | when you need it |
# |---|---|
# | a KV cache: one new token per step, not the whole text (`02_next_token` counts both) | beyond a few tokens |
# | batches of prompts with padding and attention masks | many prompts at once (Sprints 12, 13) |
# | beam search (`num_beams`), its length penalty, early stopping | one right answer (translation, summaries) |
# | stopping criteria: `eos_token_id`, `stop_strings`, `max_time` | answers that end on a marker (Sprint 13) |
# | more processors: `min_p`, `typical_p`, `no_repeat_ngram_size`, … | rules beyond our four (exercise 2: min-p) |
# | defaults from `generation_config.json` and built in (top-k 50 when sampling) | always: know them, or set all |
# | streaming, assisted (speculative) decoding, static caches | interactive use and speed |
#
# ## Same seed, same text
#
# Sampling is random, but seeded: running a strategy twice with the same seed
# gives the same tokens, so the comparison below is reproducible.

# %%
# NBVAL_CHECK_OUTPUT
kwargs = decoding.DECODING_STRATEGIES["top-p 0.9"]
a = decoding.generate(model, tokenizer, PROMPTS[0], seed=SEED, max_new_tokens=5, **kwargs)
b = decoding.generate(model, tokenizer, PROMPTS[0], seed=SEED, max_new_tokens=5, **kwargs)
checks.same("same seed, same tokens", a, b)

# %% [markdown]
# ## Every strategy on every prompt
#
# Prompt *i* gets seed `SEED + i` under every strategy, so the strategies see
# the same random numbers (as above), while different prompts don't share them.

# %%
samples, summary = decoding.compare_strategies(
    model, tokenizer, PROMPTS, seed=SEED, max_new_tokens=MAX_NEW_TOKENS)
with pd.option_context("display.max_colwidth", None):
    for prompt in PROMPTS:
        display(samples[samples["prompt"] == prompt].set_index("strategy")[["text", "log-prob / token"]]
                .rename(columns={"text": f"continuation of {prompt!r}"}).round(2))

# %% [markdown]
# **Reading this output.** One table per prompt, one row per strategy: the
# continuation (the prompt is not repeated) and its mean log-probability per
# token under the model. Each row reads differently:
#
# - **greedy** is fluent and generic ("the human brain is capable of adapting
#   and evolving at an incredible pace … The human brain is capable of
#   reorganizing itself"): it comes back to its own phrases.
# - **beam search** finds likelier text still (log-probabilities −0.57 to
#   −0.72 per token, against greedy's −0.69 to −1.07) and repeats more: "to
#   create, to create, and to create again", then "the threads of love, loss,
#   redemption" a second time. The likeliest text is not the most human one.
# - **temperature 0.7** stays on topic and varies (a CRISPR method, a healer
#   named Aria); its first text ends at the end token after 42 tokens.
# - **temperature 1.3** falls apart within a few words ("Quantum Sekkusone 2
#   (QosSon2) qubits … redneck pearl party"): with every one of the 49,152
#   tokens allowed and the tail lifted, each step has a fair chance of an
#   unlikely token, and once one is in the context the next steps are lost
#   too. Its texts score −5.7 to −8.3 per token.
# - **top-k 40** and **top-p 0.9** cut that tail: their texts read like
#   plausible web text (a Titanic story, an underwater ecosystem), at −1.3 to
#   −2.0 per token. Both start "not simply a story, but a mystery …" after the
#   first prompt: the same noise picked the same tokens while their two
#   nuclei both held them.
# - **greedy + repetition penalty 1.3** starts like greedy, then swerves
#   where greedy would repeat itself ("but rather an inherent aspect …",
#   "from octopuses to dolphins") into lists and quotations: fewer repeats,
#   less likely text.
#
# **With `gpt2`** (not run here), Holtzman et al. (2020) describe the same
# picture for GPT-2 Large: greedy and beam search give generic text that falls
# into loops, pure sampling is incoherent, and nucleus (top-p) sampling reads
# closest to human text (the sprint card has the figures). A random model
# (tiny) writes noise in every row.
#
# How many tokens do the sampled texts share, position by position?

# %%
tokens = samples.set_index(["strategy", "prompt"])["tokens"]


def shared(a, b, prompt):
    x, y = tokens[(a, prompt)], tokens[(b, prompt)]
    return f"{sum(s == t for s, t in zip(x, y, strict=False))}/{min(len(x), len(y))}"


compared = [("temperature 0.7", "temperature 1.3"), ("temperature 0.7", "top-p 0.9"),
            ("temperature 0.7", "top-k 40")]
pd.DataFrame({f"{a} vs {b}": [shared(a, b, prompt) for prompt in PROMPTS] for a, b in compared},
             index=pd.Index(PROMPTS, name="prompt"))

# %% [markdown]
# **Reading this output.** The sampled texts share few positions: 0 to 5
# between temperature 0.7 and 1.3, up to 12 of 60 with top-p 0.9 or top-k 40,
# mostly the first few tokens. Once one token differs, the texts continue
# from different contexts, and a trained model reads its context, so they
# never line up again. (At tiny the opposite happens: a random model hardly
# reads its context and the shared noise decides, so these texts share most
# positions.) `gpt2` should behave like SmolLM2 here.
#
# ## What each strategy changes, measured

# %%
summary

# %% [markdown]
# **Reading this output.** One row per strategy, over its three texts:
# distinct-n pools the n-grams of the three texts, repetition, length and
# log-probability are the means per text (all counted in tokens). The
# strategies differ on every measure, and the measures pull against each
# other:
#
# - **Likelihood against variety.** Beam search writes the likeliest text
#   (−0.64 per token) and the least varied (distinct-2 0.84, repetition 0.08,
#   the highest); greedy follows (−0.83, 0.90, 0.03). Temperature 1.3 is the
#   mirror image: every bigram new (distinct-2 1.00, no repeated 3-gram) and
#   text the model itself finds absurd (−6.91 per token: e^6.3 ≈ 500 times less
#   likely per token than beam's).
# - **In between**, temperature 0.7 (−1.33), top-p 0.9 (−1.65) and top-k 40
#   (−1.89) keep the text likely enough to read well and varied enough not to
#   loop (repetition 0.03 or less, distinct-2 0.91 to 0.96).
# - **The penalty** cuts greedy's repetition to 0.006 and lifts distinct-1
#   from 0.61 to 0.80 without any randomness, at a price in likelihood
#   (−0.83 → −1.68): it forbids what the model would most like to say again.
# - **Length**: a few texts end early at the end token (`<|im_end|>`); most run
#   to the 60-token limit.
#
# Repetition stays low here because 60 tokens is short: loops grow with the
# length (`05_exercises`, exercise 4, runs greedy decoding for 120 tokens and
# measures 0.12). **With `gpt2`**, expect the same ordering for greedy and
# beam search (external: Holtzman et al., 2020, Table 1, GPT-2 Large on
# WebText continuations: repetition 73.66 % for greedy and 28.94 % for beam
# search of width 16, against 0.36 % for nucleus sampling with p = 0.95 and
# 0.28 % for human text, in their measure, not our 3-gram share; see the
# sprint card), less variety for temperature 0.7 than for 1.3 with top-p 0.9
# and top-k 40 in between, and some texts that stop early at `<|endoftext|>`.

# %%
fig = figures.strategy_comparison(summary)
figure_path = results.save_figure(fig, "sprint10", "decoding_strategies", run)
table_path = results.write_table(summary, "sprint10", "decoding_strategies", run,
                                 title="Sprint 10: decoding strategies compared")
results.write_table(samples.drop(columns="tokens"), "sprint10", "decoding_samples", run,
                    title="Sprint 10: generated samples", index=False)
print("wrote", table_path.name, "and decoding_samples.md under", table_path.parent.name)

# %% [markdown]
# **Reading this output.** The summary table as bars, one panel per measure:
# temperature 1.3 has the longest distinct-1 and distinct-2 bars, no
# repetition bar at all and by far the longest log-probability bar (the most
# varied, by far the least likely); beam search has the longest repetition bar
# and the shortest log-probability bar; in the length panel only temperature
# 0.7 and the penalised greedy fall short of 60, their texts that stopped at
# the end token. The table, the samples and this figure are
# written under `results/sprint10/<profile>/` (`small` here; the tiny files
# are headed as smoke runs).
#
# ## What you learned
#
# - Temperature divides the logits, top-k and top-p drop tokens (−∞), the
#   repetition penalty shrinks the logits of tokens already used; in
#   `generate`'s order and with its defaults (top-k 50 when sampling!), these
#   few lines reproduce its scores at every step, and a by-hand loop with
#   `torch.multinomial` reproduces its tokens.
# - A draw is argmax(*p* / *E*) with seeded noise *E*: the same seed gives the
#   same draws; where the logits spread wider than the noise (a trained
#   model), the temperature changes which token wins; on a flat distribution
#   (the tiny model) the noise alone decides.
# - On real text the strategies trade likelihood for variety: beam search and
#   greedy write the likeliest, most repetitive text; temperature 1.3 the most
#   varied and absurd; top-p, top-k and temperature 0.7 sit in between and
#   read best; the penalty cuts repeats without randomness, at a cost in
#   likelihood. This run's numbers:

# %%
print(f"by hand = generate, checked above: the scores of {sum(map(len, theirs_by_step.values()))} steps "
      f"and their tokens, over {len(checked)} strategies")
print(f"T = {TEMPERATURE:g} and T = 1.3 picked the same token in {agree / 200:.0%} of shared-noise draws "
      f"(logit std {logits.std():.2f})")
print(f"repetition: greedy {summary.loc['greedy', 'repetition']:.2f}, "
      f"beam search {summary.loc['beam search (4)', 'repetition']:.2f}, "
      f"greedy + penalty {summary.loc['greedy + repetition penalty 1.3', 'repetition']:.2f}, "
      f"top-p 0.9 {summary.loc['top-p 0.9', 'repetition']:.2f}")
print("log-prob / token: " + ", ".join(f"{name} {value:.2f}"
                                        for name, value in summary["log-prob / token"].items()))

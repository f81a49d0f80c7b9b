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
# Each exercise is a task, then an empty cell to work in (write your code
# there and run it), then the worked solution: its code, outputs and
# discussion, collapsed. Try first; then open the solution (in JupyterLab,
# click the collapsed cell's bar or the "…"; in the book, the toggle). The
# solutions run with the rest of the notebook, so the names they define (the
# model's `logits` after `PROMPT`, the `distributions` of exercise 2) are there
# for the next exercise whatever you wrote. The outputs shown are the
# small profile's (SmolLM2-135M-Instruct on a CPU, 120 new tokens per text
# instead of the full run's 40, because loops need length to show; see
# `01_load_and_inspect` for why not GPT-2); the solutions also run at the tiny
# profile in seconds (so CI checks them), and with `PROFILE=full` on the real
# `gpt2`, where the "with `gpt2`" notes say what to expect.

# %% tags=["parameters"]
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # "" = gpt2 (full), SmolLM2-135M-Instruct (small), a random tiny GPT-2 (tiny); or a hub name / folder
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
from IPython.display import display
from transformers import MinPLogitsWarper

from gpt2ft.core import checks
from gpt2ft.generate import decoding, figures
from gpt2ft.session import loading, results, settings

run = settings.configure(globals(), tiny=dict(N_SAMPLES=3, MAX_NEW_TOKENS=12), small=dict(MAX_NEW_TOKENS=120))
tokenizer, model = loading.load(run)
prompt_ids = tokenizer(PROMPT, return_tensors="pt")["input_ids"][0].to(model.device)
with torch.no_grad():
    logits = model(prompt_ids[None]).logits[0, -1].float()  # the next token after PROMPT

# %% [markdown]
# ## Exercise 1 — A temperature sweep: variety against likelihood
#
# For T in 0.2, 0.5, 0.8, 1.0, 1.3 and 1.6, sample `N_SAMPLES` continuations
# of `PROMPT` (`top_k=0` so that only the temperature acts; one `generate` call
# per temperature with `num_return_sequences=N_SAMPLES` samples them as a
# batch). Measure what the temperature buys: distinct-2 over the samples
# (`decoding.distinct_n`: how different the samples are from each other and
# within themselves), the mean repetition rate (`decoding.repetition_rate`) and
# the [entropy](../../notes/glossary.md#entropy) of the first step's
# distribution at that temperature; and what it costs: the mean
# log-probability per token of the samples under the model's own, untempered
# distribution (`decoding.mean_logprob`: how likely the model finds the text
# it was made to write). Plot the four against T and read one sample per T.

# %% tags=["try"]
# Your turn. For each T in (0.2, 0.5, 0.8, 1.0, 1.3, 1.6):
# - torch.manual_seed(SEED), then one model.generate(prompt_ids[None], do_sample=True, temperature=T,
#   top_k=0, num_return_sequences=N_SAMPLES, max_new_tokens=MAX_NEW_TOKENS,
#   pad_token_id=tokenizer.eos_token_id): N_SAMPLES rows, each the prompt and its continuation;
# - keep each row's new tokens, up to its first tokenizer.eos_token_id (a batch pads the early ones);
# - measure decoding.distinct_n(texts, 2), the mean decoding.repetition_rate(text), the entropy of
#   (logits / T).softmax(-1), the mean decoding.mean_logprob(model, tokenizer, PROMPT, text).
# One row per T in a pd.DataFrame; plot each column against T; print tokenizer.decode(texts[0]) per T.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
def entropy(scores):
    """-sum p log p, with log p from log_softmax: a probability that underflows to 0 adds 0, not nan."""
    return float(-(scores.softmax(-1) * scores.log_softmax(-1)).sum())


@torch.no_grad()
def samples_at(temperature):
    """N_SAMPLES continuations of PROMPT in one batched generate call (num_return_sequences)."""
    torch.manual_seed(SEED)
    out = model.generate(prompt_ids[None], attention_mask=torch.ones_like(prompt_ids[None]),
                         do_sample=True, temperature=temperature, top_k=0, num_return_sequences=N_SAMPLES,
                         max_new_tokens=MAX_NEW_TOKENS, pad_token_id=tokenizer.eos_token_id)
    return [until_end(row[len(prompt_ids):].tolist()) for row in out]


def until_end(tokens):
    """The tokens up to and including the first end token: a batch pads a text that ended early with
    more end tokens (pad = end here), which would count as repeats and be scored as text."""
    end = tokenizer.eos_token_id
    return tokens[:tokens.index(end) + 1] if end in tokens else tokens


rows, first_samples = [], {}
for temperature in (0.2, 0.5, 0.8, 1.0, 1.3, 1.6):
    texts = samples_at(temperature)
    rows.append({"temperature": temperature,
                 "distinct-2": decoding.distinct_n(texts, 2),
                 "repetition": sum(map(decoding.repetition_rate, texts)) / len(texts),
                 "first-step entropy (nats)": entropy(logits / temperature),
                 "log-prob / token": sum(decoding.mean_logprob(model, tokenizer, PROMPT, t)
                                         for t in texts) / len(texts)})
    first_samples[temperature] = tokenizer.decode(texts[0], skip_special_tokens=True)
sweep = pd.DataFrame(rows).set_index("temperature").round(3)

fig, axes = plt.subplots(1, 4, figsize=(14, 3))
for ax, column in zip(axes, sweep.columns, strict=True):
    ax.plot(sweep.index, sweep[column], marker="o")
    ax.set(title=column, xlabel="temperature")
fig.tight_layout()
figure_path = results.save_figure(fig, "sprint10", "exercise_temperature_sweep", run)
results.write_table(sweep, "sprint10", "exercise_temperature_sweep", run,
                    title="Sprint 10, exercise 1: a temperature sweep (variety against likelihood)")
sweep

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
with pd.option_context("display.max_colwidth", 200):
    display(pd.Series(first_samples, name=f"the first of the {N_SAMPLES} samples after {PROMPT!r} "
                                          "(its first 200 characters)")
            .rename_axis("temperature").to_frame())

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Reading this output.** One row per temperature, drawn as the four
# panels, then the beginning of one sample per temperature. The temperature
# buys variety: distinct-2 over the eight samples rises from 0.62 at T = 0.2
# (the samples share their phrases: four of the eight begin "a complex
# tapestry of experiences, choices, and choices", the other four "not just a
# …") to
# 0.84 at 0.8, 0.90 at 1 and 1.00 at 1.6, and the first step's entropy climbs
# from 1.04 to 7.82 nats. It pays in likelihood: the mean log-probability per
# token of the samples, under the model's own distribution, falls from −0.85
# at T = 0.2 to −1.94 at 0.8, −3.64 at 1 and −9.78 at 1.6. The samples show
# where the line is: at 0.8 the text still reads well, at 1 it loosens ("With
# that execution come honorable life"), from 1.3 it is nonsense in several
# scripts ("annoyinzu win¬b… Mineun dodabo"). So the most "varied" text, every
# bigram new at 1.6, is the worst: variety alone is not quality, and
# distinct-n must be read beside a likelihood. Repetition is highest at the
# low temperatures (0.055 and 0.076 at 0.2 and 0.5: near-greedy text comes
# back to its own phrases) and vanishes from T = 1. (At T = 1 the samples are
# draws from the model as it is, so their log-probability per token, −3.64,
# is the model's own uncertainty along its text.) **With `gpt2`** expect the
# same shape; Holtzman et al. (2020) found pure sampling from GPT-2 Large
# incoherent and greedy text generic and repetitive, and a low temperature
# moves sampling towards greedy. At tiny nothing
# moves: a random model's samples are all different and all equally unlikely.

# %% [markdown]
# ## Exercise 2 — Write min-p sampling and check it against transformers
#
# *Min-p* keeps the tokens whose probability is at least `min_p` times the
# probability of the most likely token, so the cut scales with the model's
# confidence. Write `keep_min_p(logits, min_p)` (returning −∞ for the dropped
# tokens), check it against `transformers.MinPLogitsWarper` on the model's
# logits and on a peaked distribution (with `checks.same`, so that a
# difference stops the notebook), and count the tokens it keeps with
# `min_p = 0.1`, next to top-p 0.9.

# %% tags=["try"]
# Your turn.
# - def keep_min_p(logits, min_p): the probabilities are logits.softmax(-1); a token below
#   min_p * (the largest probability) gets float("-inf") (logits.masked_fill).
# - For the model's `logits` after PROMPT and a made-up peaked distribution (for instance
#   p(rank r) proportional to 1 / r**2): checks.same("min-p by hand equals MinPLogitsWarper",
#   keep_min_p(scores, 0.1), MinPLogitsWarper(0.1)(None, scores[None])[0]).
# - Count the tokens kept (torch.isfinite(...).sum()) by min-p 0.1 and by top-p 0.9
#   (keep_top_p from 03_decoding_strategies).

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
def keep_min_p(logits, min_p):
    """Keep the tokens with probability >= min_p * (the largest probability); the rest -inf."""
    probs = logits.softmax(-1)
    return logits.masked_fill(probs < min_p * probs.max(), float("-inf"))


def keep_top_p(logits, p):  # as in 03_decoding_strategies
    sorted_logits, order = logits.sort()
    mass_up_to = sorted_logits.softmax(-1).cumsum(-1)
    drop = mass_up_to <= 1 - p
    drop[-1] = False
    return logits.masked_fill(drop.scatter(0, order, drop), float("-inf"))


def zipf_logits(s):
    """Logits over the vocabulary with p(rank r) proportional to 1 / r**s, in a shuffled order."""
    ranks = torch.randperm(len(logits), generator=torch.Generator().manual_seed(SEED)) + 1
    return -s * ranks.float().log()


distributions = {"this model after PROMPT": logits.cpu(), "uniform (flat)": torch.zeros(len(logits)),
                 "Zipf s = 1.2 (peaked)": zipf_logits(1.2), "Zipf s = 2 (very peaked)": zipf_logits(2.0)}

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# NBVAL_CHECK_OUTPUT
for name, scores in distributions.items():
    checks.same(f"{name}: min-p by hand equals MinPLogitsWarper",
                keep_min_p(scores, 0.1), MinPLogitsWarper(0.1)(None, scores[None])[0])

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
pd.DataFrame.from_dict(orient="index", data={
    name: {"min-p 0.1 keeps": int(torch.isfinite(keep_min_p(scores, 0.1)).sum()),
           "top-p 0.9 keeps": int(torch.isfinite(keep_top_p(scores, 0.9)).sum())}
    for name, scores in distributions.items()})

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Reading this output.** Our three lines equal the library's processor on
# all four distributions (the two Zipf rows are made-up distributions where
# the token of rank *r* has probability proportional to 1 / *r*^*s*: a larger
# *s* is more peaked). After "The meaning of life is" the model keeps 15
# tokens under min-p 0.1 (every token with at least a tenth of the top
# token's probability) where top-p 0.9 keeps 341: top-p must collect 90 % of
# the probability, and the last few percent lie spread over hundreds of
# unlikely tokens. The made-up rows show the two extremes: on a flat
# distribution both keep almost everything (min-p all 49,152, since every
# token is within a factor 10 of the top one); on Zipf s = 1.2 min-p keeps 6
# and top-p 2,148. That is what min-p is for: the tail is cut relative to the
# model's confidence. **With `gpt2`** the real row should likewise fall
# between the flat and the peaked ones and move from one step to the next (at
# tiny it looks like the flat row).

# %% [markdown]
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

# %% tags=["try"]
# Your turn.
# - greedy = decoding.generate(model, tokenizer, PROMPT, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
# - beam: model.generate(prompt_ids[None], num_beams=4, do_sample=False, max_new_tokens=MAX_NEW_TOKENS,
#   pad_token_id=tokenizer.eos_token_id, output_scores=True, return_dict_in_generate=True);
#   its tokens are .sequences[0, len(prompt_ids):], its score .sequences_scores[0].
# - Score a continuation: one forward pass over prompt + continuation, .log_softmax(-1) of the logits,
#   at each position the log-probability of the token that follows, summed over the continuation.
# - checks.same("beam's score is our log-probability / length", <its score>, <your sum> / len(beam),
#   atol=1e-4); compare the two sums and decoding.repetition_rate of each.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
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


def one_line(text):
    """The whole text on one line (a new line shown as ⏎), to read in a table cell."""
    return text.strip().replace("\n", " ⏎ ")


with pd.option_context("display.max_colwidth", None):
    display(scored.assign(text=scored["text"].map(one_line)).round(3))

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# NBVAL_CHECK_OUTPUT
checks.same("beam's sequences_scores is our log-probability / length", float(beam_out.sequences_scores[0]),
            scored.loc["beam search (4)", "log-probability (sum)"] / len(beam), atol=1e-4)

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Reading this output.** The table: each continuation's summed
# log-probability (closer to 0 is more likely), its length, its repetition
# rate and the text. Beam search's own score is exactly the average
# log-probability we computed by hand. Keeping four candidate sequences
# instead of one found a far likelier continuation: −75.0 against greedy's
# −105.9 over the same 120 tokens (−0.63 against −0.88 per token; beam search
# does not guarantee a likelier text, but it usually finds one). Likelier is
# not better: both texts come back to themselves (repetition 0.10 for greedy,
# 0.11 for beam). Greedy repeats "a choice made by someone who has chosen to
# live" word for word; beam search repeats "the threads of love, loss,
# redemption, and self-discovery", writes "to create, to create, and to
# create again" and talks about its own writing ("I've tried … I've also
# tried"). **With `gpt2`:** expect the same ranking in likelihood, and beam
# search often *more* repetitive than greedy: the likeliest text is not the
# most human-like (external: Holtzman et al., 2020, Table 1, with GPT-2
# Large, report 28.94 % repetition for beam search with 16 beams against
# 0.28 % for human text; see the sprint card).

# %% [markdown]
# ## Exercise 4 — How much does the repetition penalty cut repetition?
#
# Run greedy decoding on the three `PROMPTS` with repetition penalties 1.0,
# 1.3 and 2.0. Report the mean repetition rate, distinct-1 and the mean
# log-probability per token (under the unpenalised model) per penalty, and
# read the text of the first prompt at each.

# %% tags=["try"]
# Your turn. For each penalty in (1.0, 1.3, 2.0), the greedy continuation of each prompt in PROMPTS:
# decoding.generate(model, tokenizer, prompt, max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
# repetition_penalty=penalty). Per penalty: the mean decoding.repetition_rate, decoding.distinct_n(texts, 1)
# and the mean decoding.mean_logprob(model, tokenizer, prompt, text); then print each penalty's text.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
rows, texts_by_penalty = [], {}
for penalty in (1.0, 1.3, 2.0):
    texts = [decoding.generate(model, tokenizer, prompt, max_new_tokens=MAX_NEW_TOKENS,
                                 do_sample=False, repetition_penalty=penalty) for prompt in PROMPTS]
    texts_by_penalty[penalty] = texts
    rows.append({"repetition penalty": penalty,
                 "repetition": sum(map(decoding.repetition_rate, texts)) / len(texts),
                 "distinct-1": decoding.distinct_n(texts, 1),
                 "log-prob / token": sum(decoding.mean_logprob(model, tokenizer, prompt, t)
                                         for prompt, t in zip(PROMPTS, texts, strict=True)) / len(texts)})
penalties = pd.DataFrame(rows).set_index("repetition penalty").round(3)
penalties

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
loopiest = max(range(len(PROMPTS)), key=lambda i: decoding.repetition_rate(texts_by_penalty[1.0][i]))
with pd.option_context("display.max_colwidth", None):
    display(pd.Series({penalty: one_line(tokenizer.decode(texts[loopiest], skip_special_tokens=True))
                       for penalty, texts in texts_by_penalty.items()},
                      name=f"greedy's text after {PROMPTS[loopiest]!r}")
            .rename_axis("repetition penalty").to_frame())

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Reading this output.** Over 120 tokens greedy decoding loops: 12 % of
# its 3-grams are repeats and only 45 % of its tokens are distinct (distinct-1
# pools the three texts). The text above shows how: "the human brain is
# (also) capable of …" three times, and "just like a computer's internal
# memory. This process is known as" twice, word for word. A penalty of 1.3 cuts the
# repetition to 1.4 % and lifts distinct-1 to 0.77; 2.0 removes it. The price
# shows in the same table and texts: the mean log-probability per token falls
# from −0.75 to −1.96 and −2.20, because the penalty also punishes the words
# a text *should* repeat ("the", "of", punctuation, the subject): after one
# sentence the penalised texts swerve into quotations, a made-up book by "Dr.
# Martin Luther King Jr.", a broken link and, at 2.0, Markdown and a code
# fence. The penalty fixes greedy's loops, not its dullness: for text worth
# reading, sample (top-p, top-k, temperature below 1). **With `gpt2`:** the
# same direction (Holtzman et al., 2020: 73.66 % repetition for GPT-2 Large's
# greedy continuations in their measure; see the sprint card), and past
# about 1.3 the text gets stilted.

# %% [markdown]
# ## Exercise 5 — Top-k against top-p on flat and peaked distributions
#
# For the distributions of exercise 2, report how many tokens top-k 40 keeps,
# how much of the probability those 40 tokens hold, and how many tokens top-p
# 0.9 keeps. Then draw `figures.temperature_cuts` for the peaked one and compare
# with the model's plot in `03_decoding_strategies`.

# %% tags=["try"]
# Your turn. For each of the `distributions` of exercise 2 (name -> logits): the probability the 40
# likeliest tokens hold (scores.softmax(-1).topk(40).values.sum()) and how many tokens
# keep_top_p(scores, 0.9) keeps; then figures.temperature_cuts(distributions["Zipf s = 1.2 (peaked)"],
# (0.7, 1.0, 1.3), top_k=40, top_p=0.9).

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
def top_k_mass(scores, k=40):
    return float(scores.softmax(-1).topk(k).values.sum())


pd.DataFrame.from_dict(orient="index", data={
    name: {"top-k 40 keeps": 40, "probability those 40 hold": round(top_k_mass(scores), 3),
           "top-p 0.9 keeps": int(torch.isfinite(keep_top_p(scores, 0.9)).sum())}
    for name, scores in distributions.items()})

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Reading this output.** Top-k keeps 40 tokens whatever the shape. After
# "The meaning of life is" those 40 hold 66 % of the model's probability
# (top-p 0.9 needs 341 tokens for its 90 %); on a flat distribution they hold
# a sliver (40 / 49,152 ≈ 0.001), so top-k would throw away almost everything
# the model considers possible; on a very peaked one (Zipf s = 2) they hold
# 98.5 % and top-p keeps only 6. Top-p adapts: few tokens when the model is
# sure, many when it is not (Holtzman et al., 2020 introduced it for this
# reason). The plot below shows it on the Zipf s = 1.2 distribution, whose
# top 40 hold about as much as the model's (64 %).

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
fig = figures.temperature_cuts(distributions["Zipf s = 1.2 (peaked)"], (0.7, 1.0, 1.3), top_k=40, top_p=0.9,
                             title="A peaked stand-in (Zipf s = 1.2), not a model")
figure_path = results.save_figure(fig, "sprint10", "exercise_peaked_cuts", run)

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Reading this output.** The same two panels as in `03_decoding_strategies`
# (probability by rank; cumulative probability, with each temperature's top-p
# count in the legend). On a log-log plot a Zipf distribution is a straight
# line, and the temperature changes its slope: the top-p cut sits at 15 tokens
# at T = 0.7, 2,148 at T = 1 and 22,495 at T = 1.3, while the top-k cut
# (dashed) stays at 40. Compare the model's own plot in
# `03_decoding_strategies` (33, 341 and 1,928 tokens): the model's curve is
# not a straight line; it bends down into a tail far thinner than Zipf's, so
# its cuts move less. Both show why a fixed *k* cannot suit every step.
# `gpt2` should show curves of the model's kind.

# %% [markdown]
# ## What you learned
#
# - A decoding setting is judged by measures over several samples, and by
#   more than one measure: raising the temperature buys variety (distinct-2)
#   and pays in likelihood (log-prob per token), until the text is nonsense;
#   the repetition penalty buys fewer loops and pays the same way. At tiny
#   (a random model) only the mechanics show.
# - Min-p is three lines on the logits, equal to `MinPLogitsWarper`; beam
#   search's score is the average log-probability you can compute by hand.
# - Top-k cuts at a fixed count, top-p and min-p at a share of the
#   probability, which adapts to the model's confidence. This run's numbers:

# %%
low, high = sweep.iloc[0], sweep.iloc[-1]
print(f"temperature sweep, T = {sweep.index[0]:g} -> {sweep.index[-1]:g}: distinct-2 {low['distinct-2']:.2f} -> "
      f"{high['distinct-2']:.2f}, log-prob / token {low['log-prob / token']:.2f} -> {high['log-prob / token']:.2f}, "
      f"first-step entropy {low['first-step entropy (nats)']:.2f} -> {high['first-step entropy (nats)']:.2f} nats")
print(f"beam vs greedy log-probability: {scored.iloc[1, 0]:.1f} vs {scored.iloc[0, 0]:.1f}")
print(f"greedy repetition at penalty 1.0: {penalties.iloc[0, 0]:.2f}; at 2.0: {penalties.iloc[-1, 0]:.2f}")

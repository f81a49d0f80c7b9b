# %% [markdown]
# # Sprint 10 · 06 — Check yourself
#
# Eight questions on this sprint's lesson: tokens and the positions that
# predict them, logits and probabilities, the entropy of the next token, what
# the greedy loop costs, temperature, top-p, and what a seed fixes. Each one
# has a single answer (a token, a number, "yes" or "no") that the model and
# tokenizer loaded below decide: the notebook computes it, keeps it hidden,
# and checks yours.
#
# For each question: replace `None` by your answer (work it out in the cell,
# with the names defined below, or on paper) and run the cell. A right answer
# prints **✔ right** and why; a wrong one prints a hint. The worked solution
# below each question is collapsed: open it once you have an answer (or are
# stuck). The answers are this run's model's (SmolLM2-135M-Instruct at the
# small profile; a random GPT-2 at tiny, where the same questions have other
# answers).

# %% tags=["parameters"]
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # "" = gpt2 (full), SmolLM2-135M-Instruct (small), a random tiny GPT-2 (tiny); or a hub name / folder
SEED = 0
PROMPT = "The capital of France is"  # questions 1-6: a prompt with one clear answer
OPEN_PROMPT = "The meaning of life is"  # questions 7-8: a prompt with many good continuations

# %%
import math

import torch
from transformers import TemperatureLogitsWarper, TopPLogitsWarper

from gpt2ft.generate import decoding
from gpt2ft.session import loading, selfcheck, settings

run = settings.configure(globals())
tokenizer, model = loading.load(run)

# %% [markdown]
# What the questions use: `ids`, the token ids of `PROMPT` (position 0
# first), and `logits`, the model's logits for the token after it (the last
# position's row, one number per vocabulary entry); `open_logits`, the same
# after `OPEN_PROMPT` (the first prompt of `03_decoding_strategies`).

# %%
def next_token_logits(prompt):
    with torch.no_grad():
        encoded = tokenizer(prompt, return_tensors="pt").to(model.device)
        return model(**encoded).logits[0, -1].float().cpu()


ids = tokenizer(PROMPT)["input_ids"]
logits, open_logits = next_token_logits(PROMPT), next_token_logits(OPEN_PROMPT)
print("tokens by position:", dict(enumerate(tokenizer.convert_ids_to_tokens(ids))))
print(f"logits: {len(logits):,} numbers")

# %% [markdown]
# ### 1. Which token does a position predict?
#
# Run on `PROMPT`, the model returns one row of logits per position. Which
# token of the prompt is the row at **position 2** trained to predict?
# Answer with its text (spaces around it don't count).

# %%
# NBVAL_CHECK_OUTPUT
answer = None  # your answer: a token's text, a str
selfcheck.check(answer, expected=tokenizer.decode([ids[3]]),
                why=f"the row at position i scores the token after it: position 2 ({tokenizer.decode([ids[2]])!r}) "
                    f"predicts position 3, {tokenizer.decode([ids[3]])!r}. That shift by one is what a "
                    "language model is trained on, and the last row predicts the token after the prompt.",
                hint="the row at a position does not score its own token (it has seen it): which one comes next?")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
answer = tokenizer.decode([ids[2 + 1]])  # every position predicts the token that follows it
selfcheck.solution(answer, expected=tokenizer.decode([ids[3]]),
                       why=f"position 2 predicts position 3: {answer!r}")

# %% [markdown]
# ### 2. From logits to probabilities
#
# The two most likely next tokens after `PROMPT` and their logits:

# %%
top_two = logits.topk(2)
first, second = top_two.indices.tolist()
first_logit, second_logit = top_two.values.tolist()
print(f"{tokenizer.decode([first])!r}: logit {first_logit:.4f}   {tokenizer.decode([second])!r}: "
      f"logit {second_logit:.4f}")

# %% [markdown]
# How many times more likely is the first token than the second (*p*₁ / *p*₂)?
# Use only these two logits: no softmax over the whole vocabulary.

# %%
# NBVAL_CHECK_OUTPUT
answer = None  # your answer: a number (a ratio, at least 1)
probs = logits.softmax(-1)
selfcheck.check(answer, expected=float(probs[first] / probs[second]), tolerance=1e-3,
                why=f"p1 / p2 = e^(logit1 − logit2) = e^{first_logit - second_logit:.3f} ≈ "
                    f"{float(probs[first] / probs[second]):.2f}: the softmax divides every exp(logit) by the same "
                    "sum, which cancels in the ratio. Only differences of logits matter.",
                hint="softmax: p = exp(logit) / Σ exp(all logits). Write p1 / p2 and see what cancels.")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
answer = math.exp(first_logit - second_logit)  # exp(l1) / Z divided by exp(l2) / Z
selfcheck.solution(answer, expected=float(probs[first] / probs[second]), tolerance=1e-3,
                       why=f"e^(logit1 − logit2) = {answer:.3f}")

# %% [markdown]
# ### 3. How unsure is the model?
#
# What is the [entropy](../../notes/glossary.md#entropy), −Σ *p* log *p*, of
# the next-token distribution after `PROMPT`, in nats (natural logarithm)?

# %%
# NBVAL_CHECK_OUTPUT
answer = None  # your answer: a number of nats
entropy = float(torch.distributions.Categorical(logits=logits).entropy())
selfcheck.check(answer, expected=entropy, tolerance=1e-3,
                why=f"{entropy:.3f} nats, against log {len(logits):,} = {math.log(len(logits)):.2f} if every "
                    f"token were equally likely: the model is as unsure as a choice among "
                    f"e^{entropy:.2f} ≈ {math.exp(entropy):.1f} equally likely tokens.",
                hint="p = logits.softmax(-1); log p = logits.log_softmax(-1) (a p of 0 then adds 0, not nan); "
                     "sum p · log p over the vocabulary and change the sign.")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
answer = float(-(logits.softmax(-1) * logits.log_softmax(-1)).sum())
selfcheck.solution(answer, expected=entropy, tolerance=1e-3, why=f"−Σ p log p = {answer:.3f} nats")

# %% [markdown]
# ### 4. What the greedy loop costs
#
# The greedy loop of `02_next_token` has no KV cache: at every step it feeds
# the model the whole sequence so far (the prompt and the tokens written).
# To write **20** new tokens after `PROMPT`, how many token positions does it
# run through the model in all?

# %%
# NBVAL_CHECK_OUTPUT
answer = None  # your answer: a whole number of positions
fed = decoding.positions_run(model, tokenizer, PROMPT, 20, use_cache=False)  # counted during generate
selfcheck.check(answer, expected=fed,
                why=f"{len(ids)} + {len(ids) + 1} + … + {len(ids) + 19} = {fed}: step n runs the prompt's "
                    f"{len(ids)} positions and the n − 1 tokens already written. With its KV cache `generate` runs "
                    f"{decoding.positions_run(model, tokenizer, PROMPT, 20, use_cache=True)}: the prompt once, "
                    "then one position per new token.",
                hint="count step by step: the first step runs the prompt, each later step one position more; "
                     "the 20th token comes out of the 20th step.")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
answer = sum(len(ids) + step for step in range(20))  # step 0 runs the prompt, step 19 the prompt + 19 tokens
selfcheck.solution(answer, expected=fed, why=f"Σ (prompt + tokens so far) over 20 steps = {answer}")

# %% [markdown]
# ### 5. Temperature
#
# At temperature **0.5**, what probability does the most likely next token
# after `PROMPT` get?

# %%
# NBVAL_CHECK_OUTPUT
answer = None  # your answer: a probability, between 0 and 1
cooled = TemperatureLogitsWarper(0.5)(None, logits[None])[0].softmax(-1)  # the library's temperature
selfcheck.check(answer, expected=float(cooled.max()), tolerance=1e-3,
                why=f"{float(cooled.max()):.4f}, against {float(probs.max()):.4f} at T = 1: dividing the logits "
                    "by 0.5 doubles every gap between them, and the softmax turns gaps into ratios, so the "
                    "likeliest token takes more of the probability (and the argmax stays the same).",
                hint="temperature divides the logits before the softmax: (logits / T).softmax(-1).")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
answer = float((logits / 0.5).softmax(-1).max())
selfcheck.solution(answer, expected=float(cooled.max()), tolerance=1e-3,
                       why=f"max of (logits / 0.5).softmax(-1) = {answer:.4f}")

# %% [markdown]
# ### 6. The top-p cut
#
# How many tokens does top-p **0.9** keep after `PROMPT` (temperature 1, no
# top-k): the smallest set of most likely tokens whose probabilities add up to
# at least 0.9?

# %%
# NBVAL_CHECK_OUTPUT
answer = None  # your answer: a whole number of tokens
kept = int(torch.isfinite(TopPLogitsWarper(0.9)(None, logits[None])).sum())  # the library's top-p
selfcheck.check(answer, expected=kept,
                why=f"{kept:,} of {len(logits):,} tokens. Top-p adapts to the model's confidence: few tokens "
                    "when one answer dominates, hundreds or thousands when many fit; top-k 40 keeps 40 either way.",
                hint="sort the probabilities, largest first, and count how many it takes for their running sum "
                     "to reach 0.9 (the token that crosses 0.9 is kept).")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# As in 03_decoding_strategies: drop the least likely tokens while together they hold at most 1 − 0.9
# (summed from that end, as transformers does, so a token sitting on the boundary is decided the same way).
least_likely_first = logits.sort().values.softmax(-1)
answer = len(logits) - int((least_likely_first.cumsum(-1) <= 1 - 0.9).sum())
selfcheck.solution(answer, expected=kept, why=f"top-p 0.9 keeps {answer:,} tokens")

# %% [markdown]
# ### 7. What a seed fixes
#
# After `torch.manual_seed(SEED)`, `torch.multinomial(p, 1)` draws one token
# from *p*, here the next-token distribution after `OPEN_PROMPT` at
# temperature 1.3, `p = (open_logits / 1.3).softmax(-1)`. Which token id does
# it draw? Work it out without calling `multinomial`: the seed fixes the
# random numbers, and `03_decoding_strategies` shows how a draw uses them.

# %%
# NBVAL_CHECK_OUTPUT
answer = None  # your answer: a token id, an int
hot = (open_logits / 1.3).softmax(-1)
torch.manual_seed(SEED)
drawn_hot = int(torch.multinomial(hot, num_samples=1))
selfcheck.check(answer, expected=drawn_hot,
                why=f"token {drawn_hot} ({tokenizer.decode([drawn_hot])!r}): a draw is argmax(p / E), where E is "
                    "one exponential random number per token. The seed fixes E; the token then follows from p.",
                hint="after torch.manual_seed(SEED), E = torch.empty_like(p).exponential_(1) is the noise the draw "
                     "uses; which token wins p / E?")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
torch.manual_seed(SEED)
noise = torch.empty_like(hot).exponential_(1)  # the same random numbers multinomial gets from the seed
answer = int((hot / noise).argmax())
selfcheck.solution(answer, expected=drawn_hot, why=f"argmax(p / E) = {answer}")

# %% [markdown]
# ### 8. Same seed, another temperature
#
# With the same seed, `torch.multinomial` draws from the distribution at
# temperature **0.7** instead of 1.3. Does it draw the same token as in
# question 7? Answer `"yes"` or `"no"`.

# %%
# NBVAL_CHECK_OUTPUT
answer = None  # your answer: "yes" or "no"
torch.manual_seed(SEED)
drawn_cool = int(torch.multinomial((open_logits / 0.7).softmax(-1), num_samples=1))
selfcheck.check(answer, expected="yes" if drawn_cool == drawn_hot else "no",
                why=f"at T = 0.7 the draw is {tokenizer.decode([drawn_cool])!r}, at T = 1.3 "
                    f"{tokenizer.decode([drawn_hot])!r}: the first tokens of 03_decoding_strategies' temperature 0.7 "
                    "and 1.3 texts after this prompt, drawn with the same seed. The seed fixes the noise E, not the "
                    "token: the temperature reweights p, and where the logits spread wider than the noise (a "
                    "trained model) that often changes which token wins p / E.",
                hint="same seed, same E; compute argmax(p / E) with p at T = 0.7 and compare with question 7.")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
torch.manual_seed(SEED)
noise = torch.empty_like(hot).exponential_(1)  # the same noise as in question 7
cool_token = int(((open_logits / 0.7).softmax(-1) / noise).argmax())
answer = "yes" if cool_token == int((hot / noise).argmax()) else "no"
selfcheck.solution(answer, expected="yes" if drawn_cool == drawn_hot else "no",
                       why=f"T = 0.7 draws {tokenizer.decode([cool_token])!r}, T = 1.3 "
                           f"{tokenizer.decode([int((hot / noise).argmax())])!r}: {answer}")

# %% [markdown]
# ## Where to read again
#
# Questions 1–3: `02_next_token` (the LM head, the softmax, the entropy);
# question 4: its greedy loop and the KV cache; questions 5–6:
# `03_decoding_strategies` (temperature, top-k and top-p by hand) and
# exercise 5 of `05_exercises`; questions 7–8: "What a draw is, and when
# temperature matters" in `03_decoding_strategies`.

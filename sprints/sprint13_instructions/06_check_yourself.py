# %% [markdown]
# # Sprint 13 · 06 — Check yourself
#
# Seven questions on this sprint's lesson: the template, the masked labels,
# the label shift, truncation, what masking does to the loss, the stop rate
# and ROUGE-L. Write your answer in place of `None` and run the cell: a right
# answer gets the explanation, a wrong one a hint (`selfcheck.check` prints
# the verdict). Each worked solution is
# collapsed below its question (click it open in JupyterLab, or the toggle in
# the book); it checks its own answer with `selfcheck.solution`, which stops
# with an error if the worked answer is wrong, so a "✔ right." there is the
# solution checked, not yours.
#
# The answers are never typed in: each one is computed from this profile's
# tokenizer, data or model by the package, so it is hidden until you find it.
#
# **Profiles.** The outputs you are reading come from `PROFILE=small`:
# SmolLM2-135M-Instruct's tokenizer and weights on the real 1,100-record file,
# as in notebooks 01–04. At `tiny` the questions are the same and the numbers
# those of GPT-2's tokenizer, the bundled sample and the random tiny model. No
# training: about 10 s at small (9 s in the last measured run,
# `results/bench/small_budget.md`).

# %% tags=["parameters"]
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # "" = gpt2 (full), SmolLM2-135M-Instruct (small), a random tiny GPT-2 (tiny)
DATA_DIR = ""  # "" = download (full), ../shared/data (small), the bundled sample (tiny); or a folder
DATA_SOURCE = "alpaca_instruction"  # alpaca_instruction | alpaca | alpaca-gpt4 | a .json/.jsonl path
SEED = 0
MAX_LENGTH = 512  # longest training sequence in tokens, as in notebooks 02 and 03

# %%
import torch
import torch.nn.functional as F

from gpt2ft import instruct
from gpt2ft.core import models
from gpt2ft.session import loading, selfcheck, settings
from gpt2ft.session.data import load_instructions

run = settings.configure(globals(), tiny=dict(MAX_LENGTH=128), small=dict(MAX_LENGTH=128))
tokenizer = loading.load_tokenizer(run.model)
max_length = min(MAX_LENGTH, models.context_length(loading.load_config(run)))
split = instruct.split_records(load_instructions(DATA_SOURCE, run).records, seed=SEED)
record = split["train"][0]
print(f"the first training record, as notebook 02 formats it (max_length {max_length}):\n")
print(instruct.format_prompt(record) + record["output"])

# %% [markdown]
# ## 1. The token that ends a response
#
# Notebook 02 appends one token to every reference output before training.
# Which one is it? Give its text, as the tokenizer writes it.

# %%
answer = None  # your answer: a string, the token's text
encoded = instruct.encode(record, tokenizer, max_length)
selfcheck.check(
    answer, expected=tokenizer.convert_ids_to_tokens(encoded.input_ids[-1]),
    why=f"every response ends with the end-of-text token {tokenizer.eos_token!r} (id "
        f"{tokenizer.eos_token_id}), labelled with its own id: learning to predict it after an answer "
        "is what teaches the model to stop, and generation stops there (notebook 04).",
    hint="it is the tokenizer's end-of-sequence token; notebook 02's token-by-token table ends with it.")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
encoded = instruct.encode(record, tokenizer, max_length)
last = tokenizer.convert_ids_to_tokens(encoded.input_ids[-1])
print(f"last token {last!r}: id {encoded.input_ids[-1]}, label {encoded.labels[-1]}; "
      f"the tokenizer's eos_token is {tokenizer.eos_token!r}")
selfcheck.solution(
    last, expected=tokenizer.eos_token, why="the last input id of every record is the end-of-text.")

# %% [markdown]
# ## 2. How many labels are -100?
#
# The record printed above, encoded by `instruct.encode(record, tokenizer,
# max_length)` with the prompt masked: how many of its labels are `-100`?

# %%
answer = None  # your answer: a whole number of label positions
selfcheck.check(
    answer, expected=sum(y == instruct.IGNORE_INDEX for y in encoded.labels),
    why=f"the labels are -100 on every prompt token and nowhere else: the {len(encoded.labels)} tokens "
        f"are {sum(y == -100 for y in encoded.labels)} of prompt (template, instruction"
        f"{', input' if record['input'] else ''} and headers), then "
        f"{sum(y != -100 for y in encoded.labels)} that keep their ids: the response and the "
        "end-of-text.",
    hint="count the tokens of instruct.format_prompt(record); the response and the end-of-text keep "
         "their own ids.")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
n_prompt = len(tokenizer.encode(instruct.format_prompt(record)))  # every prompt token: -100
n_response = len(tokenizer.encode(record["output"])) + 1  # the output and the end-of-text: their ids
print(f"{n_prompt} prompt tokens + {n_response} response tokens = {n_prompt + n_response} "
      f"(instruct.encode: {len(encoded.labels)}, nothing truncated)")
selfcheck.solution(
    n_prompt, expected=sum(y == instruct.IGNORE_INDEX for y in encoded.labels),
    why="the prompt's tokens are the -100 labels.")

# %% [markdown]
# ## 3. Where is the answer predicted?
#
# In the same record, counting positions from 0, the model's logits at which
# position are scored against the **first token of the response**?

# %%
answer = None  # your answer: a position (a whole number, from 0)
position = next(t for t in range(len(encoded.labels) - 1) if encoded.labels[t + 1] != instruct.IGNORE_INDEX)
selfcheck.check(
    answer, expected=position,
    why="the logits at position t are scored against the label at t + 1 (the label shift), so the "
        "first response token, right after the prompt, is predicted at the prompt's last position: "
        f"the newline after '### Response:' ({tokenizer.decode(encoded.input_ids[position])!r}). "
        "That position's own label is -100, yet it carries the first term of the loss.",
    hint="the first response token is at position len(prompt tokens); which position predicts it?")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
first_response = len(tokenizer.encode(instruct.format_prompt(record)))  # after the prompt's positions 0, 1, ...
print(f"the first response token {tokenizer.decode(encoded.input_ids[first_response])!r} is at position "
      f"{first_response}; the position before it holds {tokenizer.decode(encoded.input_ids[first_response - 1])!r}")
selfcheck.solution(
    first_response - 1, expected=position, why="position t predicts token t + 1.")

# %% [markdown]
# ## 4. Cut to fit
#
# Take the training record with the longest prompt and encode it with a
# deliberately short `max_length` of 40 tokens, as notebook 02 did. How many
# of its 40 labels are still `-100`?

# %%
short = 40
longest = max(split["train"], key=lambda r: len(tokenizer.encode(instruct.format_prompt(r))))
print(f"the longest prompt: {len(tokenizer.encode(instruct.format_prompt(longest)))} tokens; its output: "
      f"{longest['output']!r}")
answer = None  # your answer: a whole number of label positions
cut = instruct.encode(longest, tokenizer, short)
selfcheck.check(
    answer, expected=sum(y == instruct.IGNORE_INDEX for y in cut.labels),
    why=f"the prompt is cut from its start (the preamble goes first) and the response and its "
        f"end-of-text are kept whole: {sum(y != -100 for y in cut.labels)} response labels, so "
        f"{short} - {sum(y != -100 for y in cut.labels)} = "
        f"{sum(y == -100 for y in cut.labels)} prompt positions are left, all -100.",
    hint="which part loses tokens first, the prompt or the response? The response keeps its "
         "end-of-text.")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
kept_response = len(tokenizer.encode(longest["output"])) + 1  # the output and its end-of-text, whole
print(f"{short} tokens = {short - kept_response} of prompt + {kept_response} of response; the cut prompt reads "
      f"{tokenizer.decode(cut.input_ids[:short - kept_response])[:60]!r}...")
selfcheck.solution(
    short - kept_response, expected=sum(y == instruct.IGNORE_INDEX for y in cut.labels),
    why="the prompt gives way, the response stays whole.")

# %% [markdown]
# ## 5. What masking does to the loss
#
# The starting weights read the record of questions 1–3. Below, their loss
# per predicted token, averaged over the positions that predict a prompt token
# and over those that predict a response token (or the end-of-text). With the
# prompt masked, the loss is the second mean. What is the **loss on
# everything** of this record, the mean over every predicted token (in nats,
# to 3 decimals)?

# %%
model = loading.load_causal_lm(run)
n_prompt = len(tokenizer.encode(instruct.format_prompt(record)))
ids = torch.tensor([encoded.input_ids], device=model.device)
with torch.no_grad():
    per_token = F.cross_entropy(model(input_ids=ids).logits[0, :-1].float(), ids[0, 1:], reduction="none").cpu()
prompt_part, response_part = per_token[:n_prompt - 1], per_token[n_prompt - 1:]  # position t predicts t + 1
print(f"{len(prompt_part)} positions predict a prompt token: mean loss {prompt_part.mean():.4f} nats")
print(f"{len(response_part)} positions predict a response token or the end-of-text: mean loss "
      f"{response_part.mean():.4f} nats (the loss with the prompt masked)")

# %%
answer = None  # your answer: a number, nats per token
everything, _ = instruct.encode_records([record], tokenizer, max_length, mask_prompt=False)
loss_on_everything = instruct.label_loss(model, everything, tokenizer.eos_token_id)
selfcheck.check(
    answer, expected=loss_on_everything, tolerance=1e-3,
    why=f"the loss on everything is the mean over all {len(per_token)} predicted tokens, so each part "
        f"counts by its positions: ({len(prompt_part)} x {prompt_part.mean():.3f} + {len(response_part)} "
        f"x {response_part.mean():.3f}) / {len(per_token)} = {loss_on_everything:.3f}. With "
        f"{len(prompt_part)} of {len(per_token)} positions in the prompt, it is mostly the prompt's "
        "loss, and so is its gradient; masking the prompt leaves the response's term alone.",
    hint="not the mean of the two means: weight each mean by its number of positions.")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
weighted = (len(prompt_part) * prompt_part.mean() + len(response_part) * response_part.mean()) / len(per_token)
print(f"({len(prompt_part)} x {prompt_part.mean():.4f} + {len(response_part)} x {response_part.mean():.4f}) / "
      f"{len(per_token)} = {weighted:.4f}")
selfcheck.solution(
    weighted.item(), expected=loss_on_everything, tolerance=1e-3,
    why="a mean over all tokens is the token-weighted mean of the parts' means.")

# %% [markdown]
# ## 6. The stop rate
#
# Notebook 04's *stopped* column: an answer stopped when the model wrote the
# end-of-text token within `MAX_NEW_TOKENS` new tokens. Here are three answers
# as a model would write them, end-of-text included. With
# `MAX_NEW_TOKENS = 12`, what is their stop rate (the fraction that stopped)?

# %%
limit = 12
eos = tokenizer.eos_token
generations = ["Lima." + eos,
               "The capital of Peru is Lima, a city of nearly ten million people on the Pacific coast." + eos,
               "Paris is the capital of France." + eos]
for text in generations:
    print(repr(text))

# %%
answer = None  # your answer: a fraction between 0 and 1
eos_within = [tokenizer.eos_token_id in tokenizer.encode(text)[:limit] for text in generations]
selfcheck.check(
    answer, expected=sum(eos_within) / len(generations), tolerance=0.01,
    why=f"stopped means the end-of-text came within the limit: {sum(eos_within)} of "
        f"{len(generations)}. The long answer reaches its end-of-text only after "
        f"{len(tokenizer.encode(generations[1]))} tokens, so generation cuts it at {limit} and it "
        "has not stopped, however right it is: the stop rate measures whether the model ends its "
        "answers, not whether they are right.",
    hint=f"tokenize each text and look for the end-of-text among its first {limit} tokens.")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
for text in generations:
    tokens = tokenizer.encode(text)
    print(f"{len(tokens):>2} tokens, end-of-text at position {tokens.index(tokenizer.eos_token_id)}: "
          f"{'stopped' if tokens.index(tokenizer.eos_token_id) < limit else 'cut at the limit'}")
stopped = sum(tokenizer.encode(text).index(tokenizer.eos_token_id) < limit for text in generations)
selfcheck.solution(
    stopped / len(generations), expected=sum(eos_within) / len(generations), tolerance=0.01,
    why="the end-of-text must come within the first MAX_NEW_TOKENS tokens.")

# %% [markdown]
# ## 7. ROUGE-L of one pair
#
# What is `instruct.rouge_l(answer, reference)` for the answer *"A cat sat on
# the mat."* and the reference *"On the mat sat a cat."*? Work it out by hand:
# the words as `instruct.normalise` gives them (lower case, no punctuation, no
# articles), the longest common subsequence (the most words in the same order,
# not necessarily adjacent), then the F1 of its length over each side's length.

# %%
pair = {"answer": "A cat sat on the mat.", "reference": "On the mat sat a cat."}
answer = None  # your answer: a number between 0 and 1
selfcheck.check(
    answer, expected=instruct.rouge_l(pair["answer"], pair["reference"]), tolerance=1e-3,
    why=f"the words are {instruct.normalise(pair['answer'])} and {instruct.normalise(pair['reference'])}; "
        "the longest common subsequence is 'on mat' (2 words), so precision = recall = 2/4 and the F1 "
        f"is {instruct.rouge_l(pair['answer'], pair['reference']):.3f}. Token F1 ignores the order and "
        f"gives {instruct.token_f1(pair['answer'], pair['reference']):.3f}: the same words, in another "
        "order.",
    hint="drop 'a' and 'the' first; 'sat' and 'cat' appear in both, but in which order?")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# NBVAL_CHECK_OUTPUT
a, b = instruct.normalise(pair["answer"]), instruct.normalise(pair["reference"])
lcs = 2  # 'on mat': in a at positions 2, 3 and in b at 0, 1; 'cat' comes before 'sat' in a, after it in b
precision, recall = lcs / len(a), lcs / len(b)
print(f"{a} / {b}: LCS {lcs}, precision {precision:.2f}, recall {recall:.2f}")
selfcheck.solution(
    2 * precision * recall / (precision + recall),
    expected=instruct.rouge_l(pair["answer"], pair["reference"]), tolerance=1e-3,
    why="ROUGE-L is the F1 of the longest common subsequence.")

# %% [markdown]
# # Sprint 13 · 04 — Does it follow instructions? Base against fine-tuned
#
# The held-out test instructions (never trained on, never used to pick a
# checkpoint) go to two models: the **base** model (the weights fine-tuning
# started from) and the **fine-tuned** one from notebook 03. Both are asked with
# the same template (`instruct.format_prompt`), decode greedily and stop at the
# end-of-text token; the answer is what comes before it, cut at any new
# `### ` section (`instruct.extract_response`).
#
# **You will learn**
#
# - [greedy decoding](../../notes/glossary.md#greedy-decoding) with a stop at end-of-text, by hand, and that it equals
#   the package's batched generation and `model.generate`;
# - how to score free-text answers: format adherence, exact match, token F1, ROUGE-L, length, and what each misses;
# - how to read base against fine-tuned, when the base model was itself instruction-tuned (with another template).
#
# Measures, per answer, then averaged:
#
# - **format adherence**: *has response* (something is left after extraction),
#   *stopped* (emitted end-of-text before the token limit), *no template echo*
#   (no preamble, `### Input` or `### Response` repeated), *no new instruction*
#   (did not invent a further `### Instruction`), and *adheres* (all four);
# - **[exact match](../../notes/glossary.md#exact-match)** with the reference
#   output (after lower-casing, removing punctuation and articles), [token F1](../../notes/glossary.md#token-f1)
#   (word overlap) and [ROUGE-L](../../notes/glossary.md#rouge-l) (longest
#   common word subsequence), both in [0, 1];
# - **length** of the answer in words (the references' length for comparison).
#
# **Profiles.** The outputs you are reading come from `PROFILE=small`: the base
# model is SmolLM2-135M-Instruct, the fine-tuned one its LoRA run of notebook 03
# (30 steps on 240 records), both answering all 110 test instructions with at
# most 64 new tokens (the longest reference is 38 tokens; generation costs
# about 30 ms per token on this CPU, so the cap bounds the run time). Unlike
# GPT-2, this base model is *already* instruction-tuned, by its makers, in its
# own chat format (`<|im_start|>user … <|im_end|>`), never in Alpaca's: so the
# question here is what it does with a template it was not tuned on, and what
# 30 steps on Alpaca records change. At `full` the base model is plain `gpt2`,
# which has never seen an instruction format at all.

# %% tags=["parameters"]
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # the base model: the one notebook 03 fine-tuned ("" = gpt2 / SmolLM2-135M-Instruct / the tiny GPT-2)
DATA_DIR = ""  # "" = download (full), ../shared/data (small), the bundled sample (tiny); or a folder
DATA_SOURCE = "alpaca_instruction"  # alpaca_instruction | alpaca | alpaca-gpt4 | a .json/.jsonl path
SEED = 0
N_EVAL = 110  # test instructions to answer (the first N of the test split; 110 = all of the 1,100-record file's)
MAX_NEW_TOKENS = 256  # longest answer in tokens; an answer still going at the limit has not stopped

# %%
import dataclasses
import json
import re

import pandas as pd
import torch
from IPython.display import display

from gpt2ft import instruct
from gpt2ft.core import checks, paths
from gpt2ft.session import loading, results, settings
from gpt2ft.session.data import load_instructions

run = settings.configure(globals(), tiny=dict(MAX_NEW_TOKENS=32), small=dict(MAX_NEW_TOKENS=64))
tokenizer = loading.load_tokenizer(run.model)
data = load_instructions(DATA_SOURCE, run)
test = instruct.split_records(data.records, seed=SEED)["test"][:N_EVAL]

# %% [markdown]
# ## The two models
#
# The base model is loaded as notebook 03 loaded it. The fine-tuned one is
# the model notebook 03 exported from its `instructions` run: `run.find_finetuned`
# looks for the run that started from these same weights and trained on these
# same records, and says which one it found. Run notebook 03 first with the
# same `PROFILE`, `MODEL`, `DATA_DIR`, `DATA_SOURCE` and `SEED` (from
# pre-trained weights the search cannot tell the `SEED`, which picks the split:
# with another one, 03 may have trained on records that are test records
# here). Its `training.json`
# says how it was trained.

# %%
base = loading.load_causal_lm(run)
folder = run.find_finetuned("instructions", model=base, source=data)
models = {"base": base, "fine-tuned": loading.load_causal_lm(dataclasses.replace(run, model=str(folder)))}
trained = json.loads((folder / "training.json").read_text())
print(f"fine-tuned from {trained['base model']} on {trained['data']}: {trained['steps']} steps, "
      f"best validation loss {trained['best_eval_loss']:.3f}")

# %% [markdown]
# ## The same question, as both models see it
#
# Generation uses exactly the training template: the prompt ends with
# `### Response:` and a newline, and the model writes from there.

# %%
prompt = instruct.format_prompt(test[0])
print(prompt)
print(f"{len(test)} test instructions, {sum(bool(r['input']) for r in test)} with an input; greedy decoding, "
      f"at most {MAX_NEW_TOKENS} new tokens, stop at {tokenizer.eos_token} (id {tokenizer.eos_token_id})")

# %%
# NBVAL_CHECK_OUTPUT
checks.holds("the prompt ends with the response header", prompt.endswith(instruct.RESPONSE_HEADER))
trained_on = {json.dumps(r, sort_keys=True) for r in instruct.split_records(data.records, seed=SEED)["train"]}
seen = [r for r in test if json.dumps(r, sort_keys=True) in trained_on]
checks.holds("no test instruction was trained on", not seen, f"{len(seen)} were")

# %% [markdown]
# ## Greedy decoding with a stop, by hand
#
# Feed the prompt, take the most likely next token, append it, repeat; stop
# when that token is end-of-text (the label every training record ended with)
# or after `MAX_NEW_TOKENS`. The answer is the tokens before the end-of-text.

# %%
model = models["fine-tuned"]
ids = torch.tensor([tokenizer.encode(prompt)], device=model.device)
new_tokens, stopped = [], False
with torch.no_grad():
    for _ in range(MAX_NEW_TOKENS):
        next_id = model(input_ids=ids).logits[0, -1].argmax().item()
        if next_id == tokenizer.eos_token_id:
            stopped = True
            break
        new_tokens.append(next_id)
        ids = torch.cat([ids, torch.tensor([[next_id]], device=model.device)], dim=1)
print(f"{len(new_tokens)} new tokens, stopped at end-of-text: {stopped}")
print(repr(tokenizer.decode(new_tokens)))

# %% [markdown]
# The package's `instruct.generate_responses` (batched, left-padded, through
# `model.generate`) gives the same answer, as does a plain `model.generate`:

# %%
# NBVAL_CHECK_OUTPUT
package = instruct.generate_responses(model, tokenizer, [test[0]], max_new_tokens=MAX_NEW_TOKENS)[0]
prompt_ids = torch.tensor([tokenizer.encode(prompt)], device=model.device)
with torch.no_grad():
    generated = model.generate(input_ids=prompt_ids, attention_mask=torch.ones_like(prompt_ids),
                               do_sample=False, max_new_tokens=MAX_NEW_TOKENS,
                               eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.eos_token_id)
hf = generated[0, prompt_ids.shape[1]:].tolist()
hf = hf[:hf.index(tokenizer.eos_token_id)] if tokenizer.eos_token_id in hf else hf
checks.same("model.generate: the tokens of the loop by hand", new_tokens, hf)
checks.same("instruct.generate_responses: as many new tokens as by hand", len(new_tokens), package.new_tokens)
checks.same("instruct.generate_responses: the answer by hand", tokenizer.decode(new_tokens, skip_special_tokens=True),
            package.raw)
checks.same("instruct.generate_responses: the same stop at end-of-text (or not)", stopped, package.stopped)

# %% [markdown]
# What the library adds to the loop by hand, and when you need it:
#
# | | adds | you need it for |
# |---|---|---|
# | `model.generate` | a KV cache, stop rules, sampling, beams | long texts |
# | `generate_responses` | batches, left-padded (positions from the mask); *stopped* per answer | many prompts |
# | `extract_response`, `score` | the answer cut at a new `### `; adherence, overlap scores, length | comparing models |
#
# The [KV cache](../../notes/glossary.md#kv-cache) keeps what attention
# computed for the earlier tokens, so each step runs the model on the new
# token only; [sampling](../../notes/glossary.md#sampling) and
# [beam search](../../notes/glossary.md#beam-search) are other ways to pick the
# next token. In a batch, prompts are padded on the *left* so that every
# prompt ends where its answer starts; the positions of the tokens are then
# counted from the attention mask, not from the start of the row.
#
# ## Generate, extract, score
#
# Both models, every test instruction:

# %%
evaluations = {name: instruct.evaluate_responses(m, tokenizer, test, max_new_tokens=MAX_NEW_TOKENS)
               for name, m in models.items()}
summary = instruct.summarise(evaluations)
reference_words = sum(len(r["output"].split()) for r in test) / len(test)
print(f"reference answers: {reference_words:.1f} words on average")
results.write_table(summary, "sprint13", "evaluation", run,
                    title=f"Sprint 13: base vs fine-tuned on {len(test)} held-out instructions")
summary

# %% [markdown]
# **Reading this output.** One row per model, each column a mean over the
# 110 test instructions (1 = every answer). The base model, SmolLM2-135M-Instruct
# asked in a template it was never tuned on, *mostly* follows it already: it
# answers every instruction, echoes the template once and invents a new
# `### Instruction:` once in 110, and stops with its end-of-text `<|im_end|>`
# on 79 % of them. The other 21 % run on to the 64-token limit (next section),
# which also makes its answers twice as long as the references (17.7 words
# against 8.3). After 30 LoRA steps on 240 records the fine-tuned model stops
# on 98 % (108 of 110) and its answers have the references' length (8.7
# words). Its answers also share more words with the references: token F1
# 0.441 → 0.584, ROUGE-L 0.410 → 0.541, exact match 0.064 → 0.109 (7 → 12
# answers). Much of that gain is *style*: the references answer in one short
# sentence that restates the question ("The capital of Portugal is Lisbon."),
# and so does the fine-tuned model now. With `gpt2` at full the contrast is
# starker, because plain GPT-2 has never seen an instruction format: the base
# model should rarely stop and rarely answer, and the fine-tuned one should
# stop on nearly every answer with token F1 and ROUGE-L far above the base
# model's; exact match stays low for any free-text answer (one reference, many
# right wordings).
#
# ## Stop, or run on?
#
# An answer that did not stop went on to the token limit. What did it write
# after its answer: a new section of the template (`### Instruction:` would
# be the model inventing the next record), a heading of its own, or more of the
# same? The first line of each such answer that starts with `#`, counted per
# model:

# %%
def ran_into(raw):
    header = re.search(r"^#+ ?\S[^\n]*", raw, flags=re.MULTILINE)
    return header.group(0)[:40] if header else "(no heading: more of the same text)"


run_on = pd.DataFrame({name: frame.loc[~frame["stopped"], "raw"].map(ran_into).value_counts()
                       for name, frame in evaluations.items()}).fillna(0).astype(int)
run_on.index.name = "answers that did not stop ran into"
for name, frame in evaluations.items():
    print(f"{name}: {int((~frame['stopped']).sum())} of {len(frame)} answers did not stop within {MAX_NEW_TOKENS} "
          f"tokens; {int((~frame['no new instruction']).sum())} wrote a new '### Instruction:'")
run_on

# %% [markdown]
# **Reading this output.** The base model rarely runs into the Alpaca
# template's own sections: one of its 23 unstopped answers wrote a new
# `### Instruction:` (the next record, invented). Twelve opened a section of
# their own, `### Explanation:`, after a first line that reads like an answer
# ("The binary representation of 5 is 1000.\n\n### Explanation: ...", wrong:
# 5 is 101): markdown habits from its own chat tuning. The other ten have no
# heading: six are long explanations still going at the limit (an enzyme,
# photosynthesis, *The Great Gatsby*…), four are loops ("The sentence is "The
# sentence is "…"; 3 litres in millilitres answered with the digits of π, then
# zeros). `extract_response` cuts only at the template's own
# sections, so an `### Explanation:` stays part of the answer and is scored
# (it lengthens the answer and lowers its overlap). The fine-tuned model has
# two unstopped answers, both loops: a Japanese translation that degenerates
# into repeated characters, and "…about the topic of the topic of the topic…".
#
# The means hide how the answers moved one by one. ROUGE-L per test
# instruction, fine-tuned against base:

# %%
gain = evaluations["fine-tuned"]["ROUGE-L"] - evaluations["base"]["ROUGE-L"]
print(f"ROUGE-L higher on {(gain > 0).sum()} test instructions, lower on {(gain < 0).sum()}, "
      f"equal on {(gain == 0).sum()} (mean change {gain.mean():+.3f})")

# %% [markdown]
# **Reading this output.** ROUGE-L rose on 57 of the 110 test instructions,
# fell on 20 and stayed the same on 33 (18 answers are word for word the base
# model's): the gain is broad, not a few outliers.
#
# A few answers side by side:

# %%
responses = pd.DataFrame({
    "instruction": [r["instruction"] for r in test],
    "input": [r["input"] for r in test],
    "reference": [r["output"] for r in test],
    **{name: frame["response"] for name, frame in evaluations.items()},
    **{f"{name} stopped": frame["stopped"] for name, frame in evaluations.items()},
})
with pd.option_context("display.max_colwidth", 60):
    display(responses.head(5)[["instruction", "reference", "base", "fine-tuned"]])

# %% [markdown]
# **Reading this output.** Real answers from both models, and they show what
# the scores measure and what they miss. The fine-tuned model writes in the
# references' mould, one short sentence ending in `<|im_end|>`, where the base
# model adds a parenthesis or a `### Explanation:` (rows 0 and 1). Neither
# knows more than the other: both say the capital of the United States is New
# York City (row 3), and the fine-tuned model gets the contraction of "it is"
# no more right than the base model (row 0). Fine-tuning on 240 records for 30
# steps changes *how* a 135M model answers, not what it knows; elsewhere in
# `responses` it even turns the base model's right "The capital of Portugal is
# Lisbon." into "Portugal is the capital of Portugal.". What a full run with
# `gpt2` should show (not measured here): fluent, short answers in the
# references' style ("The capital of Peru is Lima."), mostly right on the easy
# items (plurals, antonyms, capitals, rewriting a sentence) and wrong on facts
# and arithmetic GPT-2 small never learned; Raschka's gpt2-medium answers for
# the same file are shown in his chapter 7 (external:
# `rasbt/LLMs-from-scratch`, `ch07/01_main-chapter-code/ch07.ipynb`, listed in
# `notes/maintenance.md`).
#
# ## Key question: does it follow instructions?
#
# This run's numbers:

# %%
row = summary.loc
print(f"- Format: the fine-tuned model adheres to the format (has an answer, stops, no echo, no new "
      f"instruction) on {row['fine-tuned', 'adheres']:.0%} of {len(test)} test instructions, the base model "
      f"on {row['base', 'adheres']:.0%}; it stops at end-of-text on {row['fine-tuned', 'stopped']:.0%} "
      f"(base {row['base', 'stopped']:.0%}).")
print(f"- Content: token F1 {row['fine-tuned', 'token F1']:.3f} (base {row['base', 'token F1']:.3f}), "
      f"ROUGE-L {row['fine-tuned', 'ROUGE-L']:.3f} (base {row['base', 'ROUGE-L']:.3f}), exact match "
      f"{row['fine-tuned', 'exact match']:.3f}.")
print(f"- Length: {row['fine-tuned', 'length (words)']:.1f} words per answer against the references' "
      f"{reference_words:.1f} (base {row['base', 'length (words)']:.1f}).")
if row["fine-tuned", "stopped"] < 0.5:
    verdict = "not yet: it does not even stop after an answer (train longer, or start from a pre-trained model)"
elif row["fine-tuned", "ROUGE-L"] < 0.3:
    verdict = "it follows the format (short, then end-of-text), not the instruction (content near 0)"
else:
    verdict = "it follows the format, and its answers share a good part of the references' words"
print(f"- Verdict for this run: {verdict}.")
raised = [m for m in ("stopped", "adheres", "token F1", "ROUGE-L") if row["fine-tuned", m] > row["base", m]]
print(f"- Against the base model, fine-tuning raised: {', '.join(raised) if raised else 'none of the four'} "
      f"(stopped {row['base', 'stopped']:.0%} -> {row['fine-tuned', 'stopped']:.0%}, ROUGE-L "
      f"{row['base', 'ROUGE-L']:.3f} -> {row['fine-tuned', 'ROUGE-L']:.3f}).")

# %% [markdown]
# The verdict, in this run's numbers: the fine-tuned model follows the
# Alpaca format (98 % stop, none invents a new instruction) and its answers
# overlap the references more (ROUGE-L 0.541 against 0.410). But the base model
# was no blank slate: SmolLM2-135M-Instruct, tuned by its makers in another
# template, already answered every instruction and stopped on 79 % of them.
# What 30 steps added is the last fifth of the stops, the references' length
# and phrasing; what they could not add is knowledge a 135M model lacks
# (the capitals, the arithmetic). Fine-tuning changes *how* the model answers
# long before it changes *what* it answers. A full run from plain `gpt2` starts
# from a model that has never seen an instruction, so its format columns
# should move from near 0 to near 1. The overlap measures are only a proxy
# (they punish a right answer in other words and reward a wrong one in the
# same words; see `notes/findings.md` and exercise 5); Raschka scores the same
# kind of answers with a Llama 3 judge instead (external figures, with their
# sources, in `notes/maintenance.md`).
#
# ## The files
#
# `evaluation` is the table above; `responses` holds every test instruction
# with the reference and both models' answers (`.jsonl` with the exact texts;
# `.csv`/`.md` with line breaks shown as `<br>`).

# %%
# NBVAL_CHECK_OUTPUT
results.write_table(responses.replace("\n", "<br>", regex=True), "sprint13", "responses", run, index=False,
                    title="Sprint 13: responses of the base and the fine-tuned model")
with open(paths.results_dir("sprint13", run.profile) / "responses.jsonl", "w") as handle:
    for answer in responses.to_dict(orient="records"):
        handle.write(json.dumps(answer, ensure_ascii=False) + "\n")
print("responses columns:", list(responses.columns))
print("evaluation columns:", list(summary.columns))

# %% [markdown]
# ## What you learned

# %%
print(f"- Greedy decoding by hand (argmax, append, stop at end-of-text) gives the same "
      f"{len(new_tokens)} tokens as instruct.generate_responses and model.generate.")
print(f"- On {len(test)} test instructions the fine-tuned model stops on {row['fine-tuned', 'stopped']:.0%} "
      f"and adheres to the format on {row['fine-tuned', 'adheres']:.0%} (base: {row['base', 'adheres']:.0%}); "
      f"token F1 {row['fine-tuned', 'token F1']:.3f}, ROUGE-L {row['fine-tuned', 'ROUGE-L']:.3f}.")
print(f"- Does it follow instructions? {verdict[0].upper() + verdict[1:]}."
      + (" Smoke numbers: the content needs pre-trained GPT-2." if run.is_tiny else ""))

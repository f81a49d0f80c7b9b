# %% [markdown]
# # Sprint 13 · 05 — Exercises, with worked solutions
#
# Five exercises that extend notebooks 01–04. Try each one before you open its
# solution: the solution's code is in the cell below the exercise (collapsed
# in the book), its discussion in the *Solution* block. Every solution runs at
# `tiny` in seconds; at `full` the same code answers the question for `gpt2`.
#
# **You will learn**
#
# - whether the loss on the prompt or the masked loss generalises better, measured on held-out records;
# - what another prompt template (Phi-3 style) and LoRA of a given rank change, for the same number of steps;
# - why generation must stop at the end-of-text token, and where token F1 and ROUGE-L disagree.
#
# Run notebook 03 first: exercises 1 and 4 read the two models it trained.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = ""  # "" = gpt2 (full) or a random tiny GPT-2 (tiny); the model notebook 03 fine-tuned
DATA_DIR = ""  # "" = download (full) or the bundled sample (tiny); e.g. ../shared/data (from the repository root)
DATA_SOURCE = "alpaca_instruction"  # alpaca_instruction | alpaca | alpaca-gpt4 | a .json/.jsonl path
SEED = 0
MAX_LENGTH = 512  # longest training sequence in tokens
EPOCHS = 2
BATCH_SIZE = 8
LEARNING_RATE = 5e-5
MAX_STEPS = 0  # 0 = EPOCHS decide; else each exercise run trains exactly this many steps
MAX_BATCH_TOKENS = 0  # a batch with more padded tokens is cut into micro-batches; 0 = the engine's choice
MAX_EXAMPLES = 0  # training, validation and test records each; 0 = all
N_EVAL = 3  # test instructions answered in exercise 4
MAX_NEW_TOKENS = 256  # longest answer in exercise 4

# %%
import dataclasses
from types import SimpleNamespace

import pandas as pd
import torch
from datasets import Dataset
from IPython.display import display

from gpt2ft import instruct
from gpt2ft.core import models
from gpt2ft.session import loading, settings
from gpt2ft.session.data import load_instructions
from gpt2ft.training import strategies, train

run = settings.configure(globals(), tiny=dict(MAX_LENGTH=128, BATCH_SIZE=4, LEARNING_RATE=5e-3,
                                              MAX_STEPS=10, MAX_NEW_TOKENS=24))
tokenizer = loading.load_tokenizer(run.model)
max_length = min(MAX_LENGTH, models.context_length(loading.load_config(run)))
data = load_instructions(DATA_SOURCE, run)
split = {name: records[:MAX_EXAMPLES] if MAX_EXAMPLES else records
         for name, records in instruct.split_records(data.records, seed=SEED).items()}
encoded = {name: instruct.encode_records(records, tokenizer, max_length)[0] for name, records in split.items()}
print({name: len(records) for name, records in split.items()}, f"max_length {max_length}")

# %% [markdown]
# The exercises train several short runs: one `TrainConfig` from the
# parameters cell (`run.train_config`), changed per run with
# `dataclasses.replace` (each with its own name, so its own folder). No
# checkpoints and no evaluation during the run; each run starts over
# (`resume=False`), and its response-token validation loss is measured once
# at the end.

# %%
exercise_config = run.train_config("exercise", weight_decay=0.1, warmup_ratio=0.1, eval_every=None,
                                   save_every=None, save_final=False, log_every=5, resume=False,
                                   progress_bar=False, verbose=False)
eos = tokenizer.eos_token_id


def quick_train(name, train_rows, val_rows, **changes):
    cfg = dataclasses.replace(exercise_config, run_name=f"exercise-{name}", **changes)
    result = train(loading.load_causal_lm(run), train_rows, None, cfg, max_length=max_length, source=data)
    val_loss = instruct.label_loss(result.model, val_rows, eos)
    print(f"{name}: {result.steps} steps, response-token validation loss {val_loss:.3f}")
    return SimpleNamespace(model=result.model, val_loss=val_loss)


# %% [markdown]
# ## Exercise 1 — Loss on the prompt, or masked: which generalises?
#
# Notebook 03 trained two runs from the same weights for the same steps, one
# with the prompt masked and one with the loss on everything, and compared
# them on the validation records. Load both (notebook 03 exported both:
# `run.find_finetuned("instructions", ...)` and
# `run.find_finetuned("loss-on-everything", ...)`) and measure each model's
# **response-token** loss on the training records it saw and on the **test**
# records it never saw. Which run has the lower test loss, and which the
# smaller gap between the two?

# %% tags=["hide-input"]
base = loading.load_causal_lm(run)
finetuned_dir = run.find_finetuned("instructions", model=base, source=data)
from_03 = {"prompt masked": loading.load_causal_lm(dataclasses.replace(run, model=str(finetuned_dir)))}
try:
    unmasked_dir = run.find_finetuned("loss-on-everything", model=base, source=data)
except FileNotFoundError:  # notebook 03 ran with COMPARE_UNMASKED=0: train the other run here (MAX_STEPS steps)
    train_everything = instruct.encode_records(split["train"], tokenizer, max_length, mask_prompt=False)[0]
    from_03["loss on everything"] = quick_train("everything", train_everything, encoded["validation"]).model
else:
    from_03["loss on everything"] = loading.load_causal_lm(dataclasses.replace(run, model=str(unmasked_dir)))
generalisation = pd.DataFrame({
    name: {"train (seen)": instruct.label_loss(model, encoded["train"], eos),
           "test (held out)": instruct.label_loss(model, encoded["test"], eos)}
    for name, model in from_03.items()}).T
generalisation["gap"] = generalisation["test (held out)"] - generalisation["train (seen)"]
lower = generalisation["test (held out)"].idxmin()
smaller = generalisation["gap"].idxmin()
print(f"lower test loss: {lower}; smaller gap between seen and held-out records: {smaller}")
generalisation.round(3)

# %% [markdown]
# <details><summary>Solution</summary>
#
# Both columns are response-token losses (nats per token), so the runs are
# compared on what an answer costs; the line above the table says which run
# wins on each count in this run. At tiny (34 steps on 68 synthetic records)
# the masked run is usually lower on the held-out test records (all its steps
# went to answers), but its gap between seen and held-out records is usually larger:
# it has started to fit its few hundred training answer tokens, while the run
# with the loss on the prompt spreads its fitting over the template. That is
# the regime the literature describes: many steps on few, short answers,
# where the loss on the prompt acts as a regulariser (it keeps the model from
# fitting its few training answers too closely). Shi et al. (2024,
# *Instruction Tuning With Loss Over
# Instructions*) report exactly that, and Raschka's chapter 7 exercise 7.2
# (external) found the masked gpt2-medium slightly *worse* by a Llama 3 judge
# (47.73 against 50.32 unmasked). To see it here, run at full with
# `EPOCHS=10` and compare the gaps.
#
# </details>
#
# ## Exercise 2 — A different prompt template (Phi-3 style)
#
# The Phi-3 style template is much shorter:
# `<|user|>\n{instruction}\n{input}\n<|assistant|>:\n{output}`. Encode the
# records with it by hand (prompt masked, end-of-text appended), count how many
# prompt tokens it saves, and train one short run with each template (prompt
# masked, the same steps). Is the Phi-3 run's response-token validation loss
# (each template's own validation records) better or worse than the Alpaca
# run's?

# %% tags=["hide-input"]
def phi3_prompt(record):
    text = f"<|user|>\n{record['instruction']}"
    return text + (f"\n{record['input']}" if record["input"] else "") + "\n<|assistant|>:\n"


def encode_with(prompt_fn, records):
    rows = {"input_ids": [], "attention_mask": [], "labels": []}
    for record in records:
        prompt = tokenizer.encode(prompt_fn(record))
        response = tokenizer.encode(record["output"]) + [eos]
        rows["input_ids"].append(prompt + response)
        rows["attention_mask"].append([1] * (len(prompt) + len(response)))
        rows["labels"].append([-100] * len(prompt) + response)
    return Dataset.from_dict(rows)


prompt_tokens = {name: sum(len(tokenizer.encode(fn(r))) for r in split["train"])
                 for name, fn in [("Alpaca", instruct.format_prompt), ("Phi-3", phi3_prompt)]}
print(f"prompt tokens in the training split: Alpaca {prompt_tokens['Alpaca']:,}, Phi-3 "
      f"{prompt_tokens['Phi-3']:,} ({1 - prompt_tokens['Phi-3'] / prompt_tokens['Alpaca']:.0%} fewer)")
alpaca = quick_train("alpaca", encoded["train"], encoded["validation"])
phi3 = quick_train("phi3", encode_with(phi3_prompt, split["train"]), encode_with(phi3_prompt, split["validation"]))

# %% [markdown]
# <details><summary>Solution</summary>
#
# The Phi-3 style prompt drops the preamble and the `### ` headers, so the
# prompts are much shorter (the share is printed above): every step computes
# fewer tokens (faster training and generation) for the same answers. The
# response-token losses after the same steps are close: the answer is the same text either way, and
# the model only has to learn where it starts. Raschka's chapter 7
# exercise 7.1 (external) measured the same: the Phi-3 template trained about
# 17 % faster on an L4 GPU and scored 48.87 with the Llama 3 judge, about the
# same as the Alpaca template. The one rule that matters: generate with the
# template you trained with (notebook 04 uses `instruct.format_prompt` for
# both). Note that `<|user|>` is no special token for GPT-2: its tokenizer
# splits it into several ordinary tokens.
#
# </details>
#
# ## Exercise 3 — LoRA: how many parameters, and what does the rank change?
#
# With [LoRA](../../notes/glossary.md#lora) the model's weights stay frozen and
# each attention projection (`c_attn`) gets a trainable low-rank update of rank
# *r*. Count the trainable parameters for ranks 2, 8 and 32, then train a
# rank-8 run (`TrainConfig(strategy="lora", lora_r=8)`) and compare its
# validation loss with exercise 2's Alpaca run (full fine-tuning, same steps).

# %% tags=["hide-input"]
counts = {}
for r in (2, 8, 32):
    adapted = strategies.apply_strategy(loading.load_causal_lm(run), "lora", lora_r=r, lora_alpha=2 * r)
    counts[f"LoRA r={r}"] = strategies.count_parameters(adapted)
counts["full fine-tuning"] = strategies.count_parameters(loading.load_causal_lm(run))
display(pd.DataFrame(counts).T.astype({"trainable": int, "total": int}).round(3))
lora = quick_train("lora-r8", encoded["train"], encoded["validation"], strategy="lora", lora_r=8,
                   lora_alpha=16, learning_rate=LEARNING_RATE * 10)
print(f"same steps: full fine-tuning {alpaca.val_loss:.3f}, "
      f"LoRA r=8 {lora.val_loss:.3f}")

# %% [markdown]
# <details><summary>Solution</summary>
#
# The trainable share grows linearly with *r* (each adapted matrix gets
# *r* × (inputs + outputs) new numbers) and stays a small fraction of the
# model at any of these ranks. The frozen weights need no gradients and no
# AdamW moments, which in a full fine-tuning take three times the memory of
# the weights themselves. LoRA is usually trained at
# a learning rate about ten times the full fine-tuning one (here `10 x
# LEARNING_RATE`). At tiny the comparison is unfair to LoRA: the frozen weights
# are *random*, so there is nothing worth adapting, and the loss falls far
# less than with full fine-tuning. LoRA adapts a model that already knows
# language: Raschka's chapter 7 exercise 7.4 (external) trained gpt2-medium
# with rank 16 to a validation loss of 0.652 (full fine-tuning: 0.659) and a
# Llama 3 judge score of 50.23 (full: 50.32), about 28 % faster. Run this
# notebook at full (`gpt2`) to see LoRA close the gap.
#
# </details>
#
# ## Exercise 4 — Stopping at the end-of-text token
#
# Every training record ended with `<|endoftext|>`, so the fine-tuned model
# learned to emit it after an answer. Generate greedily *without* stopping
# there (the loop by hand of notebook 04, without its `break`), and look at
# what the model writes after the first end-of-text. Why does
# `instruct.generate_responses` stop, and why does `extract_response` also cut
# at a new `### ` section?

# %% tags=["hide-input"]
finetuned = from_03["prompt masked"]  # notebook 03's fine-tuned model (exercise 1)


def greedy_without_stop(model, prompt, steps):
    ids = torch.tensor([tokenizer.encode(prompt)], device=model.device)
    with torch.no_grad():
        for _ in range(steps):
            next_id = model(input_ids=ids).logits[0, -1].argmax().view(1, 1)
            ids = torch.cat([ids, next_id], dim=1)
    return tokenizer.decode(ids[0, -steps:])


for record in split["test"][:N_EVAL]:
    text = greedy_without_stop(finetuned, instruct.format_prompt(record), MAX_NEW_TOKENS)
    answer, _, after = text.partition(tokenizer.eos_token)
    print(f"{record['instruction']!r}\n  answer: {answer!r}\n  after the first end-of-text: {after[:80]!r}")

# %% [markdown]
# <details><summary>Solution</summary>
#
# After the end-of-text the model has nothing left to answer. The tiny model
# writes end-of-text again and again (or nothing at all before the first one):
# it is the one thing it learned to write after an answer. A fine-tuned `gpt2`
# does what it saw in pre-training after an end-of-text: it starts a new text,
# often a new record (Raschka's chapter 7 training log, external, shows "The
# meal is cooked every day by the chef.<|endoftext|>The following is an
# instruction that describes a task…"). Left unchecked, every answer would run
# to `MAX_NEW_TOKENS` with this junk appended: slower (up to 256 tokens per
# answer at full instead of a dozen), and scored as part of the answer. So
# generation stops at the end-of-text id (`eos_token_id`), and
# `instruct.generate_responses` reports *stopped* for each answer: a model
# that never stops has not learned the format. `extract_response` is the second
# guard, for a model that writes `### Instruction:` (a new, invented question)
# instead of ending: notebook 04's *no new instruction* column counts those.
#
# </details>
#
# ## Exercise 5 — Scoring with token F1 or ROUGE-L
#
# [Token F1](../../notes/glossary.md#token-f1) counts shared words in any order;
# [ROUGE-L](../../notes/glossary.md#rouge-l) counts the longest common
# subsequence (shared words in the same order). Write ROUGE-L by hand (the
# longest common subsequence by dynamic programming), check it against
# `instruct.rouge_l`, and find answers where the two scores disagree. Which
# one would you report?

# %% tags=["hide-input"]
# NBVAL_CHECK_OUTPUT
def rouge_l_by_hand(answer, reference):
    a, b = instruct.normalise(answer), instruct.normalise(reference)
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a, 1):
        for j, y in enumerate(b, 1):
            table[i][j] = table[i - 1][j - 1] + 1 if x == y else max(table[i - 1][j], table[i][j - 1])
    lcs = table[-1][-1]
    return 0.0 if lcs == 0 else 2 * lcs / (len(a) + len(b))  # F1 of lcs/len(a) and lcs/len(b)


reference = "The capital of Peru is Lima."
answers = ["The capital of Peru is Lima.", "Lima is the capital of Peru.", "Peru's capital city: Lima.",
           "Lima.", "The capital of Peru is Quito."]
scores = pd.DataFrame({"token F1": [instruct.token_f1(a, reference) for a in answers],
                       "ROUGE-L": [instruct.rouge_l(a, reference) for a in answers],
                       "ROUGE-L by hand": [rouge_l_by_hand(a, reference) for a in answers]},
                      index=pd.Index(answers, name=f"answer (reference: {reference!r})")).round(3)
test_pairs = [(r["output"], s["output"]) for r in split["test"] for s in split["test"]]
print("ROUGE-L by hand equals instruct.rouge_l on", len(test_pairs) + len(answers), "pairs:",
      all(abs(rouge_l_by_hand(a, b) - instruct.rouge_l(a, b)) < 1e-12 for a, b in test_pairs)
      and (scores["ROUGE-L"] == scores["ROUGE-L by hand"]).all())
scores

# %% [markdown]
# <details><summary>Solution</summary>
#
# They agree on the exact answer (1, 1) and on the short right one ("Lima.":
# both low, it shares one word of five). They disagree on word order: "Lima is
# the capital of Peru." has every word of the reference (token F1 1) but only
# "capital of Peru" in the same order (ROUGE-L well below 1). Both are fooled
# the same way by the wrong "… is Quito.": four of five words shared, 0.8 on
# both. Report both, with length, and read them as *overlap*, not
# correctness: ROUGE-L when the order of the words carries meaning (a sorted
# list, a sentence rewritten in the past tense), token F1 when it does not (a
# list of synonyms). Neither knows that Quito is wrong; that takes a judge (a
# person, or a larger model as in Raschka's chapter 7) or a task with one
# checkable answer (arithmetic, sorting).
#
# </details>
#
# ## What you learned

# %%
gap = generalisation["gap"]
print(f"- Exercise 1: test response-token loss, masked {generalisation.loc['prompt masked', 'test (held out)']:.3f} "
      f"vs loss on everything {generalisation.loc['loss on everything', 'test (held out)']:.3f} "
      f"(gaps {gap['prompt masked']:.3f} and {gap['loss on everything']:.3f}).")
print(f"- Exercise 2: the Phi-3 style prompt has {1 - prompt_tokens['Phi-3'] / prompt_tokens['Alpaca']:.0%} "
      f"fewer prompt tokens; validation loss {phi3.val_loss:.3f} against Alpaca's "
      f"{alpaca.val_loss:.3f}.")
print(f"- Exercise 3: LoRA r=8 trains {counts['LoRA r=8']['trainable_pct']:.2f} % of the parameters; "
      f"validation loss {lora.val_loss:.3f} (full fine-tuning {alpaca.val_loss:.3f}).")
print("- Exercise 4: without the stop at end-of-text the model keeps writing; generation stops there.")
print(f"- Exercise 5: 'Lima is the capital of Peru.' scores token F1 "
      f"{scores.iloc[1]['token F1']:.2f} but ROUGE-L {scores.iloc[1]['ROUGE-L']:.2f}: order matters to one of them.")

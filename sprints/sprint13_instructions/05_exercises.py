# %% [markdown]
# # Sprint 13 · 05 — Exercises, with worked solutions
#
# Five exercises that extend notebooks 01–04. Each has an empty cell below it
# to work in (comments say which names to use); try it there first. The worked
# solution follows, its code and its discussion collapsed: click a collapsed
# cell in JupyterLab (or the toggle in the book) to open it. The solutions run
# with the notebook, so their results are there when you open them.
#
# **You will learn**
#
# - whether the loss on the prompt or the masked loss generalises better, measured on held-out records;
# - what the prompt template changes (Alpaca, Phi-3 style, the model's own chat template) and what the LoRA rank
#   changes, for the same number of steps;
# - why generation must stop at the end-of-text token, and where token F1 and ROUGE-L disagree;
# - that the project's ROUGE-L is Google's `rouge-score` on the same words, and what that package's own words change.
#
# **Profiles.** The outputs you are reading come from `PROFILE=small`:
# SmolLM2-135M-Instruct, the LoRA runs of notebook 03 (exercise 1 and 4 read
# them), and short runs of its own: LoRA rank 16 at learning rate 1e-3, one
# epoch of the first 128 training records (16 steps of 8), each run 18 to 27 s
# on 2 CPU cores in this run. At `full` the same code answers each question
# for `gpt2` (full fine-tuning, 2 epochs of 935 records); `tiny` runs it in
# seconds on the random tiny GPT-2 (smoke numbers).
#
# Run notebooks 03 and 04 first: exercises 1 and 4 read the two models 03
# trained, exercise 5 the answers 04 wrote.

# %% tags=["parameters"]
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # the model notebook 03 fine-tuned ("" = gpt2 / SmolLM2-135M-Instruct / the tiny GPT-2)
DATA_DIR = ""  # "" = download (full), ../shared/data (small), the bundled sample (tiny); or a folder
DATA_SOURCE = "alpaca_instruction"  # alpaca_instruction | alpaca | alpaca-gpt4 | a .json/.jsonl path
SEED = 0
MAX_LENGTH = 512  # longest training sequence in tokens
EPOCHS = 2
BATCH_SIZE = 8
LEARNING_RATE = 5e-5  # the rate of STRATEGY (LoRA is trained at about ten times the full rate)
WEIGHT_DECAY = 0.1  # AdamW's weight decay on the weight matrices (as in notebook 03)
MAX_STEPS = 0  # 0 = EPOCHS decide; else each exercise run trains exactly this many steps
MAX_BATCH_TOKENS = 0  # a batch with more padded tokens is cut into micro-batches; 0 = the engine's choice
MAX_EXAMPLES = 0  # training, validation and test records each; 0 = all
STRATEGY = "full"  # full | lora: what the exercise runs train (as in notebook 03)
LORA_R = 16  # rank of the LoRA update (STRATEGY=lora; exercise 3 compares it with rank 1)
N_EVAL = 3  # test instructions answered in exercise 4
MAX_NEW_TOKENS = 256  # longest answer in exercise 4

# %%
import dataclasses
from types import SimpleNamespace

import pandas as pd
import torch
from datasets import Dataset
from IPython.display import display
from rouge_score import rouge_scorer

from gpt2ft import instruct
from gpt2ft.core import checks, models, paths
from gpt2ft.session import loading, settings
from gpt2ft.session.data import load_instructions
from gpt2ft.training import strategies, throwaway, train

run = settings.configure(globals(), tiny=dict(MAX_LENGTH=128, BATCH_SIZE=4, LEARNING_RATE=5e-3,
                                              MAX_STEPS=10, MAX_NEW_TOKENS=24),
                         small=dict(MAX_LENGTH=128, LEARNING_RATE=1e-3, EPOCHS=1, MAX_EXAMPLES=128,
                                    STRATEGY="lora", MAX_NEW_TOKENS=40),
                         choices=dict(STRATEGY=["full", "lora"]))
tokenizer = loading.load_tokenizer(run.model)
max_length = min(MAX_LENGTH, models.context_length(loading.load_config(run)))
data = load_instructions(DATA_SOURCE, run)
split = {name: records[:MAX_EXAMPLES] if MAX_EXAMPLES else records
         for name, records in instruct.split_records(data.records, seed=SEED).items()}
encoded = {name: instruct.encode_records(records, tokenizer, max_length)[0] for name, records in split.items()}
print({name: len(records) for name, records in split.items()}, f"max_length {max_length}")

# %% [markdown]
# The exercises train several short runs: one `TrainConfig` from the
# parameters cell (`run.train_config`, the recipe of notebook 03), changed per
# run with `dataclasses.replace` (each with its own name, so its own folder).
# `throwaway` makes them runs that keep nothing: no checkpoints, each run
# starts over, no progress bar. No evaluation during the run either; each
# run's response-token validation loss is measured once at the end.

# %%
exercise_config = throwaway(run.train_config("exercise", strategy=STRATEGY, lora_r=LORA_R, lora_alpha=2 * LORA_R,
                                              log_every=5))
eos = tokenizer.eos_token_id


def quick_train(name, train_rows, val_rows, **changes):
    cfg = dataclasses.replace(exercise_config, run_name=f"exercise-{name}", **changes)
    result = train(loading.load_causal_lm(run), train_rows, None, cfg, max_length=max_length, source=data)
    val_loss = instruct.label_loss(result.model, val_rows, eos)
    print(f"{name}: {result.steps} steps in {result.elapsed_s:.0f} s, response-token validation loss {val_loss:.3f}")
    return SimpleNamespace(model=result.model, val_loss=val_loss, seconds=result.elapsed_s,
                           trainable=strategies.count_parameters(result.model)["trainable"])


# %% [markdown]
# ## Exercise 1 — Loss on the prompt, or masked: which generalises?
#
# Notebook 03 trained two runs from the same weights for the same steps, one
# with the prompt masked and one with the loss on everything, and compared
# them on the validation records. Load both (notebook 03 exported both:
# `run.find_finetuned("instructions", ...)` and
# `run.find_finetuned("loss-on-everything", ...)`) and measure each model's
# **response-token** loss on training records it saw and on the **test**
# records it never saw, with the starting weights as the reference. Which run
# has the lower test loss, and which the smaller gap between the two?

# %% tags=["try"]
# Your turn. base = loading.load_causal_lm(run) is the starting weights; notebook 03's models are
# loading.load_causal_lm(dataclasses.replace(run, model=str(folder))) for the folder that
# run.find_finetuned("instructions", model=base, source=data) (and "loss-on-everything") returns.
# Measure instruct.label_loss(model, encoded["train"], eos) and instruct.label_loss(model, encoded["test"], eos)
# for each of the three, and the gap between the two.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
base = loading.load_causal_lm(run)
finetuned_dir = run.find_finetuned("instructions", model=base, source=data)
from_03 = {"prompt masked": loading.load_causal_lm(dataclasses.replace(run, model=str(finetuned_dir)))}
try:
    unmasked_dir = run.find_finetuned("loss-on-everything", model=base, source=data)
except FileNotFoundError:  # notebook 03 ran with COMPARE_UNMASKED=0: train the other run here
    train_everything = instruct.encode_records(split["train"], tokenizer, max_length, mask_prompt=False)[0]
    from_03["loss on everything"] = quick_train("everything", train_everything, encoded["validation"]).model
else:
    from_03["loss on everything"] = loading.load_causal_lm(dataclasses.replace(run, model=str(unmasked_dir)))
generalisation = pd.DataFrame({
    name: {"train (seen)": instruct.label_loss(model, encoded["train"], eos),
           "test (held out)": instruct.label_loss(model, encoded["test"], eos)}
    for name, model in {"starting weights": base, **from_03}.items()}).T
generalisation["gap"] = generalisation["test (held out)"] - generalisation["train (seen)"]
tuned = generalisation.drop(index="starting weights")
lower, smaller = tuned["test (held out)"].idxmin(), tuned["gap"].idxmin()
print(f"{len(split['train'])} training records (the first of those notebook 03 trained on), "
      f"{len(split['test'])} test records")
print(f"lower test loss: {lower}; smaller gap between seen and held-out records: {smaller}")
generalisation.round(3)

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Solution.** Every number is a response-token loss (nats per token), so the rows compare
# what an answer costs. The starting weights score the same on both sets
# (1.250 seen, 1.239 held out): before training, "seen" means nothing. After
# notebook 03's 30 steps, the masked run has the lower test loss (0.956 against
# 1.071 for the run with the loss on everything), but also the larger gap
# between the records it trained on and the held-out ones (0.102 against
# 0.058): all its gradient went to the 3,198 answer tokens of its 240 records,
# and it has started to fit them, while the run with the loss on the prompt
# spread its fitting over 14,841 tokens, most of them template. That is the
# regime the literature describes: few, short answers, where the loss on the
# prompt acts as a regulariser (it keeps the model from fitting its training
# answers too closely). Shi et al. (2024, *Instruction Tuning With Loss Over
# Instructions*) report that it can even win on held-out tasks, and Raschka's
# chapter 7 exercise 7.2 (external) found the masked gpt2-medium slightly
# *worse* by a Llama 3 judge (47.73 against 50.32 unmasked). Here, after one
# epoch, the masked run is still clearly ahead on held-out answers; to see
# whether the gap turns, train longer (`EPOCHS=3` in notebook 03) and compare
# again.

# %% [markdown]
# ## Exercise 2 — The template: Alpaca, Phi-3 style, or the model's own
#
# The Phi-3 style template is much shorter:
# `<|user|>\n{instruction}\n{input}\n<|assistant|>:\n{output}`. And a chat model
# comes with a template of its own: SmolLM2's is in its tokenizer
# (`tokenizer.apply_chat_template`), GPT-2 has none. Encode the validation
# records with each (prompt masked, end-of-text appended) and measure the
# **starting weights'** response-token loss under each template: which one
# does the model already expect? Then train one short run with each template
# (prompt masked, the same steps): how many prompt tokens does Phi-3 save, and
# which run ends with the lower response-token validation loss (each under its
# own template)?

# %% tags=["try"]
# Your turn. Write phi3_prompt(record) and chat_prompt(record) (the model's own template:
# tokenizer.apply_chat_template([{"role": "user", "content": ...}], tokenize=False, add_generation_prompt=True)),
# and encode records with a prompt function into a Dataset of input_ids, attention_mask and labels (-100 on the
# prompt, end-of-text eos appended). Measure instruct.label_loss(base, rows, eos) on the validation records under
# each template, then quick_train(name, train_rows, val_rows) once per template; count the prompt tokens.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
def phi3_prompt(record):
    text = f"<|user|>\n{record['instruction']}"
    return text + (f"\n{record['input']}" if record["input"] else "") + "\n<|assistant|>:\n"


def chat_prompt(record):  # the model's own chat template, one user turn
    user = record["instruction"] + (f"\n\n{record['input']}" if record["input"] else "")
    return tokenizer.apply_chat_template([{"role": "user", "content": user}], tokenize=False,
                                         add_generation_prompt=True)


def encode_with(prompt_fn, records):
    rows = {"input_ids": [], "attention_mask": [], "labels": []}
    for record in records:
        prompt = tokenizer.encode(prompt_fn(record))
        response = tokenizer.encode(record["output"]) + [eos]
        rows["input_ids"].append(prompt + response)
        rows["attention_mask"].append([1] * (len(prompt) + len(response)))
        rows["labels"].append([-100] * len(prompt) + response)
    return Dataset.from_dict(rows)


templates = {"Alpaca": instruct.format_prompt, "Phi-3 style": phi3_prompt}
if tokenizer.chat_template:
    templates["the model's chat template"] = chat_prompt
print("the model's chat template, for the first validation record:")
print(chat_prompt(split["validation"][0]) if tokenizer.chat_template else "(none: this tokenizer has no chat template)")
before = pd.DataFrame({name: {
    "prompt tokens (training split)": sum(len(tokenizer.encode(fn(r))) for r in split["train"]),
    "val loss, starting weights": instruct.label_loss(base, encode_with(fn, split["validation"]), eos)}
    for name, fn in templates.items()}).T
slugs = {"Alpaca": "alpaca", "Phi-3 style": "phi3", "the model's chat template": "chat"}
trained = {name: quick_train(slugs[name], encode_with(fn, split["train"]), encode_with(fn, split["validation"]))
           for name, fn in templates.items()}
alpaca, phi3 = trained["Alpaca"], trained["Phi-3 style"]
before["val loss, trained"] = pd.Series({name: result.val_loss for name, result in trained.items()})
before["seconds (measured)"] = pd.Series({name: result.seconds for name, result in trained.items()})
prompt_tokens = before["prompt tokens (training split)"]
saved = 1 - prompt_tokens["Phi-3 style"] / prompt_tokens["Alpaca"]
print(f"Phi-3 style: {saved:.0%} fewer prompt tokens than Alpaca")
before.round(3)

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Solution.** The Phi-3 style prompt drops the preamble and the `### ` headers: 42 % fewer
# prompt tokens on the 128 training records (3,575 against 6,181), so every
# step computes fewer tokens; its run took 18 s against 27 s for Alpaca and
# 23 s for the chat template here (timings vary from run to run). Before training, SmolLM2
# predicts the reference answers best under the Alpaca template (1.148), not
# under its own chat template (1.218) nor Phi-3's (1.249): the template a model
# was tuned on is not automatically the one under which it predicts *these*
# answers best (its own chat answers are longer and chattier than the
# references). After the same 16 steps the three runs end close together
# (0.928 Alpaca, 0.905 Phi-3, 0.900 the chat template, which ends lowest by a
# little): the answer is the same text whichever template precedes it, and
# the model only has to learn where it starts. Raschka's chapter 7 exercise 7.1 (external) measured
# the same on gpt2-medium: the Phi-3 template trained about 17 % faster on an
# L4 GPU and scored 48.87 with the Llama 3 judge, about the same as the Alpaca
# template. The one rule that matters: generate with the template you trained
# with (notebook 04 uses `instruct.format_prompt` for both). Note that
# `<|user|>` is no special token for either tokenizer here: both split it into
# several ordinary tokens, while SmolLM2's `<|im_start|>` is one special token.

# %% [markdown]
# ## Exercise 3 — LoRA: how many parameters, and what does the rank change?
#
# With [LoRA](../../notes/glossary.md#lora) the model's weights stay frozen and
# each attention projection (GPT-2's `c_attn`; SmolLM2's `q_proj`, `k_proj`,
# `v_proj`, `o_proj`) gets a trainable low-rank update of rank *r*. Count the
# trainable parameters for ranks 1, 4, 16 and 64, then train rank 1 and rank
# `LORA_R` for the same steps (exercise 2's Alpaca run is the rank-`LORA_R` run
# when `STRATEGY=lora`). What does a 16 times smaller update cost in
# validation loss?

# %% tags=["try"]
# Your turn. strategies.apply_strategy(loading.load_causal_lm(run), "lora", lora_r=r, lora_alpha=2 * r) adds the
# adapters; strategies.count_parameters(model)["trainable"] counts what trains. Work one count out from the shapes
# of the adapted projections (strategies.lora_targets(base) names them). Then train rank 1 with
# quick_train("lora-r1", encoded["train"], encoded["validation"], strategy="lora", lora_r=1, lora_alpha=2).

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
counts = {}
for r in (1, 4, 16, 64):
    adapted = strategies.apply_strategy(loading.load_causal_lm(run), "lora", lora_r=r, lora_alpha=2 * r)
    counts[f"LoRA r={r}"] = strategies.count_parameters(adapted)
counts["full fine-tuning"] = strategies.count_parameters(base)
targets = strategies.lora_targets(base)  # the attention projections LoRA adapts
adapted_shapes = [tuple(m.weight.shape) for name, m in base.named_modules() if name.split(".")[-1] in targets]
per_rank = sum(sum(shape) for shape in adapted_shapes)  # each gets r x inputs (A) and outputs x r (B)
print(f"{len(adapted_shapes)} projections ({', '.join(targets)}) of shapes {sorted(set(adapted_shapes))}: "
      f"{per_rank:,} new numbers per unit of rank")
display(pd.DataFrame(counts).T.astype({"trainable": int, "total": int}).round(3))

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# NBVAL_CHECK_OUTPUT
for r in (1, 4, 16, 64):
    checks.same(f"LoRA r={r}: r x (inputs + outputs) of every adapted projection = the trainable parameters",
                r * per_rank, counts[f"LoRA r={r}"]["trainable"])

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
lora_rate = LEARNING_RATE if STRATEGY == "lora" else 10 * LEARNING_RATE
by_rank = {r: alpaca if STRATEGY == "lora" and r == LORA_R else
           quick_train(f"lora-r{r}", encoded["train"], encoded["validation"], strategy="lora", lora_r=r,
                       lora_alpha=2 * r, learning_rate=lora_rate)
           for r in (1, LORA_R)}
ranks = pd.DataFrame({f"LoRA r={r}": {"trainable": result.trainable, "val loss": result.val_loss,
                                      "seconds (measured)": result.seconds} for r, result in by_rank.items()}).T
ranks["val loss, starting weights"] = before.loc["Alpaca", "val loss, starting weights"]
ranks.astype({"trainable": int}).round(3)

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Solution.** The trainable count grows linearly with *r*: each adapted matrix gets
# *r* × (inputs + outputs) new numbers. In SmolLM2 that is 30 blocks × 4
# projections (`q_proj` and `o_proj` are 576 × 576, `k_proj` and `v_proj`
# 576 × 192, the grouped key/value heads) = 115,200 numbers per unit of rank:
# 0.09 % of the model at r = 1, 1.4 % at r = 16, 5 % at r = 64. The frozen
# weights need no gradients and no AdamW moments, which in full fine-tuning
# take three times the memory of the weights themselves. Here the rank does
# matter: after the same 16 steps at the same learning rate, rank 1 has moved
# the validation loss from 1.148 to 1.067, rank 16 to 0.928. A rank-1 update
# can change each projection in one direction only, and with the same
# `lora_alpha / r` scaling it learns more slowly. The LoRA paper (Hu et al.,
# 2021, external) found rank 1 nearly as good as rank 64 on GPT-3 after full
# training runs; a 16-step run is not one. LoRA's quality against full
# fine-tuning: Raschka's chapter 7 exercise 7.4 (external) trained gpt2-medium
# with rank 16 to a validation loss of 0.652 (full fine-tuning: 0.659) and a
# Llama 3 judge score of 50.23 (full: 50.32), about 28 % faster.

# %% [markdown]
# ## Exercise 4 — Stopping at the end-of-text token
#
# Every training record ended with the end-of-text token (SmolLM2's
# `<|im_end|>`, GPT-2's `<|endoftext|>`), so the fine-tuned model learned to
# emit it after an answer. Generate greedily *without* stopping there (the
# loop by hand of notebook 04, without its `break`), and look at what the model
# writes after the first end-of-text. Why does `instruct.generate_responses`
# stop, and why does `extract_response` also cut at a new `### ` section?

# %% tags=["try"]
# Your turn. The fine-tuned model of notebook 03 is loaded in exercise 1's solution (from_03["prompt masked"]).
# Copy notebook 04's greedy loop without its break at end-of-text, run it for MAX_NEW_TOKENS steps on
# instruct.format_prompt(record) for record in split["test"][:N_EVAL], and print what follows the first
# tokenizer.eos_token in the decoded text.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
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
    print(f"{record['instruction']!r}\n  answer: {answer!r}\n  after the first end-of-text: {after[:120]!r}")

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Solution.** After its end-of-text the model has answered, and nothing in the prompt
# says what comes next, so it writes what followed an end-of-turn in its own
# training: SmolLM2-135M-Instruct, tuned by its makers in the ChatML format,
# starts a new chat turn, `<|im_start|>system`, `<|im_start|>user` and an
# invented user message ("I am planning to launch a new product…"), or an
# `<|im_start|>assistant` turn that repeats its answer. Thirty steps on the
# Alpaca template did not erase that habit. A fine-tuned `gpt2` does what it
# saw in pre-training after an end-of-text: it starts a new text, often a new
# record (Raschka's chapter 7 training log, external, shows "The meal is cooked
# every day by the chef.<|endoftext|>The following is an instruction that
# describes a task…"). Left unchecked, every answer would run to
# `MAX_NEW_TOKENS` with this junk appended: slower (here 40 tokens per answer
# instead of the 5 to 12 these three answers need), and scored as part of the
# answer. So generation stops
# at the end-of-text id (`eos_token_id`), and `instruct.generate_responses`
# reports *stopped* for each answer: a model that never stops has not learned
# the format. `extract_response` is the second guard, for a model that writes
# `### Instruction:` (a new, invented question) instead of ending: notebook
# 04's *no new instruction* column counts those (one base answer in 110).

# %% [markdown]
# ## Exercise 5 — Scoring with token F1 or ROUGE-L
#
# [Token F1](../../notes/glossary.md#token-f1) counts shared words in any order;
# [ROUGE-L](../../notes/glossary.md#rouge-l) counts the longest common
# subsequence (shared words in the same order). Write ROUGE-L by hand (the
# longest common subsequence by dynamic programming), and check it, and
# `instruct.rouge_l`, against an independent implementation: Google's
# `rouge-score` package, the one papers report. Its tokeniser is not
# `instruct.normalise`: compare the two on the same words first, then each
# with its own words. Then find answers where token F1 and ROUGE-L disagree,
# in made-up answers and in the fine-tuned model's real answers of notebook 04.
# Which one would you report?

# %% tags=["try"]
# Your turn. instruct.normalise(text) gives the words instruct.rouge_l compares. rouge-score scores a pair with
# rouge_scorer.RougeScorer(["rougeL"]).score(reference, answer)["rougeL"].fmeasure (the reference first); give it
# tokenizer=<an object whose tokenize(text) returns instruct.normalise(text)> to compare on the same words.
# Notebook 04's answers are in paths.results_dir("sprint13", run.profile) / "responses.jsonl".

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# NBVAL_CHECK_OUTPUT
def rouge_l_by_hand(answer, reference):
    a, b = instruct.normalise(answer), instruct.normalise(reference)
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a, 1):
        for j, y in enumerate(b, 1):
            table[i][j] = table[i - 1][j - 1] + 1 if x == y else max(table[i - 1][j], table[i][j - 1])
    lcs = table[-1][-1]
    return 0.0 if lcs == 0 else 2 * lcs / (len(a) + len(b))  # F1 of lcs/len(a) and lcs/len(b)


class NormalisedWords:  # rouge-score takes any tokeniser with a tokenize(text) method
    def tokenize(self, text):
        return instruct.normalise(text)


same_words = rouge_scorer.RougeScorer(["rougeL"], tokenizer=NormalisedWords())
own_words = rouge_scorer.RougeScorer(["rougeL"])  # its own: lower case, letters and digits only, articles kept


def rouge_score_l(scorer, answer, reference):
    return scorer.score(reference, answer)["rougeL"].fmeasure  # rouge-score takes the reference first


reference = "The capital of Peru is Lima."
answers = ["The capital of Peru is Lima.", "Lima is the capital of Peru.", "Peru's capital city: Lima.",
           "Lima.", "The capital of Peru is Quito."]
pairs = [(a, reference) for a in answers] + [(r["output"], s["output"]) for r in split["test"] for s in split["test"]]
google = torch.tensor([rouge_score_l(same_words, a, b) for a, b in pairs], dtype=torch.float64)
checks.same("ROUGE-L by hand = rouge-score's on the same words (the five answers, all pairs of test references)",
            torch.tensor([rouge_l_by_hand(a, b) for a, b in pairs], dtype=torch.float64), google, atol=1e-12)
checks.same("instruct.rouge_l = rouge-score's on the same words (the same pairs)",
            torch.tensor([instruct.rouge_l(a, b) for a, b in pairs], dtype=torch.float64), google)
scores = pd.DataFrame({"token F1": [instruct.token_f1(a, reference) for a in answers],
                       "ROUGE-L": [instruct.rouge_l(a, reference) for a in answers],
                       "ROUGE-L, rouge-score's own words": [rouge_score_l(own_words, a, reference) for a in answers]},
                      index=pd.Index(answers, name=f"answer (reference: {reference!r})")).round(3)
scores

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# The same scores on the fine-tuned model's real answers (notebook 04's
# `responses.jsonl`): the answers where token F1 and ROUGE-L disagree most,
# and what `rouge-score`'s own words change.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
answers_04 = paths.results_dir("sprint13", run.profile) / "responses.jsonl"
real = pd.read_json(answers_04, lines=True) if answers_04.is_file() else None
if real is None:
    print(f"{paths.shown(answers_04)} is missing: run notebook 04 first (same PROFILE).")
else:
    answered = list(zip(real["fine-tuned"], real["reference"], strict=True))
    real["token F1"] = [instruct.token_f1(a, r) for a, r in answered]
    real["ROUGE-L"] = [instruct.rouge_l(a, r) for a, r in answered]
    own = pd.Series([rouge_score_l(own_words, a, r) for a, r in answered], index=real.index)
    apart, moved = (real["token F1"] - real["ROUGE-L"]).abs(), (own - real["ROUGE-L"]).abs()
    print(f"{len(real)} answers of the fine-tuned model: token F1 and ROUGE-L differ by more than 0.2 on "
          f"{int((apart > 0.2).sum())}, by less than 0.05 on {int((apart < 0.05).sum())}")
    print(f"rouge-score's own words change the ROUGE-L of {int((moved > 1e-12).sum())} answers (by up to "
          f"{moved.max():.3f}); mean ROUGE-L {real['ROUGE-L'].mean():.3f} on instruct.normalise's words, "
          f"{own.mean():.3f} on rouge-score's")
    with pd.option_context("display.max_colwidth", 70):
        display(real.loc[apart.sort_values(ascending=False, kind="stable").index[:4],
                         ["instruction", "reference", "fine-tuned", "token F1", "ROUGE-L"]].round(3))

# %% [markdown] jupyter={"source_hidden": true} tags=["solution"]
# **Solution.** On the made-up answers they agree on the exact answer (1, 1) and on the
# short right one ("Lima.": both low, it shares one word of five). They
# disagree on word order: "Lima is the capital of Peru." has every word of the
# reference (token F1 1) but only "capital of Peru" in the same order (ROUGE-L
# 0.6). Both are fooled the same way by the wrong "… is Quito.": four of five
# words shared, 0.8 on both. The fine-tuned model's real answers show both
# sides of the order question. On 93 of its 110 answers the two scores are
# within 0.05 of each other; they differ by more than 0.2 on 12, and the top
# four are all about order. "Mount Everest is the highest mountain in the
# world." is right, and ROUGE-L (0.571) punishes the reordering that token F1
# (1.0) ignores. The other three are passive-voice tasks where the model
# copied the input unchanged ("The children played the game."): *wrong*
# answers, and there ROUGE-L (0.25 to 0.4) is right to score them low where
# token F1 gives 0.75 to 0.8: the words are all there, in the wrong order,
# which is the whole task.
#
# Against `rouge-score`: on the same words (`instruct.normalise`'s),
# `instruct.rouge_l` gives Google's number exactly on every pair, and the
# version by hand to the last bit of a float (it computes the same fraction
# as `2 lcs / (a + b)`, in another order): the project's ROUGE-L is the
# standard algorithm. What a paper
# reports can still differ, because of the *words*. `rouge-score` lower-cases
# and keeps runs of letters and digits only ("Peru's" becomes two words,
# `peru s`; a word in another script becomes none), and it keeps the articles
# that `instruct.normalise` drops (the SQuAD convention). Articles in the same
# order count as matches: "Lima is the capital of Peru." scores 0.667 instead
# of 0.6 ("the capital of Peru", four words in order), the copied
# passive-voice answer "The children played the game." 0.5 instead of 0.25.
# On the fine-tuned model's 110 real answers its words change 78 of the
# scores, by up to 0.25, and raise the mean from 0.541 to 0.563. ROUGE-L
# numbers compare only under the same tokeniser.
#
# So report both, with length, and read them as *overlap*, not correctness:
# ROUGE-L when the order of the words carries meaning (passive voice, a sorted
# list), token F1 when it does not (a list of synonyms, a reordered fact).
# Neither knows that Quito is wrong; that takes a judge (a person, or a larger
# model as in Raschka's chapter 7) or a task with one checkable answer
# (arithmetic, sorting).

# %% [markdown]
# ## What you learned

# %%
gap = generalisation["gap"]
print(f"- Exercise 1: test response-token loss, masked {generalisation.loc['prompt masked', 'test (held out)']:.3f} "
      f"vs loss on everything {generalisation.loc['loss on everything', 'test (held out)']:.3f} "
      f"(starting weights {generalisation.loc['starting weights', 'test (held out)']:.3f}); gaps "
      f"{gap['prompt masked']:.3f} and {gap['loss on everything']:.3f}.")
print(f"- Exercise 2: the Phi-3 style prompt has {saved:.0%} fewer prompt tokens; after the same steps its "
      f"validation loss is {phi3.val_loss:.3f} against Alpaca's {alpaca.val_loss:.3f}.")
print(f"- Exercise 3: LoRA r=1 trains {by_rank[1].trainable:,} parameters, r={LORA_R} {by_rank[LORA_R].trainable:,}; "
      f"validation loss {by_rank[1].val_loss:.3f} against {by_rank[LORA_R].val_loss:.3f}.")
print("- Exercise 4: without the stop at end-of-text the model keeps writing; generation stops there.")
print(f"- Exercise 5: 'Lima is the capital of Peru.' scores token F1 "
      f"{scores.iloc[1]['token F1']:.2f} but ROUGE-L {scores.iloc[1]['ROUGE-L']:.2f}: order matters to one of them. "
      "ROUGE-L by hand and instruct.rouge_l equal Google's rouge-score on the same words; its own words "
      f"(articles kept) give {scores.iloc[1, 2]:.2f}.")

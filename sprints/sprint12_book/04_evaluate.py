# %% [markdown]
# # Sprint 12 · 04 — What fine-tuning changed, measured
#
# Four measures, each for the original and the fine-tuned model:
#
# 1. **Perplexity on held-out book text** (the validation split): should fall.
# 2. **Perplexity on a general-text control** (modern prose unlike the book):
#    if it rises, the model traded general ability for the book's style.
# 3. **Style score**: a small classifier (character n-grams + logistic
#    regression) trained to tell book passages from control passages; the score
#    is its mean P(book) over each model's generated samples. We also report the
#    share of generated word bigrams found in the book versus in the control.
# 4. **Memorisation**: the longest run of generated tokens that appears
#    verbatim in the training text. A few tokens are common phrases; dozens mean
#    the model is reciting the book.
#
# Script: `python sprints/sprint12_book/04_evaluate.py` (after 02).

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = os.environ.get("MODEL", "")
DATA_DIR = os.environ.get("DATA_DIR", "")
SEED = int(os.environ.get("SEED", "0"))
BOOK = os.environ.get("BOOK", "tinyshakespeare")
BLOCK_SIZE = int(os.environ.get("BLOCK_SIZE", "128"))
N_SAMPLES = 0  # 0 = the profile's default (tiny: 6, full: 40)
MAX_NEW_TOKENS = 0  # 0 = the profile's default (tiny: 40, full: 80)
SAMPLING = {"do_sample": True, "temperature": 0.8, "top_k": 40, "top_p": 0.95}

# %%
import math

import pandas as pd
from IPython.display import display
from transformers import AutoModelForCausalLM

from gpt2ft import data, generation, lm_metrics, loading, packing, paths, results, settings

run = settings.resolve(PROFILE, MODEL or None, data_dir=DATA_DIR or None, seed=SEED)
print(run.describe())
book = data.load_corpus(BOOK, run)
control = data.control_text(run)
print(f"book: {book.name} from {book.source}\ncontrol: {len(control):,} characters from {control.source}")
finetuned_dir = paths.runs_dir("sprint12", run.profile, book.name) / "finetuned"
if not (finetuned_dir / "config.json").exists():
    raise FileNotFoundError(f"No fine-tuned model in {finetuned_dir}: run 02_finetune first.")
tokenizer = loading.load_tokenizer(run.model)
models = {"original": loading.load_causal_lm(run),
          "fine-tuned": AutoModelForCausalLM.from_pretrained(finetuned_dir).to(run.device).eval()}
n_samples = N_SAMPLES or (6 if run.is_tiny else 40)
max_new_tokens = MAX_NEW_TOKENS or (40 if run.is_tiny else 80)

# %% [markdown]
# ## 1–2. Perplexity on the book and on the control text
#
# Both texts are packed into the same block size. The control is tokenized
# with the same tokenizer; only its validation-sized slice is used.

# %%
corpus = packing.prepare_corpus(book.text, tokenizer, block_size=BLOCK_SIZE)
control_blocks = packing.prepare_corpus(control.text, tokenizer, block_size=BLOCK_SIZE).train
unigram = lm_metrics.unigram_loss(corpus.train_ids, corpus.validation_ids, len(tokenizer))
perplexities = pd.DataFrame({
    name: {"book validation": lm_metrics.perplexity(model, corpus.validation),
           "general control": lm_metrics.perplexity(model, control_blocks)}
    for name, model in models.items()}).T
perplexities["unigram baseline (book)"] = math.exp(unigram)
perplexities.round(1)

# %% [markdown]
# ## 3. Style: does the generated text read like the book?

# %%
prompts = packing.prompts_from(corpus.validation_ids, tokenizer, n_samples, 8)
samples = {name: [generation.generate(model, tokenizer, p, seed=SEED + i,
                                      max_new_tokens=max_new_tokens, **SAMPLING)
                  for i, p in enumerate(prompts)]
           for name, model in models.items()}
texts = {name: [tokenizer.decode(t, skip_special_tokens=True) for t in tokens]
         for name, tokens in samples.items()}
train_text = tokenizer.decode(corpus.train_ids.tolist())
style = lm_metrics.StyleClassifier(train_text, control.text, seed=SEED)

# %% [markdown]
# ## 4. Memorisation: the longest span copied from the training text

# %%
rows = {}
for name in models:
    spans = [lm_metrics.longest_copied_span(t, corpus.train_ids) for t in samples[name]]
    longest = max(range(len(spans)), key=lambda i: spans[i][0])
    length, start = spans[longest]
    rows[name] = {
        "style score P(book)": style.score(texts[name]),
        "bigrams found in book": lm_metrics.ngram_overlap(texts[name], train_text),
        "bigrams found in control": lm_metrics.ngram_overlap(texts[name], control.text),
        "longest copied span (tokens)": length,
        "mean copied span (tokens)": sum(s[0] for s in spans) / len(spans),
        "copied text": repr(tokenizer.decode(samples[name][longest][start:start + length])),
    }
scores = pd.DataFrame(rows).T
scores = scores.infer_objects().round(3)
display(scores)

# %% [markdown]
# ## The before/after table

# %%
table = pd.concat([perplexities.round(2), scores], axis=1)
table.index.name = "model"
path = results.write_table(table, "sprint12", f"evaluation_{book.name}", run,
                           title=f"Sprint 12: {book.name}, before and after fine-tuning",
                           command=f"make sprint12 PROFILE={run.profile} BOOK={BOOK}")
print("wrote", path)

# %%
# NBVAL_CHECK_OUTPUT
print("columns:", list(table.columns))
print("models:", list(table.index))

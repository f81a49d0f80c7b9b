# %% [markdown]
# # Sprint 12 · 03 — Before and after: the same prompts, seeds and settings
#
# The original and the fine-tuned model continue the same prompts with the
# same sampling settings and the same seed, so any difference comes from the
# weights. The prompts are the opening tokens of passages from the
# **validation** part of the book, which neither model was trained on.
#
# Script: `python sprints/sprint12_book/03_generate.py` (after 02).

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = os.environ.get("MODEL", "")  # the original model; empty = the profile's default
DATA_DIR = os.environ.get("DATA_DIR", "")
SEED = int(os.environ.get("SEED", "0"))
BOOK = os.environ.get("BOOK", "tinyshakespeare")
BLOCK_SIZE = int(os.environ.get("BLOCK_SIZE", "128"))
N_PROMPTS = 4
PROMPT_TOKENS = 8
MAX_NEW_TOKENS = 0  # 0 = the profile's default (tiny: 40, full: 80)
SAMPLING = {"do_sample": True, "temperature": 0.8, "top_k": 40, "top_p": 0.95}

# %%
import pandas as pd
from transformers import AutoModelForCausalLM

from gpt2ft import data, generation, loading, packing, paths, results, settings

run = settings.resolve(PROFILE, MODEL or None, data_dir=DATA_DIR or None, seed=SEED)
print(run.describe())
book = data.load_corpus(BOOK, run)
finetuned_dir = paths.runs_dir("sprint12", run.profile, book.name) / "finetuned"
if not (finetuned_dir / "config.json").exists():
    raise FileNotFoundError(f"No fine-tuned model in {finetuned_dir}: run 02_finetune first "
                            "(make sprint12 runs the notebooks in order).")
tokenizer = loading.load_tokenizer(run.model)
original = loading.load_causal_lm(run)
finetuned = AutoModelForCausalLM.from_pretrained(finetuned_dir).to(run.device).eval()
max_new_tokens = MAX_NEW_TOKENS or (40 if run.is_tiny else 80)

# %%
corpus = packing.prepare_corpus(book.text, tokenizer, block_size=BLOCK_SIZE)
prompts = packing.prompts_from(corpus.validation_ids, tokenizer, N_PROMPTS, PROMPT_TOKENS)

# %% [markdown]
# The settings both models get (one place, so they cannot drift apart):

# %%
# NBVAL_CHECK_OUTPUT
print({**SAMPLING, "max_new_tokens": max_new_tokens, "prompts": len(prompts)})

# %%
rows = []
for i, prompt in enumerate(prompts):
    row = {"prompt": prompt}
    for label, model in (("original", original), ("fine-tuned", finetuned)):
        tokens = generation.generate(model, tokenizer, prompt, seed=SEED + i,
                                     max_new_tokens=max_new_tokens, **SAMPLING)
        row[label] = tokenizer.decode(tokens, skip_special_tokens=True)
    rows.append(row)
side_by_side = pd.DataFrame(rows)
# Markdown tables can't hold raw newlines: show them as ⏎ so the layout survives.
shown = side_by_side.replace({"\n": " ⏎ ", r"\|": "/"}, regex=True)
results.show_markdown(shown.to_markdown(index=False))

# %%
path = results.write_table(shown, "sprint12", f"before_after_{book.name}", run, index=False,
                           title=f"Sprint 12: {book.name}, original vs fine-tuned, same prompts and seeds",
                           command=f"make sprint12 PROFILE={run.profile} BOOK={BOOK}")
print("wrote", path)

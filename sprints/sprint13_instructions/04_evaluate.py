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
# Measures, per answer, then averaged:
#
# - **format adherence**: *has response* (something is left after extraction),
#   *stopped* (emitted end-of-text before the token limit), *no template echo*
#   (no preamble, `### Input` or `### Response` repeated), *no new instruction*
#   (did not invent a further `### Instruction`), and *adheres* (all four);
# - **exact match** with the reference output (after lower-casing, removing
#   punctuation and articles), **token F1** (word overlap) and **ROUGE-L**
#   (longest common word subsequence), both in [0, 1];
# - **length** of the answer in words (the references' length for comparison).

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = os.environ.get("MODEL", "")  # the base model: must be the one notebook 03 fine-tuned
SEED = int(os.environ.get("SEED", "0"))
DATA_DIR = os.environ.get("DATA_DIR", "")
DATA_SOURCE = os.environ.get("DATA_SOURCE", "alpaca_instruction")
N_EVAL = int(os.environ.get("N_EVAL", "0"))  # test instructions to answer; 0 = all of the test split
MAX_NEW_TOKENS = int(os.environ.get("MAX_NEW_TOKENS", "0"))  # 0 = the profile's (tiny: 32, full: 256)

# %%
import dataclasses
import json

import pandas as pd
from IPython.display import display

from gpt2ft import instruct, loading, results, settings
from gpt2ft.data import load_instructions
from gpt2ft.paths import results_dir, runs_dir

run = settings.resolve(PROFILE, MODEL or None, data_dir=DATA_DIR or None, seed=SEED)
print(run.describe())
tag = instruct.run_tag(DATA_SOURCE, run)
max_new_tokens = MAX_NEW_TOKENS or (32 if run.is_tiny else 256)
split = instruct.split_records(load_instructions(DATA_SOURCE, run).records, seed=run.seed)
test = split["test"][:N_EVAL] if N_EVAL else split["test"]

# %% [markdown]
# ## The two models
#
# The fine-tuned model is read from the folder notebook 03 saved it to; run
# that notebook first (with the same `PROFILE`, `MODEL`, `DATA_DIR`,
# `DATA_SOURCE` and `SEED`).

# %%
finetuned_dir = runs_dir("sprint13", run.profile, tag, "finetuned")
if not (finetuned_dir / "config.json").is_file():
    raise FileNotFoundError(f"No fine-tuned model in {finetuned_dir}: run 03_finetune first "
                            "with the same PROFILE, MODEL, DATA_DIR, DATA_SOURCE and SEED.")
tokenizer = loading.load_tokenizer(run.model)
models = {
    "base": loading.load_causal_lm(run),
    "fine-tuned": loading.load_causal_lm(dataclasses.replace(run, model=str(finetuned_dir))),
}
trained = json.loads((finetuned_dir / "training.json").read_text())
print(f"fine-tuned from {trained['base model']} on {trained['data']}, "
      f"best validation loss {trained['best validation loss']:.3f}")

# %% [markdown]
# ## The same question, as both models see it
#
# Generation uses exactly the training template: the prompt ends with
# `### Response:` and a newline, and the model writes from there.

# %%
# NBVAL_CHECK_OUTPUT
prompt = instruct.format_prompt(test[0])
print(prompt)
print("prompt ends with the response header:", prompt.endswith(instruct.RESPONSE_HEADER))
print(f"{len(test)} test instructions, {sum(bool(r['input']) for r in test)} with an input; "
      f"greedy decoding, at most {max_new_tokens} new tokens, stop at id {tokenizer.eos_token_id}")

# %% [markdown]
# ## Generate, extract, score

# %%
evaluations = {name: instruct.evaluate(model, tokenizer, test, max_new_tokens=max_new_tokens)
               for name, model in models.items()}
summary = instruct.summarise(evaluations)
reference_words = sum(len(r["output"].split()) for r in test) / len(test)
print(f"reference answers: {reference_words:.1f} words on average")
summary

# %% [markdown]
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
# ## The files
#
# `evaluation_<tag>` is the table above; `responses_<tag>` holds every test
# instruction with the reference and both models' answers (`.jsonl` with the
# exact texts; `.csv`/`.md` with line breaks shown as `<br>`). The tag says
# which data they came from (`bundled` samples or `DATA_DIR`), so a run on the
# real file does not overwrite the default one.

# %%
# NBVAL_CHECK_OUTPUT
command = f"make sprint13 PROFILE={run.profile}" + (f" DATA_DIR={run.data_dir}" if run.data_dir else "")
results.write_table(summary, "sprint13", f"evaluation_{tag}", run, command=command,
                    title=f"Sprint 13: base vs fine-tuned on {len(test)} held-out instructions ({tag})")
results.write_table(responses.replace("\n", "<br>", regex=True), "sprint13", f"responses_{tag}", run,
                    command=command, index=False,
                    title=f"Sprint 13: responses of the base and the fine-tuned model ({tag})")
with open(results_dir("sprint13", run.profile) / f"responses_{tag}.jsonl", "w") as handle:
    for row in responses.to_dict(orient="records"):
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")
print("responses columns:", list(responses.columns))
print("evaluation columns:", list(summary.columns))

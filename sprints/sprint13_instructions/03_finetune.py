# %% [markdown]
# # Sprint 13 · 03 — Instruction fine-tuning, and what the prompt mask changes
#
# We fine-tune the whole model with the project's training loop
# (`gpt2ft.training`: AdamW, warm-up then linear decay, gradient clipping,
# evaluation on the validation split, atomic checkpoints, resume) on the
# encoded records of notebook 02, with the loss on the **response only**.
#
# Then, as a comparison, the same model from the same starting weights with the
# same settings, trained with the **loss on everything** (prompt included). Both
# are evaluated on the same thing: the validation loss on response tokens.
#
# **Profiles.** `full` trains `gpt2` (or `MODEL=gpt2-medium`) for 2 epochs with
# batch 8 and learning rate 5e-5, on a GPU when there is one. `tiny` trains the
# small random GPT-2 for at most 40 steps at a high learning rate: its losses
# fall, but it learns little more than the shape of an answer (smoke numbers).

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = os.environ.get("MODEL", "")  # gpt2 by default; gpt2-medium, or a local folder
SEED = int(os.environ.get("SEED", "0"))
DATA_DIR = os.environ.get("DATA_DIR", "")
DATA_SOURCE = os.environ.get("DATA_SOURCE", "alpaca_instruction")
MAX_LENGTH = int(os.environ.get("MAX_LENGTH", "0"))  # 0 = the profile's default (tiny: 128, full: 512)
LEARNING_RATE = float(os.environ.get("LEARNING_RATE", "0"))  # 0 = the profile's (tiny: 5e-3, full: 5e-5)
EPOCHS = int(os.environ.get("EPOCHS", "0"))  # 0 = 2
BATCH_SIZE = int(os.environ.get("BATCH_SIZE", "0"))  # 0 = the profile's (tiny: 4, full: 8)
MAX_STEPS = int(os.environ.get("MAX_STEPS", "0"))  # 0 = the profile's (tiny: at most 40, full: no cap)
COMPARE_UNMASKED = os.environ.get("COMPARE_UNMASKED", "1") == "1"  # also train with loss on everything

# %%
import json
import math

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from gpt2ft import batching, instruct, loading, results, settings
from gpt2ft.data import load_instructions
from gpt2ft.paths import runs_dir
from gpt2ft.processes import is_main_process
from gpt2ft.training import LivePlot, TrainConfig, train

run = settings.resolve(PROFILE, MODEL or None, data_dir=DATA_DIR or None, seed=SEED)
print(run.describe())
tag = instruct.run_tag(DATA_SOURCE, run)
tokenizer = loading.load_tokenizer(run.model)
data = load_instructions(DATA_SOURCE, run)
split = instruct.split_records(data.records, seed=run.seed)
print(f"data: {data.source} ({len(data.problems)} invalid records skipped)")
command = f"make sprint13 PROFILE={run.profile}" + (f" DATA_DIR={run.data_dir}" if run.data_dir else "")

# %% [markdown]
# ## The encoded splits and the settings
#
# Training rows exist twice: prompt masked (labels `-100` on the prompt) and
# unmasked (loss on everything). The validation rows are **masked in both runs**,
# so both runs' evaluation loss is the response-token loss and the two can be
# compared directly.

# %%
# NBVAL_CHECK_OUTPUT
max_length = min(MAX_LENGTH or (128 if run.is_tiny else 512), loading.load_config(run).n_positions)
train_masked, truncated = instruct.encode_records(split["train"], tokenizer, max_length)
train_everything, _ = instruct.encode_records(split["train"], tokenizer, max_length, mask_prompt=False)
val_masked, val_truncated = instruct.encode_records(split["validation"], tokenizer, max_length)
val_everything, _ = instruct.encode_records(split["validation"], tokenizer, max_length, mask_prompt=False)
print(f"train {len(train_masked)} rows ({truncated} truncated), validation {len(val_masked)} rows "
      f"({val_truncated} truncated), max_length {max_length}")

learning_rate = LEARNING_RATE or (5e-3 if run.is_tiny else 5e-5)
epochs = EPOCHS or 2
batch_size = BATCH_SIZE or (4 if run.is_tiny else 8)
cap = MAX_STEPS or (40 if run.is_tiny else None)
epoch_steps = math.ceil(len(train_masked) / batch_size) * epochs
max_steps = cap if cap and cap < epoch_steps else None  # the loop runs max_steps exactly when given
total_steps = max_steps or epoch_steps
eval_every = max(1, total_steps // 5)
settings_view = {"learning_rate": learning_rate, "weight_decay": 0.1, "batch_size": batch_size,
                 "num_epochs": epochs, "max_steps": max_steps, "optimizer steps": total_steps,
                 "warmup_ratio": 0.1, "scheduler": "linear", "max_grad_norm": 1.0,
                 "eval_every": eval_every}
print(settings_view)


def config(name: str) -> TrainConfig:
    """One run folder per run *and* settings: a killed run resumes, changed settings start afresh."""
    folder = runs_dir("sprint13", run.profile, tag, f"{name}-lr{learning_rate:g}-bs{batch_size}-ep{epochs}"
                      f"-steps{max_steps or 'all'}-len{max_length}-seed{run.seed}")
    return TrainConfig(output_dir=folder, learning_rate=learning_rate, weight_decay=0.1,
                       batch_size=batch_size, num_epochs=epochs, max_steps=max_steps, warmup_ratio=0.1,
                       scheduler="linear", max_grad_norm=1.0, eval_every=eval_every, save_every=eval_every,
                       log_every=max(1, eval_every // 2), seed=run.seed, load_best_at_end=True,
                       keep_checkpoints=2, resume=True)


collate = batching.DynamicPadding(pad_token_id=tokenizer.eos_token_id, max_length=max_length,
                                  pad_to_multiple_of=8 if run.device == "cuda" else None)

# %% [markdown]
# ## Training with the loss on the response only
#
# The plot redraws as training goes (train loss every few steps, validation
# loss at each evaluation). The best weights by validation loss are kept in
# the run folder's `best/` and loaded at the end. Before training, the
# validation loss of the starting model is the reference point.

# %%
model = loading.load_causal_lm(run)
before = instruct.label_loss(model, val_masked, tokenizer.eos_token_id)
print(f"validation loss (response tokens) before training: {before:.3f}")
masked_run = train(model, train_masked, val_masked, config("response-only"), collate_fn=collate,
                   callbacks=[LivePlot(title="loss on the response only")], max_length=max_length)

# %%
evals = masked_run.history.dropna(subset=["eval_loss"]).set_index("step")["eval_loss"]
first, best = evals.iloc[0], masked_run.best_eval_loss
print(f"validation loss (response tokens): before {before:.3f}, first evaluation {first:.3f} "
      f"(step {evals.index[0]}), best {best:.3f} (step {evals.idxmin()})")
print(f"{masked_run.steps} steps in {masked_run.elapsed_s:.1f} s ({masked_run.tokens_per_s:,.0f} tokens/s)"
      + (f"; resumed from {masked_run.resumed_from.name}" if masked_run.resumed_from else ""))
masked_run.history.round(4)

# %% [markdown]
# ## The comparison: loss on everything
#
# Same starting weights, same data order and settings; only the labels differ.
# Its evaluation loss is still measured on response tokens only.

# %%
runs = {"response only (prompt masked)": (masked_run, train_masked)}
if COMPARE_UNMASKED:
    everything_run = train(loading.load_causal_lm(run), train_everything, val_masked,
                           config("loss-on-everything"), collate_fn=collate,
                           callbacks=[LivePlot(title="loss on everything")], max_length=max_length)
    runs["loss on everything"] = (everything_run, train_everything)

# %% [markdown]
# Both runs with their best weights: the response-token validation loss (what
# an answer costs; both runs start from the same weights, so from the same
# value) and the all-token validation loss (prompt included). The
# unmasked run spends most of its gradient on the template and the
# instructions, which it then predicts well; what matters for answering is the
# first column.

# %%
comparison = pd.DataFrame({
    name: {
        "label tokens in training": sum(sum(y != instruct.IGNORE_INDEX for y in row) for row in rows["labels"]),
        "response-token val loss before training": before,
        "response-token val loss (best)": result.best_eval_loss,
        "all-token val loss": instruct.label_loss(result.model, val_everything, tokenizer.eos_token_id),
        "steps": result.steps,
    } for name, (result, rows) in runs.items()}).T
comparison.index.name = "labels"
comparison = comparison.astype({"label tokens in training": int, "steps": int}).round(3)
for name, (result, _) in runs.items():
    print(f"{name}: {result.elapsed_s:.1f} s" + (f" (resumed from {result.resumed_from.name})"
                                                 if result.resumed_from else ""))
display(comparison)
results.write_table(comparison, "sprint13", f"masking_{tag}", run,
                    title=f"Sprint 13: response-only loss vs loss on everything ({tag})",
                    command=command)

fig, ax = plt.subplots(figsize=(6.5, 3.6))
for name, (result, _) in runs.items():
    h = result.history
    ax.plot(h["step"], h["train_loss"], alpha=0.5, label=f"{name}: train loss (its own labels)")
    e = h.dropna(subset=["eval_loss"])
    ax.plot(e["step"], e["eval_loss"], "o-", label=f"{name}: val loss, response tokens")
ax.set_xlabel("optimizer step")
ax.set_ylabel("loss (nats/token)")
ax.legend(fontsize=7)
fig.tight_layout()
results.save_figure(fig, "sprint13", f"training_{tag}", run)
plt.show()
history = pd.concat({name: result.history for name, (result, _) in runs.items()}, names=["labels", "row"])
path = results.write_table(history.reset_index(level="row", drop=True).round(4), "sprint13", f"training_{tag}", run,
                           title=f"Sprint 13: training history ({tag})",
                           command=command)
print("wrote", path.name, "and the masking comparison")

# %% [markdown]
# ## The fine-tuned model, saved for notebook 04
#
# The response-only model with its best weights goes to
# `runs/sprint13/<profile>/<tag>/finetuned/` (weights, config and tokenizer, as
# `save_pretrained` writes them), next to a note of how it was trained. Under
# `accelerate launch` every process runs this notebook; only the main one writes
# files (`results.write_table` and `save_figure` do the same).

# %%
finetuned_dir = runs_dir("sprint13", run.profile, tag, "finetuned")
if is_main_process():
    masked_run.model.save_pretrained(finetuned_dir)
    tokenizer.save_pretrained(finetuned_dir)
    (finetuned_dir / "training.json").write_text(json.dumps({
        "base model": run.model, "data": data.source, "seed": run.seed, "max_length": max_length,
        **settings_view, "best validation loss": best, "best checkpoint": str(masked_run.best_checkpoint),
    }, indent=2) + "\n")
print("saved the fine-tuned model to", finetuned_dir.relative_to(runs_dir()))

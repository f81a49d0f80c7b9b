# %% [markdown]
# # Sprint 11 · 05 — Which weights to train: head, last k blocks, full, LoRA
#
# Fine-tuning does not have to update all 124M weights of GPT-2. Four
# strategies, on the same data, split and seed, each from the same starting
# weights:
#
# | strategy | what trains |
# |---|---|
# | `head` | only the new `score` layer: the pre-trained features stay as they are (a linear probe) |
# | `last_k` | `score`, the last k transformer blocks and the final layer norm |
# | `full` | every weight |
# | `lora` | low-rank adapters (rank 8) on the attention projections (`c_attn`) plus `score`, via `peft` |
#
# Measured for each: test accuracy and macro-F1, trainable parameters, training
# time, and memory: the peak measured while training (on a GPU the CUDA peak;
# on a CPU the growth of the process's resident memory) next to the computed
# size of weights + gradients + AdamW state, which is what the strategies change.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = os.environ.get("MODEL", "")
SEED = int(os.environ.get("SEED", "0"))
DATA_DIR = os.environ.get("DATA_DIR", "")
DATASET = "sst2"
EPOCHS = 0  # 0 = the profile's default (tiny: 2, full: 2)
BATCH_SIZE = 0  # 0 = tiny: 16, full: 32
LAST_K = 0  # 0 = tiny: 1 of 2 blocks, full: 2 of 12
MAX_EXAMPLES = 0  # cap on every split; 0 = all (full: 20000 keeps four runs within an hour on a GPU)
# A frozen body needs a larger step than a full fine-tune; one rate per strategy (tiny, full).
LEARNING_RATES = {"head": (1e-2, 1e-3), "last_k": (2e-3, 1e-4), "full": (1e-3, 5e-5), "lora": (5e-3, 5e-4)}

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import display

from gpt2ft import classify, loading, paths, results, settings, strategies
from gpt2ft.data import load_classification

run = settings.resolve(PROFILE, MODEL or None, data_dir=DATA_DIR or None, seed=SEED)
print(run.describe())
if run.is_tiny:
    torch.set_num_threads(1)  # tiny models: one thread beats two on a shared 2-core CPU
epochs = EPOCHS or 2
batch_size = BATCH_SIZE or (16 if run.is_tiny else 32)
last_k = LAST_K or (1 if run.is_tiny else 2)
max_examples = MAX_EXAMPLES or (None if run.is_tiny else 20_000)

data = load_classification(DATASET, run, max_examples=max_examples)
tokenizer = loading.load_tokenizer(run.model)
probe = classify.build_classifier(run.model, data.label_names, tokenizer, seed=SEED)
texts = classify.model_texts(data)
max_length = classify.choose_max_length(classify.token_lengths(tokenizer, texts["train"]["text"]), 95,
                                        cap=classify.context_length(probe.config))
encoded = classify.encode(texts, tokenizer, max_length)
print(f"{DATASET}: {({k: len(v) for k, v in encoded.items()})}, max_length {max_length}, "
      f"{epochs} epochs, batch {batch_size}, last_k k={last_k}")

# %% [markdown]
# ## What each strategy leaves trainable
#
# Counted on fresh copies of the model (the training engine applies the
# strategy with `gpt2ft.strategies.apply_strategy`). The embedding matrix
# (50,257 × n_embd) is a large share of GPT-2: only `full` trains it.

# %%
# NBVAL_CHECK_OUTPUT
plans = {"head": {}, "last_k": {"last_k": last_k}, "full": {}, "lora": {}}
counts = {}
for name, extra in plans.items():
    fresh = classify.build_classifier(run.model, data.label_names, tokenizer, seed=SEED)
    fresh = strategies.apply_strategy(fresh, name, extra.get("last_k"))
    counts[name] = strategies.count_parameters(fresh)
trainable = pd.DataFrame(counts).T.astype({"trainable": int, "total": int}).round({"trainable_pct": 3})
trainable

# %% [markdown]
# ## Train each one
#
# Same split, same seed, same epochs and batch size; the starting weights are
# identical (the head is initialised from `SEED`). Evaluation each epoch on the
# validation split, the best epoch kept, then the test split.

# %%
rows, histories = [], {}
for name, extra in plans.items():
    lr = LEARNING_RATES[name][0 if run.is_tiny else 1]
    model = classify.build_classifier(run.model, data.label_names, tokenizer, seed=SEED)
    print(f"-- {name} (learning rate {lr:g})")
    with classify.MemoryMonitor(run.device) as memory:
        result = classify.train_classifier(
            model, encoded["train"], encoded["validation"], data.label_names,
            paths.runs_dir("sprint11", run.profile, f"strategy-{name}"), epochs=epochs,
            learning_rate=lr, batch_size=batch_size, seed=SEED, max_length=max_length,
            strategy=name, progress_bar=False, **extra)
    metrics, _ = classify.evaluate(result.model, encoded["test"], tokenizer, data.label_names)
    count = strategies.count_parameters(result.model)
    histories[name] = result.history.dropna(subset=["eval_loss"])
    rows.append({"strategy": name + (f" (k={last_k})" if name == "last_k" else ""),
                 "learning rate": lr, "accuracy": round(metrics["accuracy"], 4),
                 "macro-F1": round(metrics["macro_f1"], 4),
                 "trainable params": int(count["trainable"]),
                 "trainable %": round(count["trainable_pct"], 3),
                 "time (s)": round(result.elapsed_s, 1),
                 "peak memory (MB, measured)": round(memory.peak_mb, 1),
                 "weights+grads+AdamW (MB)": round(classify.training_state_mb(result.model), 1)})
table = pd.DataFrame(rows).set_index("strategy")
table

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, h in histories.items():
    ax.plot(h["epoch"], h["eval_accuracy"], "o-", label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("validation accuracy")
ax.set_title(f"{DATASET}: strategies ({run.profile})")
ax.legend()
fig.tight_layout()
results.save_figure(fig, "sprint11", f"strategies_{DATASET}", run)
plt.show()

# %%
path = results.write_table(table, "sprint11", f"strategies_{DATASET}", run,
                           title=f"Sprint 11: fine-tuning strategies compared on {DATASET}",
                           command=f"make sprint11 PROFILE={run.profile}")
print("wrote", path)
display(table[["accuracy", "macro-F1", "trainable params", "time (s)"]])

# %% [markdown]
# ## Which one to pick
#
# - **head only** is a linear probe of the pre-trained features: the cheapest
#   (no backward pass through the body, no optimizer state for it) and the
#   weakest when the task needs features the language model did not already
#   make linearly separable. Good for a quick check of what pre-training gives.
# - **last k blocks** adapts the top of the network, where features are most
#   task-specific, at a fraction of the memory; a good default on small data,
#   where full fine-tuning overfits.
# - **full** fine-tuning is usually the most accurate with enough data and
#   memory, and the most expensive (every weight has a gradient and two AdamW
#   moments: 4× the weights' memory).
# - **LoRA** trains well under 1 % of the weights and usually comes close to
#   full fine-tuning; each task's adapter is a few MB, so one base model can
#   serve many tasks. It still runs the backward pass through every block, so
#   it saves memory more than time.
#
# The random tiny model cannot show the quality side (its "pre-trained"
# features are noise, so head-only has nothing to probe); the trainable counts
# and the memory column are the same story at every size. See
# `notes/findings.md` for the measured picture on real weights.

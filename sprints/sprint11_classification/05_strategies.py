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
# | `lora` | low-rank adapters (rank `LORA_R`) on the attention projections (`c_attn`), and `score` |
#
# A [linear probe](../../notes/glossary.md#linear-probe) trains only a linear
# layer on frozen features; [LoRA](../../notes/glossary.md#lora) is taught below.
#
# **You will learn**
# - how many weights each strategy trains, counted by hand from the
#   architecture and checked against the library;
# - what LoRA computes (the frozen layer plus a low-rank update), by hand, and
#   why merging the adapter into the weights changes no prediction;
# - which strategy to pick when, with this run's table and the sizes for `gpt2`.
#
# Measured for each run: test accuracy and macro-F1, trainable parameters,
# training time, and memory: the peak measured while training (on a GPU the
# CUDA peak; on a CPU the growth of the process's resident memory) next to the
# computed size of weights + gradients + AdamW state, which is what the
# strategies change.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = ""  # "" = gpt2 (full) or a random tiny GPT-2 (tiny); or a hub name / local folder
DATA_DIR = ""  # "" = the hub (full) or the bundled samples (tiny); e.g. ../shared/data (from the repository root)
SEED = 0
DATASET = "sst2"
EPOCHS = 2
BATCH_SIZE = 32
MAX_STEPS = 0  # 0 = no cap (EPOCHS decides)
MAX_BATCH_TOKENS = 0  # a batch with more padded tokens is cut into micro-batches; 0 = the engine's choice
RESUME = True  # a rerun of a strategy's run continues from its last checkpoint; RESUME=0 starts over
MAX_EXAMPLES = 20000  # rows per split (a stratified draw): four runs within an hour on a GPU; 0 = all
LAST_K = 2  # blocks trained by last_k (of 12 in gpt2)
LORA_R = 8  # rank of the LoRA update
# A frozen body needs a larger step than a full fine-tune: one learning rate per strategy.
LR_HEAD = 1e-3
LR_LAST_K = 1e-4
LR_FULL = 5e-5
LR_LORA = 5e-4

# %%
import math
from dataclasses import replace

import matplotlib.pyplot as plt
import pandas as pd
import torch
from transformers import AutoModelForSequenceClassification, GPT2Config, GPT2ForSequenceClassification

from gpt2ft import classify
from gpt2ft.core import models, paths
from gpt2ft.session import loading, results, settings
from gpt2ft.session.data import CLASSIFICATION_NAMES, load_classification
from gpt2ft.training import strategies
from gpt2ft.training.memory import MemoryMonitor, training_state_mb

# The tiny model (2 blocks, random weights) learns from scratch: 10-20x larger rates, all rows.
run = settings.configure(globals(), tiny=dict(BATCH_SIZE=16, MAX_EXAMPLES=0, LAST_K=1, LR_HEAD=1e-2,
                                              LR_LAST_K=2e-3, LR_FULL=1e-3, LR_LORA=5e-3),
                         choices=dict(DATASET=CLASSIFICATION_NAMES))
rates = {"head": LR_HEAD, "last_k": LR_LAST_K, "full": LR_FULL, "lora": LR_LORA}

data = load_classification(DATASET, run, max_examples=MAX_EXAMPLES)
tokenizer = loading.load_tokenizer(run.model)
probe = classify.build_classifier(run.model, data.label_names, tokenizer, seed=SEED)
texts = data.model_texts()
max_length = classify.choose_max_length(classify.token_lengths(tokenizer, texts["train"]["text"]), 95,
                                        cap=models.context_length(probe))
encoded = classify.encode(texts, tokenizer, max_length)
print(f"{DATASET}: {({k: len(v) for k, v in encoded.items()})}, max_length {max_length}, "
      f"{EPOCHS} epochs, batch {BATCH_SIZE}, last_k k={LAST_K}, LoRA rank {LORA_R}")

# %% [markdown]
# ## What each strategy leaves trainable
#
# By hand, from the architecture (d = `n_embd`, L blocks, 2 labels): the head
# is a d × 2 matrix; a GPT-2 block holds 12d² + 13d weights (attention: d × 3d
# and d × d with biases; MLP: d × 4d and 4d × d with biases; two layer norms);
# the final layer norm 2d; a rank-r LoRA update of `c_attn` (d → 3d) adds
# A (r × d) and B (3d × r) per block, 4dr.

# %%
c = probe.config
d, L, labels = c.n_embd, c.n_layer, c.num_labels
by_hand = {"head": d * labels,
           "last_k": LAST_K * (12 * d * d + 13 * d) + 2 * d + d * labels,
           "full": sum(p.numel() for p in probe.parameters()),
           "lora": L * 4 * d * LORA_R + d * labels}
counts = {}
for name in rates:
    fresh = classify.build_classifier(run.model, data.label_names, tokenizer, seed=SEED)
    counts[name] = strategies.count_parameters(strategies.apply_strategy(fresh, name, LAST_K, lora_r=LORA_R))
trainable = pd.DataFrame(counts).T.astype({"trainable": int, "total": int}).round({"trainable_pct": 3})
trainable.insert(1, "by hand", pd.Series(by_hand))
trainable

# %%
# NBVAL_CHECK_OUTPUT
print("trainable weights counted by hand == the library's, for every strategy:",
      all(trainable["by hand"] == trainable["trainable"]))

# %% [markdown]
# **Reading this output.** The counts agree, so `apply_strategy` freezes
# exactly what the table at the top says. The shares are this model's: at
# `tiny` (2 blocks of 64 dimensions) the 50,257 × 64 embedding matrix is most
# of the model, so even `last_k` trains under 2 % of it; for `gpt2` the same
# formulas give the numbers at the end of this notebook. LoRA's `total` is
# larger than the others': the adapters are extra weights (and `peft` keeps a
# trainable copy of `score`).
#
# ## Train each one
#
# Same split, same seed, same epochs and batch size; the starting weights are
# identical (the head is initialised from `SEED`). Evaluation each epoch on the
# validation split, the best epoch kept, then the test split. Each run keeps a
# checkpoint at the end of every epoch in its own folder (`strategy-<name>-<8 hex
# digits>`, named by what it trains from): run the notebook again and each
# resumes from its last checkpoint instead of training again (`RESUME=0`
# starts over). The time and memory columns measure that call, so a finished
# run, resumed, shows almost none (the run prints "resuming from ...").

# %%
# The recipe of `04` with full fine-tuning; each strategy changes the run's name,
# the learning rate and what trains.
steps_per_epoch = math.ceil(len(encoded["train"]) / BATCH_SIZE)
config = run.train_config("strategy-full", learning_rate=LR_FULL, eval_every="epoch", save_every="epoch",
                          load_best_at_end=True, log_every=max(1, min(10, steps_per_epoch // 4)),
                          strategy="full", lora_r=LORA_R, progress_bar=False)

rows, histories, trained, folders = [], {}, {}, {}
for name, lr in rates.items():
    model = classify.build_classifier(run.model, data.label_names, tokenizer, seed=SEED)
    print(f"-- {name} (learning rate {lr:g})")
    cfg = replace(config, run_name=f"strategy-{name}", learning_rate=lr, strategy=name,
                  last_k=LAST_K if name == "last_k" else None)
    with MemoryMonitor(run.device) as memory:
        result = classify.train_classifier(model, encoded["train"], encoded["validation"], data.label_names,
                                           cfg, max_length=max_length)
    metrics, _ = classify.evaluate_classifier(result.model, encoded["test"], tokenizer, data.label_names)
    count = strategies.count_parameters(result.model)
    histories[name] = result.history.dropna(subset=["eval_loss"])
    trained[name], folders[name] = result.model, result.run_dir
    rows.append({"strategy": name + (f" (k={LAST_K})" if name == "last_k" else ""),
                 "learning rate": lr, "accuracy": round(metrics["accuracy"], 4),
                 "macro-F1": round(metrics["macro_f1"], 4),
                 "trainable params": int(count["trainable"]),
                 "trainable %": round(count["trainable_pct"], 3),
                 "time (s)": round(result.elapsed_s, 1),
                 "peak memory (MB, measured)": round(memory.peak_mb, 1),
                 "weights+grads+AdamW (MB)": round(training_state_mb(result.model), 1)})
table = pd.DataFrame(rows).set_index("strategy")
table

# %% [markdown]
# **Reading this output.** The columns to compare strategies by are the
# trainable parameters and the computed weights + gradients + AdamW memory:
# they depend only on the strategy. Time and measured peak memory are noisy
# at `tiny` (under a second and tens of MB on a shared CPU, where the
# process's memory also holds what earlier cells allocated, so the measured
# peak need not follow the strategy; 0 means the process did not grow during
# that run). The accuracy column is a
# smoke number: the tiny body is random, so there are no pre-trained features
# for `head`, `last_k` or `lora` to build on; only `full` trains the token
# embeddings, where a random model can learn the samples' class words from
# scratch, and it scores highest here. With real `gpt2` all four start from
# useful features; the usual ordering is full ≥ LoRA ≥ last k ≥ head, with
# LoRA close to full on SST-2-like tasks (the measured picture needs real
# weights on a GPU: `make sprint11 PROFILE=full`).

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
for (name, h), style in zip(histories.items(), ["o-", "s--", "^-.", "d:"], strict=False):
    ax.plot(h["epoch"], h["eval_accuracy"], style, label=name, alpha=0.8)  # styles keep equal lines visible
ax.set_xlabel("epoch")
ax.set_ylabel("validation accuracy")
ax.set_title(f"{DATASET}: strategies ({run.profile})")
ax.legend()
fig.tight_layout()
results.save_figure(fig, "sprint11", f"strategies_{DATASET}", run)
plt.show()

# %% [markdown]
# **Reading this output.** Validation accuracy after each epoch, one line per
# strategy (lines with the same values lie on top of each other). At `tiny`
# the validation split is 18 sentences, so each point moves in steps of 1/18;
# the lines say which strategies learn at all in two epochs, not by how much
# one beats another. They need not match the test accuracy of the table
# above: 18 validation sentences against 60 test sentences, and at `tiny` the
# two can differ by tens of points.

# %%
path = results.write_table(table, "sprint11", f"strategies_{DATASET}", run,
                           title=f"Sprint 11: fine-tuning strategies compared on {DATASET}")
print("wrote", paths.shown(path))

# %% [markdown]
# ## LoRA by hand
#
# LoRA leaves a weight matrix W frozen and learns a low-rank update: the layer
# computes W x + (α / r) · B A x, with A (r × d) and B (3d × r) the only
# trainable parts (B starts at zero, so training starts from the pre-trained
# model; α is peft's `lora_alpha`, 16 here, so α / r = 2 at rank 8). Below,
# the first block's `c_attn` of the trained LoRA model: its output by hand
# from the frozen layer and the two small matrices, against peft's layer; then
# the update merged into W (what `export_for_pipeline` does before saving),
# against the adapter model's logits.

# %%
lora = trained["lora"].eval()
layer = lora.get_base_model().transformer.h[0].attn.c_attn  # a peft LoRA layer around GPT-2's Conv1D
A, B, scale = layer.lora_A["default"], layer.lora_B["default"], layer.scaling["default"]
x = torch.randn(2, 5, d, generator=torch.Generator().manual_seed(SEED)).to(A.weight.device)
with torch.no_grad():
    by_hand_out = layer.base_layer(x) + B(A(x)) * scale  # W x + (alpha / r) B A x
    peft_out = layer(x)
    batch = tokenizer(list(encoded["test"]["text"][:4]), padding=True, return_tensors="pt").to(A.weight.device)
    adapter_logits = lora(**batch).logits
print(f"A {tuple(A.weight.shape)}, B {tuple(B.weight.shape)}, alpha / r = {scale:g}; "
      f"B is no longer zero: {B.weight.abs().max().item() > 0}")

# %%
merged_folder = classify.export_for_pipeline(lora, tokenizer, folders["lora"] / "merged")  # in the LoRA run's folder
merged = AutoModelForSequenceClassification.from_pretrained(merged_folder).to(A.weight.device).eval()
with torch.no_grad():
    merged_logits = merged(**batch).logits
print("merged model:", type(merged).__name__, "with", f"{sum(p.numel() for p in merged.parameters()):,}",
      "weights (the base model's count: no adapter left)")

# %%
# NBVAL_CHECK_OUTPUT
print("W x + (alpha / r) B A x by hand == peft's layer (below 1e-5):",
      (by_hand_out - peft_out).abs().max().item() < 1e-5)
print("merged into the weights, the same logits (below 1e-4):",
      (merged_logits - adapter_logits).abs().max().item() < 1e-4)

# %% [markdown]
# **Reading this output.** The layer is exactly "frozen layer plus scaled
# low-rank product", and merging the product into W gives the same model (to
# float rounding), with no adapter left: a merged LoRA model costs nothing
# extra at inference. What `peft` adds around these few lines:
#
# | `peft` adds | when you need it |
# |---|---|
# | wrapping every target module (`c_attn` of all L blocks), freezing the rest | always (by hand: each layer) |
# | dropout on the LoRA path (`lora_dropout`) | small data, as a regulariser |
# | saving only the adapter (about a megabyte for `gpt2` at rank 8) | one base model, many tasks |
# | `merge_and_unload` (used by `export_for_pipeline`) | serving: one plain model, no extra cost |
# | several adapters on one model, switched by name | multi-task serving |
#
# ## Which one to pick
#
# The same formulas for `gpt2` (124M weights, 2 labels), built on PyTorch's
# `meta` device (shapes only, no memory, no download), with the fp32 memory of
# weights + gradients + AdamW's two moments (activations come on top):

# %%
sizes = {}
for name in rates:
    with torch.device("meta"):
        full_size = strategies.apply_strategy(GPT2ForSequenceClassification(GPT2Config(num_labels=2)), name,
                                              2, lora_r=LORA_R)
    n = strategies.count_parameters(full_size)
    sizes[name + (" (k=2)" if name == "last_k" else "")] = {
        "trainable": f"{int(n['trainable']):,}", "share": f"{n['trainable_pct']:.3f} %",
        "weights+grads+AdamW (MiB)": round(training_state_mb(full_size))}
pd.DataFrame(sizes).T

# %% [markdown]
# **Reading this output.** For `gpt2` the head is 1,536 weights, two blocks
# 11 %, LoRA rank 8 about 0.24 %, and full fine-tuning needs four times the
# weights' memory for its training state (1.9 GiB, against about 0.5 GiB for
# head only and LoRA and 0.6 GiB for the last two blocks).
#
# - **full** fine-tuning: the most accurate with enough labelled data
#   (thousands of examples) and memory; every weight has a gradient and two
#   AdamW moments, and every task needs its own copy of the model.
# - **LoRA**: the default when memory or storage matter: 0.24 % of the
#   weights train, the adapter is about a megabyte, one base model serves many
#   tasks, and a merged model costs nothing extra. The backward pass still
#   runs through every block, so it saves memory far more than time.
# - **last k blocks**: small data or a tight budget; the top blocks are the
#   most task-specific, the lower ones stay as pre-trained (less overfitting,
#   a shorter backward pass).
# - **head only**: a linear probe, cheapest by far and a quick measure of how
#   much the frozen features already separate the classes; the weakest when
#   they don't, and the most prone to the one-class failure of `06_imbalance`.
#
# ## What you learned

# %%
for strategy, row in table.iterrows():
    print(f"- {strategy}: {int(row['trainable params']):,} weights trained ({row['trainable %']} %), "
          f"{row['weights+grads+AdamW (MB)']} MB of training state, test accuracy {row['accuracy']}"
          + (" (smoke number)" if run.is_tiny else ""))

# %% [markdown]
# - What trains is a choice: from a d × 2 head to every weight; the counts
#   follow from the architecture.
# - LoRA learns a low-rank update beside frozen weights and merges back into
#   them without changing a prediction.
# - Pick by data size, memory and how many tasks share the model; compare
#   strategies at the same budget on the same split.
#
# Next: `06_imbalance`, when the model predicts one class for everything.

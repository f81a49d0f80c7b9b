# %% [markdown]
# # Sprint 11 · 05 — Which weights to train: head, last k blocks, full, LoRA
#
# Fine-tuning does not have to update every weight of the model. Four
# strategies, on the same data, split and seed, each from the same starting
# weights:
#
# | strategy | what trains |
# |---|---|
# | `head` | only the new `score` layer: the pre-trained features stay as they are (a linear probe) |
# | `last_k` | `score`, the last k transformer blocks and the final norm |
# | `full` | every weight |
# | `lora` | low-rank adapters (rank `LORA_R`) on the attention projections, and `score` |
#
# (The attention projections: `c_attn` in GPT-2; `q_proj`, `k_proj`, `v_proj` and
# `o_proj` in SmolLM2.)
#
# A [linear probe](../../notes/glossary.md#linear-probe) trains only a linear
# layer on frozen features; [LoRA](../../notes/glossary.md#lora) is taught below.
#
# **You will learn**
# - how many weights each strategy trains, counted by hand from the
#   architecture (GPT-2's or SmolLM2's) and checked against the library;
# - what each strategy reaches on SST-2 with the same number of steps, and
#   what it costs in memory;
# - what LoRA computes (the frozen layer plus a low-rank update), by hand, and
#   why merging the adapter into the weights changes no prediction;
# - which strategy to pick when, with this run's table and the sizes for `gpt2`.
#
# The outputs are SmolLM2-135M-Instruct's (the small profile: a real
# pre-trained model of GPT-2's size on a CPU; Sprint 10 `01` says why not
# GPT-2's), fine-tuned on 400 SST-2 sentences; each reading says what `gpt2`
# should show.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | small | full | auto
MODEL = ""  # "" = gpt2 (full), SmolLM2-135M-Instruct (small), a random tiny GPT-2 (tiny); or a hub name / folder
DATA_DIR = ""  # "" = the hub (full), ../shared/data (small) or the bundled samples (tiny)
SEED = 0
DATASET = "sst2"
EPOCHS = 2
BATCH_SIZE = 32
MAX_STEPS = 0  # 0 = no cap (EPOCHS decides)
MAX_BATCH_TOKENS = 0  # a batch with more padded tokens is cut into micro-batches; 0 = the engine's choice
RESUME = True  # a rerun of a strategy's finished run loads it instead of training again; RESUME=0 starts over
MAX_EXAMPLES = 20000  # rows per split (a stratified draw): four runs within an hour on a GPU; 0 = all
LAST_K = 2  # blocks trained by last_k (of 12 in gpt2, 30 in SmolLM2)
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

# tiny: a random 2-block model learns from scratch: 10-20x larger rates, all rows.
# small: SmolLM2 on one CPU thread: 400 rows per split, two epochs of 25 steps, and rates
# 2-10x the full run's, so that each strategy moves within 50 steps.
run = settings.configure(globals(), tiny=dict(BATCH_SIZE=16, MAX_EXAMPLES=0, LAST_K=1, LR_HEAD=1e-2,
                                              LR_LAST_K=2e-3, LR_FULL=1e-3, LR_LORA=5e-3),
                         small=dict(BATCH_SIZE=16, MAX_EXAMPLES=400, LR_HEAD=1e-2, LR_LAST_K=5e-4,
                                    LR_FULL=1e-4, LR_LORA=2e-3),
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
# By hand, from the config (d the width, L blocks, 2 labels). The head is a
# d × 2 matrix in both models. A block differs:
#
# - **GPT-2**: attention d × 3d (query, key, value in one `c_attn`) and d × d,
#   MLP d × 4d and 4d × d, each with a bias, and two layer norms with a gain
#   and a bias: 12d² + 13d weights. Token and position embeddings; a final
#   layer norm of 2d. LoRA on `c_attn` (d → 3d) adds A (r × d) and B (3d × r):
#   4dr a block.
# - **SmolLM2** (Llama family): query and output d × d, key and value d × kv
#   (kv = 3 heads of 64 = 192: grouped-query attention shares 3 key/value
#   heads among the 9 query heads), a gated MLP of three d × f matrices
#   (f = 1,536), no biases, and two RMS norms with a gain only: 2d² + 2d·kv +
#   3d·f + 2d. Token embeddings only (rotary positions have no weights); a
#   final norm of d. LoRA on q, k, v and o adds r × (in + out) to each.

# %%
c = probe.config
labels = c.num_labels
if c.model_type == "gpt2":
    d, L = c.n_embd, c.n_layer
    block = 12 * d * d + 13 * d
    embeddings, final = (c.vocab_size + c.n_positions) * d, 2 * d
    lora_block = LORA_R * (d + 3 * d)  # c_attn: d -> 3d
else:  # Llama family
    d, L, f = c.hidden_size, c.num_hidden_layers, c.intermediate_size
    kv = c.num_key_value_heads * (d // c.num_attention_heads)
    block = 2 * d * d + 2 * d * kv + 3 * d * f + 2 * d
    embeddings, final = c.vocab_size * d, d
    lora_block = LORA_R * (2 * (d + d) + 2 * (d + kv))  # q, o: d -> d; k, v: d -> kv
by_hand = {"head": d * labels,
           "last_k": LAST_K * block + final + d * labels,
           "full": embeddings + L * block + final + d * labels,
           "lora": L * lora_block + d * labels}
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
# exactly what the table at the top says. SmolLM2 has 134,516,160 weights
# with its new head, 28.3M of them in the 49,152 × 576 token embedding; the
# head is 1,152 weights (0.001 %), the last 2 of its 30 blocks and the final
# norm 7.1M (5.3 %), LoRA at rank 8 923k (0.68 %: four projections a block,
# 30,720 weights, against GPT-2's one). LoRA's `total` is larger than the
# others': the adapters are extra weights (and `peft` keeps a trainable copy
# of `score`). For `gpt2` the same formulas give the numbers at the end of
# this notebook.
#
# ## Train each one
#
# Same rows, same seed, same epochs and batch size (batches of similar
# lengths, `02`); the starting weights are identical (the head is initialised
# from `SEED`); only what trains and its learning rate differ. Each run's
# final weights are scored on the test split. Each run keeps a checkpoint at
# its end in its own folder (`strategy-<name>-<8 hex digits>`, named by what it
# trains from): run the notebook again and each finished run is loaded
# instead of trained again (`RESUME=0` starts over); its time and memory
# columns then measure the loading, not the training.

# %%
# The recipe of `04`; each strategy changes the run's name, the learning rate and what trains.
steps_per_epoch = math.ceil(len(encoded["train"]) / BATCH_SIZE)
config = run.train_config("strategy-full", learning_rate=LR_FULL, eval_every=None, save_every=None,
                          log_every=max(1, min(10, steps_per_epoch // 4)), length_grouped=True,
                          strategy="full", lora_r=LORA_R, lora_alpha=2 * LORA_R, progress_bar=False)

rows, histories, trained, folders, predicted = [], {}, {}, {}, {}
for name, lr in rates.items():
    model = classify.build_classifier(run.model, data.label_names, tokenizer, seed=SEED)
    print(f"-- {name} (learning rate {lr:g})")
    cfg = replace(config, run_name=f"strategy-{name}", learning_rate=lr, strategy=name,
                  last_k=LAST_K if name == "last_k" else None)
    with MemoryMonitor(run.device) as memory:
        result = classify.train_classifier(model, encoded["train"], None, data.label_names, cfg,
                                           max_length=max_length)
    metrics, logits = classify.evaluate_classifier(result.model, encoded["test"], tokenizer, data.label_names)
    predicted[name] = logits.argmax(-1)
    count = strategies.count_parameters(result.model)
    histories[name] = result.history.dropna(subset=["train_loss"])
    trained[name], folders[name] = result.model, result.run_dir
    rows.append({"strategy": name + (f" (k={LAST_K})" if name == "last_k" else ""),
                 "learning rate": lr, "steps": result.steps, "accuracy": round(metrics["accuracy"], 4),
                 "macro-F1": round(metrics["macro_f1"], 4),
                 "trainable params": int(count["trainable"]),
                 "trainable %": round(count["trainable_pct"], 3),
                 "weights+grads+AdamW (MB)": round(training_state_mb(result.model), 1),
                 "time (s)": round(result.elapsed_s, 1),
                 "peak memory (MB, measured)": round(memory.peak_mb, 1)})
table = pd.DataFrame(rows).set_index("strategy")
n_test = len(encoded["test"])
print(f"test split: {n_test} sentences; one standard error of an accuracy near 0.8 is "
      f"{math.sqrt(0.8 * 0.2 / n_test):.3f}")
# Two strategies with equal scores may still disagree sentence by sentence: count it.
same = (predicted["head"] == predicted["last_k"]).sum().item()
print(f"head and last_k predict the same label for {same} of {n_test} test sentences")
table

# %% [markdown]
# **Reading this output.** SmolLM2 on 400 SST-2 training sentences, 50 steps
# of 16 each, scored on 400 test sentences (a stratified draw of the SST-2
# dev set). One standard error is 0.02, so a gap under about 0.04 is not a
# difference:
#
# - **LoRA** scores highest, 0.8375, training 0.7 % of the weights: clearly
#   above the other three;
# - **full** fine-tuning reaches 0.7675: every weight moves, and on 400
#   sentences it fits the training set best (its training loss falls lowest,
#   figure below) without scoring best on new sentences;
# - the **head** alone, a linear probe on the frozen features, and **last
#   k** (the last 2 of 30 blocks) both reach 0.735: 294 of 400 right, with
#   the same confusion counts. A coincidence, not one model twice: the line
#   above the table shows they predict the same label for 324 of 400
#   sentences, so they disagree on 76 (and their training losses differ,
#   figure below). The pre-trained features already separate much of the
#   sentiment; the last blocks add nothing here in 50 steps. One reason:
#   their new `score` layer trains at last_k's rate, 5e-4, twenty times less
#   than the head-only run's, and a random head needs a large step
#   (`08_exercises`, exercise 4).
#
# The computed memory column is what a strategy changes: the weights (513 MB
# in float32) plus, for every trainable weight, its gradient and AdamW's two
# moments: 2,053 MB for full fine-tuning against 513-594 MB for the others.
# The measured peak (the growth of the process's resident memory during the
# run; on a GPU the CUDA peak) adds the activations and the copies on top:
# in this run 3.2 GB for full fine-tuning, 0.5-0.7 GB for the others. Time
# and peak go to `results/sprint11/small/strategies_sst2.timings.md`: they
# vary from run to run and machine to machine, but the order holds: a step of
# head or last k is a forward pass and a short backward, a step of LoRA or
# full fine-tuning a backward pass through all 30 blocks, and full
# fine-tuning also updates 134.5M weights with AdamW (here, on two idle
# cores, 17 and 24 s for head and last k, 68 s for LoRA, 75 s for full).
#
# With real `gpt2` on a GPU and 20,000 sentences (`PROFILE=full`), all four
# learn more; the usual ordering is full ≥ LoRA ≥ last k ≥ head, with LoRA
# close to full on SST-2-like tasks (external: the LoRA paper, Hu et al. 2021,
# reports LoRA matching full fine-tuning on GLUE, SST-2 included, with RoBERTa
# and DeBERTa).

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
for (name, h), style in zip(histories.items(), ["o-", "s--", "^-.", "d:"], strict=False):
    ax.plot(h["step"], h["train_loss"], style, label=f"{name} (lr {rates[name]:g})", alpha=0.8)
ax.axhline(math.log(2), color="grey", lw=0.8, ls=":")
ax.set_xlabel("optimizer step")
ax.set_ylabel("training loss (mean since the last point)")
ax.set_title(f"{DATASET}: strategies ({run.profile})")
ax.legend()
fig.tight_layout()
results.save_figure(fig, "sprint11", f"strategies_{DATASET}", run)
plt.show()

# %% [markdown]
# **Reading this output.** The training loss of each run, averaged over the
# steps since the previous point; the dotted line is ln 2 = 0.69, the loss of
# a head that gives both classes one half. All four start above it: a random
# head of weights about 0.02 reading features of length about 45 gives logits
# of about ±1, sure and often wrong. The head alone, at its large rate,
# overshoots in the first epoch (up to 0.92) before it settles. In the second
# epoch, when each sentence comes round again, every loss falls: full
# fine-tuning and LoRA to about 0.2, the head and the last blocks to about
# 0.4-0.5. A loss this low on 400 sentences is partly memorisation: the test
# accuracies in the table are the measure (full fine-tuning's loss is lowest,
# its test accuracy below LoRA's).

# %%
path = results.write_table(table, "sprint11", f"strategies_{DATASET}", run,
                           title=f"Sprint 11: fine-tuning strategies compared on {DATASET}",
                           measured=["time (s)", "peak memory (MB, measured)"])
print("wrote", paths.shown(path))

# %% [markdown]
# ## LoRA by hand
#
# LoRA leaves a weight matrix W frozen and learns a low-rank update: the layer
# computes W x + (α / r) · B A x, with A (r × d_in) and B (d_out × r) the only
# trainable parts (B starts at zero, so training starts from the pre-trained
# model; α is peft's `lora_alpha`, 2r here, so α / r = 2). Below, the first
# adapted projection of the first block of the trained LoRA model (`q_proj`
# in SmolLM2, `c_attn` in GPT-2): its output by hand from the frozen layer and
# the two small matrices, against peft's layer; then the update merged into W
# (what `export_for_pipeline` does before saving), against the adapter model's
# logits.

# %%
lora = trained["lora"].eval()
where, layer = next((n, m) for n, m in models.transformer_blocks(lora)[0].named_modules() if hasattr(m, "lora_A"))
A, B, scale = layer.lora_A["default"], layer.lora_B["default"], layer.scaling["default"]
x = torch.randn(2, 5, A.in_features, generator=torch.Generator().manual_seed(SEED)).to(A.weight.device)
with torch.no_grad():
    by_hand_out = layer.base_layer(x) + B(A(x)) * scale  # W x + (alpha / r) B A x
    peft_out = layer(x)
    batch = tokenizer(list(encoded["test"]["text"][:4]), padding=True, return_tensors="pt").to(A.weight.device)
    adapter_logits = lora(**batch).logits
print(f"block 0, {where}: A {tuple(A.weight.shape)}, B {tuple(B.weight.shape)}, alpha / r = {scale:g}; "
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
# low-rank product" (here SmolLM2's query projection, 576 → 576, with A of
# 8 × 576 and B of 576 × 8), and merging the product into W gives the same
# model (to float rounding), with no adapter left: the merged model has the
# base model's 134,516,160 weights, and costs nothing extra at inference.
# What `peft` adds around these few lines:
#
# | `peft` adds | when you need it |
# |---|---|
# | wrapping every target module (the attention projections of every block), freezing the rest | always |
# | dropout on the LoRA path (`lora_dropout`) | small data, as a regulariser |
# | saving only the adapter (3.7 MB for SmolLM2, 1.2 MB for `gpt2`, at rank 8 in float32) | one base model, many tasks |
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
# head only and LoRA and 0.6 GiB for the last two blocks). SmolLM2's are of
# the same size (table above): 2.0 GiB for full fine-tuning.
#
# - **full** fine-tuning: the most accurate with enough labelled data
#   (thousands of examples) and memory; every weight has a gradient and two
#   AdamW moments, and every task needs its own copy of the model. On 400
#   sentences above, LoRA did better.
# - **LoRA**: the default when memory or storage matter: under 1 % of the
#   weights train, the adapter is a few megabytes, one base model serves many
#   tasks, and a merged model costs nothing extra. The backward pass still
#   runs through every block, so it saves memory far more than time.
# - **last k blocks**: small data or a tight budget; the top blocks are the
#   most task-specific, the lower ones stay as pre-trained (less overfitting,
#   a shorter backward pass). Give the new head a rate of its own, or a larger
#   rate for the whole run.
# - **head only**: a linear probe, cheapest by far and a quick measure of how
#   much the frozen features already separate the classes (0.735 here); the
#   weakest when they don't, and the most prone to the one-class failure of
#   `06_imbalance`.
#
# ## What you learned

# %%
for strategy, row in table.iterrows():
    print(f"- {strategy}: {int(row['trainable params']):,} weights trained ({row['trainable %']} %), "
          f"{row['weights+grads+AdamW (MB)']} MB of training state, test accuracy {row['accuracy']}"
          + (" (smoke number)" if run.is_tiny else ""))

# %% [markdown]
# - What trains is a choice: from a d × 2 head to every weight; the counts
#   follow from the architecture, GPT-2's or SmolLM2's.
# - LoRA learns a low-rank update beside frozen weights and merges back into
#   them without changing a prediction.
# - Pick by data size, memory and how many tasks share the model; compare
#   strategies at the same budget on the same split, each at a learning rate
#   that suits it, and read the gaps against the test split's standard error.
#
# Next: `06_imbalance`, when the model predicts one class for everything.

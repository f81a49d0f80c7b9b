# %% [markdown]
# # Sprint 11 · 05 — Which weights to train: head, last k blocks, full, LoRA
#
# Fine-tuning does not have to update every weight. Four strategies, each from
# the same starting weights, on the same data, split and seed:
#
# | strategy | what trains |
# |---|---|
# | `head` | only the new `score` layer: a [linear probe](../../notes/glossary.md#linear-probe) on frozen features |
# | `last_k` | `score`, the last k transformer blocks and the final norm |
# | `full` | every weight |
# | `lora` | [LoRA](../../notes/glossary.md#lora) adapters of rank `LORA_R` on the attention projections, and `score` |
#
# **You will learn**
# - how many weights each strategy trains, counted from the layer shapes and
#   checked against the library;
# - what each strategy reaches on SST-2 in the same number of steps, and what
#   its training state (weights, gradients, AdamW) costs;
# - what LoRA computes, by hand, and why merging it into the weights changes
#   no prediction.
#
# The outputs are SmolLM2-135M-Instruct's (the small profile: a pre-trained
# model of GPT-2's size, on a CPU) on 400 SST-2 sentences.

# %% tags=["parameters"]
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
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

import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import display
from transformers import AutoModelForSequenceClassification

from gpt2ft import classify
from gpt2ft.core import checks, models
from gpt2ft.session import loading, results, settings
from gpt2ft.session.data import CLASSIFICATION_NAMES
from gpt2ft.training import strategies
from gpt2ft.training.memory import training_state_mb

# tiny: a random 2-block model learns from scratch: 10-20x larger rates, all rows.
# small: SmolLM2 on a CPU: 400 rows per split, two epochs of 25 steps, rates 2-10x the full run's.
run = settings.configure(globals(), tiny=dict(BATCH_SIZE=16, MAX_EXAMPLES=0, LAST_K=1, LR_HEAD=1e-2,
                                              LR_LAST_K=2e-3, LR_FULL=1e-3, LR_LORA=5e-3),
                         small=dict(BATCH_SIZE=16, MAX_EXAMPLES=400, LR_HEAD=1e-2, LR_LAST_K=5e-4,
                                    LR_FULL=1e-4, LR_LORA=2e-3),
                         choices=dict(DATASET=CLASSIFICATION_NAMES))
rates = {"head": LR_HEAD, "last_k": LR_LAST_K, "full": LR_FULL, "lora": LR_LORA}
tokenizer = loading.load_tokenizer(run.model)
data, encoded, max_length = classify.load_encoded(DATASET, run, tokenizer, max_examples=MAX_EXAMPLES)
probe = classify.build_classifier(run.model, data.label_names, tokenizer, seed=SEED)
print(f"{DATASET}: {({k: len(v) for k, v in encoded.items()})}, max_length {max_length}")

# %% [markdown]
# ## What each strategy trains, counted from the shapes
#
# From the config: width d, L blocks, the vocabulary V, 2 labels. The head is
# d × 2 (no bias) in both models. A block:
#
# - **GPT-2**: `c_attn` d → 3d (query, key, value in one), `c_proj` d → d,
#   the MLP d → 4d → d, each with a bias, and two layer norms (gain and bias).
#   Token and position embeddings; a final layer norm of 2d.
# - **SmolLM2** (Llama family): `q_proj` and `o_proj` d → d, `k_proj` and
#   `v_proj` d → kv (grouped-query attention: kv = key/value heads × head
#   width, 3 × 64 = 192, shared by 9 query heads), a gated MLP of three d × f
#   matrices, no biases, two RMS norms (a gain only). Token embeddings only
#   (rotary positions have no weights); a final norm of d.
#
# LoRA at rank r adds A (r × in) and B (out × r) to each target projection:
# r × (in + out).

# %%
# NBVAL_CHECK_OUTPUT
c = probe.config  # GPT2Config answers to hidden_size, num_hidden_layers and num_attention_heads too
d, L, V, heads = c.hidden_size, c.num_hidden_layers, c.vocab_size, c.num_attention_heads
if c.model_type == "gpt2":  # (in, out) of each linear layer of a block; each has a bias of `out`
    shapes = {"c_attn": (d, 3 * d), "attn.c_proj": (d, d), "mlp.c_fc": (d, 4 * d), "mlp.c_proj": (4 * d, d)}
    block = sum(i * o + o for i, o in shapes.values()) + 2 * (2 * d)  # + two layer norms
    embeddings, final = (V + c.n_positions) * d, 2 * d
else:  # Llama family: no biases
    kv = c.num_key_value_heads * (d // heads)
    f = c.intermediate_size
    shapes = {"q_proj": (d, d), "k_proj": (d, kv), "v_proj": (d, kv), "o_proj": (d, d),
              "gate_proj": (d, f), "up_proj": (d, f), "down_proj": (f, d)}
    block = sum(i * o for i, o in shapes.values()) + 2 * d  # + two RMS norms
    embeddings, final = V * d, d
head = d * c.num_labels
targets = strategies.lora_targets(probe)  # c_attn in GPT-2; q, k, v and o_proj in SmolLM2
adapters = L * sum(LORA_R * (i + o) for name, (i, o) in shapes.items() if name in targets)
by_hand = {"head": head, "last_k": LAST_K * block + final + head, "full": embeddings + L * block + final + head,
           "lora": adapters + head}
for name, ours in by_hand.items():
    fresh = classify.build_classifier(run.model, data.label_names, tokenizer, seed=SEED)
    library = strategies.count_parameters(strategies.apply_strategy(fresh, name, LAST_K, lora_r=LORA_R))
    checks.same(f"{name}: the weights that train, from the layer shapes == the library's count",
                ours, library["trainable"])

# %% [markdown]
# The counts agree, so `apply_strategy` freezes exactly what the table at the
# top says (the numbers are in the next table).
#
# ## Train each one
#
# Same rows, seed, epochs and batches; only what trains and its learning rate
# differ. Each run's final weights are scored on the test split, and each run
# keeps a checkpoint in its own folder: run the notebook again and a finished
# run is loaded instead of trained (`RESUME=0` starts over; its time then
# measures the loading).

# %%
runs, rows, predicted = {}, [], {}
for name, lr in rates.items():
    print(f"-- {name} (learning rate {lr:g})")
    model = classify.build_classifier(run.model, data.label_names, tokenizer, seed=SEED)
    config = run.train_config(f"strategy-{name}", learning_rate=lr, strategy=name, last_k=LAST_K,
                              lora_r=LORA_R, length_grouped=True)
    runs[name] = result = classify.train_classifier(model, encoded["train"], None, data.label_names, config,
                                                    max_length=max_length)
    metrics, logits = classify.evaluate_classifier(result.model, encoded["test"], tokenizer, data.label_names)
    predicted[name] = logits.argmax(-1)
    count = strategies.count_parameters(result.model)
    rows.append({"strategy": name + (f" (k={LAST_K})" if name == "last_k" else ""), "learning rate": lr,
                 "steps": result.steps, "accuracy": round(metrics["accuracy"], 4),
                 "macro-F1": round(metrics["macro_f1"], 4), "trainable params": int(count["trainable"]),
                 "trainable %": round(count["trainable_pct"], 3),
                 "weights+grads+AdamW (MB)": round(training_state_mb(result.model), 1),
                 "time (s)": round(result.elapsed_s, 1)})
table = pd.DataFrame(rows).set_index("strategy")
n_test = len(encoded["test"])
print(f"test split: {n_test} sentences; one standard error of an accuracy near 0.8 is "
      f"{math.sqrt(0.8 * 0.2 / n_test):.3f}")
same = (predicted["head"] == predicted["last_k"]).sum().item()
print(f"head and last_k predict the same label for {same} of {n_test} test sentences")
results.write_table(table, "sprint11", f"strategies_{DATASET}", run, measured=["time (s)"],
                    title=f"Sprint 11: fine-tuning strategies compared on {DATASET}")
display(table)
fig = classify.loss_curves_figure({n: r.history for n, r in runs.items()},
                                  {n: f"{n} (lr {lr:g})" for n, lr in rates.items()},
                                  title=f"{DATASET}: strategies ({run.profile})")
results.save_figure(fig, "sprint11", f"strategies_{DATASET}", run)
plt.show()

# %% [markdown]
# **Reading this output.** 50 steps of 16 sentences each, scored on 400 test
# sentences: one standard error is 0.02, so a gap under about 0.04 is not a
# difference.
#
# - **LoRA** scores highest, 0.8375, training 0.68 % of the weights (922,752:
#   four projections a block, against GPT-2's one).
# - **Full** fine-tuning reaches 0.7675: all 134.5M weights move, its training
#   loss falls lowest (figure; the dotted line is ln 2, a head that gives both
#   classes one half), and on 400 sentences that is partly memorisation.
# - **Head** (1,152 weights) and **last k** (the last 2 of 30 blocks, 7.1M)
#   both reach 0.735, 294 of 400 right, but they predict the same label for
#   only 324 of the 400 sentences: on the other 76 one is right and the other
#   wrong, 38 times each way. The tie is a coincidence of two different
#   classifiers, not one model trained twice: the last blocks did change what
#   the head reads, without scoring better in 50 steps. One reason: last k's
#   new `score` layer trains at 5e-4, twenty times less than the head-only
#   run's, and a random head needs a large step (`08_exercises`, exercise 1).
#
# The computed memory is what a strategy changes: the weights (513 MB in
# float32) plus a gradient and two AdamW moments for every trainable weight:
# 2,053 MB for full fine-tuning, 513-594 MB for the others. Time goes to
# `results/sprint11/small/strategies_sst2.timings.md`: head and last k are a
# forward pass and a short backward; LoRA and full backpropagate through all
# 30 blocks. The memory measured while training (activations on top) and the
# same sizes for `gpt2` are in the appendix, `07_appendix_minilm_and_memory`.
#
# ## LoRA by hand
#
# LoRA keeps a weight matrix W frozen and learns a low-rank update: the layer
# computes W x + (α / r) · B A x, with A (r × in) and B (out × r) the only
# trainable parts. B starts at zero, so training starts from the pre-trained
# model; α is peft's `lora_alpha` (16 by default: α / r = 2 at rank 8). Below,
# the first adapted projection of the trained LoRA model, by hand against
# peft's layer; then the update merged into W (what `export_for_pipeline`
# does before saving) against the adapter model's logits.

# %%
# NBVAL_CHECK_OUTPUT
lora = runs["lora"].model.eval()
layer = next(m for m in models.transformer_blocks(lora)[0].modules() if hasattr(m, "lora_A"))  # q_proj / c_attn
A, B, scale = layer.lora_A["default"], layer.lora_B["default"], layer.scaling["default"]
x = torch.randn(2, 5, layer.in_features, generator=torch.Generator().manual_seed(SEED)).to(A.weight.device)
batch = tokenizer(list(encoded["test"]["text"][:4]), padding=True, return_tensors="pt").to(A.weight.device)
with torch.no_grad():
    checks.same("A is r x in, B is out x r", [tuple(A.weight.shape), tuple(B.weight.shape)],
                [(LORA_R, layer.in_features), (layer.out_features, LORA_R)])
    checks.holds("B has moved from its zero start", B.weight.abs().max() > 0)
    checks.same("W x + (alpha / r) B A x by hand == peft's layer", layer.base_layer(x) + scale * B(A(x)),
                layer(x), atol=1e-5)
    adapter_logits = lora(**batch).logits
folder = classify.export_for_pipeline(lora, tokenizer, runs["lora"].run_dir / "merged")
merged = AutoModelForSequenceClassification.from_pretrained(folder).to(A.weight.device).eval()
with torch.no_grad():
    checks.same("merged into W, the same logits", merged(**batch).logits, adapter_logits, atol=1e-4)
checks.same("the merged model has the base model's weights, no adapter left",
            strategies.count_parameters(merged)["total"], strategies.count_parameters(probe)["total"])

# %% [markdown]
# **Reading this output.** The layer is exactly "frozen layer plus scaled
# low-rank product" (SmolLM2's `q_proj`, 576 → 576: A of 8 × 576, B of
# 576 × 8), and merging the product into W gives the same model to float
# rounding, with the base model's 134,516,160 weights: nothing extra at
# inference. Around these lines `peft` adds the wrapping of every target
# module, dropout on the LoRA path (`lora_dropout`), saving the adapter alone
# (3.7 MB for SmolLM2 at rank 8), `merge_and_unload`, and several adapters on
# one model.
#
# ## Which one to pick
#
# - **full**: the most accurate with thousands of labelled examples and the
#   memory for four times the weights; every task needs its own copy.
# - **LoRA**: the default when memory or storage matter: under 1 % of the
#   weights train, the adapter is a few megabytes, one base model serves many
#   tasks, a merged model costs nothing extra. The backward pass still runs
#   through every block, so it saves memory more than time. Here it beat full
#   fine-tuning on 400 sentences.
# - **last k**: small data or a tight budget: the top blocks adapt, the lower
#   ones stay as pre-trained. Give the new head a large enough rate.
# - **head**: the cheapest, and a quick measure of what the frozen features
#   already separate; the most prone to `06_imbalance`'s one-class failure.
#
# With `gpt2` on a GPU and 20,000 sentences (`PROFILE=full`) the usual order is
# full ≥ LoRA ≥ last k ≥ head, LoRA close to full (external: the LoRA paper,
# Hu et al. 2021, matches full fine-tuning on GLUE's SST-2). Compare
# strategies at one budget on one split, each at a rate that suits it, and
# read gaps against the standard error.
#
# Next: `06_imbalance`, when the model predicts one class for everything.

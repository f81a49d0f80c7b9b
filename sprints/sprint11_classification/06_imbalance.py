# %% [markdown]
# # Sprint 11 · 06 — Class imbalance: when the model says "ham" to everything
#
# SMS spam is 13 % spam ([class imbalance](../../notes/glossary.md#class-imbalance)).
# Cross-entropy rewards getting the common class right first, so a model that
# has not trained long enough (few steps, most of the body frozen, a small
# learning rate) can settle on predicting **one class for everything**: a
# common report from people training GPT-2 classifiers ("my model always
# outputs the same label"). Its accuracy looks fine (87 %), and it catches
# (almost) no spam.
#
# **You will learn**
# - to recognise the one-class failure: accuracy near the majority share,
#   recall 0 for the small class, one full column in the
#   [confusion matrix](../../notes/glossary.md#confusion-matrix);
# - two fixes with the same budget, and how they work: a **class-weighted
#   loss** (each example's cross-entropy weighted by `n / (classes × count of
#   its class)`, written by hand and checked against the library) and
#   **balanced sampling** (the spam rows drawn several times, so each epoch
#   sees as many spam as ham messages);
# - to report per-class recall and macro-F1, never accuracy alone.
#
# The outputs are SmolLM2-135M-Instruct's (the small profile: a real
# pre-trained model of GPT-2's size on a CPU), on 400 real SMS messages per
# split, with only its new head training: the short budget under which the
# failure shows. Each reading says what `gpt2` should show.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | small | full | auto
MODEL = ""  # "" = gpt2 (full), SmolLM2-135M-Instruct (small), a random tiny GPT-2 (tiny); or a hub name / folder
DATA_DIR = ""  # "" = the hub (full), ../shared/data (small) or the bundled samples (tiny)
SEED = 0
DATASET = "sms_spam"
# The short budget under which the failure shows: one epoch, only the last block and the head.
STRATEGY = "last_k"  # what trains: last_k (the last LAST_K blocks and the head) or head (the head alone)
EPOCHS = 1
BATCH_SIZE = 32
LEARNING_RATE = 2e-5
LAST_K = 1
MAX_STEPS = 0  # 0 = no cap (EPOCHS decides)
MAX_BATCH_TOKENS = 0  # a batch with more padded tokens is cut into micro-batches; 0 = the engine's choice
RESUME = True  # a rerun of a finished run loads it instead of training again; RESUME=0 starts over
MAX_EXAMPLES = 0  # rows per split (a stratified draw); 0 = all

# %%
import math
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.utils.class_weight import compute_class_weight

from gpt2ft import classify
from gpt2ft.core import models, paths
from gpt2ft.session import loading, results, settings
from gpt2ft.session.data import CLASSIFICATION_NAMES, load_classification

# tiny: a random model with seconds to learn: a 50x larger rate. small: SmolLM2 on one CPU thread:
# 400 messages per split, and the head alone at 1e-3 (a forward pass a step, no backward through
# the body); at 1e-2 it learns spam without a fix (`08_exercises`, exercise 2).
run = settings.configure(globals(), tiny=dict(BATCH_SIZE=16, LEARNING_RATE=1e-3),
                         small=dict(STRATEGY="head", BATCH_SIZE=16, LEARNING_RATE=1e-3, MAX_EXAMPLES=400),
                         choices=dict(DATASET=CLASSIFICATION_NAMES, STRATEGY=("last_k", "head")))

data = load_classification(DATASET, run, max_examples=MAX_EXAMPLES)
tokenizer = loading.load_tokenizer(run.model)
probe = classify.build_classifier(run.model, data.label_names, tokenizer, seed=SEED)
texts = data.model_texts()
max_length = classify.choose_max_length(classify.token_lengths(tokenizer, texts["train"]["text"]), 95,
                                        cap=models.context_length(probe))
encoded = classify.encode(texts, tokenizer, max_length)

# %% [markdown]
# ## How unbalanced, and the weights that compensate

# %%
names = data.label_names
counts = pd.DataFrame({split: np.bincount(ds["labels"], minlength=2) for split, ds in encoded.items()},
                      index=names).T
counts[f"{names[1]} share"] = (counts[names[1]] / counts.sum(axis=1)).round(3)
train_counts = np.bincount(encoded["train"]["labels"], minlength=2)
weights = classify.class_weights(encoded["train"]["labels"], len(names))
print(f"class weights ({', '.join(names)}):", [round(w, 3) for w in weights.tolist()])
balanced = classify.balanced_subset(encoded["train"], seed=SEED)
balanced_counts = np.bincount(balanced["labels"], minlength=2)
print("balanced sampling, rows per class in one epoch:", balanced_counts.tolist())
counts

# %%
# NBVAL_CHECK_OUTPUT
print("weighted, each class adds the same total weight:", np.allclose(weights.numpy() * train_counts,
                                                                        len(encoded["train"]) / len(names)))
print("balanced sampling, as many rows of each class as the largest has:",
      bool((balanced_counts == train_counts.max()).all()))

# %% [markdown]
# **Reading this output.** The real SMS Spam Collection, 400 messages per
# split at `small` (a stratified draw, so every split keeps the file's share:
# 53 or 54 spam messages of 400, 13.2-13.5 %). The weights make each class
# count the same in total (the check: weight × count is 200 for both): a spam
# message weighs 3.70, a ham message 0.58, 6.4 times less (on the whole file,
# 4,827 ham and 747 spam: 3.7 and 0.58 too). Balanced sampling reaches the
# same balance by repeating spam rows until there are as many as ham rows:
# 346 of each, so one epoch has 692 rows instead of 400, and each spam
# message comes round about 6 times.
#
# ### The weighted loss, by hand
#
# The weight of a class is `n / (classes × count)`; the weighted cross-entropy
# is each row's negative log-probability of its label times its class weight,
# summed, divided by the sum of those weights (what PyTorch's `weight=` does).

# %%
labels = torch.tensor(encoded["train"]["labels"])
n, k = len(labels), len(names)
by_hand_weights = torch.tensor([n / (k * (labels == c).sum().item()) for c in range(k)])
logits = torch.randn(8, k, generator=torch.Generator().manual_seed(SEED))  # any logits will do
y = labels[:8]
nll = -logits.log_softmax(-1)[torch.arange(8), y]
by_hand_loss = (by_hand_weights[y] * nll).sum() / by_hand_weights[y].sum()


class Outputs:  # what the engine hands a loss_fn: the model's outputs (here only logits)
    pass


outputs = Outputs()
outputs.logits = logits
library_loss = classify.weighted_loss(weights)(outputs, {"labels": y})

# %%
# NBVAL_CHECK_OUTPUT
print("class weights by hand == classify.class_weights == sklearn's 'balanced':",
      torch.allclose(by_hand_weights, weights)
      and np.allclose(weights.numpy(), compute_class_weight("balanced", classes=np.arange(k), y=labels.numpy())))
print("weighted cross-entropy by hand == classify.weighted_loss == F.cross_entropy(weight=):",
      torch.allclose(by_hand_loss, library_loss)
      and torch.allclose(library_loss, F.cross_entropy(logits, y, weight=weights)))

# %% [markdown]
# The library adds little here: `classify.weighted_loss(weights)` is the
# engine's `loss_fn(outputs, batch)` hook around `F.cross_entropy(weight=)`
# (it moves the weights to the logits' device and computes in float32, so it
# also works under bf16). Passing it replaces the model's own loss.
#
# ## Three runs, one budget
#
# Same starting weights, seed, learning rate, epochs and trainable part (at
# `small` the head alone, on SmolLM2's frozen features; at `full` the last
# block of `gpt2` and the head); only the loss or the sampling differs. One
# epoch, scored at its end on the test split. Each run has its own name, so
# its own folder, and a checkpoint at its end: run the notebook again and
# each finished run is loaded instead of trained again (`RESUME=0` starts
# over).

# %%
# The recipe of `04` on the short budget above.
steps_per_epoch = math.ceil(len(encoded["train"]) / BATCH_SIZE)
config = run.train_config("imbalance-plain", eval_every=None, save_every=None,
                          log_every=max(1, min(10, steps_per_epoch // 4)), strategy=STRATEGY,
                          last_k=LAST_K if STRATEGY == "last_k" else None, progress_bar=False, verbose=False)
runs = {
    "plain cross-entropy": dict(train=encoded["train"], loss_fn=None),
    "class-weighted loss": dict(train=encoded["train"], loss_fn=classify.weighted_loss(weights)),
    "balanced sampling": dict(train=balanced, loss_fn=None),
}
rows, predictions = [], {}
for name, spec in runs.items():
    model = classify.build_classifier(run.model, names, tokenizer, seed=SEED)
    cfg = replace(config, run_name="imbalance-" + name.split()[0])
    result = classify.train_classifier(model, spec["train"], None, names, cfg, loss_fn=spec["loss_fn"],
                                       max_length=max_length)
    metrics, test_logits = classify.evaluate_classifier(result.model, encoded["test"], tokenizer, names)
    predictions[name] = test_logits.argmax(-1)
    rows.append({"run": name, "steps": result.steps, "accuracy": metrics["accuracy"],
                 "macro-F1": metrics["macro_f1"],
                 **{f"recall {c}": metrics[f"recall_{c}"] for c in names},
                 f"precision {names[1]}": metrics[f"precision_{names[1]}"],
                 f"predicted {names[1]}": int(predictions[name].sum()),
                 f"true {names[1]}": int(sum(encoded["test"]["labels"]))})
table = pd.DataFrame(rows).set_index("run").round(4)
table

# %% [markdown]
# **Reading this output.** One row per run, on the 400 test messages (53
# spam). The **plain** run is the failure: it calls 4 messages spam and the
# other 396 ham, so its accuracy, 0.8775, is the ham share (0.8675) plus
# those 4, while its spam recall is 0.08 and its macro-F1 0.54 (0.46 would be
# one class exactly). The two fixes, with the same head, learning rate and
# epoch, catch most spam: the **class-weighted loss** 42 of 53 (recall 0.79,
# macro-F1 0.85), **balanced sampling** 51 of 53 (recall 0.96, macro-F1
# 0.88), which took 44 steps instead of 25 (its epoch holds the repeated spam
# rows). Accuracy moves only from 0.88 to 0.93: it hides most of the
# difference.
#
# The budget is short on purpose: 25 steps of SmolLM2's head alone at 1e-3.
# With ten times the rate, plain cross-entropy learns spam on its own
# (`08_exercises`, exercise 2, measures it), and so does a full fine-tune
# with enough steps. At `full` the cell trains the last block of `gpt2` and
# its head for one epoch at 2e-5 on the real 4,013 training messages: more
# steps, so the failure may not show, in which case all three rows catch
# spam.
#
# What each run predicted: the plain run's column of the confusion matrix for
# spam is the give-away.

# %%
fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.2))
for ax, (name, pred) in zip(axes, predictions.items(), strict=True):
    classify.confusion_figure(encoded["test"]["labels"], pred, names, title=name, ax=ax)
fig.tight_layout()
results.save_figure(fig, "sprint11", "imbalance_confusion", run)
plt.show()

# %%
for name, pred in predictions.items():
    print(f"{name:22} predicts {names[1]} for {int(pred.sum()):3d} of {len(pred)} test messages "
          f"({int(sum(encoded['test']['labels']))} are {names[1]})")
print("\nmacro-F1 from {:.3f} (plain) to {:.3f} (weighted) / {:.3f} (balanced)".format(
    *table["macro-F1"].tolist()))

# %% [markdown]
# **Reading this output.** In the confusion matrices rows are the true
# classes and columns the predictions (each cell: the count and its share of
# the row), and the lines under them count what each run called spam. The
# plain run's spam column is nearly empty (4 messages), so 49
# of the 53 spam messages sit under "ham". The fixes move spam onto the
# diagonal, each at its own price: the weighted loss raises 17 false alarms
# (ham predicted as spam: spam precision 0.71) and still misses 11 spam
# messages; balanced sampling misses only 2 but raises 25 false alarms
# (precision 0.67). Which trade is right depends on the cost of each mistake:
# a spam filter that hides a friend's message is worse than one that lets an
# advert through.

# %%
trains = f"last {LAST_K} block(s) + head" if STRATEGY == "last_k" else "the head alone"
path = results.write_table(table, "sprint11", "imbalance", run,
                           title=f"Sprint 11: class imbalance on {DATASET} ({trains}, {EPOCHS} epoch, "
                                 f"lr {LEARNING_RATE:g})")
print("wrote", paths.shown(path))

# %% [markdown]
# ## What you learned

# %%
plain, weighted = table.loc["plain cross-entropy"], table.loc["class-weighted loss"]
print(f"- the plain run: accuracy {plain['accuracy']:.3f}, {names[1]} recall {plain[f'recall {names[1]}']:.3f}, "
      f"{int(plain[f'predicted {names[1]}'])} of {len(encoded['test'])} messages called {names[1]}")
print(f"- class weights ({', '.join(f'{w:.2f}' for w in weights.tolist())}): "
      f"{names[1]} recall {weighted[f'recall {names[1]}']:.3f}, macro-F1 {weighted['macro-F1']:.3f}")
balanced_steps, plain_steps = int(table.loc["balanced sampling", "steps"]), int(plain["steps"])
print(f"- balanced sampling: {names[1]} recall {table.loc['balanced sampling', f'recall {names[1]}']:.3f}, "
      + (f"{balanced_steps} steps instead of {plain_steps}" if balanced_steps != plain_steps
         else f"as many steps as the plain run ({plain_steps})"))

# %% [markdown]
# - **Accuracy hides the failure**: the one-class model scores the share of
#   ham. Report recall per class and macro-F1.
# - **Weighted loss or balanced sampling**: both make the rare class count as
#   much as the common one; they can trade a little ham recall (more false
#   alarms) for a lot of spam recall. Weighted loss changes nothing in the data
#   pipeline; oversampling repeats the few spam messages (risk: memorising
#   them) and makes an epoch longer.
# - With enough training a pre-trained model learns SMS spam without either
#   fix (this sprint's measured MiniLM run, full fine-tuning on all 4,013
#   training messages with plain cross-entropy: spam recall 0.946,
#   `quality.py`; SmolLM2's head at ten times the rate, `08_exercises`). The
#   fixes matter most when the budget is short, the minority is rare, or the
#   cost of a miss is high; for a different operating point one can also move
#   the decision threshold instead of retraining. `08_exercises` tries a
#   third fix, undersampling the common class.
#
# Next: `07_minilm`, an encoder (MiniLM) through the same pipeline.

# %% [markdown]
# # Sprint 11 · 08 — Exercises, with worked solutions
#
# Five exercises that extend the sprint. Each states a question, then a worked
# solution (collapsed in the book: click to open) that runs at `tiny` in
# seconds, then how to read it. Try each one before opening the solution: the
# code you need is in `02`–`06`.
#
# **You will learn**
# - why GPT-2 must read the *last* token (and what an encoder does instead);
# - how the fixes for imbalance, the LoRA rank and the learning rate of a
#   frozen body trade cost for quality;
# - what `max_length` costs and buys on long texts.
#
# At `tiny` every answer is a smoke number (a random 2-block GPT-2 on the
# templated samples); each reading says what the same code shows with real
# `gpt2` (`PROFILE=full`, a GPU). The exercises' runs keep no checkpoints, so
# a second run of the notebook trains them again: each is short, scored on its
# final weights, and exercise 5 measures the training time itself.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = ""  # "" = gpt2 (full) or a random tiny GPT-2 (tiny); or a hub name / local folder
DATA_DIR = ""  # "" = the hub (full) or the bundled samples (tiny); e.g. ../shared/data (from the repository root)
SEED = 0
EPOCHS = 2
BATCH_SIZE = 32
LEARNING_RATE = 5e-5
MAX_STEPS = 0  # 0 = no cap (EPOCHS decides)
MAX_BATCH_TOKENS = 0  # a batch with more padded tokens is cut into micro-batches; 0 = the engine's choice
MAX_EXAMPLES = 2000  # rows per split (a stratified draw) for every exercise; 0 = all
N_EVAL = 1000  # test rows each exercise run is scored on (a seeded draw)
LORA_RANKS = [1, 4, 16]
PERCENTILES = [25, 50, 95, 100]

# %%
import math
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from accelerate.utils import set_seed

from gpt2ft import classify
from gpt2ft.core import models
from gpt2ft.session import loading, settings
from gpt2ft.session.data import load_classification
from gpt2ft.training import batching

run = settings.configure(globals(), tiny=dict(BATCH_SIZE=16, LEARNING_RATE=1e-3, MAX_EXAMPLES=0))
tokenizer = loading.load_tokenizer(run.model)


def prepare(name, percentile=95):
    """A data set, encoded at the percentile's max_length, at most N_EVAL test rows: (data, encoded, max_length)."""
    d = load_classification(name, run, max_examples=MAX_EXAMPLES)
    texts = d.model_texts()
    cap = models.context_length(loading.load_config(run))
    ml = classify.choose_max_length(classify.token_lengths(tokenizer, texts["train"]["text"]), percentile, cap=cap)
    encoded = classify.encode(texts, tokenizer, ml)
    if len(encoded["test"]) > N_EVAL:
        encoded["test"] = encoded["test"].shuffle(seed=SEED).select(range(N_EVAL))
    return d, encoded, ml


def recipe(name, train_rows, **changes):
    """The recipe of `04`, quiet, as the run `exercise-<name>` with ``changes``; no evaluation during
    training and no checkpoints (an exercise scores the final weights on the test split)."""
    steps = math.ceil(len(train_rows) / BATCH_SIZE)
    return run.train_config(f"exercise-{name}", eval_every=None, save_every=None, save_final=False,
                            log_every=max(1, min(10, steps // 4)), progress_bar=False, verbose=False, **changes)


sst2, sst2_encoded, sst2_length = prepare("sst2")
print(f"sst2: {({k: len(v) for k, v in sst2_encoded.items()})}, max_length {sst2_length}")

# %% [markdown]
# ## Exercise 1 — First-token vs last-token pooling
#
# `GPT2ForSequenceClassification` reads the last real token (`02`). Train the
# same model twice with the loop by hand of `04`, once reading the **first**
# token's hidden state and once the **last** real token's, and compare test
# accuracy. Predict the result before you run it: what has GPT-2's first
# position seen?

# %% tags=["hide-input"]
def first_token(hidden, mask):
    return hidden[:, 0]


def last_token(hidden, mask):
    return hidden[torch.arange(hidden.shape[0]), mask.sum(-1) - 1]


def train_with_pooling(pool):
    """The loop of `04` (AdamW, warm-up + linear decay, clipping), the class read by `pool`."""
    model = classify.build_classifier(run.model, sst2.label_names, tokenizer, seed=SEED).to(run.device)
    set_seed(SEED)
    rows = sst2_encoded["train"].remove_columns(["text"])
    sampler = batching.ResumableBatchSampler(len(rows), BATCH_SIZE, seed=SEED)
    collate = batching.DynamicPadding(pad_token_id=tokenizer.pad_token_id)
    total = min(MAX_STEPS or 10**9, EPOCHS * sampler.num_batches(0))  # MAX_STEPS caps, as in the engine
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    warmup = int(0.1 * total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: s / warmup if s < warmup else max(0.0, (total - s) / max(1, total - warmup)))
    model.train()
    step, epoch = 0, 0
    while step < total:
        sampler.set_epoch(epoch)
        for batch in torch.utils.data.DataLoader(rows, batch_sampler=sampler, collate_fn=collate,
                                                 generator=torch.Generator()):
            batch = {k: v.to(model.device) for k, v in batch.items()}
            hidden = model.transformer(input_ids=batch["input_ids"],
                                       attention_mask=batch["attention_mask"]).last_hidden_state
            loss = F.cross_entropy(model.score(pool(hidden, batch["attention_mask"])), batch["labels"])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if step == total:
                break
        epoch += 1
    model.eval()
    test = sst2_encoded["test"].remove_columns(["text"])
    correct = 0
    with torch.no_grad():
        for batch in torch.utils.data.DataLoader(test, batch_size=64, collate_fn=collate):
            batch = {k: v.to(model.device) for k, v in batch.items()}
            hidden = model.transformer(input_ids=batch["input_ids"],
                                       attention_mask=batch["attention_mask"]).last_hidden_state
            correct += (model.score(pool(hidden, batch["attention_mask"])).argmax(-1) == batch["labels"]).sum().item()
    return {"steps": total, "test accuracy": round(correct / len(test), 4)}


pooling = pd.DataFrame({"first token": train_with_pooling(first_token),
                        "last real token": train_with_pooling(last_token)}).T.astype({"steps": int})
pooling

# %% [markdown]
# **Reading the solution.** One row per pooling rule: the optimizer steps and
# the test accuracy. GPT-2's attention is causal: the first position
# has seen only the first token, so first-token pooling classifies a text by
# its first word. It scores above chance only as far as first words give the
# class away (in the templated samples some do: "never", "too" open negative
# sentences), while the last real token has seen the whole text. An encoder
# such as MiniLM (`07`) can read the first token because its attention runs
# both ways. With real `gpt2` on SST-2 the gap is large: the first word of a
# movie review says almost nothing about its sentiment.
#
# ## Exercise 2 — Class weights vs undersampling on SMS spam
#
# `06` fixed the one-class failure with class weights and with oversampling.
# A third fix drops rows of the common class until both classes are the same
# size (**undersampling**). Train it on the same short budget (one epoch, last
# block and head) and compare spam recall, macro-F1 and the number of steps
# with the class-weighted loss.

# %% tags=["hide-input"]
sms, sms_encoded, sms_length = prepare("sms_spam")
labels = np.array(sms_encoded["train"]["labels"])
rng = np.random.default_rng(SEED)
spam_rows = np.flatnonzero(labels == 1)
ham_rows = rng.choice(np.flatnonzero(labels == 0), size=len(spam_rows), replace=False)
undersampled = sms_encoded["train"].select(rng.permutation(np.concatenate([spam_rows, ham_rows])).tolist())
weights = classify.class_weights(labels, 2)
short = dict(num_epochs=1, strategy="last_k", last_k=1)
imbalance_rows = {}
for name, rows, loss_fn in [("class-weighted loss", sms_encoded["train"], classify.weighted_loss(weights)),
                            ("undersampling", undersampled, None)]:
    model = classify.build_classifier(run.model, sms.label_names, tokenizer, seed=SEED)
    result = classify.train_classifier(model, rows, None, sms.label_names,
                                       recipe(name.split()[0], rows, **short), loss_fn=loss_fn, max_length=sms_length)
    m, _ = classify.evaluate_classifier(result.model, sms_encoded["test"], tokenizer, sms.label_names)
    imbalance_rows[name] = {"training rows": len(rows), "steps": result.steps, "accuracy": m["accuracy"],
                            "recall ham": m["recall_ham"], "recall spam": m["recall_spam"], "macro-F1": m["macro_f1"]}
pd.DataFrame(imbalance_rows).T.astype({"training rows": int, "steps": int}).round(4)

# %% [markdown]
# **Reading the solution.** Undersampling trains on a fraction of the rows
# (all the spam and as many ham messages), so its epoch has far fewer steps:
# cheap, and balanced, but it throws most of the ham away, and with it what
# the model could learn about ordinary messages. At `tiny` both catch every
# spam message after one short epoch, and undersampling pays for its 3 steps
# with many false alarms (a much lower ham recall and macro-F1). The weighted
# loss keeps every row and makes each spam message count several times. On
# the real 5,574 messages expect the same direction with smaller gaps;
# undersampling is the choice when the common class is huge and training time
# matters more than its last rows.
#
# ## Exercise 3 — LoRA rank sweep: weights trained vs score
#
# Train LoRA with ranks `LORA_RANKS` (1, 4, 16) on SST-2 and tabulate the
# number of trainable weights against test accuracy. Keep α / r fixed
# (α = 2r), so that only the rank changes, not the update's scale.

# %% tags=["hide-input"]
lora_rows = {}
for r in LORA_RANKS:
    model = classify.build_classifier(run.model, sst2.label_names, tokenizer, seed=SEED)
    result = classify.train_classifier(
        model, sst2_encoded["train"], None, sst2.label_names,
        recipe(f"lora-r{r}", sst2_encoded["train"], strategy="lora", lora_r=r, lora_alpha=2 * r,
               learning_rate=5 * LEARNING_RATE), max_length=sst2_length)
    m, _ = classify.evaluate_classifier(result.model, sst2_encoded["test"], tokenizer, sst2.label_names)
    n = sum(p.numel() for p in result.model.parameters() if p.requires_grad)
    lora_rows[f"r={r}"] = {"trainable weights": n, "test accuracy": m["accuracy"], "macro-F1": m["macro_f1"]}
lora_table = pd.DataFrame(lora_rows).T.astype({"trainable weights": int}).round(4)
lora_table

# %%
# NBVAL_CHECK_OUTPUT
config = loading.load_config(run)
print("trainable weights == L blocks x 4 d r + the d x 2 head, for every rank:",
      all(lora_table.loc[f"r={r}", "trainable weights"] == config.n_layer * 4 * config.n_embd * r + config.n_embd * 2
          for r in LORA_RANKS))

# %% [markdown]
# **Reading the solution.** The trainable weights grow linearly with the rank
# (4 · d · r per block, plus the head): from hundreds to thousands at `tiny`;
# for `gpt2` rank 1 is 38k weights and rank 16 about 590k, still under half a
# percent of the model. The scores at `tiny` jump around, not even in rank
# order: the body is random, so the adapters must learn from scratch in 22
# steps, and 60 test sentences move in steps of 0.017. A rank sweep on a
# random model measures noise. With `gpt2` the adapters adjust features that
# already exist; the usual finding is that the score grows much less than the
# weights and a low rank (4–8) comes close to rank 16, which is why 8 is the
# default here. Run it at `full` to see it.
#
# ## Exercise 4 — Freezing all but the head: the strategy or the learning rate?
#
# In `05` the head-only run used a learning rate 20x larger than full
# fine-tuning (10x at `tiny`). Is that needed? Train head-only at full fine-tuning's rate and
# at 10x that rate, and full fine-tuning at its rate, on SST-2.

# %% tags=["hide-input"]
head_rows = {}
for name, strategy, lr in [("head, full's rate", "head", LEARNING_RATE),
                           ("head, 10x the rate", "head", 10 * LEARNING_RATE),
                           ("full, its rate", "full", LEARNING_RATE)]:
    model = classify.build_classifier(run.model, sst2.label_names, tokenizer, seed=SEED)
    result = classify.train_classifier(
        model, sst2_encoded["train"], None, sst2.label_names,
        recipe(f"{strategy}-{lr:g}", sst2_encoded["train"], strategy=strategy, learning_rate=lr),
        max_length=sst2_length)
    m, _ = classify.evaluate_classifier(result.model, sst2_encoded["test"], tokenizer, sst2.label_names)
    head_rows[name] = {"learning rate": f"{lr:g}", "last training loss": result.history["train_loss"].dropna().iloc[-1],
                       "test accuracy": m["accuracy"], "macro-F1": m["macro_f1"]}
pd.DataFrame(head_rows).T.round(4)

# %% [markdown]
# **Reading the solution.** The head alone is a d × 2 matrix that starts
# random; at full fine-tuning's rate it moves little in a couple of epochs:
# its training loss stays close to ln 2 = 0.69 and its test accuracy near a
# coin toss, while 10x the rate lets it learn. Full fine-tuning at the small
# rate learns, because every weight (millions of them) moves a little. So a
# frozen body needs a larger step, and a comparison of strategies must give
# each its own tuned rate (as `05` does) or it measures the learning rate,
# not the strategy. With real `gpt2` the head-only probe learns at 1e-3
# (`05`'s rate) what the frozen features allow (well above chance on SST-2,
# below full fine-tuning).
#
# ## Exercise 5 — `max_length`: percentile vs accuracy and time
#
# On IMDB (long reviews), choose `max_length` at the percentiles `PERCENTILES`
# (25th, 50th, 95th, 100th) of the training token lengths, train the same
# recipe for each, and measure the share of reviews truncated, test accuracy
# and training time. Where does a longer context stop paying?

# %% tags=["hide-input"]
length_rows = {}
for p in PERCENTILES:
    imdb, imdb_encoded, ml = prepare("imdb", percentile=p)
    lengths = classify.token_lengths(tokenizer, imdb.model_texts()["train"]["text"])
    model = classify.build_classifier(run.model, imdb.label_names, tokenizer, seed=SEED)
    start = time.perf_counter()
    result = classify.train_classifier(model, imdb_encoded["train"], None, imdb.label_names,
                                       recipe(f"imdb-p{p}", imdb_encoded["train"]), max_length=ml)
    seconds = time.perf_counter() - start
    m, _ = classify.evaluate_classifier(result.model, imdb_encoded["test"], tokenizer, imdb.label_names)
    length_rows[f"p{p}"] = {"max_length": ml, "share truncated": round(float((lengths > ml).mean()), 3),
                            "test accuracy": m["accuracy"], "training s": round(seconds, 1)}
pd.DataFrame(length_rows).T.astype({"max_length": int})

# %% [markdown]
# **Reading the solution.** A higher percentile truncates fewer reviews and
# makes every batch longer, so training time grows with `max_length` (on a
# GPU roughly linearly, attention quadratically). At `tiny` the sample's
# reviews are a few templated sentences of similar length, so the
# percentiles are close (48 to 80 tokens) and even the 25th, which cuts more
# than half of the reviews, keeps enough sentiment words for the same
# accuracy: the time column is the lesson. Real IMDB reviews are long and
# varied (median about 220 GPT-2 tokens, 5 % over 728, the longest 1,408):
# there, expect the low percentiles to cut most reviews in the middle and
# lose accuracy, and the last percentiles to add time more than accuracy.
# Which end to keep matters too: `tokenizer.truncation_side = "left"` keeps
# the end of a review, where the verdict often is (`quality.py` keeps the
# last 256 tokens).
#
# ## What you learned

# %%
print(f"- pooling: first token {pooling.loc['first token', 'test accuracy']:.3f}, "
      f"last real token {pooling.loc['last real token', 'test accuracy']:.3f} test accuracy")
under, weighted = imbalance_rows["undersampling"], imbalance_rows["class-weighted loss"]
print(f"- imbalance: undersampling {under['steps']} steps vs weighted loss {weighted['steps']}; "
      f"spam recall {under['recall spam']:.3f} vs {weighted['recall spam']:.3f}")
ranks = lora_table["trainable weights"]
print(f"- LoRA: {ranks.iloc[0]:,} to {ranks.iloc[-1]:,} trainable weights, test accuracy "
      f"{lora_table['test accuracy'].min():.3f} to {lora_table['test accuracy'].max():.3f}")
print("- max_length: " + ", ".join(f"{k} -> {v['max_length']} tokens, {v['training s']} s"
                                   for k, v in length_rows.items()))

# %% [markdown]
# - GPT-2 must read the last real token; an encoder may read the first.
# - Each fix and each strategy has a cost (rows thrown away, weights trained,
#   a learning rate to tune, tokens computed); compare them on the same split
#   and budget.
# - `max_length` is a trade: the last percentiles of length cost the most
#   time and buy the least accuracy.

# %% [markdown]
# # Sprint 11 · 01 — Four classification data sets
#
# This sprint teaches [sequence classification](../../notes/glossary.md#sequence-classification):
# one label per text. Four binary sets, each a different kind of text:
#
# | name | what | label 1 |
# |---|---|---|
# | `sst2` | SST-2 (GLUE): movie-review phrases and sentences | positive |
# | `imdb` | IMDB: whole movie reviews, with the site's `<br />` tags | positive |
# | `sms_spam` | UCI SMS Spam Collection: text messages, 13 % spam | spam |
# | `customer_reviews` | Amazon review sentences (Hu & Liu), human ratings binarised | positive |
#
# **You will learn**
# - how the four sets are loaded by name and split into train /
#   [validation](../../notes/glossary.md#validation-set) / test, and where each split comes from;
# - why an imbalanced set (SMS spam) needs [macro-F1](../../notes/glossary.md#macro-f1) and per-class
#   [recall](../../notes/glossary.md#precision-and-recall) next to [accuracy](../../notes/glossary.md#accuracy);
# - how to choose `max_length` from the data: a percentile of the
#   [token](../../notes/glossary.md#token-and-tokenizer) lengths, and what
#   [truncation](../../notes/glossary.md#truncation) then costs.
#
# `gpt2ft.session.data.load_classification` reads each set by name: from `DATA_DIR`
# (the canonical raw files, e.g. `DATA_DIR=../shared/data`), else at `tiny`
# from the project's own synthetic samples, else from the Hugging Face hub. It
# returns stated train/validation/test splits: where the source has no split, a
# [stratified](../../notes/glossary.md#stratified-split) 80/20 test split with
# seed 0 (the data README's reference split), then a stratified validation
# slice of the training part drawn with `SEED`.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = ""  # its tokenizer counts the tokens; "" = gpt2 (full) or the tiny model (same tokenizer)
DATA_DIR = ""  # "" = the hub (full) or the bundled samples (tiny); e.g. ../shared/data (from the repository root)
SEED = 0
DATASETS = ["sst2", "imdb", "sms_spam", "customer_reviews"]
MAX_EXAMPLES = 0  # rows per split (a stratified draw); 0 = all
PERCENTILE = 95  # max_length = this percentile of the training texts' token lengths
EXAMPLES_PER_CLASS = 2

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from gpt2ft import classify
from gpt2ft.core import models, paths
from gpt2ft.session import loading, results, settings
from gpt2ft.session.data import CLASSIFICATION_NAMES, load_classification

run = settings.configure(globals(), choices=dict(DATASETS=CLASSIFICATION_NAMES))
tokenizer = loading.load_tokenizer(run.model)
context = models.context_length(loading.load_config(run))
print(f"tokenizer: {type(tokenizer).__name__}, model context: {context} tokens")

# %% [markdown]
# ## Load the sets, splits stated
#
# Every loader says where its data came from and how it was split. SST-2 has
# its own split (GLUE's labelled `dev.tsv` is our test set, because GLUE's test
# labels are hidden); the other three are split here.

# %%
data = {name: load_classification(name, run, max_examples=MAX_EXAMPLES) for name in DATASETS}
for name, d in data.items():
    print(f"{name}: {d.source}\n  {d.split_note}\n")

# %% [markdown]
# The schema is the same for all four: a `text` string and a `label` whose
# names travel with the data (they end up in the model's config in `04`).

# %%
# NBVAL_CHECK_OUTPUT
for name, d in data.items():
    print(f"{name:17} labels {d.label_names}  features {sorted(d.train.features)}")

# %% [markdown]
# ## Label balance
#
# SST-2, IMDB and the customer reviews are roughly balanced; SMS spam is not
# (13 % spam in the real file): a model that always says "ham" is 87 % accurate
# and useless. That is why every table of this sprint reports macro-F1 and
# per-class recall next to accuracy (`06_imbalance`). Stratified splits keep
# the same share in every split.

# %%
# NBVAL_CHECK_OUTPUT
rows = []
for name, d in data.items():
    for split, ds in d.splits.items():
        counts = np.bincount(ds["label"], minlength=len(d.label_names))
        rows.append({"data set": name, "split": split, "rows": len(ds),
                     "label 0": f"{d.label_names[0]}: {counts[0]}",
                     "label 1": f"{d.label_names[1]}: {counts[1]}",
                     "share of label 1": round(counts[1] / len(ds), 3)})
balance = pd.DataFrame(rows)
balance

# %% [markdown]
# **Reading this output.** One row per split. Within a set the share of
# label 1 is about the same in train, validation and test: the splits are
# stratified (SST-2's test split is GLUE's own dev set, balanced 50/50, so it
# can differ a little), and in splits of 16–60 rows one row moves the share
# by a few points. At `tiny` these are the bundled synthetic samples (200–240
# rows per set; 14 % spam in the SMS sample, close to the real file's 13 %).
# With `DATA_DIR` or at `full`
# the counts are the real sets': SST-2 has 67,349 training phrases and 872 test
# sentences, SMS spam 5,574 messages of which 747 are spam.
#
# ## Examples of each class

# %%
with pd.option_context("display.max_colwidth", 140):
    for name, d in data.items():
        train = d.train.to_pandas()
        picks = pd.concat([g.sample(min(EXAMPLES_PER_CLASS, len(g)), random_state=SEED)
                           for _, g in train.groupby("label")])
        picks["label"] = [d.label_names[i] for i in picks["label"]]
        picks["text"] = picks["text"].str.slice(0, 140)
        print(name)
        display(picks[["label", "text"]].reset_index(drop=True))

# %% [markdown]
# **Reading this output.** Two training texts of each class per set (cut at
# 140 characters). At `tiny` the examples show how easy the bundled
# samples are: each class is built from its own templates and its own word
# list ("brilliant", "heartfelt" only ever in positive SST-2 rows; "dull",
# "tedious" only in negative ones; spam always has a prize, a phone number or
# "txt"). One word decides the label, which is why the baseline in `03` and
# even a random 2-block GPT-2 in `04` score near 1.0 on them. The real sets
# are harder: SST-2 phrases such as "not bad" or "hardly a masterpiece" need
# word order.
#
# IMDB reviews keep the site's HTML line breaks (the `<br />` in the IMDB
# examples above). `<br />` costs several GPT-2 tokens each time (counted
# below); the models read the text from `ClassificationData.model_texts()`, which
# turns them into newlines (`gpt2ft.session.data.clean_html`). The bag-of-words
# baseline reads the raw text, as in the reference recipe.

# %%
imdb_train = data["imdb"].train["text"] if "imdb" in data else []
with_br = sum("<br" in t for t in imdb_train)
print(f"IMDB training reviews with <br />: {with_br} of {len(imdb_train)}")
if imdb_train:
    br_ids = tokenizer("<br /><br />")["input_ids"]
    print(f"'<br /><br />' is {len(br_ids)} tokens: {tokenizer.convert_ids_to_tokens(br_ids)}")

# %% [markdown]
# ## Token lengths and `max_length`
#
# GPT-2 reads at most 1,024 tokens (its [context length](../../notes/glossary.md#context-length)),
# and attention costs grow with the square of the length; padding every text
# to a fixed 512 would waste most of the work on SST-2, whose phrases are a
# dozen tokens long. We pick `max_length` per set from the data: the
# `PERCENTILE`-th percentile (95) of the training texts' token lengths,
# rounded up to a multiple of 8 (within the model's context). Longer texts are
# truncated (at most about one in twenty loses its end); batches are then
# padded only to their own longest row (`02`).

# %%
lengths = {name: classify.token_lengths(tokenizer, d.model_texts()["train"]["text"])
           for name, d in data.items()}
rows = []
for name, v in lengths.items():
    chosen = classify.choose_max_length(v, PERCENTILE, cap=context)
    rows.append({"data set": name, "mean": round(float(v.mean()), 1),
                 **{f"p{p}": int(np.percentile(v, p)) for p in (50, 90, 95, 99)},
                 "max": int(v.max()), "max_length": chosen,
                 "share truncated": round(float((v > chosen).mean()), 3)})
percentiles = pd.DataFrame(rows).set_index("data set")
percentiles

# %%
fig, axes = plt.subplots(1, len(lengths), figsize=(3.6 * len(lengths), 3), squeeze=False)
for ax, (name, v) in zip(axes[0], lengths.items(), strict=True):
    ax.hist(v, bins=40, color="tab:blue", alpha=0.8)
    chosen = percentiles.loc[name, "max_length"]
    ax.axvline(chosen, color="tab:red", ls="--", label=f"max_length {chosen}")
    ax.axvline(np.percentile(v, 50), color="gray", ls=":", label="median")
    ax.set_title(name)
    ax.set_xlabel("GPT-2 tokens")
    ax.legend(fontsize=8)
axes[0][0].set_ylabel("training texts")
fig.suptitle(f"Token lengths ({run.profile}{': smoke samples' if run.is_tiny else ''})")
fig.tight_layout()
results.save_figure(fig, "sprint11", "token_lengths", run)
plt.show()

# %% [markdown]
# **Reading this output.** One row per set: the mean, percentiles (p50 is the
# median) and longest training text in GPT-2 tokens, the `max_length` chosen
# and the share of training texts longer than it. The histograms draw the same
# numbers: `max_length` (red line) is the 95th percentile rounded up to a
# multiple of 8, and "share truncated" is the fraction of training texts
# longer than it (about 5 % or less by construction; 0 where the longest text
# fits). The
# bundled samples are short and uniform (a few templates per class), so the
# histograms are narrow. On the real files the sets differ by two orders of
# magnitude: SST-2 phrases are 11 tokens on average, SMS messages and
# customer-review sentences about 20, IMDB reviews about 290 with a long
# right tail (95th percentile 728, the longest past GPT-2's 1,024-token
# context). That spread is why `max_length` is chosen per set, and why IMDB
# needs long batches (micro-batches in `04`). The tiny model's context is
# 256 tokens, the cap used here at `tiny`.

# %%
path = results.write_table(percentiles, "sprint11", "token_lengths", run,
                           title="Sprint 11: token lengths and the max_length they give")
results.write_table(balance, "sprint11", "label_balance", run,
                    title="Sprint 11: label balance per split", index=False)
print("wrote", paths.shown(path))

# %% [markdown]
# ## What you learned
#
# This run's sets, as the model will see them:

# %%
share = {n: float(np.mean(d.train["label"])) for n, d in data.items()}
for name in data:
    print(f"- {name}: {len(data[name].train):,} training rows, share of label 1 {share[name]:.2f}, "
          f"max_length {percentiles.loc[name, 'max_length']} "
          f"({percentiles.loc[name, 'share truncated']:.1%} of training texts truncated)")

# %% [markdown]
# - Every set comes with stated, stratified splits; the test split is never
#   used to choose anything.
# - An imbalanced set (SMS spam) is judged by macro-F1 and recall per class,
#   not accuracy alone.
# - `max_length` comes from the data (a percentile of token lengths), so short
#   sets are not padded to 512 and long ones are cut where few texts end.
#
# Next: `02_padding_and_batches`, where these lengths become padded batches.

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
# - how the sets are loaded by name and split into train /
#   [validation](../../notes/glossary.md#validation-set) / test;
# - why an imbalanced set (SMS spam) needs [macro-F1](../../notes/glossary.md#macro-f1) and per-class
#   [recall](../../notes/glossary.md#precision-and-recall) next to [accuracy](../../notes/glossary.md#accuracy);
# - how to choose `max_length` from the data (a percentile of the
#   [token](../../notes/glossary.md#token-and-tokenizer) lengths) and what
#   [truncation](../../notes/glossary.md#truncation) then costs.
#
# The outputs are the small profile's: the real files (`DATA_DIR`, `../shared/data`), every
# row, tokens counted by SmolLM2-135M-Instruct's tokenizer (the model this sprint fine-tunes
# on a CPU; where GPT-2's tokenizer counts differently, the readings say so).

# %% tags=["parameters"]
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # its tokenizer counts the tokens; "" = gpt2 (full; tiny uses the same tokenizer) or SmolLM2 (small)
DATA_DIR = ""  # "" = the hub (full), ../shared/data (small) or the bundled samples (tiny)
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
from gpt2ft.core import checks, models, paths
from gpt2ft.session import loading, results, settings
from gpt2ft.session.data import CLASSIFICATION_NAMES, load_classification

# Every row of every set at every profile: counting tokens is cheap (seconds on a CPU).
run = settings.configure(globals(), choices=dict(DATASETS=CLASSIFICATION_NAMES))
tokenizer = loading.load_tokenizer(run.model)
context = models.context_length(loading.load_config(run))
tokens_of = classify.model_label(run)  # whose tokens the lengths below count
print(f"tokenizer of {tokens_of}: {len(tokenizer):,} tokens; model context: {context:,} tokens")

# %% [markdown]
# ## Load the sets, splits stated
#
# `gpt2ft.session.data.load_classification` reads a set by name (from `DATA_DIR`, else at
# `tiny` the project's synthetic samples, else the Hugging Face hub) and says where it came
# from and how it was split. SST-2 keeps its own split (GLUE's labelled `dev.tsv` is our test
# set, GLUE's test labels being hidden); the other three get a
# [stratified](../../notes/glossary.md#stratified-split) 80/20 test split with seed 0 (the data
# README's reference split). Each then gives a stratified validation slice of its training
# part, drawn with `SEED`. The table counts each split's labels; the checks under it: every
# set has the same schema (a `text` and a `label` whose names travel with the data, into the
# model's config in `04`), both classes in every split, and each split drawn here keeps the
# training split's share of label 1, to within one row.

# %%
data = {name: load_classification(name, run, max_examples=MAX_EXAMPLES) for name in DATASETS}
rows = []
for name, d in data.items():
    print(f"{name}: {d.source}\n  {d.split_note}")
    for split, ds in d.splits.items():
        counts = np.bincount(ds["label"], minlength=len(d.label_names))
        rows.append({"data set": name, "split": split, "rows": len(ds),
                     "label 0": f"{d.label_names[0]}: {counts[0]}",
                     "label 1": f"{d.label_names[1]}: {counts[1]}",
                     "share of label 1": round(counts[1] / len(ds), 3)})
balance = pd.DataFrame(rows)
balance

# %%
# NBVAL_CHECK_OUTPUT
def share_kept(split, reference) -> bool:
    return abs(int(np.sum(split["label"])) - np.mean(reference["label"]) * len(split)) <= 1


for name, d in data.items():
    print(f"{name:17} labels {d.label_names}  features {sorted(d.train.features)}")
    checks.holds(f"{name}: both classes in every split", all(len(set(ds["label"])) == 2 for ds in d.splits.values()))
    drawn = ["validation"] + (["test"] if name != "sst2" else [])  # SST-2's test split is GLUE's own
    checks.holds(f"{name}: {' and '.join(drawn)} keep train's share of label 1",
                 all(share_kept(d.splits[s], d.train) for s in drawn))

# %% [markdown]
# **Reading this output.** The real files: SST-2's 67,349 training phrases (66,477 train + 872
# validation, 10 % capped at 872) and GLUE's 872 dev sentences as the test split; IMDB's
# 2,000-review sample, SMS spam's 5,574 messages and 3,610 customer-review sentences, each split
# 80/20 here. Within a set the share of label 1 is the same in every split to the third decimal
# (0.134–0.135 spam, 0.588–0.590 positive customer reviews, 0.480–0.481 positive IMDB reviews),
# except SST-2's test split by design (0.509 against 0.558 in training). SMS spam is the
# imbalanced one: a model that always answers "ham" scores 0.866 on its test split, and is
# useless. That is why every table of this sprint reports macro-F1 and per-class recall next
# to accuracy. (At `tiny` the rows are the bundled synthetic samples, 200–240 per set.)
#
# ## Examples of each class

# %%
picks = []
for name, d in data.items():
    train = d.train.to_pandas()
    drawn = pd.concat([g.sample(min(EXAMPLES_PER_CLASS, len(g)), random_state=SEED) for _, g in train.groupby("label")])
    picks.append(drawn.assign(**{"data set": name, "label": [d.label_names[i] for i in drawn["label"]],
                                 "text": drawn["text"].str.slice(0, 140)}))
with pd.option_context("display.max_colwidth", 140):
    display(pd.concat(picks).set_index(["data set", "label"])[["text"]])

imdb_train = data["imdb"].train["text"] if "imdb" in data else []
if imdb_train:
    br_ids = tokenizer("<br /><br />")["input_ids"]
    print(f"IMDB training reviews with <br />: {sum('<br' in t for t in imdb_train)} of {len(imdb_train)}; "
          f"'<br /><br />' is {len(br_ids)} tokens: {tokenizer.convert_ids_to_tokens(br_ids)}")

# %% [markdown]
# **Reading this output.** Two training texts of each class per set, drawn at random (cut at
# 140 characters). SST-2's training rows are *phrases* cut from parsed sentences, each labelled
# on its own ("old porridge" is negative, though it says neither "good" nor "bad"); its test
# rows are whole sentences. IMDB reviews are long and ramble before their verdict. Spam is
# lexical: prizes, "URGENT!", phone numbers, "Reply YES". Customer reviews carry their sentiment
# in a phrase ("took some getting used to", "razor-sharp"). At `tiny` the samples are
# templated, each class with its own word list, which is why a word count scores 1.0 on them.
#
# 841 of the 1,440 IMDB training reviews hold the site's `<br />`; `<br /><br />` is 6 tokens
# (for GPT-2's tokenizer too), six positions per paragraph break that carry no meaning. The
# models read `ClassificationData.model_texts()`, where they are newlines
# (`gpt2ft.session.data.clean_html`); the bag-of-words baseline reads the raw text.
#
# ## Token lengths and `max_length`
#
# Attention costs grow with the square of the length, and padding every text to 512 would
# waste most of the work on SST-2's dozen-token phrases. So `max_length` comes from the data:
# the `PERCENTILE`-th percentile (95) of the training texts' token lengths, rounded up to a
# multiple of 8, within the model's [context length](../../notes/glossary.md#context-length)
# (GPT-2: 1,024; SmolLM2: 8,192). About one text in twenty is then truncated; each batch is
# padded only to its own longest row (`02`). The histograms are drawn by
# `classify.length_figure` (`gpt2ft/classify/diagrams.py`).

# %%
lengths = {name: classify.token_lengths(tokenizer, d.model_texts()["train"]["text"]) for name, d in data.items()}
rows = []
for name, v in lengths.items():
    chosen = classify.choose_max_length(v, PERCENTILE, cap=context)
    rows.append({"data set": name, "mean": round(float(v.mean()), 1),
                 **{f"p{p}": int(np.percentile(v, p)) for p in (50, 90, 95, 99)},
                 "max": int(v.max()), "max_length": chosen, "share truncated": round(float((v > chosen).mean()), 3)})
percentiles = pd.DataFrame(rows).set_index("data set")
display(percentiles)
fig = classify.length_figure(lengths, percentiles["max_length"].to_dict(), f"tokens ({tokens_of})",
                             f"Token lengths, {tokens_of}'s tokenizer ({run.profile})")
results.save_figure(fig, "sprint11", "token_lengths", run)
plt.show()
path = results.write_table(percentiles, "sprint11", "token_lengths", run,
                           title="Sprint 11: token lengths and the max_length they give")
results.write_table(balance, "sprint11", "label_balance", run, title="Sprint 11: label balance per split", index=False)
print("wrote", paths.shown(path))

# %% [markdown]
# **Reading this output.** One row per set: the mean, percentiles (p50 is the median) and
# longest training text in SmolLM2 tokens, the `max_length` chosen (red line in the
# histograms) and the share of training texts longer than it (2.2–4.9 %). The sets differ by
# two orders of magnitude: SST-2 phrases are 11.5 tokens on average (half of them 8 or fewer),
# SMS messages 25, customer-review sentences 21, IMDB reviews 299 with a long right tail (95th
# percentile 751, hence `max_length` 752). That spread is why `max_length` is chosen per set,
# and why IMDB needs long batches. GPT-2's tokenizer (at `full`) counts almost the same: means
# of 11.4, 22.9, 20.6 and 291.6 tokens, `max_length` 32, 56, 48 and 736.
#
# ## What you learned
#
# - Every set comes with stated, stratified splits; the test split never chooses anything.
# - An imbalanced set (SMS spam) is judged by macro-F1 and per-class recall, not accuracy alone.
# - `max_length` comes from the data (SST-2: 32, SMS spam: 72, customer reviews: 48, IMDB: 752
#   SmolLM2 tokens), so short sets are not padded to 512 and long ones are cut where few texts end.
#
# Next: `02_padding_and_batches`, where these lengths become padded batches.

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
# (the canonical raw files; the small profile's default is `../shared/data`),
# else at `tiny` from the project's own synthetic samples, else from the Hugging
# Face hub. It returns stated train/validation/test splits: where the source has
# no split, a [stratified](../../notes/glossary.md#stratified-split) 80/20 test
# split with seed 0 (the data README's reference split), then a stratified
# validation slice of the training part drawn with `SEED`.
#
# **Which run wrote the outputs you are reading.** `PROFILE=small`: the real
# files, every row, and the tokens counted by the tokenizer of
# SmolLM2-135M-Instruct, the pre-trained model this sprint fine-tunes on a CPU
# (no GPT-2 weights can be downloaded where this project is built; Sprint 10's
# `01` compares the two models). Where GPT-2's tokenizer (the `full` profile's)
# counts differently, the readings give its numbers too.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | small | full | auto
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
from gpt2ft.core import models, paths
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
# Every loader says where its data came from and how it was split. SST-2 has
# its own split (GLUE's labelled `dev.tsv` is our test set, because GLUE's test
# labels are hidden); the other three are split here.

# %%
data = {name: load_classification(name, run, max_examples=MAX_EXAMPLES) for name in DATASETS}
for name, d in data.items():
    print(f"{name}: {d.source}\n  {d.split_note}\n")

# %% [markdown]
# **Reading this output.** The real files: SST-2's 67,349 training phrases
# (66,477 train + 872 validation) and GLUE's 872 labelled dev sentences as the
# test split; IMDB's 2,000-review sample, SMS spam's 5,574 messages and the
# 3,610 customer-review sentences, each split 80/20 here. The validation slice
# is 10 % of the training part, at most 872 rows (SST-2 reaches the cap).
#
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
# The check: a stratified draw gives the validation split the training split's
# share of label 1, to within one row (rounding); so does the test split where
# it was drawn here (SST-2's test split is GLUE's own dev set, not drawn here).

# %%
# NBVAL_CHECK_OUTPUT
def within_one_row(split, reference) -> bool:
    share = np.mean(reference["label"])
    return abs(int(np.sum(split["label"])) - share * len(split)) <= 1


for name, d in data.items():
    drawn = ["validation"] + (["test"] if name != "sst2" else [])
    print(f"{name:17} both classes in every split: {all(len(set(ds['label'])) == 2 for ds in d.splits.values())}; "
          f"{' and '.join(drawn)} share of label 1 = train's to within one row: "
          f"{all(within_one_row(d.splits[s], d.train) for s in drawn)}")

# %% [markdown]
# **Reading this output.** One row per split of the real files. Within a set
# the share of label 1 is the same in train, validation and test to the third
# decimal (0.134–0.135 spam in SMS, 0.588–0.590 positive customer reviews, 0.480–0.481
# positive IMDB reviews): the splits are stratified, as the check above says.
# SST-2 is the exception by design: its test split is GLUE's own dev set,
# balanced at 0.509 positive, while its training phrases are 0.558 positive.
# SMS spam has 747 spam messages in 5,574 (538 of them in the training split):
# a model that always answers "ham" scores 0.866 accuracy on its test split.
# (At `tiny` the rows are the bundled synthetic samples, 200–240 per set.)
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
# **Reading this output.** Two training texts of each class per set, drawn at
# random (cut at 140 characters). They show what each set is made of. SST-2's
# training rows are *phrases* cut from parsed sentences, each labelled on its
# own: "old porridge" is negative and "themes that interest attal and
# gainsbourg" positive, though neither says "good" or "bad"; its test rows are
# whole sentences. IMDB reviews are long and ramble before their verdict. Spam is
# lexical: prizes, "URGENT!", phone numbers, "Reply YES"; ham is chat ("Ok then
# u tell me wat time u coming later lor"). Customer reviews are single
# sentences whose sentiment is often in a phrase ("took some getting used to",
# "razor-sharp"). At `tiny` the bundled samples are templated instead, each
# class with its own word list, which is why a word count scores 1.0 on them.
#
# IMDB reviews keep the site's HTML line breaks (`<br />`). Each costs several
# tokens (counted below); the models read the text from
# `ClassificationData.model_texts()`, which turns them into newlines
# (`gpt2ft.session.data.clean_html`). The bag-of-words baseline reads the raw
# text, as in the reference recipe.

# %%
imdb_train = data["imdb"].train["text"] if "imdb" in data else []
with_br = sum("<br" in t for t in imdb_train)
print(f"IMDB training reviews with <br />: {with_br} of {len(imdb_train)}")
if imdb_train:
    br_ids = tokenizer("<br /><br />")["input_ids"]
    print(f"'<br /><br />' is {len(br_ids)} tokens: {tokenizer.convert_ids_to_tokens(br_ids)}")

# %% [markdown]
# **Reading this output.** 841 of the 1,440 training reviews hold at least one
# `<br />`; `<br /><br />` is 6 tokens for SmolLM2's tokenizer (and 6 for GPT-2's):
# six positions of every paragraph break that carry no meaning.
#
# ## Token lengths and `max_length`
#
# GPT-2 reads at most 1,024 tokens (its [context length](../../notes/glossary.md#context-length);
# SmolLM2 8,192),
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
    ax.set_xlabel(f"tokens ({tokens_of})")
    ax.legend(fontsize=8)
axes[0][0].set_ylabel("training texts")
fig.suptitle(f"Token lengths, {tokens_of}'s tokenizer ({run.profile}{': smoke samples' if run.is_tiny else ''})")
fig.tight_layout()
results.save_figure(fig, "sprint11", "token_lengths", run)
plt.show()

# %% [markdown]
# **Reading this output.** One row per set: the mean, percentiles (p50 is the
# median) and longest training text in SmolLM2 tokens, the `max_length` chosen
# and the share of training texts longer than it. The histograms draw the same
# numbers: `max_length` (red line) is the 95th percentile rounded up to a
# multiple of 8, and "share truncated" is the fraction of training texts
# longer than it (5 % or less by construction: 2.2–4.9 % here). The sets differ
# by two orders of magnitude: SST-2 phrases are 11.5 tokens on average (half
# of them 8 or fewer), SMS messages 25 and customer-review sentences 21,
# IMDB reviews 299 with a long right tail (95th percentile 751, hence
# `max_length` 752; the longest review is 1,483 tokens). That spread is why
# `max_length` is chosen per set, and why IMDB needs long batches
# (micro-batches in `04`). GPT-2's tokenizer (at `full`) counts almost the
# same on these English texts: means of 11.4, 22.9, 20.6 and 291.6 tokens and
# `max_length` 32, 56, 48 and 736 (its IMDB cap, 1,024, is not reached by the
# 95th percentile either; the longest review, 1,408 tokens, is past it). At
# `tiny` the bundled samples are short and uniform, so the histograms are
# narrow, and the cap is the tiny model's 256 positions.

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

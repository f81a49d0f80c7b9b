# %% [markdown]
# # Sprint 12 · 04 — What fine-tuning changed, measured
#
# Four measures, each for the original and the fine-tuned model:
#
# 1. **[Perplexity](../../notes/glossary.md#perplexity) on held-out book text**
#    (the validation split): should fall.
# 2. **Perplexity on a general-text control** (modern prose unlike the book):
#    if it rises, the model traded general ability for the book's style.
# 3. **Style**: a small classifier (character n-grams, i.e. runs of 2 to 4
#    characters, + logistic regression)
#    trained to tell book passages from control passages scores each model's
#    generated samples (mean P(book)); and the share of generated word pairs
#    (bigrams) found in the book versus in the control.
# 4. **[Memorisation](../../notes/glossary.md#memorisation)**: the longest run
#    of generated tokens that appears verbatim in the training text.
#
# **You will learn**
# - perplexity as exp(mean loss), computed by hand and checked against
#   `gpt2ft.measures.perplexity`;
# - how to measure *style* and *copying* in generated text, not only loss;
# - how to answer the sprint's question, "does the model adopt the book's
#   style?", with numbers.
#
# Script: `python sprints/sprint12_book/04_evaluate.py` (after `02_finetune`).

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = ""  # the original model, as in 02: "" = gpt2 (full) or the random tiny GPT-2 (tiny)
DATA_DIR = ""  # "" = download (full) or the bundled samples (tiny)
SEED = 0
BOOK = "tinyshakespeare"  # the book 02_finetune trained on
BLOCK_SIZE = 128
N_EVAL = 300  # blocks of each text scored for perplexity, at most (Tiny Shakespeare has 264 validation blocks)
N_SAMPLES = 40  # generated samples per model for the style and copying measures
MAX_NEW_TOKENS = 80  # tokens per generated sample
PROMPT_TOKENS = 8
TEMPERATURE = 0.8
TOP_K = 40
TOP_P = 0.95

# %%
import dataclasses
import math

import pandas as pd
import torch
from IPython.display import display

from gpt2ft.core import paths
from gpt2ft.generate import decoding
from gpt2ft.lm import measures, packing
from gpt2ft.session import data, loading, results, settings

run = settings.configure(globals(), tiny=dict(N_SAMPLES=6, MAX_NEW_TOKENS=40))
book = data.load_corpus(BOOK, run)
control = data.control_text(run)
print(f"book: {book.name} from {book.source}\ncontrol: {len(control):,} characters from {control.source}")
tokenizer = loading.load_tokenizer(run.model)
original = loading.load_causal_lm(run)

# %% [markdown]
# The fine-tuned model is the one `02_finetune` made from *this* original
# model and *this* book: `run.find_finetuned` finds the `train` run that
# started from `original`'s weights and trained on `book`, and prints which
# run it is, with its settings (or says what to run when there is none).

# %%
finetuned_dir = run.find_finetuned("train", model=original, source=book)
models = {"original": original,
          "fine-tuned": loading.load_causal_lm(dataclasses.replace(run, model=str(finetuned_dir)))}

# %% [markdown]
# ## 1–2. Perplexity, by hand
#
# Perplexity is the exponential of the mean next-token loss: a model with
# perplexity *k* is, on average, as unsure as a choice among *k* equally likely
# tokens. Every block has the same length, so the mean over tokens is the mean
# of the model's per-block losses (here over the first 8 validation blocks, or
# all of them when there are fewer):

# %%
corpus = packing.prepare_corpus(book.text, tokenizer, block_size=BLOCK_SIZE, max_blocks=N_EVAL)
model, blocks = models["fine-tuned"], corpus.validation.select(range(min(8, len(corpus.validation))))
with torch.no_grad():
    block_losses = [model(input_ids=block[None].to(model.device), labels=block[None].to(model.device)).loss.item()
                    for block in blocks[:]["input_ids"]]
by_hand = math.exp(sum(block_losses) / len(block_losses))
library = measures.perplexity(model, blocks)
print(f"fine-tuned, {len(blocks)} book validation blocks: perplexity by hand {by_hand:,.2f}, "
      f"measures.perplexity {library:,.2f}")

# %%
# NBVAL_CHECK_OUTPUT
print("perplexity = exp(mean loss) by hand == measures.perplexity (relative difference below 1e-4):",
      abs(by_hand - library) / library < 1e-4)

# %% [markdown]
# `measures.perplexity` adds only what scale needs: batches of 8 blocks
# (one forward pass each instead of one per block), the cross-entropy summed
# over tokens in float32 (so bf16 logits and blocks of different lengths give
# the true token mean), and the model's device. Now both models, on the book
# and on the control text (packed into the same blocks; its first 90 % is used):

# %%
control_blocks = packing.prepare_corpus(control.text, tokenizer, block_size=BLOCK_SIZE, max_blocks=N_EVAL).train
unigram = measures.unigram_loss(corpus.train_ids, corpus.validation_ids, len(tokenizer))
perplexities = pd.DataFrame({
    name: {"book validation": measures.perplexity(m, corpus.validation),
           "general control": measures.perplexity(m, control_blocks)}
    for name, m in models.items()}).T
perplexities["unigram baseline (book)"] = math.exp(unigram)
display(perplexities.round(1))

# %% [markdown]
# **Reading this output.** The original tiny model is random, and a random
# model's perplexity is about the vocabulary size: 50,257 (it spreads its
# probability over every token). That is the 50,000-odd in the first row, on
# both texts. The fine-tuned tiny model falls below the unigram baseline on the
# book; its control perplexity falls too, because a random model gains from
# learning any English at all. With real GPT-2 a full run starts far lower
# (pre-trained GPT-2 scores a loss of about 3.1, perplexity about 22, on web
# text and 3.6 on *The Verdict*: external figures, see the card); fine-tuning
# should lower the book perplexity and *raise* the control perplexity a little
# (not measured here): that rise is the price of specialising.
#
# ## 3. Style: does the generated text read like the book?
#
# Each model continues `N_SAMPLES` validation prompts (prompt *i* with seed
# `SEED + i`, the same for both models). The style classifier is trained on
# 40-word chunks of the book's training text (label 1) and of the control text
# (label 0).

# %%
sampling = {"do_sample": True, "temperature": TEMPERATURE, "top_k": TOP_K, "top_p": TOP_P,
            "max_new_tokens": MAX_NEW_TOKENS}
prompts = packing.prompts_from(corpus.validation_ids, tokenizer, N_SAMPLES, PROMPT_TOKENS)
samples = {name: [decoding.generate(m, tokenizer, p, seed=SEED + i, **sampling)
                  for i, p in enumerate(prompts)]
           for name, m in models.items()}
texts = {name: [tokenizer.decode(t, skip_special_tokens=True) for t in tokens]
         for name, tokens in samples.items()}
train_text = tokenizer.decode(corpus.train_ids.tolist())
style = measures.StyleClassifier(train_text, control.text, seed=SEED)
print(f"{len(prompts)} samples of {MAX_NEW_TOKENS} tokens per model; the first fine-tuned one:")
print(repr(texts["fine-tuned"][0][:300]))

# %% [markdown]
# **Reading this output.** With the same settings as `03_generate`, this is the
# first fine-tuned continuation of its table: the same first prompt and seed
# give the same sample (`\n` is a line break). The measures below read all
# `N_SAMPLES` samples of each model.

# %% [markdown]
# ## 4. Memorisation: the longest span copied from the training text
#
# For each sample, the longest run of its tokens that also appears, in the
# same order, in the book's training tokens. The table keeps the longest over
# all samples (and its text) and the mean of the per-sample longest; the
# style columns of section 3 go in the same table.

# %%
rows = {}
for name in models:
    spans = [measures.longest_copied_span(t, corpus.train_ids) for t in samples[name]]
    longest = max(range(len(spans)), key=lambda i: spans[i][0])
    length, start = spans[longest]
    rows[name] = {
        "style score P(book)": style.score(texts[name]),
        "bigrams found in book": measures.ngram_overlap(texts[name], train_text),
        "bigrams found in control": measures.ngram_overlap(texts[name], control.text),
        "longest copied span (tokens)": length,
        "mean copied span (tokens)": sum(s[0] for s in spans) / len(spans),
        "copied text": repr(tokenizer.decode(samples[name][longest][start:start + length])),
    }
scores = pd.DataFrame(rows).T.infer_objects().round(3)
display(scores)

# %% [markdown]
# **Reading this output.** A style score of 0.5 means the classifier cannot
# tell; near 1, the samples read like the book. The random original writes
# tokens from all over the vocabulary, which share almost no word pairs with
# either text and copy nothing; a style score below 0.5 for it only means
# that, to this classifier, random tokens look less like the book than like
# the control's modern prose. The fine-tuned tiny model uses the sample's
# words, so more of its word pairs occur in the book and the classifier leans
# towards "book"; its longest copied span is a few tokens of a common phrase,
# not recitation. In a full run expect the fine-tuned GPT-2's style score near
# 1 and its bigrams far more often in the book than in the control; a longest
# copied span of a handful of tokens is ordinary phrasing, dozens would mean
# the model recites the book (`06_exercises`, exercise 1, makes a model do it).
#
# ## The before/after table

# %%
table = pd.concat([perplexities.round(2), scores], axis=1)
table.index.name = "model"
path = results.write_table(table, "sprint12", f"evaluation_{book.name}", run,
                           title=f"Sprint 12: {book.name}, before and after fine-tuning")
print("wrote", paths.shown(path))

# %%
# NBVAL_CHECK_OUTPUT
print("columns:", list(table.columns))
print("models:", list(table.index))

# %% [markdown]
# ## Key question: does the model adopt the book's style?
#
# The sprint's key question, answered with this run's numbers (printed, not
# typed): the style score, the share of word pairs found in the book, and how
# much of that comes from copying.

# %%
before, after = table.loc["original"], table.loc["fine-tuned"]
print(f"style score P(book):        {before['style score P(book)']:.2f} -> {after['style score P(book)']:.2f}")
print(f"bigrams found in the book:  {before['bigrams found in book']:.2f} -> {after['bigrams found in book']:.2f} "
      f"(in the control: {after['bigrams found in control']:.2f})")
print(f"book validation perplexity: {before['book validation']:,.1f} -> {after['book validation']:,.1f}")
print(f"longest copied span:        {int(after['longest copied span (tokens)'])} tokens "
      f"({after['copied text']}), mean {after['mean copied span (tokens)']:.1f}")
adopted = (after["style score P(book)"] > before["style score P(book)"]
           and after["bigrams found in book"] > after["bigrams found in control"])
print("more book-like than before, and closer to the book than to the control:", adopted)
print("by copying long spans (more than 20 tokens):", after["longest copied span (tokens)"] > 20)

# %% [markdown]
# **Reading this output.** In the tiny smoke run the answer is "yes, a
# little, and without copying": the fine-tuned model's samples score higher
# on the style classifier and share more word pairs with the book than with
# the control, while the longest span it copies is a few tokens. That is a
# 2-block model learning the *vocabulary* of a template-built sample in a
# minute of training, not a model learning Shakespeare's style; the numbers only show that
# the measures work. The answer that counts needs a full run with real GPT-2
# (`make sprint12 PROFILE=full`), where these same lines print its numbers.
#
# ## What you learned

# %%
print(f"- Perplexity = exp(mean loss): by hand {by_hand:,.2f} = measures.perplexity {library:,.2f} "
      f"(fine-tuned, {len(blocks)} book validation blocks).")
print(f"- Perplexity on the book's validation blocks: original {before['book validation']:,.1f} (a uniform "
      f"guess over the {len(tokenizer):,} tokens would score {len(tokenizer):,}); fine-tuned: "
      f"{after['book validation']:,.1f}.")
print(f"- Style score {before['style score P(book)']:.2f} -> {after['style score P(book)']:.2f}, longest "
      f"copied span {int(after['longest copied span (tokens)'])} tokens: see the table in "
      f"{paths.shown(path)}.")

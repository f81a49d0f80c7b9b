# %% [markdown]
# # Sprint 11 · 09 — Check yourself
#
# Five questions on this sprint's lesson: the position a classifier reads, the
# size of its head, what LoRA adds, what the bag of words scores, and what
# class weights do to spam recall. Each has one answer, a number, which the
# notebook computes from the model loaded below (questions 1-3) or from the
# tables this sprint's small run wrote in `results/sprint11/small/`
# (questions 4-5), keeps hidden, and checks against yours.
#
# For each question: replace `None` by your answer (work it out in the cell,
# with the names defined below, or on paper) and run the cell. A right answer
# prints **✔ right** and why; a wrong one a hint. The worked solution below
# each question is collapsed: open it once you have an answer. Questions 1-3
# are about this run's model (SmolLM2-135M-Instruct at the small profile, a
# random GPT-2 at tiny, where the numbers differ).

# %% tags=["parameters"]
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # "" = gpt2 (full), SmolLM2-135M-Instruct (small), a random tiny GPT-2 (tiny); or a hub name / folder
SEED = 0

# %%
import pandas as pd

from gpt2ft import classify
from gpt2ft.core import paths
from gpt2ft.session import loading, selfcheck, settings
from gpt2ft.training import strategies

run = settings.configure(globals())
tokenizer = loading.load_tokenizer(run.model)
model = classify.build_classifier(run.model, ["negative", "positive"], tokenizer, seed=SEED)
config = model.config  # the shapes: hidden_size, num_hidden_layers, num_attention_heads, ...
pair = tokenizer(["Dull.", "A gripping, beautifully acted film."], padding=True, return_tensors="pt")
measured = paths.repo_root() / "results" / "sprint11" / "small"  # the tables of this sprint's small run
baseline = pd.read_csv(measured / "baseline.csv", index_col="data set")  # 03's bag of words
imbalance = pd.read_csv(measured / "imbalance.csv", index_col="run")  # 06's three runs
print("names for the questions: tokenizer, model, config, pair (a padded batch of two texts),",
      f"baseline and imbalance (tables from {paths.shown(measured)})")

# %% [markdown]
# ### 1. Which position does the classifier read?
#
# `pair` is the batch of "Dull." and "A gripping, beautifully acted film.",
# padded on the right as this sprint pads. Which position's hidden state does
# the classifier's `score` head read for the **first** row, "Dull."? Answer
# with the position, counting from 0.

# %%
# NBVAL_CHECK_OUTPUT
answer = None  # your answer: a position, an int
selfcheck.check(answer, expected=int((pair["input_ids"][0] != config.pad_token_id).nonzero().max()),
                why="with right padding a row's real tokens sit at positions 0 to n - 1 and the pads come "
                    "after them; the classifier reads the last real token, the only position that has seen "
                    "the whole text (the library finds it as the right-most token that is not the pad id).",
                hint="count the tokens of 'Dull.' (tokenizer.convert_ids_to_tokens(pair['input_ids'][0])) "
                     "and remember that positions start at 0.")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# NBVAL_CHECK_OUTPUT
answer = int(pair["attention_mask"][0].sum()) - 1  # the number of real tokens, minus one
selfcheck.solution(answer, expected=int((pair["input_ids"][0] != config.pad_token_id).nonzero().max()),
                       why="the last real token is at position (number of real tokens) - 1: the mask's sum "
                           "minus one, as `02` pools by hand.")

# %% [markdown]
# ### 2. How many weights does the head have?
#
# The classifier puts a new `score` layer on top of the pre-trained body, for
# 2 labels. How many weights does `score` have?

# %%
answer = None  # your answer: a number of weights, an int
head = sum(p.numel() for p in model.score.parameters())
selfcheck.check(answer, expected=head,
                why=f"score is a {config.num_labels} x {config.hidden_size} matrix without a bias: {head:,} "
                    "weights, one row per label, applied to the last real token's hidden state.",
                hint="one row of weights per label, as wide as the hidden state; is there a bias?")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
answer = config.num_labels * config.hidden_size  # labels x width, no bias
selfcheck.solution(answer, expected=sum(p.numel() for p in model.score.parameters()),
                       why=f"{config.num_labels} x {config.hidden_size} = {answer:,}.")

# %% [markdown]
# ### 3. What does LoRA add?
#
# `05` puts LoRA adapters at rank 8 on this model's attention projections
# (`q_proj`, `k_proj`, `v_proj` and `o_proj` in SmolLM2, `c_attn` in GPT-2).
# At rank **4** on the same projections, how many weights do the adapters add
# (the head not counted)?

# %%
answer = None  # your answer: a number of weights, an int
adapted = strategies.apply_strategy(classify.build_classifier(run.model, ["negative", "positive"], tokenizer,
                                                              seed=SEED), "lora", lora_r=4)
adapters = sum(p.numel() for name, p in adapted.named_parameters() if "lora_" in name)
selfcheck.check(answer, expected=adapters,
                why=f"each adapted projection W (in -> out) gets A (4 x in) and B (out x 4): 4 x (in + out) "
                    f"weights, in each of the {config.num_hidden_layers} blocks: {adapters:,} in all, "
                    "half of rank 8's.",
                hint="A is r x in and B is out x r for each target projection of each block; the key and "
                     "value projections of SmolLM2 are narrower (grouped-query attention).")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
d = config.hidden_size
if config.model_type == "gpt2":  # c_attn: d -> 3d
    projections = [(d, 3 * d)]
else:  # q and o: d -> d; k and v: d -> key/value heads x head width
    kv = config.num_key_value_heads * (d // config.num_attention_heads)
    projections = [(d, d), (d, kv), (d, kv), (d, d)]
answer = config.num_hidden_layers * sum(4 * (i + o) for i, o in projections)
selfcheck.solution(answer, expected=adapters,
                       why=f"{config.num_hidden_layers} blocks x the sum of 4 x (in + out) = {answer:,}.")

# %% [markdown]
# ### 4. What does the bag of words score?
#
# `03` fitted the bag of words (word counts and a logistic regression) on
# every SST-2 training row. How many of SST-2's 872 test sentences did it
# classify right? (`baseline`, its table, is loaded above.)

# %%
answer = None  # your answer: a number of sentences, an int
right = round(baseline.loc["sst2", "accuracy"] * baseline.loc["sst2", "test rows"])
selfcheck.check(answer, expected=right,
                why=f"accuracy {baseline.loc['sst2', 'accuracy']} of 872 sentences: {right} right, from word "
                    "counts alone; `04`'s fine-tuned model is measured against that line.",
                hint="accuracy is the share of test rows classified right: read it in the sst2 row.")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
answer = round(baseline.loc["sst2", "accuracy"] * 872)
selfcheck.solution(answer, expected=right, why=f"{baseline.loc['sst2', 'accuracy']} x 872 = {answer}.")

# %% [markdown]
# ### 5. What do class weights do to spam recall?
#
# `06` trained the same head three times on 400 SMS messages, one epoch at
# the same rate. On its 53 spam test messages, how many **more** did the
# class-weighted run catch than plain cross-entropy? (Its table is
# `imbalance`, loaded above.)

# %%
answer = None  # your answer: a number of messages, an int
caught = (imbalance["recall spam"] * imbalance["true spam"]).round().astype(int)
more = int(caught["class-weighted loss"] - caught["plain cross-entropy"])
selfcheck.check(answer, expected=more,
                why=f"recall is the share of true spam caught: plain cross-entropy caught "
                    f"{caught['plain cross-entropy']} of 53 (it calls nearly everything ham), the weighted "
                    f"loss {caught['class-weighted loss']}: {more} more, because a spam message now weighs "
                    "as much in the loss as about 6 ham messages.",
                hint="messages caught = recall spam x true spam, for each run.")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
plain, weighted = imbalance.loc["plain cross-entropy"], imbalance.loc["class-weighted loss"]
answer = round(weighted["recall spam"] * 53) - round(plain["recall spam"] * 53)
selfcheck.solution(answer, expected=more, why=f"{round(weighted['recall spam'] * 53)} - "
                                                  f"{round(plain['recall spam'] * 53)} = {answer}.")

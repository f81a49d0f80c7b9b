"""gpt2ft.classify: load_encoded, the head on frozen features (frozen) and the run comparisons (comparison).

The tiny random GPT-2 (2 blocks, 64 dims) and the bundled samples: offline, a few seconds.
"""

from __future__ import annotations

import math
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from data_helpers import tiny

from gpt2ft import classify
from gpt2ft.session import loading
from gpt2ft.session.settings import TINY_MODEL

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GPT2FT_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def sst2():
    tokenizer = loading.bundled_tokenizer()
    classify.set_pad_token(tokenizer)
    data, encoded, max_length = classify.load_encoded("sst2", tiny(), tokenizer)
    model = classify.build_classifier(TINY_MODEL, data.label_names, tokenizer, seed=0).eval()
    return data, encoded, max_length, model


def test_load_encoded_is_the_steps_of_01_in_one_call(sst2):
    data, encoded, max_length, _ = sst2
    tokenizer = loading.bundled_tokenizer()
    lengths = classify.token_lengths(tokenizer, data.model_texts()["train"]["text"])
    assert max_length == classify.choose_max_length(lengths, 95, cap=1024)
    assert list(encoded) == ["train", "validation", "test"]
    assert {"input_ids", "attention_mask", "labels"} <= set(encoded["train"].column_names)
    assert max(len(x) for x in encoded["train"]["input_ids"]) <= max_length
    assert list(encoded["test"]["labels"]) == list(data.splits["test"]["label"])


def test_hidden_states_are_the_heads_input_at_the_chosen_positions(sst2):
    _, encoded, _, model = sst2
    rows = encoded["test"].select(range(5))
    states = classify.hidden_states(model, rows, lambda n: [0, n - 1], batch_rows=2)
    assert states.shape == (5, 2, model.config.n_embd)
    with torch.no_grad():  # the model's own logits are the score head on the last real token
        logits = torch.cat([model(input_ids=torch.tensor([ids])).logits for ids in rows["input_ids"]])
    torch.testing.assert_close(model.score(states[:, 1]), logits, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        first = model.base_model(input_ids=torch.tensor([rows["input_ids"][0][:1]])).last_hidden_state[0, 0]
    torch.testing.assert_close(states[0, 0], first, atol=1e-5, rtol=1e-5)  # position 0 sees token 0 only


def test_train_head_starts_from_the_score_head_and_learns_a_separable_set():
    torch.manual_seed(0)
    model = classify.build_classifier(TINY_MODEL, ["a", "b"], seed=0)
    y = torch.arange(64) % 2
    X = torch.randn(64, model.config.n_embd) + 3 * (2 * y[:, None] - 1)
    untrained, _ = classify.train_head(model, X, y, 1e-2, 0, batch_size=8)
    torch.testing.assert_close(untrained.weight, model.score.weight)
    head, loss = classify.train_head(model, X, y, 5e-2, 40, batch_size=8)
    assert loss < math.log(2) / 4
    assert classify.head_scores(head, X, y, ["a", "b"])["accuracy"] == 1.0
    again, loss_again = classify.train_head(model, X, y, 5e-2, 40, batch_size=8)  # seeded: the same head
    assert loss_again == loss and torch.equal(again.weight, head.weight)
    weighted, _ = classify.train_head(model, X, y, 5e-2, 40, batch_size=8, class_weights=[1.0, 3.0])
    assert not torch.equal(weighted.weight, head.weight)


def test_loss_curves_and_confusion_grid():
    history = pd.DataFrame({"step": [1, 2, 3, 4], "train_loss": [0.9, np.nan, 0.5, 0.4]})
    fig = classify.loss_curves_figure({"head": history, "full": history}, {"head": "head (lr 0.01)"}, "t")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()[:2]] == ["head (lr 0.01)", "full"]
    assert list(ax.get_lines()[0].get_xdata()) == [1, 3, 4]  # rows without a training loss dropped
    assert ax.get_lines()[-1].get_ydata()[0] == pytest.approx(math.log(2))
    grid = classify.confusion_grid([0, 0, 1], {"plain": [0, 0, 0], "weighted": [0, 1, 1]}, ["ham", "spam"])
    assert [a.get_title() for a in grid.axes] == ["plain", "weighted"]
    assert sorted(t.get_text() for t in grid.axes[0].texts) == ["0\n0%", "0\n0%", "1\n100%", "2\n100%"]

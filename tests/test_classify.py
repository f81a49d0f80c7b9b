"""gpt2ft.classify: pad token and pooling, labels through save/load/pipeline, metrics, weights.

Models are the tiny random GPT-2 (2 blocks, 64 dims) with the real GPT-2
tokenizer, so every test runs offline in a second or two.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import datasets
import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, GPT2ForSequenceClassification
from transformers.utils import logging as hf_logging

from gpt2ft import classify, loading
from gpt2ft.settings import TINY_MODEL

hf_logging.set_verbosity_error()
LABELS = ["negative", "positive"]
TEXTS = ["a great film", "the plot was dull and far too long for its own good", "meh"]


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GPT2FT_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def tokenizer():
    return loading.bundled_tokenizer()


@pytest.fixture
def model(tokenizer):
    return classify.build_classifier(TINY_MODEL, LABELS, tokenizer, seed=0).eval()


def alone(model, tokenizer, texts):
    """Logits of each text run on its own (batch of one, no padding at all)."""
    with torch.no_grad():
        return torch.cat([model(**tokenizer(t, return_tensors="pt")).logits for t in texts])


# --- pad token and pooling -------------------------------------------------------------------

def test_gpt2_has_no_pad_token_and_set_pad_token_fixes_tokenizer_and_config(tokenizer):
    raw = classify.build_classifier(TINY_MODEL, LABELS)
    assert tokenizer.pad_token is None and raw.config.pad_token_id is None
    classify.set_pad_token(tokenizer, raw)
    assert tokenizer.pad_token == "<|endoftext|>" == tokenizer.eos_token
    assert tokenizer.pad_token_id == raw.config.pad_token_id == 50256
    assert tokenizer.padding_side == "right"


def test_right_padded_batch_gives_the_same_logits_as_each_example_alone(model, tokenizer):
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    assert (batch["attention_mask"] == 0).any()  # the batch really is padded
    with torch.no_grad():
        padded = model(**batch).logits
    torch.testing.assert_close(padded, alone(model, tokenizer, TEXTS), atol=1e-5, rtol=1e-5)


def test_predict_with_dynamic_padding_matches_each_example_alone(model, tokenizer):
    data = datasets.Dataset.from_dict({"text": TEXTS, "label": [1, 0, 0]})
    encoded = classify.encode(data, tokenizer, max_length=64)
    logits = classify.predict(model, encoded, tokenizer, batch_size=2)
    np.testing.assert_allclose(logits, alone(model, tokenizer, TEXTS).numpy(), atol=1e-5)


def test_missing_pad_token_is_refused_by_tokenizer_and_model(tokenizer):
    model = classify.build_classifier(TINY_MODEL, LABELS)  # no tokenizer: no pad id in config
    with pytest.raises(ValueError, match="padding token"):
        tokenizer(TEXTS, padding=True)
    tokenizer.pad_token = tokenizer.eos_token  # the tokenizer alone is not enough
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with pytest.raises(ValueError, match="no padding token is defined"):
        model(**batch)


def test_left_padding_changes_the_logits(model, tokenizer):
    """GPT-2 numbers positions from the first column: left padding shifts every real token."""
    tokenizer.padding_side = "left"
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        left = model(**batch).logits
        # positions counted from the first real token would undo the shift
        positions = (batch["attention_mask"].cumsum(-1) - 1).clamp(min=0)
        fixed = model(**batch, position_ids=positions).logits
    reference = alone(model, tokenizer, TEXTS)
    assert not torch.allclose(left, reference, atol=1e-3)
    torch.testing.assert_close(fixed, reference, atol=1e-5, rtol=1e-5)


def test_pad_id_in_config_must_be_the_tokenizers(model, tokenizer):
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    model.config.pad_token_id = 0  # "!" : the model then reads a pad position
    with torch.no_grad():
        wrong = model(**batch).logits
    assert not torch.allclose(wrong, alone(model, tokenizer, TEXTS), atol=1e-3)


# --- lengths, encoding ---------------------------------------------------------------------

def test_choose_max_length_is_a_rounded_percentile_within_bounds():
    lengths = list(range(1, 101))  # 95th percentile = 95.05
    assert classify.choose_max_length(lengths, 95) == 96
    assert classify.choose_max_length(lengths, 50, multiple=16) == 64
    assert classify.choose_max_length(lengths, 100, cap=64) == 64
    assert classify.choose_max_length([3, 4, 5], 95) == 16  # floor


def test_encode_truncates_and_does_not_pad(tokenizer):
    data = datasets.Dataset.from_dict({"text": ["one two three four five six", "hi"],
                                       "label": [0, 1]})
    encoded = classify.encode(data, tokenizer, max_length=4)
    assert [len(x) for x in encoded["input_ids"]] == [4, 1]
    assert encoded["labels"] == [0, 1] and "label" not in encoded.column_names
    assert encoded["text"] == data["text"]


# --- labels in the config, save/load, pipeline ---------------------------------------------

def test_labels_survive_save_load_and_pipeline_prints_label_names(model, tokenizer, tmp_path):
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert model.config.label2id == {"negative": 0, "positive": 1}
    folder = classify.export_for_pipeline(model, tokenizer, tmp_path / "clf")
    again = AutoModelForSequenceClassification.from_pretrained(folder)
    assert isinstance(again, GPT2ForSequenceClassification)
    assert again.config.id2label == model.config.id2label
    assert again.config.pad_token_id == 50256

    out = classify.pipeline_predictions(folder, TEXTS, max_length=32)
    assert set(out["label"]) <= set(LABELS)
    data = datasets.Dataset.from_dict({"text": TEXTS, "label": [1, 0, 0]})
    logits = classify.predict(model, classify.encode(data, tokenizer, 32), tokenizer)
    ours = classify.predictions_frame(TEXTS, [1, 0, 0], logits, LABELS)
    assert list(out["label"]) == list(ours["predicted"])
    np.testing.assert_allclose(out["score"], ours["probability"], atol=1e-4)


# --- metrics -------------------------------------------------------------------------------

def test_metrics_on_a_hand_made_case():
    m = classify.classification_metrics([0, 0, 0, 1], [0, 0, 1, 1], ["ham", "spam"])
    assert m["accuracy"] == 0.75
    assert (m["precision_ham"], m["recall_ham"]) == (1.0, pytest.approx(2 / 3))
    assert (m["precision_spam"], m["recall_spam"]) == (0.5, 1.0)
    assert m["f1_ham"] == pytest.approx(0.8) and m["f1_spam"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert m["macro_recall"] == pytest.approx((2 / 3 + 1) / 2)


def test_one_class_predictions_look_fine_on_accuracy_only():
    y_true = [0] * 87 + [1] * 13
    m = classify.classification_metrics(y_true, [0] * 100, ["ham", "spam"])
    assert m["accuracy"] == 0.87
    assert m["recall_spam"] == 0.0 and m["precision_spam"] == 0.0  # no warning, just 0
    assert m["macro_f1"] == pytest.approx((2 * 0.87 / 1.87) / 2)


def test_metrics_table_and_engine_metrics_fn():
    table = classify.metrics_table([0, 1, 1, 1], [0, 1, 0, 1], ["a", "b"])
    assert list(table.index) == ["a", "b", "macro avg"]
    assert table.loc["b", "recall"] == pytest.approx(0.6667, abs=1e-4)
    assert table.loc["macro avg", "support"] == 4
    fn = classify.metrics_fn(["a", "b"])
    out = fn(np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]]), np.array([0, 1, 1, 1]))
    assert out == {"accuracy": 0.75, "macro_f1": pytest.approx(0.7333, abs=1e-4),
                   "recall_a": 1.0, "recall_b": pytest.approx(2 / 3)}


def test_confusion_figure_counts():
    fig = classify.confusion_figure([0, 0, 1], [0, 1, 1], ["ham", "spam"], title="t")
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["0\n0%", "1\n100%", "1\n50%", "1\n50%"]


def test_predictions_frame_columns():
    frame = classify.predictions_frame(["x", "y"], [0, 1], np.array([[2.0, 0.0], [1.0, 0.0]]),
                                       ["ham", "spam"])
    assert list(frame.columns) == ["text", "label", "predicted", "probability", "correct"]
    assert list(frame["predicted"]) == ["ham", "ham"]
    assert frame["probability"].iloc[0] == pytest.approx(0.8808, abs=1e-4)
    assert list(frame["correct"]) == [True, False]


# --- imbalance -----------------------------------------------------------------------------

def test_class_weights_balance_the_classes():
    labels = [0] * 87 + [1] * 13
    w = classify.class_weights(labels, 2)
    assert w.tolist() == pytest.approx([100 / 174, 100 / 26])
    assert 87 * w[0].item() == pytest.approx(13 * w[1].item())  # each class weighs the same
    assert classify.class_weights([0, 0], 2).tolist() == [1.0, 0.0]  # absent class: weight 0


def test_weighted_loss_is_weighted_cross_entropy():
    class Out:
        logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    batch = {"labels": torch.tensor([0, 1, 1])}
    plain = classify.weighted_loss(torch.ones(2))(Out, batch)
    assert plain.item() == pytest.approx(torch.nn.functional.cross_entropy(Out.logits,
                                                                           batch["labels"]).item())
    w = torch.tensor([1.0, 3.0])
    nll = -torch.log_softmax(Out.logits, -1)[torch.arange(3), batch["labels"]]
    expected = (nll * w[batch["labels"]]).sum() / w[batch["labels"]].sum()
    assert classify.weighted_loss(w)(Out, batch).item() == pytest.approx(expected.item())


def test_balanced_subset_oversamples_the_minority():
    data = datasets.Dataset.from_dict({"labels": [0] * 9 + [1] * 3, "i": list(range(12))})
    out = classify.balanced_subset(data, seed=0)
    assert np.bincount(out["labels"]).tolist() == [9, 9]
    assert sorted(set(out["i"])) == list(range(12))  # every original row is kept


# --- training through the engine ------------------------------------------------------------

def test_train_classifier_evaluates_each_epoch_and_keeps_the_best(model, tokenizer, tmp_path):
    torch.set_num_threads(1)
    texts = [f"good {'fine ' * (i % 5)}movie" if i % 2 else f"bad {'dull ' * (i % 4)}movie"
             for i in range(24)]
    data = datasets.Dataset.from_dict({"text": texts, "label": [i % 2 for i in range(24)]})
    encoded = classify.encode(data, tokenizer, 16)
    result = classify.train_classifier(model, encoded, encoded.select(range(8)), LABELS,
                                       tmp_path / "run", epochs=2, learning_rate=3e-3,
                                       batch_size=8, progress_bar=False, verbose=False)
    evals = result.history.dropna(subset=["eval_loss"])
    assert list(evals["step"]) == [3, 6]  # one evaluation per epoch of 3 steps
    assert {"eval_accuracy", "eval_macro_f1", "eval_recall_negative"} <= set(evals.columns)
    assert (result.best_checkpoint / "model.safetensors").is_file()


def test_training_state_and_memory_monitor(model):
    full = classify.training_state_mb(model)
    model.requires_grad_(False)
    assert classify.training_state_mb(model) == pytest.approx(full / 4)
    with classify.MemoryMonitor("cpu") as mon:
        block = torch.ones(4_000_000)  # 16 MB
        block += 1
    assert mon.peak_mb >= 0


def test_minilm_is_found_when_installed():
    pytest.importorskip(classify.MINILM_PACKAGE)
    assert (classify.minilm_dir() / "config.json").is_file()

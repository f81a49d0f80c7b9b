"""gpt2ft.classify: pad token and pooling, labels through save/load/pipeline, metrics, weights.

Models are the tiny random GPT-2 (2 blocks, 64 dims) with the real GPT-2
tokenizer, so every test runs offline in a second or two.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import datasets
import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, GPT2ForSequenceClassification
from transformers.utils import logging as hf_logging

from gpt2ft import classify
from gpt2ft.session import loading
from gpt2ft.session.settings import TINY_MODEL
from gpt2ft.training import TrainConfig

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


def test_prediction_batches_keep_to_the_row_and_token_limits():
    lengths = [5, 1, 9, 3, 9, 2, 40]
    batches = classify.prediction_batches(lengths, batch_size=3, max_tokens=20)
    assert sorted(int(i) for b in batches for i in b) == list(range(7))  # every row once
    assert all(len(b) <= 3 for b in batches)
    assert all(len(b) * max(lengths[i] for i in b) <= 20 for b in batches if len(b) > 1)
    assert [lengths[i] for i in batches[-1]] == [40]  # longer than the budget: alone
    assert classify.prediction_budget("cpu") == 16_384


def test_predict_gives_the_same_logits_in_small_batches(model, tokenizer):
    data = datasets.Dataset.from_dict({"text": TEXTS * 3, "label": [1, 0, 0] * 3})
    encoded = classify.encode(data, tokenizer, max_length=64)
    whole = classify.predict(model, encoded, tokenizer)
    small = classify.predict(model, encoded, tokenizer, max_tokens=16)
    np.testing.assert_allclose(small, whole, atol=1e-5)


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


def tiny_llama_classifier(tokenizer):
    """A random 2-block Llama-family classifier (SmolLM2's architecture at a toy size)."""
    from transformers import LlamaConfig, LlamaForSequenceClassification
    classify.set_pad_token(tokenizer)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         num_labels=2, pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    torch.manual_seed(0)
    return LlamaForSequenceClassification(config).eval()


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_pooling_by_hand_holds_for_gpt2_and_llama(model, tokenizer, family):
    """02's by-hand pooling: the body (``base_model``), each row's last real token, ``score`` as a matmul."""
    from gpt2ft.core import models
    clf = model if family == "gpt2" else tiny_llama_classifier(tokenizer)
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = clf.base_model(**batch).last_hidden_state
        last = batch["attention_mask"].sum(-1) - 1
        ours = hidden[torch.arange(len(TEXTS)), last] @ clf.score.weight.T
        theirs = clf(**batch).logits
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(theirs, alone(clf, tokenizer, TEXTS), atol=1e-5, rtol=1e-5)
    assert len(models.transformer_blocks(clf)) == 2 and models.final_norm(clf) is not None


def test_left_padding_shifts_gpt2_but_not_rotary_positions(model, tokenizer):
    """02's verdict: learned positions (GPT-2) make left padding change the logits; rotary ones do not."""
    from gpt2ft.core import models
    llama = tiny_llama_classifier(tokenizer)
    tokenizer.padding_side = "left"
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        gpt2_left, llama_left = model(**batch).logits, llama(**batch).logits
    tokenizer.padding_side = "right"
    assert models.position_embeddings(model) is not None and models.position_embeddings(llama) is None
    assert not torch.allclose(gpt2_left, alone(model, tokenizer, TEXTS), atol=1e-4)
    torch.testing.assert_close(llama_left, alone(llama, tokenizer, TEXTS), atol=1e-4, rtol=1e-4)


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


def test_token_lengths_count_long_texts_without_a_warning(tokenizer, capfd):
    lengths = classify.token_lengths(tokenizer, ["a " * 1500, "b"])
    assert lengths.tolist() == [1501, 1]  # longer than GPT-2's 1,024: counted, not cut
    assert "longer than the specified maximum" not in capfd.readouterr().err


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
    stale = tmp_path / "run" / "checkpoint-99"
    stale.mkdir(parents=True)  # something else's folder: kept aside, never resumed or deleted
    cfg = TrainConfig(tmp_path / "run", learning_rate=3e-3, batch_size=8, num_epochs=2,
                      eval_every="epoch", save_every=None, save_final=False, load_best_at_end=True,
                      resume=False, progress_bar=False, verbose=False)
    result = classify.train_classifier(model, encoded, encoded.select(range(8)), LABELS, cfg)
    evals = result.history.dropna(subset=["eval_loss"])
    assert list(evals["step"]) == [3, 6]  # one evaluation per epoch of 3 steps
    assert {"eval_accuracy", "eval_macro_f1", "eval_recall_negative"} <= set(evals.columns)
    assert (result.best_checkpoint / "model.safetensors").is_file()
    assert not stale.exists()
    kept = list(tmp_path.glob("run-kept-*/checkpoint-99"))
    assert len(kept) == 1
    fresh = classify.build_classifier(TINY_MODEL, LABELS, tokenizer)  # the same start as `model`
    again = classify.train_classifier(fresh, encoded, encoded.select(range(8)), LABELS, cfg)
    assert again.steps == 6 and len(list(tmp_path.glob("run-kept-*"))) == 1  # a rerun replaces itself


def test_a_named_classifier_run_resumes_and_its_plot_shows_the_whole_history(model, tokenizer, tmp_path):
    """Sprint 11's runs (``run.train_config``): a rerun of the same identity resumes, not retrains."""
    torch.set_num_threads(1)
    data = datasets.Dataset.from_dict({"text": [f"{'good' if i % 2 else 'bad'} movie {i}" for i in range(16)],
                                       "label": [i % 2 for i in range(16)]})
    encoded = classify.encode(data, tokenizer, 16)
    cfg = TrainConfig(tmp_path, run_name="finetune-sst2", learning_rate=3e-3, batch_size=8, num_epochs=2,
                      eval_every="epoch", save_every="epoch", load_best_at_end=True, log_every=1,
                      progress_bar=False, verbose=False)
    first = classify.train_classifier(model, encoded, encoded.select(range(8)), LABELS, cfg)
    assert first.run_dir.parent == tmp_path and first.run_dir.name.startswith("finetune-sst2-")
    plot = classify.LossAccuracyPlot()
    fresh = classify.build_classifier(TINY_MODEL, LABELS, tokenizer)  # the same start as `model`
    again = classify.train_classifier(fresh, encoded, encoded.select(range(8)), LABELS, cfg, callbacks=[plot])
    assert again.run_dir == first.run_dir and again.resumed_from.name.startswith("step-")
    assert again.steps == 4 and again.history.equals(first.history)  # nothing retrained, nothing lost
    assert [s for s, _ in plot.train] == [1, 2, 3, 4] and [s for s, *_ in plot.scores] == [2, 4]


@pytest.mark.parametrize("tok_pad, cfg_pad", [(None, 50256), (50256, None), (50256, 0)])
def test_pad_token_mismatches_are_refused_before_any_work(model, tokenizer, tok_pad, cfg_pad, tmp_path):
    encoded = classify.encode(datasets.Dataset.from_dict({"text": TEXTS, "label": [0, 1, 0]}), tokenizer, 16)
    if tok_pad is None:
        tokenizer.pad_token = None
    model.config.pad_token_id = cfg_pad
    with pytest.raises(ValueError, match=rf"tokenizer pads with {tok_pad}.*pad_token_id={cfg_pad}.*set_pad_token"):
        classify.predict(model, encoded, tokenizer)
    cfg = TrainConfig(tmp_path / "run", batch_size=2, progress_bar=False, verbose=False)
    with pytest.raises(ValueError, match="pad tokens disagree"):
        classify.train_classifier(model, encoded, None, LABELS, cfg, tokenizer=tokenizer)
    assert not (tmp_path / "run").exists()


def test_minilm_is_found_when_installed():
    pytest.importorskip(classify.MINILM_PACKAGE)
    assert (classify.minilm_dir() / "config.json").is_file()


# --- on the GPU when there is one -----------------------------------------------------------

@pytest.mark.parametrize("cuda, asked, used", [(True, None, "cuda"), (False, None, "cpu"),
                                               (True, "cpu", "cpu")])
def test_pipeline_predictions_run_on_the_gpu_when_there_is_one(monkeypatch, tmp_path, cuda, asked,
                                                               used):
    import transformers
    seen = {}

    def fake_pipeline(task, model, tokenizer, device):
        seen.update(task=task, model=model, device=device)
        return lambda texts, **kwargs: [{"label": "positive", "score": 0.75} for _ in texts]

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(transformers, "pipeline", fake_pipeline)
    out = classify.pipeline_predictions(tmp_path, TEXTS, max_length=16, device=asked)
    assert seen == {"task": "text-classification", "model": str(tmp_path), "device": used}
    assert list(out["label"]) == ["positive"] * 3


# --- diagrams -------------------------------------------------------------------------------

def test_padding_figure_frames_the_position_the_model_reads(tokenizer):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.patches import Rectangle
    classify.set_pad_token(tokenizer)
    fig = classify.padding_figure(tokenizer, TEXTS)
    assert tokenizer.padding_side == "right"  # restored
    right, left = fig.axes
    width = len(tokenizer(TEXTS, padding=True)["input_ids"][0])
    for ax in (right, left):
        frames = [p for p in ax.patches if isinstance(p, Rectangle) and not p.get_fill()]
        assert len(frames) == len(TEXTS)
    columns = sorted(round(p.get_x() + 0.03) for p in right.patches
                     if isinstance(p, Rectangle) and not p.get_fill())
    lengths = sorted(len(tokenizer(t)["input_ids"]) - 1 for t in TEXTS)
    assert columns == lengths  # right padding: each row's last real token
    assert all(round(p.get_x() + 0.03) == width - 1 for p in left.patches
               if isinstance(p, Rectangle) and not p.get_fill())  # left padding: the last column
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_padding_figure_names_each_label_once_and_draws_no_arrow_across_the_padding(tokenizer):
    # issue 20: "pos"/"mask" under every token overlapped, and the arrows crossed the pad cells
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    classify.set_pad_token(tokenizer)
    fig = classify.padding_figure(tokenizer, TEXTS)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert not any("mask" in t for t in texts) and not any(t.startswith("pos ") for t in texts)
    assert all(not ax.patches or not [p for p in ax.patches if type(p).__name__ == "FancyArrowPatch"]
               for ax in fig.axes)
    assert "attention_mask 0" in " ".join(t.get_text() for t in fig.texts)  # the legend, once
    plt.close(fig)


def test_length_and_loop_figures_draw_what_they_are_given():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = classify.length_figure({"a": [3, 5, 8], "b": [10, 40]}, {"a": 8, "b": 40}, "tokens", "lengths")
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == "max_length 8"
    plt.close(fig)
    fig = classify.loop_figure([0.7, 0.6, 0.5], [1, 2, 3], [0.7, 0.6, 0.5], [0.0, 1e-3, 5e-4], 1)
    loss_ax, lr_ax = fig.axes
    assert list(loss_ax.lines[0].get_ydata()) == list(loss_ax.lines[1].get_ydata()) == [0.7, 0.6, 0.5]
    assert list(lr_ax.lines[0].get_ydata()) == [0.0, 1e-3, 5e-4] and "warm-up 1 steps" in lr_ax.get_title()
    plt.close(fig)


def test_stack_figure_uses_the_config(model, tokenizer):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ids = tokenizer("a great film")["input_ids"]
    fig = classify.stack_figure(model.config, tokenizer.convert_ids_to_tokens(ids) + ["pad"], len(ids))
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert f"{model.config.n_layer} transformer blocks" in texts
    assert f"Linear {model.config.n_embd} → 2" in texts and "negative, positive" in texts
    plt.close(fig)


def test_stack_figure_names_a_llama_familys_own_parts(tokenizer):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    llama = tiny_llama_classifier(tokenizer)
    fig = classify.stack_figure(llama.config, ["a", "·film", "pad"], 2)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "2 transformer blocks" in texts and "Linear 64 → 2" in texts
    assert "rotary" in texts and "RMSNorm" in texts and "position embedding" not in texts
    assert fig.axes[0].get_title().startswith("LlamaForSequenceClassification")
    plt.close(fig)


def test_model_label_names_the_model_without_a_machine_path(monkeypatch):
    from gpt2ft.core import paths
    from gpt2ft.session import settings
    tiny = settings.resolve("tiny", env={}, cuda=False)
    assert classify.model_label(tiny) == "random tiny GPT-2"
    small = settings.Settings("small", "", str(paths.small_model_dir()), None, 0, "cpu")
    assert classify.model_label(small) == settings.SMALL_MODEL_NAME
    assert classify.model_label(settings.Settings("full", "", "gpt2", None, 0, "cpu")) == "gpt2"


# --- quality.py: a subset run checks and writes only its own sets --------------------------

def _quality_module():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "sprints" / "sprint11_classification" / "quality.py"
    spec = importlib.util.spec_from_file_location("sprint11_quality", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def _fake_row(name, accuracy=0.95, bow=0.80):
    return {"data set": name, "train rows": 10, "max_length": 16, "truncation": "keep start",
            "epochs": 1, "lr": 1e-4, "trainable params": 1000, "MiniLM accuracy": accuracy,
            "MiniLM macro-F1": accuracy, "MiniLM recall per class": "", "BoW accuracy": bow,
            "BoW macro-F1": bow, "BoW same rows accuracy": bow, "reference BoW": bow,
            "test rows": 8, "pipeline agrees": 8, "best epoch": 1.0, "train s": 1.0,
            "total s": 1.0, "checkpoint": "runs/x"}


def test_quality_names_its_files_by_what_ran():
    quality = _quality_module()
    assert quality.output_stem(["sst2", "imdb", "sms_spam", "customer_reviews"]) == "quality"
    assert quality.output_stem(["imdb", "sst2", "sst2", "sms_spam", "customer_reviews"]) == "quality"
    assert quality.output_stem(["sst2"]) == "quality-sst2"
    assert quality.output_stem(["imdb", "sst2"], train_rows=500) == "quality-sst2-imdb-rows500"
    assert quality.output_stem(list(quality.PLANS), epochs=1) == "quality-sst2-imdb-sms_spam-customer_reviews-epochs1"
    assert quality.predictions_name("quality", "imdb") == "predictions_imdb.csv"
    assert quality.predictions_name("quality-imdb", "imdb") == "quality-imdb_predictions_imdb.csv"


def test_quality_subset_exits_0_when_its_checks_pass_and_keeps_the_complete_runs_files(
        tmp_path, monkeypatch):
    quality = _quality_module()
    pytest.importorskip(classify.MINILM_PACKAGE)
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    out = tmp_path / "results" / "sprint11" / "quality"
    out.mkdir(parents=True)
    complete = {f"quality.{ext}": f"the complete four-set run ({ext})" for ext in ("md", "csv", "json")}
    for name, text in complete.items():
        (out / name).write_text(text)
    ran = []

    def fake_run_one(name, plan, run, predictions_file, folder):
        ran.append((name, predictions_file.name, folder.relative_to(tmp_path / "runs").as_posix()))
        predictions_file.write_text("text,label\n")
        return _fake_row(name)

    monkeypatch.setattr(quality, "run_one", fake_run_one)
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # main() sets it for the process
    assert quality.main(["--sets", "sst2", "--threads", "1"]) == 0
    assert ran == [("sst2", "quality-sst2_predictions_sst2.csv", "sprint11/quality-sst2/sst2")]
    assert {n: (out / n).read_text() for n in complete} == complete  # untouched
    report = (out / "quality-sst2.md").read_text()
    assert "sets: sst2" in report and "NOT RUN" not in report and "FAIL" not in report
    checks = json.loads((out / "quality-sst2.json").read_text())["checks"]
    assert [c["status"] for c in checks] == ["PASS"] * 3  # beats BoW, pipeline agrees, >= 0.88
    monkeypatch.setattr(quality, "run_one", lambda name, *a: _fake_row(name, accuracy=0.85))
    assert quality.main(["--sets", "sst2", "--threads", "1"]) == 1  # 0.85 < 0.88: a failure


def test_quality_checks_only_the_sets_that_ran():
    import pandas as pd
    quality = _quality_module()
    table = pd.DataFrame([_fake_row("imdb")])
    found = quality.checks(table, ["imdb"])
    assert [c["check"].split(":")[0] for c in found] == ["imdb", "imdb"]  # no threshold for imdb
    assert quality.exit_status(found) == 0
    missing = quality.checks(table, ["imdb", "sst2"])
    assert {"check": "sst2: ran", "status": "NOT RUN"} in missing
    assert quality.exit_status(missing) == 1
    assert quality.exit_status([]) == 1

"""Causal-LM data preparation and the before/after measures (sprint 12 helpers).

``gpt2ft.lm.packing`` is taught in ``sprints/sprint12_book/01_prepare_data`` (blocks cut by
hand, checked equal there) and ``gpt2ft.lm.measures`` in ``04_evaluate``.
"""

import math

import numpy as np
import pytest
import torch

from gpt2ft.core import models
from gpt2ft.lm import measures, packing
from gpt2ft.session import loading

TEXT = "It was the best of times, it was the worst of times. " * 60


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GPT2FT_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tok():
    return loading.bundled_tokenizer()


def test_split_is_contiguous_and_blocks_are_full_with_labels_equal_inputs(tok):
    corpus = packing.prepare_corpus(TEXT, tok, block_size=16, validation_fraction=0.25)
    report = corpus.report
    ids = np.concatenate([corpus.train_ids, corpus.validation_ids])
    assert np.array_equal(ids, tok(TEXT)["input_ids"])  # nothing reordered, nothing lost
    assert report["train blocks"] * 16 + report["train tail dropped"] == report["train tokens"]
    assert report["validation blocks"] * 16 + report["validation tail dropped"] == report["validation tokens"]
    first = corpus.train[0]
    assert torch.equal(first["input_ids"], first["labels"]) and len(first["input_ids"]) == 16
    assert first["input_ids"].tolist() == corpus.train_ids[:16].tolist()
    assert corpus.validation[0]["input_ids"].tolist() == corpus.validation_ids[:16].tolist()


def test_max_blocks_keeps_the_first_blocks_of_each_split_and_the_whole_streams(tok):
    full = packing.prepare_corpus(TEXT, tok, block_size=16)
    capped = packing.prepare_corpus(TEXT, tok, block_size=16, max_blocks=2)
    assert len(capped.train) == len(capped.validation) == 2
    assert capped.train[:]["input_ids"].tolist() == full.train[:2]["input_ids"].tolist()
    assert capped.validation[:]["input_ids"].tolist() == full.validation[:2]["input_ids"].tolist()
    assert np.array_equal(capped.train_ids, full.train_ids)  # baselines still see everything
    assert capped.report["train blocks"] == 2 and capped.report["blocks kept per split (max_blocks)"] == 2
    assert len(packing.prepare_corpus(TEXT, tok, block_size=16, max_blocks=0).train) == len(full.train)
    with pytest.raises(ValueError, match="whole number >= 0"):
        packing.prepare_corpus(TEXT, tok, block_size=16, max_blocks=-1)


def test_tokenization_is_cached_and_invalidated_by_a_new_text(tok):
    assert packing.prepare_corpus(TEXT, tok, block_size=16).report["tokenized from cache"] is False
    assert packing.prepare_corpus(TEXT, tok, block_size=16).report["tokenized from cache"] is True
    assert packing.prepare_corpus(TEXT + "!", tok, block_size=16).report["tokenized from cache"] is False


def test_bad_sizes_are_refused_with_the_allowed_range(tok):
    with pytest.raises(ValueError, match="longer than the model's context"):
        packing.prepare_corpus(TEXT, tok, block_size=2048, max_context=1024)
    with pytest.raises(ValueError, match="too few"):
        packing.prepare_corpus("tiny text", tok, block_size=128)
    with pytest.raises(ValueError, match="between 0 and 1"):
        packing.split_contiguous(np.arange(10), 1.5)


def test_perplexity_of_a_random_model_is_near_the_vocabulary_size(tok):
    corpus = packing.prepare_corpus(TEXT, tok, block_size=16)
    model = models.tiny_model(seed=0)
    loss = measures.mean_loss(model, corpus.validation)
    assert abs(loss - math.log(50257)) < 0.2  # untrained: close to uniform
    assert measures.perplexity(model, corpus.validation) == pytest.approx(math.exp(loss))


def test_unigram_loss_rewards_matching_frequencies():
    train = np.array([1, 1, 1, 2])
    assert measures.unigram_loss(train, np.array([1]), 5) < measures.unigram_loss(train, np.array([3]), 5)


def test_longest_copied_span_finds_the_longest_shared_run():
    train = [5, 6, 7, 8, 9, 1, 2, 3]
    assert measures.longest_copied_span([0, 6, 7, 8, 4, 1, 2], train) == (3, 1)
    assert measures.longest_copied_span([42, 43], train) == (0, 0)


def test_style_classifier_and_ngram_overlap_tell_book_from_control():
    book = " ".join(["thou art my lord and thy sword is mine"] * 40)
    control = " ".join(["the server returns a json response to the client"] * 40)
    style = measures.StyleClassifier(book, control, words=10)
    assert style.score(["thy lord art mine"]) > 0.5 > style.score(["the client json server"])
    assert measures.ngram_overlap(["thou art my lord"], book) == 1.0
    assert measures.ngram_overlap(["thou art my lord"], control) == 0.0


def test_prompts_are_taken_from_the_given_stream(tok):
    ids = np.asarray(tok(TEXT)["input_ids"])
    prompts = packing.prompts_from(ids, tok, n=3, length=5)
    assert len(prompts) == 3 and all(p in TEXT for p in prompts)


def _greedy_without_cache(model, prompt, n):
    """The reference: n greedy tokens, a full forward pass per token (no key/value cache)."""
    ids = prompt.clone()
    with torch.no_grad():
        for _ in range(n):
            ids = torch.cat([ids, model(input_ids=ids).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return ids


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_continuation_match_counts_the_leading_tokens_written_back(kind):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    model = (models.tiny_model(seed=0) if kind == "gpt2" else LlamaForCausalLM(LlamaConfig(
        vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=True)))
    model.eval()  # no dropout
    prompt = torch.randint(1, 300, (3, 6), generator=torch.Generator().manual_seed(1))
    blocks = _greedy_without_cache(model, prompt, 8)  # blocks whose continuation is the model's own
    assert measures.continuation_match(model, blocks, prefix=6, length=8) == [8, 8, 8]
    changed = blocks.clone()
    changed[0, 6 + 3] = (changed[0, 6 + 3] + 1) % 300  # the 4th token differs: 3 match
    changed[1, 6] = (changed[1, 6] + 1) % 300  # the first differs: none
    assert measures.continuation_match(model, changed, prefix=6, length=8) == [3, 0, 8]
    with pytest.raises(ValueError, match="prefix \\+ length = 15"):
        measures.continuation_match(model, blocks, prefix=7, length=8)


def test_the_sprint_figures_draw_from_the_notebooks_values(tok):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from gpt2ft.lm import figures
    corpus = packing.prepare_corpus(TEXT, tok, block_size=16, validation_fraction=0.25)
    fig = figures.packing_bar(corpus.report, "a title")
    assert fig.axes[0].get_title() == "a title" and "blocks of 16" in fig.axes[0].texts[0].get_text()
    tokens = corpus.train_ids[:40].tolist()
    fig = figures.label_shift(tok, tokens, {"original": [1.0] * 39, "fine-tuned": [0.5] * 39}, n=10)
    top, bars = fig.axes
    assert len(bars.patches) == 20 and bars.get_xticklabels()[0].get_text().startswith("t=")
    inputs, targets = top.texts[0:30:3], top.texts[1:30:3]  # per position: input, target, arrow
    assert [t.get_text() for t in targets[:-1]] == [t.get_text() for t in inputs[1:]]  # moved by one
    history = pd.DataFrame({"step": [1, 2, 2], "train_loss": [3.0, 2.0, None], "eval_loss": [None, None, 2.5]})
    assert figures.train_and_validation(history, "t").axes[0].get_title() == "t"
    assert len(figures.context({8: 5.0, 16: 4.0}, [9.0, 5.0, 4.0], 4).axes) == 2
    plt.close("all")

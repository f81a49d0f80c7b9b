"""gpt2ft.training.lm_loss: the chunked LM head + cross-entropy equals the model's own loss.

Taught in ``sprints/sprint12_book/05_appendix_engine`` (the same equality, shown there).

Same loss and same gradients (float precision) for any chunk size, with ignored
(-100) labels, tied embeddings and LoRA, for GPT-2 and for a Llama-family model
(the small profile's SmolLM2 is one): the body is ``model.base_model`` and the head
``get_output_embeddings()``, never ``model.transformer``; train() gives the same run
either way.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from transformers import GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM
from transformers.utils import logging as hf_logging

from gpt2ft.training import TrainConfig, train
from gpt2ft.training.lm_loss import ChunkedLossLM, chunked_lm_loss, default_chunk_rows, supports_chunked_loss
from gpt2ft.training.strategies import apply_strategy

hf_logging.set_verbosity_error()
pytestmark = pytest.mark.usefixtures("one_thread")

VOCAB = 211
# The tiny test GPT-2 (conftest.py), narrower, with this vocabulary and no dropout.
SMALL = dict(n_embd=32, vocab_size=VOCAB, dropout=False)


# SmolLM2's shape, shrunk to the same width: tied embeddings, grouped key/value heads, RMSNorm,
# rotary positions.
LLAMA = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
             tie_word_embeddings=True, bos_token_id=0, eos_token_id=0, pad_token_id=0)


def tiny_llama(seed=0):
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(**LLAMA))


@pytest.fixture
def tiny_lm(tiny_lm):
    """Factory: conftest's tiny_lm with :data:`SMALL`."""
    return lambda seed=0: tiny_lm(seed, **SMALL)


@pytest.fixture(params=["gpt2", "llama"])
def any_lm(request, tiny_lm):
    """Factory: a tiny GPT-2 or a tiny Llama-family LM (the same seed gives the same weights)."""
    return tiny_lm if request.param == "gpt2" else tiny_llama


def batch(rows=3, length=12, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, VOCAB, (rows, length), generator=g)
    labels = ids.clone()
    labels[0, :5] = -100  # a masked prompt
    labels[1, -3:] = -100  # padding
    mask = (labels != -100).long()
    mask[0] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("chunk_rows", [1, 7, None])
def test_loss_and_gradients_equal_the_models_own(chunk_rows, any_lm):
    b = batch()
    ref_model = any_lm()
    ref = ref_model(**b).loss
    ref.backward()
    model = any_lm()
    ours = ChunkedLossLM(model, chunk_rows=chunk_rows)(**b).loss
    ours.backward()
    assert ours.item() == pytest.approx(ref.item(), rel=1e-6)
    expected, got = grads(ref_model), grads(model)
    assert set(got) == set(expected)  # tied head: one weight, gradients from both uses
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-5, atol=1e-7, msg=name)


def test_without_gradients_only_the_loss_is_computed(any_lm):
    b = batch()
    model = any_lm()
    with torch.no_grad():
        ref = model(**b).loss
        # the body (GPT-2's transformer, Llama's model) and the (tied) output layer, by their generic names
        hidden = model.base_model(input_ids=b["input_ids"],
                                  attention_mask=b["attention_mask"]).last_hidden_state
        ours = chunked_lm_loss(hidden, model.get_output_embeddings().weight, b["labels"], chunk_rows=4)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-6)
    assert not ours.requires_grad
    # the check can fail: another model's hidden states miss the tolerance the equality uses
    with torch.no_grad():
        other = any_lm(seed=1).base_model(input_ids=b["input_ids"]).last_hidden_state
        wrong = chunked_lm_loss(other, model.get_output_embeddings().weight, b["labels"], chunk_rows=4)
    assert wrong.item() != pytest.approx(ref.item(), rel=1e-6)


def test_the_head_is_tied_and_found_by_its_generic_name(any_lm):
    model = any_lm()
    head = model.get_output_embeddings().weight
    assert head.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    assert supports_chunked_loss(model)


def test_lora_gradients_match(any_lm):
    b = batch()
    ref_model, model = apply_strategy(any_lm(), "lora"), apply_strategy(any_lm(), "lora")
    for m in (ref_model, model):  # LoRA's B starts at zero; make the adapters do something
        m.eval()  # no LoRA dropout: the two models must see the same numbers
        for n, p in m.named_parameters():
            if "lora_B" in n:
                torch.nn.init.normal_(p, std=0.02, generator=torch.Generator().manual_seed(3))
    ref_model(**b).loss.backward()
    ChunkedLossLM(model, chunk_rows=5)(**b).loss.backward()
    expected, got = grads(ref_model), grads(model)
    assert set(got) == set(expected) and all("lora_" in n for n in got)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-5, atol=1e-7, msg=name)


def test_chunk_rows_keep_a_chunk_small():
    assert default_chunk_rows(50257, "cpu") == 79  # ~4 M logits, 16 MB in fp32
    assert default_chunk_rows(50257, "cuda") == 1273
    assert default_chunk_rows(10**9, "cpu") == 1


def test_train_gives_the_same_run_with_either_loss(tmp_path, tiny_lm, lm_rows):
    data = lm_rows(24, seed=2, vocab=VOCAB)

    def run(lm_loss):
        cfg = TrainConfig(output_dir=tmp_path / lm_loss, batch_size=4, learning_rate=1e-3,
                          num_epochs=2, eval_every=6, save_every=None, log_every=1,
                          progress_bar=False, verbose=False, lm_loss=lm_loss, device="cpu")
        return train(tiny_lm(), data, data[:8], cfg)

    model_loss, chunked = run("model"), run("chunked")
    assert model_loss.history["train_loss"].tolist() == pytest.approx(
        chunked.history["train_loss"].tolist(), abs=1e-5)
    assert model_loss.best_eval_loss == pytest.approx(chunked.best_eval_loss, abs=1e-5)
    a, b = model_loss.model.state_dict(), chunked.model.state_dict()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    # the saved model is the plain GPT-2, not the training wrapper
    assert type(chunked.model) is GPT2LMHeadModel


def test_chunked_is_refused_where_it_cannot_work(tmp_path, tiny_lm, tiny_classifier):
    classifier = tiny_classifier(**SMALL)
    assert supports_chunked_loss(tiny_lm()) and not supports_chunked_loss(classifier)
    rows = [{"input_ids": torch.arange(1, 9), "labels": torch.tensor(1)}] * 4
    cfg = TrainConfig(output_dir=tmp_path / "c", lm_loss="chunked", progress_bar=False,
                      verbose=False, eval_every=None, save_every=None)
    with pytest.raises(ValueError, match="lm_loss='chunked' cannot be used.*not a causal LM"):
        train(classifier, rows, None, cfg)
    lm_rows = [{"input_ids": torch.arange(1, 9), "labels": torch.arange(1, 9)}] * 4
    with pytest.raises(ValueError, match="a loss_fn was given"):
        train(tiny_lm(), lm_rows, None, cfg, loss_fn=lambda out, b: out.logits.mean())
    assert not (tmp_path / "c").exists()  # refused before any work
    with pytest.raises(ValueError, match="lm_loss='fast' is not allowed: use 'auto'"):
        TrainConfig(output_dir=tmp_path, lm_loss="fast")
    with pytest.raises(ValueError, match="has not"):
        ChunkedLossLM(classifier)

"""gpt2ft.core.devices: a tensor never moved to the model's device fails on a CPU as on a GPU."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

from gpt2ft.core.devices import PlacementCheck, PlacementError
from gpt2ft.lm import measures, packing
from gpt2ft.session import loading, settings
from gpt2ft.training import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def model_and_tokenizer():
    run = settings.resolve(profile="tiny", env={})
    return loading.load_causal_lm(run), loading.load_tokenizer(run.model)


def test_the_sprint12_device_bug_fails_on_a_cpu(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    corpus = packing.prepare_corpus("It was the best of times. " * 100, tokenizer, block_size=32,
                                    max_context=256)
    rows = corpus.train[:2]
    with PlacementCheck():
        model.to(model.device)  # what load_causal_lm does: the weights are on "the device"
        with pytest.raises(PlacementError, match=r"embedding\(\) got a tensor .* never moved.*\.to\(model\.device\)"):
            model(input_ids=rows["input_ids"], labels=rows["labels"])  # the bug: host tensors
        fixed = {k: v.to(model.device) for k, v in rows.items()}
        assert torch.isfinite(model(**fixed).loss)


def test_generation_helpers_and_the_engine_pass_the_check(model_and_tokenizer, tmp_path):
    model, tokenizer = model_and_tokenizer
    corpus = packing.prepare_corpus("the quick brown fox jumps over the lazy dog. " * 200, tokenizer,
                                    block_size=32, max_context=256)
    with PlacementCheck():
        model.to(model.device)
        ids = tokenizer(["the quick brown"], return_tensors="pt").to(model.device)
        model.generate(**ids, max_new_tokens=4, do_sample=True, top_k=5, top_p=0.9,
                       pad_token_id=tokenizer.eos_token_id)
        assert measures.mean_loss(model, corpus.validation) > 0
        cfg = TrainConfig(output_dir=tmp_path / "run", max_steps=2, batch_size=4, eval_every=2,
                          save_every=2, progress_bar=False, verbose=False)
        assert train(model, corpus.train, corpus.validation, cfg).steps == 2


def test_check_devices_is_switched_on_by_configure(monkeypatch, capsys):
    from gpt2ft.core import devices
    monkeypatch.setattr(devices, "_active", [])
    cell = dict(PROFILE="tiny", MODEL="", SEED=0)
    settings.configure(cell, env={"PROFILE": "tiny", "CHECK_DEVICES": "1"})
    try:
        assert devices._active and "CHECK_DEVICES=1" in capsys.readouterr().out
        with pytest.raises(PlacementError):
            torch.nn.Linear(2, 2)(torch.ones(1, 2))  # a parameter meets a host tensor
    finally:
        devices._active.pop().__exit__(None, None, None)


def test_what_is_brought_back_to_the_host_is_host_data(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    with PlacementCheck():
        model.to(model.device)
        ids = tokenizer(["a b c"], return_tensors="pt").to(model.device)
        predicted = model(**ids).logits.argmax(-1).cpu()
        labels = torch.zeros_like(predicted.view_as(predicted)).cpu() + 1  # host data, as from a dataset
        assert (predicted == torch.ones(predicted.shape, dtype=torch.long)).dtype == torch.bool
        weights = torch.ones(2)
        logits = torch.randn(4, 2)  # host logits and a loss helper that moves to their device
        torch.nn.functional.cross_entropy(logits, labels.flatten()[:1].repeat(4) * 0,
                                          weight=weights.to(logits.device))
        with pytest.raises(PlacementError):
            model(**ids).logits[0, 0, :2] - torch.ones(2)  # the model's output meets host data

"""Which parameters train: full, head, last_k, lora; anything else is refused."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformers.utils import logging as hf_logging

from gpt2ft.training import TrainConfig, train
from gpt2ft.training.strategies import STRATEGIES, apply_strategy, count_parameters, describe

hf_logging.set_verbosity_error()


# One torch thread (fixture in conftest.py): exact comparisons, and no fight over 2 cores.
pytestmark = pytest.mark.usefixtures("one_thread")


def trainable(model) -> set[str]:
    return {n for n, p in model.named_parameters() if p.requires_grad}


def test_full_trains_everything(tiny_classifier):
    model = tiny_classifier()
    model.requires_grad_(False)
    apply_strategy(model, "full")
    assert trainable(model) == {n for n, _ in model.named_parameters()}


def test_head_trains_only_the_classifier(tiny_classifier):
    model = apply_strategy(tiny_classifier(), "head")
    assert trainable(model) == {"score.weight"}


def test_head_of_a_language_model_is_the_tied_lm_head(tiny_lm):
    model = apply_strategy(tiny_lm(), "head")
    assert trainable(model) == {"transformer.wte.weight"}  # lm_head shares this tensor
    assert model.lm_head.weight.requires_grad


def test_last_k_trains_the_head_the_last_blocks_and_the_final_norm(tiny_classifier):
    model = apply_strategy(tiny_classifier(), "last_k", k=1)
    names = trainable(model)
    assert "score.weight" in names and "transformer.ln_f.weight" in names
    assert any(n.startswith("transformer.h.1.") for n in names)
    assert not any(n.startswith("transformer.h.0.") for n in names)
    assert "transformer.wte.weight" not in names


@pytest.mark.parametrize("k", [0, 3, None, 1.5])
def test_last_k_refuses_a_bad_k(k, tiny_classifier):
    with pytest.raises(ValueError, match="k"):
        apply_strategy(tiny_classifier(), "last_k", k=k)


def test_unknown_strategy_is_refused_with_the_allowed_ones(tiny_classifier):
    with pytest.raises(ValueError) as err:
        apply_strategy(tiny_classifier(), "adapters")
    for name in STRATEGIES:
        assert name in str(err.value)


def test_lora_trains_adapters_and_the_head_only(tiny_classifier):
    model = apply_strategy(tiny_classifier(), "lora", lora_r=4)
    names = trainable(model)
    assert names and all("lora_" in n or "score" in n for n in names)
    counts = count_parameters(model)
    assert 0 < counts["trainable"] < 0.2 * counts["total"]
    assert "parameters train" in describe(model)


def test_head_strategy_in_train_changes_only_the_head(tmp_path, tiny_classifier):
    model = tiny_classifier()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rows = [{"input_ids": [i % 5 + 1] * (i % 7 + 2), "labels": i % 2} for i in range(16)]
    cfg = TrainConfig(output_dir=tmp_path, strategy="head", max_steps=3, batch_size=4,
                      learning_rate=1e-2, eval_every=None, save_every=None, save_final=False,
                      progress_bar=False, verbose=False, warmup_ratio=0.0)
    result = train(model, rows, None, cfg)
    after = result.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"score.weight"}


def test_lora_strategy_in_train_returns_the_peft_model(tmp_path, tiny_classifier):
    rows = [{"input_ids": [i % 5 + 1] * 6, "labels": i % 2} for i in range(16)]
    cfg = TrainConfig(output_dir=tmp_path, strategy="lora", lora_r=2, max_steps=2,
                      batch_size=4, eval_every=None, save_every=1, progress_bar=False,
                      verbose=False)
    result = train(tiny_classifier(), rows, rows[:4], cfg)
    assert hasattr(result.model, "peft_config")
    again = train(tiny_classifier(), rows, rows[:4], cfg)  # resumes a LoRA checkpoint
    assert again.resumed_from is not None and again.steps == 2

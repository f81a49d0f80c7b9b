"""The small profile's path, checked without running it: the real SmolLM2-135M-Instruct (fetched by
``make fetch-model``, which CI runs first) and the real data, one capped training step per sprint.

What each sprint runs at ``PROFILE=small`` in minutes is checked here in seconds: the model loads
through the Auto classes with its pad token, knows real English (Sprint 10), and one LoRA step of
each sprint's training (a classifier on SST-2, the causal LM on a book, masked instruction records)
runs and changes only the LoRA weights. Skipped where the model or the data is absent, except in
CI (``CI`` set), where a missing model is a failure: the small path must not go unchecked.
"""

import os
from pathlib import Path

import pytest
import torch

from gpt2ft.core.paths import small_model_dir
from gpt2ft.session import loading, settings
from gpt2ft.tools import fetch
from gpt2ft.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
MODEL = small_model_dir()  # where make fetch-model puts it (GPT2FT_CACHE, else .cache/)
DATA = ROOT.parent / "shared" / "data"

if not fetch.is_fetched(MODEL) and os.environ.get("CI"):
    raise RuntimeError(f"CI checks the small profile's path, but SmolLM2-135M-Instruct is not in {MODEL}. "
                       "Fix: run `make fetch-model` before `make test` (.ci/run does).")
pytestmark = [
    pytest.mark.skipif(not fetch.is_fetched(MODEL), reason=f"SmolLM2-135M-Instruct is not fetched in {MODEL} "
                       "(make fetch-model)"),
    pytest.mark.skipif(not DATA.is_dir(), reason=f"the real data sets are not in {DATA}"),
]


@pytest.fixture(scope="module")
def run():
    return settings.resolve(profile="small", model=str(MODEL), data_dir=str(DATA), env={})


def one_lora_step(model, train_rows, tmp_path, **kwargs):
    """One capped LoRA step through the engine: (whether the frozen token embeddings are unchanged,
    the LoRA weights it moved: a LoRA ``B`` starts at zero, so a moved one is nonzero)."""
    config = TrainConfig(output_dir=tmp_path, max_steps=1, batch_size=2, strategy="lora", lora_r=4,
                         learning_rate=1e-3, eval_every=None, save_every=None, save_final=False,
                         log_every=1, progress_bar=False, verbose=False)
    embeddings = model.get_input_embeddings().weight.detach().clone()
    result = train(model, train_rows, None, config, **kwargs)
    assert result.steps == 1 and torch.isfinite(torch.tensor(result.history["train_loss"].dropna().iloc[-1]))
    after = dict(result.model.named_parameters())
    moved = {n for n, p in after.items() if "lora_B" in n and p.detach().abs().sum() > 0}
    return torch.equal(result.model.get_input_embeddings().weight.detach(), embeddings), moved


def test_sprint10_the_model_is_real_and_continues_english(run):
    tokenizer = loading.load_tokenizer(run.model)
    model = loading.load_causal_lm(run)
    assert type(model).__name__ == "LlamaForCausalLM" and tokenizer.pad_token == "<|im_end|>"
    ids = tokenizer("The capital of France is", return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=3, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert "Paris" in tokenizer.decode(out[0, ids.shape[1]:])  # a random model could not say it


def test_sprint11_one_lora_step_of_the_classifier_on_sst2(run, tmp_path):
    from gpt2ft import classify
    from gpt2ft.session.data import load_classification
    data = load_classification("sst2", run, max_examples=8)
    tokenizer = loading.load_tokenizer(run.model)
    model = classify.build_classifier(run.model, data.label_names, tokenizer, seed=0)
    assert type(model).__name__ == "LlamaForSequenceClassification"
    encoded = classify.encode(data.model_texts(), tokenizer, 32)
    base_kept, moved = one_lora_step(model, encoded["train"], tmp_path, max_length=32)
    assert base_kept and moved


def test_sprint12_one_lora_step_of_the_causal_lm_on_the_book(run, tmp_path):
    from gpt2ft.lm import packing
    from gpt2ft.session import data
    book = data.load_corpus("the_verdict", run)
    tokenizer = loading.load_tokenizer(run.model)
    corpus = packing.prepare_corpus(book.text, tokenizer, block_size=64, max_blocks=4)
    base_kept, moved = one_lora_step(loading.load_causal_lm(run), corpus.train, tmp_path)
    assert base_kept and moved


def test_sprint13_one_lora_step_on_masked_instruction_records(run, tmp_path):
    from gpt2ft import instruct
    from gpt2ft.session.data import load_instructions
    records = load_instructions("alpaca_instruction", run).records[:8]
    tokenizer = loading.load_tokenizer(run.model)
    encoded, _ = instruct.encode_records(records, tokenizer, 96)
    assert any(label == instruct.IGNORE_INDEX for label in encoded[0]["labels"])  # the prompt is masked
    base_kept, moved = one_lora_step(loading.load_causal_lm(run), encoded, tmp_path, max_length=96)
    assert base_kept and moved

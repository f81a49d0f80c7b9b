"""The package beyond GPT-2: a Llama-family causal LM (the small profile's SmolLM2) works end to end.

A tiny random ``LlamaForCausalLM`` shaped like SmolLM2 (tied embeddings, grouped
key/value heads, rotary positions, RMSNorm, pad == eos), saved with
``save_pretrained`` beside a tiny character tokenizer and loaded back through the
package: loading and pad token, context length, parameters by part, each
strategy through the model's own blocks, LoRA on ``q/k/v/o_proj``, the chunked
loss through ``get_output_embeddings()``, and a classifier with a new ``score``
head. GPT-2 stays the default and keeps its own tests.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import datasets
import pytest
import torch
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    PreTrainedTokenizerFast,
)
from transformers.utils import logging as hf_logging

from gpt2ft import classify
from gpt2ft.core import models
from gpt2ft.session import loading, settings
from gpt2ft.training import TrainConfig, train
from gpt2ft.training.lm_loss import ChunkedLossLM, supports_chunked_loss
from gpt2ft.training.strategies import apply_strategy, lora_targets

hf_logging.set_verbosity_error()
pytestmark = pytest.mark.usefixtures("one_thread")

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]  # SmolLM2's: unk, bos, eos (= pad)
EOS = 2
VOCAB = 256
# SmolLM2-135M's shape, shrunk: 2 blocks, 64 wide, 4 query heads sharing 2 key/value heads.
LLAMA = dict(num_hidden_layers=2, hidden_size=64, intermediate_size=128, num_attention_heads=4,
             num_key_value_heads=2, vocab_size=VOCAB, max_position_embeddings=128,
             tie_word_embeddings=True, bos_token_id=1, eos_token_id=EOS, pad_token_id=EOS)


def llama_config(**overrides) -> LlamaConfig:
    return LlamaConfig(**{**LLAMA, **overrides})


def llama_lm(seed: int = 0, **overrides) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    return LlamaForCausalLM(llama_config(**overrides))


def char_tokenizer() -> PreTrainedTokenizerFast:
    """One token per printable ASCII character after SmolLM2's three special tokens; pad = eos."""
    from tokenizers import Tokenizer, decoders
    from tokenizers.models import BPE
    vocab = {t: i for i, t in enumerate(SPECIALS + [chr(c) for c in range(32, 127)])}
    backend = Tokenizer(BPE(vocab=vocab, merges=[], unk_token=SPECIALS[0]))
    backend.add_special_tokens(SPECIALS)
    backend.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token=SPECIALS[0], bos_token=SPECIALS[1],
                                   eos_token=SPECIALS[2], pad_token=SPECIALS[2])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A tiny Llama LM and its tokenizer, saved as ``fetch_model`` saves SmolLM2."""
    path = tmp_path_factory.mktemp("llama") / "tiny-llama"
    llama_lm().save_pretrained(path)
    char_tokenizer().save_pretrained(path)
    return path


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GPT2FT_CACHE", str(tmp_path / "cache"))


def run_settings(folder):
    return settings.resolve(profile="tiny", model=str(folder), seed=0, env={})


def lm_rows(n: int, length: int = 16, seed: int = 1) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        ids = torch.randint(len(SPECIALS), 60, (length,), generator=g)
        rows.append({"input_ids": ids, "labels": ids.clone()})
    return rows


def trainable(model) -> set[str]:
    return {n for n, p in model.named_parameters() if p.requires_grad}


def cfg(path, **kw) -> TrainConfig:
    values = dict(batch_size=4, learning_rate=1e-2, max_steps=1, eval_every=None, save_every=None,
                  save_final=False, resume=False, progress_bar=False, verbose=False, device="cpu")
    return TrainConfig(output_dir=path, **{**values, **kw})


# --- loading -----------------------------------------------------------------------------------

def test_a_llama_folder_loads_through_the_auto_classes_with_its_pad_token_and_context(folder):
    tokenizer, model = loading.load(run_settings(folder))
    assert isinstance(model, LlamaForCausalLM) and not model.training
    assert tokenizer.pad_token_id == tokenizer.eos_token_id == model.config.pad_token_id == EOS
    assert models.context_length(model) == 128  # max_position_embeddings, not GPT-2's n_positions
    assert tokenizer.model_max_length == 128  # saved without a limit: the model's context
    assert tokenizer.decode(tokenizer.encode("Hi there")) == "Hi there"


def test_the_tokenizers_pad_token_is_given_to_a_config_without_one_and_gpt2_keeps_none(folder):
    model = llama_lm(pad_token_id=None)
    model.generation_config.pad_token_id = None
    loading.match_pad_token(char_tokenizer(), model)
    assert model.config.pad_token_id == model.generation_config.pad_token_id == EOS
    gpt2 = models.tiny_model()
    loading.match_pad_token(loading.bundled_tokenizer(), gpt2)  # GPT-2 has none: taught in Sprint 11
    assert gpt2.config.pad_token_id is None


def test_a_llama_folder_without_tokenizer_files_is_refused_not_given_gpt2s(tmp_path):
    llama_lm().save_pretrained(tmp_path / "m")
    with pytest.raises(loading.ModelLoadError, match="'llama' model but no tokenizer files"):
        loading.load_tokenizer(str(tmp_path / "m"))


# --- what the model is -------------------------------------------------------------------------

def test_blocks_final_norm_and_parameters_by_part_of_a_llama_model():
    model = llama_lm()
    assert models.transformer_blocks(model) is model.model.layers
    assert models.final_norm(model) is model.model.norm and models.position_embeddings(model) is None
    parts = models.parameters_by_part(model)
    assert parts["token embeddings"] == VOCAB * 64
    assert parts["position embeddings"] == 0  # rotary: nothing learned
    assert parts["transformer blocks"] == sum(p.numel() for p in model.model.layers.parameters())
    assert parts["final layer norm"] == 64 and parts["other"] == 0
    assert "LM head" not in parts  # tied to the token embeddings
    assert parts["total"] == sum(p.numel() for p in model.parameters())
    untied = models.parameters_by_part(llama_lm(tie_word_embeddings=False))
    assert untied["LM head"] == VOCAB * 64 and untied["total"] == parts["total"] + VOCAB * 64


def test_gpt2s_parts_and_blocks_are_unchanged():
    model = models.tiny_model()
    assert models.transformer_blocks(model) is model.transformer.h
    assert models.final_norm(model) is model.transformer.ln_f
    assert list(models.parameters_by_part(model)) == ["token embeddings", "position embeddings",
                                                     "transformer blocks", "final layer norm", "other",
                                                     "total"]


# --- strategies --------------------------------------------------------------------------------

def test_head_and_last_k_go_through_the_llama_blocks_norm_and_tied_head():
    assert trainable(apply_strategy(llama_lm(), "head")) == {"model.embed_tokens.weight"}  # = lm_head
    names = trainable(apply_strategy(llama_lm(), "last_k", k=1))
    assert {"model.embed_tokens.weight", "model.norm.weight"} <= names
    assert any(n.startswith("model.layers.1.") for n in names)
    assert not any(n.startswith("model.layers.0.") for n in names)
    with pytest.raises(ValueError, match="only 2 blocks"):
        apply_strategy(llama_lm(), "last_k", k=3)


def test_lora_targets_are_chosen_per_architecture():
    assert lora_targets(models.tiny_model()) == ("c_attn",)
    assert lora_targets(llama_lm()) == ("q_proj", "k_proj", "v_proj", "o_proj")
    lora = apply_strategy(llama_lm(), "lora", lora_r=4)
    names = trainable(lora)
    assert names and all("lora_" in n for n in names)
    adapted = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in names}
    assert adapted == {"q_proj", "k_proj", "v_proj", "o_proj"}
    assert lora.peft_config["default"].fan_in_fan_out is False  # nn.Linear, not GPT-2's Conv1D
    assert apply_strategy(models.tiny_model(), "lora").peft_config["default"].fan_in_fan_out is True
    with pytest.raises(ValueError, match="lora_target_modules"):
        lora_targets(torch.nn.Sequential(torch.nn.Linear(2, 2)))


@pytest.mark.parametrize("strategy", ["full", "head", "last_k", "lora"])
def test_one_training_step_of_each_strategy_changes_what_it_trains_only(strategy, folder, tmp_path):
    model = loading.load_causal_lm(run_settings(folder))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = train(model, lm_rows(8), None, cfg(tmp_path / strategy, strategy=strategy, last_k=1))
    assert result.steps == 1
    state = (result.model.merge_and_unload() if strategy == "lora" else result.model).state_dict()
    changed = {k for k, v in before.items() if not torch.equal(v, state[k])}
    expect = {"full": lambda k: True, "head": lambda k: k in ("model.embed_tokens.weight", "lm_head.weight"),
              "last_k": lambda k: k.startswith(("model.layers.1.", "model.norm", "model.embed_tokens",
                                                "lm_head")),
              "lora": lambda k: k.rsplit(".", 2)[-2] in ("q_proj", "k_proj", "v_proj", "o_proj")}[strategy]
    assert changed and all(expect(k) for k in changed), sorted(changed)


# --- the chunked loss --------------------------------------------------------------------------

def test_chunked_loss_and_gradients_equal_the_llama_models_own():
    torch.manual_seed(5)
    ids = torch.randint(3, 60, (3, 12))
    labels = ids.clone()
    labels[0, :5] = -100  # a masked prompt
    labels[1, -3:] = -100  # padding
    mask = (labels != -100).long()
    mask[0] = 1
    batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    ref_model, model = llama_lm(), llama_lm()
    assert supports_chunked_loss(model)
    ref = ref_model(**batch).loss
    ref.backward()
    ours = ChunkedLossLM(model, chunk_rows=7)(**batch).loss
    ours.backward()
    assert ours.item() == pytest.approx(ref.item(), rel=1e-6)
    expected = {n: p.grad for n, p in ref_model.named_parameters() if p.grad is not None}
    got = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert set(got) == set(expected) and "model.embed_tokens.weight" in got  # tied: one weight
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-5, atol=1e-6, msg=name)


def test_chunked_loss_is_refused_where_the_logits_are_capped_or_scaled():
    model = llama_lm()
    model.config.final_logit_softcapping = 30.0
    assert not supports_chunked_loss(model)
    assert supports_chunked_loss(llama_lm(tie_word_embeddings=False))  # an untied head is linear too


def test_train_gives_the_same_llama_run_with_either_loss(tmp_path):
    data = lm_rows(12, seed=2)
    runs = {loss: train(llama_lm(), data, data[:4], cfg(tmp_path / loss, lm_loss=loss, max_steps=0,
                                                        num_epochs=1, eval_every=3, learning_rate=1e-3))
            for loss in ("model", "chunked")}
    assert runs["model"].history["train_loss"].tolist() == pytest.approx(
        runs["chunked"].history["train_loss"].tolist(), abs=1e-5)
    assert runs["model"].best_eval_loss == pytest.approx(runs["chunked"].best_eval_loss, abs=1e-5)
    assert type(runs["chunked"].model) is LlamaForCausalLM


# --- a classifier from a Llama folder -----------------------------------------------------------

def test_a_llama_folder_becomes_a_classifier_with_a_new_score_head_that_trains(folder, tmp_path):
    tokenizer = loading.load_tokenizer(str(folder))
    model = classify.build_classifier(str(folder), ["negative", "positive"], tokenizer, seed=0)
    assert isinstance(model, LlamaForSequenceClassification) and model.score.out_features == 2
    assert model.config.pad_token_id == tokenizer.pad_token_id == tokenizer.eos_token_id
    assert tokenizer.padding_side == "right"
    model.eval()
    texts = ["a great film", "dull", "far too long for its own good"]
    with torch.no_grad():
        padded = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits
        alone = torch.cat([model(**tokenizer(t, return_tensors="pt")).logits for t in texts])
    torch.testing.assert_close(padded, alone, rtol=1e-4, atol=1e-5)  # reads each row's last real token
    texts = [("good " * (i % 3 + 1)) if i % 2 else ("bad " * (i % 4 + 1)) for i in range(16)]
    data = classify.encode(datasets.Dataset.from_dict({"text": texts, "label": [i % 2 for i in range(16)]}),
                           tokenizer, 32)
    before = model.score.weight.clone()
    result = classify.train_classifier(model, data, None, ["negative", "positive"],
                                       cfg(tmp_path / "cls", strategy="lora"), tokenizer=tokenizer)
    assert result.steps == 1 and not torch.equal(before, models.unwrapped(result.model).score.weight)


def test_the_pipeline_figure_names_a_llamas_parts():
    import matplotlib
    matplotlib.use("Agg")
    from gpt2ft.generate import figures
    fig = figures.gpt2_pipeline(llama_config())
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "rotary" in text and "RMSNorm" in text and "wpe" not in text

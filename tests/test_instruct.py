"""Instruction formatting, label masking and scoring (gpt2ft.instruct)."""

from pathlib import Path

import pytest

from gpt2ft import instruct
from gpt2ft.core import models
from gpt2ft.session import loading, settings
from gpt2ft.session.data import load_instructions

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
    assert tok.decode(enc.input_ids[len(prompt_ids):]) == record["output"] + tok.eos_token
    assert enc.input_ids[-1] == tok.eos_token_id and tok.eos_token in ("<|endoftext|>", "<|im_end|>")


def test_masking_on_a_real_example_with_and_without_input(real_records, tok):
    with_input = next(r for r in real_records if r["input"])
    without = next(r for r in real_records if not r["input"])
    check_masking_token_by_token(with_input, tok)
    check_masking_token_by_token(without, tok)


def test_masking_with_the_small_profiles_llama_tokenizer(real_records):
    """SmolLM2's tokenizer (pad = eos = <|im_end|>, no BOS added): the same masking, token by token."""
    from gpt2ft.core.paths import small_model_dir
    folder = small_model_dir()
    if not (folder / "tokenizer.json").is_file():
        pytest.skip(f"SmolLM2 not fetched to {folder} (make fetch-model)")
    smol = loading.load_tokenizer(str(folder))
    assert smol.eos_token == "<|im_end|>" and smol.encode("Hi")[0] != smol.bos_token_id
    check_masking_token_by_token(next(r for r in real_records if r["input"]), smol)
    check_masking_token_by_token(next(r for r in real_records if not r["input"]), smol)


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
    assert scores["no new instruction"] is False and scores["has response"] is True
    assert instruct.token_f1("the cat sat", "a cat sat down") == pytest.approx(0.8)
    assert instruct.rouge_l("red green blue cyan", "red pink blue cyan") == pytest.approx(0.75)
    assert instruct.score("", stopped=True, reference="x")["has response"] is False


# ----------------------------------------------------------------- split, fingerprints, losses, generation

RECORDS = [{"instruction": f"Add {i} and {i + 1}.", "input": "" if i % 3 else f"{i}", "output": f"{2 * i + 1}."}
           for i in range(40)]


def test_split_is_seeded_disjoint_and_complete():
    split = instruct.split_records(RECORDS, seed=0)
    assert {k: len(v) for k, v in split.items()} == {"train": 34, "validation": 2, "test": 4}
    assert split == instruct.split_records(RECORDS, seed=0)
    assert split != instruct.split_records(RECORDS, seed=1)
    seen = [r["instruction"] for part in split.values() for r in part]
    assert sorted(seen) == sorted(r["instruction"] for r in RECORDS)
    tiny = instruct.split_records(RECORDS[:3], seed=0)
    assert [len(v) for v in tiny.values()] == [1, 1, 1]
    with pytest.raises(ValueError, match="add up to 1"):
        instruct.split_records(RECORDS, fractions=(0.5, 0.2, 0.2))


def test_masking_figure_draws_every_section(tok):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with_input = instruct.masking_figure(RECORDS[0], tok)
    without = instruct.masking_figure(RECORDS[1], tok)
    texts = [t.get_text() for t in with_input.axes[0].texts]
    assert texts.count("-100") == 6 and any(t.startswith("###\nInput:") for t in texts)
    assert [t.get_text() for t in without.axes[0].texts].count("-100") == 4  # no input sections
    plt.close("all")


def test_token_lengths(tok):
    table = instruct.token_lengths(RECORDS[:3], tok)
    assert list(table.columns) == ["prompt tokens", "response tokens", "has input", "total tokens"]
    assert table["has input"].tolist() == [True, False, False]
    assert table["response tokens"][0] == len(tok.encode("1.")) + 1


@pytest.fixture(scope="module")
def tiny_model():
    return models.tiny_model(seed=0).eval()


def test_label_loss_counts_only_labelled_tokens(tok, tiny_model):
    import torch
    masked, _ = instruct.encode_records(RECORDS[:4], tok, 128)
    everything, _ = instruct.encode_records(RECORDS[:4], tok, 128, mask_prompt=False)
    row = everything[0]
    with torch.no_grad():
        expected = tiny_model(input_ids=torch.tensor([row["input_ids"]]),
                              labels=torch.tensor([row["labels"]])).loss.item()
    one_row = instruct.label_loss(tiny_model, everything.select([0]), tok.eos_token_id)
    assert one_row == pytest.approx(expected, rel=1e-5)
    # padding in a batch changes nothing; masked and unmasked losses differ
    one_by_one = [instruct.label_loss(tiny_model, masked.select([i]), tok.eos_token_id) for i in range(4)]
    counts = [sum(y != instruct.IGNORE_INDEX for y in masked[i]["labels"][1:]) for i in range(4)]
    weighted = sum(loss * c for loss, c in zip(one_by_one, counts, strict=True)) / sum(counts)
    assert instruct.label_loss(tiny_model, masked, tok.eos_token_id, batch_size=4) == pytest.approx(weighted, rel=1e-4)
    assert instruct.label_loss(tiny_model, masked, tok.eos_token_id) != pytest.approx(
        instruct.label_loss(tiny_model, everything, tok.eos_token_id))


def test_batched_generation_equals_one_at_a_time(tok, tiny_model):
    records = [RECORDS[0], {**RECORDS[1], "input": "a much longer input " * 5}, RECORDS[2]]
    batched = instruct.generate_responses(tiny_model, tok, records, max_new_tokens=6, batch_size=3)
    single = [instruct.generate_responses(tiny_model, tok, [r], max_new_tokens=6)[0] for r in records]
    assert batched == single
    assert all(not g.stopped and g.new_tokens == 6 for g in batched)


def _always(model, token_id):
    """A copy of ``model`` whose every hidden state points at ``token_id``'s embedding."""
    import copy

    import torch
    model = copy.deepcopy(model)
    with torch.no_grad():
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.copy_(model.transformer.wte.weight[token_id] * 100)
    return model


def test_generation_stops_at_end_of_text_and_reports_it(tok, tiny_model):
    stops = instruct.generate_responses(_always(tiny_model, tok.eos_token_id), tok, RECORDS[:2], max_new_tokens=5)
    assert all(g.stopped and g.new_tokens == 0 and g.raw == "" for g in stops)
    word = tok.encode(" yes")[0]
    rambles = instruct.generate_responses(_always(tiny_model, word), tok, RECORDS[:2], max_new_tokens=5)
    assert all(not g.stopped and g.new_tokens == 5 and g.response == "yes yes yes yes yes" for g in rambles)
    with pytest.raises(ValueError, match="fewer new tokens"):
        instruct.generate_responses(tiny_model, tok, RECORDS[:1], max_new_tokens=255)


def test_evaluate_and_summarise(tok, tiny_model):
    stops = instruct.evaluate_responses(_always(tiny_model, tok.eos_token_id), tok, RECORDS[:3], max_new_tokens=4)
    rambles = instruct.evaluate_responses(tiny_model, tok, RECORDS[:3], max_new_tokens=4)
    assert stops["reference"].tolist() == [r["output"] for r in RECORDS[:3]]
    table = instruct.summarise({"stops": stops, "rambles": rambles})
    assert table.loc["stops", "stopped"] == 1.0 and table.loc["stops", "has response"] == 0.0
    assert table.loc["rambles", "stopped"] == 0.0 and table.loc["rambles", "examples"] == 3
    assert list(table.columns[:6]) == ["examples", "has response", "stopped", "no template echo",
                                       "no new instruction", "adheres"]


def test_adherence_tells_an_echo_from_a_new_instruction():
    echo = instruct.adherence("Sure.\n\n### Response:\nSure.", stopped=True)
    assert not echo["no template echo"] and echo["no new instruction"] and not echo["adheres"]
    new = instruct.adherence("Sure.\n\n### Instruction:\nMore.", stopped=True)
    assert new["no template echo"] and not new["no new instruction"]
    assert instruct.adherence("Sure.", stopped=True)["adheres"]


# ----------------------------------------------------------------- the same mechanisms on a Llama-family model

@pytest.fixture(scope="module")
def llama():
    """A tiny random Llama LM shaped like SmolLM2 (pad = eos = <|im_end|>) and its character tokenizer."""
    from test_llama import char_tokenizer, llama_lm  # the tiny Llama tests' model and tokenizer
    return llama_lm(seed=0, max_position_embeddings=512).eval(), char_tokenizer()


def test_masked_loss_by_hand_equals_the_models_and_label_loss_on_llama(llama):
    import torch
    import torch.nn.functional as F

    from gpt2ft.training import lm_loss
    model, tok = llama
    for record in (RECORDS[0], RECORDS[1]):  # with and without an input
        for mask in (True, False):
            enc = instruct.encode(record, tok, 512, mask_prompt=mask)
            assert enc.input_ids[-1] == tok.eos_token_id == model.config.pad_token_id
            ids, labels = torch.tensor([enc.input_ids]), torch.tensor([enc.labels])
            with torch.no_grad():
                logits = model(input_ids=ids).logits[0]
                hidden = model.base_model(input_ids=ids).last_hidden_state
                theirs = model(input_ids=ids, labels=labels).loss.item()
                engine = lm_loss.chunked_lm_loss(hidden, model.get_output_embeddings().weight, labels).item()
            keep = labels[0, 1:] != instruct.IGNORE_INDEX
            ours = F.cross_entropy(logits[:-1][keep], labels[0, 1:][keep]).item()
            assert ours == pytest.approx(theirs, abs=1e-5) and ours == pytest.approx(engine, abs=1e-5)
            one = instruct.encode_records([record], tok, 512, mask_prompt=mask)[0]
            assert instruct.label_loss(model, one, tok.eos_token_id) == pytest.approx(ours, abs=1e-5)
    # a wrong mask is caught: the prompt-masked and the unmasked losses differ
    masked, _ = instruct.encode_records(RECORDS[:4], tok, 512)
    everything, _ = instruct.encode_records(RECORDS[:4], tok, 512, mask_prompt=False)
    assert instruct.label_loss(model, masked, tok.eos_token_id) != pytest.approx(
        instruct.label_loss(model, everything, tok.eos_token_id))


def test_batched_generation_equals_one_at_a_time_on_llama(llama):
    """Left padding with rotary positions: a padded prompt is answered as if alone."""
    model, tok = llama
    records = [RECORDS[0], {**RECORDS[1], "input": "a much longer input " * 3}, RECORDS[2]]
    batched = instruct.generate_responses(model, tok, records, max_new_tokens=5, batch_size=3)
    single = [instruct.generate_responses(model, tok, [r], max_new_tokens=5)[0] for r in records]
    assert [g.raw for g in batched] == [g.raw for g in single]
    assert [g.stopped for g in batched] == [g.stopped for g in single]

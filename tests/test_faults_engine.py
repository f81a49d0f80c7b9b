"""Faults of the training engine a demanding user makes, each with what they see and what is kept.

The engine's half of issue 21 (resume, checkpoints and run folders, the model and
the data checked before any work, what a run reports). Every test's docstring is
one row of ``notes/faults.md``, as in ``tests/test_faults.py``::

    kind | how it was tried | what the user sees | what is kept

Each test fails without its fix: it asserts that the message names the input
and the fix (or that the run is exactly what it should be), and that nothing
the user made was lost or overwritten.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from fault_helpers import cfg, snapshot  # the fault tests' shared run settings and folder snapshot
from transformers import BertConfig, BertLMHeadModel
from transformers.utils import logging as hf_logging

from gpt2ft.core import models
from gpt2ft.session import loading, settings
from gpt2ft.training import checkpointing as ckpt
from gpt2ft.training import runs, train

hf_logging.set_verbosity_error()
pytestmark = pytest.mark.usefixtures("one_thread")


def weights(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _rewrite_manifest(folder: Path) -> None:
    """What a damaged copy with a recomputed manifest looks like: it verifies, then fails to read."""
    files = {p.name: {"bytes": p.stat().st_size, "sha256": ckpt._sha256(p)}
             for p in folder.iterdir() if p.name != ckpt.MANIFEST}
    (folder / ckpt.MANIFEST).write_text(json.dumps({"files": files}))


def tiny_bert(**overrides) -> BertLMHeadModel:
    torch.manual_seed(0)
    return BertLMHeadModel(BertConfig(vocab_size=256, hidden_size=32, num_hidden_layers=2,
                                      num_attention_heads=2, intermediate_size=64,
                                      max_position_embeddings=64, **overrides))


# --------------------------------------------------------------------------- resume

def test_a_checkpoint_part_that_cannot_be_read_loads_nothing(tmp_path, tiny_lm, lm_rows):
    """resume | the only checkpoint's `scheduler.pt` unreadable (its manifest recomputed), then the run again | warnings `Skipping checkpoint step-000002: .../scheduler.pt could not be read ... It was the oldest checkpoint: none is left to resume from` and `No checkpoint ... could be resumed ...: nothing of them was loaded, and the run starts from step 0 with its original weights (checked against the run's identity)`; the run ends with the weights of a fresh run (weights and optimizer state used to be loaded before the scheduler failed) | the run folder; nothing of the bad checkpoint reaches the model"""
    data = lm_rows(16)
    c = dict(max_steps=2, save_every=2)
    fresh = weights(train(tiny_lm(dropout=False), data, None, cfg(tmp_path / "fresh", **c)).model)
    train(tiny_lm(dropout=False), data, None, cfg(tmp_path / "run", **c))
    only = tmp_path / "run" / "step-000002"
    (only / "scheduler.pt").write_bytes(b"not a pickle at all")
    _rewrite_manifest(only)
    with pytest.warns(ckpt.CheckpointWarning) as caught:
        result = train(tiny_lm(dropout=False), data, None, cfg(tmp_path / "run", **c))
    said = " ".join(str(w.message) for w in caught)
    assert "step-000002" in said and "scheduler.pt" in said
    assert "oldest checkpoint: none is left" in said and "starts from step 0 with its original weights" in said
    assert "the one before it" not in said  # there is none
    assert result.resumed_from is None and result.steps == 2
    final = weights(result.model)
    assert all(torch.equal(fresh[k], final[k]) for k in fresh)


@pytest.mark.parametrize("how", ["copied", "symlinked"])
def test_a_checkpoint_of_another_run_is_refused(tmp_path, tiny_lm, lm_rows, how):
    """run identity | a checkpoint of another run (other data) copied or symlinked into a run folder as a later `step-000008`, then the run again | warning `Skipping checkpoint step-000008: step-000008 was written by another run (identity <hash>; this run folder's is <hash>), so it is not used. What differs: train_data: ... Fix: move step-000008 out of <folder>`; the run resumes from its own step-000004 (it used to resume the other run's checkpoint and export it under this run's name) | both run folders, byte for byte; the foreign checkpoint is not touched"""
    train(tiny_lm(), lm_rows(32, seed=7), None, cfg(tmp_path / "other"))
    c = cfg(tmp_path / "run")
    train(tiny_lm(), lm_rows(32), None, c)
    foreign = tmp_path / "run" / "step-000008"
    if how == "copied":
        shutil.copytree(tmp_path / "other" / "step-000004", foreign)
    else:
        foreign.symlink_to(tmp_path / "other" / "step-000004", target_is_directory=True)
    other, before = snapshot(tmp_path / "other"), snapshot(foreign)
    with pytest.warns(ckpt.CheckpointWarning,
                      match=r"step-000008 was written by another run .*not used.*train_data.*Fix: move"):
        result = train(tiny_lm(), lm_rows(32), None, c)
    assert result.resumed_from.name == "step-000004" and result.steps == 4
    assert snapshot(tmp_path / "other") == other and snapshot(foreign) == before


def test_an_identity_file_that_is_not_an_object(tmp_path, tiny_lm, lm_rows):
    """run identity | a run folder whose identity.json holds `[]` | `RunMismatchError: <folder>/identity.json holds list [], not a run's identity ... nothing in it was changed. Fix: move that folder away, or use another output folder.` (used to be an AttributeError) | the folder, byte for byte"""
    c = cfg(tmp_path / "run")
    train(tiny_lm(), lm_rows(32), None, c)
    (tmp_path / "run" / runs.IDENTITY_FILE).write_text("[]")
    before = snapshot(tmp_path / "run")
    with pytest.raises(runs.RunMismatchError,
                       match=r"identity\.json holds list \[\], not a run's identity.*Fix: move that folder away"):
        train(tiny_lm(), lm_rows(32), None, c)
    assert snapshot(tmp_path / "run") == before


def test_a_symlink_in_a_run_folder_when_starting_over(tmp_path, tiny_lm, lm_rows):
    """run folder | links in a run folder to a folder and a file outside it, then `RESUME=0` (resume=False) | the run starts over; the links are removed, never followed (used to fail with `Cannot call rmtree on a symbolic link` after the rest of the folder was deleted, and on every re-run) | everything the links point to, byte for byte"""
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "keep.txt").write_text("mine")
    (outside / "sub" / "also.txt").write_text("mine too")
    c = cfg(tmp_path / "run")
    train(tiny_lm(), lm_rows(32), None, c)
    (tmp_path / "run" / "linked-folder").symlink_to(outside, target_is_directory=True)
    (tmp_path / "run" / "linked-file").symlink_to(outside / "keep.txt")
    before = snapshot(outside)
    result = train(tiny_lm(), lm_rows(32), None, cfg(tmp_path / "run", resume=False))
    assert result.resumed_from is None and result.steps == 4
    assert not (tmp_path / "run" / "linked-folder").is_symlink()
    assert not (tmp_path / "run" / "linked-file").is_symlink()
    assert snapshot(outside) == before


# --------------------------------------------------------------------------- the model

@pytest.mark.parametrize("where", ["MODEL folder", "train()", "probed"])
def test_a_model_that_is_not_causal(tmp_path, lm_rows, where):
    """model | `MODEL=` a BERT folder (AutoModelForCausalLM loads BertLMHeadModel, which sees later tokens), a BertLMHeadModel given to `train()`, and one whose model type is unknown (probed: changing later tokens moves earlier predictions) | `... cannot be used as a causal language model: it is a 'bert' model (BertLMHeadModel) whose config has is_decoder=False: its attention sees every token. ... Allowed: a causal (decoder-only) model such as gpt2, ... or an encoder whose config sets is_decoder=True` before any work (its losses and perplexities used to be reported as a GPT's) | the model folder; no run folder is made"""
    model = tiny_bert()
    if where == "MODEL folder":
        model.save_pretrained(tmp_path / "bert")
        before = snapshot(tmp_path / "bert")
        run = settings.resolve(profile="full", model=str(tmp_path / "bert"), env={}, cuda=False)
        with pytest.raises(loading.ModelLoadError, match=r"cannot be used as a causal language model: "
                           r"it is a 'bert' model \(BertLMHeadModel\).*is_decoder=False.*Allowed: a causal"):
            loading.load_causal_lm(run)
        assert snapshot(tmp_path / "bert") == before
        return
    if where == "probed":
        model.config.model_type = "unknown-encoder"
        match = r"'unknown-encoder' model .*changes when a later token changes.*Allowed: a causal"
    else:
        match = r"causal-LM loss: it is a 'bert' model \(BertLMHeadModel\).*is_decoder=False.*Allowed"
    with pytest.raises(ValueError, match=match):
        train(model, lm_rows(8), None, cfg(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
    assert models.causal_problem(tiny_bert(is_decoder=True)) is None  # a BERT made a decoder is causal


@pytest.mark.parametrize("where", ["MODEL folder", "train()"])
def test_a_vocabulary_larger_than_the_embeddings(tmp_path, tiny_lm, lm_rows, where):
    """model | `MODEL=` a folder holding a GPT-2 with 1,000 embeddings and no tokenizer (GPT-2's, 50,257 tokens, is used), and `train()` on data with token id 300 for a 256-row embedding | `MODEL=...: its tokenizer has 50,257 tokens but the model's embedding matrix has only 1,000 rows ... Fix: ... model.resize_token_embeddings(len(tokenizer))` / `train_dataset holds the token id 300, but the model's input embedding matrix has 256 rows (ids 0 to 255) ... Fix: tokenize with the model's own tokenizer ...`, before any work (used to be an IndexError mid-run) | the model folder; no run folder is made"""
    if where == "MODEL folder":
        models.tiny_model(0, vocab_size=1000).save_pretrained(tmp_path / "small-vocab")
        before = snapshot(tmp_path / "small-vocab")
        run = settings.resolve(profile="full", model=str(tmp_path / "small-vocab"), env={}, cuda=False)
        with pytest.raises(loading.ModelLoadError, match=r"tokenizer has 50,257 tokens but the model's "
                           r"embedding matrix has only 1,000 rows.*resize_token_embeddings"):
            loading.load(run)
        assert snapshot(tmp_path / "small-vocab") == before
        return
    rows = lm_rows(8)
    rows[5]["input_ids"][3] = 300
    with pytest.raises(ValueError, match=r"train_dataset holds the token id 300, but the model's input "
                       r"embedding matrix has 256 rows \(ids 0 to 255\).*Fix: tokenize"):
        train(tiny_lm(), rows, None, cfg(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- what a run reports

def test_a_batch_larger_than_the_data(tmp_path, tiny_lm, lm_rows, capsys):
    """engine setting | `BATCH_SIZE=1000` on 59 training rows | the batch is clamped to the data and the start line says so: `Training 1 optimizer steps (1/epoch, global batch 59 = 59 x 1 accumulation x 1 process; batch_size=1000 is more than the 59 training rows: clamped to 59)` (it used to print "global batch 1000") | the run's result is that of one batch of all the rows"""
    result = train(tiny_lm(), lm_rows(59), None, cfg(tmp_path / "run", batch_size=1000, verbose=True))
    out = capsys.readouterr().out
    assert "global batch 59 = 59 x 1 accumulation" in out
    assert "batch_size=1000 is more than the 59 training rows: clamped to 59" in out
    assert "global batch 1000" not in out and result.steps == 1


def test_a_run_that_diverges(tmp_path, tiny_lm, lm_rows, capsys):
    """training | `LEARNING_RATE=1` on the tiny model | the run's summary ends with `Diverged: the final eval loss 32.4015 is above the uniform baseline 5.5452 = ln(256), what a model that gives every token the same probability scores ... Try a lower learning rate (this run: 1) ...`, and `TrainResult.diverged` holds it (a run at 1e-3 has none) | the run folder and its checkpoints"""
    data = lm_rows(32)
    result = train(tiny_lm(), data, data[:8], cfg(tmp_path / "run", learning_rate=1.0, max_steps=8,
                                                  verbose=True))
    out = capsys.readouterr().out
    baseline = f"{math.log(256):.4f} = ln(256)"
    assert result.diverged is not None and baseline in result.diverged
    assert result.diverged.startswith("Diverged: the final eval loss") and "this run: 1)" in result.diverged
    assert result.diverged in out
    calm = train(tiny_lm(), data, data[:8], cfg(tmp_path / "calm", max_steps=8))
    assert calm.diverged is None


# --------------------------------------------------------------------------- exports

def test_exports_belong_to_their_run(tmp_path, tiny_lm, lm_rows, capsys):
    """Exports shared by every run of a book | a run of the book with LEARNING_RATE 1e-3, another with 2e-3, each exported; then a later notebook asks for the model of this base model and book, and for that of another base model | each run exports into its own folder (`train-<identity>/finetuned/`); the later notebook gets the newest matching export and prints which run and settings it is (`fine-tuned model: train-1a2b3c4d/finetuned (learning_rate=0.002 ...); 1 older run(s)...`); another base model gets "No exported model of a 'train' run ... started from these weights ... Fix: run the training notebook first with the same PROFILE, MODEL, DATA_DIR" | every run's export, whole; nothing is overwritten"""
    book, data = "the book's text", lm_rows(8)
    first = runs.export(train(tiny_lm(), data, None, cfg(tmp_path, run_name="train"), source=book))
    second = runs.export(train(tiny_lm(), data, None, cfg(tmp_path, run_name="train", learning_rate=2e-3),
                               source=book))
    assert first != second and first.parent.name.startswith("train-") and (first / "config.json").is_file()
    os.utime(first / runs.ABOUT, (1, 1))  # the first export is the older one
    assert runs.find_finetuned(tmp_path, "train", model=tiny_lm(), source=book) == second
    said = capsys.readouterr().out
    assert f"{second.parent.name}/finetuned" in said and "learning_rate=0.002" in said and "1 older run" in said
    with pytest.raises(FileNotFoundError, match=r"started from other weights.*Fix: run the training notebook"):
        runs.find_finetuned(tmp_path, "train", model=tiny_lm(seed=5), source=book)
    assert (first / "config.json").is_file() and (second / "config.json").is_file()


def test_a_full_disk_during_the_export(tmp_path, tiny_lm, lm_rows, monkeypatch):
    """Disk full during the export | `runs.export` of a finished run whose first export exists, with the disk filling while the weights are written (ENOSPC) | `OutputError: Could not write the exported model finetuned/ in <run folder>: the disk is full ... Fix: free space ...` | the previous export, whole (the new one is written to a temporary folder and swapped in only when complete)"""
    import errno

    from gpt2ft.core.paths import OutputError
    result = train(tiny_lm(), lm_rows(8), None, cfg(tmp_path, run_name="train"), source="book")
    folder = runs.export(result)
    before = snapshot(folder)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(type(result.model), "save_pretrained", disk_full)
    with pytest.raises(OutputError, match=r"exported model finetuned/ .* the disk is full.*Fix: free space"):
        runs.export(result)
    assert snapshot(folder) == before

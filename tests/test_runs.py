"""A run names itself, exports into its own folder, and is found again from what the learner holds.

``train(..., cfg)`` with ``cfg.run_name`` puts the run in ``<output_dir>/<run_name>-<hash of
its identity>``; ``runs.export`` writes ``finetuned/`` there whole or not at all;
``runs.find_finetuned`` (``Settings.find_finetuned`` in the notebooks) finds it from the base
model and the data. The settings side (``Settings.train_config``) is in test_settings.py.
"""

from __future__ import annotations

import errno
import os
from dataclasses import replace

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformers.utils import logging as hf_logging

from gpt2ft.core.paths import OutputError
from gpt2ft.training import TrainConfig, runs, train

hf_logging.set_verbosity_error()
pytestmark = pytest.mark.usefixtures("one_thread")
BOOK = "It was a dark and stormy night; the rain fell in torrents."


def named(tmp_path, **kw) -> TrainConfig:
    base = dict(output_dir=tmp_path / "runs", run_name="train", batch_size=4, learning_rate=1e-3,
                max_steps=2, eval_every=None, save_every=2, log_every=1, progress_bar=False,
                verbose=False, warmup_ratio=0.0)
    return TrainConfig(**{**base, **kw})


def test_a_run_names_its_folder_by_its_identity(tmp_path, tiny_lm, lm_rows):
    data = lm_rows(8)
    first = train(tiny_lm(), data, None, named(tmp_path), source=BOOK)
    assert first.run_dir.parent == tmp_path / "runs" and first.run_dir.name.startswith("train-")
    again = train(tiny_lm(), data, None, named(tmp_path, save_every=1, compile=False), source=BOOK)
    assert again.run_dir == first.run_dir  # where and how often it saves is not the run
    other_rate = train(tiny_lm(), data, None, named(tmp_path, learning_rate=5e-4), source=BOOK)
    other_book = train(tiny_lm(), data, None, named(tmp_path), source=BOOK + "!")
    other_model = train(tiny_lm(seed=1), data, None, named(tmp_path), source=BOOK)
    folders = {r.run_dir for r in (first, other_rate, other_book, other_model)}
    assert len(folders) == 4  # each changes the result: each its own folder


def test_without_a_run_name_output_dir_is_the_run_folder(tmp_path, tiny_lm, lm_rows):
    result = train(tiny_lm(), lm_rows(8), None, named(tmp_path, run_name=None))
    assert result.run_dir == tmp_path / "runs"


def test_export_then_find_the_run_of_this_model_and_data(tmp_path, tiny_lm, lm_rows, capsys):
    data = lm_rows(8)
    result = train(tiny_lm(), data, None, named(tmp_path), source=BOOK)
    folder = runs.export(result, about={"command": "make sprint12"})
    assert folder == result.run_dir / runs.EXPORT and (folder / "config.json").is_file()
    assert (folder / runs.HISTORY).is_file() and "make sprint12" in (folder / runs.ABOUT).read_text()
    train(tiny_lm(), data, None, named(tmp_path, learning_rate=5e-4), source=BOOK)  # not exported

    found = runs.find_finetuned(tmp_path / "runs", "train", model=tiny_lm(), source=BOOK)
    assert found == folder
    assert f"{result.run_dir.name}/finetuned" in capsys.readouterr().out  # says which run
    with pytest.raises(FileNotFoundError, match=r"2 runs started from other weights"):
        runs.find_finetuned(tmp_path / "runs", "train", model=tiny_lm(seed=7), source=BOOK)
    with pytest.raises(FileNotFoundError, match=r"used other data.*Fix: run the training notebook"):
        runs.find_finetuned(tmp_path / "runs", "train", model=tiny_lm(), source="another book")


def test_the_newest_export_wins_and_the_others_are_counted(tmp_path, tiny_lm, lm_rows, capsys):
    data = lm_rows(8)
    old = runs.export(train(tiny_lm(), data, None, named(tmp_path), source=BOOK))
    new = runs.export(train(tiny_lm(), data, None, named(tmp_path, learning_rate=5e-4), source=BOOK))
    os.utime(old / runs.ABOUT, (1, 1))
    assert runs.find_finetuned(tmp_path / "runs", "train", model=tiny_lm(), source=BOOK) == new
    assert "1 older run(s)" in capsys.readouterr().out


def test_source_fingerprint_reads_what_the_notebook_holds():
    class Corpus:
        text = BOOK

    class Records:
        records = [{"instruction": "a", "output": "b"}]

    assert runs.source_fingerprint(Corpus()) == runs.source_fingerprint(BOOK)
    assert runs.source_fingerprint(Records()) == runs.source_fingerprint(Records.records)
    assert runs.source_fingerprint(BOOK) != runs.source_fingerprint(BOOK + " ")


def test_a_failed_export_leaves_the_previous_one_whole(tmp_path, tiny_lm, lm_rows, monkeypatch):
    result = train(tiny_lm(), lm_rows(8), None, named(tmp_path), source=BOOK)
    folder = runs.export(result)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def disk_full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(type(result.model), "save_pretrained", disk_full)
    with pytest.raises(OutputError, match="the disk is full"):
        runs.export(replace(result, model=result.model))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # the previous export, whole


def test_export_of_a_lora_model_loads_as_a_plain_model(tmp_path, tiny_lm, lm_rows):
    from transformers import AutoModelForCausalLM
    result = train(tiny_lm(), lm_rows(8), None, named(tmp_path, strategy="lora", lora_r=2), source=BOOK)
    folder = runs.export(result)
    plain = AutoModelForCausalLM.from_pretrained(folder).eval()
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        torch.testing.assert_close(plain(ids).logits, result.model.eval()(input_ids=ids).logits,
                                   rtol=1e-4, atol=1e-5)
    assert hasattr(result.model, "merge_and_unload")  # the trained model itself keeps its adapters


def test_the_runs_on_disk_are_listed_with_their_state_and_size(tmp_path, tiny_lm, lm_rows, capsys):
    data = lm_rows(8)
    first = train(tiny_lm(), data, None, named(tmp_path, learning_rate=1e-3), source=BOOK)
    cut = train(tiny_lm(), data, None, named(tmp_path, learning_rate=2e-3, verbose=True), source=BOOK)
    assert "other 'train' runs beside it" in capsys.readouterr().out  # says what it supersedes
    newest = {info.folder: info for info in runs.list_runs(tmp_path)}
    assert newest[first.run_dir].state == "superseded (finished)" and newest[first.run_dir].steps == "2 of 2"
    assert newest[cut.run_dir].state == "finished" and newest[cut.run_dir].size > 0
    assert "learning_rate=0.001" in newest[first.run_dir].settings

    freed = runs.remove_run(tmp_path, first.run_dir.relative_to(tmp_path))
    assert freed > 0 and not first.run_dir.exists() and cut.run_dir.exists()
    with pytest.raises(ValueError, match="not a run folder .* nothing was deleted"):
        runs.remove_run(tmp_path, "runs")  # the parent of the runs, not a run
    assert cut.run_dir.exists()


def test_more_steps_extend_a_finished_run_where_the_schedule_allows(tmp_path, tiny_lm, lm_rows, capsys):
    """MAX_STEPS 3 -> 6 goes on from step 3, equal to a 6-step run from the start (issue 23)."""
    data = lm_rows(24)  # 6 steps an epoch at batch 4
    constant = dict(scheduler="constant", warmup_steps=1, save_every=3, eval_every=None)
    short = train(tiny_lm(), data, None, named(tmp_path / "a", max_steps=3, **constant), source=BOOK)
    longer = train(tiny_lm(), data, None, named(tmp_path / "a", max_steps=6, verbose=True, **constant),
                   source=BOOK)
    assert longer.run_dir == short.run_dir and longer.resumed_from.name == "step-000003"
    assert "planned 3 optimizer steps and the settings now ask for 6: it extends from step 3" in capsys.readouterr().out
    whole = train(tiny_lm(), data, None, named(tmp_path / "b", max_steps=6, **constant), source=BOOK)
    for a, b in zip(longer.model.state_dict().values(), whole.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)  # bit for bit: the run that asked for 6 from the start


def test_more_steps_are_refused_where_the_schedule_would_differ(tmp_path, tiny_lm, lm_rows):
    from gpt2ft.training.runtime import RunLengthError
    data = lm_rows(24)
    train(tiny_lm(), data, None, named(tmp_path, max_steps=3, save_every=3), source=BOOK)  # linear decay
    model = tiny_lm()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(RunLengthError, match=r"planned 3 optimizer steps and trained 3; .* ask for 6\. "
                                             r"Its linear schedule .* Nothing was loaded\. Fix: RESUME=0"):
        train(model, data, None, named(tmp_path, max_steps=6, save_every=3), source=BOOK)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # untouched
    with pytest.raises(RunLengthError, match="already trained 3 optimizer steps; the settings now ask for 2"):
        train(tiny_lm(), data, None, named(tmp_path, max_steps=2, save_every=3), source=BOOK)


def test_another_loss_function_is_another_run(tmp_path, tiny_classifier):
    from gpt2ft.classify import weighted_loss
    rows = [{"input_ids": torch.tensor([i % 7 + 1, 3, 4]), "labels": torch.tensor(i % 2)} for i in range(8)]
    plain = train(tiny_classifier(), rows, None, named(tmp_path), source=BOOK)
    weighted = train(tiny_classifier(), rows, None, named(tmp_path), source=BOOK,
                     loss_fn=weighted_loss(torch.tensor([1.0, 3.0])))
    other_weights = train(tiny_classifier(), rows, None, named(tmp_path), source=BOOK,
                          loss_fn=weighted_loss(torch.tensor([1.0, 2.0])))
    assert len({plain.run_dir, weighted.run_dir, other_weights.run_dir}) == 3

"""Never lose a run: atomic checkpoints, fallback from bad ones, exact resume, NaN stop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformers.utils import logging as hf_logging

from gpt2ft.core import models
from gpt2ft.training import NonFiniteLossError, TrainConfig, train
from gpt2ft.training import checkpointing as ckpt

hf_logging.set_verbosity_error()
VOCAB = 256  # the tiny test GPT-2's (tiny_lm, conftest.py)


# One torch thread (fixture in conftest.py): exact comparisons, and no fight over 2 cores.
pytestmark = pytest.mark.usefixtures("one_thread")


def run_cfg(out, **kw):
    base = dict(output_dir=out, batch_size=4, learning_rate=1e-3, num_epochs=2, save_every=4,
                eval_every=None, log_every=1, keep_checkpoints=3, progress_bar=False,
                verbose=False)
    base.update(kw)
    return TrainConfig(**base)


def write(path: Path, text: str):
    return lambda p: p.write_text(text)


# --------------------------------------------------------------------------- files

def test_checkpoint_is_written_atomically_with_a_manifest(tmp_path):
    path = ckpt.write_checkpoint(tmp_path / "step-000001", {"a.txt": write(tmp_path, "alpha"),
                                                            "b.txt": write(tmp_path, "beta")})
    assert sorted(p.name for p in path.iterdir()) == ["a.txt", "b.txt", "manifest.json"]
    manifest = json.loads((path / "manifest.json").read_text())["files"]
    assert manifest["a.txt"]["bytes"] == 5
    assert ckpt.verify_checkpoint(path)
    assert [p.name for p in tmp_path.iterdir()] == ["step-000001"]  # no temporary left


def test_a_failed_write_leaves_the_previous_checkpoint_untouched(tmp_path):
    good = ckpt.write_checkpoint(tmp_path / "step-000001", {"a.txt": write(tmp_path, "v1")})

    def crash(p):
        p.write_text("half")
        raise KeyboardInterrupt  # killed mid-write

    with pytest.raises(KeyboardInterrupt):
        ckpt.write_checkpoint(tmp_path / "step-000001", {"a.txt": crash})
    assert (good / "a.txt").read_text() == "v1"
    assert ckpt.verify_checkpoint(good)
    assert [p.name for p in tmp_path.iterdir()] == ["step-000001"]


def test_rewriting_a_name_replaces_it_whole(tmp_path):
    ckpt.write_checkpoint(tmp_path / "best", {"a.txt": write(tmp_path, "v1")})
    ckpt.write_checkpoint(tmp_path / "best", {"a.txt": write(tmp_path, "v2 longer")})
    assert (tmp_path / "best" / "a.txt").read_text() == "v2 longer"
    assert ckpt.best_checkpoint(tmp_path) == tmp_path / "best"
    assert [p.name for p in tmp_path.iterdir()] == ["best"]


@pytest.mark.parametrize("damage, words", [
    ("truncate", ["model.safetensors", "truncated"]),
    ("delete", ["model.safetensors", "missing"]),
    ("no_manifest", ["manifest.json", "partial"]),
    ("flip", ["model.safetensors", "corrupt"]),
])
def test_bad_checkpoint_is_named_and_the_one_before_is_used(tmp_path, damage, words):
    for step in (4, 8):
        ckpt.write_checkpoint(tmp_path / ckpt.step_name(step),
                              {"model.safetensors": write(tmp_path, f"weights {step}" * 50)})
    bad = tmp_path / "step-000008"
    target = bad / ("manifest.json" if damage == "no_manifest" else "model.safetensors")
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:100])
    elif damage in ("delete", "no_manifest"):
        target.unlink()
    else:
        data = bytearray(target.read_bytes())
        data[10] ^= 1
        target.write_bytes(bytes(data))
    with pytest.raises(ckpt.CheckpointError) as err:
        ckpt.verify_checkpoint(bad)
    assert all(w in str(err.value) for w in words) and "step-000008" in str(err.value)
    with pytest.warns(ckpt.CheckpointWarning, match="step-000008"):
        assert ckpt.latest_valid_checkpoint(tmp_path) == tmp_path / "step-000004"


def test_temporaries_are_ignored_and_cleaned(tmp_path):
    ckpt.write_checkpoint(tmp_path / "step-000004", {"a": write(tmp_path, "x")})
    (tmp_path / "step-000008.tmp-123-abc").mkdir()  # a run killed while writing
    assert ckpt.latest_valid_checkpoint(tmp_path) == tmp_path / "step-000004"
    ckpt.clean_temporaries(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["step-000004"]


def test_prune_keeps_the_newest(tmp_path):
    for step in (2, 4, 10, 6):
        ckpt.write_checkpoint(tmp_path / ckpt.step_name(step), {"a": write(tmp_path, "x")})
    ckpt.prune_checkpoints(tmp_path, keep=2)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["step-000006", "step-000010"]


# --------------------------------------------------------------------------- resume

class Crash(Exception):
    pass


class CrashAt:
    def __init__(self, step):
        self.step = step

    def on_step_end(self, step):
        if step == self.step:
            raise Crash(step)


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_corrupt_newest_checkpoint_falls_back_and_still_ends_identical(tmp_path, tiny_lm, lm_rows):
    data = lm_rows(24)  # dropout stays on (0.1) in tiny_lm: resume must restore its RNG
    reference = weights(train(tiny_lm(), data, None, run_cfg(tmp_path / "ref")).model)

    out = tmp_path / "run"
    with pytest.raises(Crash):
        train(tiny_lm(), data, None, run_cfg(out), callbacks=[CrashAt(10)])
    assert [p.name for p in ckpt.list_checkpoints(out)] == ["step-000004", "step-000008"]
    model_file = out / "step-000008" / "model.safetensors"
    model_file.write_bytes(model_file.read_bytes()[:-10])  # truncated
    with pytest.warns(ckpt.CheckpointWarning, match=r"step-000008.*model\.safetensors"):
        result = train(tiny_lm(), data, None, run_cfg(out))
    assert result.resumed_from.name == "step-000004"
    final = weights(result.model)
    assert all(torch.equal(reference[k], final[k]) for k in reference)
    # the history of the resumed run is the uninterrupted one's
    assert result.history["step"].tolist() == list(range(1, 13))


WORKER = textwrap.dedent("""
    import os, signal, sys
    from transformers.utils import logging
    from safetensors.torch import save_file
    from conftest import TINY, random_lm_rows
    from gpt2ft.session.loading import tiny_model
    from gpt2ft.training import TrainConfig, train
    logging.set_verbosity_error()
    out, kill_at, save_to = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    model = tiny_model(0, **TINY)
    data = random_lm_rows(24)

    class Kill:
        def on_step_end(self, step):
            if step == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush: a real crash

    cfg = TrainConfig(output_dir=out, batch_size=4, learning_rate=1e-3, num_epochs=2,
                      save_every=4, eval_every=None, log_every=1, keep_checkpoints=3,
                      progress_bar=False, verbose=False)
    result = train(model, data, None, cfg, callbacks=[Kill()])
    save_file({k: v.contiguous() for k, v in result.model.state_dict().items()
               if k != "lm_head.weight"}, save_to)
    print("resumed_from", result.resumed_from)
""")


def test_killed_run_resumes_to_bit_identical_weights(tmp_path, worker_env):
    from safetensors.torch import load_file
    script = tmp_path / "worker.py"
    script.write_text(WORKER)

    def run(out, kill_at, save_to):
        return subprocess.run([sys.executable, str(script), str(out), str(kill_at),
                               str(save_to)], env=worker_env, capture_output=True, text=True,
                              timeout=300)

    ref = run(tmp_path / "ref", -1, tmp_path / "ref.safetensors")
    assert ref.returncode == 0, ref.stderr[-2000:]
    killed = run(tmp_path / "run", 9, tmp_path / "unused.safetensors")
    assert killed.returncode == -9, killed.stderr[-2000:]  # SIGKILL after step 9 (epoch 2)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path / "run")] == ["step-000004",
                                                                          "step-000008"]
    resumed = run(tmp_path / "run", -1, tmp_path / "resumed.safetensors")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "step-000008" in resumed.stdout
    a, b = load_file(tmp_path / "ref.safetensors"), load_file(tmp_path / "resumed.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------- NaN

def test_non_finite_loss_stops_with_step_and_batch_and_keeps_the_last_good(tmp_path, tiny_lm, lm_rows):
    calls = {"n": 0}

    def loss_fn(outputs, batch):
        calls["n"] += 1
        loss = outputs.loss if hasattr(outputs, "loss") and outputs.loss is not None else None
        logits = outputs.logits[:, :-1].reshape(-1, VOCAB)
        loss = torch.nn.functional.cross_entropy(logits, batch["labels"][:, 1:].reshape(-1))
        return loss * float("nan") if calls["n"] == 7 else loss

    out = tmp_path / "run"
    with pytest.raises(NonFiniteLossError) as err:
        train(tiny_lm(), lm_rows(24), None, run_cfg(out), loss_fn=loss_fn)
    e = err.value
    assert (e.step, e.epoch, e.batch_index) == (7, 1, 0)  # 6 batches per epoch
    assert "optimizer step 7" in str(e) and "step-000004" in str(e)
    assert len(e.rows) == 4
    assert [p.name for p in ckpt.list_checkpoints(out)] == ["step-000004"]
    assert ckpt.verify_checkpoint(e.checkpoint)


# --------------------------------------------------------------------------- data, not code

def _rewrite_manifest(folder: Path) -> None:
    """What an attacker with write access does: recompute the manifest beside a planted file."""
    files = {p.name: {"bytes": p.stat().st_size, "sha256": ckpt._sha256(p)}
             for p in folder.iterdir() if p.name != ckpt.MANIFEST}
    (folder / ckpt.MANIFEST).write_text(json.dumps({"files": files}))


class _Planted:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_pickle_in_a_checkpoint_is_never_executed(tmp_path, tiny_lm, lm_rows):
    data = lm_rows(24)
    out = tmp_path / "run"
    with pytest.raises(Crash):
        train(tiny_lm(), data, None, run_cfg(out), callbacks=[CrashAt(10)])
    marker = tmp_path / "pwned"
    planted = _Planted()
    planted.marker = marker
    newest = out / "step-000008"
    torch.save({"state": planted}, newest / "scheduler.pt")
    _rewrite_manifest(newest)
    with pytest.warns(ckpt.CheckpointWarning, match=r"step-000008.*scheduler\.pt.*not run"):
        result = train(tiny_lm(), data, None, run_cfg(out))
    assert not marker.exists()  # the pickle did not run
    assert result.resumed_from.name == "step-000004" and result.steps == 12


def test_training_checkpoints_load_with_weights_only(tmp_path, tiny_lm, lm_rows):
    train(tiny_lm(), lm_rows(16), None, run_cfg(tmp_path, max_steps=2, save_every=2))
    for name in ("optimizer.pt", "scheduler.pt", "rng.pt"):
        torch.load(tmp_path / "step-000002" / name, weights_only=True)  # raises on any object


def test_rng_state_round_trips_through_plain_data():
    import random

    import numpy as np
    state = ckpt.rng_state()
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    ckpt.set_rng_state(torch.load(_bytes_io(ckpt.torch_bytes(state)), weights_only=True))
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def _bytes_io(data: bytes):
    import io
    return io.BytesIO(data)


def test_a_bit_flip_in_best_is_named_and_the_final_weights_are_scored(tmp_path, tiny_lm, lm_rows):
    data = lm_rows(24)
    c = run_cfg(tmp_path / "run", max_steps=6, eval_every=2, load_best_at_end=True)
    first = train(tiny_lm(), data, data[:8], c)
    weights_file = tmp_path / "run" / "best" / "model.safetensors"
    raw = bytearray(weights_file.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one bit, same size: only the checksum can tell
    weights_file.write_bytes(bytes(raw))
    with pytest.warns(ckpt.CheckpointWarning, match=r"best/model\.safetensors.*SHA-256.*final weights"):
        again = train(tiny_lm(), data, data[:8], c)
    assert again.best_checkpoint is None
    assert again.best_eval_loss == pytest.approx(first.history["eval_loss"].dropna().iloc[-1])
    assert all(torch.isfinite(p).all() for p in again.model.parameters())


def test_a_corrupt_best_falls_back_to_a_copy_and_says_so(tmp_path, tiny_lm, lm_rows):
    data = lm_rows(24)
    train(tiny_lm(), data, data[:8], run_cfg(tmp_path / "run", max_steps=4, eval_every=2))
    best = tmp_path / "run" / "best"
    copy = tmp_path / "run" / "best.old-1234"
    import shutil
    shutil.copytree(best, copy)
    (best / "model.safetensors").write_bytes(b"\0" * (best / "model.safetensors").stat().st_size)
    with pytest.warns(ckpt.CheckpointWarning, match=r"best/model\.safetensors.*Using .*best\.old-1234"):
        assert ckpt.best_checkpoint(tmp_path / "run") == copy


def test_every_checkpoint_loads_with_from_pretrained_and_pipeline(tmp_path, tiny_lm):
    from transformers import AutoModelForCausalLM, pipeline

    from gpt2ft.session import loading
    tokenizer = loading.bundled_tokenizer()
    model = models.tiny_model(0)
    ids = tokenizer(["It was the best of times, it was the worst of times."] * 8)["input_ids"]
    rows = [{"input_ids": i, "labels": i} for i in ids]
    c = run_cfg(tmp_path / "run", max_steps=2, save_every=2, eval_every=2)
    result = train(model, rows, rows[:2], c, tokenizer=tokenizer)
    for folder in (tmp_path / "run" / "best", tmp_path / "run" / "step-000002"):
        loaded = AutoModelForCausalLM.from_pretrained(folder)
        assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(),
                                                     result.model.state_dict().values(), strict=True))
        generate = pipeline("text-generation", model=str(folder), device="cpu")
        assert isinstance(generate("It was", max_new_tokens=3, do_sample=False)[0]["generated_text"], str)

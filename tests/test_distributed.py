"""Scale: 2 processes (gloo on CPU, via ``accelerate launch``) equal 1 process with the
same global batch, and gradient accumulation equals the larger batch it stands for.

Both comparisons use equal-length blocks (every micro-batch has the same number of
target tokens, so the mean of micro-batch means is the mean over the whole batch)
and no dropout (each process has its own dropout RNG stream). What remains is the
order of floating-point sums (two half-batch gradients added vs one full batch),
about 1e-7 relative in the gradients; Adam divides by sqrt(v), which magnifies it
for weights whose gradients are near zero, so the learning rate is kept at 1e-3
for the weight comparison to sit well inside 1e-5.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformers.utils import logging as hf_logging

from gpt2ft.training import TrainConfig, train

hf_logging.set_verbosity_error()


# One torch thread (fixture in conftest.py): exact comparisons, and no fight over 2 cores.
pytestmark = pytest.mark.usefixtures("one_thread")


WORKER = textwrap.dedent("""
    import json, sys
    from transformers.utils import logging
    from safetensors.torch import save_file
    from conftest import NO_DROPOUT, TINY, random_lm_rows
    from gpt2ft.session.loading import tiny_model
    from gpt2ft.training import TrainConfig, train
    logging.set_verbosity_error()
    out, batch_size, accum, report = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if "--early-partial-state" in sys.argv:  # the mistake: made before train(), no cpu=True
        from accelerate import PartialState
        early = PartialState()
    model = tiny_model(0, **TINY, **NO_DROPOUT)
    data = random_lm_rows(32, attention_mask=True)
    cfg = TrainConfig(output_dir=out, batch_size=batch_size, grad_accum_steps=accum,
                      learning_rate=1e-3, num_epochs=2, save_every=4, eval_every=4,
                      log_every=1, progress_bar=False, verbose=False, warmup_ratio=0.25)
    result = train(model, data, data[:8], cfg)
    import torch.distributed as dist
    if not dist.is_initialized() or dist.get_rank() == 0:
        h = result.history
        with open(report, "w") as f:
            json.dump({"train_loss": h["train_loss"].dropna().tolist(),
                       "eval_loss": h["eval_loss"].dropna().tolist(),
                       "steps": result.steps}, f)
        save_file({k: v.contiguous() for k, v in result.model.state_dict().items()
                   if k != "lm_head.weight"}, report + ".safetensors")
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd, env):
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


@pytest.fixture
def launch_env(worker_env):
    """The workers' environment (conftest.py) without GPUs: gloo processes on the CPU."""
    return dict(worker_env, CUDA_VISIBLE_DEVICES="")


def _two_cpu_processes() -> list[str]:
    """`accelerate launch` of 2 gloo processes (`--multi_gpu` on a machine without GPUs)."""
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
            "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
            "--dynamo_backend", "no", "--main_process_port", str(_free_port())]


def _launch_two(script, out, report, env):
    return _run(_two_cpu_processes() + [str(script), str(out), "4", "1", str(report)], env)


def test_two_processes_match_one_process_with_the_same_global_batch(tmp_path, launch_env):
    from safetensors.torch import load_file
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    _run([sys.executable, str(script), str(tmp_path / "one"), "8", "1",
          str(tmp_path / "one.json")], launch_env)
    _launch_two(script, tmp_path / "two", tmp_path / "two.json", launch_env)
    one = json.loads((tmp_path / "one.json").read_text())
    two = json.loads((tmp_path / "two.json").read_text())
    assert one["steps"] == two["steps"] == 8
    assert len(one["train_loss"]) == 8
    assert one["train_loss"] == pytest.approx(two["train_loss"], abs=1e-5)
    assert one["eval_loss"] == pytest.approx(two["eval_loss"], abs=1e-5)
    a = load_file(tmp_path / "one.json.safetensors")
    b = load_file(tmp_path / "two.json.safetensors")
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    # the 2-process run wrote its checkpoints once, from the main process
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [
        "best", "identity.json", "step-000004", "step-000008"]


def test_a_partial_state_made_too_early_is_refused_before_any_work(tmp_path, launch_env):
    # PartialState() without cpu=True on a CPU box sees 1 of 2 launched processes; left
    # alone, both would train on all the data and write the same checkpoint files.
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    cmd = _two_cpu_processes() + [str(script), str(tmp_path / "two"), "4", "1",
                                  str(tmp_path / "two.json"), "--early-partial-state"]
    proc = subprocess.run(cmd, env=launch_env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "sees 1 of the 2 processes" in proc.stderr and "PartialState(cpu=True)" in proc.stderr
    assert not (tmp_path / "two").exists() and not (tmp_path / "two.json").exists()


def test_a_sprint_training_script_runs_unchanged_under_accelerate_launch(tmp_path, launch_env):
    # Sprint 13's training notebook as a script, 2 CPU processes: the loop sees both,
    # and the files (tables, figure, exported model) are written once, by the main one.
    root = Path(__file__).resolve().parents[1]
    folder = root / "sprints" / "sprint13_instructions"
    env = dict(launch_env, PROFILE="tiny", RESULTS_DIR=str(tmp_path / "results"),
               RUNS_DIR=str(tmp_path / "runs"))
    env.pop("DATA_DIR", None)  # the bundled sample: small and the same everywhere
    proc = subprocess.run(_two_cpu_processes() + [str(folder / "03_finetune.py")], env=env,
                          cwd=folder, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "x 2 processes" in proc.stdout  # the start line: an ordinary line, on stdout
    tables = tmp_path / "results" / "sprint13" / "tiny"
    assert {p.suffix for p in tables.iterdir()} == {".md", ".csv", ".json", ".png"}
    exported = sorted((tmp_path / "runs").rglob("finetuned/config.json"))  # the masked and the plain run
    assert [p.parents[1].name.rsplit("-", 1)[0] for p in exported] == ["instructions", "loss-on-everything"]
    assert all((p.parent / "training.json").is_file() for p in exported)  # each written once, whole


def test_gradient_accumulation_matches_the_larger_batch(tmp_path, tiny_lm, lm_rows):
    def run(batch_size, accum, out):
        model = tiny_lm(dropout=False)
        data = lm_rows(36)  # per epoch 4 batches of 8 + one of 4 = windows of 2,2,2,2,1 x 4
        cfg = TrainConfig(output_dir=out, batch_size=batch_size, grad_accum_steps=accum,
                          learning_rate=1e-3, num_epochs=2, save_every=None, eval_every=None,
                          log_every=1, progress_bar=False, verbose=False)
        return train(model, data, None, cfg)

    big = run(8, 1, tmp_path / "big")
    small = run(4, 2, tmp_path / "accum")
    assert big.steps == small.steps == 10  # a window never crosses an epoch's end
    assert big.history["train_loss"].tolist() == pytest.approx(
        small.history["train_loss"].tolist(), abs=1e-5)
    a, b = big.model.state_dict(), small.model.state_dict()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5

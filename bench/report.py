"""The benchmark's report: the machine it ran on, and one markdown table a section."""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path

import accelerate
import torch
import transformers

MACHINE_KEYS = ("gpu", "gpu_memory_gb", "cuda", "cpu", "cpu_cores", "torch_threads", "python",
                "torch", "transformers", "accelerate", "peft")


def hardware(device: str) -> dict:
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


def _fmt(value, digits=1):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _table(head: str, rule: str, rows: dict, cells) -> list[str]:
    """A markdown table: ``cells(row)`` gives a row's values; a failed row shows its error."""
    lines = [head, rule]
    width = rule.count("|") - 1
    for name, r in rows.items():
        if "error" in r:
            lines.append(f"| {name} | failed: {r['error']} |" + " |" * (width - 2))
        else:
            lines.append(f"| {name} | " + " | ".join(cells(r)) + " |")
    return lines


def _lm(lm: dict) -> list[str]:
    return ["", f"## Causal LM: {lm['model']}, sequence {lm['seq']}, batch {lm['batch']}, bf16", "",
            f"FLOPs/token = 6N + 12·L·d·T = {lm['flops_per_token'] / 1e9:.3f} GFLOP "
            f"(N = {lm['params_for_flops'] / 1e6:.1f} M); peak "
            f"{_fmt(lm['peak_tflops'])} TFLOP/s bf16 dense.", "",
            *_table("| run | tokens/s | × Trainer | TFLOP/s | MFU % | peak GiB |",
                    "|---|---:|---:|---:|---:|---:|", lm["rows"],
                    lambda r: [_fmt(r["tokens_per_s"], 0), _fmt(r["vs_trainer"], 2),
                               _fmt(r["tflops"]), _fmt(r["mfu_pct"]),
                               _fmt(r.get("peak_mem_gb"), 2)])]


def _cls(c: dict) -> list[str]:
    return ["", f"## Classification: {c['model']}, batch {c['batch']}", "",
            f"Sentence lengths: {c['lengths']} (mean {c['mean_length']:.2f} tokens).", "",
            *_table("| run | sentences/s | × Trainer pad 128 | × Trainer dynamic+grouped | "
                    "padding % | peak GiB |", "|---|---:|---:|---:|---:|---:|", c["rows"],
                    lambda r: [_fmt(r["samples_per_s"], 0), _fmt(r["vs_trainer_pad128"], 2),
                               _fmt(r["vs_trainer_dynamic"], 2), _fmt(r["padding_pct"]),
                               _fmt(r.get("peak_mem_gb"), 2)])]


def _mem(m: dict) -> list[str]:
    return ["", f"## Peak GPU memory: {m['model']}, batch {m['batch']}, sequence {m['seq']}, bf16",
            "", *_table("| run | peak GiB | tokens/s |", "|---|---:|---:|", m["rows"],
                        lambda r: [_fmt(r.get("peak_mem_gb"), 2), _fmt(r["tokens_per_s"], 0)])]


def _cpu(c: dict) -> list[str]:
    def cells(r):
        ratio = r.get("vs_trainer", r.get("vs_trainer_dynamic"))
        return [_fmt(r["samples_per_s"]), _fmt(r["tokens_per_s"], 0), _fmt(ratio, 2),
                str(r["samples_per_s_all"])]

    return ["", f"## CPU: {c['model']}", "",
            f"LM: sequence {c['lm_seq']}, batch {c['lm_batch']}; classification: batch "
            f"{c['cls_batch']}, {c['lengths']}. Best of interleaved repeats.", "",
            *_table("| run | sentences/s | tokens/s | vs Trainer (same work) | all repeats |",
                    "|---|---:|---:|---:|---|", c["rows"], cells)]


def _cpu_mem(m: dict) -> list[str]:
    return ["", f"## CPU peak memory: {m['model']}, causal LM, batch {m['batch']} x {m['seq']}",
            "", f"The fp32 logits of one batch: {m['logits_mib']:,.0f} MiB. "
            "Each row in its own process; resident memory before training and its peak.", "",
            *_table("| run | peak RSS MiB | before training MiB | added by training MiB | tokens/s |",
                    "|---|---:|---:|---:|---:|", m["rows"],
                    lambda r: [_fmt(r["peak_rss_mib"], 0), _fmt(r["rss_before_mib"], 0),
                               _fmt(r["training_mib"], 0), _fmt(r["tokens_per_s"], 0)])]


SECTION_TABLES = {"lm": _lm, "cls": _cls, "mem": _mem, "cpu": _cpu, "cpu_mem": _cpu_mem}


def markdown(report: dict) -> str:
    hw = report["hardware"]
    lines = [f"# Training loop benchmark ({report['device']}{', quick' if report['quick'] else ''})",
             "", f"Command: `{report['command']}`  ", f"Date: {report['date']}", "",
             "| | |", "|---|---|"]
    lines += [f"| {key} | {hw[key]} |" for key in MACHINE_KEYS if key in hw]
    for name, table in SECTION_TABLES.items():
        if name in report["sections"]:
            lines += table(report["sections"][name])
    return "\n".join(lines) + "\n"

"""Our training loop against ``transformers.Trainer``, side by side in one process.

    python bench/benchmark.py                  # the device there is (cuda if any)
    python bench/benchmark.py --device cpu     # CPU rows only
    python bench/benchmark.py --quick          # CPU, short: about a minute

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
import json
import os
import sys
import time
from pathlib import Path

import torch
from cpu_memory import section_cpu_mem
from report import hardware, markdown
from sections import section_cls, section_cpu, section_lm, section_mem
from transformers.utils import logging as hf_logging
from workload import sst2_lengths

from gpt2ft.core.paths import results_root

PROG = "python bench/benchmark.py"
SECTIONS = ("lm", "cls", "mem", "cpu", "cpu_mem")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
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
    return parser


def main(argv=None) -> dict:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.render:
        return _render(args.render, args.out)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    hf_logging.set_verbosity_error()
    device = args.device or ("cpu" if args.quick or not torch.cuda.is_available() else "cuda")
    threads = args.threads or (1 if device == "cpu" else None)
    if threads:
        torch.set_num_threads(threads)
    if device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but no CUDA GPU is visible")
    sections = (args.sections.split(",") if args.sections
                else (["lm", "cls", "mem"] if device == "cuda" else ["cpu", "cpu_mem"]))
    unknown = [name for name in sections if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {unknown[0]!r}; use {', '.join(SECTIONS)}")
    report = {"device": device, "quick": args.quick,
              "command": f"{PROG} " + " ".join(argv if argv is not None else sys.argv[1:]),
              "date": time.strftime("%Y-%m-%d %H:%M:%S"), "hardware": hardware(device),
              "sections": {}}
    t_all = time.perf_counter()
    report["sections"] = _run_sections(sections, args, device)
    report["total_seconds"] = round(time.perf_counter() - t_all, 1)
    out_dir = _write(report, args.out)
    print(f"wrote {out_dir / _stem(report)}.json and .md", file=sys.stderr)
    return report


def _run_sections(names: list[str], args: argparse.Namespace, device: str) -> dict:
    """Each section asked for, with the --quick or full settings; row filter from --rows."""
    # SST-2's lengths (67k sentences tokenized) only for the sections that use them
    lengths, source = sst2_lengths() if {"cls", "cpu"} & set(names) else (None, None)
    q, compile_rows = args.quick, not args.no_compile
    only = set(args.rows.split(",")) if args.rows else None
    runs = {
        "lm": lambda: section_lm(device, batch=args.lm_batch, compile_rows=compile_rows, only=only,
                                 **(dict(size="tiny", seq=128, warmup=2, steps=5) if q
                                    else dict(warmup=args.lm_warmup, steps=args.lm_steps))),
        "cls": lambda: section_cls(device, batch=args.cls_batch, compile_rows=compile_rows,
                                   lengths=lengths, source=source, only=only,
                                   **(dict(size="tiny", warmup=3, steps=10) if q else {})),
        "mem": lambda: section_mem(device, compile_rows=compile_rows, only=only,
                                   **(dict(seq=256) if q else {})),
        "cpu": lambda: section_cpu(lengths=lengths, source=source,
                                   **(dict(repeats=2, lm_steps=6, cls_steps=30, warmup=2)
                                      if q else {})),
        "cpu_mem": lambda: section_cpu_mem(**(dict(batch=8) if q else {})),
    }
    done = {}
    for name in names:
        t0 = time.perf_counter()
        done[name] = runs[name]()
        print(f"[bench] section {name} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return done


def _stem(report: dict) -> str:
    return report["device"] + ("-quick" if report["quick"] else "")


def _write(report: dict, out: str | None) -> Path:
    """``<out>/<device>[-quick].json`` and ``.md``; print the table."""
    out_dir = Path(out) if out else results_root() / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{_stem(report)}.json").write_text(json.dumps(report, indent=1, default=str))
    table = markdown(report)
    (out_dir / f"{_stem(report)}.md").write_text(table)
    print(table)
    return out_dir


def _render(files: list[str], out: str | None) -> dict:
    """One report from several JSON reports: their sections merged, commands and times summed."""
    reports = [json.loads(Path(f).read_text()) for f in files]
    merged = dict(reports[0])
    merged["sections"] = {}
    merged["command"] = " ; ".join(r["command"] for r in reports)
    merged["total_seconds"] = sum(r.get("total_seconds", 0) for r in reports)
    for r in reports:
        merged["sections"].update(r["sections"])
    _write(merged, out)
    return merged


if __name__ == "__main__":
    main()

"""The full profile, rehearsed: every notebook of every sprint at PROFILE=full, capped.

    python tools/rehearse.py                 # = make rehearse: CPU, small caps, <= 20 min on 2 cores
    python tools/rehearse.py --gpu           # = make rehearse-gpu: larger caps, bf16, compiled
    python tools/rehearse.py --sprints 12,13 # some sprints only
    python tools/rehearse.py --gpu --jobs 4  # the four sprints side by side (one GPU, each its process)

What a practitioner runs online with ``gpt2``, run here without the hub: a
124M-parameter GPT-2 with *random* weights (``GPT2Config()``, the real
architecture; written once, with the real GPT-2 tokenizer, into
``.cache/rehearsal/gpt2-124m-random``), the real data sets of ``DATA_DIR``
(default ``../shared/data``), and the notebooks' own ``configure`` caps
(``MAX_STEPS``, ``MAX_EXAMPLES``, ``N_SAMPLES``, ``MAX_NEW_TOKENS`` ...) given as
environment variables. The weights are random, so the numbers mean nothing;
what it proves is that every code path of the full profile runs: the model's
size, the real files, the long texts, the devices.

Executed notebooks, tables, figures and checkpoints go to a scratch folder
(``.cache/rehearsal/<cpu|gpu>/``), never over the committed ones; each sprint's
checkpoints are deleted when the sprint is done (about 6 GB at most on disk). It stops at
the first notebook that fails (exit status 1) and writes a report with the
time of each notebook (``report.md``, ``report.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from gpt2ft.core.paths import cache_dir, repo_root
from gpt2ft.tools.notebooks import execute, notebook_sources

# The caps, as environment variables the notebooks' parameters cells read through
# settings.configure. CPU: each training cell does a step or two on a few rows; the
# GPU caps are sized for minutes per sprint on one card.
CAPS = {
    "cpu": dict(MAX_STEPS="1", MAX_EXAMPLES="16", EPOCHS="1", BATCH_SIZE="2", N_SAMPLES="1",
                N_EVAL="2", MAX_NEW_TOKENS="4", MAX_BATCH_TOKENS="256", MAX_LENGTH="128",
                EVAL_EVERY="1", SAVE_EVERY="1"),
    "gpu": dict(MAX_STEPS="60", MAX_EXAMPLES="2000", EPOCHS="1", N_SAMPLES="8", N_EVAL="32",
                MAX_NEW_TOKENS="64", COMPILE="1", EVAL_EVERY="20", SAVE_EVERY="30"),
}


def random_gpt2(folder: Path) -> Path:
    """GPT-2 small's architecture with random weights, saved once beside the real tokenizer."""
    if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file():
        return folder
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from gpt2ft.session import loading
    torch.manual_seed(0)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    GPT2LMHeadModel(GPT2Config()).save_pretrained(tmp)
    loading.bundled_tokenizer().save_pretrained(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)  # complete or absent: a killed first run leaves no half model
    return folder


def environment(kind: str, model: Path, data_dir: Path, out: Path) -> dict[str, str]:
    env = dict(os.environ, PROFILE="full", MODEL=str(model), DATA_DIR=str(data_dir),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               RESULTS_DIR=str(out / "results"), RUNS_DIR=str(out / "runs"),
               GPT2FT_COMMAND=f"make rehearse{'-gpu' if kind == 'gpu' else ''}",
               **CAPS[kind])
    if kind == "cpu":  # a tensor left on the host fails here as it would on a GPU (gpt2ft.core.devices)
        env["CHECK_DEVICES"] = "1"
    if kind == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # the CPU rehearsal is the CPU path, even on a GPU box
    return env


def sprint_folders(root: Path, wanted: str | None) -> list[Path]:
    folders = sorted(p for p in (root / "sprints").glob("sprint*_*") if p.is_dir())
    if wanted:
        numbers = {int(n) for n in wanted.split(",")}
        folders = [p for p in folders if int(p.name[6:8]) in numbers]
    return folders


def run_sprint(folder: Path, out: Path, timeout: int) -> list[tuple]:
    """Execute one sprint's notebooks in order; stop at its first failure."""
    rows = []
    for source in notebook_sources(folder):
        target = out / "notebooks" / folder.name / source.with_suffix(".ipynb").name
        t0 = time.perf_counter()
        try:
            execute(source, target, timeout)
        except Exception as err:  # nbclient's CellExecutionError names the cell and the error
            rows.append((folder.name, source.stem, time.perf_counter() - t0, "FAILED"))
            print(f"-- {folder.name}/{source.name}: FAILED after {rows[-1][2]:.0f} s\n{err}", flush=True)
            break
        rows.append((folder.name, source.stem, time.perf_counter() - t0, "ok"))
        print(f"-- {folder.name}/{source.name}: {rows[-1][2]:.1f} s", flush=True)
    # A sprint's checkpoints (1.5 GB each for 124M with its optimizer state) are of no use to
    # the next sprint: one sprint's runs (about 6 GB at most) per job are on disk at a time.
    shutil.rmtree(out / "runs" / folder.name.split("_")[0], ignore_errors=True)
    return rows


def rehearse(kind: str, data_dir: Path, wanted: str | None, timeout: int, jobs: int = 1) -> int:
    root = repo_root()
    out = cache_dir("rehearsal", kind)
    for sub in ("results", "runs", "notebooks"):
        shutil.rmtree(out / sub, ignore_errors=True)  # every rehearsal starts from nothing
    model = random_gpt2(cache_dir("rehearsal") / "gpt2-124m-random")
    os.environ.update(environment(kind, model, data_dir, out))  # the kernels inherit it
    folders, started = sprint_folders(root, wanted), time.perf_counter()
    print(f"== rehearsal ({kind}): PROFILE=full MODEL={model} DATA_DIR={data_dir}\n   caps: "
          + " ".join(f"{k}={v}" for k, v in CAPS[kind].items())
          + (f"\n   {min(jobs, len(folders))} sprints at a time" if jobs > 1 else ""), flush=True)
    if jobs > 1:  # sprints are independent (own results and runs folders): one process each
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            per_sprint = list(pool.map(run_sprint, folders, [out] * len(folders), [timeout] * len(folders)))
    else:
        per_sprint = []
        for folder in folders:
            per_sprint.append(run_sprint(folder, out, timeout))
            if per_sprint[-1] and per_sprint[-1][-1][3] == "FAILED":
                break  # one at a time: stop at the first failure
    rows = [row for sprint_rows in per_sprint for row in sprint_rows]
    total = time.perf_counter() - started
    write_report(out, kind, rows, total)
    failed = [f"{s}/{n}" for s, n, _, r in rows if r == "FAILED"]
    if failed:
        print(f"== rehearsal FAILED at {', '.join(failed)}; report {out / 'report.md'}")
        return 1
    print(f"== rehearsal passed: {len(rows)} notebooks in {total:.0f} s; report {out / 'report.md'}")
    return 0


def write_report(out: Path, kind: str, rows: list, total: float) -> None:
    lines = [f"# Rehearsal ({kind}): every notebook at PROFILE=full, capped", "",
             f"Caps: `{' '.join(f'{k}={v}' for k, v in CAPS[kind].items())}`; model: GPT-2 124M, "
             "random weights; data: DATA_DIR. Numbers in these notebooks mean nothing (random "
             "weights); the rehearsal shows that every full-profile code path runs.", "",
             "| sprint | notebook | seconds | result |", "|---|---|---:|---|"]
    lines += [f"| {s} | {n} | {t:.1f} | {r} |" for s, n, t, r in rows]
    lines += ["", f"Total: {total:.0f} s."]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    (out / "report.json").write_text(json.dumps(
        {"kind": kind, "caps": CAPS[kind], "total_s": round(total, 1),
         "notebooks": [dict(sprint=s, notebook=n, seconds=round(t, 1), result=r)
                       for s, n, t, r in rows]}, indent=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu", action="store_true", help="larger caps, bf16, compiled (needs CUDA)")
    parser.add_argument("--sprints", help="e.g. 12,13 (default: all)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="the real data sets (default: DATA_DIR, else ../shared/data)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--jobs", type=int, default=1,
                        help="sprints run at a time, each in its own process (a GPU box with cores, "
                             "memory and ~6 GB of disk per job; each sprint stops at its first failure)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be 1 or more (sprints run at a time), not {args.jobs}")
    data_dir = (args.data_dir or Path(os.environ.get("DATA_DIR") or repo_root().parent / "shared" / "data"))
    if not data_dir.is_dir():
        print(f"SKIPPED: the rehearsal needs the real data sets, and {data_dir.resolve()} is not a "
              "folder. Set DATA_DIR (or --data-dir) to the folder holding sst2/, imdb/, ...")
        return 0
    if args.gpu:
        import torch
        if not torch.cuda.is_available():
            print("The GPU rehearsal needs CUDA; none is visible. Run `make rehearse` on a CPU.")
            return 2
    return rehearse("gpu" if args.gpu else "cpu", data_dir.resolve(), args.sprints, args.timeout,
                    args.jobs)


if __name__ == "__main__":
    sys.exit(main())

"""The small profile's time budget: every sprint at ``PROFILE=small``, timed notebook by notebook.

    python bench/small_budget.py                     # runs all four sprints (about 40 min on 2 idle cores)
    python bench/small_budget.py --sprints 12 13     # some of them
    python bench/small_budget.py --logs LOG...       # report from saved runner output instead

Issue 19's budget: the whole small run of all notebooks in at most 60 minutes on
2 idle cores, no notebook over 10 minutes. Each sprint runs through the runner
(``gpt2ft run sprintNN``, which rewrites the committed notebooks in place: the
same seeded outputs) with an empty ``RUNS_DIR`` in a temporary folder, so every
training run trains (a finished run would otherwise be loaded, and the time would
measure the loading). Prints the table (the runner's per-notebook seconds, each
sprint's wall time, the total against the budget) and writes
``results/bench/small_budget.md``. Measure on an idle machine: another job on the
second core doubles the numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
BUDGET_TOTAL_S, BUDGET_NOTEBOOK_S = 60 * 60, 10 * 60
LINE = re.compile(r"^-- (\S+\.py) \.\.\. ([\d.]+) s -> sprints/(sprint\d+)_")


def run_sprint(number: str, runs_dir: Path) -> tuple[str, float]:
    """The runner's output for one sprint at small, and its wall time."""
    env = dict(os.environ, PROFILE="small", HF_HUB_OFFLINE="1", RUNS_DIR=str(runs_dir),
               GPT2FT_COMMAND=f"make sprint{number} PROFILE=small")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gpt2ft.tools.cli", "run", f"sprint{number}"], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"sprint{number} failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout, wall


def parse(output: str) -> list[tuple[str, str, float]]:
    """(sprint, notebook, seconds) for each ``-- NN_x.py ... 12.3 s -> ...`` line of the runner."""
    return [(m[3], m[1], float(m[2])) for m in map(LINE.match, output.splitlines()) if m]


def report(rows: list[tuple[str, str, float]], walls: dict[str, float], source: str, how: str = "") -> str:
    total = sum(walls.values()) if walls else sum(s for *_, s in rows)
    worst = max(rows, key=lambda r: r[2])
    lines = ["# Small profile: time per notebook (issue 19's budget)", "",
             f"- measured by: `{source}`",
             f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
             f"torch {torch.__version__} on {torch.get_num_threads()} threads",
             f"- budget: all notebooks <= {BUDGET_TOTAL_S // 60} min, each <= {BUDGET_NOTEBOOK_S // 60} min",
             "", "| sprint | notebook | seconds |", "|:--|:--|--:|"]
    lines += [f"| {s} | {n} | {t:.1f} |" for s, n, t in rows]
    lines += ["", "| sprint | notebooks | sum of notebooks (s) | wall (s) |", "|:--|--:|--:|--:|"]
    for sprint in dict.fromkeys(s for s, *_ in rows):
        mine = [t for s, _, t in rows if s == sprint]
        lines.append(f"| {sprint} | {len(mine)} | {sum(mine):.0f} | {walls.get(sprint, float('nan')):.0f} |")
    lines += ["", f"**Total {total / 60:.1f} min for {len(rows)} notebooks "
              f"({total / BUDGET_TOTAL_S:.2f} of the budget); longest {worst[0]} {worst[1]} at "
              f"{worst[2] / 60:.1f} min ({worst[2] / BUDGET_NOTEBOOK_S:.2f} of its limit).**"]
    lines += ["", how] if how else []
    return "\n".join(lines) + "\n"


def shown(path: Path) -> str:
    """A log's path relative to the repository (never this machine's absolute path)."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sprints", nargs="+", default=["10", "11", "12", "13"])
    parser.add_argument("--logs", nargs="+", type=Path, help="the runner's saved output, one file per sprint")
    parser.add_argument("--walls", nargs="+", type=float, help="with --logs: each sprint's wall seconds")
    args = parser.parse_args(argv)
    rows, walls = [], {}
    if args.logs:
        for i, log in enumerate(args.logs):
            found = parse(log.read_text())
            rows += found
            if args.walls and found:
                walls[found[0][0]] = args.walls[i]
        how = ("The logs are the runner's output of `make sprintNN PROFILE=small`, the sprints run one "
               "after another from an empty `runs/` (every run trained, nothing loaded) on otherwise idle "
               "cores; the walls are GNU `time -v`'s for each `make`.")
        source = ("python bench/small_budget.py --logs " + " ".join(shown(p) for p in args.logs)
                  + (" --walls " + " ".join(f"{w:g}" for w in args.walls) if args.walls else ""))
    else:
        with tempfile.TemporaryDirectory() as runs:
            for number in args.sprints:
                output, wall = run_sprint(number, Path(runs) / number)
                rows += parse(output)
                walls[f"sprint{number}"] = wall
        source = "python bench/small_budget.py --sprints " + " ".join(args.sprints)
        how = "Each sprint ran through the runner with an empty `RUNS_DIR`: every run trained, nothing loaded."
    text = report(rows, walls, source, how)
    print(text)
    out = ROOT / "results" / "bench" / "small_budget.md"
    out.write_text(text)
    print("wrote", out.relative_to(ROOT))


if __name__ == "__main__":
    main()

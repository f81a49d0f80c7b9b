"""Run a sprint's notebooks in order, and check that every pair is in sync.

Used by ``make sprintNN`` and ``make test``::

    python -m gpt2ft.notebooks run sprints/sprint10_generation
    python -m gpt2ft.notebooks check-pairs sprints

``run`` reads each ``NN_name.py`` (the source), executes it as a notebook with
the current Python, and writes the executed notebook: in place for the tiny
profile (the committed ``.ipynb`` outputs come from tiny runs), under
``results/<sprint>/<profile>/notebooks/`` for the others so a GPU run never
overwrites the committed pair.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

from .paths import results_dir
from .settings import choose_profile

KERNEL = "python3"


def notebook_sources(folder: Path) -> list[Path]:
    """The ``NN_name.py`` sources of a sprint (or of every sprint below ``folder``)."""
    return sorted(p for p in folder.rglob("[0-9][0-9]_*.py") if ".ipynb_checkpoints" not in p.parts)


def _cells(notebook) -> list[tuple[str, str, tuple]]:
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ())))
            for c in notebook.cells]


def unsynced_pairs(folder: Path) -> list[str]:
    """Problems found: a missing twin, or a .py and .ipynb whose cells differ."""
    problems = []
    for source in notebook_sources(folder):
        twin = source.with_suffix(".ipynb")
        if not twin.exists():
            problems.append(f"{twin} is missing (run: jupytext --sync {source})")
        elif _cells(jupytext.read(source)) != _cells(jupytext.read(twin)):
            problems.append(f"{source} and {twin.name} differ (run: jupytext --sync {source})")
    for twin in sorted(folder.rglob("[0-9][0-9]_*.ipynb")):
        if ".ipynb_checkpoints" not in twin.parts and not twin.with_suffix(".py").exists():
            problems.append(f"{twin} has no .py source")
    return problems


def execute(source: Path, target: Path, timeout: int) -> float:
    """Execute ``source`` (a percent .py) as a notebook and write it to ``target``."""
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    start = time.perf_counter()
    NotebookClient(notebook, timeout=timeout, kernel_name=KERNEL,
                   resources={"metadata": {"path": str(source.parent)}}).execute()
    notebook.metadata.pop("kernelspec")  # keep the committed pair free of machine details
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".ipynb" and target.with_suffix(".py") == source:
        jupytext.write(notebook, target, fmt="ipynb")
    else:
        nbformat.write(notebook, target)
    return time.perf_counter() - start


PATH_VARIABLES = ("DATA_DIR", "BOOK", "MODEL", "RESULTS_DIR", "RUNS_DIR", "GPT2FT_CACHE")


def absolute_env_paths(env=os.environ) -> None:
    """Make relative paths in the environment absolute.

    Kernels run in the notebook's own folder, so ``DATA_DIR=../shared/data``
    given to ``make`` at the repository root must be resolved here, not there.
    Values that are not existing paths (``MODEL=gpt2``, ``BOOK=the_verdict``)
    are left alone.
    """
    for name in PATH_VARIABLES:
        value = env.get(name)
        if value and not os.path.isabs(value) and os.path.exists(value):
            env[name] = os.path.abspath(value)


def run_sprint(folder: Path, timeout: int) -> None:
    profile, reason = choose_profile(os.environ.get("PROFILE", "auto"))
    sources = notebook_sources(folder)
    if not sources:
        raise SystemExit(f"No NN_name.py notebooks in {folder}.")
    print(f"== {folder.name}: {len(sources)} notebooks, profile {profile} ({reason})", flush=True)
    # Pin the resolved profile so every notebook agrees with what was printed here.
    os.environ["PROFILE"] = profile
    absolute_env_paths()
    for source in sources:
        target = (source.with_suffix(".ipynb") if profile == "tiny"
                  else results_dir(folder.name, profile) / "notebooks" / source.with_suffix(".ipynb").name)
        print(f"-- {source.name} ...", end=" ", flush=True)
        seconds = execute(source, target, timeout)
        print(f"{seconds:.1f} s -> {target}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpt2ft.notebooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute a sprint's notebooks in order")
    run.add_argument("folder", type=Path)
    run.add_argument("--timeout", type=int, default=7200, help="seconds per cell")
    check = commands.add_parser("check-pairs", help="every .py/.ipynb pair in sync")
    check.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        run_sprint(args.folder, args.timeout)
        return 0
    problems = unsynced_pairs(args.folder)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(notebook_sources(args.folder))} notebook pairs checked, {len(problems)} out of sync")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

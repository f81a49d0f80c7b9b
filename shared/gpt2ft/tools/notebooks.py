"""Run a sprint's notebooks in order, and check that every pair is in sync.

Used by ``make sprintNN`` and ``make pairs`` through the ``gpt2ft`` command
(``gpt2ft run sprint10``, ``gpt2ft check-pairs``; see ``gpt2ft.tools.cli``), or directly::

    python -m gpt2ft.tools.notebooks run sprints/sprint10_generation
    python -m gpt2ft.tools.notebooks check-pairs sprints

``run`` reads each ``NN_name.py`` (the source), executes it as a notebook with
the current Python, and writes the executed notebook: in place for the tiny
profile (the committed ``.ipynb`` outputs come from tiny runs), under
``results/<sprint>/<profile>/notebooks/`` for the others so a GPU run never
overwrites the committed pair. Executed notebooks carry no kernelspec, no
per-cell timing metadata and no fresh random cell or widget ids, so rerunning
a notebook changes only what its outputs say.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

from gpt2ft.core.paths import results_dir, results_root
from gpt2ft.session.settings import choose_profile

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


def strip_timing(notebook) -> None:
    """Drop nbclient's per-cell ``execution`` timestamps (``metadata.execution``) in place."""
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def stable_ids(notebook, previous=None, name: str = "") -> None:
    """Cell and widget ids that stay put from one run to the next, in place.

    ``jupytext.read`` gives every cell a random id and ipywidgets gives every
    widget a random model id, so each rerun would rewrite them all. A cell
    keeps the id of the cell with the same type and source in ``previous``
    (the notebook it replaces), else gets one derived from its position and
    source; widget models are renamed in the order they were created.
    """
    known: dict[tuple, list[str]] = {}
    for cell in previous.cells if previous is not None else ():
        if cell.get("id"):
            known.setdefault((cell.cell_type, cell.source), []).append(cell.id)
    used: set[str] = set()
    for index, cell in enumerate(notebook.cells):
        kept = [i for i in known.get((cell.cell_type, cell.source), []) if i not in used]
        derived = hashlib.sha1(f"{index}\n{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:8]
        cell.id = kept[0] if kept else derived
        used.add(cell.id)
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state")
    if not state:
        return
    new = {old: hashlib.md5(f"{name}:widget:{n}".encode()).hexdigest() for n, old in enumerate(state)}

    def rename(value):
        if isinstance(value, str) and value.startswith("IPY_MODEL_") and value[10:] in new:
            return "IPY_MODEL_" + new[value[10:]]
        if isinstance(value, list):
            return [rename(v) for v in value]
        if isinstance(value, dict):
            return {k: rename(v) for k, v in value.items()}
        return value

    notebook.metadata["widgets"][WIDGET_STATE]["state"] = {new[k]: rename(v) for k, v in state.items()}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view and view.get("model_id") in new:
                view["model_id"] = new[view["model_id"]]


def execute(source: Path, target: Path, timeout: int) -> float:
    """Execute ``source`` (a percent .py) as a notebook and write it to ``target``."""
    notebook = jupytext.read(source)
    previous = next((nbformat.read(p, as_version=4) for p in (target, source.with_suffix(".ipynb"))
                     if p.exists()), None)
    notebook.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    start = time.perf_counter()
    NotebookClient(notebook, timeout=timeout, kernel_name=KERNEL, record_timing=False,
                   resources={"metadata": {"path": str(source.parent)}}).execute()
    notebook.metadata.pop("kernelspec")  # keep the committed pair free of machine details
    strip_timing(notebook)  # and free of per-cell timestamps and fresh random ids,
    stable_ids(notebook, previous, name=source.stem)  # so a rerun changes only what the outputs say
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


def parameter_names(source: Path) -> list[str]:
    """The UPPERCASE settings of a notebook's parameters cell."""
    cells = [c for c in jupytext.read(source).cells if "parameters" in c.metadata.get("tags", ())]
    names = re.findall(r"^([A-Z][A-Z0-9_]*)\s*=", cells[0].source, flags=re.M) if cells else []
    return [n for n in names if n != "PROFILE"]


def overrides(sources: list[Path], env=os.environ) -> dict[str, str]:
    """The notebooks' settings that the environment changes (``DATA_DIR=...``, ``EPOCHS=1``)."""
    names = sorted({n for source in sources for n in parameter_names(source)})
    return {n: env[n] for n in names if env.get(n, "") != ""}


def output_place(folder: Path, profile: str, changed: dict[str, str]) -> Path | None:
    """Where executed notebooks go: ``None`` = in place (the committed tiny run), else a folder.

    A run with other settings (``DATA_DIR``, ``MODEL``, ``EPOCHS=1`` ...) never writes
    over the committed notebooks or tables: its results go below
    ``results/custom/<profile>-<hash of the settings>/`` (unless RESULTS_DIR is set),
    its notebooks beside them.
    """
    if profile == "tiny" and not changed:
        return None
    if changed and not os.environ.get("RESULTS_DIR"):
        tag = hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:8]
        root = results_root() / "custom" / f"{profile}-{tag}"
        root.mkdir(parents=True, exist_ok=True)
        (root / "settings.json").write_text(json.dumps(changed, indent=1) + "\n")
        os.environ["RESULTS_DIR"] = str(root)
    return results_dir(folder.name, profile) / "notebooks"


def run_sprint(folder: Path, timeout: int) -> None:
    profile, reason = choose_profile(os.environ.get("PROFILE", "auto"))
    sources = notebook_sources(folder)
    if not sources:
        raise SystemExit(f"No NN_name.py notebooks in {folder}.")
    print(f"== {folder.name}: {len(sources)} notebooks, profile {profile} ({reason})", flush=True)
    # Pin the resolved profile so every notebook agrees with what was printed here.
    os.environ["PROFILE"] = profile
    absolute_env_paths()
    changed = overrides(sources)
    place = output_place(folder, profile, changed)
    if place is not None:
        given = " ".join(f"{k}={v}" for k, v in changed.items()) or "(none)"
        print(f"   settings from the environment: {given}; executed notebooks go to {place}, "
              "never over the committed ones", flush=True)
    for source in sources:
        target = source.with_suffix(".ipynb") if place is None else place / source.with_suffix(".ipynb").name
        print(f"-- {source.name} ...", end=" ", flush=True)
        seconds = execute(source, target, timeout)
        print(f"{seconds:.1f} s -> {target}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpt2ft.tools.notebooks", description=__doc__,
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

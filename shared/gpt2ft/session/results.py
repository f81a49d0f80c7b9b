"""Tables written under ``results/``: CSV for machines, Markdown for readers.

Introduced in ``sprints/sprint10_generation/03_decoding_strategies``.

Every file says which profile made it; a ``tiny`` file is headed as a smoke
run so that nobody quotes its numbers as results, and a ``small`` file as the
real numbers of SmolLM2-135M-Instruct on a CPU (not GPT-2's).

Each file also says what made it: the last commit of its code, the notebook and a hash of every
package module the run had imported (``code``), so ``make stale`` can list the
results made before a later change to that code. No clock time goes into a
metric file: timings and memory (``measured=``) go to a ``<name>.timings``
file of their own, so two seeded runs of the same code write identical files.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
import transformers

from gpt2ft.core.paths import PACKAGE_DIR, repo_root, results_dir, writing
from gpt2ft.core.processes import is_main_process
from gpt2ft.session.settings import Settings

NOTEBOOK_VARIABLE = "GPT2FT_NOTEBOOK"  # set by the runner: the notebook being executed


def code_path(key: str) -> Path:
    """Where a ``code`` entry lives: ``gpt2ft/...`` in the package, anything else in the checkout."""
    return PACKAGE_DIR.parent / key if key.startswith("gpt2ft/") else repo_root() / key


def code_hash(path: Path) -> str:
    """12 hex digits of sha256 over a Python file's code, without its docstrings and comments.

    A percent notebook's markdown cells are comments, so rewording a reading, a docstring or a
    comment leaves the hash (and the results it made) as they were; a change to what runs does not.
    """
    return _hash_of_code(path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=512)
def _hash_of_code(source: str) -> str:
    # Cached by content: every table and figure hashes all ~30 imported modules, and parsing
    # them again each time doubled the cost of a write (0.20 s against 0.11 s).
    try:
        tree = ast.parse(source)
    except SyntaxError:  # not Python: every byte counts
        return hashlib.sha256(source.encode()).hexdigest()[:12]
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.unparse(tree).encode()).hexdigest()[:12]


def code_hashes(modules=None) -> dict[str, str]:
    """``{"gpt2ft/training/loop.py": "1a2b..."}`` for every package module imported so far, plus
    the notebook being run (``sprints/...py``, where the runner named it): the code a result ran."""
    found = {}
    for module in list((modules if modules is not None else sys.modules).values()):
        file = getattr(module, "__file__", None)
        if file and Path(file).suffix == ".py" and Path(file).resolve().is_relative_to(PACKAGE_DIR):
            found[Path(file).resolve().relative_to(PACKAGE_DIR.parent).as_posix()] = code_hash(Path(file))
    notebook = os.environ.get(NOTEBOOK_VARIABLE)
    if notebook and (repo_root() / notebook).is_file():
        found[notebook] = code_hash(repo_root() / notebook)
    return dict(sorted(found.items()))


def commit(code: dict[str, str]) -> str:
    """The last commit that changed any of ``code``'s files (``+changes`` when they differ from
    it), or ``unknown`` outside a git checkout: stable across commits that change other files."""
    files = [str(code_path(key)) for key in code]

    def git(*args):
        return subprocess.run(["git", *args], cwd=repo_root(), capture_output=True, text=True, timeout=30)
    try:
        last = git("log", "-1", "--format=%h", "--abbrev=12", "--", *files)
        if last.returncode or not last.stdout.strip():
            return "unknown"
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", *files).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return last.stdout.strip() + ("+changes" if dirty else "")


def provenance(settings: Settings, command: str | None = None) -> dict:
    """What a reader needs to trust (or re-make) a number: the real data source, the command,
    the last commit of the code that ran, the notebook and that code's hashes (no clock time)."""
    return {
        "profile": settings.profile,
        "smoke_run": settings.is_tiny,
        "label": settings.label,
        "model": settings.model_shown,
        "data": settings.data_source,
        "seed": settings.seed,
        "device": torch.cuda.get_device_name() if settings.device == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "command": command or settings.command,
        "commit": commit(code := code_hashes()),
        "notebook": os.environ.get(NOTEBOOK_VARIABLE, ""),
        "code": code,
    }


def _header(title: str, meta: dict, name: str) -> str:
    lines = [f"# {title}", ""]
    if meta["smoke_run"]:
        lines += ["> **Smoke run (PROFILE=tiny)**: a small randomly initialised GPT-2 on "
                  f"{meta['data']}. These numbers check that the pipeline runs; they are not "
                  "results.", ""]
    elif meta["profile"] == "small":
        lines += [f"> **Small profile (PROFILE=small)**: {meta['label']}. Real numbers from a "
                  "pre-trained model run on a CPU, but that model's, not GPT-2's.", ""]
    lines += [f"- {key}: `{value}`" for key, value in meta.items() if key not in ("smoke_run", "label", "code")]
    lines += [f"- code: {len(meta.get('code', {}))} files hashed in `{name}.json` (`make stale` compares them)"]
    return "\n".join(lines) + "\n\n"


def write_table(table: pd.DataFrame, sprint: str, name: str, settings: Settings, *,
                title: str, command: str | None = None, index: bool = True,
                measured: Sequence[str] = ()) -> Path:
    """Write ``<name>.csv``, ``<name>.md`` and ``<name>.json`` (provenance) and return the .md path.

    ``measured`` names the columns that are timings or memory: they go to
    ``<name>.timings.csv`` and ``.md`` instead (with the table's index), so the metric
    files of two seeded runs are byte-identical. Under ``accelerate launch`` only the
    main process writes (all return the path).
    """
    missing = [c for c in measured if c not in table.columns]
    if missing:
        raise ValueError(f"write_table({name!r}, measured=...): no column {missing} in the table; it has "
                         f"{list(table.columns)}. Fix: name the timing/memory columns as the table spells them")
    folder = results_dir(sprint, settings.profile)
    markdown = folder / f"{name}.md"
    if not is_main_process():
        return markdown
    meta = provenance(settings, command)
    metrics, timings = table.drop(columns=list(measured)), table[list(measured)]
    header = _header(title, meta, name)
    with writing(folder, f"the table {name}", "the other result files"):
        metrics.to_csv(folder / f"{name}.csv", index=index)
        (folder / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
        # as objects, so a row mixing floats and ints keeps 7081920 from printing as 7.08192e+06
        markdown.write_text(header + metrics.astype(object).to_markdown(index=index) + "\n")
        if measured:
            timings.to_csv(folder / f"{name}.timings.csv", index=index)
            (folder / f"{name}.timings.md").write_text(
                f"# {title}: timings and memory\n\n> Measured on `{meta['device']}` by `{meta['command']}`; "
                "these vary from run to run and machine to machine (the metrics are in "
                f"`{name}.md`).\n\n" + timings.astype(object).to_markdown(index=index) + "\n")
    return markdown


def save_figure(fig, sprint: str, name: str, settings: Settings) -> Path:
    """Write ``<name>.png`` and its provenance, ``<name>.png.json`` (what made it, for ``make stale``)."""
    path = results_dir(sprint, settings.profile) / f"{name}.png"
    if is_main_process():  # one writer under `accelerate launch`
        with writing(path.parent, f"the figure {path.name}", "the other result files"):
            # No date in the file, so the same figure is the same bytes.
            fig.savefig(path, dpi=120, bbox_inches="tight", metadata={"Software": None})
            (path.parent / f"{path.name}.json").write_text(json.dumps(provenance(settings), indent=2) + "\n")
    return path


def show_markdown(text: str) -> None:
    """Render Markdown in a notebook; print it when the notebook runs as a script."""
    from IPython import get_ipython
    from IPython.display import Markdown, display

    if get_ipython() is not None:
        display(Markdown(text))
    else:
        print(text)

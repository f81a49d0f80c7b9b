"""Tables written under ``results/``: CSV for machines, Markdown for readers.

Introduced in ``sprints/sprint10_generation/03_decoding_strategies``.

Every file says which profile made it; a ``tiny`` file is headed as a smoke
run so that nobody quotes its numbers as results, and a ``small`` file as the
real numbers of SmolLM2-135M-Instruct on a CPU (not GPT-2's).
"""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch
import transformers

from gpt2ft.core.paths import results_dir, writing
from gpt2ft.core.processes import is_main_process
from gpt2ft.session.settings import Settings


def provenance(settings: Settings, command: str | None = None) -> dict:
    """What a reader needs to trust (or re-make) a number: the real data source, the command."""
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
        "written": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command or settings.command,
    }


def _header(title: str, meta: dict) -> str:
    lines = [f"# {title}", ""]
    if meta["smoke_run"]:
        lines += ["> **Smoke run (PROFILE=tiny)**: a small randomly initialised GPT-2 on "
                  f"{meta['data']}. These numbers check that the pipeline runs; they are not "
                  "results.", ""]
    elif meta["profile"] == "small":
        lines += [f"> **Small profile (PROFILE=small)**: {meta['label']}. Real numbers from a "
                  "pre-trained model run on a CPU, but that model's, not GPT-2's.", ""]
    lines += [f"- {key}: `{value}`" for key, value in meta.items() if key not in ("smoke_run", "label")]
    return "\n".join(lines) + "\n\n"


def write_table(table: pd.DataFrame, sprint: str, name: str, settings: Settings, *,
                title: str, command: str | None = None, index: bool = True) -> Path:
    """Write ``<name>.csv``, ``<name>.md`` and ``<name>.json`` (provenance) and return the .md path.

    Under ``accelerate launch`` only the main process writes (all return the path).
    """
    folder = results_dir(sprint, settings.profile)
    markdown = folder / f"{name}.md"
    if not is_main_process():
        return markdown
    meta = provenance(settings, command)
    with writing(folder, f"the table {name}", "the other result files"):
        table.to_csv(folder / f"{name}.csv", index=index)
        (folder / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
        markdown.write_text(_header(title, meta) + table.to_markdown(index=index) + "\n")
    return markdown


def save_figure(fig, sprint: str, name: str, settings: Settings) -> Path:
    path = results_dir(sprint, settings.profile) / f"{name}.png"
    if is_main_process():  # one writer under `accelerate launch`
        with writing(path.parent, f"the figure {path.name}", "the other result files"):
            fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def show_markdown(text: str) -> None:
    """Render Markdown in a notebook; print it when the notebook runs as a script."""
    from IPython import get_ipython
    from IPython.display import Markdown, display

    if get_ipython() is not None:
        display(Markdown(text))
    else:
        print(text)

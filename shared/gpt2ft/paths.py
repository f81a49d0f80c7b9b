"""Where things live: the repository, results, caches and run folders.

Introduced in ``sprints/sprint10_generation/01_load_and_inspect``.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SAMPLES_DIR = PACKAGE_DIR / "samples"


def repo_root() -> Path:
    """The checkout this package is installed from (editable install), else the cwd.

    The package lives in ``<repo>/shared/gpt2ft``; a non-editable install has no
    ``sprints/`` beside it, so outputs then go below the current folder.
    """
    candidate = PACKAGE_DIR.parents[1]
    if (candidate / "sprints").is_dir():
        return candidate
    return Path.cwd()


def results_dir(sprint: str, profile: str) -> Path:
    """``results/<sprint>/<profile>/`` (override the root with RESULTS_DIR)."""
    root = Path(os.environ.get("RESULTS_DIR") or repo_root() / "results")
    path = root / sprint / profile
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(*parts: str) -> Path:
    """A folder for derived files that can be rebuilt (GPT2FT_CACHE, else <repo>/.cache)."""
    root = Path(os.environ.get("GPT2FT_CACHE") or repo_root() / ".cache")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir(*parts: str) -> Path:
    """Checkpoints and training logs (RUNS_DIR, else <repo>/runs); never committed."""
    root = Path(os.environ.get("RUNS_DIR") or repo_root() / "runs")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path

"""Where things live: the repository, results, caches and run folders.

Introduced in ``sprints/sprint10_generation/01_load_and_inspect``.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # gpt2ft/, above core/
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


class OutputError(OSError):
    """A file could not be written (disk full, read-only, no permission); says where and what is kept."""


_WHY = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
        errno.EROFS: "the file system is read-only", errno.EACCES: "permission is denied",
        errno.EPERM: "permission is denied"}


@contextlib.contextmanager
def writing(folder: str | os.PathLike, what: str, kept: str):
    """Turn a failed write into an :class:`OutputError` naming the folder, what was kept and the fix.

    ``what`` is the thing being written ("checkpoint step-000040"); ``kept`` says
    what the failure leaves intact ("the earlier checkpoints in this folder").
    """
    try:
        yield
    except OSError as err:
        if isinstance(err, OutputError) or err.errno not in _WHY:
            raise
        raise OutputError(
            err.errno, f"Could not write {what} in {folder}: {_WHY[err.errno]} ({err.strerror}). "
            f"Nothing was half-written; {kept} are kept. Fix: free space or make {folder} "
            "writable (or point RUNS_DIR / RESULTS_DIR at another disk), then run again.") from err


def results_root() -> Path:
    """``results/``, or RESULTS_DIR where it is set."""
    return Path(os.environ.get("RESULTS_DIR") or repo_root() / "results")


def results_dir(sprint: str, profile: str) -> Path:
    """``results/<sprint>/<profile>/`` (override the root with RESULTS_DIR)."""
    path = results_root() / sprint / profile
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

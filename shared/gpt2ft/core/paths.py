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


OUTPUT_ROOTS = ("RESULTS_DIR", "RUNS_DIR")  # the output roots a user may set


def check_output_folder(path: str | os.PathLike, setting: str | None = None) -> None:
    """Refuse, before any work, an output folder that is not a folder or cannot be written.

    ``path`` need not exist yet: its nearest existing parent must then be a
    writable folder. ``setting`` (``RESULTS_DIR``, ``RUNS_DIR``) is the
    environment variable it came from, named in the message with the fix.
    """
    path = Path(path)
    named = f"{setting}={path}" if setting else str(path)
    fix = (f"point {setting} at a folder you can write, or unset it" if setting
           else "move that file away, or point RESULTS_DIR / RUNS_DIR at another folder")
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "is a file" if probe == path else f"lies below {probe}, which is a file"
        raise OutputError(errno.ENOTDIR, f"The output folder {named} {where}, not a folder: nothing can be "
                                         f"written there. Nothing was written. Fix: {fix}.")
    if probe.is_dir() and not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(errno.EACCES, f"The output folder {named} cannot be written: permission is denied "
                                        f"on {probe}. Nothing was written. Fix: {fix}.")


def check_output_roots(env=None) -> None:
    """Check RESULTS_DIR and RUNS_DIR where ``env`` (default: the environment) sets them."""
    env = os.environ if env is None else env
    for setting in OUTPUT_ROOTS:
        if env.get(setting):
            check_output_folder(env[setting], setting)


def _output_root(setting: str, default: Path) -> Path:
    value = os.environ.get(setting)
    root = Path(value) if value else default
    check_output_folder(root, setting if value else None)
    return root


def _make_folder(path: Path, setting: str) -> Path:
    """``path`` created (with its parents), or an OutputError naming it when a file is in the way."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        check_output_folder(path, setting if os.environ.get(setting) else None)
        raise
    return path


def shown(path: str | os.PathLike, base: str | os.PathLike | None = None) -> str:
    """``path`` as a reader should see it: relative to ``base`` (default: the repository) when
    it lies below it (``results/custom/full-1a2b3c4d/sprint12/full/evaluation.md``), else as it is."""
    resolved = Path(path).resolve()
    root = Path(base if base is not None else repo_root()).resolve()
    return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(path)


def results_root() -> Path:
    """``results/``, or RESULTS_DIR where it is set; refused when it is a file or cannot be written."""
    return _output_root("RESULTS_DIR", repo_root() / "results")


def results_dir(sprint: str, profile: str) -> Path:
    """``results/<sprint>/<profile>/`` (override the root with RESULTS_DIR)."""
    return _make_folder(results_root() / sprint / profile, "RESULTS_DIR")


def cache_dir(*parts: str) -> Path:
    """A folder for derived files that can be rebuilt (GPT2FT_CACHE, else <repo>/.cache)."""
    root = Path(os.environ.get("GPT2FT_CACHE") or repo_root() / ".cache")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


# The small profile's model: SmolLM2-135M-Instruct, fetched once by ``gpt2ft fetch-model``
# (gpt2ft.tools.fetch) into this folder below the cache, read by the small profile's settings.
SMALL_MODEL_FOLDER = "smollm2-135m-instruct"


def small_model_dir() -> Path:
    """``.cache/models/smollm2-135m-instruct`` (the cache root is GPT2FT_CACHE where set)."""
    return cache_dir("models") / SMALL_MODEL_FOLDER


def runs_dir(*parts: str) -> Path:
    """Checkpoints and training logs (RUNS_DIR, else <repo>/runs); never committed.

    A RUNS_DIR (or a folder below it) that is a file, or cannot be written, is
    refused with an :class:`OutputError` naming it and the fix.
    """
    return _make_folder(_output_root("RUNS_DIR", repo_root() / "runs").joinpath(*parts), "RUNS_DIR")

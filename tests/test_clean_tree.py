"""Running a sprint leaves ``git status`` clean: a fresh clone, one notebook at tiny, nothing changed.

The clone is of the committed repository (``git clone`` of this checkout: what a learner
gets); the run is the learner's first command, ``gpt2ft run sprint10 --only 01`` at
``PROFILE=tiny``, with the clone's own package and its default output places (no
``RESULTS_DIR``/``RUNS_DIR``: a tiny run's tables, executed notebooks, caches and runs must go
to folders git ignores, and no committed file may change).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.mark.slow  # about 30 s: a kernel, the tiny model, one notebook
@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="needs git and a git checkout to clone")
def test_a_tiny_run_in_a_fresh_clone_leaves_git_status_clean(tmp_path):
    clone = tmp_path / "repo"
    git("clone", "--quiet", str(ROOT), str(clone), cwd=tmp_path)
    assert git("status", "--porcelain", "--untracked-files=all", cwd=clone) == ""
    env = {k: v for k, v in os.environ.items()
           if k not in {"RESULTS_DIR", "RUNS_DIR", "PYTHONPATH", "GPT2FT_COMMAND"}}
    env.update(PROFILE="tiny", HF_HUB_OFFLINE="1", PYTHONPATH=str(clone / "shared"),
               TOKENIZERS_PARALLELISM="false")
    done = subprocess.run([sys.executable, "-m", "gpt2ft.tools.cli", "run", "sprint10", "--only", "01"],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    executed = clone / "results" / "sprint10" / "tiny" / "notebooks" / "01_load_and_inspect.ipynb"
    assert executed.exists(), f"the tiny run wrote no executed notebook where expected:\n{done.stdout}"
    status = git("status", "--porcelain", "--untracked-files=all", cwd=clone)
    assert status == "", f"a tiny run left the clone changed (fix the runner or .gitignore):\n{status}"

"""The ``gpt2ft`` command: what the Makefile runs, for users without make.

    gpt2ft run sprint12          # = make sprint12: run the sprint's notebooks in order
    gpt2ft run 12 --timeout 600  # the same; a folder path works too
    gpt2ft check-pairs           # = make pairs: every .py/.ipynb pair in sync (folder: sprints)
    gpt2ft lab                   # = make lab: JupyterLab on the repository, .py sources open as notebooks
    gpt2ft book                  # = make book: the static site of the notebooks, cards and notes

Installed by ``pip install -e .`` (``[project.scripts]`` in pyproject.toml).
The environment variables (PROFILE, MODEL, DATA_DIR, SEED, ...) work as with make.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from gpt2ft.core.paths import repo_root


def project_root() -> Path:
    """The checkout to work in: the current folder when it holds ``sprints/``, else the package's."""
    cwd = Path.cwd()
    return cwd if (cwd / "sprints").is_dir() else repo_root()


def sprint_folder(name: str, root: Path | None = None) -> Path:
    """``sprint12``, ``12`` or a folder path -> the sprint's folder (``sprints/sprint12_book``)."""
    path = Path(name)
    if path.is_dir():
        return path
    match = re.fullmatch(r"(?:sprint)?(\d+)", name.strip().rstrip("/"))
    root = project_root() if root is None else root
    if match:
        found = sorted((root / "sprints").glob(f"sprint{int(match.group(1)):02d}_*"))
        if found:
            return found[0]
    known = ", ".join(p.name for p in sorted((root / "sprints").glob("sprint*_*")) if p.is_dir())
    raise SystemExit(f"No sprint folder for {name!r} (known: {known or 'none'}).")


def lab_environment(root: Path, env=os.environ) -> dict:
    """The environment ``gpt2ft lab`` starts JupyterLab with.

    ``JUPYTER_CONFIG_PATH`` gains the repository's ``.jupyter`` folder, whose
    ``labconfig/default_setting_overrides.json`` makes a ``.py`` source open as
    a notebook (Jupytext Notebook viewer) and starts the kernel without asking.
    They are defaults: a user's own Lab settings still win.
    """
    env = dict(env)
    config = str(root / ".jupyter")
    paths = [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([config, *[p for p in paths if p != config]])
    return env


def lab_command(root: Path, *extra: str) -> list[str]:
    """``python -m jupyterlab`` on the repository, with this Python as the kernel."""
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI run as root
    return [*command, *extra]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpt2ft", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute a sprint's notebooks in order (= make sprintNN)")
    run.add_argument("sprint", help="sprint12, 12 or a folder path")
    run.add_argument("--timeout", type=int, default=7200, help="seconds per cell")
    check = commands.add_parser("check-pairs", help="every .py/.ipynb pair in sync (= make pairs)")
    check.add_argument("folder", nargs="?", type=Path, default=None, help="default: sprints")
    lab = commands.add_parser("lab", help="start JupyterLab on the repository (= make lab)")
    lab.add_argument("lab_args", nargs="*", help="passed on to jupyter lab (e.g. --no-browser --port=8890)")
    book = commands.add_parser("book", help="build the static book of the notebooks (= make book)")
    book.add_argument("--out", type=Path, default=None, help="default: .cache/book")
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command != "lab":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")

    if args.command == "run":
        from gpt2ft.tools import notebooks

        notebooks.run_sprint(sprint_folder(args.sprint), args.timeout)
        return 0
    if args.command == "check-pairs":
        from gpt2ft.tools import notebooks

        folder = args.folder or (Path("sprints") if Path("sprints").is_dir() else project_root() / "sprints")
        return notebooks.main(["check-pairs", str(folder)])
    if args.command == "lab":
        root = project_root()
        command = lab_command(root, *args.lab_args, *unknown)
        print("== JupyterLab on", root, "(kernel:", sys.executable + "); open the http://127.0.0.1 URL it prints",
              flush=True)
        os.execve(command[0], command, lab_environment(root))
    from gpt2ft.tools import book as book_module

    return book_module.main([] if args.out is None else ["--out", str(args.out)])


if __name__ == "__main__":
    raise SystemExit(main())

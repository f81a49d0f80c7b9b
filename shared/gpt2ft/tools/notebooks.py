"""Run a sprint's notebooks in order, and check that every pair is in sync.

Used by ``make sprintNN`` and ``make pairs`` through the ``gpt2ft`` command
(``gpt2ft run sprint10``, ``gpt2ft check-pairs``; see ``gpt2ft.tools.cli``), or directly::

    python -m gpt2ft.tools.notebooks run sprints/sprint10_generation
    python -m gpt2ft.tools.notebooks check-pairs sprints

``run`` reads each ``NN_name.py`` (the source), executes it as a notebook with
the current Python, and writes the executed notebook: in place for the tiny
profile (the committed ``.ipynb`` outputs come from tiny runs), under
``results/<sprint>/<profile>/notebooks/`` for the others (``results/sprint10/full/notebooks/``,
beside the sprint's tables; ``results/custom/<profile>-<hash>/<sprint>/<profile>/notebooks/``
for a run with settings of its own) so a GPU run never overwrites the committed pair.

Before any notebook runs, the settings given in the environment are checked against
the notebooks' parameters cells (:func:`refused_settings`). A notebook that fails
prints its own error (type and message, no traceback) and where the whole traceback
and the notebook as far as it ran were written; Ctrl-C stops with one line saying
which notebook stopped, its last checkpoint, and that the same command resumes; the
kernel's TCP-transport warning is kept off the terminal.

Executed notebooks carry JupyterLab's own kernelspec for the project's kernel (so that
opening one does not mark it unsaved), no per-cell timing metadata and no fresh
random cell or widget ids, so rerunning a notebook changes only what its outputs say.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import atexit
import hashlib
import html
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from gpt2ft.core import paths
from gpt2ft.core.paths import results_dir, results_root, runs_dir
from gpt2ft.session import settings as session_settings
from gpt2ft.session.settings import choose_profile
from gpt2ft.tools.cli import existing_folder, numbers_list, timeout_seconds

KERNEL = "python3"
# What JupyterLab writes for that kernel: a notebook without it is marked unsaved as soon as it opens.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": KERNEL}
# The profile whose executed notebooks are committed (what JupyterLab and the book show): a real
# pre-trained model on a CPU. A tiny run is a smoke test; its notebooks go beside its tables.
COMMITTED_PROFILE = "small"


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


def code_digest(notebook) -> str:
    """A hash of the notebook's code cells (their sources, in order): what an execution ran."""
    code = "\n\x00".join(c.source.strip() for c in notebook.cells if c.cell_type == "code")
    return hashlib.sha256(code.encode()).hexdigest()[:16]


def executed_code_problems(folder: Path) -> list[str]:
    """Committed notebooks whose outputs came from other code than their cells show: the digest
    the runner stamped at execution (``metadata.gpt2ft.executed_code``) differs from the cells'
    (a .py edited and synced with ``jupytext --sync``, which keeps the old outputs)."""
    problems = []
    for source in notebook_sources(folder):
        twin = source.with_suffix(".ipynb")
        if not twin.exists():
            continue
        notebook = jupytext.read(twin)
        stamped = notebook.metadata.get("gpt2ft", {}).get("executed_code")
        if stamped != code_digest(notebook):
            what = "was never executed by the runner" if stamped is None else "shows outputs of older code"
            problems.append(f"{twin} {what} (run: make {sprint_name(source.parent)} PROFILE={COMMITTED_PROFILE} "
                            f"ONLY={source.name[:2]})")
    return problems


def strip_timing(notebook) -> None:
    """Drop nbclient's per-cell ``execution`` timestamps (``metadata.execution``) in place."""
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def bar_text(state: dict, model_id: str) -> str | None:
    """The text of a finished tqdm bar (an HBox of HTML, FloatProgress, HTML) from the saved
    widget state, as tqdm prints it: ``training: 100%|##########| 60/60 [...]``; else None."""
    box = state.get(model_id, {})
    children = [c.removeprefix("IPY_MODEL_") for c in box.get("state", {}).get("children", [])]
    parts = [state.get(c, {}) for c in children]
    if box.get("model_name") != "HBoxModel" or [p.get("model_name") for p in parts] != [
            "HTMLModel", "FloatProgressModel", "HTMLModel"]:
        return None
    left, bar, right = (p.get("state", {}) for p in parts)
    filled = round(10 * bar.get("value", 0) / bar["max"]) if bar.get("max") else 0

    def plain_html(text: str) -> str:
        return html.unescape(text).replace("\u2007", " ")
    drawn = "█" * filled + " " * (10 - filled)
    return f"{plain_html(left.get('value', ''))}|{drawn}|{plain_html(right.get('value', ''))}"


def final_bar_texts(notebook) -> None:
    """Give each saved progress bar's plain-text fallback its final text, in place.

    A widget output carries tqdm's text from when the bar was created (``0%``); a client
    that shows that fallback instead of the widget (JupyterLab once a kernel starts, a
    static viewer) would show a finished run at 0 %.
    """
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text = bar_text(state, data.get(WIDGET_VIEW, {}).get("model_id", "")) if WIDGET_VIEW in data else None
            if text is not None:
                data["text/plain"] = text


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


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# What ipykernel logs at every start when it listens on TCP on 127.0.0.1 (jupyter_client's
# default transport): one line on the kernel's own stderr, dropped by KernelStderr.
TCP_WARNING = "Kernel is running over TCP without encryption"


def plain(text: str) -> str:
    """``text`` without ANSI colour codes (IPython colours its tracebacks)."""
    return ANSI.sub("", text)


class NotebookFailed(Exception):
    """A notebook stopped on an error: ``line`` is its own error, ``saved`` where the rest went."""

    def __init__(self, source: Path, line: str, saved: list[Path], seconds: float):
        super().__init__(line)
        self.source, self.line, self.saved, self.seconds = source, line, saved, seconds


class NotebookInterrupted(Exception):
    """The notebook was stopped by Ctrl-C (SIGINT) or SIGTERM; its kernel was shut down."""

    def __init__(self, source: Path, signum: int, seconds: float):
        super().__init__(f"{source.name} stopped by {signal.Signals(signum).name}")
        self.source, self.signum, self.seconds = source, signum, seconds


class KernelStderr:
    """The kernel process's own stderr (its log; the cells' output goes into the notebook),
    passed on line by line without ipykernel's TCP-transport warning, and silenced once the
    kernel is being stopped on purpose (a zmq traceback from its shutdown says nothing)."""

    def __init__(self, sink=None):
        self.sink = sink if sink is not None else sys.stderr
        self.quiet = False
        read, self.fd = os.pipe()
        self._thread = threading.Thread(target=self._pump, args=(read,), daemon=True)
        self._thread.start()

    def _pump(self, read: int) -> None:
        with os.fdopen(read, "r", errors="replace") as lines:
            for line in lines:
                if not self.quiet and TCP_WARNING not in line:
                    self.sink.write(line)
                    self.sink.flush()

    def close(self) -> None:
        """Close our end; the pump ends once the kernel (the other writer) has exited."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            self._thread.join(timeout=5)


class _Client(NotebookClient):
    """nbclient's client, stopping on SIGINT/SIGTERM in a way the runner can tell apart.

    nbclient shuts the kernel down on a signal and then fails with ``DeadKernelError`` (and an
    ``AssertionError`` from cleaning up twice). This one records the signal, quiets the kernel's
    stderr first, and cleans up once, so the runner can say in one line what happened.
    """

    def __init__(self, *args, on_stop=None, **kwargs):
        super().__init__(*args, on_notebook_start=self._take_signals, **kwargs)
        self.stopped_by: int | None = None
        self._on_stop = on_stop

    def _take_signals(self, **_) -> None:
        loop = asyncio.get_event_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:  # replaces nbclient's own handler (installed just before the kernel started)
                loop.add_signal_handler(signum, self._stop, signum)
            except (RuntimeError, NotImplementedError, ValueError):  # not the main thread; Windows
                pass

    def _stop(self, signum: int) -> None:
        if self.stopped_by is not None:
            return
        self.stopped_by = signum
        if self._on_stop:
            self._on_stop()
        atexit.unregister(self._cleanup_kernel)
        self._async_cleanup_kernel_future = asyncio.ensure_future(self._async_cleanup_kernel())

    async def _async_cleanup_kernel(self) -> None:
        if self.km is not None:  # already cleaned up after a signal: nothing left to stop
            await super()._async_cleanup_kernel()


def _error_line(err: BaseException, timeout: int) -> str:
    """The notebook's own error as ``Type: message``, without colours or traceback."""
    if isinstance(err, CellTimeoutError):
        return (f"a cell ran longer than --timeout {timeout} s and was stopped. Fix: give it more time "
                f"(gpt2ft run ... --timeout {timeout * 4}), or lower the caps (MAX_STEPS, MAX_EXAMPLES).")
    if isinstance(err, DeadKernelError):
        return ("the kernel died (the Python process running the notebook ended without an error: "
                "often out of memory, or killed from outside). Fix: lower BATCH_SIZE or "
                "MAX_BATCH_TOKENS, or free memory, then run the same command again.")
    if isinstance(err, CellExecutionError):
        return plain(f"{err.ename}: {err.evalue}".strip())
    return plain(f"{type(err).__name__}: {err}".strip())


def _save_failure(notebook, err: BaseException, failed: Path) -> list[Path]:
    """The notebook as far as it ran (``failed``, .ipynb) and its traceback as plain text
    (``failed`` with .txt); returns what could be written."""
    saved = []
    try:
        failed.parent.mkdir(parents=True, exist_ok=True)
        text = str(err) if isinstance(err, CellExecutionError) else "".join(
            traceback.format_exception(type(err), err, err.__traceback__))
        log = failed.with_suffix(".txt")
        log.write_text(plain(text).rstrip() + "\n")
        saved.append(log)
        notebook.metadata.pop("kernelspec", None)
        strip_timing(notebook)
        nbformat.write(notebook, failed)
        saved.append(failed)
    except (OSError, ValueError):  # a full disk must not hide the error itself
        pass
    return saved


def execute(source: Path, target: Path, timeout: int, failed: Path | None = None) -> float:
    """Execute ``source`` (a percent .py) as a notebook and write it to ``target``.

    On an error raises :class:`NotebookFailed` with the notebook's own error in one line; with
    ``failed`` (``<name>.failed.ipynb``) the notebook as far as it ran goes there and its
    traceback beside it (``.failed.txt``). On SIGINT/SIGTERM the kernel is shut down and
    :class:`NotebookInterrupted` is raised. A success removes an earlier run's ``failed`` files.
    """
    notebook = jupytext.read(source)
    previous = next((nbformat.read(p, as_version=4) for p in (target, source.with_suffix(".ipynb"))
                     if p.exists()), None)
    notebook.metadata["kernelspec"] = KERNELSPEC
    start = time.perf_counter()
    stderr = KernelStderr()
    client = _Client(notebook, timeout=timeout, kernel_name=KERNEL, record_timing=False,
                     resources={"metadata": {"path": str(source.parent)}},
                     on_stop=lambda: setattr(stderr, "quiet", True))
    try:
        client.execute(stderr=stderr.fd)
    except BaseException as err:
        stderr.quiet = True
        signum = client.stopped_by or (signal.SIGINT if isinstance(err, KeyboardInterrupt) else None)
        if signum is None and getattr(client, "_async_cleanup_kernel_future", None) is not None:
            signum = signal.SIGINT  # nbclient's own handler took it (before the kernel was ready)
        if signum is not None:
            raise NotebookInterrupted(source, signum, time.perf_counter() - start) from None
        if not isinstance(err, Exception):
            raise
        saved = _save_failure(notebook, err, failed) if failed is not None else []
        raise NotebookFailed(source, _error_line(err, timeout), saved, time.perf_counter() - start) from err
    finally:
        stderr.close()
    notebook.metadata["gpt2ft"] = {"executed_code": code_digest(notebook)}  # see executed_code_problems
    strip_timing(notebook)  # and free of per-cell timestamps and fresh random ids,
    stable_ids(notebook, previous, name=source.stem)  # so a rerun changes only what the outputs say
    final_bar_texts(notebook)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".ipynb" and target.with_suffix(".py") == source:
        jupytext.write(notebook, target, fmt="ipynb")
    else:
        nbformat.write(notebook, target)
    if failed is not None:  # an earlier failure of this notebook is no longer the news
        for old in (failed, failed.with_suffix(".txt")):
            old.unlink(missing_ok=True)
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


NOT_A_LITERAL = object()  # a setting whose value is computed (PROFILE = os.environ.get(...))
_SETTING = re.compile(r"^[A-Z][A-Z0-9_]*$")


def cell_settings(source: Path) -> dict[str, object]:
    """The UPPERCASE names the parameters cell (the cell tagged ``parameters``) assigns at top
    level, each with its literal value, or :data:`NOT_A_LITERAL` where it is computed."""
    cells = [c for c in jupytext.read(source).cells if "parameters" in c.metadata.get("tags", ())]
    if not cells:
        return {}
    try:
        tree = ast.parse(cells[0].source)
    except SyntaxError:  # IPython syntax (a magic): the names only, by their lines
        names = re.findall(r"^([A-Z][A-Z0-9_]*)\s*=", cells[0].source, flags=re.M)
        return dict.fromkeys(names, NOT_A_LITERAL)
    found: dict[str, object] = {}
    for node in tree.body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) and node.value is not None else [])
        for target in targets:
            if isinstance(target, ast.Name) and _SETTING.match(target.id):
                try:
                    found[target.id] = ast.literal_eval(node.value)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    found[target.id] = NOT_A_LITERAL
    return found


def parameter_names(source: Path) -> list[str]:
    """The UPPERCASE settings of a notebook's parameters cell (but PROFILE)."""
    return [n for n in cell_settings(source) if n != "PROFILE"]


def refused_settings(sprint: str, sources: list[Path], env=os.environ) -> str | None:
    """Why the environment's settings would fail the sprint, before any notebook runs, or None.

    :func:`gpt2ft.session.settings.configure` itself, run here on every notebook's parameters
    cell (its literals) before any kernel starts: a value the cell's literal (its type) or the
    setting's rule refuses (``EPOCHS=abc``, ``LEARNING_RATE=-1``, a ``DATA_DIR`` that is not a
    folder); a shared training knob (:data:`~gpt2ft.session.settings.SHARED_TRAINING_KNOBS`)
    that no notebook of the sprint sets; and one that a notebook that trains (its cell sets
    EPOCHS or MAX_STEPS) does not set, which that notebook would refuse after the ones before
    it had run. The text ends with the fix.
    """
    cells = {source: cell_settings(source) for source in sources}

    def refuses(found: dict, given: dict) -> str | None:
        """What configure() says of this cell with these environment settings, or None."""
        namespace = {n: v for n, v in found.items() if v is not NOT_A_LITERAL and n != "PROFILE"}
        try:  # profile full: its rules, without the tiny profile's library set-up
            session_settings.configure(namespace, env={**given, "PROFILE": "full"}, cuda=False,
                                       show=False, sprint=sprint)
        except (ValueError, OSError) as err:  # SettingError, DATA_DIR not a folder, output roots
            return str(err)
        return None

    for source, found in cells.items():
        given = {n: env[n] for n in found if n != "PROFILE" and env.get(n, "") != ""}
        said = refuses(found, given) if given else None
        if said:
            return f"{sprint}: refused before any notebook ran ({source.stem}): {said}"
    problems, refused = [], []
    for knob in session_settings.SHARED_TRAINING_KNOBS:
        if env.get(knob, "") == "":
            continue
        given = f"{knob}={env[knob]} (from the environment)"
        setters = [s.stem for s, found in cells.items() if knob in found]
        refusing = [source.stem for source, found in cells.items()  # configure() stops there
                    if knob not in found and refuses(found, {knob: env[knob]})]
        if not setters:
            problems.append(f"{given} applies to no notebook of {sprint}: no parameters cell there sets it.")
        elif refusing:
            problems.append(f"{given} is not a setting of {sprint}'s training notebook"
                            f"{'s' if len(refusing) > 1 else ''} {', '.join(refusing)}: "
                            f"{'their parameters cells do' if len(refusing) > 1 else 'its parameters cell does'}"
                            f" not set it (only {', '.join(setters)} {'do' if len(setters) > 1 else 'does'}).")
        else:
            continue
        refused.append(knob)
    if not problems:
        return None
    named = " and ".join([", ".join(refused[:-1]), refused[-1]] if len(refused) > 1 else refused)
    return "\n".join([f"{sprint}: refused before any notebook ran; nothing was run.", *problems,
                      f"Fix: unset {named}, then run the same command again."])


def overrides(sources: list[Path], env=os.environ) -> dict[str, str]:
    """The notebooks' settings that the environment changes (``DATA_DIR=...``, ``EPOCHS=1``)."""
    names = sorted({n for source in sources for n in parameter_names(source)})
    return {n: env[n] for n in names if env.get(n, "") != ""}


def executed_profile(executed: Path) -> str | None:
    """The profile an executed notebook ran at, read from its outputs, where
    ``settings.configure`` prints ``profile=...`` (``None``: not found)."""
    try:
        cells = json.loads(executed.read_text()).get("cells", [])
    except (OSError, ValueError):
        return None
    for cell in cells:
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            found = re.search(r"^profile=(\w+)", "".join(text) if isinstance(text, list) else text, re.M)
            if found:
                return found.group(1)
    return None


def committed_profile(folder: Path) -> str | None:
    """The profile the sprint's committed notebooks were executed at, read from the first one."""
    first = notebook_sources(folder)[:1]
    return executed_profile(first[0].with_suffix(".ipynb")) if first else None


def output_place(folder: Path, profile: str, changed: dict[str, str]) -> Path | None:
    """Where executed notebooks go: ``None`` = in place (a run at :data:`COMMITTED_PROFILE`
    with the cells' own settings), else a folder.

    A run with other settings (``DATA_DIR``, ``MODEL``, ``EPOCHS=1`` ...) never writes
    over the committed notebooks or tables: its results go below
    ``results/custom/<profile>-<hash of the settings>/`` (unless RESULTS_DIR is set),
    its notebooks beside them.
    """
    if profile == COMMITTED_PROFILE and not changed:
        return None
    if changed and not os.environ.get("RESULTS_DIR"):
        tag = hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:8]
        root = results_root() / "custom" / f"{profile}-{tag}"
        root.mkdir(parents=True, exist_ok=True)
        (root / "settings.json").write_text(json.dumps(changed, indent=1) + "\n")
        os.environ["RESULTS_DIR"] = str(root)
    return results_dir(sprint_name(folder), profile) / "notebooks"


def sprint_name(folder: Path) -> str:
    """``sprint12`` for ``sprints/sprint12_book``: the name the notebooks' tables and runs use."""
    return folder.name.split("_")[0]


def shown(path: Path) -> str:
    """``path`` relative to the current folder where it lies below it (what a user types)."""
    return paths.shown(path, base=Path.cwd())


def checkpoints_since(sprint: str, since: float) -> list[str]:
    """The runs of ``sprint`` (below RUNS_DIR) that wrote a checkpoint after ``since`` (epoch
    seconds), as ``sprint12/full/train-1a2b3c4d at step 3 of 60``."""
    from gpt2ft.training import checkpointing, runs

    try:
        root = runs_dir(sprint)
    except OSError:
        return []
    found = []
    for identity in sorted(root.rglob(runs.IDENTITY_FILE)):
        newest = checkpointing.list_checkpoints(identity.parent)[-1:]
        if newest and newest[0].stat().st_mtime >= since:
            steps = runs.describe_run(identity.parent).steps
            found.append(f"{identity.parent.relative_to(root.parent)} at step {steps}")
    return found


def pick(sources: list[Path], only: list[str]) -> list[Path]:
    """The sources whose two-digit prefix is in ``only`` (all where it is empty), checked:
    an unknown number is refused, naming the notebooks there are."""
    if not only:
        return sources
    numbers = {s.name[:2]: s for s in sources}
    unknown = [n for n in only if n not in numbers]
    if unknown:
        raise ValueError(f"--only {','.join(only)}: no notebook numbered {', '.join(unknown)} in this sprint; "
                         f"it has {', '.join(sorted(numbers))}. Fix: give those numbers, e.g. --only 01,02")
    return [numbers[n] for n in sorted(set(only))]


def run_sprint(folder: Path, timeout: int, only: list[str] = ()) -> int:
    """Run the sprint's notebooks in order; the exit status: 0, 1 (a notebook failed),
    2 (a setting refused before any notebook ran), 128 + the signal (Ctrl-C: 130)."""
    try:
        profile, reason = choose_profile(os.environ.get("PROFILE", "auto"))
    except ValueError as err:
        print(err, file=sys.stderr, flush=True)
        return 2
    sources = notebook_sources(folder)
    if not sources:
        raise SystemExit(f"No NN_name.py notebooks in {folder}.")
    try:
        sources = pick(sources, list(only))
    except ValueError as err:
        print(err, file=sys.stderr, flush=True)
        return 2
    sprint = sprint_name(folder)
    absolute_env_paths()
    refused = refused_settings(sprint, sources)
    if refused:
        print(refused, file=sys.stderr, flush=True)
        return 2
    # Pin the resolved profile so every notebook agrees with what is printed here.
    os.environ["PROFILE"] = profile
    changed = overrides(sources)
    place = output_place(folder, profile, changed)
    elsewhere = "" if place is None or changed else (
        f"; its tables and executed notebooks go to {shown(place.parent)}/ (the committed notebooks "
        f"are PROFILE={COMMITTED_PROFILE}'s)")
    print(f"== {folder.name}: {len(sources)} notebooks, profile {profile} ({reason}){elsewhere}", flush=True)
    if place is not None and changed:
        given = " ".join(f"{k}={v}" for k, v in changed.items()) or "(none)"
        print(f"   settings from the environment: {given}; tables, figures and executed notebooks go to "
              f"{shown(place.parent)}/, never over the committed ones", flush=True)
    failures = place if place is not None else results_dir(sprint, profile) / "notebooks"
    for source in sources:
        target = source.with_suffix(".ipynb") if place is None else place / source.with_suffix(".ipynb").name
        print(f"-- {source.name} ...", end=" ", flush=True)
        started = time.time()
        # The notebook's tables record which notebook made them (results.provenance).
        os.environ["GPT2FT_NOTEBOOK"] = source.resolve().relative_to(paths.repo_root()).as_posix() \
            if source.resolve().is_relative_to(paths.repo_root()) else source.name
        try:
            seconds = execute(source, target, timeout, failed=failures / f"{source.stem}.failed.ipynb")
        except NotebookInterrupted as stop:
            how = "Ctrl-C" if stop.signum == signal.SIGINT else signal.Signals(stop.signum).name
            saved = checkpoints_since(sprint, started)
            where = (f"last checkpoint: {'; '.join(saved)}" if saved else "no checkpoint was written in it")
            command = os.environ.get("GPT2FT_COMMAND") or f"gpt2ft run {sprint}"
            print(f"stopped ({how}) after {stop.seconds:.0f} s; {where}. Run the same command again "
                  f"({command} with the same settings): it resumes training runs from their last checkpoint.",
                  flush=True)
            return 128 + stop.signum
        except NotebookFailed as failed:
            print(f"FAILED after {failed.seconds:.1f} s", flush=True)
            print(failed.line, file=sys.stderr, flush=True)
            if failed.saved:
                print(f"   the whole traceback: {shown(failed.saved[0])}"
                      + (f"; the notebook as far as it ran: {shown(failed.saved[1])}" if len(failed.saved) > 1 else ""),
                      file=sys.stderr, flush=True)
            return 1
        print(f"{seconds:.1f} s -> {shown(target)}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpt2ft.tools.notebooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute a sprint's notebooks in order")
    run.add_argument("folder", type=existing_folder)
    run.add_argument("--timeout", type=timeout_seconds, default=7200, help="seconds per cell (>= 1)")
    run.add_argument("--only", type=numbers_list, default=[], help="run only these notebooks, e.g. 02,04 "
                     "(a later notebook may need an earlier one's fine-tuned model)")
    check = commands.add_parser("check-pairs", help="every .py/.ipynb pair in sync")
    check.add_argument("folder", type=existing_folder)
    args = parser.parse_args(argv)
    if args.command == "run":
        return run_sprint(args.folder, args.timeout, args.only)
    if not notebook_sources(args.folder) and not list(args.folder.rglob("[0-9][0-9]_*.ipynb")):
        check.error(f"argument folder: {str(args.folder)!r} holds no NN_name.py or .ipynb notebooks, so "
                    "there is nothing to check; give the folder holding them, e.g. sprints")
    problems = unsynced_pairs(args.folder)
    for problem in problems:
        print(problem, file=sys.stderr)
    outdated = [] if problems else executed_code_problems(args.folder)
    for problem in outdated:
        print(problem, file=sys.stderr)
    print(f"{len(notebook_sources(args.folder))} notebook pairs checked, {len(problems)} out of sync, "
          f"{len(outdated)} with outputs of other code")
    return 1 if problems or outdated else 0


if __name__ == "__main__":
    raise SystemExit(main())

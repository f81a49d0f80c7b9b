"""A run is what produced it: identity, run folders, and never reusing the wrong run.

Introduced in ``sprints/sprint12_book/05_appendix_engine``. A run's *identity*
is everything that changes its result: the settings, a fingerprint of the
model's starting weights (a hub name and revision, or a folder, end up as
weights) and a fingerprint of the data it trains and evaluates on (the tokens,
whatever folder or hub set they came from). It is written into the run folder
(``identity.json``) when the run starts; the training engine resumes only a
run of the same identity and refuses any other, naming what differs. Run
folders carry a short hash of the identity, so changing ``DATA_DIR``,
``MODEL`` or a setting never lands in another run's folder.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gpt2ft.core.paths import writing

IDENTITY_FILE = "identity.json"


class RunMismatchError(RuntimeError):
    """A run folder holds a run of another identity; nothing in it was touched."""


# --------------------------------------------------------------------------- fingerprints

def weights_fingerprint(model: torch.nn.Module) -> str:
    """SHA-256 of every parameter and buffer (names, shapes, dtypes, values), in name order."""
    h = hashlib.sha256()
    seen = set()
    for name, tensor in sorted(model.state_dict().items()):
        if tensor.data_ptr() in seen and tensor.numel():  # tied weights: once
            continue
        seen.add(tensor.data_ptr())
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.view(torch.uint8).numpy() if t.numel() else b"")  # the bytes, not a copy
    return h.hexdigest()


def _rows(dataset, keys: tuple[str, ...]) -> Iterable[dict]:
    if hasattr(dataset, "iter") and hasattr(dataset, "column_names"):  # datasets.Dataset
        keep = [k for k in keys if k in dataset.column_names]
        yield from dataset.select_columns(keep).iter(batch_size=2048)
    else:
        for row in dataset:
            yield {k: row[k] for k in keys if k in row}


def data_fingerprint(dataset, keys: tuple[str, ...] = ("input_ids", "labels")) -> str | None:
    """SHA-256 of the token ids and labels of every row, in order (``None`` for no data)."""
    if dataset is None:
        return None
    h = hashlib.sha256()
    for part in _rows(dataset, keys):
        for key in sorted(part):
            value = part[key]
            if isinstance(value, torch.Tensor):
                value = value.tolist()
            h.update(key.encode())
            h.update(json.dumps(value, separators=(",", ":")).encode())
    h.update(str(len(dataset)).encode())
    return h.hexdigest()


def text_fingerprint(*texts: str) -> str:
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode())
        h.update(b"\0")
    return h.hexdigest()


def short(identity: Mapping[str, Any]) -> str:
    """Eight hex digits naming an identity (for folder names)."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:8]


# --------------------------------------------------------------------------- run folders

def source_fingerprint(source) -> str:
    """SHA-256 of what a run was made from, as the learner holds it.

    A text (a book), a list of records (instructions), a dataset of token ids, or an
    object holding one of them as ``.text`` or ``.records`` (``data.load_corpus``,
    ``data.load_instructions``). It is part of the run's identity, so a later notebook
    can find the run again from the same data (:func:`find_finetuned`).
    """
    for attr in ("text", "records"):
        if hasattr(source, attr):
            source = getattr(source, attr)
            break
    if isinstance(source, str):
        return text_fingerprint(source)
    if hasattr(source, "column_names"):  # a datasets.Dataset of tokens
        return data_fingerprint(source)
    return text_fingerprint(json.dumps(source, sort_keys=True, default=str))


def callable_fingerprint(fn) -> str | None:
    """SHA-256 naming a loss function: its qualified name and the values it closes over
    (a class-weighted loss's weights), so another loss is another run (``None``: the model's)."""
    if fn is None:
        return None
    cells = [cell.cell_contents for cell in (getattr(fn, "__closure__", None) or ())]
    values = [c.tolist() if isinstance(c, torch.Tensor) else repr(c) for c in cells]
    name = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"
    return text_fingerprint(name, json.dumps(values, default=str))


def run_dir(output_dir: str | os.PathLike, run_name: str | None, identity: Mapping[str, Any]) -> Path:
    """The run's folder: ``<output_dir>/<run_name>-<8 hex digits of its identity>``.

    One folder per identity, never shared: another model, other data or a setting that
    changes the result gets its own. Without a ``run_name``, ``output_dir`` itself.
    """
    return Path(output_dir) / f"{run_name}-{short(identity)}" if run_name else Path(output_dir)


def keep_aside(folder: str | os.PathLike) -> Path | None:
    """Rename an existing run folder to ``<name>-kept-<time>`` (start over, keep the old run)."""
    folder = Path(folder)
    if not folder.exists():
        return None
    kept = folder.with_name(f"{folder.name}-kept-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while kept.exists():
        kept, n = kept.with_name(f"{kept.name}-{n}"), n + 1
    folder.rename(kept)
    return kept


def read_identity(folder: str | os.PathLike) -> dict | None:
    path = Path(folder) / IDENTITY_FILE
    if not path.is_file():
        return None
    try:
        identity = json.loads(path.read_text())
    except ValueError as err:
        raise RunMismatchError(f"{path} is not valid JSON ({err}); the run's identity is unknown. "
                               "Move that folder away, or use another output folder.") from None
    if not isinstance(identity, dict):
        raise RunMismatchError(
            f"{path} holds {type(identity).__name__} {_brief(identity)}, not a run's identity (a JSON "
            "object of settings, model and data): the run in that folder is unknown, and nothing "
            "in it was changed. Fix: move that folder away, or use another output folder.")
    return identity


def differences(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """What changed between two identities, as ``key: old -> new`` lines."""
    lines = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            lines += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            lines.append(f"{prefix}{key}: {_brief(a)} -> {_brief(b)}")
    return lines


def _brief(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:16] + "..." + text[-8:]


def claim(folder: str | os.PathLike, identity: Mapping[str, Any], write: bool = True) -> bool:
    """Make ``folder`` this run's: check the identity there, or write this one.

    Returns True when the folder already held this run (resume is safe). A
    folder holding another run's identity, or checkpoints without an identity,
    raises :class:`RunMismatchError` naming what differs and the fix; nothing in
    it is changed. ``write=False`` only checks (the other processes of a launch).
    """
    folder = Path(folder)
    old = read_identity(folder)
    if old is None:
        if folder.is_dir() and any(p.name.startswith(("step-", "best")) for p in folder.iterdir()):
            raise RunMismatchError(
                f"{folder} holds checkpoints but no {IDENTITY_FILE}: they may come from another "
                "run. Nothing was changed. Fix: move that folder away, or use another output folder.")
        if write:
            with writing(folder, f"the run's {IDENTITY_FILE}", "every file already there"):
                folder.mkdir(parents=True, exist_ok=True)
                tmp = folder / f"{IDENTITY_FILE}.tmp-{os.getpid()}"
                tmp.write_text(json.dumps(identity, indent=1, sort_keys=True, default=str))
                os.replace(tmp, folder / IDENTITY_FILE)
        return False
    changed = differences(old, json.loads(json.dumps(identity, default=str)))
    if changed:
        raise RunMismatchError(
            f"{folder} holds another run; nothing in it was changed. What differs:\n  "
            + "\n  ".join(changed[:12]) + "\nFix: use another output folder for this run (a "
            "TrainConfig with run_name, as the notebooks build, names its folder by identity), or "
            "start over with resume off (RESUME=0), which keeps the other run under a new name.")
    return True


# --------------------------------------------------------------------------- exports

EXPORT = "finetuned"  # the trained model, inside its run folder
HISTORY = "history.csv"
ABOUT = "training.json"  # beside the exported weights: the run that made them


def export(result, tokenizer=None, about: Mapping[str, Any] | None = None, name: str = EXPORT) -> Path:
    """Save a finished run's model (and tokenizer) as ``<run folder>/<name>/``, with its history.

    The export lives in the run folder, so no run overwrites another's. It is written
    to a temporary folder and swapped in whole: a full disk leaves the previous export
    (or none), never half of one. ``about`` (the data source, the command...) goes to
    ``training.json`` beside the weights with the run's identity. Under ``accelerate
    launch`` only the main process writes; every process returns the folder.
    """
    from gpt2ft.core.processes import is_main_process, wait_for_everyone

    folder = Path(result.run_dir) / name
    if is_main_process():
        tmp = folder.with_name(f".{name}.tmp-{os.getpid()}")
        with writing(folder.parent, f"the exported model {name}/", f"the previous {name}/ (if any)"):
            shutil.rmtree(tmp, ignore_errors=True)
            _plain(result.model).save_pretrained(tmp)
            if tokenizer is not None:
                tokenizer.save_pretrained(tmp)
            facts = {"run": folder.parent.name, "identity": read_identity(folder.parent),
                     "steps": result.steps, "best_eval_loss": result.best_eval_loss, **dict(about or {})}
            (tmp / ABOUT).write_text(json.dumps(facts, indent=1, default=str) + "\n")
            result.history.to_csv(tmp / HISTORY, index=False)
            _swap_in(tmp, folder)
    wait_for_everyone()
    return folder


def _plain(model: torch.nn.Module) -> torch.nn.Module:
    """The model as ``from_pretrained`` loads it: a LoRA (peft) model merged into a copy."""
    if hasattr(model, "merge_and_unload"):
        return copy.deepcopy(model).merge_and_unload()
    return model


def _swap_in(tmp: Path, folder: Path) -> None:
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def find_finetuned(parent: str | os.PathLike, run_name: str, model: torch.nn.Module, source,
                   name: str = EXPORT) -> Path:
    """The exported model of the run ``<run_name>-*`` below ``parent`` that started from
    ``model``'s weights and was made from ``source`` (the same data the training notebook
    passed to ``train(..., source=)``).

    Prints which run it found, with its settings. Where several runs match (other
    settings), the newest export wins and the others are counted. Where none does,
    raises ``FileNotFoundError`` saying what is there instead and what to run.
    """
    want = {"model": weights_fingerprint(model), "source": source_fingerprint(source)}
    found, other = [], {"model": 0, "source": 0, "unfinished": 0}
    for folder in sorted(Path(parent).glob(f"{run_name}-*")):
        named = _NAMED.match(folder.name)
        if not named or named["name"] != run_name:  # "train-kept-..." or "train-long-...": other runs
            continue
        identity = read_identity(folder) if folder.is_dir() else None
        if identity is None:
            continue
        wrong = [key for key in want if identity.get(key) != want[key]]
        if wrong:
            other[wrong[0]] += 1
        elif not (folder / name / "config.json").is_file():
            other["unfinished"] += 1
        else:
            about = folder / name / ABOUT
            found.append((about.stat().st_mtime if about.is_file() else 0.0, folder, identity))
    if not found:
        raise FileNotFoundError(
            f"No exported model of a {run_name!r} run below {parent} started from these weights and "
            f"this data ({other['model']} runs started from other weights, {other['source']} used other "
            f"data, {other['unfinished']} did not finish). Fix: run the training notebook first with the "
            "same PROFILE, MODEL, DATA_DIR and data settings (make sprintNN runs the notebooks in order).")
    _, folder, identity = max(found, key=lambda item: item[0])
    settings = identity.get("settings", {})
    shown = {k: settings[k] for k in ("learning_rate", "batch_size") if k in settings}
    about = folder / name / ABOUT  # the run's length is not part of its identity: its export says it
    steps = json.loads(about.read_text()).get("steps") if about.is_file() else None
    if steps is not None:
        shown["steps"] = steps
    more = f"; {len(found) - 1} older run(s) of the same model and data have other settings" if len(found) > 1 else ""
    print(f"fine-tuned model: {folder.name}/{name} ({', '.join(f'{k}={v}' for k, v in shown.items())}){more}")
    return folder / name


# --------------------------------------------------------------------------- the runs on disk

_NAMED = re.compile(r"^(?P<name>.+)-(?P<hash>[0-9a-f]{8})$")


@dataclass
class RunInfo:
    """One run folder as ``gpt2ft runs`` lists it."""

    folder: Path
    name: str  # the run name (the folder's name without its identity hash)
    state: str  # finished | interrupted | not started | superseded | kept aside
    steps: str  # "6 of 6" (the newest checkpoint), or "" without one
    size: int  # bytes on disk
    settings: str  # the settings a reader tells runs apart by
    modified: float

    def row(self, root: Path) -> dict[str, str]:
        return {"run": str(self.folder.relative_to(root)), "state": self.state, "steps": self.steps,
                "size": human_size(self.size), "settings": self.settings}


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def folder_size(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def describe_run(folder: Path) -> RunInfo:
    """A run folder's state from its identity, newest checkpoint and export."""
    from gpt2ft.training import checkpointing as ckpt

    identity = read_identity(folder) or {}
    settings = identity.get("settings", {}) if isinstance(identity, dict) else {}
    shown = ", ".join(f"{k}={settings[k]}" for k in ("learning_rate", "batch_size") if k in settings)
    steps, state = "", "not started"
    checkpoints = ckpt.list_checkpoints(folder)
    if checkpoints:
        done = ckpt.read_state(checkpoints[-1])
        steps = f"{done.get('step')} of {done.get('total_steps')}"
        finished = done.get("step", 0) >= done.get("total_steps", 1) or done.get("stopped_early")
        state = "finished" if finished else "interrupted"
    if (folder / EXPORT / "config.json").is_file():
        state = "finished"
    match = _NAMED.match(folder.name)
    if "-kept-" in folder.name:
        state = "kept aside"
    return RunInfo(folder=folder, name=match["name"] if match else folder.name, state=state, steps=steps,
                   size=folder_size(folder), settings=shown,
                   modified=(folder / IDENTITY_FILE).stat().st_mtime if (folder / IDENTITY_FILE).exists() else 0.0)


def list_runs(root: str | os.PathLike) -> list[RunInfo]:
    """Every run folder below ``root`` (a folder holding ``identity.json``), oldest first.

    A run is *superseded* when a newer run of the same name sits beside it (another
    ``MAX_STEPS``, learning rate, model or book): it is kept, and takes disk space.
    """
    found = [describe_run(f.parent) for f in sorted(Path(root).rglob(IDENTITY_FILE))
             if not _is_checkpoint(f.parent)]
    newest: dict[tuple[Path, str], float] = {}
    for info in found:
        key = (info.folder.parent, info.name)
        newest[key] = max(newest.get(key, 0.0), info.modified)
    for info in found:
        if info.state != "kept aside" and info.modified < newest[(info.folder.parent, info.name)]:
            info.state = f"superseded ({info.state})"
    return sorted(found, key=lambda info: info.modified)


def _is_checkpoint(folder: Path) -> bool:
    """A checkpoint inside a run (``step-*``, ``best``...) holds a copy of its run's identity."""
    from gpt2ft.training import checkpointing as ckpt
    return (folder.parent / IDENTITY_FILE).is_file() and (
        ckpt.STEP_PATTERN.match(folder.name) is not None or folder.name.startswith(ckpt.BEST))


def others_of(folder: Path) -> list[RunInfo]:
    """The other runs of the same name beside ``folder`` (what a new run supersedes)."""
    match = _NAMED.match(folder.name)
    if not match:
        return []
    return [describe_run(p) for p in sorted(folder.parent.glob(f"{match['name']}-*"))
            if p != folder and (m := _NAMED.match(p.name)) and m["name"] == match["name"]
            and (p / IDENTITY_FILE).is_file()]


def remove_run(root: str | os.PathLike, folder: str | os.PathLike) -> int:
    """Delete one run folder below ``root``; returns the bytes freed.

    Refuses anything that is not a run folder (no ``identity.json``) or lies outside
    ``root``, so a typo never deletes what a user made. Links are removed, never followed.
    """
    root = Path(root).resolve()
    path = Path(folder)
    path = (path if path.is_absolute() else root / path)
    if path.is_symlink() or not path.resolve().is_relative_to(root) or not (path / IDENTITY_FILE).is_file():
        raise ValueError(f"{folder} is not a run folder below {root} (none holds {IDENTITY_FILE} there); "
                         "nothing was deleted. Fix: name a run as `gpt2ft runs` lists it.")
    size = folder_size(path)
    shutil.rmtree(path)
    return size

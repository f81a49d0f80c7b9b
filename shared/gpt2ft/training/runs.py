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

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
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

def run_folder(parent: str | os.PathLike, name: str, identity: Mapping[str, Any]) -> Path:
    """``<parent>/<name>-<hash of identity>``: one folder per identity, never shared."""
    return Path(parent) / f"{name}-{short(identity)}"


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
        return json.loads(path.read_text())
    except ValueError as err:
        raise RunMismatchError(f"{path} is not valid JSON ({err}); the run's identity is unknown. "
                               "Move that folder away, or use another output folder.") from None


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
            + "\n  ".join(changed[:12]) + "\nFix: use another output folder for this run (the "
            "notebooks name theirs by identity), or start over with resume off (RESUME=0), which "
            "keeps the old run under a new name.")
    return True

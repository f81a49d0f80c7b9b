"""Checkpoints that are never lost: atomic writes, verified reads, fallback.

Introduced in ``sprints/sprint12_book/05_appendix_engine`` (resume, best weights); written
and read by :mod:`gpt2ft.training`.

Layout of a run folder (``TrainConfig.output_dir``)::

    step-000050/      rolling checkpoints (the newest ``keep_checkpoints`` kept)
    step-000100/
    best/             the best weights by eval loss, kept apart from the rolling ones

A checkpoint is a folder of files plus ``manifest.json`` (size and SHA-256 of
every file). It is written under a temporary name (``step-000100.tmp-<pid>-…``),
every file is flushed to disk, and only then the folder is renamed into place
with ``os.replace``; a run killed while writing leaves only a ``.tmp`` folder,
which is ignored and cleaned up. A checkpoint already in place is never
written over in place: a new one with the same name is moved in by rename and
the old one removed afterwards.

Reading verifies the manifest first: a missing manifest (partial), a missing
file, a wrong size (truncated) or a wrong checksum (corrupt) raises
:class:`CheckpointError` naming the file; :func:`latest_valid_checkpoint` then
warns and falls back to the one before it.

Files of a training checkpoint: ``model.safetensors`` (all weights, tied
tensors once), ``optimizer.pt``, ``scheduler.pt``, ``scaler.pt`` (fp16 only),
``rng.pt`` (Python, NumPy, torch CPU/CUDA states of every process),
``trainer_state.json`` (step, epoch, position in the epoch, history, best eval
loss, early-stopping count) and ``identity.json`` (the identity of the run that
wrote it: a checkpoint of another run is refused, never resumed).

**Resume is all or nothing**: :func:`read_training_checkpoint` reads every part
into memory and checks it against this run (identity, weight names and shapes,
optimizer groups and state shapes, schedule, RNG states, counters) before
:func:`apply_training_checkpoint` touches the model, optimizer or schedule; a
checkpoint that fails leaves them exactly as they were. With ``config.json`` and the tokenizer's files
beside the weights, ``from_pretrained(<checkpoint>)`` and ``pipeline`` load any
checkpoint, ``best/`` included, as they load an exported model.

**Checkpoints hold data, not code.** The ``.pt`` files hold only tensors,
numbers, strings and lists (the NumPy RNG state is stored as a tensor), and are
read with ``torch.load(weights_only=True)``: a planted pickle in a run folder
from a shared disk or a download is refused, never executed.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import os
import random
import re
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gpt2ft.core.paths import writing
from gpt2ft.training import runs

MANIFEST = "manifest.json"
MODEL_FILE = "model.safetensors"
STATE_FILE = "trainer_state.json"
IDENTITY_FILE = runs.IDENTITY_FILE  # each checkpoint holds the identity of the run that wrote it
STEP_PATTERN = re.compile(r"^step-(\d+)$")
BEST = "best"


class CheckpointError(RuntimeError):
    """A checkpoint is partial or corrupt; the message names the file."""


class CheckpointWarning(UserWarning):
    """A checkpoint was skipped (partial or corrupt) and an older one is used."""


def step_name(step: int) -> str:
    return f"step-{step:06d}"


# --------------------------------------------------------------------------- writing

def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a folder be opened
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _sha256(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def write_checkpoint(final: str | os.PathLike, writers: Mapping[str, Callable[[Path], None]],
                     ) -> Path:
    """Write a checkpoint folder atomically and return its path.

    ``writers`` maps each file name to a function that writes that file to the
    path it is given. The folder appears under its final name only once every
    file and the manifest are on disk.
    """
    final = Path(final)
    with writing(final.parent, f"the checkpoint {final.name}",
                 "the checkpoints written before it (resume starts from the newest)"):
        return _write_checkpoint(final, writers)


def _write_checkpoint(final: Path, writers: Mapping[str, Callable[[Path], None]]) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        manifest = {}
        for name, write in writers.items():
            path = tmp / name
            write(path)
            if not path.is_file():
                raise CheckpointError(f"The writer for {name} did not create {path}.")
            with open(path, "rb+") as f:
                os.fsync(f.fileno())
            manifest[name] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
        write_bytes(tmp / MANIFEST, json.dumps({"files": manifest}, indent=1).encode())
        _fsync_dir(tmp)
        _publish(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _publish(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; an existing ``final`` is moved aside first, then removed."""
    old = None
    if final.exists():
        old = final.with_name(f"{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------- reading

def verify_checkpoint(path: str | os.PathLike, checksums: bool = True) -> dict:
    """Check a checkpoint folder against its manifest; return the manifest.

    Raises :class:`CheckpointError` naming the first bad file.
    """
    path = Path(path)
    manifest_path = path / MANIFEST
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a checkpoint folder.")
    if not manifest_path.is_file():
        raise CheckpointError(f"{manifest_path} is missing: the checkpoint {path} is partial.")
    try:
        manifest = json.loads(manifest_path.read_text())["files"]
    except (ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{manifest_path} is not a valid manifest ({err}).") from None
    for name, info in manifest.items():
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"{file} is missing: the checkpoint {path} is partial.")
        size = file.stat().st_size
        if size != info["bytes"]:
            raise CheckpointError(f"{file} has {size} bytes, expected {info['bytes']}: "
                                  "the file is truncated or was changed.")
        if checksums and _sha256(file) != info["sha256"]:
            raise CheckpointError(f"{file} does not match its SHA-256 in {MANIFEST}: "
                                  "the file is corrupt.")
    return manifest


def list_checkpoints(output_dir: str | os.PathLike) -> list[Path]:
    """Rolling checkpoint folders ``step-NNNNNN`` in ``output_dir``, oldest first."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in output_dir.iterdir()
             if p.is_dir() and (m := STEP_PATTERN.match(p.name))]
    return [p for _, p in sorted(found)]


def valid_checkpoints(output_dir: str | os.PathLike, checksums: bool = True,
                      warn: bool = True) -> Iterator[Path]:
    """The checkpoints that verify, newest first; each bad one on the way gets a warning."""
    newest_first = list(reversed(list_checkpoints(output_dir)))
    for i, path in enumerate(newest_first):
        try:
            verify_checkpoint(path, checksums=checksums)
        except CheckpointError as err:
            if warn:
                skipped(path, err, newest_first[i + 1] if i + 1 < len(newest_first) else None)
            continue
        yield path


def skipped(path: Path, err: Exception, older: Path | None) -> None:
    """Warn that ``path`` is skipped, and say truthfully what comes next."""
    then = (f"Trying the one before it, {older.name}." if older is not None else
            "It was the oldest checkpoint: none is left to resume from.")
    warnings.warn(f"Skipping checkpoint {path.name}: {err} {then}", CheckpointWarning, stacklevel=3)


def latest_valid_checkpoint(output_dir: str | os.PathLike, checksums: bool = True,
                            warn: bool = True) -> Path | None:
    """The newest checkpoint that verifies (see :func:`valid_checkpoints`)."""
    return next(valid_checkpoints(output_dir, checksums, warn), None)


def best_checkpoint(output_dir: str | os.PathLike, checksums: bool = True) -> Path | None:
    """``best/`` if it verifies, else a ``best.old-*`` left by a run killed mid-swap.

    A ``best/`` that does not verify gets a :class:`CheckpointWarning` naming the
    bad file and what is used instead.
    """
    output_dir = Path(output_dir)
    candidates = [output_dir / BEST] + sorted(output_dir.glob(f"{BEST}.old-*"))
    problems = []
    for path in candidates:
        try:
            verify_checkpoint(path, checksums=checksums)
        except CheckpointError as err:
            if path.exists():
                problems.append(str(err))
            continue
        if problems:
            warnings.warn(f"{problems[0]} Using {path} instead.", CheckpointWarning, stacklevel=2)
        return path
    if problems:
        warnings.warn(f"{problems[0]} No other copy of the best weights verifies: the run's final "
                      "weights are used instead.", CheckpointWarning, stacklevel=2)
    return None


def run_best(output_dir: str | os.PathLike, identity: Mapping | None,
             checksums: bool = True) -> Path | None:
    """:func:`best_checkpoint`, refused (with a warning) when another run wrote it."""
    best = best_checkpoint(output_dir, checksums)
    if best is not None:
        try:
            check_identity(best, identity)
        except CheckpointError as err:
            warnings.warn(f"{err} The run's final weights are used instead of {best.name}.",
                          CheckpointWarning, stacklevel=2)
            return None
    return best


def prune_checkpoints(output_dir: str | os.PathLike, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` rolling checkpoints; return what was deleted."""
    checkpoints = list_checkpoints(output_dir)
    doomed = checkpoints[:-keep] if keep > 0 else []
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


def clean_temporaries(output_dir: str | os.PathLike) -> None:
    """Remove ``*.tmp-*`` folders left by killed runs (never a finished checkpoint)."""
    output_dir = Path(output_dir)
    if output_dir.is_dir():
        for path in output_dir.glob("*.tmp-*"):
            shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- contents

def save_weights(path: Path, model: torch.nn.Module) -> None:
    from safetensors.torch import save_model
    save_model(model, str(path))


def load_weights(model: torch.nn.Module, checkpoint: str | os.PathLike, verified: bool = False) -> None:
    """Load ``model.safetensors`` of a checkpoint folder into ``model`` (verified first, unless
    the caller just did)."""
    from safetensors.torch import load_model
    checkpoint = Path(checkpoint)
    if not verified:
        verify_checkpoint(checkpoint)
    file = checkpoint / MODEL_FILE
    try:
        missing, unexpected = load_model(model, str(file), strict=False)
    except Exception as err:
        raise CheckpointError(f"{file} could not be read: {err}") from err
    if missing or unexpected:
        raise CheckpointError(
            f"{file} does not fit this model: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}.")


def rng_state() -> dict:
    """Python, NumPy and torch RNG states, as plain values and tensors (no pickled objects)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"python": random.getstate(),
             "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])  # torch.load (weights_only) keeps the tuples setstate wants
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def pretrained_writers(model: torch.nn.Module, tokenizer_files: Mapping[str, bytes] | None,
                       ) -> dict[str, Callable[[Path], None]]:
    """``config.json`` (and the tokenizer's files) beside the weights: ``from_pretrained`` works.

    Not for a peft (LoRA) wrapper: its weight names are not the model's, and a
    ``config.json`` would make ``from_pretrained`` load a silently random model.
    """
    config = getattr(model, "config", None)
    if config is None or hasattr(model, "get_base_model") or not hasattr(config, "to_json_string"):
        return {}
    writers = {"config.json": lambda p: write_bytes(p, config.to_json_string().encode())}
    generation = getattr(model, "generation_config", None)
    if generation is not None and getattr(model, "can_generate", lambda: False)():
        writers["generation_config.json"] = lambda p: write_bytes(
            p, generation.to_json_string().encode())
    for name, data in (tokenizer_files or {}).items():
        writers[name] = lambda p, data=data: write_bytes(p, data)
    return writers


def tokenizer_files(tokenizer) -> dict[str, bytes]:
    """The files ``tokenizer.save_pretrained`` writes, as bytes (copied into each checkpoint)."""
    import tempfile
    if tokenizer is None:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        return {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}


def training_writers(model: torch.nn.Module, optimizer, scheduler, scaler,
                     rng_states: list[dict], state: dict) -> dict[str, Callable[[Path], None]]:
    """The files of a full training checkpoint (see the module docstring)."""
    writers: dict[str, Callable[[Path], None]] = {
        MODEL_FILE: lambda p: save_weights(p, model),
        "optimizer.pt": lambda p: write_bytes(p, torch_bytes(optimizer.state_dict())),
        "scheduler.pt": lambda p: write_bytes(p, torch_bytes(scheduler.state_dict())),
        "rng.pt": lambda p: write_bytes(p, torch_bytes(rng_states)),
        STATE_FILE: lambda p: write_bytes(p, json.dumps(state, indent=1).encode()),
    }
    if scaler is not None:
        writers["scaler.pt"] = lambda p: write_bytes(p, torch_bytes(scaler.state_dict()))
    return writers


def _torch_load(file: Path):
    """Tensors and plain values only: a pickle that would run code is refused, never executed."""
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"{file} could not be read as plain data ({type(err).__name__}: {str(err)[:200]}). "
            "It may be corrupt, written by an older version, or hold code; it was not run. "
            "Fix: resume from another checkpoint (delete this one), or start over.") from err


def identity_writer(identity: Mapping | None) -> dict[str, Callable[[Path], None]]:
    """``identity.json``: the identity of the run writing the checkpoint (none if unknown)."""
    if identity is None:
        return {}
    data = json.dumps(identity, indent=1, sort_keys=True, default=str).encode()
    return {IDENTITY_FILE: lambda p: write_bytes(p, data)}


def check_identity(path: Path, identity: Mapping | None) -> None:
    """Refuse a checkpoint written by a run other than ``identity`` (the run folder's)."""
    if identity is None:  # a folder without an identity: nothing to compare with
        return
    from gpt2ft.training.runs import differences, short
    file = path / IDENTITY_FILE
    fix = f"Fix: move {path.name} out of {path.parent} (or delete it)."
    if not file.is_file():
        raise CheckpointError(
            f"{path.name} records no run identity ({IDENTITY_FILE}): it was copied in from elsewhere "
            "or written by an older version, so it may belong to another run; it is not used. "
            + fix)
    try:
        theirs = json.loads(file.read_text())
    except ValueError as err:
        raise CheckpointError(f"{file} is not valid JSON ({err}); it is not used. {fix}") from None
    ours = json.loads(json.dumps(identity, default=str))
    if theirs != ours:
        what = (differences(theirs, ours) if isinstance(theirs, dict) else
                [f"{IDENTITY_FILE} holds {type(theirs).__name__}"])
        raise CheckpointError(
            f"{path.name} was written by another run (identity {short(theirs)}; this run folder's "
            f"is {short(ours)}), so it is not used. What differs: {'; '.join(what[:4])}. {fix}")


@dataclass
class TrainingCheckpoint:
    """Every part of a training checkpoint, read into memory and checked; nothing applied yet."""

    path: Path
    weights: dict
    optimizer: dict
    scheduler: dict
    scaler: dict | None
    state: dict
    rng_states: list


def read_training_checkpoint(path: Path, model, optimizer, scheduler, scaler,
                             identity: Mapping | None = None) -> TrainingCheckpoint:
    """Read and check every part of a verified checkpoint; the model and the rest are not touched.

    Raises :class:`CheckpointError` naming the first part that is unreadable or does not
    fit this run (its identity, weight names and shapes, optimizer groups and state
    shapes, schedule, counters, RNG states).
    """
    path = Path(path)
    check_identity(path, identity)
    weights = _read_weights(path / MODEL_FILE, model)
    optim = _torch_load(path / "optimizer.pt")
    _check_optimizer(path / "optimizer.pt", optim, optimizer)
    sched = _torch_load(path / "scheduler.pt")
    _check_scheduler(path / "scheduler.pt", sched, scheduler)
    scaler_state = None
    if scaler is not None and (path / "scaler.pt").is_file():
        scaler_state = _torch_load(path / "scaler.pt")
        if not isinstance(scaler_state, dict) or "scale" not in scaler_state:
            raise CheckpointError(f"{path / 'scaler.pt'} is not a GradScaler state.")
    state = _read_counters(path / STATE_FILE)
    rng_states = _torch_load(path / "rng.pt")
    _check_rng(path / "rng.pt", rng_states)
    return TrainingCheckpoint(path, weights, optim, sched, scaler_state, state, rng_states)


def apply_training_checkpoint(loaded: TrainingCheckpoint, model, optimizer, scheduler,
                              scaler) -> None:
    """Put a checked checkpoint into the model, optimizer, schedule and scaler.

    The optimizer, schedule and scaler go first and are put back as they were if
    any of them refuses; the weights go last (their names and shapes were checked).
    """
    before = (copy.deepcopy(optimizer.state_dict()), copy.deepcopy(scheduler.state_dict()),
              None if scaler is None else copy.deepcopy(scaler.state_dict()))
    try:
        optimizer.load_state_dict(loaded.optimizer)
        scheduler.load_state_dict(loaded.scheduler)
        if scaler is not None and loaded.scaler is not None:
            scaler.load_state_dict(loaded.scaler)
    except Exception as err:
        optimizer.load_state_dict(before[0])
        scheduler.load_state_dict(before[1])
        if scaler is not None:
            scaler.load_state_dict(before[2])
        raise CheckpointError(
            f"{loaded.path} could not be applied ({type(err).__name__}: {str(err)[:200]}); the "
            "model, optimizer and schedule are as they were.") from err
    model.load_state_dict(loaded.weights, strict=False)


def _read_weights(file: Path, model) -> dict:
    """The tensors of ``model.safetensors``, checked name by name and shape by shape."""
    from safetensors.torch import load_file
    try:
        tensors = load_file(str(file))
    except Exception as err:
        raise CheckpointError(f"{file} could not be read: {err}") from err
    expected = model.state_dict()
    saved_ptrs = {expected[k].data_ptr() for k in tensors if k in expected}
    unexpected = sorted(set(tensors) - set(expected))
    missing = sorted(k for k, t in expected.items()  # a tied weight is saved once, by one name
                     if k not in tensors and t.data_ptr() not in saved_ptrs)
    if missing or unexpected:
        raise CheckpointError(f"{file} does not fit this model: missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]}.")
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise CheckpointError(f"{file} does not fit this model: {name} has shape "
                                  f"{tuple(tensor.shape)}, the model's {tuple(expected[name].shape)}.")
    return tensors


def _check_optimizer(file: Path, saved, optimizer) -> None:
    if not isinstance(saved, dict) or not isinstance(saved.get("param_groups"), list) \
            or not isinstance(saved.get("state"), dict):
        raise CheckpointError(f"{file} is not an optimizer state (state, param_groups).")
    mine = [len(g["params"]) for g in optimizer.param_groups]
    theirs = [len(g.get("params", ())) if isinstance(g, dict) else -1 for g in saved["param_groups"]]
    if mine != theirs:
        raise CheckpointError(f"{file} is for other parameters: groups of {theirs} parameters, "
                              f"this run's optimizer has {mine}.")
    for s_group, group in zip(saved["param_groups"], optimizer.param_groups, strict=True):
        for pid, param in zip(s_group["params"], group["params"], strict=True):
            for key, value in (saved["state"].get(pid) or {}).items():
                if torch.is_tensor(value) and value.dim() > 0 and value.shape != param.shape:
                    raise CheckpointError(f"{file}: the {key} of parameter {pid} has shape "
                                          f"{tuple(value.shape)}, the parameter {tuple(param.shape)}.")


def _check_scheduler(file: Path, saved, scheduler) -> None:
    keys = set(scheduler.state_dict())
    if not isinstance(saved, dict) or not keys <= set(saved):
        found = sorted(saved) if isinstance(saved, dict) else type(saved).__name__
        raise CheckpointError(f"{file} is not this run's schedule: expected {sorted(keys)}, "
                              f"found {found}.")
    if not isinstance(saved.get("last_epoch"), int) or len(saved.get("base_lrs") or ()) != len(
            scheduler.base_lrs):
        raise CheckpointError(f"{file} is not this run's schedule (last_epoch "
                              f"{saved.get('last_epoch')!r}, base_lrs {saved.get('base_lrs')!r}).")


def _read_counters(file: Path) -> dict:
    try:
        state = json.loads(file.read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{file} is not valid JSON ({err}).") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{file} holds {type(state).__name__}, not the run's counters.")
    for name in ("step", "epoch", "batch_in_epoch"):
        value = state.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CheckpointError(f"{file}: {name}={value!r} is not a count (a whole number >= 0).")
    if not isinstance(state.get("records", []), list):
        raise CheckpointError(f"{file}: records is not a list.")
    return state


def _check_rng(file: Path, states) -> None:
    """Each process's RNG state set on throwaway generators: the global ones are not touched."""
    if not isinstance(states, list) or not states:
        raise CheckpointError(f"{file} holds no RNG states.")
    try:
        for state in states:
            random.Random().setstate(state["python"])
            name, keys, pos, has_gauss, gauss = state["numpy"]
            np.random.RandomState().set_state((name, keys.numpy().astype(np.uint32), pos,
                                               has_gauss, gauss))
            torch.Generator().set_state(state["torch"])
            if not all(torch.is_tensor(s) for s in state.get("cuda", [])):
                raise TypeError("the CUDA states are not tensors")
    except Exception as err:
        raise CheckpointError(f"{file} is not a valid RNG state ({type(err).__name__}: "
                              f"{str(err)[:200]}).") from err


def read_state(path: str | os.PathLike) -> dict:
    return json.loads((Path(path) / STATE_FILE).read_text())

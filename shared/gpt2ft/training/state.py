"""Where a run stands (:class:`RunState`), written into every checkpoint and read back on resume.

Introduced in ``sprints/sprint12_book/05_appendix_engine`` (resume a killed run
exactly); the files are written by :mod:`gpt2ft.training.checkpointing`.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gpt2ft.training import checkpointing as ckpt
from gpt2ft.training import runs
from gpt2ft.training.config import NonFiniteLossError
from gpt2ft.training.reporting import say
from gpt2ft.training.runtime import check_new_length


@dataclass
class RunState:
    """Everything the loop counts. Saved as ``trainer_state.json`` in each checkpoint."""

    total_steps: int
    world_size: int
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0  # global batches of this epoch already used
    best_eval_loss: float | None = None
    best_step: int | None = None
    evals_without_improvement: int = 0
    stopped_early: bool = False
    records: list[dict] = field(default_factory=list)

    def epoch_float(self, batches_per_epoch: int) -> float:
        return round(self.epoch + self.batch_in_epoch / max(1, batches_per_epoch), 4)

    def advance(self, batch_end: int, batches_in_epoch: int) -> None:
        """One optimizer step done, having used the epoch's batches up to ``batch_end``."""
        self.step += 1
        self.batch_in_epoch = batch_end
        if batch_end >= batches_in_epoch:
            self.epoch += 1
            self.batch_in_epoch = 0

    def track(self, eval_loss: float, min_delta: float, patience: int) -> bool:
        """Count an evaluation; True when it is the best so far. Sets ``stopped_early``."""
        improved = self.best_eval_loss is None or eval_loss < self.best_eval_loss - min_delta
        if improved:
            self.best_eval_loss, self.best_step = eval_loss, self.step
            self.evals_without_improvement = 0
        else:
            self.evals_without_improvement += 1
            if patience and self.evals_without_improvement >= patience:
                self.stopped_early = True
        return improved

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- checkpoints

def save_checkpoint(rt, state: RunState, out_dir: Path, tokenizer_files=None) -> Path:
    """A full training checkpoint ``step-NNNNNN`` (every process's RNG state in it), with the
    identity of the run folder it belongs to."""
    from accelerate.utils import gather_object
    rng = ckpt.rng_state()
    rng_states = gather_object([rng]) if rt.world > 1 else [rng]
    step_dir = out_dir / ckpt.step_name(state.step)
    if rt.is_main:
        writers = ckpt.training_writers(rt.model, rt.optimizer, rt.scheduler, rt.scaler, rng_states,
                                        state.to_json())
        ckpt.write_checkpoint(step_dir, {**writers, **ckpt.identity_writer(runs.read_identity(out_dir)),
                                         **ckpt.pretrained_writers(rt.model, tokenizer_files)})
        ckpt.prune_checkpoints(out_dir, rt.cfg.keep_checkpoints)
    rt.accelerator.wait_for_everyone()
    return step_dir


def save_best(rt, state: RunState, out_dir: Path, tokenizer_files=None) -> None:
    if rt.is_main:
        info = json.dumps({"step": state.step, "eval_loss": state.best_eval_loss}, indent=1)
        ckpt.write_checkpoint(out_dir / ckpt.BEST, {
            ckpt.MODEL_FILE: lambda p: ckpt.save_weights(p, rt.model),
            ckpt.STATE_FILE: lambda p: ckpt.write_bytes(p, info.encode()),
            **ckpt.identity_writer(runs.read_identity(out_dir)),
            **ckpt.pretrained_writers(rt.model, tokenizer_files)})
    rt.accelerator.wait_for_everyone()


def resume(rt, state: RunState, out_dir: Path) -> Path | None:
    """Load the newest checkpoint of ``out_dir`` that is this run's and loads whole.

    All or nothing: a checkpoint is read and checked completely before any part of
    it touches the model (:func:`ckpt.read_training_checkpoint`); one that fails,
    or was written by another run, changes nothing and the one before it is tried.
    When none loads the run starts from step 0 with its original weights, and says so.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = _load_newest(rt, out_dir, runs.read_identity(out_dir), state.total_steps)
    for w in caught:  # said once, by the main process
        if rt.is_main:
            warnings.warn(w.message, w.category, stacklevel=4)
    if found is None:
        return None
    path, saved, rng_states = found
    if saved.get("world_size", rt.world) != rt.world:
        warnings.warn(f"{path} was written by {saved.get('world_size')} processes, this run has "
                      f"{rt.world}: the data order changes from here on.", stacklevel=4)
    for f in dataclasses.fields(RunState):  # all it counted; the size of this run is its own
        if f.name not in ("total_steps", "world_size") and f.name in saved:
            setattr(state, f.name, saved[f.name])
    ckpt.set_rng_state(rng_states[min(rt.accelerator.process_index, len(rng_states) - 1)])
    return path


def _load_newest(rt, out_dir: Path, identity: dict | None, total_steps: int):
    """The newest checkpoint that verifies, is this run's *and* reads whole (a pickle that is
    not plain data does not); nothing of a failing one reaches the model."""
    newest_first = list(reversed(ckpt.list_checkpoints(out_dir)))
    for i, path in enumerate(newest_first):
        try:
            ckpt.verify_checkpoint(path)
            loaded = ckpt.read_training_checkpoint(path, rt.model, rt.optimizer, rt.scheduler,
                                                   rt.scaler, identity)
            _check_length(rt, loaded.state, total_steps)  # before anything is loaded
            ckpt.apply_training_checkpoint(loaded, rt.model, rt.optimizer, rt.scheduler, rt.scaler)
        except ckpt.CheckpointError as err:
            ckpt.skipped(path, err, newest_first[i + 1] if i + 1 < len(newest_first) else None)
            continue
        return path, loaded.state, loaded.rng_states
    if newest_first:
        checked = _still_original(rt, identity, out_dir)
        warnings.warn(
            f"No checkpoint in {out_dir} could be resumed ({len(newest_first)} skipped, each named "
            "above): nothing of them was loaded, and the run starts from step 0 with its original "
            f"weights{checked}.", ckpt.CheckpointWarning, stacklevel=3)
    return None


def _still_original(rt, identity: dict | None, out_dir: Path) -> str:
    """Check the weights against the identity's fingerprint of the starting weights."""
    if identity is None or hasattr(rt.model, "get_base_model"):  # a LoRA wrapper renames them
        return ""
    if runs.weights_fingerprint(rt.model) != identity.get("model"):
        raise RuntimeError(f"The weights of the run in {out_dir} are not its starting "
                           "weights although no checkpoint was loaded; please report this.")
    return " (checked against the run's identity)"


def _check_length(rt, saved: dict, total_steps: int) -> None:
    """A run whose length changed (``MAX_STEPS``/``EPOCHS``; not part of its identity) goes on
    only where its schedule allows it: said in one line, or refused before anything loads."""
    planned = saved.get("total_steps", total_steps)
    if planned != total_steps:
        line = check_new_length(rt.cfg, saved["step"], planned, total_steps)  # raises on every process
        if rt.is_main and rt.cfg.verbose:
            say(line)


# --------------------------------------------------------------------------- non-finite losses

class FiniteCheck:
    """Losses since the last check, kept on the device; :meth:`check` raises on NaN/inf.

    On a GPU a check per step would stall the queue, so the loop checks only when
    it reads the device anyway (log, eval, save); on a CPU it costs nothing.
    """

    def __init__(self):
        self.pending: list[tuple[torch.Tensor, int, int, int]] = []  # (bad?, step, epoch, batch)

    def add(self, loss: torch.Tensor, step: int, epoch: int, batch_index: int) -> None:
        self.pending.append((~torch.isfinite(loss), step, epoch, batch_index))

    def check(self, rt, sampler, out_dir: Path) -> None:
        if not self.pending:
            return
        flags = torch.stack([f for f, *_ in self.pending])
        bad = flags.any().to(torch.float32)
        if rt.world > 1:
            bad = rt.accelerator.reduce(bad, "sum")
        if bad.item() > 0:
            raise self._error(flags.nonzero(), sampler, out_dir)
        self.pending.clear()

    def _error(self, local, sampler, out_dir: Path) -> NonFiniteLossError:
        if len(local):
            _, step, epoch, b = self.pending[int(local[0])]
            rows = sampler.rank_slice(sampler.global_batches(epoch)[b])
        else:  # another process saw it
            (_, step, epoch, b), rows = self.pending[-1], []
        last = ckpt.latest_valid_checkpoint(out_dir, checksums=False, warn=False)
        return NonFiniteLossError(
            f"Non-finite training loss at optimizer step {step} (epoch {epoch}, batch {b} of the "
            f"epoch, dataset rows {rows[:8]}{'...' if len(rows) > 8 else ''}"
            f"{'' if len(local) else ', in another process'}). The run stopped; nothing was saved "
            f"after it. Last good checkpoint: {last or 'none written yet'}. Try a lower learning "
            "rate, mixed_precision='bf16' instead of 'fp16', or check those rows.",
            step, epoch, b, rows, last)

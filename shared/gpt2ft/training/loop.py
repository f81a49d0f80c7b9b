"""``train()``: the set-up once, then the whole loop in one body you can scroll through.

The loop is written out by hand in ``sprints/sprint11_classification/04_finetune``
(forward, cross-entropy, backward, clip, step, schedule, evaluate) and checked
there against this function step for step; ``sprints/sprint12_book/05_appendix_engine``
shows what the engine adds around it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from gpt2ft.core.paths import writing
from gpt2ft.training import checkpointing as ckpt
from gpt2ft.training import runs
from gpt2ft.training.callbacks import ProgressBar, run_hooks
from gpt2ft.training.config import TrainConfig, TrainResult, identity_settings
from gpt2ft.training.evaluation import eval_pass
from gpt2ft.training.inputs import TrainData, check_data, make_train_data
from gpt2ft.training.reporting import Meter, divergence, eval_line, records_frame, say, start_line
from gpt2ft.training.runtime import Runtime, build_runtime, make_accelerator, plan
from gpt2ft.training.state import FiniteCheck, RunState, resume, save_best, save_checkpoint
from gpt2ft.training.step import optimizer_step


def train(model: torch.nn.Module, train_dataset, eval_dataset=None,
          cfg: TrainConfig | None = None, collate_fn: Callable | None = None,
          loss_fn: Callable | None = None, metrics_fn: Callable | None = None,
          callbacks: Sequence = (), max_length: int | None = None, tokenizer=None,
          source=None, about: dict | None = None) -> TrainResult:
    """Train ``model`` on ``train_dataset``; see the package docstring.

    ``loss_fn(outputs, batch)`` replaces ``outputs.loss`` (labels are then not
    passed to the model); ``metrics_fn(preds, labels)`` gets NumPy arrays of
    the whole eval set (logits for classifiers, argmax token ids for language
    models) and returns a dict of numbers. With a ``tokenizer`` every checkpoint
    also loads with ``from_pretrained``/``pipeline``. ``source`` is the data as the
    notebook holds it (a book's text, the records...): part of the run's identity, so a
    later notebook finds this run from the same data (``runs.find_finetuned``).
    ``about`` (the data source, the command...) is written beside the identity, not compared. TF32
    matmuls are switched on for the run on a GPU (not with ``mixed_precision="no"``: plain
    float32) and the previous setting restored.
    """
    from accelerate.utils import set_seed
    if cfg is None:
        raise ValueError("Pass a TrainConfig, e.g. TrainConfig(output_dir=runs_dir('demo')).")
    cfg.validate()
    limit, lengths = check_data(model, train_dataset, eval_dataset, cfg, max_length)
    chosen = plan(cfg, model, loss_fn)  # every check before any work
    identity = {"settings": identity_settings(cfg), "device": chosen.device,
                "precision": chosen.precision, "model": runs.weights_fingerprint(model),
                "train_data": runs.data_fingerprint(train_dataset),
                "eval_data": runs.data_fingerprint(eval_dataset),
                "source": None if source is None else runs.source_fingerprint(source),
                "loss": runs.callable_fingerprint(loss_fn)}
    with _tf32_restored():
        acc = make_accelerator(chosen.device)
        out_dir = _claim_output_dir(cfg, identity, about, acc)
        set_seed(cfg.seed)
        data = make_train_data(cfg, model, train_dataset, eval_dataset, collate_fn, limit, lengths,
                               acc.num_processes, acc.process_index, chosen.device)
        rt = build_runtime(cfg, chosen, acc, model, loss_fn, data.total_steps)
        state = RunState(total_steps=data.total_steps, world_size=rt.world)
        resumed_from = resume(rt, state, out_dir) if cfg.resume else None
        hooks = ([ProgressBar()] if cfg.progress_bar else []) + list(callbacks)
        files = ckpt.tokenizer_files(tokenizer) if rt.is_main else None
        return _fit(rt, data, state, out_dir, hooks if rt.is_main else [], metrics_fn,
                    resumed_from, files)


def _fit(rt: Runtime, data: TrainData, state: RunState, out_dir: Path, hooks: list,
         metrics_fn, resumed_from: Path | None, tokenizer_files) -> TrainResult:
    """The loop: epochs -> optimizer steps -> micro-batches, then log / evaluate / save."""
    cfg, acc = rt.cfg, rt.accelerator
    meter, finite, clock = Meter(acc.device), FiniteCheck(), _Clock()
    last_checkpoint = resumed_from
    if rt.is_main and cfg.verbose:
        say(start_line(rt, data, resumed_from, state.step))
    run_hooks(hooks, "on_start", {"total_steps": state.total_steps, "start_step": state.step,
                                  "device": rt.device, "precision": rt.precision,
                                  "processes": rt.world})
    with _use_cache_off(rt.model):
        rt.train_model.train()
        while state.step < state.total_steps and not state.stopped_early:
            epoch, n_batches = state.epoch, data.batches_in(state.epoch)
            batches = iter(data.loader(epoch, state.batch_in_epoch))
            while state.epoch == epoch and state.step < state.total_steps and not state.stopped_early:
                # 1-2. one optimizer step (training/step.py): forward and backward over its
                #      micro-batches, clip, step, schedule (a window never crosses an epoch's end)
                first = state.batch_in_epoch
                end = min((first // cfg.grad_accum_steps + 1) * cfg.grad_accum_steps, n_batches)
                done = optimizer_step(rt, batches, first, end, data.max_batch_tokens)
                for b, batch_loss, batch in done.batch_losses:
                    meter.add(batch_loss, batch)
                    finite.add(batch_loss, state.step + 1, epoch, b)
                lr, grad_norm = done.lr, done.grad_norm
                state.advance(end, n_batches)
                # 3. log, evaluate, keep the best, save: only when due (the host reads the device here)
                step, last_step = state.step, state.step >= state.total_steps
                do_log = step % cfg.log_every == 0 or last_step
                do_eval = data.eval_loader is not None and (_due(step, data.every(cfg.eval_every))
                                                            or last_step)
                do_save = _due(step, data.every(cfg.save_every)) or (last_step and cfg.save_final)
                if rt.device == "cpu" or do_log or do_eval or do_save:
                    finite.check(rt, data.sampler, out_dir)
                if do_log:
                    mean = meter.take_mean_loss()
                    record = {"step": step, "epoch": state.epoch_float(n_batches),
                              "train_loss": (acc.reduce(mean, "mean") if rt.world > 1 else mean).item(),
                              "lr": lr}
                    if grad_norm is not None:
                        record["grad_norm"] = float(grad_norm)
                    state.records.append(record)
                    run_hooks(hooks, "on_log", record)
                with clock.excluded():  # evaluation and checkpoints are not training throughput
                    if do_eval:
                        record = eval_pass(rt, data.eval_loader, metrics_fn, step,
                                          state.epoch_float(n_batches))
                        state.records.append(record)
                        improved = state.track(record["eval_loss"], cfg.early_stopping_min_delta,
                                               cfg.early_stopping_patience)
                        if improved:
                            save_best(rt, state, out_dir, tokenizer_files)
                        run_hooks(hooks, "on_eval", record)
                        if rt.is_main and cfg.verbose:
                            say(eval_line(record, improved, state.stopped_early))
                    if do_save or (state.stopped_early and cfg.save_final):
                        last_checkpoint = save_checkpoint(rt, state, out_dir, tokenizer_files)
                run_hooks(hooks, "on_step_end", step)
        finite.check(rt, data.sampler, out_dir)
        if rt.device == "cuda":
            torch.cuda.synchronize()
    clock.stop()
    return _finish(rt, data, state, out_dir, meter, clock, hooks, last_checkpoint, resumed_from,
                   metrics_fn)


def _due(step: int, every: int | None) -> bool:
    return bool(every and step % every == 0)


def _finish(rt: Runtime, data: TrainData, state: RunState, out_dir: Path, meter: Meter,
            clock: _Clock, hooks: list, last_checkpoint, resumed_from, metrics_fn) -> TrainResult:
    tokens, samples = meter.tokens, meter.samples
    if rt.world > 1:
        tokens, samples = rt.accelerator.reduce(tokens, "sum"), samples * rt.world
    best, best_loss = None, state.best_eval_loss
    if data.eval_loader is not None:
        # verified, and this run's; a corrupt best/ or another run's is named in a warning
        best = ckpt.run_best(out_dir, runs.read_identity(out_dir))
        if rt.cfg.load_best_at_end and best is not None:
            ckpt.load_weights(rt.model, best, verified=True)  # best_checkpoint verified it
        elif rt.cfg.load_best_at_end:  # no copy of the best weights verifies: score these instead
            best_loss = eval_pass(rt, data.eval_loader, metrics_fn, state.step,
                                 state.epoch_float(data.batches_in(state.epoch)))["eval_loss"]
    rt.accelerator.wait_for_everyone()
    # the eval loss of the weights returned: above the uniform baseline, the run diverged
    evals = [r["eval_loss"] for r in state.records if r.get("eval_loss") is not None]
    final = best_loss if rt.cfg.load_best_at_end else (evals[-1] if evals else None)
    diverged = divergence(rt.model, rt.causal, final, rt.cfg.learning_rate)
    if diverged and rt.is_main and rt.cfg.verbose:
        say(diverged)
    train_time = clock.training_time()
    result = TrainResult(
        history=records_frame(state.records), best_checkpoint=best,
        best_eval_loss=best_loss, stopped_early=state.stopped_early, model=rt.model,
        elapsed_s=clock.elapsed(), tokens_per_s=float(tokens.item()) / train_time,
        samples_per_s=samples / train_time, steps=state.step, last_checkpoint=last_checkpoint,
        resumed_from=resumed_from, run_dir=out_dir, diverged=diverged)
    run_hooks(hooks, "on_end", result)
    return result


def _claim_output_dir(cfg: TrainConfig, identity: dict, about: dict | None, acc) -> Path:
    """The run folder, made this run's: the same identity resumes, another is refused.

    ``resume=False`` starts over: an earlier run of the same identity is replaced
    (it is this run); a folder holding any other run is kept under a new name.
    """
    out_dir = runs.run_dir(cfg.output_dir, cfg.run_name, identity)
    if acc.is_main_process and cfg.verbose and cfg.run_name and not out_dir.exists():
        _name_the_others(out_dir)
    if acc.is_main_process:
        with writing(out_dir.parent, f"the run folder {out_dir.name}", "every file already there"):
            if not cfg.resume and out_dir.is_dir() and any(out_dir.iterdir()):
                _start_over(out_dir, identity, cfg.verbose)
            out_dir.mkdir(parents=True, exist_ok=True)
            ckpt.clean_temporaries(out_dir)
    acc.wait_for_everyone()
    runs.claim(out_dir, identity, write=acc.is_main_process)  # every process checks
    if acc.is_main_process and about:
        (out_dir / "about.json").write_text(json.dumps(about, indent=1, default=str))
    acc.wait_for_everyone()
    return out_dir


def _name_the_others(out_dir: Path) -> None:
    """A new run beside older runs of the same name: say where they are and what they take."""
    others = runs.others_of(out_dir)
    if others:
        listed = "; ".join(f"{o.folder.name} ({o.state}{', step ' + o.steps if o.steps else ''}, "
                           f"{runs.human_size(o.size)})" for o in others)
        say(f"new run {out_dir.name}: this model, data or a setting differs from the other "
            f"{out_dir.name.rsplit('-', 1)[0]!r} runs beside it, kept in {out_dir.parent}: {listed}. "
            f"`gpt2ft runs` lists every run; `gpt2ft runs --remove <run>` deletes one.")


def _start_over(out_dir: Path, identity: dict, verbose: bool) -> None:
    try:
        same = runs.claim(out_dir, identity, write=False)  # False where the folder holds no identity
    except runs.RunMismatchError:
        same = False
    if same:  # this very run again: its old checkpoints go
        for path in out_dir.iterdir():  # a link is removed, never followed: its target is kept
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        return
    kept = runs.keep_aside(out_dir)
    if verbose:
        say(f"resume=False: the other run that was in {out_dir.name} is kept in {kept}")


class _Clock:
    """Wall time of the loop, and the part spent training (eval and saving left out)."""

    def __init__(self):
        self.start, self.excluded_s = time.perf_counter(), 0.0
        self.end: float | None = None

    @contextlib.contextmanager
    def excluded(self):
        t0 = time.perf_counter()
        yield
        self.excluded_s += time.perf_counter() - t0

    def stop(self) -> None:
        self.end = time.perf_counter()

    def elapsed(self) -> float:
        return (self.end or time.perf_counter()) - self.start

    def training_time(self) -> float:
        return max(1e-9, self.elapsed() - self.excluded_s)


@contextlib.contextmanager
def _use_cache_off(model):
    """No key/value cache while training (it is for generation, and costs memory)."""
    config = getattr(model, "config", None)
    old = getattr(config, "use_cache", None)
    if old is not None:
        config.use_cache = False
    try:
        yield
    finally:
        if old is not None:
            config.use_cache = old


@contextlib.contextmanager
def _tf32_restored():
    flags = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags

"""What a run is asked to do (:class:`TrainConfig`, checked when built) and what it returns.

Introduced in ``sprints/sprint11_classification/04_finetune`` (the recipe written
out as one ``TrainConfig``); every sprint's training cell builds one.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gpt2ft.training.strategies import STRATEGIES, check_strategy

SCHEDULERS = ("linear", "cosine", "constant")
MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
COMPILE_MODES = (False, True, "default", "reduce-overhead", "max-autotune",
                 "max-autotune-no-cudagraphs")
DEVICES = ("auto", "cpu", "cuda")
LM_LOSSES = ("auto", "model", "chunked")


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; says where, and what was kept."""

    def __init__(self, message: str, step: int, epoch: int, batch_index: int,
                 rows: Sequence[int], checkpoint: Path | None):
        super().__init__(message)
        self.step, self.epoch, self.batch_index = step, epoch, batch_index
        self.rows, self.checkpoint = list(rows), checkpoint


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class TrainConfig:
    """Everything the loop needs; checked as soon as it is built.

    Steps (``max_steps``, ``eval_every``, ``save_every``, ``log_every``,
    ``warmup``) count optimizer steps. ``batch_size`` is per process and per
    micro-batch: the global batch is ``batch_size * grad_accum_steps *
    processes``. ``max_steps`` caps the run (it never trains past ``num_epochs``;
    0 = no cap). A batch of more than ``max_batch_tokens`` (rows x longest row; 0 =
    the engine's choice by the device's memory)
    is cut into micro-batches whose gradients add up to the batch's own, so a
    long-text batch fits in memory and the step is the same (exactly without
    dropout; with dropout each micro-batch draws its own masks, the same step
    in expectation).
    ``mixed_precision``: ``"auto"`` is bf16 (or fp16) on a GPU, with TF32 matrix products,
    and float32 on a CPU; ``"no"`` is plain float32 everywhere (no TF32 either).
    ``eval_every``/``save_every``: a number of steps, ``"epoch"`` (the end of
    every epoch) or ``None`` (only at the end). ``strategy=None``
    trains the parameters as the model has them.

    ``run_name``: the run names its own folder. With it, ``output_dir`` is the
    parent and the run goes to ``<output_dir>/<run_name>-<8 hex digits of its
    identity>`` (:func:`gpt2ft.training.runs.run_dir`): another model, other data
    or another setting that changes the result gets another folder, so no run
    resumes or overwrites another. The length (``num_epochs``, ``max_steps``) is not
    part of the identity: a run asked to go longer extends its folder's run where the
    schedule allows it, and is refused otherwise. Without ``run_name``, ``output_dir``
    is the run folder.
    """

    output_dir: str | os.PathLike
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    batch_size: int = 8
    eval_batch_size: int | None = None
    grad_accum_steps: int = 1
    num_epochs: int = 1
    max_steps: int = 0  # 0 = no cap
    warmup_ratio: float = 0.1
    warmup_steps: int | None = None
    scheduler: str = "linear"
    max_grad_norm: float | None = 1.0
    eval_every: int | str | None = 50
    save_every: int | str | None = 50
    log_every: int = 10
    early_stopping_patience: int = 0  # evaluations without improvement before stopping; 0 = never
    early_stopping_min_delta: float = 0.0
    load_best_at_end: bool = False
    mixed_precision: str = "auto"
    compile: bool | str = False
    seed: int = 0
    length_grouped: bool = False
    keep_checkpoints: int = 2
    resume: bool = True
    save_final: bool = True
    strategy: str | None = None
    last_k: int | None = None
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_target_modules: tuple[str, ...] | None = None
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    pad_to_multiple_of: int | None = None
    max_batch_tokens: int = 0  # split longer batches into micro-batches; 0 = by the device's memory
    num_workers: int = 0
    device: str = "auto"
    lm_loss: str = "auto"
    progress_bar: bool = True
    verbose: bool = True
    run_name: str | None = None

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` saying what is allowed, for the first bad setting."""
        for name, ok, allowed in _rules(self):
            if not ok:
                raise ConfigError(name, getattr(self, name), allowed)
        check_strategy(self.strategy, self.last_k)


class ConfigError(ValueError):
    """A :class:`TrainConfig` setting is not allowed; ``allowed`` says what is."""

    def __init__(self, field: str, value, allowed: str):
        super().__init__(f"TrainConfig.{field}={value!r} is not allowed: {allowed}.")
        self.field, self.value, self.allowed = field, value, allowed


def check_setting(field: str, value) -> None:
    """Check one setting by the rule of :class:`TrainConfig` (the only place it is written).

    Raises :class:`ConfigError`; ``gpt2ft.session.settings.configure`` calls it for
    the parameters cell's training knobs before any work.
    """
    TrainConfig(output_dir=".", **{field: value})


def _whole(value, low: int, optional: bool = False) -> bool:
    return (optional and value is None) or (_is_int(value) and value >= low)


def _steps_or_epoch(value) -> bool:
    return value is None or value == "epoch" or _whole(value, 1)


def _rules(c: TrainConfig) -> list[tuple[str, bool, str]]:
    """(setting, is it allowed, what is allowed) for every checked setting, in order."""
    lr = c.learning_rate
    return [
        ("output_dir", c.output_dir is not None and str(c.output_dir) != "",
         "give a folder for checkpoints, e.g. runs_dir('sprint11', 'tiny')"),
        ("learning_rate", _is_number(lr) and math.isfinite(lr) and lr > 0,
         "use a positive finite number, e.g. 5e-5"),
        ("weight_decay", _is_number(c.weight_decay) and c.weight_decay >= 0,
         "use a number >= 0, e.g. 0.01"),
        ("batch_size", _whole(c.batch_size, 1), "use a whole number >= 1, e.g. 8"),
        ("eval_batch_size", _whole(c.eval_batch_size, 1, optional=True),
         "use None (same as batch_size) or a whole number >= 1"),
        ("grad_accum_steps", _whole(c.grad_accum_steps, 1),
         "use a whole number >= 1 (1 = no accumulation)"),
        ("num_epochs", _whole(c.num_epochs, 1), "use a whole number >= 1"),
        ("max_steps", _whole(c.max_steps, 0),
         "use 0 (no cap: num_epochs decide) or a whole number >= 1 (a cap: at most num_epochs are run)"),
        ("warmup_ratio", _is_number(c.warmup_ratio) and 0 <= c.warmup_ratio < 1,
         "use a fraction in [0, 1), e.g. 0.1"),
        ("warmup_steps", _whole(c.warmup_steps, 0, optional=True),
         "use None (use warmup_ratio) or a whole number >= 0"),
        ("scheduler", c.scheduler in SCHEDULERS, f"use one of {', '.join(SCHEDULERS)}"),
        ("max_grad_norm", c.max_grad_norm is None or (_is_number(c.max_grad_norm)
                                                      and c.max_grad_norm > 0),
         "use None (no clipping) or a positive number, e.g. 1.0"),
        ("eval_every", _steps_or_epoch(c.eval_every),
         "use None (only at the end), 'epoch' or a whole number of steps >= 1"),
        ("save_every", _steps_or_epoch(c.save_every),
         "use None (only at the end), 'epoch' or a whole number of steps >= 1"),
        ("log_every", _whole(c.log_every, 1), "use a whole number of steps >= 1"),
        ("early_stopping_patience", _whole(c.early_stopping_patience, 0),
         "use 0 (no early stopping) or a whole number of evaluations >= 1"),
        ("mixed_precision", c.mixed_precision in MIXED_PRECISION,
         f"use one of {', '.join(MIXED_PRECISION)}"),
        ("compile", c.compile in COMPILE_MODES, "use False, True, or a torch.compile mode: "
         + ", ".join(m for m in COMPILE_MODES if isinstance(m, str))),
        ("seed", _whole(c.seed, 0), "use a whole number >= 0"),
        ("keep_checkpoints", _whole(c.keep_checkpoints, 1),
         "use a whole number >= 1 (the last good one is always kept)"),
        ("strategy", c.strategy is None or c.strategy in STRATEGIES,
         f"use None or one of {', '.join(STRATEGIES)}"),
        ("pad_to_multiple_of", _whole(c.pad_to_multiple_of, 1, optional=True),
         "use None or a whole number >= 1, e.g. 8"),
        ("max_batch_tokens", _whole(c.max_batch_tokens, 0),
         "use 0 (the engine's choice: by the device's memory) or a whole number of tokens >= 1, "
         "e.g. 4096"),
        ("num_workers", _whole(c.num_workers, 0),
         "use a whole number >= 0 (0 = load in the main process)"),
        ("device", c.device in DEVICES, f"use one of {', '.join(DEVICES)}"),
        ("lm_loss", c.lm_loss in LM_LOSSES,
         "use 'auto' (chunked on a CPU, the model's own loss on a GPU), 'model' or 'chunked'"),
        ("run_name", c.run_name is None or (isinstance(c.run_name, str)
                                            and re.fullmatch(r"[\w.+-]+", c.run_name) is not None),
         "use None (output_dir is the run folder) or a folder-safe name: letters, digits, . _ + -"),
    ]


def config_dict(cfg: TrainConfig) -> dict:
    """The settings as plain JSON-able values (paths as strings)."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(cfg).items()}


def throwaway(cfg: TrainConfig, **changes) -> TrainConfig:
    """``cfg`` (with ``changes``) for a run whose only product is what it returns (an exercise,
    a sweep, a check): no step checkpoints and no final export, no resume (each call trains from
    the start, in place of its own earlier run), every step's loss logged, no progress bar, no
    lines. Given held-out rows, the engine still keeps the best evaluated weights in the run's
    ``best/`` (about 0.5 GB for SmolLM2), the one thing on disk.

    Introduced in ``sprints/sprint12_book/06_exercises``. The recipe and the run's name are
    ``cfg``'s; a change asked for wins (``save_final=True`` keeps the last weights).
    """
    keep_nothing = dict(save_every=None, save_final=False, resume=False, log_every=1,
                        progress_bar=False, verbose=False)
    return dataclasses.replace(cfg, **{**keep_nothing, **changes})


def step_by_step(cfg: TrainConfig, steps: int, **changes) -> TrainConfig:
    """``cfg``'s recipe for ``steps`` optimizer steps, to compare with a loop written by hand.

    Introduced in ``sprints/sprint11_classification/04_finetune`` (and used again by the
    causal-LM loop of ``sprint12_book/02_finetune`` and the masked-loss loop of
    ``sprint13_instructions/03_finetune``). The same learning rate, weight decay, warm-up and
    schedule (of a ``steps``-step run), clipping, batch size, strategy and seed; the loop's
    own arithmetic: float32 (``mixed_precision="no"``: no autocast, no TF32 on a GPU), not
    compiled, one batch per optimizer step, never cut into micro-batches; every step's loss,
    learning rate and gradient norm logged; no evaluation before the end (one after the last
    step when ``train`` is given held-out rows), no early stopping, the last weights returned.
    A :func:`throwaway` run; its folder is ``<run_name>-by-hand-<hash>``.
    ``changes`` are the loop's own settings (``warmup_steps=1``, ``device=run.device``: the
    device the loop by hand ran on).
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps={steps!r}: use a whole number of optimizer steps >= 1, e.g. 10.")
    loop = dict(run_name=f"{cfg.run_name or 'run'}-by-hand", max_steps=steps,
                num_epochs=max(cfg.num_epochs, steps), eval_every=None, load_best_at_end=False,
                early_stopping_patience=0, mixed_precision="no", compile=False, grad_accum_steps=1,
                max_batch_tokens=sys.maxsize)
    return throwaway(cfg, **{**loop, **changes})


@dataclass
class TrainResult:
    history: Any  # pandas.DataFrame, one row per logged/evaluated step
    best_checkpoint: Path | None
    best_eval_loss: float | None
    stopped_early: bool
    model: torch.nn.Module
    elapsed_s: float
    tokens_per_s: float
    samples_per_s: float = 0.0
    steps: int = 0
    last_checkpoint: Path | None = None
    resumed_from: Path | None = None
    run_dir: Path | None = None  # the run's folder (named by its identity when run_name is set)
    diverged: str | None = None  # why the final eval loss is above the uniform baseline, if it is


# Settings that do not change what a run computes: left out of its identity, so a run
# resumes after a change of these (where checkpoints go, how often, how it is shown).
# Its length (max_steps, num_epochs) is left out too: a longer run of the same identity
# extends the shorter one where the schedule allows it (runtime.check_new_length).
NOT_IDENTITY = ("output_dir", "resume", "save_every", "save_final", "keep_checkpoints", "log_every",
                "num_workers", "eval_batch_size", "compile", "progress_bar", "verbose", "run_name",
                "max_steps", "num_epochs")


def identity_settings(cfg: TrainConfig) -> dict:
    return {k: v for k, v in config_dict(cfg).items() if k not in NOT_IDENTITY}

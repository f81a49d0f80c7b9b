"""What a run is asked to do (:class:`TrainConfig`, checked when built) and what it returns.

Introduced in ``sprints/sprint11_classification/04_finetune`` (the recipe written
out as one ``TrainConfig``); every sprint's training cell builds one.
"""

from __future__ import annotations

import dataclasses
import math
import os
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
    processes``. ``max_steps`` caps the run (it never trains past ``num_epochs``).
    A batch of more than ``max_batch_tokens`` (rows x longest row)
    is cut into micro-batches whose gradients add up to the batch's own, so a
    long-text batch fits in memory and the step is the same (exactly without
    dropout; with dropout each micro-batch draws its own masks, the same step
    in expectation).
    ``eval_every``/``save_every``: a number of steps, ``"epoch"`` (the end of
    every epoch) or ``None`` (only at the end). ``strategy=None``
    trains the parameters as the model has them.
    """

    output_dir: str | os.PathLike
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    batch_size: int = 8
    eval_batch_size: int | None = None
    grad_accum_steps: int = 1
    num_epochs: int = 1
    max_steps: int | None = None
    warmup_ratio: float = 0.1
    warmup_steps: int | None = None
    scheduler: str = "linear"
    max_grad_norm: float | None = 1.0
    eval_every: int | str | None = 50
    save_every: int | str | None = 50
    log_every: int = 10
    early_stopping_patience: int | None = None
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
    max_batch_tokens: int | str | None = "auto"  # split longer batches into micro-batches
    num_workers: int = 0
    device: str = "auto"
    lm_loss: str = "auto"
    progress_bar: bool = True
    verbose: bool = True

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` saying what is allowed, for the first bad setting."""
        for name, ok, allowed in _rules(self):
            if not ok:
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r} is not allowed: "
                                 f"{allowed}.")
        check_strategy(self.strategy, self.last_k)


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
        ("max_steps", _whole(c.max_steps, 1, optional=True),
         "use None (run num_epochs) or a whole number >= 1 (a cap: at most num_epochs are run)"),
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
        ("early_stopping_patience", _whole(c.early_stopping_patience, 1, optional=True),
         "use None (no early stopping) or a whole number of evaluations >= 1"),
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
        ("max_batch_tokens", c.max_batch_tokens in (None, "auto") or _whole(c.max_batch_tokens, 1),
         "use 'auto' (by the device's memory), None (never split a batch) or a whole number of "
         "tokens >= 1, e.g. 4096"),
        ("num_workers", _whole(c.num_workers, 0),
         "use a whole number >= 0 (0 = load in the main process)"),
        ("device", c.device in DEVICES, f"use one of {', '.join(DEVICES)}"),
        ("lm_loss", c.lm_loss in LM_LOSSES,
         "use 'auto' (chunked on a CPU, the model's own loss on a GPU), 'model' or 'chunked'"),
    ]


def config_dict(cfg: TrainConfig) -> dict:
    """The settings as plain JSON-able values (paths as strings)."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(cfg).items()}


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


# Settings that do not change what a run computes: left out of its identity, so a run
# resumes after a change of these (where checkpoints go, how often, how it is shown).
NOT_IDENTITY = ("output_dir", "resume", "save_every", "save_final", "keep_checkpoints", "log_every",
                "num_workers", "eval_batch_size", "compile", "progress_bar", "verbose")


def identity_settings(cfg: TrainConfig) -> dict:
    return {k: v for k, v in config_dict(cfg).items() if k not in NOT_IDENTITY}

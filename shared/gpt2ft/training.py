"""One training loop for every sprint: fast on a GPU, honest on a CPU, never loses a run.

First used in ``sprints/sprint11_classification/04_finetune`` (through
:mod:`gpt2ft.classify`); taught step by step in ``sprints/sprint12_book/02_finetune``
(warm-up and decay, clipping, accumulation, evaluation, checkpoints, resume).

Usage::

    from gpt2ft.training import TrainConfig, train
    cfg = TrainConfig(output_dir=runs_dir("sprint11", "full"), learning_rate=5e-5,
                      batch_size=8, num_epochs=3, eval_every=50, save_every=50)
    result = train(model, train_ds, eval_ds, cfg, metrics_fn=accuracy_and_f1)
    result.history          # pandas DataFrame, one row per logged/evaluated step

What it does, and why (details in ``notes/training_engine.md``):

- **accelerate** places the model and batches, runs mixed precision, syncs
  gradients across processes; the same script runs unchanged under
  ``accelerate launch --num_processes N``.
- **On a GPU**: bf16 autocast where supported (else fp16 with loss scaling),
  fused AdamW, PyTorch SDPA attention, TF32 matmuls, pinned memory with
  non-blocking copies, optional ``torch.compile``; no GPU->CPU sync per step
  (losses are accumulated on the device and read every ``log_every`` steps).
  **On a CPU** only what is faster there too: fp32 (no autocast), fused AdamW
  (3-4x faster than PyTorch's default single-tensor loop on a CPU), no pinning.
- **Batches without waste**: dynamic padding (to a multiple of 8 on a GPU),
  optional length-grouped order; packed causal-LM blocks are just stacked.
- **Never lose a run**: checkpoints (weights, optimizer, scheduler, RNG states,
  step, data position) are written atomically, verified on resume, and a bad
  one falls back to the previous one; a resumed CPU run ends bit-identical to
  an uninterrupted one. A non-finite loss stops the run with the step and the
  batch that caused it (:class:`NonFiniteLossError`); nothing is saved after it.
- **Bad settings** are refused before any work, with what is allowed.

Gradient accumulation and several processes average *per micro-batch mean
losses*: this equals the loss of the one large batch they stand for exactly
when every micro-batch has the same number of target tokens (packed blocks,
classification); with variable-length causal-LM rows it is the usual
approximation (the same one ``transformers.Trainer`` makes without
``num_items_in_batch``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import checkpointing as ckpt
from .batching import DynamicPadding, ResumableBatchSampler, sequence_lengths
from .callbacks import Callback, LivePlot, ProgressBar, run_hooks
from .lm_loss import ChunkedLossLM, supports_chunked_loss
from .strategies import STRATEGIES, apply_strategy, check_strategy, without_adapters_wrapper

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


# --------------------------------------------------------------------------- config

def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class TrainConfig:
    """Everything the loop needs; checked as soon as it is built.

    Steps (``max_steps``, ``eval_every``, ``save_every``, ``log_every``,
    ``warmup``) count optimizer steps. ``batch_size`` is per process and per
    micro-batch: the global batch is ``batch_size * grad_accum_steps *
    processes``. ``None`` for ``eval_every``/``save_every`` means only at the
    end. ``strategy=None`` trains the parameters as the model has them.
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
    eval_every: int | str | None = 50  # steps, "epoch" (end of each epoch) or None (end)
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
    num_workers: int = 0
    device: str = "auto"
    lm_loss: str = "auto"
    progress_bar: bool = True
    verbose: bool = True

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` saying what is allowed, for the first bad setting."""
        def bad(name, allowed):
            raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r} is not allowed: "
                             f"{allowed}.")

        if self.output_dir is None or str(self.output_dir) == "":
            bad("output_dir", "give a folder for checkpoints, e.g. runs_dir('sprint11', 'tiny')")
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) \
                or lr <= 0:
            bad("learning_rate", "use a positive finite number, e.g. 5e-5")
        if not isinstance(self.weight_decay, (int, float)) or not self.weight_decay >= 0:
            bad("weight_decay", "use a number >= 0, e.g. 0.01")
        if not _is_int(self.batch_size) or self.batch_size < 1:
            bad("batch_size", "use a whole number >= 1, e.g. 8")
        if self.eval_batch_size is not None and (not _is_int(self.eval_batch_size)
                                                 or self.eval_batch_size < 1):
            bad("eval_batch_size", "use None (same as batch_size) or a whole number >= 1")
        if not _is_int(self.grad_accum_steps) or self.grad_accum_steps < 1:
            bad("grad_accum_steps", "use a whole number >= 1 (1 = no accumulation)")
        if not _is_int(self.num_epochs) or self.num_epochs < 1:
            bad("num_epochs", "use a whole number >= 1")
        if self.max_steps is not None and (not _is_int(self.max_steps) or self.max_steps < 1):
            bad("max_steps", "use None (run num_epochs) or a whole number >= 1")
        if not isinstance(self.warmup_ratio, (int, float)) or not 0 <= self.warmup_ratio < 1:
            bad("warmup_ratio", "use a fraction in [0, 1), e.g. 0.1")
        if self.warmup_steps is not None and (not _is_int(self.warmup_steps)
                                              or self.warmup_steps < 0):
            bad("warmup_steps", "use None (use warmup_ratio) or a whole number >= 0")
        if self.scheduler not in SCHEDULERS:
            bad("scheduler", f"use one of {', '.join(SCHEDULERS)}")
        if self.max_grad_norm is not None and (not isinstance(self.max_grad_norm, (int, float))
                                               or not self.max_grad_norm > 0):
            bad("max_grad_norm", "use None (no clipping) or a positive number, e.g. 1.0")
        for name in ("eval_every", "save_every"):
            value = getattr(self, name)
            if value is not None and value != "epoch" and (not _is_int(value) or value < 1):
                bad(name, "use None (only at the end), 'epoch' or a whole number of steps >= 1")
        if not _is_int(self.log_every) or self.log_every < 1:
            bad("log_every", "use a whole number of steps >= 1")
        if self.early_stopping_patience is not None and (
                not _is_int(self.early_stopping_patience) or self.early_stopping_patience < 1):
            bad("early_stopping_patience", "use None (no early stopping) or a whole number "
                "of evaluations >= 1")
        if self.mixed_precision not in MIXED_PRECISION:
            bad("mixed_precision", f"use one of {', '.join(MIXED_PRECISION)}")
        if self.compile not in COMPILE_MODES:
            bad("compile", "use False, True, or a torch.compile mode: "
                + ", ".join(m for m in COMPILE_MODES if isinstance(m, str)))
        if not _is_int(self.seed) or self.seed < 0:
            bad("seed", "use a whole number >= 0")
        if not _is_int(self.keep_checkpoints) or self.keep_checkpoints < 1:
            bad("keep_checkpoints", "use a whole number >= 1 (the last good one is always kept)")
        if self.strategy is not None and self.strategy not in STRATEGIES:
            bad("strategy", f"use None or one of {', '.join(STRATEGIES)}")
        check_strategy(self.strategy, self.last_k)
        if self.pad_to_multiple_of is not None and (not _is_int(self.pad_to_multiple_of)
                                                    or self.pad_to_multiple_of < 1):
            bad("pad_to_multiple_of", "use None or a whole number >= 1, e.g. 8")
        if not _is_int(self.num_workers) or self.num_workers < 0:
            bad("num_workers", "use a whole number >= 0 (0 = load in the main process)")
        if self.device not in DEVICES:
            bad("device", f"use one of {', '.join(DEVICES)}")
        if self.lm_loss not in LM_LOSSES:
            bad("lm_loss", "use 'auto' (chunked on a CPU, the model's own loss on a GPU), "
                "'model' or 'chunked'")


# --------------------------------------------------------------------------- result

@dataclass
class TrainResult:
    history: Any  # pandas.DataFrame
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


# --------------------------------------------------------------------------- helpers

def model_context(model: torch.nn.Module) -> int | None:
    """The longest sequence the model accepts (``n_positions``/``max_position_embeddings``)."""
    config = getattr(model, "config", None)
    for name in ("n_positions", "max_position_embeddings"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    return None


def _resolve_device(cfg: TrainConfig) -> str:
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("TrainConfig.device='cuda' but no CUDA GPU is visible; "
                         "use device='auto' or 'cpu'.")
    if cfg.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return cfg.device


def _resolve_precision(cfg: TrainConfig, device: str) -> str:
    mp = cfg.mixed_precision
    if mp == "auto":
        if device != "cuda":
            return "no"  # CPU autocast would make the tiny models slower
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if mp == "fp16" and device != "cuda":
        raise ValueError("mixed_precision='fp16' needs a CUDA GPU; on a CPU use 'no' "
                         "(or 'bf16').")
    if mp == "bf16" and device == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("This GPU does not support bf16; use mixed_precision='fp16' or 'auto'.")
    return mp


def _check_data(model, train_dataset, eval_dataset, cfg, max_length) -> tuple[int | None,
                                                                             list | None]:
    """Refuse data the model cannot take, before any work. Returns (limit, lengths)."""
    if train_dataset is None or len(train_dataset) == 0:
        raise ValueError("train_dataset is empty; give at least one example.")
    if cfg.early_stopping_patience is not None and eval_dataset is None:
        raise ValueError("early_stopping_patience needs an eval_dataset to measure eval loss.")
    if cfg.load_best_at_end and eval_dataset is None:
        raise ValueError("load_best_at_end needs an eval_dataset to pick the best weights.")
    context = model_context(model)
    if max_length is not None:
        if not _is_int(max_length) or max_length < 1:
            raise ValueError(f"max_length must be a whole number >= 1, got {max_length!r}.")
        if context is not None and max_length > context:
            raise ValueError(f"max_length={max_length} is over the model's context of {context} "
                             f"tokens; use max_length <= {context}.")
    limit = max_length or context
    first = train_dataset[0]
    if not hasattr(first, "keys") or "input_ids" not in first:
        raise ValueError("Each training example must be a dict with 'input_ids' "
                         f"(got {type(first).__name__}).")
    lengths = None
    if cfg.length_grouped:
        lengths = sequence_lengths(train_dataset)
        sample = lengths
    else:  # a deterministic sample; the collator checks every batch anyway
        n = len(train_dataset)
        idx = sorted({0, n - 1, *range(0, n, max(1, n // 256))})
        sample = [len(train_dataset[i]["input_ids"]) for i in idx]
    longest = max(sample)
    if limit is not None and longest > limit:
        what = "max_length" if max_length else "the model's context (n_positions)"
        raise ValueError(f"A training example has {longest} tokens, over {what} = {limit}. "
                         f"Use blocks/rows of at most {limit} tokens.")
    return limit, lengths


def _schedule(name: str, warmup: int, total: int) -> Callable[[int], float]:
    def fn(step: int) -> float:
        if warmup and step < warmup:
            return step / warmup
        if name == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total - warmup)
        progress = min(1.0, max(0.0, progress))
        if name == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return fn


def _optimizer(model, cfg: TrainConfig) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    seen = set()
    for _, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (decay if p.dim() >= 2 else no_decay).append(p)  # no decay for biases and norms
    if not decay and not no_decay:
        raise ValueError("No parameter of the model requires a gradient; pick a strategy "
                         f"({', '.join(STRATEGIES)}) or unfreeze some parameters.")
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    kwargs = {"lr": cfg.learning_rate, "betas": tuple(cfg.adam_betas), "eps": cfg.adam_eps}
    groups = [g for g in groups if g["params"]]
    try:  # one fused kernel per step: on CUDA, and 3-4x faster than the default on a CPU too
        return torch.optim.AdamW(groups, fused=True, **kwargs)
    except (RuntimeError, ValueError):  # a dtype/device the fused kernel does not take
        return torch.optim.AdamW(groups, **kwargs)


def _forward_keys(model) -> set[str] | None:
    base = without_adapters_wrapper(model)
    try:
        params = inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return None
    return {n for n, p in params.items()
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def _is_causal_lm(model) -> bool:
    base = without_adapters_wrapper(model)
    return type(base).__name__.endswith("LMHeadModel") or type(base).__name__.endswith(
        "ForCausalLM")


def _loss_weight(batch, causal: bool) -> torch.Tensor | int:
    labels = batch.get("labels")
    if labels is None:
        return batch["input_ids"].shape[0]
    if causal and labels.dim() >= 2:
        return (labels[..., 1:] != -100).sum()
    if labels.dim() >= 2:
        return (labels != -100).sum()
    return labels.shape[0]


def _records_frame(records: list[dict]):
    import pandas as pd
    columns = ["step", "epoch", "train_loss", "eval_loss", "eval_perplexity", "lr"]
    if not records:
        return pd.DataFrame(columns=columns)
    merged: dict[int, dict] = {}
    for rec in records:
        row = merged.setdefault(rec["step"], {})
        row.update({k: v for k, v in rec.items() if v is not None})
    frame = pd.DataFrame(list(merged.values()))
    for col in columns:
        if col not in frame:
            frame[col] = float("nan")
    extra = [c for c in frame.columns if c not in columns]
    return frame[columns + extra].sort_values("step").reset_index(drop=True)


@contextlib.contextmanager
def _use_cache_off(model):
    config = getattr(model, "config", None)
    old = getattr(config, "use_cache", None)
    if old is not None:
        config.use_cache = False
    try:
        yield
    finally:
        if old is not None:
            config.use_cache = old


def _resolve_lm_loss(cfg: TrainConfig, model, device: str, loss_fn) -> str:
    """'chunked' (head + cross-entropy a few rows at a time, :mod:`gpt2ft.lm_loss`) or 'model'.

    'auto' picks 'chunked' only where it was measured faster: on a CPU (the tiny
    LM step 1.3x faster, 10x less memory added; ``notes/training_engine.md``); on
    a GPU the compiled model's fused loss stays until measured.
    """
    possible = loss_fn is None and _is_causal_lm(model) and supports_chunked_loss(model)
    if cfg.lm_loss == "chunked" and not possible:
        why = ("a loss_fn was given" if loss_fn is not None else
               f"{type(model).__name__} is not a causal LM with a bias-free linear output layer")
        raise ValueError(f"TrainConfig.lm_loss='chunked' cannot be used: {why}. Use "
                         "lm_loss='model' (or 'auto').")
    if cfg.lm_loss == "auto":
        return "chunked" if possible and device == "cpu" else "model"
    return cfg.lm_loss


def _make_accelerator(mixed_precision: str, device: str):
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, PartialState
    state = AcceleratorState._shared_state
    if state and state.get("_mixed_precision") not in (None, mixed_precision):
        # A previous run in this process (or a Trainer) chose another precision.
        AcceleratorState._reset_state(reset_partial_state=False)
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    partial = PartialState._shared_state
    if device == "cpu" and partial and launched > partial.get("num_processes", 1):
        # `accelerate launch` started several CPU processes, but a PartialState() made
        # before train() without cpu=True saw none of them: every process would train
        # alone on all the data and write the same checkpoints. Make it again with
        # cpu=True (PartialState is shared state, so the caller's object sees it too).
        warnings.warn(f"A PartialState() created before train() without cpu=True saw 1 of the "
                      f"{launched} launched processes; train() re-made it with cpu=True. "
                      "Create it as PartialState(cpu=True) on a CPU to avoid this.",
                      stacklevel=4)
        AcceleratorState._reset_state(reset_partial_state=True)
    return Accelerator(mixed_precision=mixed_precision, cpu=(device == "cpu"),
                       step_scheduler_with_optimizer=False)


# --------------------------------------------------------------------------- train

def train(model: torch.nn.Module, train_dataset, eval_dataset=None,
          cfg: TrainConfig | None = None, collate_fn: Callable | None = None,
          loss_fn: Callable | None = None, metrics_fn: Callable | None = None,
          callbacks: Sequence = (), max_length: int | None = None) -> TrainResult:
    """Train ``model`` on ``train_dataset``; see the module docstring.

    ``loss_fn(outputs, batch)`` replaces ``outputs.loss`` (labels are then not
    passed to the model); ``metrics_fn(preds, labels)`` gets NumPy arrays of
    the whole eval set (logits for classifiers, argmax token ids for language
    models) and returns a dict of numbers. TF32 matmuls are switched on for the
    run on a GPU and the previous setting is restored afterwards.
    """
    flags = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    try:
        return _train(model, train_dataset, eval_dataset, cfg, collate_fn, loss_fn, metrics_fn,
                      callbacks, max_length)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags


def _train(model, train_dataset, eval_dataset, cfg, collate_fn, loss_fn, metrics_fn, callbacks,
           max_length) -> TrainResult:
    if cfg is None:
        raise ValueError("Pass a TrainConfig, e.g. TrainConfig(output_dir=runs_dir('demo')).")
    cfg.validate()
    limit, lengths = _check_data(model, train_dataset, eval_dataset, cfg, max_length)
    device = _resolve_device(cfg)
    precision = _resolve_precision(cfg, device)
    if cfg.compile and device != "cuda" and cfg.compile not in (True, "default"):
        raise ValueError(f"compile={cfg.compile!r} uses CUDA graphs; on a CPU use compile=True.")
    lm_loss = _resolve_lm_loss(cfg, model, device, loss_fn)
    run = _Run(cfg, device, precision, loss_fn, metrics_fn, lm_loss)
    run.setup_model(model)
    run.setup_data(train_dataset, eval_dataset, collate_fn, limit, lengths)
    run.setup_optimization()
    run.resume()
    return run.fit(callbacks)


class _Meter:
    """Running sums of one logging window, kept on the device (no host sync per step)."""

    def __init__(self, device):
        self.loss_sum = torch.zeros((), device=device)
        self.loss_count = 0
        self.tokens = torch.zeros((), device=device, dtype=torch.int64)
        self.samples = 0

    def add(self, loss: torch.Tensor, batch: dict) -> None:
        self.loss_sum += loss
        self.loss_count += 1
        mask = batch.get("attention_mask")
        self.tokens += mask.sum() if mask is not None else batch["input_ids"].numel()
        self.samples += batch["input_ids"].shape[0]

    def take_mean_loss(self) -> torch.Tensor:
        mean = self.loss_sum / max(1, self.loss_count)
        self.loss_sum = torch.zeros_like(self.loss_sum)
        self.loss_count = 0
        return mean


class _Run:
    """One call of :func:`train`: set-up, resume, the loop, and the result.

    The steps are methods so each can be read (and changed) on its own; the
    order is ``setup_model -> setup_data -> setup_optimization -> resume -> fit``.
    """

    def __init__(self, cfg: TrainConfig, device: str, precision: str, loss_fn, metrics_fn,
                 lm_loss: str = "model"):
        from accelerate.utils import set_seed
        self.cfg, self.device, self.precision, self.lm_loss = cfg, device, precision, lm_loss
        self.loss_fn, self.metrics_fn = loss_fn, metrics_fn
        self.accelerator = _make_accelerator(precision, device)
        acc = self.accelerator
        self.world, self.rank, self.is_main = acc.num_processes, acc.process_index, \
            acc.is_main_process
        self.pin = device == "cuda"  # pinned memory + non-blocking copies on a GPU only
        self.out_dir = Path(cfg.output_dir)
        self.state = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "best_eval_loss": None,
                      "best_step": None, "evals_without_improvement": 0,
                      "stopped_early": False, "records": [], "world_size": self.world}
        self.resumed_from: Path | None = None
        self.last_checkpoint: Path | None = None
        self.pending: list[tuple[torch.Tensor, int, int, int]] = []  # (non-finite?, step, epoch, b)
        set_seed(cfg.seed)

    # ---- set-up
    def setup_model(self, model) -> None:
        cfg = self.cfg
        self.model = self.raw_model = apply_strategy(
            model, cfg.strategy, cfg.last_k, lora_r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout, lora_target_modules=cfg.lora_target_modules)
        if self.device == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
            config = getattr(self.raw_model, "config", None)
            if getattr(config, "_attn_implementation", None) == "eager" and hasattr(
                    self.raw_model, "set_attn_implementation"):
                with contextlib.suppress(Exception):
                    self.raw_model.set_attn_implementation("sdpa")
        self.forward_keys = _forward_keys(self.raw_model)
        self.causal = _is_causal_lm(self.raw_model)
        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            ckpt.clean_temporaries(self.out_dir)
        self.accelerator.wait_for_everyone()

    def setup_data(self, train_dataset, eval_dataset, collate_fn, limit, lengths) -> None:
        cfg = self.cfg
        pad_id = getattr(getattr(self.raw_model, "config", None), "pad_token_id", None)
        pad_multiple = cfg.pad_to_multiple_of or (8 if self.device == "cuda" else None)
        self.collate = collate_fn or DynamicPadding(
            pad_token_id=pad_id, pad_to_multiple_of=pad_multiple, max_length=limit)
        self.train_dataset = train_dataset
        self.sampler = ResumableBatchSampler(len(train_dataset), cfg.batch_size, seed=cfg.seed,
                                             lengths=lengths, num_replicas=self.world,
                                             rank=self.rank)
        self.batches_per_epoch = self.sampler.num_batches(0)
        if self.batches_per_epoch == 0:
            raise ValueError(f"train_dataset has {len(train_dataset)} rows, fewer than the "
                             f"{self.world} processes; give more data.")
        self.steps_per_epoch = math.ceil(self.batches_per_epoch / cfg.grad_accum_steps)
        self.total_steps = cfg.max_steps or self.steps_per_epoch * cfg.num_epochs
        self.state["total_steps"] = self.total_steps
        self.eval_loader = None
        if eval_dataset is not None:  # each process evaluates every world-th row
            eval_bs = cfg.eval_batch_size or cfg.batch_size
            mine = list(range(self.rank, len(eval_dataset), self.world))
            batches = [mine[i:i + eval_bs] for i in range(0, len(mine), eval_bs)]
            self.eval_loader = torch.utils.data.DataLoader(
                eval_dataset, batch_sampler=batches, collate_fn=self.collate,
                num_workers=cfg.num_workers, pin_memory=self.pin, generator=torch.Generator())

    def setup_optimization(self) -> None:
        cfg, acc = self.cfg, self.accelerator
        warmup = cfg.warmup_steps if cfg.warmup_steps is not None else int(
            cfg.warmup_ratio * self.total_steps)
        optimizer = _optimizer(self.raw_model, cfg)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, _schedule(cfg.scheduler, warmup, self.total_steps))
        if self.lm_loss == "chunked":  # training forward returns the loss only, no logits
            self.model = ChunkedLossLM(self.model)
        self.model, self.optimizer = acc.prepare(self.model, optimizer)
        # accelerate patches forward with autocast plus a copy of every output to fp32 (the
        # whole logits tensor); take that off and autocast forward + loss here instead.
        acc.unwrap_model(self.model, keep_fp32_wrapper=False)
        self.scaler = acc.scaler
        self.train_model = self.model
        if cfg.compile:
            mode = None if cfg.compile in (True, "default") else cfg.compile
            self.train_model = torch.compile(self.model, mode=mode)
        self.eval_model = self.raw_model  # no DDP wrapper, not compiled (eval is rare)
        self.cudagraphs = cfg.compile in ("reduce-overhead", "max-autotune")

    def resume(self) -> None:
        """Load the newest valid checkpoint of ``output_dir`` (a bad one falls back)."""
        if not self.cfg.resume:
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            path = ckpt.latest_valid_checkpoint(self.out_dir)
        for w in caught:  # said once, by the main process
            if self.is_main:
                warnings.warn(w.message, w.category, stacklevel=4)
        if path is None:
            return
        saved, rng_states = ckpt.load_training_checkpoint(
            path, self.raw_model, self.optimizer, self.scheduler, self.scaler)
        if saved.get("world_size", self.world) != self.world:
            warnings.warn(f"{path} was written by {saved.get('world_size')} processes, this "
                          f"run has {self.world}: the data order changes from here on.",
                          stacklevel=4)
        self.state.update({k: v for k, v in saved.items() if k in self.state})
        self.state["total_steps"] = self.total_steps
        ckpt.set_rng_state(rng_states[min(self.rank, len(rng_states) - 1)])
        self.resumed_from = self.last_checkpoint = path

    # ---- forward, loss, evaluation
    def loader_for(self, epoch: int, start: int):
        self.sampler.set_epoch(epoch, start)
        return torch.utils.data.DataLoader(
            self.train_dataset, batch_sampler=self.sampler, collate_fn=self.collate,
            num_workers=self.cfg.num_workers, pin_memory=self.pin,
            generator=torch.Generator())  # private: the global RNG stays untouched

    def model_inputs(self, batch: dict) -> dict:
        keep = {k: v for k, v in batch.items()
                if self.forward_keys is None or k in self.forward_keys}
        if self.loss_fn is not None:
            keep.pop("labels", None)  # no wasted loss inside the model
        return keep

    def compute_loss(self, model, batch: dict):
        with self.accelerator.autocast():
            outputs = model(**self.model_inputs(batch))
            loss = self.loss_fn(outputs, batch) if self.loss_fn is not None else outputs.loss
        if loss is None:
            raise ValueError("The model returned no loss: give 'labels' in the data or a "
                             "loss_fn(outputs, batch).")
        return outputs, loss

    def evaluate(self) -> dict:
        from accelerate.utils import gather_object, send_to_device
        acc, world = self.accelerator, self.world
        self.eval_model.eval()
        loss_sum = torch.zeros((), device=acc.device, dtype=torch.float64)
        weight_sum = torch.zeros((), device=acc.device, dtype=torch.float64)
        preds, labels = [], []
        with torch.no_grad():
            for batch in self.eval_loader:
                batch = send_to_device(batch, acc.device, non_blocking=self.pin)
                outputs, loss = self.compute_loss(self.eval_model, batch)
                w = _loss_weight(batch, self.causal)  # token-weighted mean over the set
                loss_sum += loss.detach().double() * w
                weight_sum += w
                if self.metrics_fn is not None:
                    logits = outputs.logits.detach()
                    # never B x T x vocab on the host: token ids for a language model
                    logits = logits.argmax(-1) if logits.dim() == 3 else logits.float()
                    preds.append(logits.cpu())
                    if "labels" in batch:
                        labels.append(batch["labels"].cpu())
        self.eval_model.train()
        if world > 1:
            loss_sum, weight_sum = acc.reduce(torch.stack([loss_sum, weight_sum]), "sum")
        eval_loss = (loss_sum / weight_sum.clamp_min(1)).item()
        record = {"step": self.state["step"], "epoch": round(self.state["epoch_float"], 4),
                  "eval_loss": eval_loss,
                  "eval_perplexity": math.exp(min(eval_loss, 50.0)) if self.causal else None}
        if self.metrics_fn is not None:
            if world > 1:
                preds = [p for part in gather_object([preds]) for p in part]
                labels = [p for part in gather_object([labels]) for p in part]
            metrics = self.metrics_fn(_concat(preds), _concat(labels) if labels else None)
            record.update({k if k.startswith("eval_") else f"eval_{k}": float(v)
                           for k, v in metrics.items()})
        return record

    # ---- checkpoints
    def save(self) -> Path:
        from accelerate.utils import gather_object
        rng = ckpt.rng_state()
        rng_states = gather_object([rng]) if self.world > 1 else [rng]
        step_dir = self.out_dir / ckpt.step_name(self.state["step"])
        if self.is_main:
            ckpt.write_checkpoint(step_dir, ckpt.training_writers(
                self.raw_model, self.optimizer, self.scheduler, self.scaler, rng_states,
                _json_state(self.state)))
            ckpt.prune_checkpoints(self.out_dir, self.cfg.keep_checkpoints)
        self.accelerator.wait_for_everyone()
        return step_dir

    def save_best(self) -> None:
        if self.is_main:
            raw = self.raw_model
            info = {"step": self.state["step"], "eval_loss": self.state["best_eval_loss"]}
            ckpt.write_checkpoint(self.out_dir / ckpt.BEST, {
                ckpt.MODEL_FILE: lambda p: ckpt.save_weights(p, raw),
                ckpt.STATE_FILE: lambda p: ckpt.write_bytes(p, _dumps(info))})
        self.accelerator.wait_for_everyone()

    def check_finite(self) -> None:
        """Raise :class:`NonFiniteLossError` if any loss since the last check was NaN/inf."""
        if not self.pending:
            return
        flags = torch.stack([f for f, *_ in self.pending])
        bad = flags.any().to(torch.float32)
        if self.world > 1:
            bad = self.accelerator.reduce(bad, "sum")
        if bad.item() > 0:
            local = flags.nonzero()
            if len(local):
                _, step, epoch, b = self.pending[int(local[0])]
                rows = self.sampler.rank_slice(self.sampler.global_batches(epoch)[b])
            else:  # another process saw it
                (_, step, epoch, b), rows = self.pending[-1], []
            last = ckpt.latest_valid_checkpoint(self.out_dir, checksums=False, warn=False)
            where = f"{last}" if last else "none written yet"
            raise NonFiniteLossError(
                f"Non-finite training loss at optimizer step {step} (epoch {epoch}, batch "
                f"{b} of the epoch, dataset rows {rows[:8]}{'...' if len(rows) > 8 else ''}"
                f"{'' if len(local) else ', in another process'}). The run stopped; nothing "
                f"was saved after it. Last good checkpoint: {where}. Try a lower learning "
                "rate, mixed_precision='bf16' instead of 'fp16', or check those rows.",
                step, epoch, b, rows, last)
        self.pending.clear()

    # ---- the loop
    def fit(self, callbacks: Sequence) -> TrainResult:
        callbacks = list(callbacks)
        if self.cfg.progress_bar:
            callbacks.insert(0, ProgressBar())
        self.callbacks = callbacks if self.is_main else []
        self._announce()
        state = self.state
        self.meter = _Meter(self.accelerator.device)
        self.grad_norm = None
        t_start = time.perf_counter()
        self.t_excluded = 0.0  # eval and checkpoint time, not training throughput
        state["epoch_float"] = state["epoch"] + state["batch_in_epoch"] / self.batches_per_epoch
        with _use_cache_off(self.raw_model):
            self.train_model.train()
            while state["step"] < self.total_steps and not state["stopped_early"]:
                self.run_epoch(state["epoch"])
            self.check_finite()
            if self.device == "cuda":
                torch.cuda.synchronize()
        return self.finish(time.perf_counter() - t_start)

    def _announce(self) -> None:
        cfg, world, s = self.cfg, self.world, self.state
        accum = cfg.grad_accum_steps
        if self.is_main and cfg.verbose:
            _say(f"Training {self.total_steps} optimizer steps ({self.steps_per_epoch}/epoch, "
                 f"global batch {cfg.batch_size * accum * world} = {cfg.batch_size} x {accum} "
                 f"accumulation x {world} process{'es' if world > 1 else ''}) on {self.device}, "
                 f"precision {self.precision}{', compiled' if cfg.compile else ''}"
                 f"{', chunked LM loss' if self.lm_loss == 'chunked' else ''}"
                 + (f"; resuming from {self.resumed_from.name} (step {s['step']})"
                    if self.resumed_from else "") + ".")
        run_hooks(self.callbacks, "on_start", {
            "total_steps": self.total_steps, "start_step": s["step"], "device": self.device,
            "precision": self.precision, "processes": world})

    def run_epoch(self, epoch: int) -> None:
        """Optimizer steps until the epoch ends, the run ends or early stopping."""
        state = self.state
        it = iter(self.loader_for(epoch, state["batch_in_epoch"]))
        nb = self.sampler.num_batches(epoch)
        while state["epoch"] == epoch and state["step"] < self.total_steps:
            b0 = state["batch_in_epoch"]
            # an accumulation window never crosses the end of an epoch
            window_end = min((b0 // self.cfg.grad_accum_steps + 1) * self.cfg.grad_accum_steps,
                             nb)
            lr_now = self.scheduler.get_last_lr()[0]
            self.accumulate(it, epoch, b0, window_end - b0)
            self.optimizer_step()
            self.advance(window_end, nb)
            self.after_step(lr_now)
            if state["stopped_early"]:
                break

    def accumulate(self, it, epoch: int, b0: int, n_micro: int) -> None:
        """Forward and backward over the micro-batches of one optimizer step."""
        from accelerate.utils import send_to_device
        acc = self.accelerator
        for j in range(n_micro):
            batch = send_to_device(next(it), acc.device, non_blocking=self.pin)
            if self.cudagraphs:
                torch.compiler.cudagraph_mark_step_begin()
            last = j == n_micro - 1  # gradients are synced across processes once, at the end
            with contextlib.nullcontext() if last else acc.no_sync(self.model):
                # only the loss leaves: the logits (B x T x vocab) are freed before backward
                loss = self.compute_loss(self.train_model, batch)[1]
                acc.backward(loss / n_micro)
            detached = loss.detach().float()
            self.meter.add(detached, batch)
            self.pending.append((~torch.isfinite(detached), self.state["step"] + 1, epoch,
                                 b0 + j))

    def optimizer_step(self) -> None:
        if self.cfg.max_grad_norm is not None:
            self.grad_norm = self.accelerator.clip_grad_norm_(self.raw_model.parameters(),
                                                              self.cfg.max_grad_norm)
        self.optimizer.step()
        if not self.accelerator.optimizer_step_was_skipped:  # fp16 overflow: keep the lr
            self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    def advance(self, window_end: int, nb: int) -> None:
        state = self.state
        state["step"] += 1
        state["batch_in_epoch"] = window_end
        if window_end >= nb:
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
        state["epoch_float"] = state["epoch"] + state["batch_in_epoch"] / nb

    def after_step(self, lr_now: float) -> None:
        """Log, evaluate and save when due; the host reads the device only here."""
        cfg, state = self.cfg, self.state
        step = state["step"]
        last_step = step >= self.total_steps
        do_log = step % cfg.log_every == 0 or last_step
        eval_every, save_every = (self.steps_per_epoch if v == "epoch" else v
                                  for v in (cfg.eval_every, cfg.save_every))
        do_eval = self.eval_loader is not None and (
            bool(eval_every and step % eval_every == 0) or last_step)
        do_save = bool(save_every and step % save_every == 0) or (
            last_step and cfg.save_final)
        # on a CPU a per-step check costs nothing; on a GPU it would stall the queue
        if self.device == "cpu" or do_log or do_eval or do_save:
            self.check_finite()
        if do_log:
            self.log(step, lr_now)
        if do_eval or do_save:
            t0 = time.perf_counter()
            if do_eval:
                self.eval_and_track()
            if do_save or (state["stopped_early"] and cfg.save_final):
                self.last_checkpoint = self.save()
            self.t_excluded += time.perf_counter() - t0
        run_hooks(self.callbacks, "on_step_end", step)

    def log(self, step: int, lr_now: float) -> None:
        mean = self.meter.take_mean_loss()
        if self.world > 1:
            mean = self.accelerator.reduce(mean, "mean")
        record = {"step": step, "epoch": round(self.state["epoch_float"], 4),
                  "train_loss": mean.item(), "lr": lr_now}
        if self.grad_norm is not None:
            record["grad_norm"] = float(self.grad_norm)
        self.state["records"].append(record)
        run_hooks(self.callbacks, "on_log", record)

    def eval_and_track(self) -> None:
        """Evaluate; keep the best weights; count evaluations without improvement."""
        cfg, state = self.cfg, self.state
        record = self.evaluate()
        state["records"].append(record)
        best = state["best_eval_loss"]
        improved = best is None or record["eval_loss"] < best - cfg.early_stopping_min_delta
        if improved:
            state["best_eval_loss"] = record["eval_loss"]
            state["best_step"] = state["step"]
            state["evals_without_improvement"] = 0
            self.save_best()
        else:
            state["evals_without_improvement"] += 1
            patience = cfg.early_stopping_patience
            if patience is not None and state["evals_without_improvement"] >= patience:
                state["stopped_early"] = True
        run_hooks(self.callbacks, "on_eval", record)
        if self.is_main and cfg.verbose:
            _say(_eval_line(record, improved, state["stopped_early"]))

    def finish(self, elapsed: float) -> TrainResult:
        acc, meter = self.accelerator, self.meter
        tokens, samples = meter.tokens, meter.samples
        if self.world > 1:
            tokens = acc.reduce(tokens, "sum")
            samples *= self.world
        train_time = max(1e-9, elapsed - self.t_excluded)
        best_path = ckpt.best_checkpoint(self.out_dir) if self.eval_loader is not None else None
        if self.cfg.load_best_at_end and best_path is not None:
            ckpt.load_weights(self.raw_model, best_path)
        acc.wait_for_everyone()
        state = self.state
        result = TrainResult(
            history=_records_frame(state["records"]), best_checkpoint=best_path,
            best_eval_loss=state["best_eval_loss"], stopped_early=state["stopped_early"],
            model=self.raw_model, elapsed_s=elapsed,
            tokens_per_s=float(tokens.item()) / train_time, samples_per_s=samples / train_time,
            steps=state["step"], last_checkpoint=self.last_checkpoint,
            resumed_from=self.resumed_from)
        run_hooks(self.callbacks, "on_end", result)
        return result


# --------------------------------------------------------------------------- small helpers

def _concat(parts: list):
    import numpy as np
    if not parts:
        return np.zeros((0,))
    if all(p.dim() >= 2 for p in parts) and len({p.shape[1:] for p in parts}) > 1:
        width = max(p.shape[1] for p in parts)  # token predictions of different lengths
        parts = [torch.nn.functional.pad(p, (0, width - p.shape[1]), value=-100) for p in parts]
    return torch.cat(parts).numpy()


def _json_state(state: dict) -> dict:
    return {k: v for k, v in state.items() if k != "epoch_float"}


def _dumps(obj) -> bytes:
    import json
    return json.dumps(obj, indent=1).encode()


def _say(text: str) -> None:
    try:
        from tqdm.auto import tqdm
        tqdm.write(text, file=sys.stderr)
    except ImportError:  # pragma: no cover
        print(text, file=sys.stderr)


def _eval_line(record: dict, improved: bool, stopped: bool) -> str:
    parts = [f"step {record['step']}: eval_loss {record['eval_loss']:.4f}"]
    if record.get("eval_perplexity") is not None:
        parts.append(f"perplexity {record['eval_perplexity']:.2f}")
    parts += [f"{k[5:]} {v:.4f}" for k, v in record.items()
              if k.startswith("eval_") and k not in ("eval_loss", "eval_perplexity")
              and isinstance(v, float)]
    line = ", ".join(parts) + (" (best so far)" if improved else "")
    return line + (" - early stopping" if stopped else "")


def config_dict(cfg: TrainConfig) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(cfg).items()}


__all__ = ["TrainConfig", "TrainResult", "train", "NonFiniteLossError", "Callback",
           "ProgressBar", "LivePlot", "model_context", "config_dict"]

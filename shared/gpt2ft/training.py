"""One training loop for every sprint: fast on a GPU, honest on a CPU, never loses a run.

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import checkpointing as ckpt
from .batching import DynamicPadding, ResumableBatchSampler, sequence_lengths
from .strategies import STRATEGIES, apply_strategy, check_strategy

SCHEDULERS = ("linear", "cosine", "constant")
MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
COMPILE_MODES = (False, True, "default", "reduce-overhead", "max-autotune",
                 "max-autotune-no-cudagraphs")
DEVICES = ("auto", "cpu", "cuda")


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
    eval_every: int | None = 50
    save_every: int | None = 50
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
            if value is not None and (not _is_int(value) or value < 1):
                bad(name, "use None (only at the end) or a whole number of steps >= 1")
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


# --------------------------------------------------------------------------- callbacks

class Callback:
    """Optional hooks; every one is optional (duck typing works too)."""

    def on_start(self, info: dict) -> None: ...
    def on_step_end(self, step: int) -> None: ...
    def on_log(self, record: dict) -> None: ...
    def on_eval(self, record: dict) -> None: ...
    def on_end(self, result: TrainResult) -> None: ...


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class ProgressBar(Callback):
    """A tqdm bar (a widget in a notebook) with the latest losses as its postfix."""

    def __init__(self):
        self.bar = None
        self.postfix: dict[str, str] = {}

    def on_start(self, info):
        from tqdm.auto import tqdm
        self.bar = tqdm(total=info["total_steps"], initial=info["start_step"], unit="step",
                        desc="training", dynamic_ncols=True, file=sys.stderr)

    def on_step_end(self, step):
        if self.bar is not None:
            self.bar.update(step - self.bar.n)

    def _post(self, record, keys):
        for key in keys:
            if key in record and record[key] is not None:
                self.postfix[key] = f"{record[key]:.4g}"
        if self.bar is not None:
            self.bar.set_postfix(self.postfix, refresh=False)

    def on_log(self, record):
        self._post(record, ("train_loss", "lr"))

    def on_eval(self, record):
        self._post(record, ("eval_loss",))

    def on_end(self, result):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class LivePlot(Callback):
    """Train and eval loss redrawn in place in a notebook; outside one it does nothing
    (``save_to`` still writes the final figure)."""

    def __init__(self, every: int = 1, save_to: str | os.PathLike | None = None,
                 title: str = "loss"):
        self.every, self.save_to, self.title = max(1, every), save_to, title
        self.train: list[tuple[int, float]] = []
        self.eval: list[tuple[int, float]] = []
        self._handle = None
        self._calls = 0
        self.active = _in_notebook()

    def on_log(self, record):
        if record.get("train_loss") is not None:
            self.train.append((record["step"], record["train_loss"]))
        self._calls += 1
        if self._calls % self.every == 0:
            self._draw()

    def on_eval(self, record):
        if record.get("eval_loss") is not None:
            self.eval.append((record["step"], record["eval_loss"]))
        self._draw()

    def figure(self):
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 3.5))
        if self.train:
            ax.plot(*zip(*self.train, strict=True), label="train loss", color="tab:blue")
        if self.eval:
            ax.plot(*zip(*self.eval, strict=True), "o-", label="eval loss", color="tab:orange")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("loss")
        ax.set_title(self.title)
        if self.train or self.eval:
            ax.legend()
        fig.tight_layout()
        return fig

    def _draw(self):
        if not self.active:
            return
        import matplotlib.pyplot as plt
        from IPython.display import display
        fig = self.figure()
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
        plt.close(fig)

    def on_end(self, result):
        self._draw()
        if self.save_to is not None:
            import matplotlib.pyplot as plt
            fig = self.figure()
            fig.savefig(self.save_to, dpi=120)
            plt.close(fig)


def _call(callbacks: Iterable, hook: str, *args) -> None:
    for cb in callbacks:
        fn = getattr(cb, hook, None)
        if fn is not None:
            fn(*args)


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
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        params = inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return None
    return {n for n, p in params.items()
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def _is_causal_lm(model) -> bool:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
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


def _make_accelerator(mixed_precision: str, device: str):
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    state = AcceleratorState._shared_state
    if state and state.get("_mixed_precision") not in (None, mixed_precision):
        # A previous run in this process (or a Trainer) chose another precision.
        AcceleratorState._reset_state(reset_partial_state=False)
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

    from accelerate.utils import gather_object, send_to_device, set_seed

    accelerator = _make_accelerator(precision, device)
    world, rank, is_main = accelerator.num_processes, accelerator.process_index, \
        accelerator.is_main_process
    set_seed(cfg.seed)
    model = apply_strategy(model, cfg.strategy, cfg.last_k, lora_r=cfg.lora_r,
                           lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                           lora_target_modules=cfg.lora_target_modules)
    raw_model = model
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        config = getattr(raw_model, "config", None)
        if getattr(config, "_attn_implementation", None) == "eager" and hasattr(
                raw_model, "set_attn_implementation"):
            with contextlib.suppress(Exception):
                raw_model.set_attn_implementation("sdpa")

    out_dir = Path(cfg.output_dir)
    if is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        ckpt.clean_temporaries(out_dir)
    accelerator.wait_for_everyone()

    pad_id = getattr(getattr(raw_model, "config", None), "pad_token_id", None)
    pad_multiple = cfg.pad_to_multiple_of or (8 if device == "cuda" else None)
    collate = collate_fn or DynamicPadding(pad_token_id=pad_id, pad_to_multiple_of=pad_multiple,
                                           max_length=limit)
    sampler = ResumableBatchSampler(len(train_dataset), cfg.batch_size, seed=cfg.seed,
                                    lengths=lengths, num_replicas=world, rank=rank)
    batches_per_epoch = sampler.num_batches(0)
    if batches_per_epoch == 0:
        raise ValueError(f"train_dataset has {len(train_dataset)} rows, fewer than the "
                         f"{world} processes; give more data.")
    accum = cfg.grad_accum_steps
    steps_per_epoch = math.ceil(batches_per_epoch / accum)
    total_steps = cfg.max_steps or steps_per_epoch * cfg.num_epochs
    warmup = cfg.warmup_steps if cfg.warmup_steps is not None else int(
        cfg.warmup_ratio * total_steps)

    optimizer = _optimizer(raw_model, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer,
                                                  _schedule(cfg.scheduler, warmup, total_steps))
    model, optimizer = accelerator.prepare(model, optimizer)
    # accelerate patches forward with autocast plus a copy of every output to fp32 (the
    # whole logits tensor); take that off and autocast forward + loss here instead.
    accelerator.unwrap_model(model, keep_fp32_wrapper=False)
    scaler = accelerator.scaler
    train_model = model
    if cfg.compile:
        mode = None if cfg.compile in (True, "default") else cfg.compile
        train_model = torch.compile(model, mode=mode)
    eval_model = raw_model  # no DDP wrapper, not compiled (eval is rare)
    forward_keys = _forward_keys(raw_model)
    causal = _is_causal_lm(raw_model)
    pin = device == "cuda"
    cudagraphs = cfg.compile in ("reduce-overhead", "max-autotune")

    # ---- state, possibly resumed
    state = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "best_eval_loss": None,
             "best_step": None, "evals_without_improvement": 0, "stopped_early": False,
             "records": [], "total_steps": total_steps, "world_size": world}
    resumed_from = None
    if cfg.resume:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            path = ckpt.latest_valid_checkpoint(out_dir)
        for w in caught:
            if is_main:
                warnings.warn(w.message, w.category, stacklevel=2)
        if path is not None:
            saved, rng_states = ckpt.load_training_checkpoint(
                path, raw_model, optimizer,
                scheduler, scaler)
            if saved.get("world_size", world) != world:
                warnings.warn(f"{path} was written by {saved.get('world_size')} processes, "
                              f"this run has {world}: the data order changes from here on.",
                              stacklevel=2)
            state.update({k: v for k, v in saved.items() if k in state})
            state["total_steps"] = total_steps
            ckpt.set_rng_state(rng_states[min(rank, len(rng_states) - 1)])
            resumed_from = path

    # ---- loaders
    def loader_for(epoch: int, start: int):
        sampler.set_epoch(epoch, start)
        return torch.utils.data.DataLoader(
            train_dataset, batch_sampler=sampler, collate_fn=collate, num_workers=cfg.num_workers,
            pin_memory=pin, generator=torch.Generator())  # private: global RNG untouched

    eval_loader = None
    if eval_dataset is not None:
        eval_bs = cfg.eval_batch_size or cfg.batch_size
        mine = list(range(rank, len(eval_dataset), world))
        eval_batches = [mine[i:i + eval_bs] for i in range(0, len(mine), eval_bs)]
        eval_loader = torch.utils.data.DataLoader(
            eval_dataset, batch_sampler=eval_batches, collate_fn=collate,
            num_workers=cfg.num_workers, pin_memory=pin, generator=torch.Generator())

    def model_inputs(batch):
        keep = {k: v for k, v in batch.items() if forward_keys is None or k in forward_keys}
        if loss_fn is not None:
            keep.pop("labels", None)
        return keep

    def compute_loss(m, batch):
        with accelerator.autocast():
            outputs = m(**model_inputs(batch))
            loss = loss_fn(outputs, batch) if loss_fn is not None else outputs.loss
        if loss is None:
            raise ValueError("The model returned no loss: give 'labels' in the data or a "
                             "loss_fn(outputs, batch).")
        return outputs, loss

    def train_loss(m, batch):
        # Only the loss leaves: the logits (B x T x vocab) are freed before backward.
        return compute_loss(m, batch)[1]

    def evaluate() -> dict:
        eval_model.eval()
        loss_sum = torch.zeros((), device=accelerator.device, dtype=torch.float64)
        weight_sum = torch.zeros((), device=accelerator.device, dtype=torch.float64)
        preds, labels = [], []
        with torch.no_grad():
            for batch in eval_loader:
                batch = send_to_device(batch, accelerator.device, non_blocking=pin)
                outputs, loss = compute_loss(eval_model, batch)
                w = _loss_weight(batch, causal)
                loss_sum += loss.detach().double() * w
                weight_sum += w
                if metrics_fn is not None:
                    logits = outputs.logits.detach()
                    logits = logits.argmax(-1) if logits.dim() == 3 else logits.float()
                    preds.append(logits.cpu())
                    if "labels" in batch:
                        labels.append(batch["labels"].cpu())
        eval_model.train()
        if world > 1:
            loss_sum, weight_sum = accelerator.reduce(torch.stack([loss_sum, weight_sum]),
                                                      "sum")
        eval_loss = (loss_sum / weight_sum.clamp_min(1)).item()
        record = {"step": state["step"], "epoch": state["epoch_float"], "eval_loss": eval_loss,
                  "eval_perplexity": math.exp(min(eval_loss, 50.0)) if causal else None}
        if metrics_fn is not None:
            if world > 1:
                preds = [p for part in gather_object([preds]) for p in part]
                labels = [p for part in gather_object([labels]) for p in part]
            p = _concat(preds)
            y = _concat(labels) if labels else None
            record.update({f"eval_{k}" if not k.startswith("eval_") else k: float(v)
                           for k, v in metrics_fn(p, y).items()})
        return record

    def save(step_dir: Path | None = None) -> Path | None:
        rng_states = gather_object([ckpt.rng_state()]) if world > 1 else [ckpt.rng_state()]
        path = None
        if is_main:
            path = ckpt.write_checkpoint(
                step_dir or out_dir / ckpt.step_name(state["step"]),
                ckpt.training_writers(raw_model,
                                      optimizer, scheduler, scaler, rng_states,
                                      _json_state(state)))
            ckpt.prune_checkpoints(out_dir, cfg.keep_checkpoints)
        accelerator.wait_for_everyone()
        return path or out_dir / ckpt.step_name(state["step"])

    def save_best() -> None:
        if is_main:
            unwrapped = raw_model
            info = {"step": state["step"], "eval_loss": state["best_eval_loss"]}
            ckpt.write_checkpoint(out_dir / ckpt.BEST, {
                ckpt.MODEL_FILE: lambda p: ckpt.save_weights(p, unwrapped),
                ckpt.STATE_FILE: lambda p: ckpt.write_bytes(p, _dumps(info))})
        accelerator.wait_for_everyone()

    callbacks = list(callbacks)
    if cfg.progress_bar:
        callbacks.insert(0, ProgressBar())
    callbacks = callbacks if is_main else []
    last_ckpt = resumed_from
    start_step = state["step"]
    if is_main and cfg.verbose:
        _say(f"Training {total_steps} optimizer steps ({steps_per_epoch}/epoch, global batch "
             f"{cfg.batch_size * accum * world} = {cfg.batch_size} x {accum} accumulation x "
             f"{world} process{'es' if world > 1 else ''}) on {device}, precision "
             f"{precision}{', compiled' if cfg.compile else ''}"
             + (f"; resuming from {resumed_from.name} (step {start_step})"
                if resumed_from else "") + ".")
    _call(callbacks, "on_start", {"total_steps": total_steps, "start_step": start_step,
                                  "device": device, "precision": precision,
                                  "processes": world})

    # ---- loop
    dev = accelerator.device
    loss_sum = torch.zeros((), device=dev)
    loss_count = 0
    tokens = torch.zeros((), device=dev, dtype=torch.int64)
    samples = 0
    pending: list[tuple[torch.Tensor, int, int, int]] = []  # (nonfinite flag, step, epoch, b)
    check_every_step = device == "cpu"
    grad_norm = None
    t_start = time.perf_counter()
    t_excluded = 0.0  # eval and checkpoint time, not training throughput
    state["epoch_float"] = state["epoch"] + state["batch_in_epoch"] / batches_per_epoch

    def check_finite():
        if not pending:
            return
        flags = torch.stack([f for f, *_ in pending])
        bad = flags.any().to(torch.float32)
        if world > 1:
            bad = accelerator.reduce(bad, "sum")
        if bad.item() > 0:
            local = flags.nonzero()
            if len(local):
                _, step, epoch, b = pending[int(local[0])]
                rows = sampler.rank_slice(sampler.global_batches(epoch)[b])
            else:
                step, epoch, b, rows = pending[-1][1], pending[-1][2], pending[-1][3], []
            last = ckpt.latest_valid_checkpoint(out_dir, checksums=False, warn=False)
            where = f"{last}" if last else "none written yet"
            raise NonFiniteLossError(
                f"Non-finite training loss at optimizer step {step} (epoch {epoch}, batch "
                f"{b} of the epoch, dataset rows {rows[:8]}{'...' if len(rows) > 8 else ''}"
                f"{'' if len(local) else ', in another process'}). The run stopped; nothing "
                f"was saved after it. Last good checkpoint: {where}. Try a lower learning "
                "rate, mixed_precision='bf16' instead of 'fp16', or check those rows.",
                step, epoch, b, rows, last)
        pending.clear()

    with _use_cache_off(raw_model):
        train_model.train()
        while state["step"] < total_steps and not state["stopped_early"]:
            epoch = state["epoch"]
            it = iter(loader_for(epoch, state["batch_in_epoch"]))
            nb = sampler.num_batches(epoch)
            while state["epoch"] == epoch and state["step"] < total_steps:
                b0 = state["batch_in_epoch"]
                window_end = min((b0 // accum + 1) * accum, nb)
                n_micro = window_end - b0
                lr_now = scheduler.get_last_lr()[0]
                for j in range(n_micro):
                    batch = send_to_device(next(it), dev, non_blocking=pin)
                    if cudagraphs:
                        torch.compiler.cudagraph_mark_step_begin()
                    sync = j == n_micro - 1
                    ctx = contextlib.nullcontext() if sync else accelerator.no_sync(model)
                    with ctx:
                        loss = train_loss(train_model, batch)
                        accelerator.backward(loss / n_micro)
                    detached = loss.detach().float()
                    loss_sum += detached
                    loss_count += 1
                    pending.append((~torch.isfinite(detached), state["step"] + 1, epoch,
                                    b0 + j))
                    mask = batch.get("attention_mask")
                    tokens += mask.sum() if mask is not None else batch["input_ids"].numel()
                    samples += batch["input_ids"].shape[0]
                if cfg.max_grad_norm is not None:
                    grad_norm = accelerator.clip_grad_norm_(raw_model.parameters(),
                                                            cfg.max_grad_norm)
                optimizer.step()
                if not accelerator.optimizer_step_was_skipped:
                    scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                state["step"] += 1
                state["batch_in_epoch"] = window_end
                if window_end >= nb:
                    state["epoch"] += 1
                    state["batch_in_epoch"] = 0
                state["epoch_float"] = state["epoch"] + state["batch_in_epoch"] / nb
                step = state["step"]
                last_step = step >= total_steps
                do_log = step % cfg.log_every == 0 or last_step
                do_eval = eval_loader is not None and (
                    (cfg.eval_every and step % cfg.eval_every == 0) or last_step)
                do_save = bool(cfg.save_every and step % cfg.save_every == 0) or (
                    last_step and cfg.save_final)
                if check_every_step or do_log or do_eval or do_save:
                    check_finite()
                if do_log:
                    mean = loss_sum / max(1, loss_count)
                    if world > 1:
                        mean = accelerator.reduce(mean, "mean")
                    record = {"step": step, "epoch": round(state["epoch_float"], 4),
                              "train_loss": mean.item(), "lr": lr_now}
                    if grad_norm is not None:
                        record["grad_norm"] = float(grad_norm)
                    state["records"].append(record)
                    loss_sum.zero_()
                    loss_count = 0
                    _call(callbacks, "on_log", record)
                if do_eval or do_save:
                    t0 = time.perf_counter()
                    if do_eval:
                        record = evaluate()
                        record["epoch"] = round(record["epoch"], 4)
                        state["records"].append(record)
                        best = state["best_eval_loss"]
                        improved = best is None or record["eval_loss"] < (
                            best - cfg.early_stopping_min_delta)
                        if improved:
                            state["best_eval_loss"] = record["eval_loss"]
                            state["best_step"] = step
                            state["evals_without_improvement"] = 0
                            save_best()
                        else:
                            state["evals_without_improvement"] += 1
                            patience = cfg.early_stopping_patience
                            if patience is not None and \
                                    state["evals_without_improvement"] >= patience:
                                state["stopped_early"] = True
                        _call(callbacks, "on_eval", record)
                        if is_main and cfg.verbose:
                            _say(_eval_line(record, improved, state["stopped_early"]))
                    if state["stopped_early"] and cfg.save_final:
                        do_save = True
                    if do_save:
                        last_ckpt = save()
                    t_excluded += time.perf_counter() - t0
                _call(callbacks, "on_step_end", step)
                if state["stopped_early"]:
                    break
        check_finite()
        if device == "cuda":
            torch.cuda.synchronize()
    elapsed = time.perf_counter() - t_start
    total_tokens = tokens
    if world > 1:
        total_tokens = accelerator.reduce(tokens, "sum")
        samples *= world
    train_time = max(1e-9, elapsed - t_excluded)
    tokens_per_s = float(total_tokens.item()) / train_time
    samples_per_s = samples / train_time

    best_path = ckpt.best_checkpoint(out_dir) if eval_loader is not None else None
    if cfg.load_best_at_end and best_path is not None:
        ckpt.load_weights(raw_model, best_path)
    accelerator.wait_for_everyone()
    result = TrainResult(
        history=_records_frame(state["records"]), best_checkpoint=best_path,
        best_eval_loss=state["best_eval_loss"], stopped_early=state["stopped_early"],
        model=raw_model, elapsed_s=elapsed,
        tokens_per_s=tokens_per_s, samples_per_s=samples_per_s, steps=state["step"],
        last_checkpoint=last_ckpt, resumed_from=resumed_from)
    _call(callbacks, "on_end", result)
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

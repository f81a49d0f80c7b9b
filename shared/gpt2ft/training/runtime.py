"""Where and how a run computes: device, precision, loss path, processes, optimizer, schedule.

Introduced in ``sprints/sprint12_book/05_appendix_engine`` (what the engine adds to
the loop written by hand in ``sprints/sprint11_classification/04_finetune``).
Everything here is decided once, before the first step, and held in one
:class:`Runtime`.

- **Processes**: ``accelerate`` starts or joins the process group, places the
  model and wraps it in DDP when several processes run (``accelerate launch``).
- **Precision** is done here, in plain PyTorch: ``torch.autocast`` around the
  forward pass and the loss (bf16 on GPUs that have it natively, else fp16 with
  a ``torch.amp.GradScaler``), with TF32 matrix products; fp32 on a CPU, and
  everywhere with ``mixed_precision="no"`` (:func:`uses_tf32`).
- **Loss**: the model's own, a ``loss_fn(outputs, batch)``, or the chunked
  causal-LM loss (:mod:`gpt2ft.training.lm_loss`) that never holds all the logits.
- **Optimizer**: fused AdamW with weight decay on matrices only; a warm-up then
  linear/cosine/constant schedule as a ``LambdaLR``.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from gpt2ft.core.models import causal_problem, name_the_loss
from gpt2ft.training.config import TrainConfig
from gpt2ft.training.lm_loss import ChunkedLossLM, supports_chunked_loss
from gpt2ft.training.strategies import STRATEGIES, apply_strategy, without_adapters_wrapper

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


# --------------------------------------------------------------------------- decisions

def resolve_device(cfg: TrainConfig) -> str:
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("TrainConfig.device='cuda' but no CUDA GPU is visible; "
                         "use device='auto' or 'cpu'.")
    if cfg.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return cfg.device


def native_bf16() -> bool:
    """bf16 in hardware (Ampere and newer); T4 and V100 only emulate it, slowly."""
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)


def resolve_precision(cfg: TrainConfig, device: str) -> str:
    mp = cfg.mixed_precision
    if mp == "auto":
        if device != "cuda":
            return "no"  # CPU autocast would make the tiny models slower
        return "bf16" if native_bf16() else "fp16"
    if mp == "fp16" and device != "cuda":
        raise ValueError("mixed_precision='fp16' needs a CUDA GPU; on a CPU use 'no' "
                         "(or 'bf16').")
    if mp == "bf16" and device == "cuda" and not native_bf16():
        raise ValueError("This GPU has no native bf16 (it would be emulated, slowly); use "
                         "mixed_precision='fp16' or 'auto'.")
    return mp


def is_causal_lm(model) -> bool:
    name = type(without_adapters_wrapper(model)).__name__
    return name.endswith("LMHeadModel") or name.endswith("ForCausalLM")


def resolve_lm_loss(cfg: TrainConfig, model, device: str, loss_fn) -> str:
    """'chunked' (head + cross-entropy a few rows at a time, :mod:`gpt2ft.training.lm_loss`) or 'model'.

    'auto' picks 'chunked' only where it was measured faster: on a CPU (the tiny
    LM step 1.3x faster, 10x less memory added; ``notes/training_engine.md``); on
    a GPU the compiled model's fused loss stays until measured.
    """
    possible = loss_fn is None and is_causal_lm(model) and supports_chunked_loss(model)
    if cfg.lm_loss == "chunked" and not possible:
        why = ("a loss_fn was given" if loss_fn is not None else
               f"{type(model).__name__} is not a causal LM with a bias-free linear output layer")
        raise ValueError(f"TrainConfig.lm_loss='chunked' cannot be used: {why}. Use "
                         "lm_loss='model' (or 'auto').")
    if cfg.lm_loss == "auto":
        return "chunked" if possible and device == "cpu" else "model"
    return cfg.lm_loss


def check_compile(cfg: TrainConfig, device: str) -> None:
    if cfg.compile and device != "cuda" and cfg.compile not in (True, "default"):
        raise ValueError(f"compile={cfg.compile!r} uses CUDA graphs; on a CPU use compile=True.")


def compile_model(model, compile_mode, device: str):
    """``torch.compile`` in the mode asked for; on a GPU without inductor's matmul shape padding.

    Batches of varying length make the compiled graph dynamic in the sequence
    length. In the GPU rehearsal (torch 2.11, an H200; notes/rehearsal.md),
    Sprint 13's compiled run failed in the backward of a later batch: the
    saved logits, padded to 50,264 columns by the shape padding, had their outer
    stride fixed to the first batch's length (``AssertionError: expected size
    8==8, stride 4423232==3619008``). With the padding off the sprint ran to the
    end. A three-step repro with the padding on did not fail, so the trigger is
    not pinned down: the padding stays off on every GPU until a GPU run shows it
    safe and measures what it gains (the uncompiled model never pads).
    """
    mode = None if compile_mode in (True, "default") else compile_mode
    if device != "cuda":
        return torch.compile(model, mode=mode)  # inductor never pads shapes on a CPU
    from torch._inductor import list_mode_options  # each mode's settings, as torch.compile's docs say
    options = {**list_mode_options(mode or "default"), "shape_padding": False}
    return torch.compile(model, options=options)  # mode and options can't both be given


def make_accelerator(device: str):
    """The process group (one process, or all that ``accelerate launch`` started).

    Precision is not accelerate's job here (``mixed_precision`` is left as the
    process already has it), so runs with different precisions can follow each
    other in one process.
    """
    from accelerate import Accelerator
    acc = Accelerator(cpu=(device == "cpu"), step_scheduler_with_optimizer=False)
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if acc.num_processes < launched:
        # A PartialState() made before train() without cpu=True saw none of the launched
        # CPU processes: every process would train alone on all the data.
        raise RuntimeError(
            f"This process sees {acc.num_processes} of the {launched} processes that accelerate "
            "launch started: a PartialState() was created before train() without cpu=True. "
            "On a CPU create it as PartialState(cpu=True), or let train() create it.")
    return acc


# --------------------------------------------------------------------------- optimizer

def make_optimizer(model, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; weight decay on weight matrices only (not biases, not norms)."""
    decay, no_decay, seen = [], [], set()
    for p in model.parameters():
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            (decay if p.dim() >= 2 else no_decay).append(p)
    if not decay and not no_decay:
        raise ValueError("No parameter of the model requires a gradient; pick a strategy "
                         f"({', '.join(STRATEGIES)}) or unfreeze some parameters.")
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    kwargs = {"lr": cfg.learning_rate, "betas": tuple(cfg.adam_betas), "eps": cfg.adam_eps}
    try:  # one fused kernel per step: on CUDA, and 3-4x faster than the default on a CPU too
        return torch.optim.AdamW(groups, fused=True, **kwargs)
    except (RuntimeError, ValueError):  # a dtype/device the fused kernel does not take
        return torch.optim.AdamW(groups, **kwargs)


def schedule(name: str, warmup: int, total: int) -> Callable[[int], float]:
    """The learning-rate factor at each step: linear warm-up, then decay (or constant)."""
    def fn(step: int) -> float:
        if warmup and step < warmup:
            return step / warmup
        if name == "constant":
            return 1.0
        progress = min(1.0, max(0.0, (step - warmup) / max(1, total - warmup)))
        if name == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return fn


def warmup_steps(cfg: TrainConfig, total_steps: int) -> int:
    return cfg.warmup_steps if cfg.warmup_steps is not None else int(cfg.warmup_ratio * total_steps)


class RunLengthError(ValueError):
    """A run's length changed in a way its learning-rate schedule cannot follow; nothing was loaded."""


def check_new_length(cfg: TrainConfig, done: int, old_total: int, new_total: int) -> str:
    """Whether a run that planned ``old_total`` steps (``done`` of them trained) can go on to
    ``new_total``: only when every step so far had the learning rate a ``new_total``-step run
    from the start gives it. Returns the line that says what happens; raises
    :class:`RunLengthError` naming the first step that differs, and the fix, otherwise.
    """
    if new_total < done:
        raise RunLengthError(
            f"This run already trained {done} optimizer steps; the settings now ask for {new_total}. "
            "Nothing was loaded. Fix: raise MAX_STEPS/EPOCHS to at least that, use the finished run as "
            "it is, or start over with RESUME=0.")
    old = schedule(cfg.scheduler, warmup_steps(cfg, old_total), old_total)
    new = schedule(cfg.scheduler, warmup_steps(cfg, new_total), new_total)
    for step in range(done + 1):  # the rates of the steps trained, and of the next one
        if not math.isclose(old(step), new(step), rel_tol=1e-9, abs_tol=1e-12):
            raise RunLengthError(
                f"This run planned {old_total} optimizer steps and trained {done}; the settings now "
                f"ask for {new_total}. Its {cfg.scheduler} schedule (warm-up {warmup_steps(cfg, old_total)} "
                f"steps) gave step {step + 1} the learning rate {cfg.learning_rate * old(step):.3g}, a "
                f"{new_total}-step run from the start gives it {cfg.learning_rate * new(step):.3g}, so "
                "going on would not be that run. Nothing was loaded. Fix: RESUME=0 trains "
                f"{new_total} steps from the start (the {old_total}-step run is replaced), or train with "
                "scheduler='constant' and warmup_steps set, whose runs can be extended.")
    verb = "extends" if new_total > old_total else "keeps"
    return (f"this run planned {old_total} optimizer steps and the settings now ask for {new_total}: "
            f"it {verb} from step {done}, with the learning rate a {new_total}-step run from the start "
            f"has at every step ({cfg.scheduler} schedule)")


# --------------------------------------------------------------------------- the runtime

def _forward_keys(model) -> set[str] | None:
    try:
        params = inspect.signature(without_adapters_wrapper(model).forward).parameters
    except (TypeError, ValueError):
        return None
    return {n for n, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def _prefer_sdpa(model) -> None:
    config = getattr(model, "config", None)
    if getattr(config, "_attn_implementation", None) == "eager" and hasattr(
            model, "set_attn_implementation"):
        with contextlib.suppress(Exception):
            model.set_attn_implementation("sdpa")


@dataclass
class Runtime:
    """The decisions of one run and the objects they made.

    ``model`` is the plain model: what is evaluated, saved and returned.
    ``train_model`` is what the training forward pass calls: the same weights,
    maybe in a chunked-loss wrapper, a DDP wrapper and ``torch.compile``.
    One optimizer step with all of it is :func:`gpt2ft.training.step.optimizer_step`.
    """

    cfg: TrainConfig
    accelerator: Any
    device: str
    precision: str
    lm_loss: str
    model: torch.nn.Module
    train_model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler | None
    loss_fn: Callable | None
    forward_keys: set[str] | None
    causal: bool

    @property
    def world(self) -> int:
        return self.accelerator.num_processes

    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    @property
    def pin(self) -> bool:  # pinned memory + non-blocking copies on a GPU only
        return self.device == "cuda"

    @property
    def cudagraphs(self) -> bool:
        return self.cfg.compile in ("reduce-overhead", "max-autotune")

    def to_device(self, batch: dict) -> dict:
        from accelerate.utils import send_to_device
        return send_to_device(batch, self.accelerator.device, non_blocking=self.pin)

    def autocast(self):
        if self.precision == "no":
            return contextlib.nullcontext()
        return torch.autocast(self.accelerator.device.type, dtype=DTYPES[self.precision])

    def compute_loss(self, model, batch: dict):
        """(outputs, loss) of ``model`` on ``batch``: the model's loss or ``loss_fn``."""
        keep = {k: v for k, v in batch.items() if self.forward_keys is None or k in self.forward_keys}
        if self.loss_fn is not None:
            keep.pop("labels", None)  # no wasted loss inside the model
        with self.autocast():
            outputs = model(**keep)
            loss = self.loss_fn(outputs, batch) if self.loss_fn is not None else outputs.loss
        if loss is None:
            raise ValueError("The model returned no loss: give 'labels' in the data or a "
                             "loss_fn(outputs, batch).")
        return outputs, loss


@dataclass(frozen=True)
class Plan:
    """Where and how the run will compute, decided (and checked) before any work."""

    device: str
    precision: str
    lm_loss: str


def plan(cfg: TrainConfig, model, loss_fn) -> Plan:
    device = resolve_device(cfg)
    precision = resolve_precision(cfg, device)
    check_compile(cfg, device)
    check_causal(model, loss_fn)
    return Plan(device, precision, resolve_lm_loss(cfg, model, device, loss_fn))


def uses_tf32(chosen: Plan) -> bool:
    """TF32 matrix products on a GPU, except where the run asked for plain float32.

    ``mixed_precision="no"`` means float32 arithmetic throughout: a run that replays a loop
    written by hand in plain PyTorch (``sprints/sprint11_classification/04_finetune``, whose
    PyTorch default leaves TF32 off) then does the same arithmetic.
    """
    return chosen.device == "cuda" and chosen.precision != "no"


def check_causal(model, loss_fn) -> None:
    """The causal-LM loss (the model's own, or chunked) only for a model that is causal."""
    if loss_fn is not None or not is_causal_lm(model):
        return
    problem = causal_problem(without_adapters_wrapper(model))
    if problem is not None:
        raise ValueError(f"This model cannot be trained with the causal-LM loss: it is {problem}")


def build_runtime(cfg: TrainConfig, chosen: Plan, accelerator, model, loss_fn,
                  total_steps: int) -> Runtime:
    """Apply the strategy; prepare the model, optimizer and schedule (after ``set_seed``)."""
    name_the_loss(without_adapters_wrapper(model))  # no "loss_type=None" warning mid-run
    model = apply_strategy(model, cfg.strategy, cfg.last_k, lora_r=cfg.lora_r,
                           lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                           lora_target_modules=cfg.lora_target_modules)
    if chosen.device == "cuda":
        if uses_tf32(chosen):
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        _prefer_sdpa(model)
    wrapped = accelerator.prepare(ChunkedLossLM(model) if chosen.lm_loss == "chunked" else model)
    # accelerate may patch forward with its own autocast and an fp32 copy of every output
    # (the whole logits tensor): take that off; autocast is done around forward + loss.
    accelerator.unwrap_model(wrapped, keep_fp32_wrapper=False)
    optimizer = make_optimizer(model, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, schedule(cfg.scheduler, warmup_steps(cfg, total_steps), total_steps))
    train_model = compile_model(wrapped, cfg.compile, chosen.device) if cfg.compile else wrapped
    return Runtime(cfg=cfg, accelerator=accelerator, device=chosen.device,
                   precision=chosen.precision, lm_loss=chosen.lm_loss, model=model,
                   train_model=train_model, optimizer=optimizer, scheduler=scheduler,
                   scaler=torch.amp.GradScaler("cuda") if chosen.precision == "fp16" else None,
                   loss_fn=loss_fn, forward_keys=_forward_keys(model), causal=is_causal_lm(model))

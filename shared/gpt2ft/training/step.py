"""One optimizer step in one screen: the micro-batches forward and backward, clip, step, schedule.

The order is that of the loop written by hand in
``sprints/sprint11_classification/04_finetune`` (forward, loss, backward, clip,
optimizer step, schedule step, zero_grad); ``loop._fit`` calls
:func:`optimizer_step` once per step and keeps the rest (epochs, logging,
evaluation, the best weights, checkpoints). What the engine adds to the loop by
hand is one line each here: gradient accumulation over ``first..end``, long
batches cut into parts (``max_batch_tokens``), the gradients averaged across
processes on the last backward only, autocast (inside ``rt.compute_loss``), the
fp16 loss scaler, CUDA-graph step marks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from gpt2ft.training.inputs import split_batch

if TYPE_CHECKING:
    from gpt2ft.training.runtime import Runtime


@dataclass
class StepOutcome:
    """What one optimizer step leaves for the loop (tensors still on the device: no host sync)."""

    batch_losses: list[tuple[int, torch.Tensor, dict]]  # (batch index in the epoch, mean loss, batch)
    grad_norm: torch.Tensor | None  # before clipping; None without max_grad_norm
    lr: float  # the learning rate this step used


def optimizer_step(rt: Runtime, batches: Iterator[dict], first: int, end: int,
                   max_batch_tokens: int | None) -> StepOutcome:
    """One optimizer step over the epoch's batches ``first`` to ``end - 1`` taken from ``batches``.

    Each part's loss is weighted by its share of its batch's targets and divided
    by the number of batches, so the summed gradients are those of the mean loss.
    """
    lr = rt.scheduler.get_last_lr()[0]
    batch_losses = []
    for b in range(first, end):  # gradient accumulation: end - first batches, one step
        batch, batch_loss = rt.to_device(next(batches)), 0.0
        parts = split_batch(batch, max_batch_tokens, rt.causal)  # one part, if it fits
        for i, (part, share) in enumerate(parts):
            last = b == end - 1 and i == len(parts) - 1
            if rt.cudagraphs:
                torch.compiler.cudagraph_mark_step_begin()
            # several processes average their gradients once per step, on its last backward
            with contextlib.nullcontext() if last else rt.accelerator.no_sync(rt.train_model):
                # 1. forward + loss: only the loss leaves (the B x T x vocab logits are freed)
                loss = rt.compute_loss(rt.train_model, part)[1]
                # 2. backward (fp16: the loss scaled up so small gradients do not vanish)
                scaled = loss * share / (end - first)
                (rt.scaler.scale(scaled) if rt.scaler is not None else scaled).backward()
            batch_loss = batch_loss + loss.detach().float() * share
        batch_losses.append((b, batch_loss, batch))
    # 3. clip the gradient norm (fp16: of the true gradients, unscaled first)
    grad_norm = None
    if rt.cfg.max_grad_norm is not None:
        if rt.scaler is not None:
            rt.scaler.unscale_(rt.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(rt.model.parameters(), rt.cfg.max_grad_norm)
    # 4. optimizer step (fp16: skipped on an overflow, which the scaler shows by lowering its scale)
    stepped = True
    if rt.scaler is None:
        rt.optimizer.step()
    else:
        scale = rt.scaler.get_scale()
        rt.scaler.step(rt.optimizer)
        rt.scaler.update()
        stepped = rt.scaler.get_scale() >= scale
    # 5. schedule (a skipped step keeps the learning rate where it was), zero_grad
    if stepped:
        rt.scheduler.step()
    rt.optimizer.zero_grad(set_to_none=True)
    return StepOutcome(batch_losses, grad_norm, lr)

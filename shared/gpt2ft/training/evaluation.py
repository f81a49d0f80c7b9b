"""One pass over the evaluation set: token-weighted loss, perplexity, metrics.

Introduced in ``sprints/sprint11_classification/04_finetune`` (the evaluation pass
of the loop by hand); each process evaluates its share and the sums are combined.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from gpt2ft.training.reporting import concat, loss_weight

if TYPE_CHECKING:
    from gpt2ft.training.runtime import Runtime


def eval_pass(rt: Runtime, eval_loader, metrics_fn, step: int, epoch: float) -> dict:
    """An eval record: ``eval_loss`` (mean over every target token or row), perplexity, metrics."""
    from accelerate.utils import gather_object
    device = rt.accelerator.device
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    weight_sum = torch.zeros((), device=device, dtype=torch.float64)
    preds, labels = [], []
    rt.model.eval()  # the plain model: no DDP wrapper, not compiled (eval is rare)
    with torch.no_grad():
        for batch in eval_loader:
            batch = rt.to_device(batch)
            outputs, loss = rt.compute_loss(rt.model, batch)
            w = loss_weight(batch, rt.causal)
            loss_sum += loss.detach().double() * w
            weight_sum += w
            if metrics_fn is not None:
                logits = outputs.logits.detach()
                # never B x T x vocab on the host: token ids for a language model
                preds.append((logits.argmax(-1) if logits.dim() == 3 else logits.float()).cpu())
                if "labels" in batch:
                    labels.append(batch["labels"].cpu())
    rt.model.train()
    if rt.world > 1:
        loss_sum, weight_sum = rt.accelerator.reduce(torch.stack([loss_sum, weight_sum]), "sum")
    eval_loss = (loss_sum / weight_sum.clamp_min(1)).item()
    record = {"step": step, "epoch": epoch, "eval_loss": eval_loss,
              "eval_perplexity": math.exp(min(eval_loss, 50.0)) if rt.causal else None}
    if metrics_fn is not None:
        if rt.world > 1:
            preds = [p for part in gather_object([preds]) for p in part]
            labels = [p for part in gather_object([labels]) for p in part]
        metrics = metrics_fn(concat(preds), concat(labels) if labels else None)
        record.update({k if k.startswith("eval_") else f"eval_{k}": float(v)
                       for k, v in metrics.items()})
    return record

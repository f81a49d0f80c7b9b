"""What a run writes down: running loss sums, the history table, the lines it prints.

Introduced in ``sprints/sprint12_book/05_appendix_engine``; the loop by hand in
``sprints/sprint11_classification/04_finetune`` keeps the same numbers in a list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # annotations only: inputs imports this module
    from gpt2ft.training.inputs import TrainData
    from gpt2ft.training.runtime import Runtime


class Meter:
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


def loss_weight(batch: dict, causal: bool) -> torch.Tensor | int:
    """How many targets a batch's mean loss averages over (tokens, or rows)."""
    labels = batch.get("labels")
    if labels is None:
        return batch["input_ids"].shape[0]
    if causal and labels.dim() >= 2:
        return (labels[..., 1:] != -100).sum()
    if labels.dim() >= 2:
        return (labels != -100).sum()
    return labels.shape[0]


def records_frame(records: list[dict]):
    """One row per step that logged or evaluated (a pandas DataFrame)."""
    import pandas as pd
    columns = ["step", "epoch", "train_loss", "eval_loss", "eval_perplexity", "lr"]
    if not records:
        return pd.DataFrame(columns=columns)
    merged: dict[int, dict] = {}
    for rec in records:
        merged.setdefault(rec["step"], {}).update({k: v for k, v in rec.items() if v is not None})
    frame = pd.DataFrame(list(merged.values()))
    for col in columns:
        if col not in frame:
            frame[col] = float("nan")
    extra = [c for c in frame.columns if c not in columns]
    return frame[columns + extra].sort_values("step").reset_index(drop=True)


def concat(parts: list):
    """Predictions of every eval batch as one NumPy array (token rows padded with -100)."""
    import numpy as np
    if not parts:
        return np.zeros((0,))
    if all(p.dim() >= 2 for p in parts) and len({p.shape[1:] for p in parts}) > 1:
        width = max(p.shape[1] for p in parts)  # token predictions of different lengths
        parts = [torch.nn.functional.pad(p, (0, width - p.shape[1]), value=-100) for p in parts]
    return torch.cat(parts).numpy()


def say(text: str) -> None:
    """An ordinary progress line: on stdout (not an error), without breaking a tqdm bar."""
    from tqdm.auto import tqdm
    tqdm.write(text)


def eval_line(record: dict, improved: bool, stopped: bool) -> str:
    parts = [f"step {record['step']}: eval_loss {record['eval_loss']:.4f}"]
    if record.get("eval_perplexity") is not None:
        parts.append(f"perplexity {record['eval_perplexity']:.2f}")
    parts += [f"{k[5:]} {v:.4f}" for k, v in record.items()
              if k.startswith("eval_") and k not in ("eval_loss", "eval_perplexity")
              and isinstance(v, float)]
    line = ", ".join(parts) + (" (best so far)" if improved else "")
    return line + (" - early stopping" if stopped else "")


def uniform_baseline(model, causal: bool) -> tuple[float, str] | None:
    """The loss of a model that gives every outcome the same probability: ln(vocabulary size)
    for a causal LM, ln(number of labels) for a classifier; ``None`` for anything else."""
    import math
    config = getattr(model, "config", None)
    if causal:
        head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
        n = getattr(head, "out_features", None) or getattr(config, "vocab_size", None)
        what = "token"
    elif type(model).__name__.endswith("Classification") and getattr(
            config, "problem_type", None) in (None, "single_label_classification"):
        n, what = getattr(config, "num_labels", None), "class"
    else:
        return None
    if not isinstance(n, int) or n < 2:
        return None
    return math.log(n), f"ln({n:,}), what a model that gives every {what} the same probability scores"


def divergence(model, causal: bool, final_eval_loss: float | None, learning_rate: float) -> str | None:
    """Why a run's final eval loss says it diverged (above the uniform baseline), or None."""
    import math
    baseline = uniform_baseline(model, causal)
    if baseline is None or final_eval_loss is None:
        return None
    value, meaning = baseline
    if math.isfinite(final_eval_loss) and final_eval_loss <= value:
        return None
    return (f"Diverged: the final eval loss {final_eval_loss:.4f} is above the uniform baseline "
            f"{value:.4f} = {meaning}, so the model predicts worse than not knowing anything. Try a "
            f"lower learning rate (this run: {learning_rate:g}), a warm-up, or fewer epochs.")


def start_line(rt: Runtime, data: TrainData, resumed_from, step: int) -> str:
    cfg, world = rt.cfg, rt.world
    accum, size = cfg.grad_accum_steps, data.batch_size or cfg.batch_size
    full = size * accum * world
    parts = f"{size} x {accum} accumulation x {world} process{'es' if world > 1 else ''}"
    batch = (f"global batch {full} = {parts}" if not data.rows or full <= data.rows else
             f"global batch {data.rows} = all the training rows, fewer than {parts}")
    if size < cfg.batch_size:
        batch += (f"; batch_size={cfg.batch_size} is more than the {data.rows} training rows"
                  f"{f' of {world} processes' if world > 1 else ''}: clamped to {size}")
    return (f"Training {data.total_steps} optimizer steps ({data.steps_per_epoch}/epoch, "
            f"{batch}) on {rt.device}, precision {rt.precision}"
            f"{', compiled' if cfg.compile else ''}"
            f"{', chunked LM loss' if rt.lm_loss == 'chunked' else ''}"
            + (f"; resuming from {resumed_from.name} (step {step})" if resumed_from else "") + ".")

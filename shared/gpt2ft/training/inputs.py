"""What the loop reads: the data checked, the batches in order, and how many steps.

Introduced in ``sprints/sprint11_classification/02_padding_and_batches`` (dynamic
padding, length grouping) and ``04_finetune`` (the loop by hand takes its batches
from a ``DataLoader`` the same way).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gpt2ft.core.models import context_length
from gpt2ft.training.batching import DynamicPadding, ResumableBatchSampler, sequence_lengths
from gpt2ft.training.config import TrainConfig, _is_int
from gpt2ft.training.reporting import loss_weight


def check_data(model, train_dataset, eval_dataset, cfg: TrainConfig,
               max_length) -> tuple[int | None, list | None]:
    """Refuse data the model cannot take, before any work. Returns (limit, lengths)."""
    if train_dataset is None or len(train_dataset) == 0:
        raise ValueError("train_dataset is empty; give at least one example.")
    if cfg.early_stopping_patience is not None and eval_dataset is None:
        raise ValueError("early_stopping_patience needs an eval_dataset to measure eval loss.")
    if cfg.load_best_at_end and eval_dataset is None:
        raise ValueError("load_best_at_end needs an eval_dataset to pick the best weights.")
    context = context_length(model)
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
    lengths = sequence_lengths(train_dataset) if cfg.length_grouped else None
    if lengths is not None:
        sample = lengths
    else:  # a deterministic sample; the collator checks every batch anyway
        n = len(train_dataset)
        sample = [len(train_dataset[i]["input_ids"])
                  for i in sorted({0, n - 1, *range(0, n, max(1, n // 256))})]
    if limit is not None and max(sample) > limit:
        what = "max_length" if max_length else "the model's context (n_positions)"
        raise ValueError(f"A training example has {max(sample)} tokens, over {what} = {limit}. "
                         f"Use blocks/rows of at most {limit} tokens.")
    return limit, lengths


@dataclass
class TrainData:
    """The training order (resumable, one slice per process) and the evaluation batches."""

    dataset: object
    sampler: ResumableBatchSampler
    collate: object
    eval_loader: torch.utils.data.DataLoader | None
    steps_per_epoch: int
    total_steps: int
    num_workers: int
    pin: bool
    max_batch_tokens: int | None = None  # a longer batch is cut into micro-batches

    def loader(self, epoch: int, start_batch: int) -> torch.utils.data.DataLoader:
        """This process's micro-batches of ``epoch`` from global batch ``start_batch`` on."""
        self.sampler.set_epoch(epoch, start_batch)
        return torch.utils.data.DataLoader(
            self.dataset, batch_sampler=self.sampler, collate_fn=self.collate,
            num_workers=self.num_workers, pin_memory=self.pin,
            generator=torch.Generator())  # private: the global RNG stays untouched

    def batches_in(self, epoch: int) -> int:
        return self.sampler.num_batches(epoch)

    def every(self, value) -> int | None:
        """``eval_every``/``save_every`` in steps (``"epoch"`` = the steps of one epoch)."""
        return self.steps_per_epoch if value == "epoch" else value


def make_train_data(cfg: TrainConfig, model, train_dataset, eval_dataset, collate_fn, limit,
                    lengths, world: int, rank: int, device: str) -> TrainData:
    pin = device == "cuda"
    pad_id = getattr(getattr(model, "config", None), "pad_token_id", None)
    collate = collate_fn or DynamicPadding(
        pad_token_id=pad_id, max_length=limit,
        pad_to_multiple_of=cfg.pad_to_multiple_of or (8 if device == "cuda" else None))
    sampler = ResumableBatchSampler(len(train_dataset), cfg.batch_size, seed=cfg.seed,
                                    lengths=lengths, num_replicas=world, rank=rank)
    per_epoch = sampler.num_batches(0)
    if per_epoch == 0:
        raise ValueError(f"train_dataset has {len(train_dataset)} rows, fewer than the "
                         f"{world} processes; give more data.")
    steps_per_epoch = math.ceil(per_epoch / cfg.grad_accum_steps)
    eval_loader = None
    if eval_dataset is not None:  # each process evaluates every world-th row
        eval_bs = cfg.eval_batch_size or cfg.batch_size
        mine = list(range(rank, len(eval_dataset), world))
        eval_loader = torch.utils.data.DataLoader(
            eval_dataset, batch_sampler=[mine[i:i + eval_bs] for i in range(0, len(mine), eval_bs)],
            collate_fn=collate, num_workers=cfg.num_workers, pin_memory=pin,
            generator=torch.Generator())
    return TrainData(dataset=train_dataset, sampler=sampler, collate=collate,
                     eval_loader=eval_loader, steps_per_epoch=steps_per_epoch,
                     total_steps=min(cfg.max_steps or math.inf, steps_per_epoch * cfg.num_epochs),
                     num_workers=cfg.num_workers, pin=pin,
                     max_batch_tokens=token_budget(cfg.max_batch_tokens, device))


# --------------------------------------------------------------------------- micro-batches

def token_budget(setting, device: str) -> int | None:
    """``max_batch_tokens`` in tokens: 'auto' is 1,024 tokens per GiB of GPU memory
    (16,384 on a 16 GB card), 4,096 on a CPU (about 10 GB for GPT-2 small at 512+ tokens)."""
    if setting != "auto":
        return setting
    if device == "cuda":
        return int(torch.cuda.get_device_properties(0).total_memory / 2**30) * 1024
    return 4096


def _trim(part: dict, width: int) -> dict:
    """Drop the padding columns no row of this micro-batch needs."""
    mask = part.get("attention_mask")
    if mask is None or mask.dim() != 2:
        return part
    keep = int(mask.sum(1).max())
    return {k: (v[:, :keep] if torch.is_tensor(v) and v.dim() == 2 and v.shape[1] == width else v)
            for k, v in part.items()}


def split_batch(batch: dict, budget: int | None, causal: bool) -> list[tuple[dict, object]]:
    """``[(micro_batch, share)]``: rows cut so each part has at most ``budget`` padded tokens.

    ``share`` is the part's fraction of the batch's targets (tokens for a causal
    LM, rows for a classifier), so ``sum(share * mean loss of part)`` is the mean
    loss of the whole batch, and so are the gradients.
    """
    ids = batch["input_ids"]
    rows, width = ids.shape[0], ids.shape[-1]
    if budget is None or rows * width <= budget or rows == 1:
        return [(batch, 1.0)]
    per = max(1, budget // width)
    total = loss_weight(batch, causal)
    parts = []
    for start in range(0, rows, per):
        part = {k: (v[start:start + per] if torch.is_tensor(v) and v.dim() >= 1 and v.shape[0] == rows
                    else v) for k, v in batch.items()}
        part = _trim(part, width)
        parts.append((part, loss_weight(part, causal) / total))
    return parts

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
from gpt2ft.training.config import TrainConfig
from gpt2ft.training.reporting import loss_weight


def check_data(model, train_dataset, eval_dataset, cfg: TrainConfig,
               max_length) -> tuple[int | None, list | None]:
    """Refuse data the model cannot take, before any work. Returns (limit, lengths)."""
    if train_dataset is None or len(train_dataset) == 0:
        raise ValueError("train_dataset is empty; give at least one example.")
    if cfg.early_stopping_patience and eval_dataset is None:
        raise ValueError("early_stopping_patience needs an eval_dataset to measure eval loss.")
    if cfg.load_best_at_end and eval_dataset is None:
        raise ValueError("load_best_at_end needs an eval_dataset to pick the best weights.")
    context = context_length(model)
    if max_length is not None:
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
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
    check_token_ids(model, train_dataset, eval_dataset)
    return limit, lengths


def check_token_ids(model, train_dataset, eval_dataset=None) -> None:
    """Every token id of the data must have a row in the model's input embedding matrix."""
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    size = getattr(embeddings, "num_embeddings", None)
    if size is None:
        return
    for name, dataset in (("train_dataset", train_dataset), ("eval_dataset", eval_dataset)):
        if dataset is None or len(dataset) == 0:
            continue
        low, high = token_id_range(dataset)
        if low < 0 or high >= size:
            bad = low if low < 0 else high
            raise ValueError(
                f"{name} holds the token id {bad:,}, but the model's input embedding matrix has "
                f"{size:,} rows (ids 0 to {size - 1:,}): the data was tokenized with another "
                f"vocabulary than the model's ({high + 1:,} ids or more). Fix: tokenize with the "
                "model's own tokenizer, or grow the model's embeddings with "
                "model.resize_token_embeddings(len(tokenizer)).")


def token_id_range(dataset, key: str = "input_ids") -> tuple[int, int]:
    """The smallest and the largest ``input_ids`` of every row (a ``datasets.Dataset`` is read
    by column, in blocks)."""
    if hasattr(dataset, "iter") and key in (getattr(dataset, "column_names", None) or ()):
        rows = (r for part in dataset.select_columns([key]).iter(batch_size=4096) for r in part[key])
    else:
        rows = (row[key] for row in dataset)
    low, high = 0, -1
    for ids in rows:
        if isinstance(ids, list) and ids and isinstance(ids[0], int):  # the common case: fast
            low, high = min(low, min(ids)), max(high, max(ids))
            continue
        ids = torch.as_tensor(ids)  # a tensor, an array, nested lists
        if ids.numel():
            low, high = min(low, int(ids.min())), max(high, int(ids.max()))
    return low, high


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
    batch_size: int = 0  # per process: cfg.batch_size, clamped to the data (0 = not known)
    rows: int = 0  # training rows

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
    # A batch larger than the data is the whole data: clamped (the same batches), and the
    # start line says so rather than print a global batch the run never has.
    batch_size = min(cfg.batch_size, math.ceil(len(train_dataset) / world))
    sampler = ResumableBatchSampler(len(train_dataset), batch_size, seed=cfg.seed,
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
                     max_batch_tokens=token_budget(cfg.max_batch_tokens, device),
                     batch_size=batch_size, rows=len(train_dataset))


# --------------------------------------------------------------------------- micro-batches

def token_budget(setting: int, device: str) -> int:
    """``max_batch_tokens`` in tokens: 0 (the engine's choice) is 1,024 tokens per GiB of GPU
    memory (16,384 on a 16 GB card), 4,096 on a CPU (about 10 GB for GPT-2 small at 512+ tokens)."""
    if setting:
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

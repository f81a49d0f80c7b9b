"""Batches without waste: dynamic padding, length grouping, a resumable sampler.

Introduced in ``sprints/sprint11_classification/02_padding_and_batches``; used by
:mod:`gpt2ft.training` for every run.

- :class:`DynamicPadding` pads each batch only to its own longest row (not to a
  fixed ``max_length``); rows that are all the same length, such as packed
  causal-LM blocks, are simply stacked.
- :func:`length_grouped_order` puts rows of similar length into the same batch
  (transformers' shuffled "mega-batches", each sorted by length), so the padding
  left after dynamic padding is small too.
- :class:`ResumableBatchSampler` is the training order: one deterministic order
  per ``(seed, epoch)``, can start at any batch (resume skips what a killed run
  had already consumed), and cuts every global batch into one slice per process
  (so 2 processes with batch ``B`` see exactly what 1 process with ``2B`` sees).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from numbers import Number

import torch

# What each well-known key is padded with; any other sequence key is padded with 0.
LABEL_PAD_ID = -100


def _is_sequence(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.dim() >= 1
    return isinstance(value, (list, tuple))


def _is_numeric(value) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, bool | Number):
        return True
    if isinstance(value, (list, tuple)):
        return len(value) == 0 or isinstance(value[0], bool | Number | list | tuple)
    return False


class DynamicPadding:
    """Collate a list of examples (dicts) into a dict of tensors, padding per batch.

    ``input_ids`` are padded with ``pad_token_id``, ``attention_mask`` (and any
    other key) with 0, ``labels`` with -100 (ignored by the loss). Padding is on
    the right, which GPT-2 handles for training and for sequence classification
    (it reads the last non-pad token). Scalar fields (a class label) become a 1-D
    tensor; non-numeric fields (raw text) are dropped.

    ``pad_to_multiple_of`` rounds the padded length up (8 suits GPU tensor cores
    and keeps the number of distinct shapes small for ``torch.compile``).
    ``max_length`` is a hard limit: a longer row is an error, never a silent cut.
    """

    def __init__(self, pad_token_id: int | None = 0, label_pad_id: int = LABEL_PAD_ID,
                 pad_to_multiple_of: int | None = None, max_length: int | None = None):
        if pad_to_multiple_of is not None and pad_to_multiple_of < 1:
            raise ValueError(f"pad_to_multiple_of must be None or >= 1, got {pad_to_multiple_of}.")
        self.pad_token_id = 0 if pad_token_id is None else int(pad_token_id)
        self.label_pad_id = label_pad_id
        self.pad_to_multiple_of = pad_to_multiple_of
        self.max_length = max_length

    def pad_value(self, key: str) -> int:
        if key == "input_ids":
            return self.pad_token_id
        if key == "labels":
            return self.label_pad_id
        return 0

    def __call__(self, features: Sequence[Mapping]) -> dict[str, torch.Tensor]:
        if not features:
            raise ValueError("Cannot collate an empty batch.")
        batch: dict[str, torch.Tensor] = {}
        for key in features[0].keys():
            values = [f[key] for f in features]
            if not _is_numeric(values[0]):
                continue
            if _is_sequence(values[0]):
                batch[key] = self._pad(key, values)
            elif isinstance(values[0], torch.Tensor):
                batch[key] = torch.stack(values)
            else:
                batch[key] = torch.tensor(values)
        return batch

    def _pad(self, key: str, values: list) -> torch.Tensor:
        lengths = [len(v) for v in values]
        longest = max(lengths)
        if self.max_length is not None and longest > self.max_length:
            raise ValueError(
                f"A row of {key!r} has {longest} tokens, over max_length={self.max_length} "
                "(the model's context). Truncate or re-pack the data to at most "
                f"{self.max_length} tokens.")
        target = longest
        if self.pad_to_multiple_of:
            target = math.ceil(longest / self.pad_to_multiple_of) * self.pad_to_multiple_of
            if self.max_length is not None:
                target = min(target, max(self.max_length, longest))
        same = all(n == target for n in lengths)
        if isinstance(values[0], torch.Tensor):
            if same:
                return torch.stack(values)
            out = torch.full((len(values), target), self.pad_value(key), dtype=values[0].dtype)
            for row, v in enumerate(values):
                out[row, : len(v)] = v
            return out
        if same:
            return torch.tensor(values)
        pad = self.pad_value(key)
        return torch.tensor([list(v) + [pad] * (target - len(v)) for v in values])


def sequence_lengths(dataset, key: str = "input_ids") -> list[int]:
    """Length of ``key`` in every row (reads the column at once for a ``datasets.Dataset``)."""
    column_names = getattr(dataset, "column_names", None)
    if column_names is not None and key in column_names:
        return [len(v) for v in dataset[key]]
    return [len(dataset[i][key]) for i in range(len(dataset))]


def length_grouped_order(lengths: Sequence[int], batch_size: int,
                         generator: torch.Generator) -> list[list[int]]:
    """Batches of indices with rows of similar length together, in a random order.

    transformers' own scheme (``get_length_grouped_indices``, what ``Trainer``'s
    ``group_by_length`` uses): the indices are shuffled, cut into mega-batches of
    ``50 * batch_size`` rows (or fewer, so that there are at least 4), each
    sorted longest first, and the longest row is put first (an
    out-of-memory error shows on step 1, not late); then cut into batches.
    """
    from transformers.trainer_pt_utils import get_length_grouped_indices
    flat = get_length_grouped_indices(list(lengths), batch_size, generator=generator)
    return [flat[i:i + batch_size] for i in range(0, len(flat), batch_size)]


class ResumableBatchSampler:
    """Deterministic, resumable, process-aware batches of indices.

    The order of epoch ``e`` depends only on ``(seed, e)`` (a private
    ``torch.Generator``, never the global RNG, so dropout randomness is not
    disturbed). ``batch_size`` is per process; each *global* batch of
    ``batch_size * num_replicas`` rows is cut into ``num_replicas`` consecutive
    slices and this process takes slice ``rank``. A short last global batch is
    split as evenly as possible; one with fewer rows than processes is dropped
    (as is any short last batch with ``drop_last=True``).

    ``set_epoch(e)`` picks the order, ``start_batch`` skips the global batches a
    previous (killed) run had already used.
    """

    def __init__(self, num_rows: int, batch_size: int, *, seed: int = 0, shuffle: bool = True,
                 lengths: Sequence[int] | None = None, drop_last: bool = False,
                 num_replicas: int = 1, rank: int = 0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, {num_replicas}), got {rank}.")
        if lengths is not None and len(lengths) != num_rows:
            raise ValueError(f"lengths has {len(lengths)} entries for {num_rows} rows.")
        self.num_rows = num_rows
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.lengths = list(lengths) if lengths is not None else None
        self.drop_last = drop_last
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.start_batch = 0
        self._cache: tuple[int, list[list[int]]] | None = None

    @property
    def global_batch_size(self) -> int:
        return self.batch_size * self.num_replicas

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch = epoch
        self.start_batch = start_batch

    def global_batches(self, epoch: int | None = None) -> list[list[int]]:
        """All global batches of an epoch (every process computes the same list)."""
        epoch = self.epoch if epoch is None else epoch
        if self._cache is not None and self._cache[0] == epoch:
            return self._cache[1]
        gbs = self.global_batch_size
        if self.lengths is not None:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            batches = length_grouped_order(self.lengths, gbs, g)
        else:
            if self.shuffle:
                g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
                order = torch.randperm(self.num_rows, generator=g).tolist()
            else:
                order = list(range(self.num_rows))
            batches = [order[i:i + gbs] for i in range(0, self.num_rows, gbs)]
        minimum = gbs if self.drop_last else self.num_replicas
        batches = [b for b in batches if len(b) >= minimum]
        self._cache = (epoch, batches)
        return batches

    def rank_slice(self, batch: list[int]) -> list[int]:
        """This process's part of a global batch."""
        if len(batch) == self.global_batch_size:
            return batch[self.rank * self.batch_size:(self.rank + 1) * self.batch_size]
        base, extra = divmod(len(batch), self.num_replicas)
        start = self.rank * base + min(self.rank, extra)
        return batch[start:start + base + (1 if self.rank < extra else 0)]

    def num_batches(self, epoch: int | None = None) -> int:
        """Global batches in a whole epoch (ignores ``start_batch``)."""
        return len(self.global_batches(epoch))

    def __len__(self) -> int:
        return max(0, self.num_batches() - self.start_batch)

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.global_batches()[self.start_batch:]:
            yield self.rank_slice(batch)

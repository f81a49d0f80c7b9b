"""A book as causal-LM training data: tokenize once, split, pack into blocks.

Introduced in ``sprints/sprint12_book/01_prepare_data`` (the blocks cut by hand
there are checked equal to :func:`pack_blocks` and :func:`prepare_corpus`).

- The whole text is tokenized once and cached (keyed by the text and the
  tokenizer), so re-running a notebook or a script does not re-tokenize. The
  cache file records the hash of the text, the tokenizer and its own tokens; one
  that does not match them (replaced, edited, truncated) is rebuilt, and a line
  says so, naming the file.
- Train and validation are *contiguous* ranges of the token stream (the last
  ``validation_fraction`` is validation): a random split of blocks from one book
  would put neighbouring sentences on both sides and flatter validation loss.
- Each side is cut into non-overlapping blocks of ``block_size`` tokens with
  ``labels == input_ids`` (the model shifts them by one inside); the tail that
  does not fill a block is dropped and reported.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import Dataset

from gpt2ft.core.paths import cache_dir


def tokenizer_fingerprint(tokenizer) -> str:
    """A hash that changes whenever the tokenizer would split text differently."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    spec = backend.to_str() if backend is not None else repr(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def _ids_sha256(ids: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(ids, dtype=np.int32).tobytes()).hexdigest()


def _read_cache(path: Path, text_sha256: str, tokenizer: str) -> tuple[np.ndarray | None, str]:
    """The cached ids, or None and why they cannot be used (the file is then rebuilt)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            ids = data["ids"]
            made = {key: str(data[key]) for key in ("text_sha256", "tokenizer", "ids_sha256")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        return None, f"could not be read ({type(err).__name__}: {err}): it is truncated or corrupt"
    if made["text_sha256"] != text_sha256:
        return None, "was made from another text"
    if made["tokenizer"] != tokenizer:
        return None, "was made by another tokenizer"
    if ids.ndim != 1 or ids.dtype != np.int32 or _ids_sha256(ids) != made["ids_sha256"]:
        return None, "holds other tokens than the ones it was written with"
    return ids, ""


def tokenize_cached(text: str, tokenizer) -> tuple[np.ndarray, bool]:
    """Token ids of ``text`` (int32) and whether they came from the cache.

    The cache file (``<cache>/tokens/<key>.npz``) holds the ids with the hash of
    the text, the tokenizer's fingerprint and the ids' own hash; a file that does
    not match them (copied from another text, tokens changed, truncated) is
    rebuilt from the text, and a printed line names it and why.
    """
    text_sha256, fingerprint = hashlib.sha256(text.encode()).hexdigest(), tokenizer_fingerprint(tokenizer)
    path = cache_dir("tokens") / f"{text_sha256[:16]}-{fingerprint}.npz"
    if path.exists():
        ids, why = _read_cache(path, text_sha256, fingerprint)
        if ids is not None:
            return ids, True
        print(f"Note: the token cache {path} {why}; it is rebuilt from the text.")
    # One call over the whole text: the tokenizer sees real word boundaries everywhere.
    ids = np.asarray(tokenizer(text, verbose=False)["input_ids"], dtype=np.int32)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, ids=ids, text_sha256=np.array(text_sha256), tokenizer=np.array(fingerprint),
             ids_sha256=np.array(_ids_sha256(ids)))
    tmp.replace(path)  # a crash mid-write never leaves a truncated cache entry
    return ids, False


def split_contiguous(ids: np.ndarray, validation_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """``(train, validation)``: the last ``validation_fraction`` of the stream is validation."""
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction={validation_fraction} must be between 0 and 1, e.g. 0.1.")
    cut = int(len(ids) * (1 - validation_fraction))
    return ids[:cut], ids[cut:]


def pack_blocks(ids: np.ndarray, block_size: int) -> tuple[np.ndarray, int]:
    """``(blocks, dropped)``: an ``(n, block_size)`` array and the tail tokens left out."""
    if block_size < 2:
        raise ValueError(f"block_size={block_size} is too small; use at least 2 (128 by default).")
    n = len(ids) // block_size
    return ids[: n * block_size].reshape(n, block_size), len(ids) - n * block_size


@dataclass
class PackedCorpus:
    train: Dataset
    validation: Dataset
    train_ids: np.ndarray  # the contiguous token streams, for baselines and memorisation checks
    validation_ids: np.ndarray
    report: dict


def _as_dataset(blocks: np.ndarray) -> Dataset:
    rows = blocks.tolist()
    return Dataset.from_dict({"input_ids": rows, "labels": rows}).with_format("torch")


def prepare_corpus(text: str, tokenizer, *, block_size: int = 128,
                   validation_fraction: float = 0.1, max_context: int | None = None,
                   max_blocks: int | None = None) -> PackedCorpus:
    """Tokenize (cached), split contiguously and pack; the report says what was kept.

    ``max_blocks`` keeps only the first that many blocks of each split (a cap for
    quick runs, the notebooks' ``MAX_EXAMPLES``; ``None`` or 0 keeps all). The
    token streams ``train_ids``/``validation_ids`` stay whole.
    """
    if max_blocks is not None and (not isinstance(max_blocks, int) or max_blocks < 0):
        raise ValueError(f"max_blocks={max_blocks!r} must be a whole number >= 0 (0 = every block).")
    if max_context is not None and block_size > max_context:
        raise ValueError(f"block_size={block_size} is longer than the model's context ({max_context}); "
                         f"use block_size <= {max_context}.")
    ids, cached = tokenize_cached(text, tokenizer)
    train_ids, val_ids = split_contiguous(ids, validation_fraction)
    train_blocks, train_dropped = pack_blocks(train_ids, block_size)
    val_blocks, val_dropped = pack_blocks(val_ids, block_size)
    if len(train_blocks) == 0 or len(val_blocks) == 0:
        raise ValueError(
            f"The text has {len(ids)} tokens: too few for one {block_size}-token block in each of "
            f"train and validation. Use a longer text or a smaller block_size.")
    if max_blocks:
        train_blocks, val_blocks = train_blocks[:max_blocks], val_blocks[:max_blocks]
    report = {
        "characters": len(text), "tokens": len(ids), "tokenized from cache": cached,
        "block size": block_size,
        "train tokens": len(train_ids), "train blocks": len(train_blocks), "train tail dropped": train_dropped,
        "validation tokens": len(val_ids), "validation blocks": len(val_blocks),
        "validation tail dropped": val_dropped,
    }
    if max_blocks:
        report["blocks kept per split (max_blocks)"] = max_blocks
    return PackedCorpus(_as_dataset(train_blocks), _as_dataset(val_blocks), train_ids, val_ids, report)


def prompts_from(ids: np.ndarray, tokenizer, n: int, length: int = 8) -> list[str]:
    """``n`` prompts of ``length`` tokens taken at even steps through ``ids``.

    Prompts from held-out text let the before/after comparison work for any
    book without hand-written prompts.
    """
    starts = np.linspace(0, len(ids) - length, num=n, dtype=int)
    return [tokenizer.decode(ids[s:s + length].tolist()) for s in starts]

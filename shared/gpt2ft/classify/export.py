"""A fine-tuned classifier saved as one folder that ``transformers.pipeline`` loads.

Introduced in ``sprints/sprint11_classification/04_finetune`` (the saved best
weights, config with label names and tokenizer with its pad token, checked
against the notebook's own predictions).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from gpt2ft.core.processes import is_main_process, wait_for_everyone


def export_for_pipeline(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                        folder: str | os.PathLike) -> Path:
    """``save_pretrained`` model and tokenizer together, so one folder is a pipeline.

    A LoRA (peft) model is merged into its base first. The config carries
    ``id2label``/``label2id`` and ``pad_token_id``; the tokenizer its pad token.
    """
    folder = Path(folder)
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    if is_main_process():  # one writer under `accelerate launch`; the others wait for it
        folder.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    wait_for_everyone()
    return folder


def pipeline_device(device: str | None = None) -> str:
    """Where a pipeline runs: ``device`` if given, else the GPU when there is one, else the CPU."""
    if device is not None:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def pipeline_predictions(folder: str | os.PathLike, texts: Sequence[str], max_length: int,
                         batch_size: int = 32, device: str | None = None) -> pd.DataFrame:
    """Run ``pipeline("text-classification")`` from a saved folder: label name and score per text.

    On the GPU when there is one (``device=None``), else the CPU; ``device`` picks one.
    """
    import transformers

    clf = transformers.pipeline("text-classification", model=str(folder), tokenizer=str(folder),
                                device=pipeline_device(device))
    out = clf(list(texts), truncation=True, max_length=max_length, batch_size=batch_size)
    return pd.DataFrame({"label": [o["label"] for o in out], "score": [o["score"] for o in out]})

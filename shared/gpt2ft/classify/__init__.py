"""Sequence classification with GPT-2 (or any ``AutoModelForSequenceClassification``).

Taught in ``sprints/sprint11_classification``, one module per idea:

- :mod:`~gpt2ft.classify.classifier`      pad token, token lengths, ``max_length``, encoding,
  the classifier with its label names (``01_data``, ``02_padding_and_batches``, ``04_finetune``)
- :mod:`~gpt2ft.classify.finetune`   the training engine run on a classifier, the live
  loss/accuracy plot (``04_finetune``)
- :mod:`~gpt2ft.classify.baseline`   the bag-of-words baseline (``03_baseline``); loads without the engine
- :mod:`~gpt2ft.classify.metrics`    accuracy/precision/recall/F1, confusion matrix, predictions
  file (``03_baseline``, ``04_finetune``)
- :mod:`~gpt2ft.classify.prediction` logits of an encoded split, batched to fit (``04_finetune``)
- :mod:`~gpt2ft.classify.export`     one folder that ``pipeline("text-classification")``
  loads (``04_finetune``)
- :mod:`~gpt2ft.classify.imbalance`  class weights, weighted loss, oversampling (``06_imbalance``)
- :mod:`~gpt2ft.classify.diagrams`   the token lengths, the padded batch, the GPT-2 stack with
  its classification head and the loop by hand against the engine, drawn from the real
  tokenizer, config and data (``01``, ``02``, ``04``)
- :mod:`~gpt2ft.classify.comparison` runs side by side: loss curves of several runs, their
  confusion matrices in a row (``05_strategies``, ``06_imbalance``)
- :mod:`~gpt2ft.classify.frozen`     a head trained on frozen features: the body read once,
  heads trained by the loop of ``04`` in a fraction of a second (``08_exercises``)

Every public name is here too: ``from gpt2ft import classify; classify.predict(...)``.
The texts the models read come from :meth:`gpt2ft.session.data.ClassificationData.model_texts`,
the padding collator is :class:`gpt2ft.training.batching.DynamicPadding`, memory is measured
with :mod:`gpt2ft.training.memory`.
"""

import importlib

# Where each public name lives. Read on first use (PEP 562), so that
# `from gpt2ft.classify import baseline` loads scikit-learn only, not the training engine.
_HOMES = {
    **dict.fromkeys(["LossAccuracyPlot", "train_classifier"], "finetune"),
    **dict.fromkeys(["MINILM_PACKAGE", "build_classifier", "check_pad_tokens", "choose_max_length", "encode",
                    "label_maps", "load_encoded", "minilm_dir", "model_label", "set_pad_token",
                    "token_lengths"], "classifier"),
    **dict.fromkeys(["confusion_grid", "loss_curves_figure"], "comparison"),
    **dict.fromkeys(["head_scores", "hidden_states", "train_head"], "frozen"),
    **dict.fromkeys(["balanced_subset", "class_weights", "weighted_loss"], "imbalance"),
    **dict.fromkeys(["classification_metrics", "confusion_figure", "metrics_fn", "metrics_table",
                    "predictions_frame", "softmax"], "metrics"),
    **dict.fromkeys(["evaluate_classifier", "predict", "prediction_batches", "prediction_budget"], "prediction"),
    **dict.fromkeys(["export_for_pipeline", "pipeline_device", "pipeline_predictions"], "export"),
    **dict.fromkeys(["length_figure", "loop_figure", "padding_figure", "stack_figure"], "diagrams"),
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


def __dir__():
    return sorted(set(globals()) | set(_HOMES))

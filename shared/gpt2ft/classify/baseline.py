"""The bag-of-words baseline: CountVectorizer + LogisticRegression.

Introduced in ``sprints/sprint11_classification/03_baseline``.

The recipe of the data README's reference figures: scikit-learn defaults for
both, ``max_iter=2000``, fitted on the training portion (our ``train`` plus
``validation``) and scored on ``test``. A fine-tuned model that does not beat
it has learned nothing a word count can't.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from gpt2ft.classify.metrics import classification_metrics


def make_baseline(max_iter: int = 2000) -> Pipeline:
    """An unfitted CountVectorizer + LogisticRegression pipeline (the reference recipe)."""
    return make_pipeline(CountVectorizer(), LogisticRegression(max_iter=max_iter))


@dataclass
class BaselineResult:
    """A fitted baseline and how it did on the test texts."""

    pipeline: Pipeline
    predictions: np.ndarray  # predicted label ids on the test texts
    probabilities: np.ndarray  # rows x labels
    metrics: dict  # see gpt2ft.classify.classification_metrics
    train_rows: int
    vocabulary: int
    seconds: float

    @property
    def accuracy(self) -> float:
        return self.metrics["accuracy"]


def fit_baseline(train_texts: Sequence[str], train_labels: Sequence[int],
                 test_texts: Sequence[str], test_labels: Sequence[int],
                 label_names: Sequence[str], max_iter: int = 2000) -> BaselineResult:
    """Fit on the training texts, score on the test texts."""
    start = time.perf_counter()
    pipe = make_baseline(max_iter).fit(list(train_texts), list(train_labels))
    probs = pipe.predict_proba(list(test_texts))
    pred = pipe.classes_[probs.argmax(1)]
    return BaselineResult(
        pipeline=pipe, predictions=pred, probabilities=probs,
        metrics=classification_metrics(list(test_labels), pred, label_names),
        train_rows=len(train_texts), vocabulary=len(pipe[0].vocabulary_),
        seconds=time.perf_counter() - start)


def run_baseline(data, include_validation: bool = True, max_iter: int = 2000, test=None) -> BaselineResult:
    """The baseline on a :class:`gpt2ft.session.data.ClassificationData`.

    ``include_validation=True`` fits on ``train`` + ``validation`` (the reference
    recipe: the README's figures use the whole training portion); ``False`` fits
    on ``train`` only, the rows a fine-tuned model learns from. ``test`` (a split
    with ``text`` and ``label``) is scored instead of ``data.test``: the baseline
    fitted on every row, scored on the capped test split a model was scored on
    (``04_finetune`` at the small profile).
    """
    texts, labels = list(data.train["text"]), list(data.train["label"])
    if include_validation:
        texts += list(data.validation["text"])
        labels += list(data.validation["label"])
    test = data.test if test is None else test
    return fit_baseline(texts, labels, test["text"], test["label"], data.label_names, max_iter=max_iter)

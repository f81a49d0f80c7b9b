"""gpt2ft.classify.baseline: the CountVectorizer + LogisticRegression recipe, and its reference figure.

The package's baseline reproduces the reference figure of every real set (SST-2
train -> dev 0.8165, the figure the sprint's issue names; customer reviews 0.7590,
see ``tests/test_data.py`` for why the data README says 0.7370), and behaves on
hand-made data.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from gpt2ft.classify import baseline
from gpt2ft.session import settings
from gpt2ft.session.data import CLASSIFICATION_NAMES, load_classification, reference_baseline

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_real_data = pytest.mark.skipif(
    not (REAL_DATA / "README.md").is_file(),
    reason=f"real data sets not found at {REAL_DATA} (../shared/data beside the checkout)")


def test_recipe_is_the_references():
    pipe = baseline.make_baseline()
    vectorizer, model = pipe[0], pipe[1]
    assert type(vectorizer).__name__ == "CountVectorizer" and vectorizer.get_params()["lowercase"]
    assert type(model).__name__ == "LogisticRegression" and model.max_iter == 2000
    assert model.C == 1.0  # scikit-learn's default


def test_fit_baseline_on_hand_made_texts():
    train = ["good film", "great film", "good fun", "bad film", "awful film", "bad acting"]
    labels = [1, 1, 1, 0, 0, 0]
    result = baseline.fit_baseline(train, labels, ["good acting", "awful fun"], [1, 0],
                                   ["negative", "positive"])
    assert result.predictions.tolist() == [1, 0]
    assert result.accuracy == 1.0 and result.metrics["macro_f1"] == 1.0
    assert result.train_rows == 6 and result.vocabulary == 7
    assert result.probabilities.shape == (2, 2)


def test_run_baseline_on_the_bundled_sample_uses_train_plus_validation():
    data = load_classification("sms_spam", settings.resolve("tiny", env={}, cuda=False))
    both = baseline.run_baseline(data)
    only_train = baseline.run_baseline(data, include_validation=False)
    assert both.train_rows == len(data.train) + len(data.validation)
    assert only_train.train_rows == len(data.train)
    assert set(both.metrics) >= {"accuracy", "macro_f1", "recall_ham", "recall_spam"}


def test_run_baseline_scores_another_test_split_when_given_one():
    """04 at the small profile: the baseline fitted on every row, scored on the capped test split."""
    run = settings.resolve("tiny", env={}, cuda=False)
    capped = load_classification("sst2", run, max_examples=30)
    every = baseline.run_baseline(load_classification("sst2", run), test=capped.test)
    assert len(every.predictions) == len(capped.test) == 30
    assert every.train_rows > len(capped.train) + len(capped.validation)
    assert every.predictions.tolist() == every.pipeline.predict(capped.test["text"]).tolist()


@needs_real_data
@pytest.mark.parametrize("name", CLASSIFICATION_NAMES)
def test_real_sets_reproduce_the_reference_figures(name):
    data = load_classification(name, settings.resolve("full", data_dir=REAL_DATA, env={},
                                                      cuda=False))
    start = time.perf_counter()
    result = baseline.run_baseline(data)  # train + validation -> test, the reference recipe
    print(f"{name} baseline: {result.accuracy:.4f} on {result.train_rows:,} rows "
          f"in {time.perf_counter() - start:.1f} s")
    assert result.train_rows == len(data.train) + len(data.validation)
    assert result.accuracy == pytest.approx(reference_baseline(name), abs=0.005)
    if name == "sst2":
        assert result.train_rows == 67_349 and len(data.test) == 872
        assert reference_baseline("sst2") == 0.8165

"""Fine-tuning a classifier through the project's training engine.

Introduced in ``sprints/sprint11_classification/04_finetune``, which writes the
recipe out as a :class:`gpt2ft.training.TrainConfig` (AdamW with weight decay,
warm-up then linear decay, clipping, evaluation every epoch, the best weights
kept and loaded back). :func:`train_classifier` runs it with the classification
scores at every evaluation; :class:`LossAccuracyPlot` draws them live;
:func:`run_folder` gives each run a folder named after its identity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from gpt2ft.classify.classifier import check_pad_tokens
from gpt2ft.classify.metrics import metrics_fn
from gpt2ft.core import paths
from gpt2ft.training import LivePlot, TrainConfig, TrainResult, runs, train


def train_classifier(model, train_dataset, eval_dataset, label_names: Sequence[str],
                     cfg: TrainConfig, *, loss_fn: Callable | None = None,
                     callbacks: Sequence = (), max_length: int | None = None, tokenizer=None,
                     about: dict | None = None) -> TrainResult:
    """Fine-tune a classifier with :func:`gpt2ft.training.train` and the settings in ``cfg``.

    With ``cfg.resume=False`` each call is a fresh run (an earlier run of the same
    identity in ``cfg.output_dir`` is replaced; another run is kept aside). The loss is
    cross-entropy, or ``loss_fn(outputs, batch)`` (a class-weighted loss, see
    :func:`gpt2ft.classify.weighted_loss`); every evaluation reports loss,
    accuracy, macro-F1 and recall per class (:func:`gpt2ft.classify.metrics_fn`).
    With the ``tokenizer`` (its pad token checked against the model's first), the
    checkpoints load with ``from_pretrained`` and ``pipeline``.
    """
    if tokenizer is not None:
        check_pad_tokens(tokenizer, model)
    return train(model, train_dataset, eval_dataset, cfg, metrics_fn=metrics_fn(label_names),
                 loss_fn=loss_fn, callbacks=list(callbacks), max_length=max_length,
                 tokenizer=tokenizer, about=about)


def run_folder(run, name: str, model=None, train_data=None, *, sprint: str = "sprint11") -> Path:
    """The folder of one training run: ``<runs>/<sprint>/<profile>/<name>-<8 hex>``.

    The hex digits name the run's identity: where the data came from
    (``run.data_source``) and a fingerprint of its token ids and labels, the model
    name and a fingerprint of its starting weights, and every setting of the
    notebook's parameters cell (``run.parameters``). A changed ``DATA_DIR``,
    ``MODEL`` or setting therefore gets a folder of its own and never lands in (or
    resumes) another run's.
    """
    identity = {"data": run.data_source, "model": run.model,
                "data_fp": runs.data_fingerprint(train_data) if train_data is not None else None,
                "model_fp": runs.weights_fingerprint(model) if model is not None else None,
                "settings": {p.name: p.value for p in run.parameters}}
    return runs.run_folder(paths.runs_dir(sprint, run.profile), name, identity)


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

"""Fine-tuning a classifier through the project's training engine.

Introduced in ``sprints/sprint11_classification/04_finetune``, which writes the
recipe out as a :class:`gpt2ft.training.TrainConfig` (AdamW with weight decay,
warm-up then linear decay, clipping, evaluation every epoch, the best weights
kept and loaded back). :func:`train_classifier` runs it with the classification
scores at every evaluation; :class:`LossAccuracyPlot` draws them live. The run
names its own folder (``TrainConfig.run_name``, see ``Settings.train_config``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gpt2ft.classify.classifier import check_pad_tokens
from gpt2ft.classify.metrics import metrics_fn
from gpt2ft.training import LivePlot, TrainConfig, TrainResult, train
from gpt2ft.training.callbacks import history_pairs


def train_classifier(model, train_dataset, eval_dataset, label_names: Sequence[str],
                     cfg: TrainConfig, *, loss_fn: Callable | None = None,
                     callbacks: Sequence = (), max_length: int | None = None, tokenizer=None,
                     about: dict | None = None) -> TrainResult:
    """Fine-tune a classifier with :func:`gpt2ft.training.train` and the settings in ``cfg``.

    A rerun of the same identity resumes from its last checkpoint (``cfg.resume``, on by
    default); with ``cfg.resume=False`` each call is a fresh run (an earlier run of the same
    identity is replaced; another run is kept aside). The loss is
    cross-entropy, or ``loss_fn(outputs, batch)`` (a class-weighted loss, see
    :func:`gpt2ft.classify.weighted_loss`); every evaluation reports loss,
    accuracy, macro-F1 and recall per class (:func:`gpt2ft.classify.metrics_fn`).
    With the ``tokenizer`` (its pad token checked against the model's first), the
    checkpoints load with ``from_pretrained`` and ``pipeline``. Without a tokenizer
    the model's config must still name its pad token (``pad_token_id``): it is
    refused before any work otherwise.
    """
    if tokenizer is not None:
        check_pad_tokens(tokenizer, model)
    elif getattr(model.config, "pad_token_id", None) is None:
        raise ValueError(
            "The model's config has no pad_token_id and no tokenizer was passed: a GPT-2 classifier "
            "finds the last real token of each row by its pad id, so batches of more than one row "
            "cannot be classified (transformers: 'Cannot handle batch sizes > 1'). Nothing was trained. "
            "Fix: classify.set_pad_token(tokenizer, model) before training, and pass "
            "tokenizer=tokenizer to train_classifier (its pad token is then checked against the model's).")
    return train(model, train_dataset, eval_dataset, cfg, metrics_fn=metrics_fn(label_names),
                 loss_fn=loss_fn, callbacks=list(callbacks), max_length=max_length,
                 tokenizer=tokenizer, about=about)


class LossAccuracyPlot(LivePlot):
    """The engine's live loss plot plus eval accuracy and macro-F1 on a second axis.

    At the end it is drawn from the run's whole history, so a resumed run's plot
    shows the steps trained before the interruption too (a finished run, resumed,
    trains none).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.scores: list[tuple[int, float, float]] = []

    def on_eval(self, record):
        if record.get("eval_accuracy") is not None:
            self.scores.append((record["step"], record["eval_accuracy"],
                                record.get("eval_macro_f1", float("nan"))))
        super().on_eval(record)

    def on_end(self, result):
        h = result.history  # all of it: a resumed run logged only the steps after its checkpoint
        f1 = dict(history_pairs(h, "eval_macro_f1"))
        self.scores = [(step, acc, f1.get(step, float("nan"))) for step, acc in history_pairs(h, "eval_accuracy")]
        super().on_end(result)

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


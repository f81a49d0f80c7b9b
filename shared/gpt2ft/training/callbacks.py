"""Hooks into the training loop: a progress bar and a live loss plot.

Introduced in ``sprints/sprint12_book/02_finetune`` (the live plot of a
fine-tuning run); every sprint's training cell uses them through
:func:`gpt2ft.training.train`, which runs them on the main process only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gpt2ft.training.config import TrainResult


class Callback:
    """Optional hooks; every one is optional (duck typing works too)."""

    def on_start(self, info: dict) -> None: ...
    def on_step_end(self, step: int) -> None: ...
    def on_log(self, record: dict) -> None: ...
    def on_eval(self, record: dict) -> None: ...
    def on_end(self, result: TrainResult) -> None: ...


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class ProgressBar(Callback):
    """A tqdm bar (a widget in a notebook) with the latest losses as its postfix."""

    def __init__(self):
        self.bar = None
        self.postfix: dict[str, str] = {}

    def on_start(self, info):
        from tqdm.auto import tqdm
        self.bar = tqdm(total=info["total_steps"], initial=info["start_step"], unit="step",
                        desc="training", dynamic_ncols=True, file=sys.stderr)

    def on_step_end(self, step):
        if self.bar is not None:
            self.bar.update(step - self.bar.n)

    def _post(self, record, keys):
        for key in keys:
            if key in record and record[key] is not None:
                self.postfix[key] = f"{record[key]:.4g}"
        if self.bar is not None:
            self.bar.set_postfix(self.postfix, refresh=False)

    def on_log(self, record):
        self._post(record, ("train_loss", "lr"))

    def on_eval(self, record):
        self._post(record, ("eval_loss",))

    def on_end(self, result):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class LivePlot(Callback):
    """Train and eval loss redrawn in place in a notebook; outside one it does nothing
    (``save_to`` still writes the final figure)."""

    def __init__(self, every: int = 1, save_to: str | os.PathLike | None = None,
                 title: str = "loss"):
        self.every, self.save_to, self.title = max(1, every), save_to, title
        self.train: list[tuple[int, float]] = []
        self.eval: list[tuple[int, float]] = []
        self._handle = None
        self._calls = 0
        self.active = _in_notebook()

    def on_log(self, record):
        if record.get("train_loss") is not None:
            self.train.append((record["step"], record["train_loss"]))
        self._calls += 1
        if self._calls % self.every == 0:
            self._draw()

    def on_eval(self, record):
        if record.get("eval_loss") is not None:
            self.eval.append((record["step"], record["eval_loss"]))
        self._draw()

    def figure(self):
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 3.5))
        if self.train:
            ax.plot(*zip(*self.train, strict=True), label="train loss", color="tab:blue")
        if self.eval:
            ax.plot(*zip(*self.eval, strict=True), "o-", label="eval loss", color="tab:orange")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("loss")
        ax.set_title(self.title)
        if self.train or self.eval:
            ax.legend()
        fig.tight_layout()
        return fig

    def _draw(self):
        if not self.active:
            return
        import matplotlib.pyplot as plt
        from IPython.display import display
        fig = self.figure()
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
        plt.close(fig)

    def on_end(self, result):
        # Drawn from the run's whole history: a resumed run logged only the steps after its
        # checkpoint (a finished run, resumed, logs none).
        self.train, self.eval = history_pairs(result.history, "train_loss"), history_pairs(result.history, "eval_loss")
        self._draw()
        if self.save_to is not None:
            import matplotlib.pyplot as plt
            fig = self.figure()
            fig.savefig(self.save_to, dpi=120)
            plt.close(fig)


def history_pairs(history, column: str) -> list[tuple[int, float]]:
    """``(step, value)`` for every row of a run's ``history`` table that has ``column``."""
    if "step" not in history or column not in history:
        return []
    rows = history.dropna(subset=[column])
    return list(zip(rows["step"].astype(int), rows[column].astype(float), strict=True))


def run_hooks(callbacks: Iterable, hook: str, *args) -> None:
    """Call ``hook`` on every callback that has it (callbacks are duck-typed)."""
    for cb in callbacks:
        fn = getattr(cb, hook, None)
        if fn is not None:
            fn(*args)


__all__ = ["Callback", "ProgressBar", "LivePlot", "run_hooks"]

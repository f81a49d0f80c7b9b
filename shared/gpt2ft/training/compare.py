"""A loop written by hand against the engine: a comparison that holds in one process.

Introduced in ``sprints/sprint11_classification/04_finetune`` (and used again by the loops
of ``sprint12_book/02_finetune`` and ``sprint13_instructions/03_finetune``). A loop by hand
is one process's arithmetic: one batch of ``BATCH_SIZE`` rows a step. Under ``accelerate
launch`` with N processes every process runs the whole notebook, the loop by hand included,
but each engine step reads N batches (one per process) and averages their gradients, so
its losses are other numbers. There the comparison says so instead of stopping the script:
the real training after it runs on, as it would in one process.
"""

from __future__ import annotations

import contextlib
import os

from gpt2ft.core.checks import Mismatch
from gpt2ft.core.processes import is_main_process


@contextlib.contextmanager
def one_process_only():
    """Checks inside compare a loop by hand with the engine: in one process a difference
    raises (:class:`~gpt2ft.core.checks.Mismatch`, as everywhere); under several processes
    the first difference ends the comparison with one line saying why, and the script goes on."""
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    if processes <= 1:
        yield
        return
    try:
        yield
    except Mismatch as difference:
        if is_main_process():
            print(f"not compared under {processes} processes: the loop by hand is one process's "
                  f"arithmetic, an engine step here reads {processes} batches "
                  f"({str(difference).splitlines()[0]}). Run the notebook in one process to check it.")


__all__ = ["one_process_only"]

"""Which process writes files when a notebook runs under ``accelerate launch``.

Introduced in ``sprints/sprint12_book/02_finetune`` (the same script on one
process or several). Under ``accelerate launch`` (or ``torchrun``) every process
runs the whole script; the training loop syncs them, and everything that writes
a file (result tables, figures, exported models) does so on the main process
only, so two processes never write the same file at once.
"""

from __future__ import annotations

import os


def _state():
    from accelerate.state import PartialState
    return PartialState() if PartialState._shared_state else None


def is_main_process() -> bool:
    """True in a plain run and in process 0 of a launched one."""
    state = _state()
    if state is not None:
        return state.is_main_process
    # Not initialised yet (before the first training run): the launcher's variables.
    return int(os.environ.get("RANK", "0")) == 0


def wait_for_everyone() -> None:
    """A barrier when several processes run (after the main one wrote what others read)."""
    state = _state()
    if state is not None and state.num_processes > 1:
        state.wait_for_everyone()


__all__ = ["is_main_process", "wait_for_everyone"]

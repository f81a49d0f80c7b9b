"""Which process writes files when a notebook runs under ``accelerate launch``.

Introduced in ``sprints/sprint12_book/05_appendix_engine`` (the same script on one
process or several). Under ``accelerate launch`` (or ``torchrun``) every process
runs the whole script; the training loop syncs them, and everything that writes
a file (result tables, figures, exported models) does so on the main process
only, so two processes never write the same file at once.
"""

from __future__ import annotations

import os

import torch.distributed as dist


def _group() -> bool:
    return dist.is_available() and dist.is_initialized()


def is_main_process() -> bool:
    """True in a plain run and in process 0 of a launched one."""
    if _group():
        return dist.get_rank() == 0
    # No process group yet (before the first training run): the launcher's variables.
    return int(os.environ.get("RANK", "0")) == 0


def wait_for_everyone() -> None:
    """A barrier when several processes run (after the main one wrote what others read)."""
    if _group() and dist.get_world_size() > 1:
        dist.barrier()


__all__ = ["is_main_process", "wait_for_everyone"]

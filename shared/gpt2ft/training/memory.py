"""What training costs in memory: the computed part, and the peak measured while it runs.

Introduced in ``sprints/sprint11_classification/05_strategies`` (head, last k
blocks, full and LoRA compared: :func:`training_state_mb` is what a strategy
changes, :class:`MemoryMonitor` the peak the whole run reached).
"""

from __future__ import annotations

import os
import threading
import time

import torch

from gpt2ft.training.strategies import count_parameters


def training_state_mb(model: torch.nn.Module) -> float:
    """Memory of weights + gradients + AdamW's two moments, in MB (float32, computed).

    The deterministic part of training memory (activations come on top): every
    weight is stored once, every trainable one three more times.
    """
    counts = count_parameters(model)
    return 4 * (counts["total"] + 3 * counts["trainable"]) / 2**20


class MemoryMonitor:
    """Peak memory while the ``with`` block runs, in MB.

    On CUDA: ``torch.cuda.max_memory_allocated``. On a CPU: the process's
    resident memory sampled every ``interval`` seconds, minus what it was at the
    start (so it shows what the block added: activations, gradients, optimizer).
    """

    def __init__(self, device: str = "cpu", interval: float = 0.02):
        self.device, self.interval = device, interval
        self.peak_mb = 0.0
        self._stop = threading.Event()

    @staticmethod
    def _rss() -> int:
        try:
            import psutil
            return psutil.Process().memory_info().rss
        except ImportError:  # pragma: no cover - psutil comes with accelerate
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _watch(self):
        peak = self._start
        while not self._stop.is_set():
            peak = max(peak, self._rss())
            time.sleep(self.interval)
        self._peak = max(peak, self._rss())

    def __enter__(self):
        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
            self._start = torch.cuda.memory_allocated()
        else:
            self._start = self._rss()
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.startswith("cuda"):
            self.peak_mb = torch.cuda.max_memory_allocated() / 2**20
        else:
            self._stop.set()
            self._thread.join()
            self.peak_mb = (self._peak - self._start) / 2**20
        return False


__all__ = ["MemoryMonitor", "training_state_mb"]

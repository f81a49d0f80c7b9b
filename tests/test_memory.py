"""gpt2ft.training.memory: the computed training state and the measured peak."""

from __future__ import annotations

import pytest
import torch

from gpt2ft.core import models
from gpt2ft.training.memory import MemoryMonitor, training_state_mb


def test_training_state_counts_weights_once_and_trainable_ones_three_more_times():
    model = models.tiny_model()
    full = training_state_mb(model)
    model.requires_grad_(False)
    assert training_state_mb(model) == pytest.approx(full / 4)


def test_memory_monitor_reports_a_peak_on_a_cpu():
    with MemoryMonitor("cpu") as mon:
        block = torch.ones(4_000_000)  # 16 MB
        block += 1
    assert mon.peak_mb >= 0

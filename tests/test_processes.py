"""gpt2ft.core.processes: under ``accelerate launch`` only the main process writes files."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pytest
import torch

from gpt2ft.core import processes
from gpt2ft.session import results, settings


@pytest.fixture
def no_accelerate_state():
    # Earlier tests in this process may have started accelerate, but never a process group.
    assert not torch.distributed.is_initialized()


@pytest.mark.parametrize("rank, main", [("0", True), ("1", False)])
def test_launcher_rank_decides_who_writes(no_accelerate_state, monkeypatch, tmp_path, rank, main):
    monkeypatch.setenv("RANK", rank)
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    run = settings.resolve("tiny", env={}, cuda=False)
    assert processes.is_main_process() is main
    md = results.write_table(pd.DataFrame({"a": [1]}), "sprintXX", "table", run, title="t")
    fig = plt.figure()
    png = results.save_figure(fig, "sprintXX", "figure", run)
    plt.close(fig)
    assert md.name == "table.md" and png.name == "figure.png"  # every process gets the path
    assert tmp_path in md.parents and tmp_path in png.parents
    assert md.exists() is main and md.with_suffix(".csv").exists() is main
    assert png.exists() is main
    processes.wait_for_everyone()  # one process: nothing to wait for

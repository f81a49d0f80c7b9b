"""bench/benchmark.py runs end to end on a CPU and prints its ratios (quick settings).

Only that the numbers exist and are sane is checked here: speed targets are read
from the committed reports (``results/bench/``), never asserted in a test.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import benchmark
import pytest
import torch
from cpu_memory import section_cpu_mem
from loops import run_plan


@pytest.fixture
def restore_threads():
    """main() sets torch's thread count for its run (1 on the CPU); put it back after."""
    old = torch.get_num_threads()
    yield
    torch.set_num_threads(old)


def test_quick_lm_and_classification_sections_write_json_and_table(tmp_path, restore_threads):
    report = benchmark.main(["--quick", "--device", "cpu", "--sections", "lm,cls",
                             "--no-compile", "--out", str(tmp_path)])
    lm, cls = report["sections"]["lm"]["rows"], report["sections"]["cls"]["rows"]
    assert set(lm) == {"trainer_bf16", "ours"} and set(cls) == {
        "trainer_pad128", "trainer_dynamic_grouped", "ours"}
    assert all("error" not in row for row in [*lm.values(), *cls.values()])
    assert lm["ours"]["tokens_per_s"] > 0 and lm["ours"]["vs_trainer"] > 0
    # dynamic padding wastes far less than padding every sentence to 128 tokens
    assert cls["ours"]["padding_pct"] < cls["trainer_pad128"]["padding_pct"]
    assert cls["ours"]["vs_trainer_pad128"] > 0 and cls["ours"]["vs_trainer_dynamic"] > 0
    saved = json.loads((tmp_path / "cpu-quick.json").read_text())
    assert saved["sections"]["cls"]["rows"]["ours"]["samples_per_s"] == pytest.approx(
        cls["ours"]["samples_per_s"])
    table = (tmp_path / "cpu-quick.md").read_text()
    assert "| ours |" in table and "× Trainer pad 128" in table


def test_rows_filter_and_opt_in_rows():
    ran = []
    plan = {name: (lambda n=name: ran.append(n) or {}) for name in
            ("ours", "trainer_bf16", "ours_compile_max_autotune")}
    assert set(run_plan(plan)) == {"ours", "trainer_bf16"}  # opt-in row skipped
    assert set(run_plan(plan, only={"ours_compile_max_autotune"})) == {"ours_compile_max_autotune"}


def test_cpu_memory_section_shows_what_the_full_logits_cost():
    # each row in its own process: 8 x 128 tokens -> 196 MiB of fp32 logits, plus their
    # gradient, which the chunked loss never holds at once
    section = section_cpu_mem(batch=8, seq=128, steps=1)
    rows = section["rows"]
    assert set(rows) == {"lm_trainer", "lm_ours_model_loss", "lm_ours"}
    assert section["logits_mib"] == pytest.approx(196.3, abs=0.1)
    assert rows["lm_ours_model_loss"]["training_mib"] > section["logits_mib"]
    assert rows["lm_ours"]["training_mib"] < rows["lm_ours_model_loss"]["training_mib"] / 2

"""What the fault tests share (tests/test_faults.py, tests/test_faults_engine.py): a short run's
settings and a snapshot of a folder, to show that nothing the user made was changed.

pytest puts tests/ on sys.path (it has no __init__.py), so the two files import it by name.
"""

from __future__ import annotations

from pathlib import Path

from gpt2ft.training import TrainConfig


def cfg(out: Path, **kw) -> TrainConfig:
    base = dict(output_dir=out, batch_size=4, learning_rate=1e-3, max_steps=4, save_every=2,
                eval_every=None, log_every=1, progress_bar=False, verbose=False, warmup_ratio=0.0)
    return TrainConfig(**{**base, **kw})


def snapshot(folder: Path) -> dict:
    """Every file below ``folder`` with its bytes: to show nothing was changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

"""What the gpt2ft.session.data tests share: settings, the real data sets' folder, no network.

Imported by tests/test_data.py, tests/test_downloads.py and tests/test_hub_schemas.py
(pytest puts tests/ on sys.path: it has no __init__.py).
"""

from __future__ import annotations

import os

# Before anything imports huggingface_hub: a hub call here would hang, then fail.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import urllib.request
from pathlib import Path

import pytest

from gpt2ft.session import settings
from gpt2ft.session.data import classification

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"  # as named: ../shared may be a link
needs_real_data = pytest.mark.skipif(
    not (REAL_DATA / "README.md").is_file(),
    reason=f"real data sets not found at {REAL_DATA} (../shared/data beside the checkout)")


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """A fresh download cache per test, and no way out: a test that downloads serves its bytes."""
    monkeypatch.setenv("GPT2FT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_network(url, *args, **kwargs):
        raise OSError(f"tests are offline: {url}")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)


def tiny(seed=0, data_dir=None):
    return settings.resolve(profile="tiny", data_dir=data_dir, seed=seed, env={}, cuda=False)


def full(seed=0, data_dir=None):
    return settings.resolve(profile="full", data_dir=data_dir, seed=seed, env={}, cuda=False)


def write(folder: Path, rel: str, content: str | bytes) -> Path:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def split_texts(data):
    return {name: list(data.splits[name]["text"]) for name in classification.SPLITS}


def split_rows(data):
    """Every split as (text, label) pairs in order: two loads agree row for row or not at all."""
    return {name: list(zip(split["text"], split["label"], strict=True))
            for name, split in data.splits.items()}

"""Run settings and the three profiles: one notebook, three sizes.

Introduced in ``sprints/sprint10_generation/01_load_and_inspect``.

``tiny``  CPU, seconds: a small randomly initialised GPT-2 with the real GPT-2
          tokenizer and the project's own bundled data samples. Its numbers are
          smoke numbers, never results.
``full``  ``gpt2`` (or ``MODEL``), the real data, the sprint's real settings, GPU
          when there is one.
``auto``  ``full`` where CUDA is available, else ``tiny``.

Everything a user may set comes from the environment (``PROFILE``, ``MODEL``,
``DATA_DIR``, ``SEED``), so ``make sprint10 PROFILE=full`` and a notebook opened
by hand behave alike.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

PROFILES = ("tiny", "full", "auto")
DEFAULT_FULL_MODEL = "gpt2"
# Not a hub name: tells the loader to build a small random GPT-2 (see loading.tiny_config).
TINY_MODEL = "tiny-random-gpt2"


@dataclass(frozen=True)
class Settings:
    """What a notebook runs with, and why."""

    profile: str  # "tiny" or "full", never "auto" once resolved
    reason: str  # one line a reader can check: why this profile was picked
    model: str  # hub name, local folder, or TINY_MODEL
    data_dir: Path | None  # folder with the canonical raw data files, if given
    seed: int
    device: str  # "cuda" or "cpu"

    @property
    def is_tiny(self) -> bool:
        return self.profile == "tiny"

    def describe(self) -> str:
        data = str(self.data_dir) if self.data_dir else (
            "bundled samples" if self.is_tiny else "Hugging Face hub")
        label = " (smoke numbers, not results)" if self.is_tiny else ""
        return (f"profile={self.profile}{label}: {self.reason}\n"
                f"model={self.model}  data={data}  device={self.device}  seed={self.seed}")


def _cuda_available() -> bool:
    return torch.cuda.is_available()


def choose_profile(requested: str, cuda: bool | None = None) -> tuple[str, str]:
    """Resolve ``requested`` (tiny/full/auto) to tiny or full, with the reason."""
    requested = (requested or "auto").strip().lower()
    if requested not in PROFILES:
        raise ValueError(
            f"Unknown profile {requested!r}. Use one of {', '.join(PROFILES)}, "
            "e.g. `make sprint10 PROFILE=tiny`.")
    if requested != "auto":
        return requested, f"asked for PROFILE={requested}"
    cuda = _cuda_available() if cuda is None else cuda
    if cuda:
        return "full", "PROFILE=auto and CUDA is available"
    return "tiny", "PROFILE=auto and no CUDA device was found"


def _read_data_dir(value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(
            f"DATA_DIR={value!r} is not a folder. Point it at the folder holding the raw "
            "data sets (e.g. DATA_DIR=../shared/data), or unset it.")
    return path


def _read_seed(value: str | int | None) -> int:
    if value is None or value == "":
        return 0
    try:
        seed = int(value)
    except ValueError:
        raise ValueError(f"SEED={value!r} is not a whole number, e.g. SEED=0.") from None
    if seed < 0:
        raise ValueError(f"SEED={seed} is negative; use a whole number >= 0.")
    return seed


def resolve(profile: str | None = None, model: str | None = None,
            data_dir: str | os.PathLike | None = None, seed: int | None = None,
            env: Mapping[str, str] | None = None, cuda: bool | None = None) -> Settings:
    """Settings from explicit arguments, falling back to the environment.

    Arguments win over ``PROFILE``/``MODEL``/``DATA_DIR``/``SEED``; an empty
    string counts as unset, so a notebook's parameters cell can pass its
    UPPERCASE values straight through.
    """
    env = os.environ if env is None else env
    chosen, reason = choose_profile(profile or env.get("PROFILE") or "auto", cuda=cuda)
    model = model or env.get("MODEL") or (TINY_MODEL if chosen == "tiny" else DEFAULT_FULL_MODEL)
    cuda = _cuda_available() if cuda is None else cuda
    return Settings(
        profile=chosen,
        reason=reason,
        model=model,
        data_dir=_read_data_dir(str(data_dir) if data_dir else env.get("DATA_DIR")),
        seed=_read_seed(seed if seed is not None else env.get("SEED")),
        device="cuda" if (cuda and chosen == "full") else "cpu",
    )

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

import dataclasses
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gpt2ft.core.paths import PACKAGE_DIR

PROFILES = ("tiny", "full", "auto")
DEFAULT_FULL_MODEL = "gpt2"
# Not a hub name: tells the loader to build a small random GPT-2 (see models.tiny_config).
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
    parameters: tuple = ()  # the notebook's settings as :func:`configure` settled them

    @property
    def is_tiny(self) -> bool:
        return self.profile == "tiny"

    @property
    def data_source(self) -> str:
        """Where data sets are read from: the DATA_DIR folder, the samples or the hub."""
        if self.data_dir:
            return str(self.data_dir)
        return "the project's bundled samples" if self.is_tiny else "the Hugging Face hub"

    @property
    def command(self) -> str:
        """The command that re-makes this run: the runner (``GPT2FT_COMMAND``, set by ``make``
        and ``gpt2ft run``) with the profile and every setting that came from the environment."""
        runner = os.environ.get("GPT2FT_COMMAND") or "a notebook run by hand"
        given = [f"{p.name}={_shell_value(p.value)}" for p in self.parameters
                 if p.source == "environment" and p.name != "PROFILE"]
        return " ".join([runner, f"PROFILE={self.profile}", *given])

    def value(self, name: str):
        """The settled value of a parameters-cell setting."""
        for p in self.parameters:
            if p.name == name:
                return p.value
        raise KeyError(f"{name} is not a setting of this notebook's parameters cell.")

    def describe(self, changes: bool = False) -> str:
        label = " (smoke numbers, not results)" if self.is_tiny else ""
        reads_data = not self.parameters or any(p.name == "DATA_DIR" for p in self.parameters)
        data = f"  data={self.data_source}" if reads_data else ""
        text = (f"profile={self.profile}{label}: {self.reason}\n"
                f"model={self.model}{data}  device={self.device}  seed={self.seed}")
        changed = [p for p in self.parameters if p.source != "notebook" and p.name != "PROFILE"]
        if changes and changed:
            width = max(len(p.name) for p in changed)
            text += "\nsettings that differ from the parameters cell (the full run's values):"
            for p in changed:
                origin = (f"environment {p.name}" if p.source == "environment" else p.source)
                text += f"\n  {p.name:<{width}}  {p.value!r:<10} ({origin}; the cell says {p.literal!r})"
        return text


def _shell_value(value) -> str:
    if isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    elif isinstance(value, bool):
        value = int(value)
    text = str(value)
    return text if re.fullmatch(r"[\w.,:/+-]*", text) else repr(text)


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
    """The data folder: an absolute path, or a relative one from the current folder or,
    failing that, from the repository root (notebooks run in their sprint folder, so
    ``DATA_DIR=../shared/data`` means the same in a notebook as from ``make``)."""
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    root = PACKAGE_DIR.parents[1]  # the checkout, where the package is installed editable
    if not path.is_dir() and not Path(value).expanduser().is_absolute() and (root / "sprints").is_dir():
        from_root = (root / value).resolve()
        path = from_root if from_root.is_dir() else path
    if not path.is_dir():
        hint = root.parent / "shared" / "data"  # beside the checkout
        fix = (f"e.g. DATA_DIR={hint}" if hint.is_dir() else
               "an absolute path avoids surprises")
        raise FileNotFoundError(
            f"DATA_DIR={value!r} is not a folder: from {Path.cwd()} it resolves to {path}. Point "
            f"it at the folder holding the raw data sets ({fix}), or unset it.")
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


# --------------------------------------------------------------------------- the parameters cell

# What each well-known setting allows: (check, what is allowed). Any other UPPERCASE
# setting is parsed by the type of its literal only.
def _at_least(low):
    return lambda v: v >= low


RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "EPOCHS": (_at_least(1), "a whole number >= 1"),
    "BATCH_SIZE": (_at_least(1), "a whole number >= 1"),
    "GRAD_ACCUM_STEPS": (_at_least(1), "a whole number >= 1 (1 = no accumulation)"),
    "LEARNING_RATE": (lambda v: math.isfinite(v) and v > 0, "a positive number, e.g. 5e-5"),
    "MAX_STEPS": (_at_least(0), "a whole number >= 0 (0 = no cap)"),
    "MAX_EXAMPLES": (_at_least(0), "a whole number >= 0 (0 = every example)"),
    "MAX_BATCH_TOKENS": (_at_least(0), "a whole number >= 0 (0 = the engine's choice)"),
    "N_SAMPLES": (_at_least(1), "a whole number >= 1"),
    "N_EVAL": (_at_least(1), "a whole number >= 1"),
    "MAX_NEW_TOKENS": (_at_least(1), "a whole number >= 1"),
    "BLOCK_SIZE": (_at_least(2), "a whole number >= 2"),
    "EVAL_EVERY": (_at_least(1), "a whole number of steps >= 1"),
    "SAVE_EVERY": (_at_least(1), "a whole number of steps >= 1"),
    "PATIENCE": (_at_least(1), "a whole number of evaluations >= 1"),
    "SEED": (_at_least(0), "a whole number >= 0"),
}
_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


class SettingError(ValueError):
    """A setting from the parameters cell, the profile or the environment is not allowed."""


@dataclass(frozen=True)
class Parameter:
    name: str
    value: Any
    literal: Any  # the value written in the parameters cell (the full run's)
    source: str  # "notebook", "tiny profile" or "environment"


def _parse(name: str, text: str, literal: Any) -> Any:
    """``text`` from the environment, read as the type of the notebook's literal."""
    kind = type(literal)
    try:
        if kind is bool:
            low = text.strip().lower()
            if low not in _TRUE + _FALSE:
                raise ValueError
            return low in _TRUE
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind in (list, tuple):  # "a,b,c"; items read as the type of the literal's first item
            item = type(literal[0]) if literal and type(literal[0]) in (int, float) else str
            return kind(item(part.strip()) for part in text.split(",") if part.strip())
    except ValueError:
        what = {bool: "1 or 0", int: "a whole number", float: "a number",
                list: "a comma-separated list of numbers", tuple: "a comma-separated list of numbers"}[kind]
        raise SettingError(
            f"{name}={text!r} (from the environment) is not {what}. Allowed: "
            f"{RULES.get(name, (None, what))[1]}; the notebook's value is {name}={literal!r}. "
            f"Fix: set {name} to such a value, or unset it.") from None
    return text


def _check(p: Parameter, choices: Mapping[str, Sequence[str]]) -> None:
    if p.name in choices:
        allowed = list(choices[p.name])
        values = p.value if isinstance(p.value, (list, tuple)) else [p.value]
        wrong = [v for v in values if v not in allowed]
        if wrong or (isinstance(p.value, (list, tuple)) and not values):
            raise SettingError(
                f"{p.name}={p.value!r} (from the {p.source}) is not allowed: {wrong or 'empty'}. "
                f"Allowed: {', '.join(map(str, allowed))}. Fix: e.g. {p.name}={allowed[0]!r}.")
    rule = RULES.get(p.name)
    if rule is None or not isinstance(p.value, (int, float)) or isinstance(p.value, bool):
        return
    check, allowed = rule
    if not check(p.value) or (allowed.startswith("a whole") and not isinstance(p.value, int)):
        raise SettingError(
            f"{p.name}={p.value!r} (from the {p.source}) is not allowed. Allowed: {allowed}. "
            f"Fix: set {p.name} to such a value, e.g. the notebook's {p.name}={p.literal!r}.")


def _parameters(namespace: Mapping[str, Any], profile: str, tiny: Mapping[str, Any],
                env: Mapping[str, str]) -> list[Parameter]:
    found = []
    for name, literal in namespace.items():
        if not _NAME.match(name) or not isinstance(literal, (bool, int, float, str, list, tuple)):
            continue
        value, source = literal, "notebook"
        if profile == "tiny" and name in tiny:
            value, source = tiny[name], "tiny profile"
        if env.get(name, "") != "":
            value, source = _parse(name, env[name], literal), "environment"
        found.append(Parameter(name, value, literal, source))
    unknown = sorted(set(tiny) - {p.name for p in found})
    if unknown:
        raise SettingError(f"tiny={{...}} names {unknown}, which the parameters cell does not set.")
    return found


def quiet_library_progress() -> None:
    """No ``Map``/``Writing model shards`` bars from datasets and transformers.

    At the tiny profile they finish in a blink and only clutter the notebook; a
    full run keeps them (there they say how long a step of the set-up takes).
    """
    import datasets
    import transformers
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()


def configure(namespace: dict, *, tiny: Mapping[str, Any] | None = None,
              choices: Mapping[str, Sequence[str]] | None = None,
              env: Mapping[str, str] | None = None, cuda: bool | None = None,
              show: bool = True) -> Settings:
    """Settle the UPPERCASE settings of a notebook's parameters cell, and say what runs.

    The cell holds the full run's values as literals. ``tiny`` overrides some of
    them at the tiny profile; an environment variable of the same name overrides
    both (``EPOCHS=1 make sprint12``), read as the type of the literal. Every
    value is checked (:data:`RULES`, ``choices``) before any work, and written
    back into ``namespace`` (pass ``globals()``) so the notebook reads plain
    names. Prints the profile and every setting that differs from the cell.
    """
    env = os.environ if env is None else env
    profile, _ = choose_profile(str(env.get("PROFILE") or namespace.get("PROFILE") or "auto"),
                                cuda=cuda)
    params = _parameters(namespace, profile, tiny or {}, env)
    for p in params:
        _check(p, choices or {})
        namespace[p.name] = p.value
    values = {p.name: p.value for p in params}
    run = resolve(values.get("PROFILE") or None, values.get("MODEL") or None,
                  data_dir=values.get("DATA_DIR") or None, seed=values.get("SEED"), env=env,
                  cuda=cuda)
    run = dataclasses.replace(run, parameters=tuple(params))
    if run.is_tiny:
        quiet_library_progress()
        # Tiny models are too small to share between threads: one thread is faster on a
        # 2-core box, and steadier when other jobs run (CI runs the notebooks one by one).
        torch.set_num_threads(1)
    if show:
        print(run.describe(changes=True))
    if env.get("CHECK_DEVICES", "") in _TRUE[:2]:
        from gpt2ft.core.devices import check_placement
        check_placement()
        if show:
            print("CHECK_DEVICES=1: an operation on a tensor never moved to the model's device fails here, "
                  "as it would on a GPU")
    return run

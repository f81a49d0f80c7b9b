"""Which parameters train: ``full``, ``head``, ``last_k`` or ``lora``.

Introduced in ``sprints/sprint11_classification/05_strategies``.

- ``full``    every parameter trains.
- ``head``    only the output head: ``score`` of a sequence classifier; for a
              language model the LM head, which GPT-2 ties to the token
              embeddings, so "head" there trains the (shared) embedding matrix.
- ``last_k``  the head, the last ``k`` transformer blocks and the final layer norm.
- ``lora``    low-rank adapters (``peft``) on the attention projections; the
              classifier head (if any) trains fully, the rest is frozen.

The blocks, the final norm and the head are the model's own (GPT-2
``transformer.h``/``ln_f``/``lm_head``, Llama-family ``model.layers``/``norm``/
``lm_head`` or ``score``: :func:`gpt2ft.core.models.transformer_blocks`), and the
LoRA targets are chosen per architecture (:func:`lora_targets`).

:func:`apply_strategy` returns the model to train (the same object, except for
``lora``, which wraps it in a ``peft`` model). Anything else is refused with
the list of what is allowed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch

from gpt2ft.core.models import final_norm, transformer_blocks, unwrapped

STRATEGIES = ("full", "head", "last_k", "lora")
# GPT-2's fused query/key/value projection; its Conv1D stores weights transposed.
DEFAULT_LORA_TARGETS = ("c_attn",)
# The attention projections LoRA adapts, per architecture: the first set whose every name is
# a module of the model is used when no lora_target_modules are given.
LORA_TARGETS = (
    ("c_attn",),  # GPT-2, GPT-BigCode (fused q/k/v)
    ("q_proj", "k_proj", "v_proj", "o_proj"),  # Llama, Mistral, Qwen2, SmolLM2, Gemma, Phi-3 ...
    ("q_proj", "k_proj", "v_proj", "out_proj"),  # OPT, GPT-J-style
    ("query_key_value",),  # GPT-NeoX, Falcon, BLOOM
    ("query", "key", "value"),  # BERT-style encoders
)


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
    return unwrapped(model)


def lora_targets(model: torch.nn.Module) -> tuple[str, ...]:
    """The modules LoRA adapts in ``model``: its attention projections, by architecture.

    GPT-2: ``c_attn`` (query, key and value in one); Llama-family: ``q_proj``,
    ``k_proj``, ``v_proj``, ``o_proj``. The first set of :data:`LORA_TARGETS` whose
    every name is a module of the model.
    """
    names = {name.rsplit(".", 1)[-1] for name, _ in unwrapped(model).named_modules()}
    for targets in LORA_TARGETS:
        if all(t in names for t in targets):
            return targets
    raise ValueError(f"No known attention projections in {type(unwrapped(model)).__name__} for LoRA "
                     f"(looked for {' / '.join(', '.join(t) for t in LORA_TARGETS)}). Fix: pass "
                     "lora_target_modules=[...] with the names of its attention projections.")


def _is_conv1d(model: torch.nn.Module, targets: Sequence[str]) -> bool:
    """Whether the targets are GPT-2-style ``Conv1D`` layers (weights stored transposed)."""
    from transformers.pytorch_utils import Conv1D
    return any(isinstance(m, Conv1D) for name, m in unwrapped(model).named_modules()
               if name.rsplit(".", 1)[-1] in targets)


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
        blocks = transformer_blocks(model)
        if k > len(blocks):
            raise ValueError(f"strategy='last_k' with k={k}, but the model has only "
                             f"{len(blocks)} blocks; use 1 <= k <= {len(blocks)}.")
        chosen += list(blocks[-k:])
        norm = final_norm(model)
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
    targets = list(targets or lora_targets(model))
    config = LoraConfig(task_type=task, r=r, lora_alpha=alpha, lora_dropout=dropout,
                        target_modules=targets, fan_in_fan_out=_is_conv1d(model, targets))
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

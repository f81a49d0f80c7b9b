"""What a model is, read from the model itself: context length, parameters, the tiny test GPT-2.

Introduced in ``sprints/sprint10_generation/01_load_and_inspect`` (the parameter
count by part and the context length). Foundation: imports nothing else of the
package, so the engine and every task can use it.
"""

from __future__ import annotations

import torch
from transformers import GPT2Config, GPT2LMHeadModel


def tiny_config(**overrides) -> GPT2Config:
    """A GPT-2 with GPT-2's vocabulary but 2 small blocks: trains in seconds on a CPU."""
    values = dict(n_layer=2, n_head=2, n_embd=64, n_positions=256, vocab_size=50257,
                  bos_token_id=50256, eos_token_id=50256)
    values.update(overrides)
    return GPT2Config(**values)


def tiny_model(seed: int = 0, **overrides) -> GPT2LMHeadModel:
    """A randomly initialised tiny GPT-2 (same seed, same weights)."""
    torch.manual_seed(seed)
    return name_the_loss(GPT2LMHeadModel(tiny_config(**overrides)))


def name_the_loss(model):
    """Tell a causal LM which loss it computes (the one it uses anyway).

    transformers picks a model's loss by its class name; ``GPT2LMHeadModel``
    matches none, so every first loss prints "loss_type=None ... unrecognized"
    before using the causal-LM cross-entropy. Naming it changes nothing else.
    """
    if getattr(model, "loss_type", "") is None and type(model).__name__.endswith("LMHeadModel"):
        model.loss_type = "ForCausalLM"
    return model


def context_length(model_or_config) -> int | None:
    """The longest input a model accepts, from the model or its config.

    GPT-2 calls it ``n_positions``, BERT ``max_position_embeddings``; ``None``
    when the config names neither (the caller then sets no cap).
    """
    config = getattr(model_or_config, "config", model_or_config)
    for name in ("n_positions", "max_position_embeddings"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    return None


def parameters_by_part(model: torch.nn.Module) -> dict[str, int]:
    """Parameters by part: embeddings, transformer blocks, final norm, and the total.

    GPT-2 ties the LM head to the token embedding, so the head adds no parameters.
    """
    parts = {"token embeddings": 0, "position embeddings": 0, "transformer blocks": 0,
             "final layer norm": 0, "other": 0}
    seen: set[int] = set()
    for name, param in model.named_parameters():
        if id(param) in seen:
            continue
        seen.add(id(param))
        if "wte" in name:
            parts["token embeddings"] += param.numel()
        elif "wpe" in name:
            parts["position embeddings"] += param.numel()
        elif ".h." in name:
            parts["transformer blocks"] += param.numel()
        elif "ln_f" in name:
            parts["final layer norm"] += param.numel()
        else:
            parts["other"] += param.numel()
    parts["total"] = sum(parts.values())
    return parts

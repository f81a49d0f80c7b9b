"""What a model is, read from the model itself: context length, parameters, blocks, the tiny test GPT-2.

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


# Decoder-only families: causal by construction (no probe needed).
CAUSAL_TYPES = ("gpt2", "gpt_neo", "gpt_neox", "gptj", "gpt_bigcode", "openai-gpt", "ctrl",
                "codegen", "opt", "bloom", "falcon", "llama", "mistral", "mixtral", "qwen2",
                "qwen3", "gemma", "gemma2", "phi", "phi3", "olmo", "stablelm", "starcoder2")
# Encoders that attend in both directions unless their config sets is_decoder=True
# (AutoModelForCausalLM loads them all the same: BERT as BertLMHeadModel).
BIDIRECTIONAL_TYPES = ("bert", "roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "electra",
                       "ernie", "roformer", "megatron-bert", "data2vec-text", "xmod", "rembert",
                       "bert-generation", "big_bird")


def sees_later_tokens(model: torch.nn.Module, length: int = 16) -> bool:
    """The probe: does changing the later half of an input move the logits of the earlier half?

    A causal LM's prediction at position i depends on tokens 0..i only. Run in
    eval mode without gradients; the model's mode is restored.
    """
    config = getattr(model, "config", None)
    vocab = model.get_input_embeddings().num_embeddings
    n = min(length, context_length(config) or length)
    ids = (torch.arange(n) * 7 + 3).remainder(vocab)[None]
    later = ids.clone()
    later[0, n // 2:] = (later[0, n // 2:] * 5 + 11).remainder(vocab)
    param = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            a = model(input_ids=ids.to(param.device)).logits[:, : n // 2].float()
            b = model(input_ids=later.to(param.device)).logits[:, : n // 2].float()
    finally:
        model.train(was_training)
    tolerance = (1e-5 if param.dtype == torch.float32 else 1e-2) * (1.0 + float(a.abs().max()))
    return float((a - b).abs().max()) > tolerance


def causal_problem(model: torch.nn.Module) -> str | None:
    """Why ``model`` is not a causal LM (its prediction at a position sees later tokens), or None.

    Read from the config (``model_type``, ``is_decoder``); a model type known to
    neither list is probed (:func:`sees_later_tokens`).
    """
    config = getattr(model, "config", None)
    kind = getattr(config, "model_type", None) or "unknown"
    name = f"a {kind!r} model ({type(model).__name__})"
    if kind in BIDIRECTIONAL_TYPES and not getattr(config, "is_decoder", False):
        why = f"{name} whose config has is_decoder=False: its attention sees every token"
    elif kind in CAUSAL_TYPES or kind in BIDIRECTIONAL_TYPES:
        return None
    elif sees_later_tokens(model):
        why = (f"{name} whose prediction at a position changes when a later token changes "
               "(probed with a 16-token input)")
    else:
        return None
    return (f"{why}. As a causal LM it would read the very token it must predict: its losses and "
            "perplexities would not be a language model's. Allowed: a causal (decoder-only) model "
            f"such as {', '.join(CAUSAL_TYPES[:4])}, llama, or an encoder whose config sets "
            "is_decoder=True; for this model's own task use a classifier head instead.")


def unwrapped(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers model inside a peft (LoRA) wrapper; any other model as it is."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


# Where a model's body keeps its blocks and its final norm, relative to ``model.base_model``:
# GPT-2 ``transformer.h`` / ``transformer.ln_f``, Llama-family ``model.layers`` / ``model.norm``,
# GPT-NeoX ``gpt_neox.layers`` / ``final_layer_norm``, OPT ``model.decoder.layers``, BERT ``encoder.layer``.
BLOCK_PATHS = ("h", "layers", "decoder.layers", "encoder.layer", "blocks")
FINAL_NORM_PATHS = ("ln_f", "norm", "final_layer_norm", "norm_f", "final_layernorm",
                    "decoder.final_layer_norm")
POSITION_PATHS = ("wpe", "embed_positions", "decoder.embed_positions", "embeddings.position_embeddings")


def _body(model: torch.nn.Module) -> torch.nn.Module:
    """The model without its head (``transformer`` of GPT-2, ``model`` of Llama), or the model."""
    model = unwrapped(model)
    body = getattr(model, "base_model", None)
    return body if isinstance(body, torch.nn.Module) else model


def _find(root: torch.nn.Module, paths, kind=torch.nn.Module):
    for path in paths:
        obj = root
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, kind):
            return obj
    return None


def transformer_blocks(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The model's own list of transformer blocks (GPT-2 ``transformer.h``, Llama ``model.layers``).

    Found below ``model.base_model`` by the usual names, else as the list of
    ``config.num_hidden_layers`` modules there; a peft wrapper is looked through.
    """
    body = _body(model)
    found = _find(body, BLOCK_PATHS, torch.nn.ModuleList)
    if found is None:
        count = getattr(getattr(unwrapped(model), "config", None), "num_hidden_layers", None)
        found = next((m for m in body.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == count),
                     None)
    if found is None:
        raise ValueError(f"Cannot find the transformer blocks of {type(unwrapped(model)).__name__} "
                         f"(looked below its base model for {', '.join(BLOCK_PATHS)}).")
    return found


def final_norm(model: torch.nn.Module) -> torch.nn.Module | None:
    """The norm after the last block (GPT-2 ``ln_f``, Llama ``norm``), or None."""
    return _find(_body(model), FINAL_NORM_PATHS)


def position_embeddings(model: torch.nn.Module) -> torch.nn.Module | None:
    """Learned position embeddings (GPT-2 ``wpe``), or None (Llama's rotary positions have none)."""
    return _find(_body(model), POSITION_PATHS)


def parameters_by_part(model: torch.nn.Module) -> dict[str, int]:
    """Parameters by part: embeddings, transformer blocks, final norm, and the total.

    GPT-2 ties the LM head to the token embedding, so the head adds no parameters;
    an untied LM head gets a row of its own (``LM head``). Llama-family models use
    rotary positions: their position embeddings are 0. Read from the model's own
    modules (:func:`transformer_blocks`, :func:`final_norm`), so it holds for both.
    """
    model = unwrapped(model)
    seen: set[int] = set()

    def count(module: torch.nn.Module | None) -> int:
        n = 0
        for param in module.parameters() if module is not None else ():
            if id(param) not in seen:
                seen.add(id(param))
                n += param.numel()
        return n

    get_input = getattr(model, "get_input_embeddings", None)
    try:
        blocks = transformer_blocks(model)
    except ValueError:
        blocks = None
    parts = {"token embeddings": count(get_input() if get_input else None),
             "position embeddings": count(position_embeddings(model)),
             "transformer blocks": count(blocks),
             "final layer norm": count(final_norm(model))}
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    untied = count(head)
    if untied:
        parts["LM head"] = untied
    parts["other"] = sum(p.numel() for p in model.parameters() if id(p) not in seen)
    parts["total"] = sum(parts.values())
    return parts

"""The causal-LM loss without the full logits: the LM head and cross-entropy, in chunks.

Introduced in ``sprints/sprint12_book/05_appendix_engine`` (why fine-tuning a
language model is dominated by its 50,257-wide output layer; the loss and the
gradient checked equal to the model's own there); used by
:mod:`gpt2ft.training` when ``TrainConfig.lm_loss`` is ``"chunked"`` (the
default on a CPU).

A GPT-2 step computes ``logits = hidden @ W.T`` for every token: a
``tokens x 50,257`` matrix (206 MB in fp32 for 8 x 128 tokens, 3.3 GB for
16 x 1024), then a log-softmax over it, then two more matmuls for the
gradients. Done a few rows at a time, each chunk's logits are turned into the
loss *and* the gradients right away (the softmax minus the one-hot target is
the gradient of the logits), and are dropped before the next chunk: the full
matrix never exists. Same arithmetic, same result (tested to float precision
against the model's own loss); on a CPU the head + loss run about 1.5x faster
because each chunk stays in cache (the whole tiny-model step 1.3x), and a step
adds 10x less memory. The gradients are computed in the forward pass
(there is nothing left to differentiate afterwards), so the backward pass only
scales them.
"""

from __future__ import annotations

import torch

from gpt2ft.training.strategies import without_adapters_wrapper

IGNORE = -100  # label of tokens that carry no loss (padding, masked prompts)


def default_chunk_rows(vocab_size: int, device: torch.device | str) -> int:
    """Rows per chunk: about 4 M logits (16 MB fp32) on a CPU, 64 M on a GPU."""
    budget = 4_000_000 if torch.device(device).type == "cpu" else 64_000_000
    return max(1, budget // max(1, vocab_size))


class _ChunkedLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, labels, chunk_rows, need_hidden, need_weight):
        valid_all = labels != IGNORE
        count = valid_all.sum().clamp_min(1)
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        grad_hidden = torch.empty_like(hidden) if need_hidden else None
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if need_weight else None
        for start in range(0, hidden.shape[0], chunk_rows):
            h = hidden[start:start + chunk_rows]
            y = labels[start:start + chunk_rows]
            valid = valid_all[start:start + chunk_rows]
            target = y.clamp_min(0)  # ignored rows point at token 0, then are zeroed
            logits = (h @ weight.t()).float()
            lse = torch.logsumexp(logits, dim=-1)
            picked = logits.gather(1, target[:, None]).squeeze(1)
            total += ((lse - picked) * valid).sum()
            if need_hidden or need_weight:
                grad = logits.sub_(lse[:, None]).exp_()  # softmax, in place
                grad[torch.arange(len(y), device=grad.device), target] -= 1
                grad *= (valid.to(grad.dtype) / count)[:, None]
                grad = grad.to(hidden.dtype)
                if need_hidden:
                    grad_hidden[start:start + chunk_rows] = grad @ weight
                if need_weight:
                    grad_weight += (grad.t() @ h).float()
        if grad_weight is not None:
            grad_weight = grad_weight.to(weight.dtype)
        ctx.save_for_backward(grad_hidden, grad_weight)
        return total / count

    @staticmethod
    def backward(ctx, grad_loss):
        grad_hidden, grad_weight = ctx.saved_tensors
        return (grad_hidden * grad_loss if grad_hidden is not None else None,
                grad_weight * grad_loss if grad_weight is not None else None,
                None, None, None, None)


@torch.compiler.disable  # a Python loop over chunks: run eagerly inside a compiled model
def chunked_lm_loss(hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor,
                    chunk_rows: int | None = None) -> torch.Tensor:
    """Mean next-token cross-entropy of ``hidden @ weight.T`` against ``labels``.

    ``hidden`` is ``batch x time x width`` (the last hidden states), ``labels``
    ``batch x time`` with ``-100`` where no loss is taken; position ``t``
    predicts label ``t + 1``, exactly as ``GPT2LMHeadModel(labels=...)`` does.
    """
    hidden = hidden[:, :-1].reshape(-1, hidden.shape[-1])
    labels = labels[:, 1:].reshape(-1)
    rows = chunk_rows or default_chunk_rows(weight.shape[0], hidden.device)
    grad_on = torch.is_grad_enabled()
    return _ChunkedLinearCrossEntropy.apply(hidden, weight, labels, rows,
                                            grad_on and hidden.requires_grad,
                                            grad_on and weight.requires_grad)


# Config fields that change the logits after the head (a cap, a scale): the chunked loss
# computes ``hidden @ W.T`` only, so a model that sets one keeps its own loss.
LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling")


def supports_chunked_loss(model: torch.nn.Module) -> bool:
    """A causal LM whose logits are its final hidden states times a bias-free linear output layer.

    Read from the model, not its name: the output layer is ``get_output_embeddings()``
    (GPT-2's and SmolLM2's are tied to the token embeddings), the hidden states are
    its body's (``base_model``: GPT-2 ``transformer``, Llama ``model``) last ones,
    after the final norm. A config that caps or scales the logits is refused.
    """
    lm = without_adapters_wrapper(model)
    head = lm.get_output_embeddings() if hasattr(lm, "get_output_embeddings") else None
    body = getattr(lm, "base_model", None)
    config = getattr(lm, "config", None)
    transformed = any(getattr(config, name, None) not in (None, 1, 1.0) for name in LOGIT_TRANSFORMS)
    return (isinstance(head, torch.nn.Linear) and head.bias is None and body is not None
            and body is not lm and not transformed)


class ChunkedLossLM(torch.nn.Module):
    """``model`` whose forward returns only the loss, computed by :func:`chunked_lm_loss`.

    It holds the model itself, so its parameters are the model's (a DDP wrapper
    or ``torch.compile`` around it trains the same weights); save the inner
    ``model``, not this wrapper.
    """

    def __init__(self, model: torch.nn.Module, chunk_rows: int | None = None):
        super().__init__()
        if not supports_chunked_loss(model):
            raise ValueError(f"lm_loss='chunked' needs a causal LM with a linear output layer "
                             f"without bias (GPT-2 and Llama-family models have one); "
                             f"{type(model).__name__} has not. "
                             "Use lm_loss='model'.")
        self.model = model
        self.chunk_rows = chunk_rows

    def forward(self, input_ids, labels=None, **inputs):
        from transformers.modeling_outputs import CausalLMOutput
        lm = without_adapters_wrapper(self.model)
        if labels is None:  # nothing to learn from: let the model say so
            return self.model(input_ids=input_ids, **inputs)
        inputs.setdefault("use_cache", False)  # training: no key/value cache to keep
        hidden = lm.base_model(input_ids=input_ids, **inputs).last_hidden_state
        loss = chunked_lm_loss(hidden, lm.get_output_embeddings().weight, labels,
                               self.chunk_rows)
        return CausalLMOutput(loss=loss)


__all__ = ["ChunkedLossLM", "chunked_lm_loss", "supports_chunked_loss", "default_chunk_rows"]

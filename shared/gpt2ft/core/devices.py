"""Catch a tensor left on the host, on a machine without a GPU.

Introduced in ``sprints/sprint12_book/05_appendix_engine``. On a GPU, a tensor
built in a notebook (``tokenizer(..., return_tensors="pt")``, a slice of a
dataset) must be moved to the model's device before it meets the model, or the
cell fails with "Expected all tensors to be on the same device". On a CPU
every tensor is already where the model is, so the mistake passes unnoticed
until someone runs the notebook on a GPU.

:class:`PlacementCheck` makes the mistake visible on a CPU: it treats the model's
weights, every tensor computed from them, every tensor that went through
``.to(device)`` or was created with ``device=...`` as *on the device*, and every
other tensor as *on the host*; an operation that mixes the model's weights (or
what was computed from them) with a host tensor raises :class:`PlacementError`
naming the operation. ``CHECK_DEVICES=1`` switches it on for a notebook
(:func:`gpt2ft.session.settings.configure` starts it); ``make rehearse`` runs every
notebook with it.
"""

from __future__ import annotations

import weakref

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

# Operations that read or convert a tensor without combining it with another one.
_NEUTRAL = {"cpu", "numpy", "tolist", "item", "__repr__", "__format__", "__bool__", "__len__",
            "size", "dim", "numel", "shape", "dtype", "device", "is_floating_point", "data_ptr",
            "__get__", "__iter__", "__contains__", "__hash__", "__index__", "__int__", "__float__",
            "copy_", "detach", "clone", "element_size", "storage_offset", "stride", "untyped_storage",
            "is_contiguous", "requires_grad_", "retain_grad", "register_hook",
            "__getitem__"}  # indexing a GPU tensor with host indices is allowed


class PlacementError(RuntimeError):
    """An operation mixed a host tensor with tensors on the model's device."""


class PlacementCheck(TorchFunctionMode):
    """A torch-function mode that fails ops mixing host tensors with device tensors (see module).

    Two kinds of "on the device": *computed* (a parameter, or anything computed
    from one: the model's outputs) and *moved* (went through ``.to(...)`` or was
    made with ``device=``). An op that meets a host tensor fails when a computed
    tensor is in it; with moved tensors alone it passes, since ``x.to(y.device)``
    of a host ``y`` stays on the host (the check cannot see which device a
    ``.to`` meant).
    """

    def __init__(self):
        super().__init__()
        self.computed: dict[int, weakref.ref] = {}  # by id: tensors compare elementwise
        self.moved: dict[int, weakref.ref] = {}

    @staticmethod
    def _in(table: dict, t: torch.Tensor) -> bool:
        ref = table.get(id(t))
        return ref is not None and ref() is t

    def _kind(self, t: torch.Tensor) -> str:
        if isinstance(t, torch.nn.Parameter) or self._in(self.computed, t):
            return "computed"
        return "moved" if self._in(self.moved, t) else "host"

    def _mark(self, out, table: dict) -> None:
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and not self._in(table, t):
                key = id(t)
                table[key] = weakref.ref(t, lambda _, key=key, table=table: table.pop(key, None))

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        kinds = [self._kind(t) for t in tensors]
        # a host 0-d scalar may meet device tensors (PyTorch allows it); anything larger may not
        hosts = [t for t, k in zip(tensors, kinds, strict=True) if k == "host" and t.dim() > 0]
        if name not in _NEUTRAL and "computed" in kinds and hosts:
            raise PlacementError(
                f"{name}() got a tensor of shape {tuple(hosts[0].shape)} that was never moved to the "
                "model's device, together with tensors on it. On a GPU this fails with 'Expected "
                "all tensors to be on the same device'. Fix: .to(model.device) where the tensor is "
                "made (or pass device=model.device).")
        out = func(*args, **kwargs)
        if name == "cpu" and isinstance(out, torch.Tensor):
            return out.view_as(out)  # on a CPU .cpu() returns the tensor itself: a new one, on the host
        if name in ("numpy", "tolist", "item"):
            return out
        if "computed" in kinds:
            self._mark(out, self.computed)
        elif name in ("to", "cuda") or kwargs.get("device") is not None or "moved" in kinds:
            self._mark(out, self.moved)
        return out


_active: list[PlacementCheck] = []


def check_placement() -> PlacementCheck:
    """Start a :class:`PlacementCheck` for the rest of the process (once)."""
    if not _active:
        mode = PlacementCheck()
        mode.__enter__()
        _active.append(mode)
    return _active[0]


__all__ = ["PlacementCheck", "PlacementError", "check_placement"]

"""Catch a tensor left on the host, on a machine without a GPU.

Introduced in ``sprints/sprint12_book/05_appendix_engine``. On a GPU, a tensor
built in a notebook (``tokenizer(..., return_tensors="pt")``, a slice of a
dataset) must be moved to the model's device before it meets the model, or the
cell fails with "Expected all tensors to be on the same device". On a CPU
every tensor is already where the model is, so the mistake passes unnoticed
until someone runs the notebook on a GPU.

:class:`PlacementCheck` makes the mistake visible on a CPU: it treats every
tensor that went through ``.to(device)`` (the model's weights included, since
``model.to(device)`` moves them), was created with ``device=...``, or was
computed from such tensors as *on the device*, and every other tensor as *on
the host*; an operation that mixes the two raises :class:`PlacementError`
naming the operation. ``CHECK_DEVICES=1`` switches it on for a notebook
(:func:`gpt2ft.settings.configure` starts it); ``make rehearse`` runs every
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
    """A torch-function mode that fails ops mixing host tensors with device tensors (see module)."""

    def __init__(self):
        super().__init__()
        self.on_device: dict[int, weakref.ref] = {}  # by id: tensors compare elementwise

    def _placed(self, t: torch.Tensor) -> bool:
        ref = self.on_device.get(id(t))
        return isinstance(t, torch.nn.Parameter) or (ref is not None and ref() is t)

    def _mark(self, out) -> None:
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and not self._placed(t):
                key = id(t)
                self.on_device[key] = weakref.ref(t, lambda _, key=key: self.on_device.pop(key, None))

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        placed = [self._placed(t) for t in tensors]
        # a host 0-d scalar may meet device tensors (PyTorch allows it); anything larger may not
        hosts = [t for t, p in zip(tensors, placed, strict=True) if not p and t.dim() > 0]
        if name not in _NEUTRAL and any(placed) and hosts:
            host = hosts[0]
            raise PlacementError(
                f"{name}() got a tensor of shape {tuple(host.shape)} that was never moved to the "
                "model's device, together with tensors on it. On a GPU this fails with 'Expected "
                "all tensors to be on the same device'. Fix: .to(model.device) where the tensor is "
                "made (or pass device=model.device).")
        out = func(*args, **kwargs)
        moved = name in ("to", "cuda") or kwargs.get("device") is not None
        if name not in ("cpu", "numpy", "tolist", "item") and (moved or any(placed)):
            self._mark(out)
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

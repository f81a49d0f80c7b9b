"""Checks that fail loudly: a by-hand result compared with the library's, in a notebook.

Introduced in ``sprints/sprint10_generation/02_next_token``.

``print(torch.allclose(ours, theirs))`` prints ``False`` on a mismatch and the
notebook goes on, so a broken claim reads like a verdict. :func:`same` and
:func:`holds` raise :class:`Mismatch` instead, with both values and the largest
difference, and print one line that reads the same at every profile when the
check passes (no raw numbers in it, so nbval can compare it).
"""

from __future__ import annotations

import math

import torch


class Mismatch(AssertionError):
    """A by-hand check that did not hold; the message has both sides."""


def _tensor(value) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return torch.tensor(float(value), dtype=torch.float64)
    return None


def _tolerance(atol: float, rtol: float) -> str:
    return "exactly" if not atol and not rtol else f"within atol={atol:g}, rtol={rtol:g}"


def same(what: str, ours, theirs, *, atol: float = 0.0, rtol: float = 0.0) -> None:
    """Raise :class:`Mismatch` unless ``ours`` equals ``theirs``; print ``✔ what`` when it does.

    Tensors and numbers are compared with ``torch.allclose(ours, theirs, rtol, atol)`` (shapes
    first); anything else (token lists, strings, dicts) with ``==``.
    """
    a, b = _tensor(ours), _tensor(theirs)
    if a is not None and b is not None:
        if a.shape != b.shape:
            raise Mismatch(f"{what}: shapes differ, {tuple(a.shape)} by hand against {tuple(b.shape)}")
        a, b = a.to(torch.float64), b.to(torch.float64)
        if not torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            gap = (a - b).abs()
            where = tuple(int(i) for i in torch.unravel_index(gap.argmax(), gap.shape)) if gap.dim() else ()
            raise Mismatch(f"{what}: they differ by up to {gap.max().item():.3g} (at index {where}: "
                           f"{a[where].item():.6g} by hand, {b[where].item():.6g} from the library); "
                           f"allowed {_tolerance(atol, rtol)}.\nby hand: {ours}\nlibrary: {theirs}")
    elif ours != theirs:
        raise Mismatch(f"{what}: they differ.\nby hand: {ours!r}\nlibrary: {theirs!r}")
    print(f"✔ {what}" + ("" if a is None or (not atol and not rtol) else f" ({_tolerance(atol, rtol)})"))


def holds(what: str, condition, detail: str = "") -> None:
    """Raise :class:`Mismatch` (with ``detail``) unless ``condition`` is true; print ``✔ what`` when it is."""
    if isinstance(condition, torch.Tensor):
        condition = bool(condition.all())
    if isinstance(condition, float) and math.isnan(condition):
        condition = False
    if not condition:
        raise Mismatch(f"{what}: does not hold" + (f" ({detail})" if detail else ""))
    print(f"✔ {what}")

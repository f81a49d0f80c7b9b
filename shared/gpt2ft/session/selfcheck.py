"""Check yourself: a learner's answer checked against one the package computes, and explained.

Introduced in ``sprints/sprint10_generation/06_check_yourself``; each sprint ends with such a set.

A question cell holds the learner's ``answer = None`` and a call to :func:`check`
whose ``expected`` is computed by the package from the real model or data (never
typed in), so the value stays hidden until the answer is right: a wrong answer
gets the hint, a right one the explanation; it returns nothing, so Jupyter shows only
the printed verdict. The worked solution below it (collapsed) computes the answer by hand
and passes it to :func:`solution`, which fails loudly if the worked answer is wrong.
"""

from __future__ import annotations

import math
from numbers import Number

from gpt2ft.core.checks import Mismatch


def _matches(answer, expected, tolerance: float) -> bool:
    if isinstance(expected, Number) and not isinstance(expected, bool):
        if not isinstance(answer, Number) or isinstance(answer, bool):
            return False
        return math.isclose(float(answer), float(expected), rel_tol=tolerance, abs_tol=tolerance)
    if isinstance(expected, str) and isinstance(answer, str):
        return answer.strip() == expected.strip()
    return answer == expected


def check(answer, expected, *, why: str, hint: str = "", tolerance: float = 0.0) -> None:
    """Print whether ``answer`` is right: ``why`` (which may quote ``expected``) when it is,
    ``hint`` when not. Numbers match within ``tolerance`` (relative or absolute); strings
    ignoring surrounding spaces; anything else with ``==``."""
    if answer is None:
        print("not answered yet: replace None with your answer and run the cell again")
    elif _matches(answer, expected, tolerance):
        print(f"✔ right. {why}")
    else:
        print(f"✘ not yet: {answer!r} is not it." + (f" Hint: {hint}" if hint else ""))


def solution(answer, expected, *, why: str, tolerance: float = 0.0) -> None:
    """The worked solution's answer, checked like :func:`check`'s: prints ``✔ right. why``, and
    raises :class:`~gpt2ft.core.checks.Mismatch` with both values when the worked answer is
    not the package's (a wrong solution must stop the notebook, in Jupyter too)."""
    if not _matches(answer, expected, tolerance):
        raise Mismatch(f"the worked solution's answer {answer!r} is not the expected {expected!r} "
                       f"(tolerance {tolerance:g}): the solution or the question is wrong.")
    print(f"✔ right. {why}")

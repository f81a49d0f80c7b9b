"""Write ``notes/faults.md`` from the fault tests' docstrings.

The fault tests are ``tests/test_faults.py`` (inputs, settings, data, files) and
``tests/test_faults_engine.py`` (the training engine's faults), where it exists.

    python tools/faults_table.py          # rewrite notes/faults.md
    python tools/faults_table.py --print  # print it (the test compares the two)

Each test's docstring is one row: ``kind | how it was tried | what the user sees |
what is kept``; a parametrised test counts one fault per case.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests" / "test_faults.py"
ENGINE_TESTS = ROOT / "tests" / "test_faults_engine.py"
TEST_FILES = (TESTS, ENGINE_TESTS)  # read in this order; a file that does not exist is skipped
TABLE = ROOT / "notes" / "faults.md"


def _cases(node: ast.FunctionDef) -> int:
    for deco in node.decorator_list:
        if isinstance(deco, ast.Call) and getattr(deco.func, "attr", "") == "parametrize":
            values = deco.args[1]
            if isinstance(values, (ast.List, ast.Tuple)):
                return len(values.elts)
    return 1


def rows() -> list[tuple[str, int, list[str]]]:
    """``(test, cases, cells)`` for every fault test; ``test`` is ``file::name`` outside test_faults.py."""
    found = []
    for path in TEST_FILES:
        if not path.is_file():
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                doc = ast.get_docstring(node) or ""
                cells = [c.strip() for c in doc.split(" | ")]
                if len(cells) != 4:
                    raise SystemExit(f"{path.name}::{node.name}: the docstring must be "
                                     "'kind | how | sees | kept'.")
                name = node.name if path == TESTS else f"{path.name}::{node.name}"
                found.append((name, _cases(node), cells))
    return found


def table() -> str:
    found = [r for r in rows() if r[2][0] != "docs"]
    total = sum(n for _, n, _ in found)
    lines = ["# Faults: what a user gets wrong, what they see, what is kept", "",
             "Each row is a test in `tests/test_faults.py`, or in `tests/test_faults_engine.py` where",
             "the test is named `test_faults_engine.py::...` (its docstring; this file is written by",
             "`python tools/faults_table.py`, and a test checks it is current). The test asserts that",
             "the message names the input and the fix, and that nothing the user made is lost or",
             "overwritten. Data-file faults (empty, binary, not UTF-8, a bad row, one class only, no",
             "records, a download whose checksum differs) are tested with the loaders in",
             "`tests/test_data.py`; an early `PartialState` without `cpu=True` in",
             "`tests/test_distributed.py`.", "",
             f"{len(found)} tests, {total} kinds of fault (a parametrised test counts each case).", "",
             "| kind | how it was tried | what the user sees | what is kept | test (cases) |",
             "|---|---|---|---|---|"]
    for name, cases, (kind, how, sees, kept) in found:
        lines.append(f"| {kind} | {how} | {sees} | {kept} | `{name}` ({cases}) |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    text = table()
    if "--print" in sys.argv:
        sys.stdout.write(text)
    else:
        TABLE.write_text(text)
        print(f"wrote {TABLE}")

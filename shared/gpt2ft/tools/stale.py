"""``make stale`` (= ``gpt2ft stale``): the result files made before a later change to the code they ran.

Every table under ``results/`` has a ``.json`` beside it (``session.results.provenance``)
that records the command that made it and a hash of each package module the run
had imported and of its notebook (``code``, ``session.results.code_hash``: docstrings,
comments and a notebook's markdown cells don't count). A result is stale when the code
of one of those files has changed since (or is gone), or when it has no such record at all (made
before the records existed). Re-run the commands listed, then commit the new files.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from gpt2ft.core.paths import repo_root
from gpt2ft.session.results import code_hash, code_path

SKIPPED = ("custom", "bench")  # a user's own runs; the benchmark has a record of its own


@dataclass(frozen=True)
class Stale:
    result: Path  # the .json beside the table
    command: str
    why: str


def why_stale(meta: dict) -> str | None:
    """The reason a result with this provenance is stale, or ``None`` when its code is unchanged."""
    code = meta.get("code")
    if not code:
        return "no record of the code that made it (written before results recorded it)"
    changed = [key for key, digest in code.items()
               if not code_path(key).is_file() or code_hash(code_path(key)) != digest]
    if not changed:
        return None
    gone = [k for k in changed if not code_path(k).is_file()]
    named = ", ".join(changed[:4]) + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
    return f"changed since: {named}" + (f" ({len(gone)} gone)" if gone else "")


def stale_results(root: Path) -> list[Stale]:
    found = []
    for meta_file in sorted(root.rglob("*.json")):
        parts = meta_file.relative_to(root).parts
        if parts[0] in SKIPPED or "notebooks" in parts or "tiny" in parts:
            continue
        try:
            meta = json.loads(meta_file.read_text())
        except ValueError:
            continue
        if not isinstance(meta, dict) or "profile" not in meta:
            continue  # not a provenance record
        reason = why_stale(meta)
        if reason:
            found.append(Stale(meta_file, meta.get("command", "(no command recorded)"), reason))
    return found


def report(found: list[Stale], root: Path) -> str:
    if not found:
        return f"no stale results below {root.name}/: every table's code is unchanged since it was made"
    by_command = defaultdict(list)
    for item in found:
        by_command[item.command].append(item)
    lines = [f"{len(found)} stale result file(s) below {root.name}/; re-run these commands:"]
    for command, items in by_command.items():
        lines.append(f"\n  {command}")
        lines += [f"    {item.result.relative_to(root).with_suffix('')}: {item.why}" for item in items]
    return "\n".join(lines)


def main(root: Path | None = None) -> int:
    """Print the stale results; exit status 1 when there are any."""
    root = root or repo_root() / "results"
    found = stale_results(root)
    print(report(found, root))
    return 1 if found else 0

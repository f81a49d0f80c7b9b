"""Instruction-tuning records ``{instruction, input, output}`` by name or by path.

Introduced in ``sprints/sprint13_instructions/01_data``.

Names: ``alpaca_instruction`` (the 1,100-record ``instruction-data.json``; without
DATA_DIR in the full profile it is downloaded from its canonical URL and checked
against its pinned sha256), ``alpaca`` (hub ``tatsu-lab/alpaca``) and
``alpaca-gpt4`` (hub ``vicgalle/alpaca-gpt4``; with DATA_DIR they are read from
``alpaca/alpaca_data.json`` and ``alpaca-gpt4/alpaca_gpt4_data.json`` below it, in
the tiny profile the bundled Alpaca-format sample stands in); or a local ``.json``
(a list of objects) or ``.jsonl`` (one object a line). Every record is checked; an
invalid one is never dropped silently: it is listed in ``problems``
(``on_invalid="skip"``) or raised. A file without a single record is refused.
A record whose fields hold the template's own markers (``### Response:``,
``<|endoftext|>``, ...: they would end or start a section of the prompt the model
is trained and scored on) is kept with a printed note naming how many and which
markers (listed in ``marked``), or raised with ``on_invalid="raise"``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gpt2ft.session.data.sources import (
    RawFile,
    Remote,
    download,
    hub_split,
    load_hub,
    local_file,
    message,
    read_text,
    unknown_name,
)
from gpt2ft.session.settings import Settings

JSON_FMT = ("a JSON list of objects {\"instruction\": str, \"input\": str (may be empty), "
            "\"output\": str}, UTF-8")
JSONL_FMT = "one JSON object {instruction, input, output} per line, UTF-8"
ALPACA_INSTRUCTION = Remote(
    RawFile("alpaca_instruction", "instruction-data.json", JSON_FMT),
    "https://raw.githubusercontent.com/rasbt/LLMs-from-scratch/main/ch07/01_main-chapter-code/"
    "instruction-data.json",
    # sha256 of the canonical 1,100-record file (../shared/data/alpaca_instruction).
    ("7e09a9af353722ca15c18bc580f093f9c39d3178335a75177319cb1e1d163944",))
# Hub sets; with DATA_DIR we read their canonical raw files (the names their
# GitHub repositories publish them under) like every other set.
HUB_SETS = {
    "alpaca": ("tatsu-lab/alpaca", RawFile("alpaca", "alpaca_data.json", JSON_FMT)),
    "alpaca-gpt4": ("vicgalle/alpaca-gpt4",
                    RawFile("alpaca-gpt4", "alpaca_gpt4_data.json", JSON_FMT)),
}
NAMES = ("alpaca_instruction", *HUB_SETS)
# The hub's own columns (tatsu-lab/alpaca and vicgalle/alpaca-gpt4 also carry `text`,
# the formatted prompt, which we ignore: sprint 13 builds its own template).
HUB_COLUMNS = ("instruction", "input", "output")
ON_INVALID = ("skip", "raise")
MAX_LISTED = 20  # problems shown in an error message; all stay in .problems
# One valid record is enough to go on with (the sprint's demo of a broken file keeps
# exactly one); zero would only surface later as "train_dataset is empty", nameless.
MIN_RECORDS = 1


# The Alpaca prompt format's own markers (instruct.template writes them): its section headers,
# its preamble, end-of-text. Defined with the data so the loader can report records holding them.
_HEADERS = r"(### (?:Instruction|Input|Response):)"
_PREAMBLE = r"(Below is an instruction)"
_EOS = r"(<\|endoftext\|>)"
TEMPLATE_END = re.compile(rf"(?m)^{_HEADERS}[ \t]*$|^{_PREAMBLE}|{_EOS}")
_ANY_MARKER = re.compile(rf"{_HEADERS}|{_PREAMBLE}|{_EOS}")


def template_markers(text: str, anywhere: bool = False) -> list[str]:
    """The template's own markers in ``text``, as ``gpt2ft.instruct.template.format_prompt`` writes them.

    A section header (``### Instruction:``, ``### Input:``, ``### Response:``)
    counts alone on its line, the preamble (``Below is an instruction``) at the
    start of a line, the end-of-text token's text anywhere; a markdown heading
    such as ``### Step 1`` is never a marker. ``anywhere=True`` (checking data
    records) also counts a header or the preamble in the middle of a line.
    """
    pattern = _ANY_MARKER if anywhere else TEMPLATE_END
    return sorted({next(g for g in m.groups() if g) for m in pattern.finditer(text)})


@dataclass(frozen=True)
class InstructionData:
    """Valid records (each with instruction, input, output), their source, and what was wrong."""

    records: list[dict]
    source: str
    problems: list[str]
    marked: list[str] = field(default_factory=list)  # records holding the template's own markers

    def __len__(self) -> int:
        return len(self.records)


def load_instructions(name_or_path: str | os.PathLike, settings: Settings, *,
                      on_invalid: str = "skip") -> InstructionData:
    """Load and check instruction records; ``on_invalid`` is ``"skip"`` or ``"raise"``."""
    if on_invalid not in ON_INVALID:
        raise ValueError(message(f"on_invalid={on_invalid!r}", expected=" or ".join(ON_INVALID)))
    rows, source, where = _rows(str(name_or_path), settings)
    if len(rows) < MIN_RECORDS:
        raise ValueError(message(
            f"No instruction records in {source}", file=source, found=f"{len(rows)} records",
            expected=f"at least {MIN_RECORDS} record(s): {JSON_FMT}",
            fix="point at the file that holds the records (this one is empty)"))
    records, problems = _validate(rows, where)
    if problems and (on_invalid == "raise" or not records):
        listed = problems[:MAX_LISTED] + ([f"... and {len(problems) - MAX_LISTED} more"]
                                          if len(problems) > MAX_LISTED else [])
        raise ValueError(message(
            f"{len(problems)} invalid instruction record(s) of {len(rows)} in {source}",
            found="\n    " + "\n    ".join(listed), expected=JSON_FMT,
            fix="fix or remove those records, or pass on_invalid='skip' to drop them "
                "(they stay listed in .problems)"))
    marked = _marked(rows, where)
    if marked:
        markers = sorted({m for line in marked for m in line.split(": ", 1)[1].split(", ")})
        what = (f"{len(marked)} instruction record(s) of {len(records)} in {source} hold the "
                f"template's own markers ({', '.join(markers)})")
        fix = ("remove or reword those markers in the records: inside a field they start or end a "
               "section of the prompt the model is trained on and its answers are cut at")
        if on_invalid == "raise":
            listed = marked[:MAX_LISTED] + ([f"... and {len(marked) - MAX_LISTED} more"]
                                            if len(marked) > MAX_LISTED else [])
            raise ValueError(message(what, found="\n    " + "\n    ".join(listed),
                                     expected="fields without the template's markers", fix=fix))
        print(f"Note: {what}; they are kept (listed in .marked). Fix: {fix}.")
    return InstructionData(records=records, source=source, problems=problems, marked=marked)


def _marked(rows: list, where: Where) -> list[str]:
    """``record i (fields): m1, m2`` for each valid record whose fields hold the template's markers."""
    lines = []
    for i, row in enumerate(rows):
        if _what_is_wrong(row):
            continue  # invalid: already listed in problems
        found = {key: template_markers(row.get(key) or "", anywhere=True)
                 for key in ("instruction", "input", "output")}
        fields = [key for key, markers in found.items() if markers]
        if fields:
            markers = sorted({m for key in fields for m in found[key]})
            lines.append(f"record {i}{where(i)} ({', '.join(fields)}): {', '.join(markers)}")
    return lines


Where = Callable[[int], str]  # extra location text for record i (a JSONL line number)


def _rows(name: str, settings: Settings) -> tuple[list, str, Where]:
    """The raw rows, a source string, and how to locate row i in an error."""
    no_where: Where = lambda i: ""  # noqa: E731
    if name == "alpaca_instruction":
        return *_json_or_url(ALPACA_INSTRUCTION, settings), no_where
    if name in HUB_SETS:
        hub_name, raw = HUB_SETS[name]
        if settings.data_dir is None and settings.is_tiny:
            # No sample per hub set: the bundled Alpaca-format sample stands in.
            rows, source = _json_or_url(ALPACA_INSTRUCTION, settings)
            return rows, f"{source}, standing in for {hub_name}", no_where
        located = local_file(raw, settings)
        if located:
            return _parse_json(read_text(located[0], JSON_FMT), located[0]), located[1], no_where
        table = hub_split(load_hub(hub_name, raw.rel), hub_name, "train", HUB_COLUMNS, raw.rel)
        return table.to_list(), f"Hugging Face hub {hub_name}", no_where
    path = Path(name).expanduser()
    if path.suffix.lower() in (".json", ".jsonl") or path.exists():
        return _local_file(path.resolve())
    raise unknown_name("instruction data set", name, NAMES,
                       extra=", or the path of a local .json or .jsonl file")


def _json_or_url(remote: Remote, settings: Settings) -> tuple[list, str]:
    located = local_file(remote.raw, settings)
    if located:
        return _parse_json(read_text(located[0], JSON_FMT), located[0]), located[1]
    text, source = download(remote)
    return _parse_json(text, remote.url), source


def _local_file(path: Path) -> tuple[list, str, Where]:
    suffix = path.suffix.lower()
    if suffix not in (".json", ".jsonl") or not path.is_file():
        error = FileNotFoundError if not path.exists() else ValueError
        raise error(message(f"Not an instruction file: {path}", file=path,
                            expected=f"an existing .json ({JSON_FMT}) or .jsonl file"))
    source = f"local file {path}"
    if suffix == ".json":
        return _parse_json(read_text(path, JSON_FMT), path), source, lambda i: ""
    rows, lines = _parse_jsonl(read_text(path, JSONL_FMT), path)
    return rows, source, lambda i: f" (line {lines[i]})"


def _parse_json(text: str, path: Path | str) -> list:
    rows = _loads(text, path, JSON_FMT, line_offset=0)
    if not isinstance(rows, list):
        raise ValueError(message(f"Not a JSON list: {path}", file=path,
                                 found=f"a JSON {type(rows).__name__} at the top level",
                                 expected=JSON_FMT))
    return rows


def _parse_jsonl(text: str, path: Path) -> tuple[list, list[int]]:
    rows, lines = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():  # blank lines (e.g. the last one) hold no record
            rows.append(_loads(line, path, JSONL_FMT, line_offset=number - 1))
            lines.append(number)
    return rows, lines


def _loads(text: str, path: Path | str, expected: str, line_offset: int):
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(message(
            f"Invalid JSON in {path}", file=path,
            where=f"line {err.lineno + line_offset}, column {err.colno}",
            found=err.msg, expected=expected,
            fix="repair the file (a JSON validator shows the spot)")) from None


def _validate(rows: list, where: Where) -> tuple[list[dict], list[str]]:
    records, problems = [], []
    for i, row in enumerate(rows):
        wrong = _what_is_wrong(row)
        if wrong:
            problems.append(f"record {i}{where(i)}: {wrong}")
        else:
            records.append({"instruction": row["instruction"],
                            "input": row.get("input") or "", "output": row["output"]})
    return records, problems


def _what_is_wrong(row) -> str:
    if not isinstance(row, dict):
        return f"a JSON {type(row).__name__}, not an object"
    wrong = []
    for key in ("instruction", "output"):
        value = row.get(key)
        if key not in row:
            wrong.append(f"missing {key!r}")
        elif not isinstance(value, str):
            wrong.append(f"{key!r} is a {type(value).__name__}, expected a string")
        elif not value.strip():
            wrong.append(f"{key!r} is empty")
    # A missing or null input means "no input"; anything else must be a string.
    if row.get("input") is not None and not isinstance(row["input"], str):
        wrong.append(f"'input' is a {type(row['input']).__name__}, expected a string")
    return "; ".join(wrong)

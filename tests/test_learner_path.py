"""The learner's path, read from the committed notebooks and cards (static: nothing runs).

- every exercise (a ``## Exercise`` or ``### Exercise`` section of an ``NN_exercises``
  notebook) has one cell tagged ``try`` holding only comments, followed by its worked
  solution: cells tagged ``solution``, collapsed in JupyterLab (``jupyter.source_hidden``,
  and ``outputs_hidden`` for code);
- each sprint ends with an ``NN_check_yourself`` notebook: 5-8 questions, each a cell calling
  ``selfcheck.check(answer, expected=...)`` (``answer = None`` in it or in the code cell just
  before) whose expected value is computed, never a typed literal, then its collapsed solution
  cells, one of which calls ``selfcheck.solution`` with the worked answer;
- no learner notebook (appendices exempt) calls ``TrainConfig(...)``,
  ``run.train_config(...)`` or ``replace(config, ...)`` with more than six settings;
- no notebook prints a bare comparison verdict (``print(torch.allclose(a, b))``,
  ``print("same:", a == b)``): a by-hand check goes through ``gpt2ft.core.checks``;
- Sprint 11's main path (every notebook but the appendix) is at most 120 cells;
- each card names every notebook of its sprint, and each link from a card to a notebook
  section (``04_evaluate.ipynb#key-question-...``) names a heading that is there.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPRINTS = sorted(p for p in (ROOT / "sprints").glob("sprint*_*") if (p / "README.md").exists())
NOTEBOOKS = sorted(p for s in SPRINTS for p in s.glob("[0-9][0-9]_*.ipynb") if p.with_suffix(".py").exists())
LEARNER = [p for p in NOTEBOOKS if "appendix" not in p.stem]
EXERCISES = [p for p in NOTEBOOKS if p.stem.endswith("_exercises")]
MAX_SETTINGS = 6
MAX_CELLS_SPRINT11 = 120
QUESTIONS = (5, 8)


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def cells_of(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text(encoding="utf-8"))["cells"]


def text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", ()))


def collapsed(cell: dict) -> bool:
    shown = cell.get("metadata", {}).get("jupyter", {})
    return bool(shown.get("source_hidden")) and (cell["cell_type"] != "code" or bool(shown.get("outputs_hidden")))


def only_comments(source: str) -> bool:
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    return bool(lines) and all(line.startswith("#") for line in lines)


def heading(cell: dict) -> tuple[int, str] | None:
    """The level and title of a markdown cell's first heading line, if it starts with one."""
    if cell["cell_type"] != "markdown":
        return None
    match = re.match(r"\s*(#{1,6})\s+(.+)", text(cell))
    return (len(match.group(1)), match.group(2).strip()) if match else None


def exercise_sections(cells: list[dict]) -> list[tuple[str, list[dict]]]:
    """Each ``## Exercise`` / ``### Exercise`` section: its title and its cells (after the heading)."""
    sections, current, level = [], None, 0
    for cell in cells:
        found = heading(cell)
        starts = bool(found) and found[0] in (2, 3) and found[1].lower().startswith("exercise")
        if starts:
            level, current = found[0], (found[1], [])
            sections.append(current)
            continue
        if found and found[0] <= level:
            current = None
        if current is not None:
            current[1].append(cell)
    return sections


# --- exercises: try, then see ----------------------------------------------------------------------

def exercise_problems(notebook: Path) -> list[str]:
    problems = []
    sections = exercise_sections(cells_of(notebook))
    if not sections:
        return [f"{rel(notebook)}: no '## Exercise' section"]
    for title, cells in sections:
        where = f"{rel(notebook)}, {title!r}"
        tries = [i for i, c in enumerate(cells) if "try" in tags(c)]
        solutions = [i for i, c in enumerate(cells) if "solution" in tags(c)]
        if len(tries) != 1:
            problems.append(f"{where}: {len(tries)} cells tagged 'try' (one: the cell the learner works in)")
            continue
        at = tries[0]
        if cells[at]["cell_type"] != "code" or not only_comments(text(cells[at])):
            problems.append(f"{where}: the 'try' cell must be a code cell holding only comments")
        if cells[at].get("outputs"):
            problems.append(f"{where}: the 'try' cell has outputs")
        if not solutions:
            problems.append(f"{where}: no cell tagged 'solution' after the try cell")
            continue
        if solutions[0] < at:
            problems.append(f"{where}: a solution cell comes before the try cell")
        if solutions[0] != at + 1:
            problems.append(f"{where}: the solution does not follow the try cell directly")
        for i in solutions:
            if not collapsed(cells[i]):
                problems.append(f"{where}: solution cell {i + 1} of the section is not collapsed "
                                "(jupyter: source_hidden, and outputs_hidden for code)")
        # The worked solution is one run of cells: nothing of the answer left visible in between.
        gaps = [i for i in range(solutions[0], solutions[-1]) if i not in solutions]
        if gaps:
            problems.append(f"{where}: cells {[g + 1 for g in gaps]} between the solution cells are not "
                            "tagged 'solution'")
    return problems


@pytest.mark.parametrize("notebook", EXERCISES, ids=rel)
def test_every_exercise_has_a_try_cell_then_a_collapsed_solution(notebook):
    assert exercise_problems(notebook) == []


# --- check yourself -------------------------------------------------------------------------------

def check_calls(source: str, verb: str = "check") -> list[ast.Call]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and node.func.attr == verb
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "selfcheck"]


def literal(node: ast.AST) -> bool:
    """A typed-in value: a constant, or a list/tuple/set/dict/negation of constants only."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp):
        return literal(node.operand)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(literal(k) for k in node.keys if k is not None) and all(literal(v) for v in node.values)
    return False


def check_yourself_problems(sprint: Path) -> list[str]:
    notebooks = sorted(sprint.glob("[0-9][0-9]_*.ipynb"))
    found = [p for p in notebooks if p.stem.endswith("_check_yourself")]
    if len(found) != 1:
        return [f"{rel(sprint)}: {len(found)} NN_check_yourself notebooks (one, the sprint's last)"]
    notebook = found[0]
    problems = []
    if notebook != notebooks[-1]:
        problems.append(f"{rel(notebook)}: not the sprint's last notebook ({notebooks[-1].name} comes after it)")
    cells = cells_of(notebook)
    questions = 0
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code" or "solution" in tags(cell):
            continue
        calls = check_calls(text(cell))
        if not calls:
            continue
        questions += 1
        where = f"{rel(notebook)}, cell {i + 1}"
        before = [text(c) for c in cells[max(i - 1, 0):i] if c["cell_type"] == "code"]
        if not any(re.search(r"^answer\s*=\s*None\b", t, flags=re.M) for t in [text(cell), *before]):
            problems.append(f"{where}: the question does not start the learner at `answer = None` "
                            "(in its cell or the code cell just before)")
        for call in calls:
            expected = next((k.value for k in call.keywords if k.arg == "expected"), None)
            if expected is None and len(call.args) > 1:
                expected = call.args[1]
            if expected is None:
                problems.append(f"{where}: selfcheck.check without an expected value")
            elif literal(expected):
                problems.append(f"{where}: the expected value is typed in ({ast.unparse(expected)}); "
                                "compute it with the package, from the model or the data")
        after = []
        for later in cells[i + 1:]:
            if "solution" not in tags(later):
                break
            after.append(later)
        if not after:
            problems.append(f"{where}: no solution cells right after the question")
        elif not all(collapsed(c) for c in after):
            problems.append(f"{where}: a solution cell of the question is not collapsed")
        elif not any(c["cell_type"] == "code" and check_calls(text(c), "solution") for c in after):
            problems.append(f"{where}: the solution does not call selfcheck.solution with its worked answer")
    low, high = QUESTIONS
    if not low <= questions <= high:
        problems.append(f"{rel(notebook)}: {questions} questions calling selfcheck.check ({low}-{high} wanted)")
    return problems


@pytest.mark.parametrize("sprint", SPRINTS, ids=lambda p: p.name)
def test_each_sprint_ends_with_a_check_yourself_notebook(sprint):
    assert check_yourself_problems(sprint) == []


# --- only the lesson in the cells -----------------------------------------------------------------

def settings_count(call: ast.Call) -> tuple[str, int] | None:
    """``(name, settings)`` of a TrainConfig / train_config / dataclasses.replace call, else None.

    ``TrainConfig(...)`` counts every argument; ``run.train_config("train", ...)``,
    ``replace(config, ...)``, ``throwaway(config, ...)`` and ``step_by_step(config, steps, ...)``
    every argument after the name or config (and the steps) they start from.
    """
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if name == "TrainConfig":
        skip = 0
    elif name == "train_config" and isinstance(func, ast.Attribute) or name == "throwaway":
        skip = 1
    elif name == "step_by_step":
        skip = 2
    elif name == "replace" and (isinstance(func, ast.Name) or (
            isinstance(func.value, ast.Name) and func.value.id == "dataclasses")):
        skip = 1
    else:
        return None
    return name, max(len(call.args) - skip, 0) + len(call.keywords)


def config_problems(source_py: Path) -> list[str]:
    tree = ast.parse(source_py.read_text(encoding="utf-8"), filename=str(source_py))
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (found := settings_count(node)) and found[1] > MAX_SETTINGS:
            problems.append(f"{rel(source_py)}:{node.lineno}: {found[0]}(...) with {found[1]} settings "
                            f"(at most {MAX_SETTINGS}: the ones the lesson is about; the rest are defaults "
                            "or in the settings)")
    return problems


PROFILE_LINE = 'PROFILE = "auto"  # tiny | small | full | auto (the environment\'s PROFILE wins)'


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=rel)
def test_every_parameters_cell_sets_the_profile_the_same_way(notebook):
    """One form in every notebook: a literal the learner may edit; ``configure`` lets the
    environment's ``PROFILE`` win (no ``os.environ.get`` plumbing in the lesson)."""
    lines = notebook.with_suffix(".py").read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if line.startswith("PROFILE")] == [PROFILE_LINE]


@pytest.mark.parametrize("notebook", LEARNER, ids=rel)
def test_no_learner_notebook_configures_training_with_more_than_six_settings(notebook):
    assert config_problems(notebook.with_suffix(".py")) == []


VERDICT_CALLS = {"allclose", "equal", "isclose", "array_equal", "all_close"}


def verdict(node: ast.AST) -> bool:
    """Whether an expression is a bare comparison verdict (a bool that says "same" or "not")."""
    if isinstance(node, ast.Compare):
        return any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops)
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in VERDICT_CALLS:
            return True
        if name in {"all", "any", "item", "bool"}:
            inner = func.value if isinstance(func, ast.Attribute) else (node.args[0] if node.args else None)
            return inner is not None and verdict(inner)
        return False
    if isinstance(node, ast.BoolOp):
        return any(verdict(v) for v in node.values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return verdict(node.operand)
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) and verdict(v.value) for v in node.values)
    return False


def verdict_problems(source_py: Path) -> list[str]:
    tree = ast.parse(source_py.read_text(encoding="utf-8"), filename=str(source_py))
    problems = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
                and any(verdict(a) for a in node.args)):
            problems.append(f"{rel(source_py)}:{node.lineno}: {ast.unparse(node)[:100]}: use "
                            "checks.same / checks.holds (they raise with both values on a mismatch)")
    return problems


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=rel)
def test_no_notebook_prints_a_bare_comparison_verdict(notebook):
    assert verdict_problems(notebook.with_suffix(".py")) == []


def test_sprint11_main_path_fits_a_learner():
    folder = ROOT / "sprints" / "sprint11_classification"
    main = [p for p in folder.glob("[0-9][0-9]_*.ipynb") if "appendix" not in p.stem]
    count = {p.name: len(cells_of(p)) for p in sorted(main)}
    assert sum(count.values()) <= MAX_CELLS_SPRINT11, count


# --- the cards lead through the notebooks ---------------------------------------------------------

def slug(title: str) -> str:
    """MyST's heading anchor (``myst_parser.slugs.github_slugify``): lower case, each space a '-',
    other punctuation dropped (so "Exercise 1 — A sweep" is ``exercise-1--a-sweep``)."""
    return re.sub(r"[^\w\u4e00-\u9fff\- ]", "", title.lower().replace(" ", "-"))


def anchors(notebook: Path) -> set[str]:
    found = set()
    for cell in cells_of(notebook):
        if cell["cell_type"] != "markdown":
            continue
        fence = False
        for line in text(cell).splitlines():
            if re.match(r"\s*(```|~~~)", line):
                fence = not fence
            match = None if fence else re.match(r"#{1,3}\s+(.+?)\s*#*\s*$", line)  # myst_heading_anchors = 3
            if match:
                # Markdown inside the title does not reach the anchor: `code`, *emphasis*, [text](link).
                plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", match.group(1)).replace("`", "")
                found.add(slug(re.sub(r"(?<!\w)[*_]+|[*_]+(?!\w)", "", plain)))
    return found


def card_problems(sprint: Path) -> list[str]:
    card = (sprint / "README.md").read_text(encoding="utf-8")
    problems = [f"{rel(sprint)}/README.md does not name {p.stem}" for p in sorted(sprint.glob("[0-9][0-9]_*.ipynb"))
                if f"`{p.stem}`" not in card and f"`{p.name}`" not in card]
    for target, anchor in re.findall(r"\]\(([\w.-]+\.ipynb)#([^)\s]+)\)", card):
        notebook = sprint / target
        if not notebook.exists():
            problems.append(f"{rel(sprint)}/README.md links to {target}, which is not there")
        elif anchor not in anchors(notebook):
            problems.append(f"{rel(sprint)}/README.md links to {target}#{anchor}: no such heading "
                            f"(there: {', '.join(sorted(anchors(notebook)))})")
    return problems


@pytest.mark.parametrize("sprint", SPRINTS, ids=lambda p: p.name)
def test_each_card_names_its_notebooks_and_links_to_real_sections(sprint):
    assert card_problems(sprint) == []


# --- the checks above catch what they should (planted examples) ------------------------------------

def test_the_detectors_catch_planted_faults(tmp_path):
    flagged = ["print('same:', a == b)", "print(torch.allclose(x, y))", "print(f'equal: {ours == theirs}')",
               "print('all:', (a == b).all())", "print('ok', bool((x == 1).all()) and torch.equal(a, b))"]
    kept = ["print('n =', len(x))", "print(sum(a == b for a, b in pairs), 'agree')", "checks.same('x', a, b)",
            "print(text.replace('a', 'b'))", "print('largest difference:', (a - b).abs().max().item())"]
    for source in flagged + kept:
        path = tmp_path / "nb.py"
        path.write_text(source + "\n")
        assert bool(verdict_problems_at(path)) == (source in flagged), source
    code = ("cfg = TrainConfig(a=1, b=2, c=3, d=4, e=5, f=6, g=7)\n"
            "ok = run.train_config('train', a=1, b=2, c=3, d=4, e=5, f=6)\n"
            "bad = run.train_config('train', a=1, b=2, c=3, d=4, e=5, f=6, g=7)\n"
            "fine = dataclasses.replace(cfg, lr=1)\ntext = s.replace('a', 'b')\n"
            "loop = step_by_step(cfg, 5, a=1, b=2)\nquick = throwaway(cfg, a=1)\n")
    assert [settings_count(n) for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call)
            and settings_count(n)] == [("TrainConfig", 7), ("train_config", 6), ("train_config", 7), ("replace", 1),
                                     ("step_by_step", 2), ("throwaway", 1)]
    assert literal(ast.parse("-3", mode="eval").body) and literal(ast.parse("['a', 1]", mode="eval").body)
    assert not literal(ast.parse("int(labels.eq(-100).sum())", mode="eval").body)


def verdict_problems_at(path: Path) -> list[str]:
    """verdict_problems for a file outside the repository."""
    tree = ast.parse(path.read_text())
    return [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
            and n.func.id == "print" and any(verdict(a) for a in n.args)]


def test_an_exercise_without_its_try_cell_or_collapse_is_named(tmp_path):
    def cell(kind, source, tag=None, hidden=False):
        meta = {"tags": [tag]} if tag else {}
        if hidden:
            meta["jupyter"] = {"source_hidden": True, **({"outputs_hidden": True} if kind == "code" else {})}
        return {"cell_type": kind, "source": source, "metadata": meta, **({"outputs": []} if kind == "code" else {})}

    good = [cell("markdown", "## Exercise 1 — a"), cell("markdown", "Compute x."),
            cell("code", "# compute x\n# use: y", "try"), cell("code", "x = 1", "solution", True),
            cell("markdown", "Why: ...", "solution", True), cell("markdown", "## What you learned")]
    bad = [cell("markdown", "## Exercise 2 — b"), cell("code", "x = 2", "solution", False),
           cell("markdown", "### Exercise 3 — c"), cell("code", "y = 1", "try"), cell("code", "z", "solution", True)]
    notebook = tmp_path / "05_exercises.ipynb"
    notebook.write_text(json.dumps({"cells": good + bad}))
    problems = exercise_problems(notebook)
    assert len(problems) == 2, problems
    assert "'Exercise 2 — b': 0 cells tagged 'try'" in problems[0]
    assert "'Exercise 3 — c': the 'try' cell must be a code cell holding only comments" in problems[1]


def test_a_check_yourself_question_with_a_typed_answer_or_no_solution_is_named(tmp_path):
    def cell(kind, source, tag=None):
        meta = {"tags": [tag], "jupyter": {"source_hidden": True, "outputs_hidden": True}} if tag else {}
        return {"cell_type": kind, "source": source, "metadata": meta, **({"outputs": []} if kind == "code" else {})}

    good = [cell("markdown", "Which token does position 3 predict?"),
            cell("code", "answer = None  # a token\nselfcheck.check(answer, expected=tokens[4], why='...')"),
            cell("code", "selfcheck.solution(tokens[4], expected=tokens[4], why='...')", "solution")]
    typed = [cell("code", "answer = None\nselfcheck.check(answer, expected=42, why='...')"),
             cell("code", "selfcheck.solution(42, expected=42, why='')", "solution")]
    unchecked = [good[1], cell("code", "selfcheck.check(tokens[4], expected=tokens[4], why='...')", "solution")]
    unsolved = [cell("code", "answer = None\nselfcheck.check(answer, expected=n, why='...')")]
    (tmp_path / "01_x.ipynb").write_text(json.dumps({"cells": []}))
    (tmp_path / "02_check_yourself.ipynb").write_text(json.dumps({"cells": good * 4 + typed + unchecked + unsolved}))
    problems = check_yourself_problems(tmp_path)
    assert len(problems) == 3, problems
    assert "the expected value is typed in (42)" in problems[0]
    assert "the solution does not call selfcheck.solution" in problems[1]  # it could print a wrong answer
    assert "no solution cells right after the question" in problems[2]

"""The notebooks as a rendered book: a static site (Sphinx + myst-nb + sphinx-book-theme).

    make book                       # = gpt2ft book = python -m gpt2ft.tools.book
    open .cache/book/index.html     # or: python -m http.server -d .cache/book

Nothing is executed: the pages show the committed, executed ``.ipynb`` outputs
(tiny runs). The book is staged in ``.cache/book-src/`` with the repository's
own layout, so a relative path means the same thing in the book as in the
checkout:

- ``index``: the repository README; then, in sprint order, each sprint's card
  (``sprints/*/README.md``), its notebooks (``NN_name.ipynb``) and its notes
  (``sprints/*/notes/*.md``); then the project notes (``notes/*.md``);
- a file named in code (`` `01_data` ``, `` `02_finetune.py` ``,
  `` `notes/findings.md` ``, `` `sprints/sprint12_book/` ``) in a card, note or
  markdown cell becomes a link to its page (a ``.py`` source to its notebook, a
  sprint folder to its card);
- widget outputs have no live kernel in a static page: a progress bar becomes
  its final text (from the saved widget state), other widgets a pointer to the
  notebook's picture of them (Sprint 10's playground: ``04_playground.png``);
- an exercise reads as in JupyterLab: its cell tagged ``try`` is an empty
  exercise cell (its comments say what to write; no output) with a line saying where to write it,
  and each run of cells tagged ``solution`` (the worked solution: code, outputs,
  discussion) is a closed toggle, ``<details><summary>Solution</summary>…</details>``.

Staged files are rewritten only when their text changes, so a second build
re-reads only what changed. Output: ``.cache/book/`` (ignored by git).
"""

from __future__ import annotations

import argparse
import html
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from gpt2ft.core.paths import repo_root

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"  # as in notebooks (not imported:
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"  # it needs jupytext and nbclient)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg"}
TRY_TAG, SOLUTION_TAG = "try", "solution"
SOLUTION_OPEN = '<details class="solution">\n<summary>Solution</summary>\n'
SOLUTION_CLOSE = "</details>\n"
TRY_NOTE = "*Write your code in the cell below (in JupyterLab: `make lab`), run it, then open the solution.*"
CSS = """\
/* Written by gpt2ft.tools.book: exercises as in JupyterLab (an empty cell to try, a closed solution). */
div.cell.tag_try { border-left: 4px solid #1f6feb; padding-left: 0.5em; }
details.solution { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.3em 0.8em; margin: 0.8em 0; }
details.solution > summary { cursor: pointer; font-weight: bold; }
details.solution[open] > summary { margin-bottom: 0.5em; }
"""
WIDGET_NOTE = ("(An interactive widget: it is live only when the notebook runs in JupyterLab, `make lab`. "
               "The picture above shows what it looks like.)")

FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" '
           'fill="#1f6feb"/><text x="16" y="22" font-family="sans-serif" font-size="15" font-weight="bold" '
           'fill="#fff" text-anchor="middle">G2</text></svg>\n')

CONF = '''\
# Written by gpt2ft.tools.book on every build; edit gpt2ft/book.py instead.
project = "Fine-tuning GPT-2, in notebooks"
author = "the gpt2ft project"
copyright = "the gpt2ft project"
extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "sphinx_book_theme"
html_title = "Fine-tuning GPT-2, in notebooks"
html_theme_options = {
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": True,
    "home_page_in_toc": True,
}
html_last_updated_fmt = None
html_show_sphinx = False
# The committed notebooks are already executed (tiny runs): never run them here.
nb_execution_mode = "off"
# Widget state is rewritten to text by gpt2ft.tools.book; load no widget JavaScript from a CDN.
nb_ipywidgets_js = {}
nb_merge_streams = True
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "tasklist"]
html_favicon = "favicon.svg"
html_static_path = ["_static"]
html_css_files = ["gpt2ft.css"]
# A fixed light theme (the theme's "auto" logs a console error on a first visit).
html_context = {"default_mode": "light"}
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure"]
'''


# --- what goes in the book -------------------------------------------------------------------------

def sprint_folders(root: Path) -> list[Path]:
    return sorted(p for p in (root / "sprints").glob("sprint*_*") if p.is_dir() and (p / "README.md").exists())


def notebooks_of(folder: Path) -> list[Path]:
    """A sprint's executed notebooks, in order (``NN_name.ipynb`` with its ``.py`` source)."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if p.with_suffix(".py").exists())


def documents(root: Path) -> list[Path]:
    """Every source file of the book, repository-relative, in reading order."""
    docs = [Path("README.md")]
    for folder in sprint_folders(root):
        docs.append((folder / "README.md").relative_to(root))
        docs += [p.relative_to(root) for p in notebooks_of(folder)]
        docs += [p.relative_to(root) for p in sorted((folder / "notes").glob("*.md"))]
    docs += [p.relative_to(root) for p in sorted((root / "notes").glob("*.md"))]
    return docs


def title_of(path: Path) -> str:
    """The first heading of a markdown file or notebook."""
    if path.suffix == ".ipynb":
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    else:
        text = path.read_text(encoding="utf-8")
    match = re.search(r"^#\s+(.+)$", text, flags=re.M)
    return match.group(1).strip() if match else path.stem


def toc_title(path: Path) -> str:
    """The sidebar's name for a page: its title without the sprint prefix the caption already gives."""
    if path.name == "README.md":
        return "The sprint card"
    title = re.sub(r"^Sprint \d+\s*[·—-]\s*", "", title_of(path))
    return title[:1].upper() + title[1:]


# --- links ---------------------------------------------------------------------------------------

CODE_SPAN = re.compile(r"(?<![`\[])`([^`\n]+)`(?![`\]])")


def link_target(name: str, here: Path, root: Path, pages: set[Path]) -> Path | None:
    """The book page (repository-relative) a code span like `02_finetune.py` names, if any."""
    name = name.strip()
    if not re.fullmatch(r"[\w./-]+", name) or name in {".py", ".ipynb", ".md"}:
        return None
    for base in (here, Path(".")):
        candidate = Path(os.path.normpath(base / name))
        if str(candidate).startswith(".."):
            continue
        options = [candidate]
        if candidate.suffix == ".py":
            options.append(candidate.with_suffix(".ipynb"))
        elif not candidate.suffix:
            options += [candidate.with_suffix(".ipynb"), candidate / "README.md"]
        for option in options:
            if option in pages and (root / option).exists():
                return option
    return None


def add_links(text: str, here: Path, root: Path, pages: set[Path]) -> str:
    """Turn code spans that name a page of the book into links to it (outside code blocks)."""
    out, fence = [], None
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip()
        marker = re.match(r"(`{3,}|~{3,}|:{3,})", stripped)
        if marker:
            if fence is None:
                fence = marker.group(1)[0] * 3
            elif stripped.startswith(fence):
                fence = None
            out.append(line)
            continue
        if fence is not None or line.startswith("    "):
            out.append(line)
            continue

        def link(match: re.Match) -> str:
            target = link_target(match.group(1), here, root, pages)
            if target is None:
                return match.group(0)
            return f"[{match.group(0)}]({os.path.relpath(target, here)})"

        out.append(CODE_SPAN.sub(link, line))
    return "".join(out)


# --- widget outputs ------------------------------------------------------------------------------

def _progress_text(model_id: str, state: dict) -> str | None:
    """tqdm's notebook bar (an HBox of HTML, progress, HTML) as tqdm's own text line."""
    box = state.get(model_id, {}).get("state", {})
    children = [state.get(c.removeprefix("IPY_MODEL_"), {}) for c in box.get("children", [])]
    kinds = [c.get("model_name") for c in children]
    if len(children) != 3 or kinds[1] not in ("FloatProgressModel", "IntProgressModel"):
        return None
    left, bar, right = (c.get("state", {}) for c in children)
    maximum = bar.get("max") or 1
    filled = int(round(10 * min(max(bar.get("value", 0) / maximum, 0), 1)))
    text = f"{left.get('value', '')}|{'█' * filled}{' ' * (10 - filled)}|{right.get('value', '')}"
    return html.unescape(text).replace("\xa0", " ").replace("\u2007", " ")


def static_outputs(notebook) -> None:
    """Replace widget outputs (no kernel in a static page) by text, in place."""
    state = notebook.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW not in data:
                continue
            view = data.pop(WIDGET_VIEW)
            text = _progress_text(view.get("model_id", ""), state)
            data["text/plain"] = text if text is not None else WIDGET_NOTE


# --- exercises: try, then see ----------------------------------------------------------------------

def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", ()))


def _no_headings(text: str) -> str:
    """A heading inside the toggle would open a section the closing tag cannot follow: bold it."""
    out, fence = [], False
    for line in text.splitlines(keepends=True):
        if re.match(r"\s*(```|~~~)", line):
            fence = not fence
        heading = None if fence else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        out.append(f"**{heading.group(1)}**\n" if heading else line)
    return "".join(out)


def exercise_cells(notebook) -> None:
    """Cells tagged ``try`` become empty exercise cells, runs of ``solution`` cells closed toggles (in place)."""
    cells = []
    inside = False

    def added(text: str):  # an id from its place, not a random one: a rebuild writes the same page
        return nbformat.v4.new_markdown_cell(text, id=f"gpt2ft-book-{len(cells)}")

    for cell in notebook.cells:
        tags = _tags(cell)
        if SOLUTION_TAG in tags and not inside:
            cells.append(added(SOLUTION_OPEN))
            inside = True
        elif SOLUTION_TAG not in tags and inside:
            cells.append(added(SOLUTION_CLOSE))
            inside = False
        if SOLUTION_TAG in tags:
            cell.metadata.pop("jupyter", None)  # JupyterLab's collapse: the toggle does it here
            if cell.cell_type == "markdown":
                cell.source = _no_headings(cell.source)
        if TRY_TAG in tags and cell.cell_type == "code":
            cells.append(added(TRY_NOTE))
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    if inside:
        cells.append(added(SOLUTION_CLOSE))
    notebook.cells = cells


# --- staging and building -------------------------------------------------------------------------

def _write_if_changed(path: Path, text: str | bytes) -> None:
    data = text.encode("utf-8") if isinstance(text, str) else text
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def index_page(root: Path, pages: set[Path]) -> str:
    """The repository README, then the table of contents in sprint order."""
    text = add_links((root / "README.md").read_text(encoding="utf-8"), Path("."), root, pages)
    tocs = []
    for folder in sprint_folders(root):
        card = (folder / "README.md").relative_to(root)
        entries = [card, *[p.relative_to(root) for p in notebooks_of(folder)],
                   *[p.relative_to(root) for p in sorted((folder / "notes").glob("*.md"))]]
        caption = title_of(folder / "README.md").replace("—", "·")
        tocs.append((caption, entries))
    notes = [p.relative_to(root) for p in sorted((root / "notes").glob("*.md"))]
    if notes:
        tocs.append(("Project notes", notes))
    for caption, entries in tocs:
        lines = "\n".join(f"{toc_title(root / e)} <{e.with_suffix('')}>" for e in entries)
        text += f"\n\n```{{toctree}}\n:caption: {caption}\n:hidden:\n\n{lines}\n```\n"
    return text


def stage(root: Path, src: Path) -> list[Path]:
    """Lay out the book's sources under ``src``; returns the pages (repository-relative)."""
    docs = documents(root)
    pages = set(docs) - {Path("README.md")}  # the root README is the index page; a bare `README.md` is a card
    wanted = {Path("conf.py"), Path("index.md"), Path("favicon.svg"), Path("_static/gpt2ft.css")}
    _write_if_changed(src / "conf.py", CONF)
    _write_if_changed(src / "favicon.svg", FAVICON)
    _write_if_changed(src / "_static" / "gpt2ft.css", CSS)
    _write_if_changed(src / "index.md", index_page(root, pages))
    for doc in docs[1:]:
        here = doc.parent
        if doc.suffix == ".ipynb":
            notebook = nbformat.read(root / doc, as_version=4)
            for cell in notebook.cells:
                if cell.cell_type == "markdown":
                    cell.source = add_links(cell.source, here, root, pages)
            static_outputs(notebook)
            exercise_cells(notebook)
            # A notebook synced by jupytext but never executed has no language_info: say it is Python.
            notebook.metadata.setdefault("language_info", {"name": "python", "pygments_lexer": "ipython3"})
            _write_if_changed(src / doc, nbformat.writes(notebook) + "\n")
        else:
            _write_if_changed(src / doc, add_links((root / doc).read_text(encoding="utf-8"), here, root, pages))
        wanted.add(doc)
    # Pictures beside the notebooks and notes (e.g. sprint 10's 04_playground.png).
    for folder in {root / d.parent for d in docs[1:]}:
        for image in folder.iterdir():
            if image.suffix.lower() in IMAGE_SUFFIXES:
                rel = image.relative_to(root)
                _write_if_changed(src / rel, image.read_bytes())
                wanted.add(rel)
    # Drop what is no longer in the book (a renamed notebook), keep Sphinx's own folders.
    for path in sorted(src.rglob("*"), reverse=True):
        rel = path.relative_to(src)
        if path.is_file() and rel not in wanted and rel.parts[0] not in {"_build", ".doctrees"}:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return docs


def build(root: Path | None = None, out: Path | None = None, quiet: bool = True) -> dict:
    """Stage and build the book; returns the output folder, page count, seconds and warnings."""
    root = root or repo_root()
    out = out or root / ".cache" / "book"
    src = out.parent / (out.name + "-src")
    doctrees = out.parent / (out.name + "-doctrees")
    start = time.perf_counter()
    docs = stage(root, src)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-d", str(doctrees), "--keep-going",
               *(["-q"] if quiet else []), str(src), str(out)]
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"sphinx-build failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    pages = sorted(p.relative_to(out) for p in out.rglob("*.html") if not p.relative_to(out).parts[0].startswith("_"))
    return {"out": out, "documents": len(docs), "pages": pages, "seconds": seconds, "warnings": warnings}


def out_problem(out: Path) -> str | None:
    """Why the book cannot be written to ``out`` (and beside it), or None: checked before any work.

    The build writes ``out`` and, in the same parent folder, ``<name>-src`` and
    ``<name>-doctrees``: the parent must be (or become) a folder this user can write.
    """
    out = out.expanduser().resolve()
    beside = f"{out.name}-src and {out.name}-doctrees"
    fix = "Fix: pass --out a folder in a place you can write, e.g. --out .cache/book (the default)."
    if not out.name:
        return f"--out {out}: the book needs a named folder (it writes <name>-src and <name>-doctrees beside it). {fix}"
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file, not a folder. Nothing was written. {fix}"
    above = out.parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        return f"--out {out} lies below {above}, which is a file, not a folder. Nothing was written. {fix}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        Path(tempfile.mkdtemp(prefix=f".{out.name}-check-", dir=out.parent)).rmdir()
    except OSError as err:
        return (f"--out {out}: the book goes to {out} and, beside it, {beside}, but the folder "
                f"{out.parent} cannot be written ({err.strerror or err}). The book was not built. {fix}")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpt2ft book", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help="default: .cache/book")
    args = parser.parse_args(argv)
    problem = out_problem(args.out) if args.out else None
    if problem:
        parser.error(problem)
    report = build(out=args.out.resolve() if args.out else None)
    for warning in report["warnings"]:
        print(warning, file=sys.stderr)
    index = report["out"] / "index.html"
    print(f"== book: {len(report['pages'])} pages from {report['documents']} documents in "
          f"{report['seconds']:.1f} s, {len(report['warnings'])} warnings -> {index}")
    print(f"   read it: open {index}  (or: python -m http.server -d {report['out']}, then http://127.0.0.1:8000)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


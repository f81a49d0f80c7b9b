"""The book's staging: links between notebooks, cards and notes; widget outputs as text; the contents."""

from pathlib import Path

import nbformat

from gpt2ft.tools import book

ROOT = Path(__file__).resolve().parents[1]
S10 = Path("sprints/sprint10_generation")
PAGES = set(book.documents(ROOT)) - {Path("README.md")}


def test_code_spans_naming_a_page_become_links():
    card = "| 01 | `01_load_and_inspect` | ... |\nsee `02_next_token.py`, `03_decoding_strategies.ipynb`\n"
    linked = book.add_links(card, S10, ROOT, PAGES)
    assert "[`01_load_and_inspect`](01_load_and_inspect.ipynb)" in linked
    assert "[`02_next_token.py`](02_next_token.ipynb)" in linked  # a source links to its notebook
    assert "[`03_decoding_strategies.ipynb`](03_decoding_strategies.ipynb)" in linked


def test_notes_and_folders_resolve_from_the_file_then_from_the_root():
    text = "`notes/findings.md` and `notes/training_engine.md`; `sprints/sprint12_book/`"
    linked = book.add_links(text, S10, ROOT, PAGES)
    assert "[`notes/findings.md`](notes/findings.md)" in linked
    assert "[`notes/training_engine.md`](../../notes/training_engine.md)" in linked
    assert "[`sprints/sprint12_book/`](../sprint12_book/README.md)" in linked


def test_other_code_is_left_alone():
    text = ("`make test`, `quality.py`, `gpt2ft.training`, [`01_load_and_inspect`](x.ipynb)\n"
            "```bash\n`01_load_and_inspect`\n```\n")
    assert book.add_links(text, S10, ROOT, PAGES) == text


def _progress_notebook():
    notebook = nbformat.v4.new_notebook()
    view = {"model_id": "box", "version_major": 2, "version_minor": 0}
    notebook.cells = [nbformat.v4.new_code_cell("train()", outputs=[
        nbformat.v4.new_output("display_data", data={book.WIDGET_VIEW: view, "text/plain": "training:   0%|"}),
        nbformat.v4.new_output("display_data", data={book.WIDGET_VIEW: {"model_id": "vbox"},
                                                     "text/plain": "VBox(children=(Textarea(..."}),
    ])]
    state = {
        "box": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_a", "IPY_MODEL_b", "IPY_MODEL_c"]}},
        "a": {"model_name": "HTMLModel", "state": {"value": "training: 100%"}},
        "b": {"model_name": "FloatProgressModel", "state": {"value": 60, "max": 60}},
        "c": {"model_name": "HTMLModel", "state": {"value": " 60/60 [00:12&lt;00:00]"}},
        "vbox": {"model_name": "VBoxModel", "state": {"children": []}},
    }
    notebook.metadata["widgets"] = {book.WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    return notebook


def test_widget_outputs_become_text_for_a_static_page():
    notebook = _progress_notebook()
    book.static_outputs(notebook)
    bar, controls = (o["data"] for o in notebook.cells[0].outputs)
    assert bar == {"text/plain": "training: 100%|██████████| 60/60 [00:12<00:00]"}
    assert controls == {"text/plain": book.WIDGET_NOTE}
    assert "widgets" not in notebook.metadata


def test_staging_lays_out_the_book_in_sprint_order(tmp_path):
    docs = book.stage(ROOT, tmp_path)
    index = (tmp_path / "index.md").read_text()
    cards = [index.index(f"<{d.with_suffix('')}>") for d in docs if d.name == "README.md" and d.parent.name]
    assert cards == sorted(cards) and len(cards) == len(book.sprint_folders(ROOT))
    assert index.rstrip().endswith("```") and "Project notes" in index
    assert (tmp_path / S10 / "04_playground.png").stat().st_size > 1000
    for notebook in tmp_path.rglob("*.ipynb"):
        assert book.WIDGET_VIEW not in notebook.read_text(), notebook
        assert nbformat.read(notebook, as_version=4).metadata.language_info.name == "python", notebook
    again = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    book.stage(ROOT, tmp_path)  # unchanged sources: nothing rewritten, so Sphinx re-reads nothing
    assert again == {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}


def _exercise_notebook():
    notebook = nbformat.v4.new_notebook()
    hidden = {"jupyter": {"outputs_hidden": True, "source_hidden": True}, "tags": ["solution"]}
    notebook.cells = [
        nbformat.v4.new_markdown_cell("## Exercise 1 — Sweep the temperature"),
        nbformat.v4.new_code_cell("# compute distinct-2 at each temperature\n# use: decoding.distinct_n",
                                  metadata={"tags": ["try"]},
                                  outputs=[nbformat.v4.new_output("stream", text="left over\n")]),
        nbformat.v4.new_code_cell("sweep = run_sweep()", metadata=hidden,
                                  outputs=[nbformat.v4.new_output("stream", text="0.62 -> 1.00\n")]),
        nbformat.v4.new_markdown_cell("### Reading\nVariety is bought with likelihood.\n"
                                      "```python\n# not a heading\n```",
                                      metadata={"jupyter": {"source_hidden": True}, "tags": ["solution"]}),
        nbformat.v4.new_markdown_cell("## Exercise 2 — min-p"),
        nbformat.v4.new_code_cell("# write min_p(logits, p)", metadata={"tags": ["try"]}),
        nbformat.v4.new_code_cell("def min_p(logits, p): ...", metadata=hidden),
    ]
    return notebook


def test_exercises_read_as_a_try_cell_then_a_closed_solution():
    notebook = _exercise_notebook()
    book.exercise_cells(notebook)
    kinds = [(c.cell_type, c.source.splitlines()[0] if c.source else "") for c in notebook.cells]
    assert kinds == [
        ("markdown", "## Exercise 1 — Sweep the temperature"),
        ("markdown", book.TRY_NOTE),
        ("code", "# compute distinct-2 at each temperature"),
        ("markdown", '<details class="solution">'),
        ("code", "sweep = run_sweep()"),
        ("markdown", "**Reading**"),
        ("markdown", "</details>"),
        ("markdown", "## Exercise 2 — min-p"),
        ("markdown", book.TRY_NOTE),
        ("code", "# write min_p(logits, p)"),
        ("markdown", '<details class="solution">'),
        ("code", "def min_p(logits, p): ..."),
        ("markdown", "</details>"),
    ]
    try_cell, solution, reading = notebook.cells[2], notebook.cells[4], notebook.cells[5]
    assert try_cell.outputs == [] and try_cell.execution_count is None  # an empty cell to work in
    assert solution.outputs[0]["text"] == "0.62 -> 1.00\n"  # the solution keeps its outputs, inside the toggle
    assert "<summary>Solution</summary>" in notebook.cells[3].source
    assert "# not a heading" in reading.source and "jupyter" not in reading.metadata
    nbformat.validate(notebook)
    again = _exercise_notebook()
    book.exercise_cells(again)
    added = [c.id for c in notebook.cells if c.id.startswith("gpt2ft-book-")]
    assert len(added) == 6 and added == [c.id for c in again.cells if c.id.startswith("gpt2ft-book-")]


def test_the_staged_book_carries_the_exercise_style(tmp_path):
    book.stage(ROOT, tmp_path)
    assert "details.solution" in (tmp_path / "_static" / "gpt2ft.css").read_text()
    assert 'html_css_files = ["gpt2ft.css"]' in (tmp_path / "conf.py").read_text()

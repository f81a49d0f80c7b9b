"""The notebook pair check and the results writer."""

import json
import shutil
from pathlib import Path

import pandas as pd

from gpt2ft.session import results, settings
from gpt2ft.tools import notebooks

SPRINTS = Path(__file__).resolve().parents[1] / "sprints"


def test_every_committed_pair_is_in_sync():
    assert notebooks.unsynced_pairs(SPRINTS) == []


def test_an_edited_source_is_reported_out_of_sync(tmp_path):
    source = next(iter(notebooks.notebook_sources(SPRINTS)))
    shutil.copy(source, tmp_path / source.name)
    shutil.copy(source.with_suffix(".ipynb"), tmp_path / source.with_suffix(".ipynb").name)
    assert notebooks.unsynced_pairs(tmp_path) == []
    with (tmp_path / source.name).open("a") as handle:
        handle.write("\n# %%\nprint('new cell')\n")
    (tmp_path / "02_orphan.ipynb").write_text("{}")
    problems = notebooks.unsynced_pairs(tmp_path)
    assert any("differ" in p for p in problems) and any("no .py source" in p for p in problems)


def test_every_notebook_has_one_parameters_cell_and_a_checked_output():
    for source in notebooks.notebook_sources(SPRINTS):
        text = source.read_text()
        assert text.count('tags=["parameters"]') == 1, source
        assert "# NBVAL_CHECK_OUTPUT" in text, source
        assert "sys.path" not in text and "import *" not in text, source


def test_tiny_tables_are_headed_as_smoke_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path))
    run = settings.resolve(profile="tiny", env={})
    path = results.write_table(pd.DataFrame({"a": [1]}), "sprintXX", "t", run, title="T")
    assert path == tmp_path / "sprintXX" / "tiny" / "t.md"
    assert "Smoke run" in path.read_text()
    assert json.loads(path.with_suffix(".json").read_text())["smoke_run"] is True
    assert pd.read_csv(path.with_suffix(".csv"))["a"].tolist() == [1]


def test_relative_paths_in_the_environment_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    env = {"DATA_DIR": "data", "MODEL": "gpt2", "BOOK": "the_verdict", "RUNS_DIR": str(tmp_path)}
    notebooks.absolute_env_paths(env)
    assert env == {"DATA_DIR": str(tmp_path / "data"), "MODEL": "gpt2", "BOOK": "the_verdict",
                   "RUNS_DIR": str(tmp_path)}


def test_executed_notebooks_carry_no_timing_metadata(tmp_path):
    source = tmp_path / "01_demo.py"
    source.write_text("# %% [markdown]\n# A demo\n\n# %%\nx = 1 + 1\n\n# %%\nprint(x)\n")
    target = source.with_suffix(".ipynb")
    notebooks.execute(source, target, timeout=120)
    executed = json.loads(target.read_text())
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == [1, 2]
    assert code[1]["outputs"][0]["text"] == ["2\n"]
    assert all("execution" not in c["metadata"] for c in executed["cells"])
    assert executed["metadata"]["kernelspec"] == notebooks.KERNELSPEC  # what Lab writes: opens unchanged
    assert notebooks.unsynced_pairs(tmp_path) == []
    before = target.read_text()
    notebooks.execute(source, target, timeout=120)
    assert target.read_text() == before  # a rerun with the same outputs writes the same file


def test_strip_timing_removes_existing_execution_metadata():
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    notebook.cells[0].metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    notebook.cells[0].metadata["tags"] = ["parameters"]
    notebooks.strip_timing(notebook)
    assert notebook.cells[0].metadata == {"tags": ["parameters"]}


def test_a_rerun_keeps_cell_and_widget_ids():
    import nbformat

    def executed(model_ids):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T"),
                                                   nbformat.v4.new_code_cell("show()")])
        notebook.cells[1].outputs = [nbformat.v4.new_output(
            "display_data", data={notebooks.WIDGET_VIEW: {"model_id": model_ids[0]}, "text/plain": "VBox()"})]
        notebook.metadata["widgets"] = {notebooks.WIDGET_STATE: {"state": {
            model_ids[0]: {"model_name": "VBoxModel", "state": {"children": [f"IPY_MODEL_{model_ids[1]}"]}},
            model_ids[1]: {"model_name": "ButtonModel", "state": {"layout": f"IPY_MODEL_{model_ids[2]}"}},
            model_ids[2]: {"model_name": "LayoutModel", "state": {}},
        }}}
        return notebook

    first = executed(["aa", "bb", "cc"])
    notebooks.stable_ids(first, None, name="demo")
    second = executed(["x1", "x2", "x3"])  # a rerun: new random ids everywhere
    second.cells.insert(0, nbformat.v4.new_markdown_cell("a new first cell"))
    notebooks.stable_ids(second, first, name="demo")
    assert [c.id for c in second.cells[1:]] == [c.id for c in first.cells]
    assert second.metadata == first.metadata
    assert second.cells[2].outputs == first.cells[1].outputs
    state = first.metadata["widgets"][notebooks.WIDGET_STATE]["state"]
    box = first.cells[1].outputs[0]["data"][notebooks.WIDGET_VIEW]["model_id"]
    child = state[box]["state"]["children"][0].removeprefix("IPY_MODEL_")
    assert state[child]["model_name"] == "ButtonModel"
    assert state[child]["state"]["layout"].removeprefix("IPY_MODEL_") in state


def test_a_run_with_other_settings_never_writes_over_the_committed_notebooks(tmp_path, monkeypatch):
    from gpt2ft.tools import notebooks
    sprint = tmp_path / "sprint99_demo"
    sprint.mkdir()
    (sprint / "01_a.py").write_text('# %% tags=["parameters"]\nimport os\n\n'
                                    'PROFILE = os.environ.get("PROFILE", "auto")\n'
                                    'DATA_DIR = ""\nEPOCHS = 3\n\n# %%\nprint(EPOCHS)\n')
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    assert notebooks.overrides([sprint / "01_a.py"], env={"EPOCHS": "", "PROFILE": "tiny"}) == {}
    committed = {"cells": [{"cell_type": "code", "outputs": [{"name": "stdout", "output_type": "stream",
                                                              "text": ["profile=small: asked for it\n"]}]}]}
    (sprint / "01_a.ipynb").write_text(json.dumps(committed))
    assert notebooks.committed_profile(sprint) == "small"
    assert notebooks.output_place(sprint, "small", {}) is None  # the committed profile: in place
    place = notebooks.output_place(sprint, "tiny", {})  # another profile: beside its own tables
    assert place == tmp_path / "results" / "sprint99" / "tiny" / "notebooks"
    changed = notebooks.overrides([sprint / "01_a.py"], env={"DATA_DIR": "/data", "OTHER": "x"})
    assert changed == {"DATA_DIR": "/data"}
    place = notebooks.output_place(sprint, "tiny", changed)
    assert place == tmp_path / "results" / "sprint99" / "tiny" / "notebooks"  # beside the sprint's tables
    monkeypatch.delenv("RESULTS_DIR")
    monkeypatch.setattr(notebooks, "results_root", lambda: tmp_path / "root")
    place = notebooks.output_place(sprint, "tiny", changed)
    assert (tmp_path / "root" / "custom") in place.parents  # not the committed results/<sprint>/tiny
    assert json.loads(next((tmp_path / "root" / "custom").glob("*/settings.json")).read_text()) == changed

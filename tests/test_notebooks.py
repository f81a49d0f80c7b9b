"""The notebook pair check and the results writer."""

import json
import shutil
from pathlib import Path

import pandas as pd

from gpt2ft import notebooks, results, settings

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

"""The ``gpt2ft`` console command: sprint names, the pair check, the lab command."""

import json
import os
import sys
from pathlib import Path

import pytest

from gpt2ft.tools import cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["sprint12", "12", "sprints/sprint12_book", "sprints/sprint12_book/"])
def test_a_sprint_is_named_by_number_name_or_folder(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert cli.sprint_folder(name).resolve() == ROOT / "sprints" / "sprint12_book"


def test_an_unknown_sprint_names_the_known_ones(monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit, match="sprint10_generation"):
        cli.sprint_folder("sprint99")


def test_check_pairs_defaults_to_the_sprints_folder(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert cli.main(["check-pairs"]) == 0
    assert "notebook pairs checked, 0 out of sync" in capsys.readouterr().out


def test_the_console_script_is_declared():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'gpt2ft = "gpt2ft.tools.cli:main"' in text


def test_lab_uses_this_python_and_the_repository_settings(tmp_path):
    env = cli.lab_environment(tmp_path, env={"JUPYTER_CONFIG_PATH": "/elsewhere"})
    assert env["JUPYTER_CONFIG_PATH"] == os.pathsep.join([str(tmp_path / ".jupyter"), "/elsewhere"])
    command = cli.lab_command(tmp_path, "--no-browser")
    assert command[:3] == [sys.executable, "-m", "jupyterlab"] and command[-1] == "--no-browser"
    overrides = ROOT / ".jupyter" / "labconfig" / "default_setting_overrides.json"
    viewers = json.loads(overrides.read_text())["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers["python"] == "Jupytext Notebook"

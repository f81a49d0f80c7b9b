"""The ``gpt2ft`` console command: sprint names, the pair check, the lab command."""

import json
import os
import shutil
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


# --------------------------------------------------------------------------- gpt2ft runs

def fake_run(root: Path, name: str, when: float, size: int = 1000, step: tuple[int, int] | None = None,
             exported: bool = False) -> Path:
    """A run folder as the engine leaves one: identity.json (its settings), a checkpoint, an export."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "identity.json").write_text(json.dumps({"settings": {"learning_rate": 5e-5, "batch_size": 8}}))
    (folder / "weights.bin").write_bytes(b"\0" * size)
    if step:
        (folder / f"step-{step[0]:06d}").mkdir()
        shutil.copy(folder / "identity.json", folder / f"step-{step[0]:06d}")  # as the engine's checkpoints do
        (folder / f"step-{step[0]:06d}" / "trainer_state.json").write_text(
            json.dumps({"step": step[0], "total_steps": step[1]}))
    if exported:
        (folder / "finetuned").mkdir()
        (folder / "finetuned" / "config.json").write_text("{}")
    os.utime(folder / "identity.json", (when, when))
    return folder


def runs_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "elsewhere"
    monkeypatch.setenv("RUNS_DIR", str(root))
    fake_run(root, "sprint12/full/train-00000001", 1, size=2_000_000, step=(6, 6), exported=True)
    fake_run(root, "sprint12/full/train-00000002", 2, size=3_000_000, step=(3, 12))
    fake_run(root, "sprint12/full/train-00000001-kept-20261201-120000", 0, size=500_000)
    fake_run(root, "sprint13/full/train-00000003", 3, size=1_000)
    return root


def test_runs_lists_every_run_with_its_state_steps_size_and_settings(tmp_path, monkeypatch, capsys):
    runs_root(tmp_path, monkeypatch)
    assert cli.main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "state", "steps", "size", "settings"]
    rows = {line.split()[0]: line for line in lines[1:5]}
    assert "superseded (finished)" in rows["sprint12/full/train-00000001"]
    assert "6 of 6" in rows["sprint12/full/train-00000001"] and "2.0 MB" in rows["sprint12/full/train-00000001"]
    assert "interrupted" in rows["sprint12/full/train-00000002"] and "3 of 12" in rows["sprint12/full/train-00000002"]
    assert "kept aside" in rows["sprint12/full/train-00000001-kept-20261201-120000"]
    assert "not started" in rows["sprint13/full/train-00000003"]
    assert "learning_rate=5e-05, batch_size=8" in rows["sprint13/full/train-00000003"]
    assert lines[5].startswith("4 runs, 5.5 MB in all below ") and "2 superseded or kept aside (2.5 MB)" in lines[5]
    assert "gpt2ft runs --remove-superseded" in lines[6]


def test_runs_remove_deletes_the_named_runs_and_refuses_anything_else(tmp_path, monkeypatch, capsys):
    root = runs_root(tmp_path, monkeypatch)
    mine = tmp_path / "elsewhere" / "notes"
    mine.mkdir()
    checkpoint = "sprint12/full/train-00000002/step-000003"  # holds a copy of the run's identity.json
    assert cli.main(["runs", "--remove", "sprint13/full/train-00000003", "notes", "sprint12", checkpoint]) == 1
    out, err = capsys.readouterr()
    assert "removed sprint13/full/train-00000003 (" in out and out.splitlines()[-1].startswith("freed ")
    assert err.count("is not a run folder below") == 2 and "nothing was deleted" in err
    assert f"{checkpoint} lies inside the run sprint12/full/train-00000002" in err
    assert not (root / "sprint13/full/train-00000003").exists()
    assert mine.is_dir() and (root / checkpoint).is_dir()


def test_runs_remove_superseded_keeps_the_newest_of_each_name(tmp_path, monkeypatch, capsys):
    root = runs_root(tmp_path, monkeypatch)
    assert cli.main(["runs", "--remove-superseded"]) == 0
    out = capsys.readouterr().out
    assert "removed sprint12/full/train-00000001 (superseded (finished), 2.0 MB)" in out
    assert "removed sprint12/full/train-00000001-kept-20261201-120000 (kept aside" in out
    assert out.splitlines()[-1] == "freed 2.5 MB"
    left = sorted(str(p.relative_to(root)) for p in root.glob("*/full/*"))
    assert left == ["sprint12/full/train-00000002", "sprint13/full/train-00000003"]
    assert cli.main(["runs", "--remove-superseded"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "nothing to remove"


def test_make_runs_is_gpt2ft_runs():
    makefile = (ROOT / "Makefile").read_text()
    assert "\nruns: $(STAMP)\n\t$(BIN)/gpt2ft runs $(RUNS_ARGS)\n" in makefile
    assert "runs" in makefile.split("\n.PHONY:")[1].split("\n")[0].split()  # a folder runs/ exists
    assert "gpt2ft runs" in (ROOT / "README.md").read_text()

"""Every training notebook honours the shared knobs the README lists (issue 18).

Each notebook of Sprints 11-13 that trains is read as a learner's parameters cell: its
literals are settled by ``settings.configure`` with the knobs set in the environment, and
the ``TrainConfig`` it builds (``run.train_config``) must carry them. No notebook builds a
``TrainConfig`` by hand or translates a value (``X or None``): the settings own the run.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from gpt2ft.session import settings

SPRINTS = Path(__file__).resolve().parents[1] / "sprints"
TRAINING = sorted(p for p in SPRINTS.glob("sprint1[123]_*/[0-9][0-9]_*.py")
                  if re.search(r"\btrain(_classifier)?\(", p.read_text()))
ENV = {"PROFILE": "tiny", "MAX_BATCH_TOKENS": "512", "MAX_STEPS": "3", "EPOCHS": "1", "BATCH_SIZE": "2"}


def parameters_cell(path: Path) -> str:
    cells = re.split(r"^# %%", path.read_text(), flags=re.M)
    cell = next(c for c in cells if c.startswith(' tags=["parameters"]'))
    return cell.split("\n", 1)[1]  # the code below the cell marker


def test_every_training_notebook_is_found():
    names = {f"{p.parent.name[:8]}/{p.stem}" for p in TRAINING}
    assert {"sprint11/04_finetune", "sprint12/02_finetune", "sprint13/03_finetune"} <= names


@pytest.mark.parametrize("path", TRAINING, ids=lambda p: f"{p.parent.name[:8]}-{p.stem}")
def test_the_shared_knobs_reach_the_run(path, monkeypatch, tmp_path):
    monkeypatch.setenv("RUNS_DIR", str(tmp_path))
    namespace: dict = {}
    exec(parameters_cell(path), namespace)  # literals only: the learner's cell
    assert "MAX_BATCH_TOKENS" in namespace, f"{path.name}: the parameters cell must set MAX_BATCH_TOKENS"
    sprint = path.parent.name.split("_")[0]
    run = settings.configure(namespace, env=ENV, show=False, sprint=sprint)
    cfg = run.train_config("probe")
    assert (cfg.max_batch_tokens, cfg.max_steps, cfg.num_epochs, cfg.batch_size) == (512, 3, 1, 2)


@pytest.mark.parametrize("path", TRAINING, ids=lambda p: f"{p.parent.name[:8]}-{p.stem}")
def test_the_settings_own_the_run(path):
    code = "\n".join(line for line in path.read_text().splitlines() if not line.startswith("#"))
    assert re.search(r"\.train_config\(", code), f"{path.name}: build the config with run"
    assert "TrainConfig(" not in code, f"{path.name}: build the config with run.train_config"
    assert not re.search(r"\b[A-Z][A-Z_]+ or (None|\"auto\")", code), f"{path.name}: a value translated by hand"


@pytest.mark.parametrize("path", sorted(SPRINTS.glob("sprint*/[0-9][0-9]_*.py")), ids=lambda p: p.stem)
def test_no_notebook_computes_a_fingerprint_or_names_a_run_folder(path):
    code = "\n".join(line for line in path.read_text().splitlines() if not line.startswith("#"))
    assert not re.search(r"fingerprint\(|run_folder\(|runs_dir\(\"", code), f"{path}: the run names itself"


CONFIG_CALLS = ("TrainConfig", "train_config", "throwaway", "step_by_step")
SIX_ARGUMENTS = sorted(SPRINTS.glob("sprint12_*/[0-9][0-9]_*.py"))  # widen as each sprint complies


@pytest.mark.parametrize("path", SIX_ARGUMENTS, ids=lambda p: f"{p.parent.name[:8]}-{p.stem}")
def test_a_config_call_shows_at_most_six_arguments(path):
    """Only the lesson in the cells: the rest comes from the parameters cell or the defaults."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in CONFIG_CALLS:
                assert len(node.args) + len(node.keywords) <= 6, f"{path.name}:{node.lineno}: {name}(...)"

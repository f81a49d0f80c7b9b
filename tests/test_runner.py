"""The sprint runner (`gpt2ft run sprintNN`, `make sprintNN`) as a user meets it, and the rehearsal's helpers.

Settings are checked against every notebook's parameters cell before any notebook runs; a
failing notebook prints its own error in one line and where the rest went; Ctrl-C stops in
one line with exit status 130; the kernel's TCP-transport warning never reaches the terminal;
executed notebooks go beside the sprint's tables (``results/sprint12/...``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gpt2ft.session.settings import SHARED_TRAINING_KNOBS
from gpt2ft.tools import notebooks

ROOT = Path(__file__).resolve().parents[1]
SPRINTS = ROOT / "sprints"
PARAMETERS = '# %% tags=["parameters"]\nimport os\n\nPROFILE = os.environ.get("PROFILE", "auto")\n'


def sources(number: int) -> list[Path]:
    return notebooks.notebook_sources(next(SPRINTS.glob(f"sprint{number}_*")))


def demo_sprint(tmp_path: Path, **cells: str) -> Path:
    """A sprint folder ``sprint99_demo`` with one notebook per keyword (``_01_fail="raise ..."``)."""
    folder = tmp_path / "sprint99_demo"
    folder.mkdir()
    for name, code in cells.items():
        (folder / f"{name.lstrip('_')}.py").write_text(PARAMETERS + "X = 1\n\n# %%\n" + code + "\n")
    return folder


def runner_env(tmp_path: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SHARED_TRAINING_KNOBS and k != "GPT2FT_COMMAND"}
    return {**env, "PROFILE": "tiny", "RESULTS_DIR": str(tmp_path / "results"),
            "RUNS_DIR": str(tmp_path / "runs"), **more}


def gpt2ft_run(folder: Path) -> list[str]:
    return [sys.executable, "-m", "gpt2ft.tools.cli", "run", str(folder), "--timeout", "120"]


# --------------------------------------------------------------------------- before any notebook runs

def test_cell_settings_are_the_top_level_assignments_of_the_parameters_cell(tmp_path):
    source = tmp_path / "01_a.py"
    source.write_text('# %%\nIGNORED = 1\n\n# %% tags=["parameters"]\nimport os\n\n'
                      'PROFILE = os.environ.get("PROFILE", "auto")\nEPOCHS = 3\nRATE: float = 5e-5\n'
                      'NAMES = ["a", "b"]\nlower = 2\nif EPOCHS:\n    INSIDE = 1\n\n# %%\nLATER = 1\n')
    found = notebooks.cell_settings(source)
    assert list(found) == ["PROFILE", "EPOCHS", "RATE", "NAMES"]
    assert found["PROFILE"] is notebooks.NOT_A_LITERAL and found["RATE"] == 5e-5 and found["NAMES"] == ["a", "b"]
    assert notebooks.parameter_names(source) == ["EPOCHS", "RATE", "NAMES"]


def test_a_shared_knob_no_notebook_of_the_sprint_sets_is_refused_before_anything_runs():
    said = notebooks.refused_settings("sprint10", sources(10), env={"MAX_BATCH_TOKENS": "256"})
    lines = said.splitlines()
    assert "MAX_BATCH_TOKENS=256 (from the environment) applies to no notebook of sprint10" in said
    assert len(lines) <= 3 and lines[-1] == "Fix: unset MAX_BATCH_TOKENS, then run the same command again."
    both = notebooks.refused_settings("sprint10", sources(10), env={"EPOCHS": "1", "BATCH_SIZE": "2"})
    assert both.splitlines()[-1] == "Fix: unset EPOCHS and BATCH_SIZE, then run the same command again."
    assert notebooks.refused_settings("sprint10", sources(10), env={"N_SAMPLES": "2"}) is None


def test_a_shared_knob_a_training_notebook_does_not_set_is_refused_naming_it():
    said = notebooks.refused_settings("sprint11", sources(11), env={"LEARNING_RATE": "1e-3"})
    assert "is not a setting of sprint11's training notebook 05_strategies" in said  # it sets LR_* instead
    assert "04_finetune" in said and said.endswith("Fix: unset LEARNING_RATE, then run the same command again.")
    # BATCH_SIZE: 02_padding_and_batches sets it without training; every training notebook sets it
    assert notebooks.refused_settings("sprint11", sources(11), env={"BATCH_SIZE": "2", "EPOCHS": "1"}) is None
    every = dict.fromkeys(SHARED_TRAINING_KNOBS, "1")
    assert notebooks.refused_settings("sprint12", sources(12), env=every) is None


def test_a_value_a_parameters_cell_refuses_is_refused_before_anything_runs():
    said = notebooks.refused_settings("sprint12", sources(12), env={"EPOCHS": "abc"})
    assert said.startswith("sprint12: refused before any notebook ran (02_finetune): EPOCHS='abc'")
    assert "\n" not in said and said.endswith("Fix: set EPOCHS to such a value, or unset it.")
    assert "LEARNING_RATE=-1.0" in notebooks.refused_settings("sprint12", sources(12), env={"LEARNING_RATE": "-1"})
    missing = notebooks.refused_settings("sprint12", sources(12), env={"DATA_DIR": "/no/such/folder"})
    assert missing.startswith("sprint12: refused before any notebook ran (01_prepare_data): DATA_DIR=")
    assert notebooks.refused_settings("sprint12", sources(12), env={"EPOCHS": "2", "N_EVAL": "4"}) is None


def test_a_refused_setting_runs_no_notebook_and_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(notebooks, "execute", lambda *a, **k: pytest.fail("a notebook ran"))
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("MAX_STEPS", "3")
    assert notebooks.run_sprint(next(SPRINTS.glob("sprint10_*")), 60) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.rstrip().endswith("Fix: unset MAX_STEPS, then run the same command again.")
    assert not any(tmp_path.iterdir())  # nothing written either


def test_make_sprint12_with_a_refused_setting_prints_a_few_lines_ending_in_the_fix(tmp_path):
    if not shutil.which("make") or not (Path(sys.executable).parent / "gpt2ft").exists():
        pytest.skip("needs make and this environment's gpt2ft command")
    command = ["make", "-s", "--no-print-directory", "-o", ".venv/.installed-stamp",  # never rebuild .venv here
               f"BIN={Path(sys.executable).parent}", "sprint12"]
    done = subprocess.run(command, cwd=ROOT, env=runner_env(tmp_path, EPOCHS="abc"), capture_output=True,
                          text=True, timeout=120)
    ours = [line for line in (done.stdout + done.stderr).splitlines() if not line.startswith("make")]
    assert done.returncode != 0
    assert len(ours) <= 3 and ours[-1].endswith("Fix: set EPOCHS to such a value, or unset it."), ours
    assert not (tmp_path / "results").exists()


# --------------------------------------------------------------------------- while notebooks run

def test_a_failing_notebook_prints_its_own_error_in_one_line_then_where_the_rest_went(tmp_path):
    folder = demo_sprint(
        tmp_path,
        _01_fail="class SettingError(ValueError):\n    pass\n\nprint('before the error')\n"
                 "raise SettingError('EPOCHS=0 is not allowed. Allowed: a whole number >= 1. Fix: set EPOCHS=1')",
        _02_after="open('ran', 'w').write('yes')")
    done = subprocess.run(gpt2ft_run(folder), cwd=tmp_path, env=runner_env(tmp_path),
                          capture_output=True, text=True, timeout=180)
    said = done.stdout + done.stderr
    assert done.returncode == 1
    assert ("SettingError: EPOCHS=0 is not allowed. Allowed: a whole number >= 1. Fix: set EPOCHS=1"
            in done.stderr.splitlines())
    assert "\x1b[" not in said and "Traceback" not in said and "CellExecutionError" not in said
    assert notebooks.TCP_WARNING not in said  # ipykernel's transport warning stays off the terminal
    assert len(said.splitlines()) <= 4, said
    failed = tmp_path / "results" / "sprint99" / "tiny" / "notebooks" / "01_fail.failed.ipynb"
    log = failed.with_suffix(".txt")
    shown = "results/sprint99/tiny/notebooks/01_fail.failed"  # relative to where the command ran
    assert f"the whole traceback: {shown}.txt; the notebook as far as it ran: {shown}.ipynb" in said
    assert "Traceback" in log.read_text() and "\x1b[" not in log.read_text()
    assert "before the error" in failed.read_text()
    assert not (folder / "01_fail.ipynb").exists() and not (folder / "ran").exists()


def test_ctrl_c_stops_in_one_line_names_the_checkpoint_and_exits_130(tmp_path):
    run = tmp_path / "runs" / "sprint99" / "tiny" / "train-1a2b3c4d"
    folder = demo_sprint(tmp_path, _01_train=(
        "import json, time\nfrom pathlib import Path\n"
        f"run = Path({str(run)!r})\n(run / 'step-000003').mkdir(parents=True)\n"
        "(run / 'identity.json').write_text(json.dumps({'settings': {'max_steps': 10}}))\n"
        "(run / 'step-000003' / 'trainer_state.json').write_text(json.dumps({'step': 3, 'total_steps': 10}))\n"
        "Path('pid').write_text(str(os.getpid()))\ntime.sleep(120)"))
    runner = subprocess.Popen(gpt2ft_run(folder), cwd=tmp_path, env=runner_env(tmp_path),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pid_file, deadline = folder / "pid", time.time() + 120
    while not pid_file.exists() and time.time() < deadline and runner.poll() is None:
        time.sleep(0.1)
    time.sleep(0.3)
    runner.send_signal(signal.SIGINT)
    said = runner.communicate(timeout=60)[0]
    assert runner.returncode == 130, said
    stopped = [line for line in said.splitlines() if "stopped (Ctrl-C)" in line]
    assert len(stopped) == 1 and "01_train.py" in stopped[0]
    assert "last checkpoint: sprint99/tiny/train-1a2b3c4d at step 3 of 10" in stopped[0]
    assert "resumes training runs from their last checkpoint" in stopped[0]
    assert not any(word in said for word in ("Traceback", "DeadKernelError", "zmq", "Kernel died"))
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):  # the kernel was shut down with the run
        os.kill(int(pid_file.read_text()), 0)


def test_a_plain_full_run_puts_its_notebooks_beside_the_sprints_tables(tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path))
    place = notebooks.output_place(SPRINTS / "sprint10_generation", "full", {})
    assert place == tmp_path / "sprint10" / "full" / "notebooks"  # not sprint10_generation/
    assert "results/<sprint>/<profile>/notebooks/" in (ROOT / "README.md").read_text()


# --------------------------------------------------------------------------- the rehearsal's helpers

@pytest.fixture(scope="module")
def rehearse():
    spec = importlib.util.spec_from_file_location("rehearse", ROOT / "tools" / "rehearse.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_rehearsals_settings_pass_every_sprints_pre_check(rehearse):
    for folder in sorted(SPRINTS.glob("sprint*_*")):
        for caps in (rehearse.CAPS["cpu"], rehearse.CAPS["gpu"]):
            env = rehearse.sprint_environment({"PATH": "/bin"}, folder, **caps)
            assert notebooks.refused_settings(folder.name, notebooks.notebook_sources(folder), env) is None
    book = SPRINTS / "sprint12_book"
    for more in (rehearse.SMALL_CAPS, rehearse.RESUME_CAPS):
        env = rehearse.sprint_environment({}, book, **{**rehearse.CAPS["cpu"], **more})
        assert notebooks.refused_settings("sprint12", notebooks.notebook_sources(book), env) is None
    assert rehearse.SMALL_SHAPE["n_positions"] != 1024 and int(rehearse.SMALL_CAPS["MAX_STEPS"]) >= 3


def test_the_rehearsal_reads_the_runners_output_and_a_falling_loss(rehearse, tmp_path):
    lines = ["== sprint12_book: 6 notebooks, profile full", "-- 01_prepare_data.py ... 9.1 s -> results/a.ipynb",
             "-- 02_finetune.py ... [a kernel log line]", "12.5 s -> results/b.ipynb",
             "-- 03_generate.py ... FAILED after 3.0 s", "ModelLoadError: ..."]
    assert rehearse.notebook_rows("s", lines) == [("s", "01_prepare_data", 9.1, "ok"), ("s", "02_finetune", 12.5, "ok"),
                                                  ("s", "03_generate", 3.0, "FAILED")]
    history = tmp_path / "history.csv"
    history.write_text("step,train_loss,eval_loss\n1,,10.2\n2,,10.0\n3,,9.9\n4,9.8,9.7\n")
    assert rehearse.loss_fell(history).startswith("|4 evaluations over 4 steps: 10.200 -> ")
    history.write_text("step,train_loss,eval_loss\n1,,10.2\n2,,10.3\n3,,10.4\n")
    assert rehearse.loss_fell(history).startswith("the validation loss did not fall|")
    history.write_text("step,train_loss,eval_loss\n1,,10.2\n2,,10.0\n")
    assert rehearse.loss_fell(history).startswith("fewer than 3 evaluated steps|")


def test_the_rehearsal_sees_a_tracked_file_written(rehearse):
    before = {"files": {"results/a.md": (1, 10), "sprints/x.ipynb": (1, 5)}, "status": {" M notes/x.md"}}
    assert rehearse.tracked_changes(before, before) == []
    after = {"files": {"results/a.md": (2, 11), "sprints/x.ipynb": (1, 5)},
             "status": {" M notes/x.md", "?? results/sprint12/full/"}}
    assert rehearse.tracked_changes(before, after) == ["results/a.md", "results/sprint12/full/"]
    assert rehearse.tracked_changes(None, after) == []
    if shutil.which("git") and (ROOT / ".git").exists():
        state = rehearse.tracked_state(ROOT)
        assert "sprints/sprint12_book/02_finetune.ipynb" in state["files"]
        assert json.dumps(sorted(state["status"]))  # plain text lines

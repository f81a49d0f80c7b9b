"""What a result records about how it was made, ``make stale``, and the committed notebooks
being the small profile's run of the code they show (issue 19: results that stay true)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import matplotlib
import pandas as pd
import pytest

from gpt2ft.session import results, settings
from gpt2ft.tools import notebooks, stale

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]
SPRINTS = ROOT / "sprints"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    return settings.configure(dict(PROFILE="tiny", MODEL="", SEED=0), env={"PROFILE": "tiny"}, show=False)


def test_timings_go_to_a_file_of_their_own_and_two_writes_are_identical(run, tmp_path):
    table = pd.DataFrame({"accuracy": [0.91, 0.88], "seconds": [12.5, 3.25]}, index=["lora", "head"])
    md = results.write_table(table, "sprintXX", "t", run, title="T", measured=["seconds"])
    folder = md.parent
    assert "seconds" not in (folder / "t.csv").read_text() and "seconds" not in md.read_text()
    assert "12.5" in (folder / "t.timings.csv").read_text() and "lora" in (folder / "t.timings.md").read_text()
    first = {p.name: p.read_bytes() for p in folder.iterdir() if ".timings." not in p.name}
    results.write_table(table.assign(seconds=[99.0, 1.0]), "sprintXX", "t", run, title="T", measured=["seconds"])
    assert first == {p.name: p.read_bytes() for p in folder.iterdir() if ".timings." not in p.name}
    meta = json.loads((folder / "t.json").read_text())
    assert "written" not in meta and meta["code"]["gpt2ft/session/results.py"]
    assert meta["commit"] != "" and str(ROOT) not in json.dumps(meta)
    with pytest.raises(ValueError, match=r"no column \['secs'\].*Fix: name the timing"):
        results.write_table(table, "sprintXX", "u", run, title="U", measured=["secs"])
    assert not (folder / "u.csv").exists()


def test_the_notebook_that_made_a_result_is_recorded_and_hashed(run, monkeypatch):
    monkeypatch.setenv(results.NOTEBOOK_VARIABLE, "sprints/sprint12_book/02_finetune.py")
    meta = results.provenance(run)
    assert meta["notebook"] == "sprints/sprint12_book/02_finetune.py"
    assert meta["code"]["sprints/sprint12_book/02_finetune.py"] == results.code_hash(
        ROOT / "sprints/sprint12_book/02_finetune.py")


def test_a_figure_is_the_same_bytes_twice_and_has_its_record(run):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([1, 3, 2])
    path = results.save_figure(fig, "sprintXX", "f", run)
    first = path.read_bytes()
    assert results.save_figure(fig, "sprintXX", "f", run).read_bytes() == first
    assert json.loads(path.with_name("f.png.json").read_text())["profile"] == "tiny"
    plt.close(fig)


def test_stale_lists_results_whose_code_changed_or_was_never_recorded(tmp_path, monkeypatch):
    module = tmp_path / "shared" / "gpt2ft" / "demo.py"
    module.parent.mkdir(parents=True)
    module.write_text("x = 1\n")
    monkeypatch.setattr(results, "PACKAGE_DIR", module.parent)
    root = tmp_path / "results"
    small = root / "sprint99" / "small"
    small.mkdir(parents=True)
    fresh = {"profile": "small", "command": "make sprint99 PROFILE=small",
             "code": {"gpt2ft/demo.py": results.code_hash(module)}}
    (small / "fresh.json").write_text(json.dumps(fresh))
    (small / "old.json").write_text(json.dumps({"profile": "small", "command": "make sprint99 PROFILE=small"}))
    (root / "custom").mkdir()
    (root / "custom" / "mine.json").write_text(json.dumps({"profile": "small"}))  # a user's own run
    (small / "settings.json").write_text(json.dumps({"EPOCHS": "1"}))  # not a provenance record
    found = stale.stale_results(root)
    assert [f.result.name for f in found] == ["old.json"] and "no record" in found[0].why
    module.write_text("x = 2\n")  # the code changed after the result was made
    found = stale.stale_results(root)
    assert {f.result.name for f in found} == {"old.json", "fresh.json"}
    said = stale.report(found, root)
    assert "make sprint99 PROFILE=small" in said and "changed since: gpt2ft/demo.py" in said
    assert stale.main(root) == 1
    module.write_text('"""A docstring now."""\n\nx = 1  # and a comment: words, not code\n')
    (small / "old.json").unlink()
    assert stale.main(root) == 0


def test_the_command_line_lists_stale_results():
    done = subprocess.run([sys.executable, "-m", "gpt2ft.tools.cli", "stale"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 1) and "results/" in done.stdout, done.stderr


def test_outputs_of_older_code_are_caught_after_a_sync(tmp_path):
    source = SPRINTS / "sprint10_generation" / "02_next_token.py"
    shutil.copy(source, tmp_path / source.name)
    shutil.copy(ROOT / "jupytext.toml", tmp_path / "jupytext.toml")  # the pairing the repository uses
    executed = jupytext.read(source.with_suffix(".ipynb"))
    executed.metadata["gpt2ft"] = {"executed_code": notebooks.code_digest(executed)}
    jupytext.write(executed, tmp_path / source.with_suffix(".ipynb").name, fmt="ipynb")
    assert notebooks.executed_code_problems(tmp_path) == []
    with (tmp_path / source.name).open("a") as handle:
        handle.write("\n# %%\nprint('a new cell')\n")
    subprocess.run([sys.executable, "-m", "jupytext", "--sync", "-q", str(tmp_path / source.name)], check=True)
    assert notebooks.unsynced_pairs(tmp_path) == []  # in sync: the pair check alone would pass
    problems = notebooks.executed_code_problems(tmp_path)
    assert len(problems) == 1 and "outputs of older code" in problems[0] and "ONLY=02" in problems[0]


def test_only_picks_notebooks_by_number_and_refuses_an_unknown_one():
    sources = notebooks.notebook_sources(SPRINTS / "sprint12_book")
    assert [s.name[:2] for s in notebooks.pick(sources, ["03", "01"])] == ["01", "03"]
    assert notebooks.pick(sources, []) == sources
    with pytest.raises(ValueError, match=r"no notebook numbered 09.*it has 01, 02.*Fix"):
        notebooks.pick(sources, ["09"])


def test_every_committed_notebook_is_the_small_profiles_run_of_its_own_code():
    """What the reader sees: each committed .ipynb was executed by the runner at PROFILE=small
    from exactly the code it shows (CI checks this without running the small profile)."""
    for source in notebooks.notebook_sources(SPRINTS):
        assert notebooks.executed_profile(source.with_suffix(".ipynb")) == notebooks.COMMITTED_PROFILE, source
    assert notebooks.executed_code_problems(SPRINTS) == []


MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|home|root|tmp|Users|mnt|opt|var|private|data)/[\w.-]+")


def committed(*patterns: str) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode:
        pytest.skip("not a git checkout: the committed files cannot be listed")
    return [ROOT / name for name in listed.stdout.split()]


def test_no_committed_notebook_or_result_shows_a_machine_path():
    """Outputs say `results/sprint11/small/...` and `../shared/data/...`, never where the author's
    checkout happened to be: a reader's clone is elsewhere."""
    found = []
    for path in committed("sprints/*.ipynb", "results/*.md", "results/*.csv", "results/*.json"):
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            hit = MACHINE_PATH.search(line)
            if hit:
                found.append(f"{path.relative_to(ROOT)}:{number}: {hit.group(0)}")
    assert found == [], "\n".join(found[:20])


def test_a_reworded_reading_keeps_the_code_hash_and_a_changed_cell_does_not(tmp_path):
    notebook = tmp_path / "01_demo.py"
    notebook.write_text('# %% [markdown]\n# A reading.\n\n# %%\ndef f():\n    """Doc."""\n    return 1\n')
    before = results.code_hash(notebook)
    notebook.write_text('# %% [markdown]\n# A reading, reworded.\n\n# %%\ndef f():\n    """Other."""\n'
                        '    return 1  # why\n')
    assert results.code_hash(notebook) == before
    notebook.write_text('# %% [markdown]\n# A reading.\n\n# %%\ndef f():\n    """Doc."""\n    return 2\n')
    assert results.code_hash(notebook) != before

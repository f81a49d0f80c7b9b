"""The full profile, rehearsed: every notebook of every sprint at PROFILE=full, capped.

    python tools/rehearse.py                 # = make rehearse: CPU, small caps, ~10 min on 2 cores
    python tools/rehearse.py --gpu           # = make rehearse-gpu: larger caps, bf16, compiled
    python tools/rehearse.py --sprints 12,13 # some sprints only
    python tools/rehearse.py --gpu --jobs 4  # the four sprints side by side (one GPU, each its process)

What a practitioner runs online with ``gpt2``, run here without the hub: a
124M-parameter GPT-2 with *random* weights (``GPT2Config()``, the real
architecture; written once, with the real GPT-2 tokenizer, into
``.cache/rehearsal/gpt2-124m-random``), the real data sets of ``DATA_DIR``
(default ``../shared/data``), and the notebooks' own ``configure`` caps
(``MAX_STEPS``, ``MAX_EXAMPLES``, ``N_SAMPLES``, ``MAX_NEW_TOKENS`` ...) given as
environment variables. The weights are random, so the numbers mean nothing;
what it proves is that every code path of the full profile runs: the model's
size, the real files, the long texts, the devices.

Every sprint runs through the real runner (``python -m gpt2ft.tools.cli run sprintNN``,
what ``make sprintNN`` runs), as a user's run with settings of its own: its tables and
executed notebooks go to ``results/custom/full-<hash>/`` (the never-overwrite path), and
the rehearsal checks that no tracked file under ``results/`` or ``sprints/`` changed
(``git status``), then moves those folders into ``.cache/rehearsal/<cpu|gpu>/results/``.
Checkpoints go to ``.cache/rehearsal/<cpu|gpu>/runs/`` (RUNS_DIR); each sprint's are
measured and deleted when the sprint is done (about 6 GB at most on disk).

Beyond the notebooks, the cases a practitioner meets (``CASES``, in this order, each a
row of the report):

- ``small-model``: Sprint 12 again on a second, smaller model shape (4 layers x 256 wide,
  512 positions, the GPT-2 tokenizer; written once beside the 124M one), four optimizer
  steps at a learning rate a random model learns at: the validation loss in the run's
  exported ``finetuned/history.csv`` must fall over at least three evaluated steps;
- ``kill-resume``: Sprint 12's ``02_finetune.py`` as a script on the small model, killed
  (SIGKILL) after its first checkpoint, started again: it must say it resumed from that
  checkpoint and finish every step;
- ``missing-model`` / ``missing-data``: ``MODEL=/no/such/folder`` and ``DATA_DIR=/no/such/folder``
  through the runner: exit status 1 and a short output whose error line names the input
  and the fix, with no traceback or colour codes;
- ``refused-setting``: ``make sprint12`` with ``EPOCHS=abc``: refused before any notebook
  runs, in at most a few lines ending in the fix.

It stops at the first notebook that fails (exit status 1) and writes a report with the
time of each notebook and case and the disk the runs took (``report.md``, ``report.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gpt2ft.core.paths import cache_dir, repo_root
from gpt2ft.session.settings import SHARED_TRAINING_KNOBS
from gpt2ft.tools.notebooks import cell_settings, notebook_sources, sprint_name
from gpt2ft.training.runs import folder_size, human_size

# The caps, as environment variables the notebooks' parameters cells read through
# settings.configure. CPU: each training cell does a step or two on a few rows; the
# GPU caps are sized for minutes per sprint on one card.
CAPS = {
    "cpu": dict(MAX_STEPS="1", MAX_EXAMPLES="16", EPOCHS="1", BATCH_SIZE="2", N_SAMPLES="1",
                N_EVAL="2", MAX_NEW_TOKENS="4", MAX_BATCH_TOKENS="256", MAX_LENGTH="128",
                EVAL_EVERY="1", SAVE_EVERY="1"),
    "gpu": dict(MAX_STEPS="60", MAX_EXAMPLES="2000", EPOCHS="1", N_SAMPLES="8", N_EVAL="32",
                MAX_NEW_TOKENS="64", COMPILE="1", EVAL_EVERY="20", SAVE_EVERY="30"),
}


# The second model shape: 4 layers x 256 wide, 512 positions, GPT-2's tokenizer (16M parameters,
# most of them the 50,257-token embedding), so that nothing may assume 124M or 1,024 positions.
SMALL_SHAPE = dict(n_layer=4, n_embd=256, n_head=4, n_positions=512)
# The cases' own settings on top of the CPU caps: steps a random model visibly learns in.
SMALL_CAPS = dict(MAX_STEPS="4", LEARNING_RATE="1e-3", EVAL_EVERY="1", SAVE_EVERY="2")
RESUME_CAPS = dict(MAX_STEPS="8", LEARNING_RATE="1e-3", EVAL_EVERY="4", SAVE_EVERY="2")
MISSING = "/no/such/folder"


def random_gpt2(folder: Path, **shape) -> Path:
    """A GPT-2 with random weights (GPT-2 small's architecture, or ``shape``: ``n_layer``,
    ``n_embd`` ...), saved once beside the real tokenizer."""
    if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file():
        return folder
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from gpt2ft.session import loading
    torch.manual_seed(0)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    GPT2LMHeadModel(GPT2Config(**shape)).save_pretrained(tmp)
    loading.bundled_tokenizer().save_pretrained(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)  # complete or absent: a killed first run leaves no half model
    return folder


def environment(kind: str, model: Path, data_dir: Path, out: Path) -> dict[str, str]:
    """The runner's environment: no RESULTS_DIR, so results go to results/custom/ as a user's do."""
    env = dict(os.environ, PROFILE="full", MODEL=str(model), DATA_DIR=str(data_dir),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               RUNS_DIR=str(out / "runs"), MPLBACKEND="Agg",
               GPT2FT_COMMAND=f"make rehearse{'-gpu' if kind == 'gpu' else ''}",
               **CAPS[kind])
    env.pop("RESULTS_DIR", None)
    if kind == "cpu":  # a tensor left on the host fails here as it would on a GPU (gpt2ft.core.devices)
        env["CHECK_DEVICES"] = "1"
    if kind == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # the CPU rehearsal is the CPU path, even on a GPU box
    return env


def sprint_environment(env: dict[str, str], folder: Path, **more: str) -> dict[str, str]:
    """``env`` (and ``more``) less the shared training knobs that no notebook of the sprint sets:
    the runner refuses those (EPOCHS for Sprint 10, which trains nothing)."""
    names = set().union(*(cell_settings(source) for source in notebook_sources(folder)))
    env = {**env, **more}
    return {k: v for k, v in env.items() if k not in SHARED_TRAINING_KNOBS or k in names}


def sprint_folders(root: Path, wanted: str | None) -> list[Path]:
    folders = sorted(p for p in (root / "sprints").glob("sprint*_*") if p.is_dir())
    if wanted:
        numbers = {int(n) for n in wanted.split(",")}
        folders = [p for p in folders if int(p.name[6:8]) in numbers]
    return folders


STARTED = re.compile(r"-- (\d\d_\w+)\.py \.\.\.")
ENDED = re.compile(r"(?:^|\s)([\d.]+) s -> |FAILED after ([\d.]+) s")


def run_runner(sprint: str, env: dict[str, str], timeout: int, prefix: str = "   ",
               command: list[str] | None = None) -> tuple[int, list[str]]:
    """``python -m gpt2ft.tools.cli run <sprint>`` (what ``make sprintNN`` runs) in ``env``;
    its output is echoed with ``prefix`` and returned as lines, with its exit status."""
    command = command or [sys.executable, "-m", "gpt2ft.tools.cli", "run", sprint, "--timeout", str(timeout)]
    proc = subprocess.Popen(command, cwd=repo_root(), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        print(prefix + line, end="", flush=True)
    return proc.wait(), lines


def notebook_rows(label: str, lines: list[str]) -> list[tuple]:
    """(label, notebook, seconds, ok|FAILED) for each notebook the runner's output reports."""
    rows, current = [], None
    for line in lines:
        started = STARTED.search(line)
        if started:
            current = started.group(1)
            line = line[started.end():]
        ended = ENDED.search(line)
        if current and ended:
            ok = ended.group(1) is not None
            rows.append((label, current, float(ended.group(1) or ended.group(2)), "ok" if ok else "FAILED"))
            current = None
    return rows


def run_sprint(folder: Path, env: dict[str, str], timeout: int, label: str | None = None,
               **more: str) -> tuple[list[tuple], int]:
    """One sprint through the runner; its rows, and the disk its runs took (then deleted)."""
    env = sprint_environment(env, folder, **more)
    status, lines = run_runner(sprint_name(folder), env, timeout)
    rows = notebook_rows(label or folder.name, lines)
    if status and not any(r[3] == "FAILED" for r in rows):
        rows.append((label or folder.name, "(the runner)", 0.0, f"FAILED (exit status {status})"))
    # A sprint's checkpoints (1.5 GB each for 124M with its optimizer state) are of no use to
    # the next sprint: one sprint's runs (about 6 GB at most) per job are on disk at a time.
    runs = Path(env["RUNS_DIR"]) / sprint_name(folder)
    size = folder_size(runs) if runs.is_dir() else 0
    shutil.rmtree(runs, ignore_errors=True)
    return rows, size


# --------------------------------------------------------------------------- the cases

def loss_fell(history_csv: Path, at_least: int = 3) -> str:
    """'' when the validation loss in a run's ``history.csv`` fell over >= ``at_least``
    evaluated optimizer steps, else what is wrong; the numbers either way after a '|'."""
    import pandas as pd

    history = pd.read_csv(history_csv)
    evaluated = history.dropna(subset=["eval_loss"]).sort_values("step")
    losses = evaluated["eval_loss"].tolist()
    said = f"{len(losses)} evaluations over {int(history['step'].max())} steps: " + \
        " -> ".join(f"{v:.3f}" for v in losses)
    if len(losses) < at_least:
        return f"fewer than {at_least} evaluated steps|{said}"
    if not losses[-1] < losses[0]:
        return f"the validation loss did not fall|{said}"
    return f"|{said}"


def case_small_model(folder: Path, env: dict[str, str], out: Path, timeout: int, small: Path) -> tuple:
    """Sprint 12 on the second shape, through the runner; the 02 run's loss must fall."""
    runs = out / "runs-small"
    env = sprint_environment({**env, "MODEL": str(small), "RUNS_DIR": str(runs)}, folder,
                             **{**CAPS["cpu"], **SMALL_CAPS})
    status, lines = run_runner(sprint_name(folder), env, timeout)
    rows = notebook_rows(f"{folder.name} (4x256)", lines)
    history = next(iter(sorted(runs.glob("sprint12/full/train-*/finetuned/history.csv"))), None)
    size = folder_size(runs) if runs.is_dir() else 0
    if status or any(r[3] != "ok" for r in rows):
        result = f"FAILED: the runner exited {status}"
    elif history is None:
        result = f"FAILED: no finetuned/history.csv below {runs}"
    else:
        problem, said = loss_fell(history).split("|")
        result = f"FAILED: {problem} ({said})" if problem else f"ok: validation loss {said}"
        shutil.copy(history, out / "small-model-history.csv")
    shutil.rmtree(runs, ignore_errors=True)
    return rows, size, result


def case_kill_resume(folder: Path, env: dict[str, str], out: Path, small: Path) -> tuple[int, str]:
    """02_finetune.py as a script, SIGKILLed after its first checkpoint, then started again."""
    from gpt2ft.training.checkpointing import list_checkpoints

    runs = out / "runs-resume"
    env = sprint_environment({**env, "MODEL": str(small), "RUNS_DIR": str(runs),
                              "RESULTS_DIR": str(out / "results-resume")}, folder,
                             **{**CAPS["cpu"], **RESUME_CAPS})
    script = folder / "02_finetune.py"
    command = [sys.executable, str(script.relative_to(repo_root()))]
    logs = [out / "kill-resume-1.log", out / "kill-resume-2.log"]
    with logs[0].open("w") as log:
        first = subprocess.Popen(command, cwd=repo_root(), env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        killed_at, deadline = None, time.time() + 600
        while first.poll() is None and time.time() < deadline:
            found = [c for run in runs.glob("sprint12/full/train-*") for c in list_checkpoints(run)]
            if found:
                os.killpg(first.pid, signal.SIGKILL)
                killed_at = found[0].name
                break
            time.sleep(0.05)
        first.wait()
    if killed_at is None:
        return folder_size(runs), (f"FAILED: the first run ended (exit status {first.returncode}) before "
                                   f"any checkpoint was seen; see {logs[0]}")
    with logs[1].open("w") as log:
        second = subprocess.run(command, cwd=repo_root(), env=env, stdout=log, stderr=subprocess.STDOUT)
    said = logs[1].read_text()
    resumed = re.search(r"resuming from (step-\d+) \(step (\d+)\)", said)
    history = next(iter(sorted(runs.glob("sprint12/full/train-*/finetuned/history.csv"))), None)
    steps = None
    if history is not None:
        import pandas as pd
        steps = int(pd.read_csv(history)["step"].max())
    size = folder_size(runs)
    shutil.rmtree(runs, ignore_errors=True)
    want = int(RESUME_CAPS["MAX_STEPS"])
    if second.returncode != 0:
        return size, f"FAILED: the second run exited {second.returncode}; see {logs[1]}"
    if not resumed:
        return size, f"FAILED: the second run did not say it resumed (no 'resuming from step-...'); see {logs[1]}"
    if steps != want:
        return size, f"FAILED: the resumed run ended at step {steps}, not {want}; see {logs[1]}"
    return size, (f"ok: killed (SIGKILL) once {killed_at} was written; the rerun printed 'resuming from "
                  f"{resumed.group(1)} (step {resumed.group(2)})' and finished {steps} of {want} steps")


def short_output(lines: list[str], most: int) -> str:
    """'' when ``lines`` are a short, plain message (no traceback, no colour codes), else why not."""
    text = "\n".join(lines)
    if "\x1b[" in text:
        return "ANSI colour codes in the output"
    if "Traceback (most recent call last)" in text or "DeadKernelError" in text:
        return "a traceback in the output"
    if len(lines) > most:
        return f"{len(lines)} lines of output (at most {most})"
    return ""


def case_missing(folder: Path, env: dict[str, str], out: Path, timeout: int, name: str) -> str:
    """``MODEL`` or ``DATA_DIR`` = /no/such/folder through the runner: one error line naming it and
    the fix. A missing DATA_DIR is refused before any notebook runs (exit status 2); a missing
    MODEL fails the first notebook that loads it (exit status 1, and where the traceback went)."""
    env = sprint_environment({**env, name: MISSING, "RESULTS_DIR": str(out / f"results-missing-{name}"),
                              "RUNS_DIR": str(out / "runs-missing")}, folder, **CAPS["cpu"])
    status, lines = run_runner(sprint_name(folder), env, timeout)
    shutil.rmtree(out / "runs-missing", ignore_errors=True)
    errors = [line for line in lines if f"{name}='{MISSING}'" in line]
    saved = [line for line in lines if "the whole traceback:" in line]
    problem = short_output(lines, 5)
    if status not in (1, 2):
        return f"FAILED: exit status {status}, not 1 (a notebook failed) or 2 (refused before any ran)"
    if not errors or not re.search(r"Fix|Point|unset", errors[0]):
        return f"FAILED: no error line naming {name}='{MISSING}' and the fix"
    if problem or (status == 1 and not saved):
        return f"FAILED: {problem or 'no line saying where the traceback went'}"
    when = "before any notebook ran" if status == 2 else "in the first notebook, traceback saved"
    return f"ok ({when}): {errors[0][:150]}{'...' if len(errors[0]) > 150 else ''}"


def case_refused(folder: Path, env: dict[str, str], timeout: int) -> str:
    """``make sprint12`` with ``EPOCHS=abc``: refused before any notebook, in a few lines ending in the fix."""
    env = sprint_environment(env, folder, **CAPS["cpu"])
    env["EPOCHS"] = "abc"
    bin_dir = Path(sys.executable).parent
    command = None
    if shutil.which("make") and (bin_dir / "gpt2ft").exists():  # make's own recipe, this environment's gpt2ft
        command = ["make", "-s", "--no-print-directory", "-o", ".venv/.installed-stamp", f"BIN={bin_dir}",
                   f"sprint{sprint_name(folder)[6:]}"]
    status, lines = run_runner(sprint_name(folder), env, timeout, command=command)
    ours = [line for line in lines if not re.match(r"make(\[\d+\])?: \*\*\*", line)]
    problem = short_output(ours, 3)
    if status == 0 or any(STARTED.search(line) for line in lines):
        return f"FAILED: it ran (exit status {status})"
    if problem or not ours or "Fix:" not in ours[-1]:
        return f"FAILED: {problem or 'the output does not end in the fix'}"
    return f"ok ({'make' if command else 'gpt2ft run'}, {len(ours)} lines): {ours[-1][:150]}..."


# --------------------------------------------------------------------------- what stays as it was

def tracked_state(root: Path) -> dict | None:
    """The tracked files under results/ and sprints/ (their mtime and size) and ``git status``
    there, or None where this is no git checkout."""
    try:
        files = subprocess.run(["git", "ls-files", "-z", "results", "sprints"], cwd=root,
                               capture_output=True, check=True).stdout.decode().split("\0")
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", "results",
                                 "sprints"], cwd=root, capture_output=True, check=True).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        return None
    stats = {}
    for name in filter(None, files):
        path = root / name
        stats[name] = (path.stat().st_mtime_ns, path.stat().st_size) if path.exists() else None
    return {"files": stats, "status": set(status.splitlines())}


def tracked_changes(before: dict | None, after: dict | None) -> list[str]:
    """What the rehearsal changed under results/ and sprints/: tracked files written, new entries."""
    if before is None or after is None:
        return []
    written = [name for name, stat in after["files"].items() if before["files"].get(name) != stat]
    return sorted(set(written) | {line[3:] for line in after["status"] - before["status"]})


def rehearsal_leftovers(root: Path) -> list[Path]:
    """results/custom/ folders of an earlier rehearsal (their MODEL lies in .cache/rehearsal)."""
    found = []
    for settings in (root / "results" / "custom").glob("*/settings.json"):
        try:
            model = json.loads(settings.read_text()).get("MODEL", "")
        except (OSError, ValueError):
            continue
        if str(cache_dir("rehearsal")) in model:
            found.append(settings.parent)
    return found


def rehearse(kind: str, data_dir: Path, wanted: str | None, timeout: int, jobs: int = 1,
             cases: bool = True) -> int:
    root = repo_root()
    out = cache_dir("rehearsal", kind)
    for sub in ("results", "runs", "notebooks", "results-resume", "runs-small", "runs-resume"):
        shutil.rmtree(out / sub, ignore_errors=True)  # every rehearsal starts from nothing
    for sub in out.glob("results-missing-*"):
        shutil.rmtree(sub, ignore_errors=True)
    for old in rehearsal_leftovers(root):  # an earlier rehearsal killed before it moved them
        shutil.rmtree(old, ignore_errors=True)
    model = random_gpt2(cache_dir("rehearsal") / "gpt2-124m-random")
    small = random_gpt2(cache_dir("rehearsal") / "gpt2-4x256-random", **SMALL_SHAPE)
    env = environment(kind, model, data_dir, out)
    folders, started = sprint_folders(root, wanted), time.perf_counter()
    before, custom = tracked_state(root), set((root / "results" / "custom").glob("*"))
    print(f"== rehearsal ({kind}): PROFILE=full MODEL={model} DATA_DIR={data_dir}\n   caps: "
          + " ".join(f"{k}={v}" for k, v in CAPS[kind].items())
          + (f"\n   {min(jobs, len(folders))} sprints at a time" if jobs > 1 else ""), flush=True)
    rows, disk, done = [], {}, []

    def sprint(folder: Path) -> tuple[list[tuple], int]:
        print(f"== {folder.name} through the runner", flush=True)
        return run_sprint(folder, env, timeout)

    if jobs > 1:  # sprints are independent (own results and runs folders): one runner process each
        with ThreadPoolExecutor(jobs) as pool:
            for folder, (sprint_rows, size) in zip(folders, pool.map(sprint, folders), strict=True):
                rows += sprint_rows
                disk[folder.name] = size
    else:
        for folder in folders:
            sprint_rows, disk[folder.name] = sprint(folder)
            rows += sprint_rows
            if any(r[3] != "ok" for r in sprint_rows):
                break  # one at a time: stop at the first failure
    book = next((f for f in folders if sprint_name(f) == "sprint12"), None)
    if cases and book is not None and all(r[3] == "ok" for r in rows):
        def case(name: str, run) -> None:
            print(f"== case {name}", flush=True)
            t0 = time.perf_counter()
            result = run()
            done.append((name, time.perf_counter() - t0, result))
            print(f"   {name}: {result}", flush=True)

        def small_model() -> str:
            sprint_rows, disk[f"{book.name} (4x256)"], result = case_small_model(book, env, out, timeout, small)
            rows.extend(sprint_rows)
            return result

        def kill_resume() -> str:
            disk["kill-resume (4x256)"], result = case_kill_resume(book, env, out, small)
            return result

        case("small-model", small_model)
        case("kill-resume", kill_resume)
        case("missing-model", lambda: case_missing(book, env, out, timeout, "MODEL"))
        case("missing-data", lambda: case_missing(book, env, out, timeout, "DATA_DIR"))
        case("refused-setting", lambda: case_refused(book, env, timeout))
    changed = tracked_changes(before, tracked_state(root))
    if changed:
        done.append(("nothing tracked written", 0.0, "FAILED: changed under results/ or sprints/: "
                     + ", ".join(changed[:10])))
    elif before is not None:
        done.append(("nothing tracked written", 0.0, "ok: git status of results/ and sprints/ unchanged"))
    for folder in sorted(set((root / "results" / "custom").glob("*")) - custom):
        (out / "results" / "custom").mkdir(parents=True, exist_ok=True)
        disk["results/custom (tables, notebooks)"] = (disk.get("results/custom (tables, notebooks)", 0)
                                                      + folder_size(folder))
        shutil.move(str(folder), out / "results" / "custom" / folder.name)
    total = time.perf_counter() - started
    write_report(out, kind, rows, done, disk, total)
    failed = [f"{s}/{n}" for s, n, _, r in rows if r != "ok"] + [n for n, _, r in done if not r.startswith("ok")]
    if failed:
        print(f"== rehearsal FAILED at {', '.join(failed)}; report {out / 'report.md'}")
        return 1
    print(f"== rehearsal passed: {len(rows)} notebooks and {len(done)} cases in {total:.0f} s; disk: "
          + ", ".join(f"{k} {human_size(v)}" for k, v in disk.items()) + f"; report {out / 'report.md'}")
    return 0


def write_report(out: Path, kind: str, rows: list, cases: list, disk: dict, total: float) -> None:
    lines = [f"# Rehearsal ({kind}): every notebook at PROFILE=full, capped", "",
             f"Caps: `{' '.join(f'{k}={v}' for k, v in CAPS[kind].items())}`; model: GPT-2 124M, "
             "random weights (and a 4x256, 512-position one for Sprint 12 again); data: DATA_DIR. "
             "Every sprint ran through the runner (`gpt2ft run`), its results in results/custom/ "
             "(moved here after). Numbers in these notebooks mean nothing (random weights); the "
             "rehearsal shows that every full-profile code path runs.", "",
             "| sprint | notebook | seconds | result |", "|---|---|---:|---|"]
    lines += [f"| {s} | {n} | {t:.1f} | {r} |" for s, n, t, r in rows]
    if cases:
        lines += ["", "| case | seconds | result |", "|---|---:|---|"]
        lines += [f"| {n} | {t:.1f} | {r.replace('|', '/')} |" for n, t, r in cases]
    lines += ["", "| disk used by | size |", "|---|---:|"]
    lines += [f"| {k} | {human_size(v)} |" for k, v in disk.items()]
    lines += ["", f"Total: {total:.0f} s."]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    (out / "report.json").write_text(json.dumps(
        {"kind": kind, "caps": CAPS[kind], "total_s": round(total, 1),
         "notebooks": [dict(sprint=s, notebook=n, seconds=round(t, 1), result=r) for s, n, t, r in rows],
         "cases": [dict(case=n, seconds=round(t, 1), result=r) for n, t, r in cases],
         "disk_bytes": disk}, indent=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu", action="store_true", help="larger caps, bf16, compiled (needs CUDA)")
    parser.add_argument("--sprints", help="e.g. 12,13 (default: all)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="the real data sets (default: DATA_DIR, else ../shared/data)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--jobs", type=int, default=1,
                        help="sprints run at a time, each in its own process (a GPU box with cores, "
                             "memory and ~6 GB of disk per job; each sprint stops at its first failure)")
    parser.add_argument("--no-cases", action="store_true",
                        help="the notebooks only: not the small model, kill-and-resume and error cases")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be 1 or more (sprints run at a time), not {args.jobs}")
    data_dir = (args.data_dir or Path(os.environ.get("DATA_DIR") or repo_root().parent / "shared" / "data"))
    if not data_dir.is_dir():
        print(f"SKIPPED: the rehearsal needs the real data sets, and {data_dir.resolve()} is not a "
              "folder. Set DATA_DIR (or --data-dir) to the folder holding sst2/, imdb/, ...")
        return 0
    if args.gpu:
        import torch
        if not torch.cuda.is_available():
            print("The GPU rehearsal needs CUDA; none is visible. Run `make rehearse` on a CPU.")
            return 2
    return rehearse("gpu" if args.gpu else "cpu", data_dir.resolve(), args.sprints, args.timeout,
                    args.jobs, cases=not args.no_cases)


if __name__ == "__main__":
    sys.exit(main())

"""The notebooks in the real client, and the rendered book, in a real browser.

JupyterLab (as ``make lab`` starts it: this Python as the kernel, the
repository's ``.jupyter`` settings) runs on 127.0.0.1 with a token over a
scratch copy of ``sprints/``, so nothing committed is touched; RESULTS_DIR and
RUNS_DIR point into the scratch folder too. Debian's Chromium, headless and
driven by Playwright for Python, opens it; every request for a host other than
127.0.0.1 is refused. Checks:

- Sprint 10 ``04_playground.ipynb``: Run All ends without an error output; the
  controls render as widgets (no text repr, no "Error displaying widget");
  every label reads in full (no ellipsis: scrollWidth <= clientWidth); Generate
  writes text; a new seed and then temperature 0 each change what it writes.
- Sprint 12 ``02_finetune.ipynb``: after Run All the progress bar is a widget
  bar at its end; the loss curves appear exactly once; ordinary progress lines
  are not stderr-styled; no library warning text.
- A ``.py`` source opens as a notebook on a double-click in the file browser.
- The book (``make book``): every page loads with no console error, no failed
  or outside request, no broken image and no broken same-site link or anchor.

Run: ``PROFILE=tiny HF_HUB_OFFLINE=1 .venv/bin/pytest -m browser -v tests/test_browser.py``.
Skipped, with the reason, where Chromium (``apt-get install chromium``) or
Playwright (the ``dev`` extra) is missing. Screenshots of failures go to
``.cache/browser-screenshots/``. ``PLAYGROUND_PNG=<path>`` saves the rendered
playground there, and ``LAB_PROFILE=small`` runs the lab's kernels at the small profile
(how ``sprints/sprint10_generation/04_playground.png`` was made:
``LAB_PROFILE=small PLAYGROUND_PNG=sprints/sprint10_generation/04_playground.png
.venv/bin/pytest -m browser tests/test_browser.py -k playground_generate``).
"""

from __future__ import annotations

import contextlib
import functools
import html.parser
import http.server
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from gpt2ft.tools import book, cli

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SHOTS = ROOT / ".cache" / "browser-screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no name resolves but the loopback
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
STDERR = '[data-mime-type="application/vnd.jupyter.stderr"]'
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


# --- the browser ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        pytest.skip(f"Playwright for Python is not installed ({error}); it comes with pip install -e '.[dev]'")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; or set CHROMIUM=<path>)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Exception as error:  # noqa: BLE001 - any launch failure means: no usable browser here
            pytest.skip(f"Chromium at {CHROMIUM} does not start under Playwright: {error}")
        yield chromium
        chromium.close()


class Page:
    """A fresh browser page that refuses every request leaving 127.0.0.1 and records what it saw."""

    def __init__(self, browser, name: str):
        self.name = name
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.outside: list[str] = []
        self.console_errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.console_errors.append(f"uncaught: {e}"))

    def _route(self, route):
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def screenshot(self, suffix: str = "failure") -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{self.name}-{suffix}.png"
        with contextlib.suppress(Exception):
            self.page.screenshot(path=str(path))
        return path

    @contextlib.contextmanager
    def shot_on_failure(self, suffix: str, show: str | None = None):
        """Screenshot the page (scrolled to the first match of ``show``) when the block fails."""
        try:
            yield
        except BaseException:
            if show:
                with contextlib.suppress(Exception):
                    self.page.locator(show).first.scroll_into_view_if_needed(timeout=5_000)
            self.screenshot(suffix)
            raise

    def close(self):
        self.context.close()


# --- JupyterLab ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Test-only Lab settings (the repository's defaults, .jupyter/labconfig, still apply beneath them):
# no autosave (nothing is written back, not even to the scratch copy), every cell rendered.
TEST_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


class Lab:
    def __init__(self, url: str, token: str, work: Path, log: Path, process):
        self.url, self.token, self.work, self.log, self.process = url, token, work, log, process

    def tree(self, path: str) -> str:
        return f"{self.url}/lab/tree/{path}?reset&token={self.token}"

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "sprints", work / "sprints",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy(ROOT / "jupytext.toml", work / "jupytext.toml")
    settings = work / ".lab" / "user-settings"
    for name, value in TEST_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(value))
    port, token = free_port(), secrets.token_hex(16)
    env = cli.lab_environment(ROOT)  # the repository's .jupyter: what make lab uses
    # EPOCHS=1: Sprint 12's training notebook runs one epoch (15 steps) instead of tiny's four.
    env.update(PROFILE=os.environ.get("LAB_PROFILE", "tiny"), EPOCHS="1", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", RESULTS_DIR=str(work / "results"), RUNS_DIR=str(work / "runs"),
               JUPYTER_RUNTIME_DIR=str(work / ".lab" / "runtime"))
    command = cli.lab_command(
        work, "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={work / '.lab' / 'workspaces'}")
    log = work / ".lab" / "lab.log"
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, cwd=work, stdout=out, stderr=subprocess.STDOUT)
    server = Lab(f"http://127.0.0.1:{port}", token, work, log, process)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited ({process.returncode}):\n{server.log_tail()}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{server.url}/api/status?token={token}", timeout=5) as answer:
                    if answer.status == 200:
                        break
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within 120 s:\n{server.log_tail()}")
            time.sleep(0.5)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def open_notebook(page, lab: Lab, path: str) -> None:
    page.goto(lab.tree(path))
    page.locator(PANEL).wait_for(timeout=90_000)
    page.locator(f"{PANEL} .jp-Cell").first.wait_for(timeout=30_000)


def menu(page, top: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(top)}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def prompts(page) -> list[str]:
    return [t.strip() for t in page.locator(f"{PANEL} .jp-CodeCell .jp-InputPrompt").all_inner_texts()]


def run_all(page, timeout_s: float) -> list[str]:
    """Clear every output, Run All, and wait until the run is over; returns the cells' prompts."""
    page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle")).wait_for(timeout=90_000)
    menu(page, "Edit", "Clear Outputs of All Cells")
    menu(page, "Run", "Run All Cells")
    start = time.monotonic()
    deadline, quiet_since = start + timeout_s, None
    while time.monotonic() < deadline:
        now = prompts(page)
        if now and all(re.fullmatch(r"\[\d+\]:", p) for p in now):
            print(f"\nRun All: {time.monotonic() - start:.1f} s")
            return now
        busy = any(p == "[*]:" for p in now)
        if not busy and any(re.fullmatch(r"\[\d+\]:", p) for p in now):
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 5:  # stopped part-way: an error ended Run All
                return now
        else:
            quiet_since = None
        time.sleep(0.5)
    raise AssertionError(f"Run All did not finish within {timeout_s:.0f} s; prompts {prompts(page)}")


def output_texts(page, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(f"{PANEL} {selector}").all_inner_texts()]


def cells(page) -> list[dict]:
    """Each code cell: its source, its output text, how many images it shows."""
    return page.locator(f"{PANEL} .jp-CodeCell").evaluate_all("""cells => cells.map(c => ({
        source: (c.querySelector('.jp-InputArea .cm-content') || {}).innerText || '',
        output: (c.querySelector('.jp-OutputArea') || {}).innerText || '',
        images: c.querySelectorAll('.jp-OutputArea-output img').length,
    }))""")


# --- Sprint 10: the playground -------------------------------------------------------------------

@pytest.fixture(scope="module")
def playground(browser, lab):
    view = Page(browser, "sprint10-playground")
    page = view.page
    with view.shot_on_failure("run-all"):
        open_notebook(page, lab, "sprints/sprint10_generation/04_playground.ipynb")
        ran = run_all(page, timeout_s=180)
        controls = page.locator(f"{PANEL} .widget-vbox").first
        controls.wait_for(timeout=30_000)
    yield view, ran, controls
    view.close()


def test_playground_runs_all_without_errors(playground):
    view, ran, _ = playground
    with view.shot_on_failure("errors"):
        assert all(re.fullmatch(r"\[\d+\]:", p) for p in ran), f"Run All stopped: prompts {ran}"
        errors = output_texts(view.page, STDERR)
        assert errors == [], f"error or stderr output: {errors}"
        assert view.outside == [], f"requests beyond 127.0.0.1: {view.outside}"


def test_playground_controls_render_as_widgets(playground):
    view, _, controls = playground
    page = view.page
    with view.shot_on_failure("widgets"):
        text = page.locator(PANEL).inner_text()
        assert "VBox(children=" not in text and "Error displaying widget" not in text
        assert controls.locator(".widget-textarea").count() == 1
        assert controls.locator(".widget-hslider").count() == 5
        assert controls.locator(".widget-text input").count() == 1  # the seed
        assert controls.get_by_role("button", name="Generate").count() == 1


def test_playground_labels_are_fully_readable(playground):
    view, _, controls = playground
    with view.shot_on_failure("labels"):
        labels = controls.locator(".widget-label").evaluate_all(
            "els => els.filter(e => e.textContent.trim()).map(e => ({text: e.textContent.trim(),"
            " scroll: e.scrollWidth, client: e.clientWidth}))")
        names = [label["text"] for label in labels]
        for name in ("prompt", "temperature", "top-k", "top-p", "new tokens", "seed"):
            assert name in names, f"no label {name!r} among {names}"
        cut = [label for label in labels if label["client"] == 0 or label["scroll"] > label["client"]]
        assert cut == [], f"labels cut short (scrollWidth > clientWidth): {cut}"


def _generate(view, controls, previous: str | None) -> str:
    controls.get_by_role("button", name="Generate").click()
    output = controls.locator(".widget-output")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = output.inner_text().strip()
        if text and text != previous:
            return text
        time.sleep(0.25)
    return output.inner_text().strip()


def test_playground_generate_writes_and_settings_change_it(playground):
    view, _, controls = playground
    page = view.page
    with view.shot_on_failure("generate"):
        first = _generate(view, controls, None)
        assert first.startswith("The best way to learn is") and len(first) > len("The best way to learn is")
        if os.environ.get("PLAYGROUND_PNG"):
            page.mouse.move(0, 0)
            controls.screenshot(path=os.environ["PLAYGROUND_PNG"])
        seed = controls.locator(".widget-text input")
        seed.fill("1")
        seed.press("Enter")
        second = _generate(view, controls, first)
        assert second != first, "a new seed did not change the sampled text"
        temperature = controls.locator(".widget-hslider").first
        temperature.locator(".noUi-handle").focus()
        page.keyboard.press("Home")
        assert temperature.locator(".widget-readout").inner_text().strip() in ("0.00", "0.0", "0")
        third = _generate(view, controls, second)
        assert third != second, "temperature 0 (greedy) did not change the text"


# --- Sprint 12: the fine-tuning notebook ---------------------------------------------------------

@pytest.fixture(scope="module")
def finetune(browser, lab):
    view = Page(browser, "sprint12-finetune")
    page = view.page
    with view.shot_on_failure("run-all"):
        open_notebook(page, lab, "sprints/sprint12_book/02_finetune.ipynb")
        ran = run_all(page, timeout_s=420)
    yield view, ran, cells(page)
    view.close()


def test_finetune_runs_all_without_errors(finetune):
    view, ran, found = finetune
    with view.shot_on_failure("errors"):
        assert all(re.fullmatch(r"\[\d+\]:", p) for p in ran), f"Run All stopped: prompts {ran}"
        tracebacks = [c["output"][-600:] for c in found if "Traceback" in c["output"] or "Error:" in c["output"]]
        assert tracebacks == []
        assert view.outside == [], f"requests beyond 127.0.0.1: {view.outside}"


def test_finetune_progress_bar_is_a_widget_at_its_end(finetune):
    view, _, _ = finetune
    page = view.page
    with view.shot_on_failure("progress"):
        bars = page.locator(f"{PANEL} .jp-OutputArea-output .widget-hprogress")
        assert bars.count() >= 1, "no widget progress bar (a text repr or plain-text bar instead?)"
        widths = bars.evaluate_all("els => els.map(e => { const bar = e.querySelector('.progress-bar');"
                                   " return bar ? parseFloat(bar.style.width) : -1; })")
        assert widths[0] >= 99.9, f"the training bar stopped at {widths[0]}% (all bars: {widths})"
        text = page.locator(f"{PANEL} .jp-OutputArea-output .widget-hbox").first.inner_text()
        steps = re.search(r"(\d+)/(\d+)", text)
        assert steps and steps.group(1) == steps.group(2), f"training bar text: {text!r}"
        assert "HBox(children=" not in page.locator(PANEL).inner_text()


def test_finetune_shows_the_loss_curves_once(finetune):
    view, _, found = finetune
    with view.shot_on_failure("figure", show=f"{PANEL} .jp-CodeCell:has-text('live.figure()') img"):
        final = [c for c in found if "live.figure()" in c["source"]]
        assert len(final) == 1, "no cell draws the final loss curves (live.figure())"
        assert final[0]["images"] == 1, f"the final loss-curve figure appears {final[0]['images']} times"
        training = [c for c in found if "train(model" in c["source"]]
        assert all(c["images"] <= 1 for c in training), "the live plot appears more than once"


def test_finetune_progress_lines_are_not_stderr(finetune):
    view, _, _ = finetune
    with view.shot_on_failure("stderr", show=f"{PANEL} .jp-RenderedText{STDERR}"):
        stderr = output_texts(view.page, f".jp-RenderedText{STDERR}")
        assert stderr == [], f"stderr-styled (red) output for ordinary lines: {stderr}"


def test_finetune_shows_no_library_warnings(finetune):
    view, _, found = finetune
    with view.shot_on_failure("warnings", show=f"{PANEL} .jp-OutputArea-output:has-text('Warning')"):
        warnings = [line for c in found for line in c["output"].splitlines()
                    if re.search(r"Warning|loss_type=None", line)]
        assert warnings == [], f"library warning text in the outputs: {warnings}"


# --- a .py source opens as a notebook ------------------------------------------------------------

def test_a_py_source_opens_as_a_notebook_on_double_click(browser, lab):
    view = Page(browser, "py-opens-as-notebook")
    page = view.page
    try:
        with view.shot_on_failure("open"):
            page.goto(lab.tree("sprints/sprint10_generation"))
            item = page.locator(".jp-DirListing-item", has_text=re.compile(r"^\s*01_load_and_inspect\.py"))
            item.wait_for(timeout=90_000)
            item.dblclick()
            page.locator(PANEL).wait_for(timeout=30_000)
            tab = page.locator(".lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel").last.inner_text()
            assert tab == "01_load_and_inspect.py"
            assert page.locator(".jp-FileEditor:visible").count() == 0, "opened in the text editor"
            page.locator(f"{PANEL} .jp-Cell").nth(5).wait_for(timeout=30_000)  # cells, not lines of text
            heading = page.locator(f"{PANEL} .jp-MarkdownCell h1").first.inner_text()
            assert heading.startswith("Sprint 10 · 01"), heading
            assert view.outside == [], f"requests beyond 127.0.0.1: {view.outside}"
    finally:
        view.close()


def test_lab_kernel_is_this_python(lab):
    import sys

    with urllib.request.urlopen(f"{lab.url}/api/kernelspecs?token={lab.token}", timeout=10) as answer:
        specs = json.load(answer)
    argv = specs["kernelspecs"][specs["default"]]["spec"]["argv"]
    # "python" in the native kernelspec means the server's own interpreter, which is this one.
    assert argv[0] in ("python", sys.executable), argv
    assert cli.lab_command(lab.work)[0] == sys.executable


# --- the book ------------------------------------------------------------------------------------

class _Anchors(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)


@functools.cache
def anchors(path: Path) -> frozenset[str]:
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    # A full build in a scratch folder: an incremental one would not repeat the warnings of pages it skips.
    report = book.build(out=tmp_path_factory.mktemp("book") / "html")
    handler = functools.partial(_Quiet, directory=str(report["out"]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"\nbook: {len(report['pages'])} pages built in {report['seconds']:.1f} s, "
          f"{len(report['warnings'])} warnings")
    yield report, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_the_book_builds_without_warnings(site):
    report, _ = site
    assert report["warnings"] == []
    assert len(report["pages"]) >= report["documents"]


def test_the_book_lists_the_sprints_in_order(browser, site):
    report, base = site
    view = Page(browser, "book-contents")
    try:
        with view.shot_on_failure("toc"):
            view.page.goto(f"{base}/index.html")
            captions = [t.strip() for t in view.page.locator(".bd-sidebar .caption-text").all_inner_texts()]
            sprints = [c for c in captions if c.startswith("Sprint")]
            assert sprints == sorted(sprints) and len(sprints) >= 4, captions
            assert captions[-1] == "Project notes"
            view.page.goto(f"{base}/sprints/sprint10_generation/README.html")
            link = view.page.locator("article a", has_text="01_load_and_inspect").first
            assert link.get_attribute("href").startswith("01_load_and_inspect.html")
            view.page.goto(f"{base}/sprints/sprint10_generation/04_playground.html")
            picture = view.page.locator("article img[src$='04_playground.png']")
            assert picture.count() == 1 and picture.evaluate("i => i.naturalWidth") > 0
            assert "VBox(children=" not in view.page.locator("article").inner_text()
    finally:
        view.close()


def test_every_book_page_loads_with_working_images_and_links(browser, site):
    report, base = site
    out = report["out"]
    view = Page(browser, "book-pages")
    page = view.page
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    # ERR_ABORTED: a request (say the favicon) still in flight when the test moves to the next page.
    page.on("requestfailed", lambda r: failed.append(f"failed {r.url} ({r.failure})")
            if "ERR_ABORTED" not in (r.failure or "") else None)
    problems: list[str] = []
    checked_links = 0
    try:
        for rel in report["pages"]:
            view.console_errors.clear()
            failed.clear()
            page.goto(f"{base}/{rel.as_posix()}", wait_until="load")
            images = page.evaluate("""async () => {
                const imgs = Array.from(document.images);
                for (const img of imgs) { img.loading = 'eager'; if (!img.complete) { img.scrollIntoView();
                    await new Promise(r => { img.onload = img.onerror = r; setTimeout(r, 3000); }); } }
                return imgs.map(i => ({src: i.currentSrc || i.src, width: i.naturalWidth}));
            }""")
            problems += [f"{rel}: broken image {i['src']}" for i in images if i["width"] == 0]
            problems += [f"{rel}: console error: {e}" for e in view.console_errors]
            problems += [f"{rel}: {f}" for f in failed]
            hrefs = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
            for href in hrefs:
                parts = urlsplit(href)
                if parts.scheme in ("mailto", "javascript") or f"{parts.scheme}://{parts.netloc}" != base:
                    continue
                checked_links += 1
                target = out / unquote(parts.path).lstrip("/")
                if target.is_dir():
                    target = target / "index.html"
                if not target.is_file():
                    problems.append(f"{rel}: broken link {href}")
                elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in anchors(target):
                    problems.append(f"{rel}: no anchor #{parts.fragment} in {target.relative_to(out)}")
        problems += [f"request beyond 127.0.0.1: {url}" for url in view.outside]
        print(f"book: {len(report['pages'])} pages opened, {checked_links} same-site links checked")
        if problems:
            view.screenshot("problems")
        assert problems == [], "\n".join(problems[:50])
    finally:
        view.close()


# --- a committed notebook, opened as a reader opens it --------------------------------------------

def test_a_committed_training_notebook_opens_clean_with_its_bar_at_the_end(browser, lab):
    """Opened, not run: the kernel starts, but the notebook is not marked unsaved (nothing in it
    changed) and its saved training bar shows the run's end, not 0 %."""
    view = Page(browser, "committed-notebook")
    page = view.page
    try:
        with view.shot_on_failure("committed"):
            open_notebook(page, lab, "sprints/sprint12_book/02_finetune.ipynb")
            page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle")).wait_for(timeout=90_000)
            time.sleep(3)  # what the kernel's first reply changes (metadata, widgets) has arrived
            tab = page.locator(".lm-TabBar-tab.lm-mod-current").last
            assert "jp-mod-dirty" not in (tab.get_attribute("class") or ""), "opened and marked unsaved"
            bars = page.locator(f"{PANEL} .jp-OutputArea-output .widget-hprogress")
            if bars.count():  # drawn as the widget from the saved state
                widths = bars.evaluate_all("els => els.map(e => { const bar = e.querySelector('.progress-bar');"
                                           " return bar ? parseFloat(bar.style.width) : -1; })")
                assert widths[0] >= 99.9, f"the committed training bar shows {widths[0]}% (all bars: {widths})"
            else:  # or as its text (the kernel owns no such widget)
                shown = [t for t in output_texts(page, ".jp-OutputArea-output") if t.startswith("training:")]
                assert shown and re.match(r"training:\s+100%", shown[0]), f"the committed training bar: {shown}"
    finally:
        view.close()

"""Files fetched by URL (full profile, no DATA_DIR): pinned by sha256, cached, checked on every read.

``urllib.request.urlopen`` is replaced by a function that serves given bytes, so
nothing here reaches the network. Synthetic bytes need a synthetic pin (patched
in); the real files in ../shared/data must match the project's own pins.
"""

import csv
import dataclasses
import hashlib
import io
import re
import urllib.request

import pytest
from data_helpers import REAL_DATA, full, needs_real_data, split_rows
from data_helpers import offline as offline  # autouse: a fresh cache per test, no network

from gpt2ft.core.paths import cache_dir
from gpt2ft.session.data import classification, corpora, instructions, load_classification, load_corpus
from gpt2ft.session.data.sources import Remote

REMOTES: dict[str, Remote] = {
    **corpora.BOOKS, "alpaca_instruction": instructions.ALPACA_INSTRUCTION,
    **{name: spec.remote for name, spec in classification.SPECS.items() if spec.remote}}
VERDICT = b"I HAD always thought Jack Gisburn rather a cheap genius...\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def serve(monkeypatch, data: bytes) -> list[str]:
    """Make ``urlopen`` answer every URL with ``data``; the URLs asked for, in order."""
    fetched = []

    def urlopen(url, timeout=None):
        fetched.append(url)
        return io.BytesIO(data)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return fetched


def pin_verdict(monkeypatch, data: bytes) -> Remote:
    """Pin the_verdict to ``data``'s sha256 (synthetic bytes cannot match the real pin)."""
    remote = dataclasses.replace(corpora.BOOKS["the_verdict"], sha256=(sha256(data),))
    monkeypatch.setitem(corpora.BOOKS, "the_verdict", remote)
    return remote


def cached_file(remote: Remote):
    return cache_dir("data", remote.raw.folder) / remote.raw.file


def test_every_url_is_pinned():
    assert set(REMOTES) == {"tinyshakespeare", "the_verdict", "alpaca_instruction",
                            "customer_reviews"}
    for remote in REMOTES.values():
        assert remote.url.startswith("https://") and remote.sha256
        assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in remote.sha256)


def test_right_bytes_are_cached_and_read(monkeypatch):
    remote = pin_verdict(monkeypatch, VERDICT)
    fetched = serve(monkeypatch, VERDICT)
    first, second = (load_corpus("the_verdict", full()) for _ in range(2))
    assert fetched == [remote.url] and remote.url.endswith("/the-verdict.txt")
    assert first.text == second.text == VERDICT.decode()
    assert "sha256 verified" in second.source and str(cached_file(remote)) in second.source
    assert cached_file(remote).read_bytes() == VERDICT


def test_wrong_bytes_are_refused_and_not_cached(monkeypatch):
    remote = pin_verdict(monkeypatch, VERDICT)
    wrong = b"<html>a captive portal's login page</html>\n"
    serve(monkeypatch, wrong)
    with pytest.raises(ValueError) as err:
        load_corpus("the_verdict", full())
    text = str(err.value)
    assert remote.url in text and "not cached" in text
    assert f"expected: sha256 {remote.sha256[0]}" in text and f"found:    sha256 {sha256(wrong)}" in text
    assert "DATA_DIR" in text and "the_verdict/the-verdict.txt" in text
    assert not cached_file(remote).exists()
    serve(monkeypatch, VERDICT)  # the next try fetches again, and this time gets the file
    assert load_corpus("the_verdict", full()).text == VERDICT.decode()


def test_a_cached_file_changed_afterwards_is_refused(monkeypatch):
    remote = pin_verdict(monkeypatch, VERDICT)
    fetched = serve(monkeypatch, VERDICT)
    load_corpus("the_verdict", full())
    cached = cached_file(remote)
    cached.write_bytes(VERDICT.replace(b"cheap", b"great"))
    with pytest.raises(ValueError) as err:
        load_corpus("the_verdict", full())
    text = str(err.value)
    assert "cached download" in text and remote.url in text and str(cached) in text
    assert f"delete the cached file at {cached} to fetch it again, or set DATA_DIR" in text
    assert "sha256 " + sha256(cached.read_bytes()) in text and remote.sha256[0] in text
    cached.unlink()  # the fix the message gives
    assert load_corpus("the_verdict", full()).text == VERDICT.decode() and len(fetched) == 2


def test_a_failed_download_names_the_url_and_data_dir():
    with pytest.raises(RuntimeError) as err:
        load_classification("customer_reviews", full())
    text = str(err.value)
    assert "Could not download" in text and "cjhutto/vaderSentiment" in text
    assert "customer_reviews/amazon_snippets_binary.tsv" in text  # what DATA_DIR must hold


# --- customer_reviews by URL: the vaderSentiment ground truth, binarised -----------------

GROUND_TRUTH = ("1_1\t-0.9\tno picture at all.\r\n1_2\t0\tit arrived on monday.\r\n"
                "1_3\t2.85\ti love it!\r\n1_4\t1.75\t plays almost everything.\r\n"
                "2_1\t-3.35\ta piece of junk.\r\n")


def pin_ground_truth(monkeypatch, data: bytes) -> None:
    spec = classification.SPECS["customer_reviews"]
    remote = dataclasses.replace(spec.remote, sha256=(sha256(data),))
    monkeypatch.setitem(classification.SPECS, "customer_reviews",
                        dataclasses.replace(spec, remote=remote))


def test_ground_truth_is_binarised_rating_zero_dropped(monkeypatch):
    rows = GROUND_TRUTH * 4
    pin_ground_truth(monkeypatch, rows.encode())
    serve(monkeypatch, rows.encode())
    data = load_classification("customer_reviews", full())
    pairs = sorted({pair for split in split_rows(data).values() for pair in split})
    assert pairs == [(" plays almost everything.", 1), ("a piece of junk.", 0), ("i love it!", 1),
                     ("no picture at all.", 0)]
    assert sum(len(split) for split in data.splits.values()) == 16
    assert "vaderSentiment" in data.source and "rating 0 dropped" in data.source


@pytest.mark.parametrize(("rows", "found"), [
    ("1_1\t-0.9\tfine.\r\n1_2\tfive\tnot a number.\r\n", "line 2"),
    ("1_1\t-0.9\tfine.\r\n1_2\t4.5\tout of range.\r\n", "a rating from -4 to 4"),
    ("1_1\t0.9\tgood.\r\n1_2\t2\tgreat.\r\n1_3\t0\tneutral.\r\n", "all 2 rows are 'positive'"),
])
def test_ground_truth_errors_name_the_url(monkeypatch, rows, found):
    pin_ground_truth(monkeypatch, rows.encode())
    serve(monkeypatch, rows.encode())
    with pytest.raises(ValueError) as err:
        load_classification("customer_reviews", full())
    assert "amazonReviewSnippets_GroundTruth.txt" in str(err.value) and found in str(err.value)


# --- the real files (../shared/data) match the pins ----------------------------------------

@needs_real_data
@pytest.mark.parametrize("name", sorted(REMOTES))
def test_pins_are_the_canonical_files(name):
    remote = REMOTES[name]
    data = (REAL_DATA / remote.raw.rel).read_bytes()
    assert sha256(data) == remote.sha256[0]
    if len(remote.sha256) > 1:  # the same text with LF line endings (see the spec)
        assert remote.sha256[1:] == (sha256(data.replace(b"\r\n", b"\n")),)


@needs_real_data
@pytest.mark.parametrize("name", ["tinyshakespeare", "the_verdict"])
def test_real_books_by_url(monkeypatch, name):
    remote = REMOTES[name]
    serve(monkeypatch, (REAL_DATA / remote.raw.rel).read_bytes())
    assert len(load_corpus(name, full()).text) == {"tinyshakespeare": 1_115_394,
                                                   "the_verdict": 20_479}[name]


@needs_real_data
def test_real_instructions_by_url(monkeypatch):
    serve(monkeypatch, (REAL_DATA / instructions.ALPACA_INSTRUCTION.raw.rel).read_bytes())
    data = instructions.load_instructions("alpaca_instruction", full(), on_invalid="raise")
    assert len(data) == 1100 and "sha256 verified" in data.source


@needs_real_data
@pytest.mark.parametrize("line_ending", [b"\r\n", b"\n"])
def test_real_ground_truth_gives_the_binary_file_row_for_row(monkeypatch, line_ending):
    """The URL's ground truth, binarised, is amazon_snippets_binary.tsv: rows, order, labels."""
    remote = classification.SPECS["customer_reviews"].remote
    raw = (REAL_DATA / remote.raw.rel).read_bytes().replace(b"\r\n", line_ending)
    parsed = classification._read_ground_truth(raw.decode().replace("\r\n", "\n"),
                                               classification.SPECS["customer_reviews"])
    with open(REAL_DATA / "customer_reviews" / "amazon_snippets_binary.tsv", encoding="utf-8",
              newline="") as f:
        binary = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    assert parsed == ([row[0] for row in binary], [int(row[1]) for row in binary])
    assert len(parsed[0]) == 3610 and sum(parsed[1]) == 2128
    serve(monkeypatch, raw)
    online = load_classification("customer_reviews", full())
    local = load_classification("customer_reviews", full(data_dir=REAL_DATA))
    assert split_rows(online) == split_rows(local)

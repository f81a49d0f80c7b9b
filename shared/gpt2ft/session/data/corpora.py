"""Plain-text corpora for language-model fine-tuning: a book by name or by path.

Introduced in ``sprints/sprint12_book/01_prepare_data``.

``tinyshakespeare`` and ``the_verdict`` are not on the Hugging Face hub as plain
text, so the full profile without DATA_DIR downloads each from its canonical URL
once, checks it against its pinned sha256 and caches it. Any other argument
naming an existing ``.txt`` file is read as a local book. :func:`control_text`
gives the general (non-book) text the sprint compares against, to see what
fine-tuning on a book does to everything else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gpt2ft.session.data.sources import RawFile, Remote, download, local_file, message, read_text, unknown_name
from gpt2ft.session.settings import Settings

TEXT_FMT = "plain text, UTF-8"
# The sha256 of each file as the URL serves it (measured on the canonical copies
# in ../shared/data: input.txt 1,115,394 characters, the-verdict.txt 20,479).
BOOKS: dict[str, Remote] = {
    "tinyshakespeare": Remote(
        RawFile("tinyshakespeare", "input.txt", TEXT_FMT),
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/"
        "input.txt",
        ("86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",)),
    "the_verdict": Remote(
        RawFile("the_verdict", "the-verdict.txt", TEXT_FMT),
        "https://raw.githubusercontent.com/rasbt/LLMs-from-scratch/main/ch02/"
        "01_main-chapter-code/the-verdict.txt",
        ("b41e41a68f0398a3154ae69e2e4c0e2694e17fe0d66730536837f1b01935b31f",)),
}
NAMES = tuple(BOOKS)
# Only the tiny profile reads this: with real data the control is IMDB reviews.
CONTROL_SAMPLE = RawFile("control", "expository.txt", TEXT_FMT)


@dataclass(frozen=True)
class Corpus:
    """One text to train or evaluate on, and where it came from."""

    text: str
    name: str
    source: str

    def __len__(self) -> int:
        return len(self.text)


def load_corpus(name_or_path: str | os.PathLike, settings: Settings) -> Corpus:
    """A book by name (:data:`NAMES`) or the path of a local UTF-8 ``.txt`` file."""
    name = str(name_or_path)
    if name in BOOKS:
        remote = BOOKS[name]
        located = local_file(remote.raw, settings)
        text, source = (read_text(located[0], remote.raw.expected), located[1]) if located \
            else download(remote)
        return Corpus(text=text, name=name, source=source)
    path = Path(name).expanduser()
    if path.suffix.lower() == ".txt" or path.exists():
        return _local_book(path)
    raise unknown_name("corpus", name, NAMES, extra=", or the path of a local .txt file")


def _local_book(path: Path) -> Corpus:
    full = path.resolve()
    if not full.exists():
        raise FileNotFoundError(message(f"Book file not found: {full}", file=full,
                                        expected=f"an existing .txt file, {TEXT_FMT}",
                                        fix="check the path (relative paths start at the "
                                            "notebook's folder)"))
    if not full.is_file() or full.suffix.lower() != ".txt":
        raise ValueError(message(f"Not a .txt file: {full}", file=full,
                                 expected=f"a .txt file, {TEXT_FMT}",
                                 fix="save the book as plain UTF-8 text with a .txt name"))
    return Corpus(text=read_text(full, TEXT_FMT), name=full.stem, source=f"local file {full}")


def control_text(settings: Settings, *, max_chars: int = 100_000) -> Corpus:
    """General modern prose, unlike either book, to measure what book training changes.

    Tiny profile without DATA_DIR: the bundled sample of plain expository prose.
    Otherwise: IMDB reviews of our ``test`` split (DATA_DIR's 2,000-review sample
    or the hub's test set) with ``<br />`` turned into newlines, whole reviews
    joined by blank lines up to ``max_chars`` characters. Reviews are everyday
    modern English written by many people: the opposite of one old book.
    """
    if settings.data_dir is None and settings.is_tiny:
        path, source = local_file(CONTROL_SAMPLE, settings)
        return Corpus(text=read_text(path, TEXT_FMT)[:max_chars], name="control", source=source)
    from gpt2ft.session.data.classification import clean_html, load_classification

    imdb = load_classification("imdb", settings)
    kept, size = [], 0
    for review in imdb.test["text"]:
        kept.append(clean_html(review).strip())
        size += len(kept[-1]) + 2
        if size >= max_chars:
            break
    text = "\n\n".join(kept)[:max_chars]
    return Corpus(text=text, name="control",
                  source=f"{len(kept)} IMDB test-split reviews from {imdb.source}")

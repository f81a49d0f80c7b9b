"""Where a data set comes from: DATA_DIR, the bundled samples, or the internet.

Introduced in ``sprints/sprint11_classification/01_data``; the corpora (sprint 12)
and instruction sets (sprint 13) resolve their files through the same rule:

1. ``settings.data_dir`` is set -> the canonical raw file ``<DATA_DIR>/<folder>/<file>``;
2. else the tiny profile      -> the project's own sample in ``gpt2ft/samples/``;
3. else (full, no DATA_DIR)   -> the Hugging Face hub by name (or the file's
   canonical URL, for a set the hub does not hold: pinned by sha256, see :class:`Remote`).

Every error below is built by :func:`message`, so all of them read alike: what
went wrong, the file, where in it, what was found, what was expected, the fix.
"""

from __future__ import annotations

import codecs
import hashlib
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gpt2ft.core.paths import SAMPLES_DIR, cache_dir
from gpt2ft.session.settings import Settings

TINY_OR_DATA_DIR = ("set DATA_DIR to the folder holding `{rel}` (e.g. DATA_DIR=../shared/data), "
                    "or use PROFILE=tiny for the bundled sample")


def message(what: str, *, file: Path | str | None = None, where: str | None = None,
            found: str | None = None, expected: str | None = None,
            fix: str | None = None) -> str:
    """One error message, always in the same order, so a reader knows where to look."""
    lines = [what]
    for label, value in (("file", file), ("where", where), ("found", found),
                         ("expected", expected), ("fix", fix)):
        if value is not None:
            lines.append(f"  {label + ':':<9} {value}")
    return "\n".join(lines)


def unknown_name(kind: str, name: str, known: Iterable[str], extra: str = "") -> ValueError:
    """The error for a data set name we do not know, listing the names we do."""
    names = ", ".join(sorted(known))
    return ValueError(message(f"Unknown {kind} {name!r}.", expected=f"one of {names}{extra}"))


@dataclass(frozen=True)
class RawFile:
    """A canonical raw file: where it sits below DATA_DIR and what it looks like."""

    folder: str
    file: str
    expected: str  # the format, in words, for error messages

    @property
    def rel(self) -> str:
        return f"{self.folder}/{self.file}"


def local_file(raw: RawFile, settings: Settings) -> tuple[Path, str] | None:
    """The file to read and a short source string, or None when the internet is the source."""
    if settings.data_dir is not None:
        path, source = settings.data_dir / raw.rel, f"DATA_DIR {settings.data_source}/{raw.rel}"  # no machine path
    elif settings.is_tiny:
        path = SAMPLES_DIR / raw.rel
        source = f"bundled synthetic sample (smoke runs only) gpt2ft/samples/{raw.rel}"
    else:
        return None
    if not path.is_file():
        raise FileNotFoundError(message(
            f"Data file not found: {path}", file=path, expected=raw.expected,
            fix=TINY_OR_DATA_DIR.format(rel=raw.rel)))
    return path, source


def decode(data: bytes, path: Path | str, expected: str) -> str:
    """UTF-8 text from ``data``; empty, binary or non-UTF-8 input is a ValueError.

    A UTF-8 byte-order mark (what some Windows editors write) is dropped; line
    endings become ``\\n`` so CRLF files read like the canonical LF ones.
    """
    fix = "re-save the file as UTF-8 plain text (e.g. in an editor: Save As, encoding UTF-8)"
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    if not data[start:].strip():
        raise ValueError(message(f"Empty data file: {path}", file=path, found="no text",
                                 expected=expected, fix="point at the right file"))
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ValueError(message(
            f"Binary file, not text: {path}", file=path, where=f"byte offset {nul}",
            found="a NUL byte", expected=expected, fix=fix))
    try:
        text = data[start:].decode("utf-8")
    except UnicodeDecodeError as err:
        bad = data[start + err.start:start + err.start + 1]
        raise ValueError(message(
            f"Not UTF-8 text: {path}", file=path, where=f"byte offset {start + err.start}",
            found=f"byte {bad!r}, which is not valid UTF-8", expected=expected, fix=fix),
        ) from None
    return text.replace("\r\n", "\n")


def read_text(path: Path, expected: str) -> str:
    """Decode a local file with :func:`decode`'s checks."""
    return decode(path.read_bytes(), path, expected)


def load_hub(hub_name: str, raw_hint: str):
    """``datasets.load_dataset(hub_name)``; a failure says how to work offline.

    Looked up on the module at call time so tests can monkeypatch
    ``datasets.load_dataset`` and never reach the network.
    """
    import datasets

    try:
        return datasets.load_dataset(hub_name)
    except Exception as err:  # network, auth, missing data set: all have the same fix
        raise RuntimeError(message(
            f"Could not load {hub_name!r} from the Hugging Face hub.",
            found=f"{type(err).__name__}: {err}",
            fix=TINY_OR_DATA_DIR.format(rel=raw_hint))) from err


def hub_split(hub, hub_name: str, split: str, columns: Sequence[str], raw_hint: str):
    """``hub[split]``, refusing a missing split or column before any row is read.

    The hub's own names go into the message: a renamed split or column there
    would otherwise surface as a bare KeyError, far from the data set's name.
    """
    fix = ("the data set has changed on the hub; "
           + TINY_OR_DATA_DIR.format(rel=raw_hint) + ", or report it to the project")
    if split not in hub:
        raise ValueError(message(f"The hub copy of {hub_name} has no {split!r} split.",
                                 file=f"Hugging Face hub {hub_name}", found=f"splits {sorted(hub)}",
                                 expected=f"a {split!r} split", fix=fix))
    table = hub[split]
    missing = [column for column in columns if column not in table.column_names]
    if missing:
        raise ValueError(message(
            f"The hub copy of {hub_name} lacks column(s) {missing} in split {split!r}.",
            file=f"Hugging Face hub {hub_name}", found=f"columns {table.column_names}",
            expected=f"columns {list(columns)}", fix=fix))
    return table


@dataclass(frozen=True)
class Remote:
    """A raw file the full profile fetches by URL when DATA_DIR is not set.

    ``sha256`` lists the digests its bytes may have: a changed or tampered file
    must fail loudly, not train a model on something else. More than one digest
    only where the same text may be served with other line endings.
    """

    raw: RawFile  # its name in the download cache (and below DATA_DIR, unless data_dir_rel)
    url: str
    sha256: tuple[str, ...]
    data_dir_rel: str = ""  # the file DATA_DIR holds instead, where the loader reads another

    @property
    def hint(self) -> str:
        """What DATA_DIR must hold to do without this download."""
        return self.data_dir_rel or self.raw.rel


def download(remote: Remote) -> tuple[str, str]:
    """Text of ``remote.url``, fetched once, cached, and checked against its sha256 on every read."""
    raw = remote.raw
    cached = cache_dir("data", raw.folder) / raw.file
    source = f"{remote.url} (sha256 verified, cached at {cached})"
    if not cached.is_file():
        data = _fetch(remote)
        _check_sha256(data, remote, cached=None)  # never cache bytes we would refuse
        text = decode(data, remote.url, raw.expected)
        partial = cached.with_name(cached.name + ".part")
        partial.write_bytes(data)
        partial.replace(cached)  # a run killed mid-write leaves no half file behind
        return text, source
    data = cached.read_bytes()
    _check_sha256(data, remote, cached=cached)  # the cache is a plain file anyone may edit
    return decode(data, cached, raw.expected), source


def _fetch(remote: Remote) -> bytes:
    try:
        with urllib.request.urlopen(remote.url, timeout=60) as response:
            return response.read()
    except OSError as err:
        raise RuntimeError(message(
            f"Could not download {remote.url}", found=f"{type(err).__name__}: {err}",
            fix=TINY_OR_DATA_DIR.format(rel=remote.hint))) from err


def _check_sha256(data: bytes, remote: Remote, cached: Path | None) -> None:
    found = hashlib.sha256(data).hexdigest()
    if found in remote.sha256:
        return
    rel = remote.hint
    details = dict(found=f"sha256 {found} ({len(data):,} bytes)",
                   expected="sha256 " + " or ".join(remote.sha256))
    if cached is None:
        raise ValueError(message(
            f"The download of {remote.url} does not match its pinned sha256; it was not cached.",
            file=remote.url, **details,
            fix=f"the file at the URL has changed or the download was altered: try again later, "
                f"or set DATA_DIR to a folder holding a verified copy of `{rel}`"))
    raise ValueError(message(
        f"The cached download of {remote.url} does not match its pinned sha256.",
        file=cached, **details,
        fix=f"delete the cached file at {cached} to fetch it again, or set DATA_DIR to the "
            f"folder holding `{rel}` (e.g. DATA_DIR=../shared/data)"))

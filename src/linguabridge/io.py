"""Files every stage reads and writes: JSONL(.gz/.zst) shards, atomic JSON, input expansion, asset tables.

The bottom layer (it imports only :mod:`linguabridge.errors`), so any module may use it.

Reading never stops on a bad line: malformed JSON or invalid UTF-8 becomes a :class:`Quarantined` item that
names the file and line, so callers can count and keep it (one bad document never stops a million good ones).
A file that cannot be read on (truncated or foreign compression, UTF-16 text) raises :class:`UnreadableFile` or
the decompressor's own error where the damage starts; pipelines quarantine the file (``data/intake.py``).
Writing is atomic: a temporary file renamed into place, so a kill never leaves a truncated file.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from linguabridge.errors import LinguabridgeError


@dataclass
class Quarantined:
    """An input line that could not be parsed, kept with its location and the reason; or, with
    ``scope="file"`` and line 0, a file that could not be read (on), see ``data/intake.py``."""

    path: str
    line: int
    reason: str
    raw: str
    scope: str = "record"

    def to_json(self) -> dict:
        out = {"path": self.path, "line": self.line, "reason": self.reason, "raw": self.raw[:2000]}
        if self.scope != "record":  # record entries keep their four fields
            out["scope"] = self.scope
        return out


class UnreadableFile(LinguabridgeError):
    """An input file that cannot be read past some point (bad compression, wrong encoding, broken container).

    Pipelines quarantine such a file with its path and reason and go on with the others."""


class _ZstdReader(io.RawIOBase):
    """Decompressed bytes of a ``.zst`` file (one or more frames) that raises :class:`UnreadableFile` when the
    file ends inside a frame: zstandard's ``stream_reader`` returns a short read instead, losing data silently."""

    def __init__(self, path: str):
        import zstandard

        self._fh = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._dctx = zstandard.ZstdDecompressor()
        self._frame = None
        self._buf, self._pos = b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        import zstandard

        while self._pos >= len(self._buf):
            chunk = self._fh.read(1 << 17)
            if not chunk:
                if self._frame is not None and not self._frame.eof:
                    raise UnreadableFile("zstd stream ends inside a frame (truncated file)")
                return 0
            out = []
            try:
                while chunk:
                    if self._frame is None or self._frame.eof:
                        self._frame = self._dctx.decompressobj()
                    out.append(self._frame.decompress(chunk))
                    chunk = self._frame.unused_data if self._frame.eof else b""
            except zstandard.ZstdError as exc:
                raise UnreadableFile(f"not a valid zstd stream ({exc})") from None
            self._buf, self._pos = b"".join(out), 0
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos : self._pos + n]
        self._pos += n
        return n

    def close(self) -> None:
        self._fh.close()
        super().close()


def open_binary(path: str | Path):
    """Read plain, ``.gz``, ``.xz`` or ``.zst`` files by extension as decompressed bytes (a buffered stream).

    A truncated or damaged compressed file raises (``EOFError``, ``OSError`` or :class:`UnreadableFile`) where
    the damage starts, never a silent end of file."""
    path = str(path)
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.endswith(".xz"):
        import lzma

        return lzma.open(path, "rb")
    if path.endswith(".zst"):
        return io.BufferedReader(_ZstdReader(path), buffer_size=1 << 16)
    return open(path, "rb")


def open_text(path: str | Path, mode: str = "rt"):
    """Open plain, ``.gz`` or ``.zst`` files by extension (text mode, UTF-8, universal newlines on reading)."""
    if "r" in mode:
        raw = open_binary(path)
        return io.TextIOWrapper(raw, encoding="utf-8") if "t" in mode else raw
    path = str(path)
    if path.endswith(".gz"):
        return gzip.open(path, mode, encoding="utf-8") if "t" in mode else gzip.open(path, mode)
    if path.endswith(".zst"):
        import zstandard

        raw = zstandard.ZstdCompressor().stream_writer(open(path, "wb"))
        return io.TextIOWrapper(raw, encoding="utf-8") if "t" in mode else raw
    return open(path, mode, encoding="utf-8") if "t" in mode else open(path, mode)


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # also the start of the UTF-32 LE mark


def check_not_utf16(stream, path: str) -> None:
    """Fail for UTF-16/32 text (a byte-order mark): split into lines, every record would be garbage."""
    if stream.peek(2)[:2] in _UTF16_BOMS:
        raise UnreadableFile(
            f"{path}: UTF-16 or UTF-32 text (byte-order mark); records must be UTF-8",
            "convert it, e.g. iconv -f UTF-16 -t UTF-8 FILE > FILE.utf8",
        )


_ESCAPED = re.compile("[\udc80-\udcff]")  # bytes that are not UTF-8, as surrogateescape keeps them


def iter_lines(path: str | Path) -> Iterator[tuple[int, str | Quarantined]]:
    """``(line number, text with its "\\n")`` of every line, or a :class:`Quarantined` for a line that is not UTF-8.

    Lines end at ``\\n``, ``\\r\\n`` or a bare ``\\r`` (universal newlines: a file saved with old Mac line ends
    is not one long line); a UTF-8 byte-order mark is dropped; UTF-16/32 text raises :class:`UnreadableFile`,
    and so does a damaged compressed file, where the damage starts (see :func:`open_binary`)."""
    path = str(path)
    with open_binary(path) as stream:
        check_not_utf16(stream, path)
        # surrogateescape keeps undecodable bytes, so one bad line is quarantined with its byte offset.
        lines = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline=None)
        for lineno, text in enumerate(lines, start=1):
            if lineno == 1:
                text = text.removeprefix("\ufeff")
            bad = _ESCAPED.search(text)
            if bad is None:
                yield lineno, text
                continue
            start = len(text[: bad.start()].encode("utf-8"))
            raw = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            yield lineno, Quarantined(path, lineno, f"invalid UTF-8 at byte {start}", raw)


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict | Quarantined]]:
    """Yield ``(line number, object)``, or a :class:`Quarantined` for lines that are not UTF-8 JSON objects.

    JSON strings cannot hold a raw CR, so splitting at bare ``\\r`` too (:func:`iter_lines`) never cuts a record
    and never merges two."""
    path = str(path)
    for lineno, text in iter_lines(path):
        if isinstance(text, Quarantined):
            yield lineno, text
            continue
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield lineno, Quarantined(path, lineno, f"bad JSON: {exc.msg} at column {exc.colno}", text)
            continue
        except RecursionError:  # "[[[[...": deeper than Python's JSON parser goes
            yield lineno, Quarantined(path, lineno, "bad JSON: nested too deeply", text)
            continue
        if not isinstance(obj, dict):
            yield lineno, Quarantined(path, lineno, "not a JSON object", text)
            continue
        yield lineno, obj


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 4 MiB blocks (checkpoint manifests, model and package files)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def temp_path(path: Path) -> Path:
    """A temporary sibling of ``path`` unique to this process, renamed into place when complete.

    Per process so that two writers of the same file (a rerun beside a worker of a killed run that has not
    died yet) never write into one temporary file; the rename makes the last complete copy win. The dots of
    the name become underscores so that no shard pattern (``*.jsonl*``) ever picks up a half-written file."""
    return path.with_name(f"{path.name.replace('.', '_')}.{os.getpid()}.tmp")


class JsonlWriter:
    """Write records to ``path`` atomically: a temporary file renamed into place on close.

    A killed writer leaves only a ``.PID.tmp`` file, never a truncated shard.
    Records are dicts or objects with ``to_json()`` (documents, :class:`Quarantined`).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = temp_path(self.path)
        self._raw = open(self.tmp, "wb")  # noqa: SIM115 - closed in close()/abort()
        if self.path.suffix == ".gz":
            # No name and mtime 0 in the gzip header: identical content gives identical bytes (resume checks).
            self._gz = gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=self._raw, mtime=0)
            self._fh = io.TextIOWrapper(self._gz, encoding="utf-8")
        else:
            self._gz = None
            self._fh = io.TextIOWrapper(self._raw, encoding="utf-8")
        self.count = 0

    def write(self, obj: Any) -> None:
        if not isinstance(obj, dict):
            obj = obj.to_json()
        self._fh.write(json.dumps(obj, ensure_ascii=False, sort_keys=False) + "\n")
        self.count += 1

    def _close_all(self) -> None:
        self._fh.close()  # closes the gzip stream, which does not close the raw file it was given
        self._raw.close()

    def close(self) -> None:
        self._close_all()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self._close_all()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_output_shards(folder: str | Path, pattern: str = "*.jsonl.gz") -> list[dict]:
    """Every record of a stage's output folder (e.g. ``kept/``), shards in order. For outputs we wrote, so an
    unparseable line is an error rather than a quarantined record."""
    out: list[dict] = []
    for f in sorted(Path(folder).glob(pattern)):
        for lineno, obj in iter_jsonl(f):
            if isinstance(obj, Quarantined):
                raise LinguabridgeError(
                    f"{f}:{lineno}: {obj.reason}", "the output is damaged: rerun the stage"
                )
            out.append(obj)
    return out


def write_built(out_dir: str | Path, stem: str, records: Iterable, rejected: Iterable, stats: dict) -> None:
    """A builder's outputs: ``<stem>.jsonl``, ``<stem>_rejected.jsonl`` (with reasons) and ``<stem>_stats.json``."""
    out_dir = Path(out_dir)
    with JsonlWriter(out_dir / f"{stem}.jsonl") as w:
        for r in records:
            w.write(r)
    with JsonlWriter(out_dir / f"{stem}_rejected.jsonl") as w:
        for r in rejected:
            w.write(r)
    write_json(out_dir / f"{stem}_stats.json", stats)


def expand_inputs(
    paths: Iterable[str | Path],
    patterns: tuple[str, ...] = ("*.jsonl", "*.jsonl.gz", "*.jsonl.zst"),
    accept=None,
    kind: str | None = None,
) -> list[Path]:
    """Files named directly, plus matching files inside folders, in a stable order. Missing paths are errors.

    ``accept`` (a predicate on paths) replaces ``patterns`` for formats recognised by more than a glob;
    ``kind`` names them in the error for a folder with none.
    """
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            if accept is None:
                found = sorted(f for pat in patterns for f in p.rglob(pat))
            else:
                found = sorted(
                    f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".") and accept(f)
                )
            if not found:
                raise LinguabridgeError(
                    f"{p}: folder has no {kind or '/'.join(patterns)} files", "point at the data files"
                )
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise LinguabridgeError(
                f"input not found: {p}", "check the path (relative paths are from the current directory)"
            )
    return out


# ------------------------------------------------------------------------------------------ asset tables
def parse_tsv(text: str) -> list[dict[str, str]]:
    """Rows of a tab-separated table with a header row; blank lines and ``#`` comment lines are skipped.

    No quoting: a ``"`` is an ordinary character (cells hold regex fragments and prompt text).
    """
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


@cache
def _asset_rows(name: str) -> tuple[dict[str, str], ...]:
    text = resources.files("linguabridge").joinpath(f"assets/{name}").read_text(encoding="utf-8")
    return tuple(parse_tsv(text))


def read_asset_table(name: str) -> list[dict[str, str]]:
    """Rows of a bundled table, ``name`` relative to ``assets/`` (e.g. ``"data/scripts.tsv"``).

    Read once per process; each call returns fresh row dicts, so callers may change them.
    """
    return [dict(row) for row in _asset_rows(name)]

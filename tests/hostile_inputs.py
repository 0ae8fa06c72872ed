"""Hostile input files for the reader fuzz suite (tests/test_fuzz_readers.py): each case is one damaged or odd
file beside one good file, with how many records it really holds, so a run can be checked for lost records.

``records`` counts what a reader should account for: every JSON line (good or bad), every pair, every document.
"""

from __future__ import annotations

import gzip
import io
import json
import lzma
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from data_helpers import prose

EN = "The doctor told him to rest for three days before going back to work."
DE = "Der Arzt sagte ihm, er solle sich drei Tage ausruhen, bevor er wieder arbeiten geht."


@dataclass
class Case:
    name: str
    file: str  # file name to write (its suffix picks the reader)
    make: Callable[[], bytes]
    records: int  # records in the file (0 when it holds none, e.g. garbage)


def _jsonl(rows) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)


def docs(n: int, start: int = 0, id_key: str = "id", text_key: str = "text") -> list[dict]:
    return [{id_key: f"d{start + i}", text_key: prose(start + i)} for i in range(n)]


def _zst_stream(data: bytes) -> bytes:
    """Streamed (multi-block) zstd like real dumps, so a truncated file still decodes a prefix."""
    import zstandard

    buf = io.BytesIO()
    with zstandard.ZstdCompressor(level=1).stream_writer(buf, closefd=False) as w:
        for i in range(0, len(data), 4096):
            w.write(data[i : i + 4096])
            w.flush(zstandard.FLUSH_BLOCK)
    return buf.getvalue()


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _warc(n: int) -> bytes:
    out = b""
    for i in range(n):
        payload = prose(100 + i).encode()
        head = (
            f"WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: https://w.example/{i}\r\n"
            f"WARC-Date: 2024-01-01T00:00:00Z\r\nWARC-Record-ID: <urn:uuid:{i:032x}>\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode()
        out += head + payload + b"\r\n\r\n"
    return out


def _parquet(rows: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


N = 40  # records in a damaged file


def clean_cases() -> list[Case]:
    """Inputs for ``data clean``."""
    rows = docs(N, 1000)
    data = _jsonl(rows)
    return [
        Case("truncated .zst", "t.jsonl.zst", lambda: _half(_zst_stream(data)), N),
        Case("garbage .zst", "g.jsonl.zst", lambda: os.urandom(3000), 0),
        Case("truncated .gz", "t.jsonl.gz", lambda: _half(gzip.compress(data)), N),
        Case("non-gzip .gz", "p.jsonl.gz", lambda: data, N),
        Case("gzip of garbage JSON", "x.jsonl.gz", lambda: gzip.compress(os.urandom(5000)), 0),
        Case("fake parquet", "f.parquet", lambda: b"PAR1 not really parquet", 0),
        Case("truncated parquet", "tp.parquet", lambda: _half(_parquet(rows)), N),
        Case("garbage WARC", "g.warc.gz", lambda: gzip.compress(os.urandom(4000)), 0),
        Case("garbage WET", "g.wet", lambda: os.urandom(4000), 0),
        Case("truncated WET", "t.wet", lambda: _warc(6)[:-300], 6),
        Case("truncated WET .gz", "t.warc.wet.gz", lambda: _half(gzip.compress(_warc(6))), 6),
        Case("truncated .txt.gz", "t.txt.gz", lambda: _half(gzip.compress(prose(7).encode() * 20)), 1),
        Case("bare CR line ends", "cr.jsonl", lambda: data.replace(b"\n", b"\r"), N),
        Case("CRLF line ends", "crlf.jsonl", lambda: data.replace(b"\n", b"\r\n"), N),
        Case(
            "mixed line ends",
            "mix.jsonl",
            lambda: _jsonl(rows[:20]).replace(b"\n", b"\r") + _jsonl(rows[20:]),
            N,
        ),
        Case("latin-1", "l1.jsonl", lambda: data.decode().replace("e", "é").encode("latin-1"), N),
        Case("UTF-16 with BOM", "u16.jsonl", lambda: data.decode().encode("utf-16"), N),
        Case("UTF-8 with BOM", "bom.jsonl", lambda: b"\xef\xbb\xbf" + data, N),
        Case("invalid UTF-8 bytes", "bad.jsonl", lambda: data[:500] + b"\xff\xfe\xc3" + data[500:], N),
        Case(
            "JSON arrays and scalars",
            "shapes.jsonl",
            lambda: b'[1, 2]\n"text"\n42\nnull\ntrue\n' + data,
            N + 5,
        ),
        Case(
            "odd field types",
            "types.jsonl",
            lambda: _jsonl(
                [
                    {"id": 7, "text": prose(1)},
                    {"id": 7.5, "text": prose(2)},
                    {"id": None, "text": prose(3)},
                    {"id": [1], "text": prose(4)},
                    {"id": {"a": 1}, "text": prose(5)},
                    {"id": True, "text": prose(6)},
                    {"text": None},
                    {"text": 12},
                    {"text": {"body": prose(7)}},
                    {"text": ["a", "b"]},
                    {"id": "m", "text": prose(8), "metadata": "not a dict"},
                    {"id": "m2", "text": prose(9), "metadata": [1, 2]},
                    {},
                ]
            ),
            13,
        ),
        Case("missing text field", "fields.jsonl", lambda: _jsonl(docs(N, 2000, "doc_id", "content")), N),
        Case("duplicate ids", "dups.jsonl", lambda: _jsonl([r | {"id": "same"} for r in docs(6, 3000)]), 6),
        Case("empty file", "empty.jsonl", lambda: b"", 0),
        Case("only blank lines", "blank.jsonl", lambda: b"\n\n  \r\n\n", 0),
        Case(
            "10 MB line",
            "big.jsonl",
            lambda: _jsonl([{"id": "big", "text": "word " * 2_000_000}]) + data[:2000],
            2,
        ),
        Case("truncated last line", "cut.jsonl", lambda: data[:-30], N),
        Case("NUL bytes", "nul.jsonl", lambda: data.replace(b"\n", b"\x00\n", 5), N),
        Case("invalid UTF-8 .txt", "bad.txt", lambda: prose(3).encode() + b"\xff\xfe", 1),
    ]


def bitext_cases() -> list[Case]:
    """Inputs for ``data bitext filter`` (languages from the file names: ``en-de``)."""
    pairs = [{"id": f"p{i}", "src": f"{EN} ({i})", "tgt": f"{DE} ({i})"} for i in range(N)]
    data = _jsonl(pairs)
    tsv = "".join(f"{p['src']}\t{p['tgt']}\n" for p in pairs).encode()
    return [
        Case("truncated .zst", "t.en-de.jsonl.zst", lambda: _half(_zst_stream(data)), N),
        Case("garbage .zst", "g.en-de.jsonl.zst", lambda: os.urandom(3000), 0),
        Case("truncated .gz", "t.en-de.jsonl.gz", lambda: _half(gzip.compress(data)), N),
        Case("non-gzip .gz", "p.en-de.tsv.gz", lambda: tsv, N),
        Case("truncated .tsv.gz", "t.en-de.tsv.gz", lambda: _half(gzip.compress(tsv)), N),
        Case("truncated .tsv.xz", "t.en-de.tsv.xz", lambda: _half(lzma.compress(tsv)), N),
        Case("fake parquet", "f.en-de.parquet", lambda: b"PAR1 not really parquet", 0),
        Case("broken TMX", "b.tmx", lambda: b"<tmx><body><tu><tuv xml:lang='en'><seg>x</seg>", 0),
        Case("bare CR JSONL", "cr.en-de.jsonl", lambda: data.replace(b"\n", b"\r"), N),
        Case("bare CR TSV", "cr.en-de.tsv", lambda: tsv.replace(b"\n", b"\r"), N),
        Case(
            "latin-1 TSV", "l1.en-de.tsv", lambda: tsv.decode().replace("Tage", "Tagé").encode("latin-1"), N
        ),
        Case("UTF-16 TSV", "u16.en-de.tsv", lambda: tsv.decode().encode("utf-16"), N),
        Case("UTF-8 BOM JSONL", "bom.en-de.jsonl", lambda: b"\xef\xbb\xbf" + data, N),
        Case(
            "odd field types",
            "types.en-de.jsonl",
            lambda: (
                _jsonl(
                    [
                        {"id": 1, "src": EN, "tgt": DE},
                        {"src": 5, "tgt": 6},
                        {"src": None, "tgt": DE},
                        {"src": {"t": EN}, "tgt": DE},
                        {"src": [EN], "tgt": [DE]},
                        {"translation": "not a dict"},
                        {"translation": {"en": EN}},
                        {"src": EN, "tgt": DE, "src_lang": 3},
                    ]
                )
                + b"[1]\n7\n"
            ),
            10,
        ),
        Case("duplicate ids", "dups.en-de.jsonl", lambda: _jsonl([p | {"id": "same"} for p in pairs[:6]]), 6),
        Case("empty file", "empty.en-de.jsonl", lambda: b"", 0),
        Case(
            "10 MB line", "big.en-de.tsv", lambda: ("word " * 2_000_000 + "\tWort\n").encode() + tsv[:500], 4
        ),
    ]


def good_clean_file(root: Path) -> tuple[Path, int]:
    path = root / "good.jsonl"
    path.write_bytes(_jsonl(docs(5)))
    return path, 5


def good_bitext_file(root: Path) -> tuple[Path, int]:
    path = root / "good.en-de.tsv"
    path.write_text(f"{EN}\t{DE}\nGood morning, everyone.\tGuten Morgen, alle zusammen.\n", encoding="utf-8")
    return path, 2

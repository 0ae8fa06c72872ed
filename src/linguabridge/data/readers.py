"""Input readers: JSONL(.gz/.zst), Parquet, plain-text folders, Common Crawl WARC (HTML) and WET (text).

Each input file is one shard of the curation run, read as a stream of :class:`Document` (or
:class:`Quarantined` for what cannot be parsed: bad JSON, invalid UTF-8, a record without text). A file that
cannot be read on (truncated or foreign compression, a fake Parquet file, a cut WARC record) ends in one
file-level :class:`Quarantined` after the records read before the damage (``data/intake.py``).
WARC/WET go through resiliparse (FastWARC to read, its main-content extractor for HTML; gzip through Python's
reader, which notices truncation); Parquet through pyarrow, one row group at a time (flat memory).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from linguabridge.data.intake import guarded
from linguabridge.data.records import Document, stable_id, to_document
from linguabridge.errors import LinguabridgeError, require
from linguabridge.io import Quarantined, UnreadableFile, iter_jsonl, open_binary

JSONL = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".ndjson")
PARQUET = (".parquet",)
WARC = (".warc", ".warc.gz")
WET = (".wet", ".wet.gz", ".warc.wet.gz")
TEXT = (".txt", ".txt.gz")
SUPPORTED = JSONL + PARQUET + WARC + WET + TEXT


def kind_of(path: Path) -> str | None:
    name = path.name.lower()
    for kind, suffixes in (
        ("wet", WET),
        ("warc", WARC),
        ("jsonl", JSONL),
        ("parquet", PARQUET),
        ("text", TEXT),
    ):
        if name.endswith(suffixes):
            return kind
    return None


def list_inputs(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly (any supported kind) and supported files inside folders, in a stable order."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and kind_of(f))
            if not found:
                raise LinguabridgeError(
                    f"{p}: folder has no input files", f"supported: {', '.join(SUPPORTED)}"
                )
            out.extend(found)
        elif p.is_file():
            if kind_of(p) is None:
                raise LinguabridgeError(f"{p}: unsupported input type", f"supported: {', '.join(SUPPORTED)}")
            out.append(p)
        else:
            raise LinguabridgeError(
                f"input not found: {p}", "check the path (relative paths are from the current directory)"
            )
    return out


def read_file(
    path: str | Path, text_key: str = "text", id_key: str = "id"
) -> Iterator[Document | Quarantined]:
    """Documents of one input file; ``text_key``/``id_key`` name the JSONL/Parquet fields (datatrove's names)."""
    path = Path(path)
    kind = kind_of(path)
    if kind == "jsonl":
        items = (
            item if isinstance(item, Quarantined) else to_document(item, str(path), lineno, text_key, id_key)
            for lineno, item in iter_jsonl(path)
        )
    elif kind == "parquet":
        items = _read_parquet(path, text_key, id_key)
    elif kind == "text":
        items = _read_text(path)
    elif kind in ("warc", "wet"):
        items = _read_warc(path, kind)
    else:
        raise LinguabridgeError(f"{path}: unsupported input type", f"supported: {', '.join(SUPPORTED)}")
    return guarded(str(path), items)


def read_inputs(
    paths: Iterable[str | Path], text_key: str = "text", id_key: str = "id"
) -> Iterator[Document | Quarantined]:
    for path in list_inputs(paths):
        yield from read_file(path, text_key, id_key)


def _read_parquet(path: Path, text_key: str, id_key: str) -> Iterator[Document | Quarantined]:
    pq = require("pyarrow.parquet", "data")
    import pyarrow

    row = 0
    try:
        f = pq.ParquetFile(path)
        for batch in f.iter_batches(batch_size=1024):
            for obj in batch.to_pylist():
                row += 1
                if isinstance(obj.get("metadata"), str):  # metadata stored as a JSON string column
                    with contextlib.suppress(json.JSONDecodeError):  # else it stays a string field
                        obj["metadata"] = json.loads(obj["metadata"])
                yield to_document(obj, str(path), row, text_key, id_key)
    except pyarrow.ArrowException as exc:
        raise UnreadableFile(f"not a readable Parquet file ({exc})") from None


def _read_text(path: Path) -> Iterator[Document | Quarantined]:
    """A plain-text file is one document (id from its path)."""
    with open_binary(path) as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield Quarantined(str(path), 1, f"invalid UTF-8 at byte {exc.start}", raw.decode("utf-8", "replace"))
        return
    yield Document(stable_id(str(path)), text, {"source": "web", "path": str(path)})


def _read_warc(path: Path, kind: str) -> Iterator[Document | Quarantined]:
    require("resiliparse", "data")
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    wanted = WarcRecordType.conversion if kind == "wet" else WarcRecordType.response
    # Python's gzip, not FastWARC's own: FastWARC ends a truncated .gz silently.
    with open_binary(path) as stream:
        for n, record in enumerate(ArchiveIterator(stream, record_types=wanted), start=1):
            url = record.headers.get("WARC-Target-URI")
            rec_id = record.headers.get("WARC-Record-ID") or stable_id(str(path), str(n))
            body = record.reader.read()
            if len(body) < record.content_length:
                raise UnreadableFile(f"WARC record {n} is cut ({len(body)} of {record.content_length} bytes)")
            meta = {"url": url, "source": "web", "warc_record": n, "date": record.headers.get("WARC-Date")}
            if kind == "wet":
                try:
                    text = body.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield Quarantined(str(path), n, f"invalid UTF-8 in WET record at byte {exc.start}", "")
                    continue
            else:
                if record.http_headers is not None:
                    ctype = record.http_headers.get("Content-Type", "") or ""
                    if "html" not in ctype.lower():  # images, PDFs...: rejected as not_html, not dropped
                        yield Document(
                            rec_id.strip("<>"), "", meta | {"skip_reason": "not_html", "content_type": ctype}
                        )
                        continue
                html = bytes_to_str(body, detect_encoding(body))
                text = extract_plain_text(html, main_content=True, alt_texts=False, links=False)
            yield Document(rec_id.strip("<>"), text, meta)

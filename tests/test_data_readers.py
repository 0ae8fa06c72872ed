"""Readers (JSONL.gz/.zst, Parquet, text, WARC, WET) and the optional KenLM perplexity filter."""

from __future__ import annotations

import gzip
import json

import pytest

from data_helpers import prose, read_gz_jsonl
from linguabridge.config import DataConfig
from linguabridge.data.clean import clean
from linguabridge.data.readers import list_inputs, read_file
from linguabridge.data.records import Document
from linguabridge.errors import LinguabridgeError
from linguabridge.io import Quarantined


def _warc_record(kind: str, uri: str, payload: bytes, content_type: str) -> bytes:
    head = (
        f"WARC/1.0\r\nWARC-Type: {kind}\r\nWARC-Target-URI: {uri}\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n"
        f"WARC-Record-ID: <urn:uuid:{abs(hash((uri, kind))):032x}>\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    return head + payload + b"\r\n\r\n"


def _http(body: bytes, ctype: str) -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def test_warc_html_is_extracted_and_non_html_is_rejected_with_reason(tmp_path):
    pytest.importorskip("resiliparse")
    article = prose(3).replace("\n", "</p><p>")
    html = f"<html><head><title>t</title></head><body><nav>Home | About</nav><article><p>{article}</p></article></body></html>"
    data = _warc_record(
        "response",
        "https://site.example/a",
        _http(html.encode(), "text/html; charset=utf-8"),
        "application/http; msgtype=response",
    )
    data += _warc_record(
        "response",
        "https://site.example/logo.png",
        _http(b"\x89PNG....", "image/png"),
        "application/http; msgtype=response",
    )
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(gzip.compress(data))
    docs = list(read_file(path))
    assert [d.metadata["url"] for d in docs] == ["https://site.example/a", "https://site.example/logo.png"]
    assert "The " in docs[0].text and "<p>" not in docs[0].text
    stats = clean([path], tmp_path / "out", DataConfig(min_words=20), ["eng_Latn"], progress=False)
    assert stats["totals"] == {"input": 2, "kept": 1, "rejected": 1, "quarantined": 0}
    assert stats["steps"]["read"]["dropped:not_html"] == 1


def test_wet_parquet_text_and_compressed_jsonl(tmp_path):
    pytest.importorskip("resiliparse")
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa
    import zstandard

    wet = _warc_record("conversion", "https://w.example/", prose(1).encode(), "text/plain")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "seg.warc.wet.gz").write_bytes(gzip.compress(wet))
    pq.write_table(
        pa.table({"id": ["p1"], "text": [prose(2)], "url": ["https://p.example/"]}),
        tmp_path / "in" / "t.parquet",
    )
    (tmp_path / "in" / "notes.txt").write_text(prose(4), encoding="utf-8")
    rows = (json.dumps({"id": "z1", "text": prose(5)}) + "\nnot json\n").encode()
    (tmp_path / "in" / "d.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(rows))
    (tmp_path / "in" / "ignored.bin").write_bytes(b"\x00")
    files = list_inputs([tmp_path / "in"])
    assert [f.name for f in files] == ["d.jsonl.zst", "notes.txt", "seg.warc.wet.gz", "t.parquet"]
    items = [x for f in files for x in read_file(f)]
    docs = [x for x in items if isinstance(x, Document)]
    bad = [x for x in items if isinstance(x, Quarantined)]
    assert len(docs) == 4 and len(bad) == 1 and bad[0].line == 2
    assert {d.metadata.get("url") for d in docs} >= {"https://w.example/", "https://p.example/"}
    with pytest.raises(LinguabridgeError, match="unsupported"):
        list_inputs([tmp_path / "in" / "ignored.bin"])


ARPA = """\\data\\
ngram 1=5
ngram 2=2

\\1-grams:
-2.0\t<unk>\t0
0\t<s>\t-0.1
-0.5\t</s>\t0
-0.3\tthe\t-0.1
-0.4\tright\t-0.1

\\2-grams:
-0.1\tthe right
-0.1\tright the

\\end\\
"""


def test_kenlm_perplexity_is_scored_and_thresholded(tmp_path):
    pytest.importorskip("kenlm")
    model = tmp_path / "en.arpa"
    model.write_text(ARPA)
    good = ("the right " * 40).strip() + "."
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": "lm", "text": good}) + "\n" + json.dumps({"id": "p", "text": prose(9)}) + "\n"
    )
    cfg = DataConfig(
        min_words=5,
        kenlm_models={"eng_Latn": str(model)},
        thresholds={
            "eng_Latn": {
                "max_perplexity": 10.0,
                "min_stop_words": 0,
                "top_n_grams": "2:9,3:9,4:9",
                "dup_n_grams": "5:9,10:9",
                "min_avg_word_length": 1,
            }
        },
    )
    clean([src], tmp_path / "o", cfg, ["eng_Latn"], progress=False)
    kept = {r["id"]: r for r in read_gz_jsonl(tmp_path / "o" / "kept")}
    rejected = {r["id"]: r for r in read_gz_jsonl(tmp_path / "o" / "rejected")}
    assert kept["lm"]["metadata"]["scores"]["perplexity"] < 10
    assert rejected["p"]["metadata"]["reject_reason"] == "perplexity"
    assert rejected["p"]["metadata"]["scores"]["perplexity"] > 10

"""linguabridge.io: the file helpers every stage shares."""

from __future__ import annotations

import gzip

import pytest

from linguabridge.errors import LinguabridgeError
from linguabridge.io import (
    JsonlWriter,
    Quarantined,
    iter_jsonl,
    parse_tsv,
    read_asset_table,
    read_output_shards,
)


def test_parse_tsv_skips_comments_and_blank_lines_and_keeps_quotes():
    text = '# a comment with "quotes"\ncode\tmarker\n\nind_Latn\t"tidak"\n# trailing\nzsm_Latn\ttak\n'
    assert parse_tsv(text) == [
        {"code": "ind_Latn", "marker": '"tidak"'},
        {"code": "zsm_Latn", "marker": "tak"},
    ]


def test_asset_table_rows_are_fresh_copies():
    rows = read_asset_table("data/scripts.tsv")
    assert rows and all(not r[next(iter(r))].startswith("#") for r in rows)
    rows[0]["script"] = "changed"
    assert read_asset_table("data/scripts.tsv")[0]["script"] != "changed"


def test_jsonl_writer_is_atomic_and_gzip_bytes_are_reproducible(tmp_path):
    path = tmp_path / "part-00000.jsonl.gz"
    with JsonlWriter(path) as w:
        w.write({"id": "a", "text": "é"})
        w.write(Quarantined("in.jsonl", 3, "bad JSON", "{"))
    first = path.read_bytes()
    with pytest.raises(RuntimeError), JsonlWriter(path) as w:
        w.write({"id": "b"})
        raise RuntimeError("killed")
    assert path.read_bytes() == first and not list(tmp_path.glob("*.tmp"))  # the aborted write left nothing
    with JsonlWriter(path) as w:
        w.write({"id": "a", "text": "é"})
        w.write(Quarantined("in.jsonl", 3, "bad JSON", "{"))
    assert path.read_bytes() == first
    assert [obj for _, obj in iter_jsonl(path)][1] == {
        "path": "in.jsonl",
        "line": 3,
        "reason": "bad JSON",
        "raw": "{",
    }


def test_bad_lines_are_quarantined_on_input_and_errors_in_outputs(tmp_path):
    shard = tmp_path / "kept" / "part-00000.jsonl.gz"
    shard.parent.mkdir()
    with gzip.open(shard, "wb") as fh:
        fh.write(b'{"id": "a"}\n\n[1]\n{"id": \n\xff\n')
    items = list(iter_jsonl(shard))
    assert [n for n, _ in items] == [1, 3, 4, 5]
    assert [x.reason.split(":")[0] for _, x in items[1:]] == [
        "not a JSON object",
        "bad JSON",
        "invalid UTF-8 at byte 0",
    ]
    with pytest.raises(LinguabridgeError, match=r"part-00000.jsonl.gz:3: not a JSON object"):
        read_output_shards(shard.parent)

"""data clean on damaged and odd inputs (issue #13): a bad file is quarantined as a file and the run goes on,
line ends never merge records, repeated ids are renamed, field names are settable, European phone numbers are
redacted, the run's marker is _COMPLETE.json."""

from __future__ import annotations

import gzip
import json

import pytest
from typer.testing import CliRunner

from data_helpers import read_gz_jsonl
from hostile_inputs import _half, _jsonl, _warc, _zst_stream, docs
from linguabridge.cli.main import app
from linguabridge.config import DataConfig
from linguabridge.data.clean import clean
from linguabridge.data.pii import redact

CFG = DataConfig(min_words=5, decontaminate="none", dedup="exact")


def _run(tmp_path, files, cfg=CFG):
    out = tmp_path / "out"
    stats = clean(files, out, cfg, ["eng_Latn"], progress=False)
    quarantine = [json.loads(x) for x in (out / "quarantine.jsonl").read_text().splitlines()]
    t = stats["totals"]
    assert (
        t["input"]
        == t["kept"] + t["rejected"] + t["quarantined"]
        == len(read_gz_jsonl(out / "kept")) + len(read_gz_jsonl(out / "rejected")) + len(quarantine)
    )
    return out, stats, quarantine


@pytest.mark.parametrize(
    ("name", "make", "before"),
    [
        ("t.jsonl.zst", lambda: _half(_zst_stream(_jsonl(docs(40)))), True),
        ("t.jsonl.gz", lambda: _half(gzip.compress(_jsonl(docs(40)))), True),
        ("p.jsonl.gz", lambda: _jsonl(docs(3)), False),  # not gzip at all
        ("g.jsonl.zst", lambda: b"\x00garbage" * 50, False),
        ("f.parquet", lambda: b"PAR1 not a parquet file", False),
        ("g.warc.gz", lambda: gzip.compress(b"\x00garbage" * 50), False),
        ("t.wet", lambda: _warc(4)[:-300], True),  # the last record is cut
        ("t.txt.gz", lambda: _half(gzip.compress(b"Some words. " * 500)), False),
        ("u16.jsonl", lambda: _jsonl(docs(3)).decode().encode("utf-16"), False),
    ],
)
def test_a_damaged_file_is_quarantined_as_a_file_and_the_run_goes_on(tmp_path, capsys, name, make, before):
    good = tmp_path / "good.jsonl"
    good.write_bytes(_jsonl(docs(3, 100)))
    bad = tmp_path / name
    bad.write_bytes(make())
    out, stats, quarantine = _run(tmp_path, [good, bad])
    (entry,) = [q for q in quarantine if q.get("scope") == "file"]
    assert entry["path"] == str(bad) and entry["line"] == 0 and entry["reason"].startswith("unreadable file")
    (failed,) = stats["files"]["failed"]
    assert failed["path"] == str(bad) and (failed["records_before"] > 0) == before
    assert ("partial file" in entry["reason"]) == before
    kept_ids = {r["id"] for r in read_gz_jsonl(out / "kept")}
    assert {"d100", "d101", "d102"} <= kept_ids  # the good file went through
    assert f"warning: {bad}" in capsys.readouterr().err
    assert (out / "_COMPLETE.json").is_file()


def test_line_ends_never_merge_records_and_a_utf8_bom_is_read(tmp_path):
    rows = docs(30)
    files = []
    for name, data in [
        ("cr.jsonl", _jsonl(rows[:10]).replace(b"\n", b"\r")),
        ("crlf.jsonl", _jsonl(rows[10:20]).replace(b"\n", b"\r\n")),
        ("bom.jsonl", b"\xef\xbb\xbf" + _jsonl(rows[20:])),
    ]:
        files.append(tmp_path / name)
        files[-1].write_bytes(data)
    out, stats, quarantine = _run(tmp_path, files)
    assert stats["totals"]["input"] == 30 and quarantine == []


def test_repeated_ids_are_renamed_in_input_order_and_counted(tmp_path, capsys):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_bytes(
        _jsonl([r | {"id": "same"} for r in docs(3)] + [{"id": "same#2", "text": docs(1, 50)[0]["text"]}])
    )
    b.write_bytes(_jsonl([r | {"id": "same"} for r in docs(2, 10)]))
    out, stats, _ = _run(tmp_path, [a, b])
    rows = read_gz_jsonl(out / "kept") + read_gz_jsonl(out / "rejected")
    ids = sorted(r["id"] for r in rows)
    assert ids == ["same", "same#2", "same#3", "same#4", "same#5", "same#6"]
    assert stats["duplicate_ids"] == {"renamed": 4}
    assert all(r["metadata"]["original_id"] == "same" for r in rows if r["id"] not in ("same", "same#2"))
    assert "4 documents had the id of an earlier one" in capsys.readouterr().err


def test_field_names_are_settable_and_a_file_without_them_is_reported(tmp_path):
    path = tmp_path / "other.jsonl"
    path.write_bytes(_jsonl(docs(6, 0, "doc_id", "content")))
    runner = CliRunner()
    plain = runner.invoke(
        app, ["data", "clean", str(path), "--out", str(tmp_path / "a"), "--languages", "eng_Latn"]
    )
    assert plain.exit_code == 0, plain.output
    assert "6 of 6 records quarantined" in plain.stderr and "--text-key" in plain.stderr
    stats = json.loads((tmp_path / "a" / "stats.json").read_text())
    assert stats["files"]["mostly_quarantined"][0]["quarantined"] == 6
    keyed = runner.invoke(
        app,
        ["data", "clean", str(path), "--out", str(tmp_path / "b"), "--languages", "eng_Latn"]
        + ["--text-key", "content", "--id-key", "doc_id", "--set", "data.min_words=5"],
    )
    assert keyed.exit_code == 0, keyed.output
    kept = read_gz_jsonl(tmp_path / "b" / "kept")
    assert sorted(r["id"] for r in kept) == [f"d{i}" for i in range(6)]
    assert "content" not in kept[0]["metadata"] and "doc_id" not in kept[0]["metadata"]


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Ruf uns an: +49 30 1234567.", "deu_Latn"),
        ("Telefon 030 12345678 (Zentrale).", "deu_Latn"),
        ("Telefon +49 (0)30 1234567.", "deu_Latn"),
        ("Appelez le 01 42 68 53 00.", "fra_Latn"),
        ("Call 020 7946 0958 today.", "eng_Latn"),
    ],
)
def test_european_phone_numbers_are_redacted(text, lang):
    out, counts = redact(text, lang)
    assert counts == {"phone": 1} and "<PHONE>" in out


def test_numbers_that_are_not_phones_stay(tmp_path):
    text = "Am 12.03.2024 kostete es 1 234 567 EUR (ISBN 978-3-16-148410-0), Artikel 1948."
    assert redact(text, "deu_Latn") == (text, {})


def test_an_old_run_folder_with_done_marker_is_curated_afresh(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_bytes(_jsonl(docs(3)))
    out = tmp_path / "out"
    out.mkdir()
    (out / "_DONE.json").write_text("{}")  # a completed run of an older version: not trusted
    (out / "stats.json").write_text("{}")
    stats = clean([good], out, CFG, ["eng_Latn"], progress=False)
    assert stats["totals"]["input"] == 3 and not (out / "_DONE.json").exists()
    assert json.loads((out / "stats.json").read_text())["totals"]["input"] == 3

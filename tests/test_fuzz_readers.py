"""Fuzzing every reader (issue #13): generated inputs (hypothesis) and hostile files (tests/hostile_inputs.py).

Properties: reading never raises (a bad file ends in one file-level quarantine entry, last), nothing is lost (one
item per record, or a file-level entry saying why not), line ends and compression never change what is read;
``data clean`` and ``data bitext filter`` as commands exit 0 on all hostile files at once, print no traceback,
do not hang and keep ``input = kept + rejected + quarantined``.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hostile_inputs as H
from data_helpers import read_gz_jsonl
from linguabridge.data.bitext.readers import bitext_files, read_pairs
from linguabridge.data.readers import read_file
from linguabridge.data.records import Document
from linguabridge.io import Quarantined, iter_jsonl

pytest.importorskip("zstandard")
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _compress(data: bytes, suffix: str) -> bytes:
    if suffix == ".gz":
        return gzip.compress(data)
    if suffix == ".zst":
        return H._zst_stream(data)
    return data


def _file_entries(items) -> list[Quarantined]:
    return [x for x in items if isinstance(x, Quarantined) and x.scope == "file"]


def _check_read(items, case: H.Case) -> None:
    """At most one file-level entry, last; without one, exactly one item per record."""
    failures = _file_entries(items)
    assert len(failures) <= 1 and (not failures or items[-1] is failures[0]), case.name
    records = len(items) - len(failures)
    if case.exact and not failures:
        assert records == case.records, f"{case.name}: {records} items for {case.records} records"
    elif case.exact:  # a partial file: what came before the damage, never more than the file holds
        assert records <= case.records, case.name


# ---------------------------------------------------------------------------------------- generated
record = st.fixed_dictionaries(
    {"id": st.one_of(st.text(max_size=6), st.integers()), "text": st.text(max_size=40)},
    optional={"metadata": st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)},
)


@FUZZ
@given(
    rows=st.lists(record, max_size=12),
    data=st.data(),
    suffix=st.sampled_from(["", ".gz", ".zst"]),
    bom=st.booleans(),
)
def test_line_ends_bom_and_compression_never_change_what_is_read(rows, data, suffix, bom):
    ends = data.draw(
        st.lists(st.sampled_from([b"\n", b"\r\n", b"\r"]), min_size=len(rows), max_size=len(rows))
    )
    payload = (b"\xef\xbb\xbf" if bom else b"") + b"".join(
        json.dumps(r, ensure_ascii=False).encode() + end for r, end in zip(rows, ends, strict=True)
    )
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"x.jsonl{suffix}"
        path.write_bytes(_compress(payload, suffix))
        assert [obj for _, obj in iter_jsonl(path)] == rows
        docs = list(read_file(path))
    assert len(docs) == len(rows)
    for doc, row in zip(docs, rows, strict=True):
        assert isinstance(doc, Document) and doc.text == row["text"] and doc.id == str(row["id"])


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@FUZZ
@given(values=st.lists(st.one_of(json_value, st.dictionaries(st.sampled_from(["id", "text", "metadata", "url"]),
                                                              json_value, max_size=4)), max_size=10))  # fmt: skip
def test_any_json_shape_gives_one_item_per_line(values):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.jsonl"
        path.write_text("".join(json.dumps(v) + "\n" for v in values), encoding="utf-8")
        items = list(read_file(path))
        pairs = list(read_pairs(path, "jsonl", "eng_Latn", "deu_Latn"))
    assert len(items) == len(values) == len(pairs)
    for item, v in zip(items, values, strict=True):
        ok = isinstance(v, dict) and isinstance(v.get("text"), str)
        assert isinstance(item, Document) == ok


@FUZZ
@given(blob=st.binary(max_size=3000), file=st.sampled_from(
    ["x.jsonl", "x.jsonl.gz", "x.jsonl.zst", "x.parquet", "x.txt", "x.txt.gz", "x.wet", "x.warc.gz"]))  # fmt: skip
def test_random_bytes_never_raise_in_any_reader(blob, file):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / file
        path.write_bytes(blob)
        items = list(read_file(path))
        assert len(_file_entries(items)) <= 1
        bitext = Path(d) / file.replace("x.", "x.en-de.").replace(".txt", ".tsv").replace(".wet", ".tmx")
        bitext = bitext.with_name(bitext.name.replace(".warc.gz", ".tsv.gz"))
        path.rename(bitext)
        ((p, kind),) = bitext_files([bitext])
        assert len(_file_entries(list(read_pairs(p, kind, None, None)))) <= 1


@FUZZ
@given(cut=st.floats(0, 1), suffix=st.sampled_from([".gz", ".zst"]), kind=st.sampled_from(["jsonl", "tsv"]))
def test_a_cut_compressed_file_keeps_a_prefix_and_says_so(cut, suffix, kind):
    rows = H.docs(30)
    if kind == "jsonl":
        payload = b"".join(json.dumps(r).encode() + b"\n" for r in rows)
    else:
        payload = "".join(f"{r['text'][:60]}\t{r['id']}\n" for r in rows).encode()
    full = _compress(payload, suffix)
    n = int(len(full) * cut)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"x.en-de.{kind}{suffix}"
        path.write_bytes(full[:n])
        items = list(read_file(path)) if kind == "jsonl" else list(read_pairs(path, "tsv", None, None))
    failures = _file_entries(items)
    if n == 0:  # an empty file holds nothing, compressed or not
        assert items == []
        return
    if n == len(full):
        assert not failures and len(items) == 30
        return
    assert len(failures) == 1 and items[-1] is failures[0]
    good = [x for x in items[:-1] if not isinstance(x, Quarantined)]
    if kind == "jsonl":  # the records before the damage are the file's first ones, in order
        assert [x.id for x in good] == [r["id"] for r in rows[: len(good)]]
    assert str(len(items) - 1) in failures[0].reason or len(items) == 1


# ------------------------------------------------------------------------------------- hostile files
@pytest.mark.parametrize("case", H.clean_cases(), ids=lambda c: c.name)
def test_clean_readers_on_hostile_files(tmp_path, case):
    path = tmp_path / case.file
    path.write_bytes(case.make())
    _check_read(list(read_file(path)), case)


@pytest.mark.parametrize("case", H.bitext_cases(), ids=lambda c: c.name)
def test_bitext_readers_on_hostile_files(tmp_path, case):
    path = tmp_path / case.file
    path.write_bytes(case.make())
    items = [x for p, kind in bitext_files([path]) for x in read_pairs(p, kind, None, None)]
    _check_read(items, case)


def _write_all(root: Path, cases, good) -> list[Path]:
    root.mkdir()
    files = [good(root)[0]]
    for case in cases:
        files.append(root / case.file)
        files[-1].write_bytes(case.make())
    return files


def _cli(args: list[str]) -> subprocess.CompletedProcess:
    code = "from linguabridge.cli.main import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=240)


def _outputs(out: Path) -> tuple[int, int, list[dict]]:
    quarantine = [json.loads(x) for x in (out / "quarantine.jsonl").read_text().splitlines()]
    return len(read_gz_jsonl(out / "kept")), len(read_gz_jsonl(out / "rejected")), quarantine


def test_data_clean_command_on_every_hostile_file_at_once(tmp_path):
    cases = H.clean_cases()
    files = _write_all(tmp_path / "in", cases, H.good_clean_file)
    out = tmp_path / "out"
    res = _cli(["data", "clean", *map(str, files), "--out", str(out), "--languages", "eng_Latn",
                "--set", "data.min_words=5"])  # fmt: skip
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-3000:]
    stats = json.loads((out / "stats.json").read_text())
    kept, rejected, quarantine = _outputs(out)
    t = stats["totals"]
    assert t["input"] == t["kept"] + t["rejected"] + t["quarantined"]
    assert (kept, rejected, len(quarantine)) == (t["kept"], t["rejected"], t["quarantined"])
    failed = {f["path"] for f in stats["files"]["failed"]}
    assert failed == {q["path"] for q in quarantine if q.get("scope") == "file"}
    read = sum(len(list(read_file(f))) for f in files)  # every item a reader yields is accounted for
    assert t["input"] == read
    assert all(f"warning: {p}" in res.stderr for p in failed)
    assert (out / "_COMPLETE.json").is_file()


def test_data_bitext_filter_command_on_every_hostile_file_at_once(tmp_path):
    cases = H.bitext_cases()
    files = _write_all(tmp_path / "in", cases, H.good_bitext_file)
    out = tmp_path / "out"
    res = _cli(["data", "bitext", "filter", *map(str, files), "--out", str(out), "--semantic", "none"])
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-3000:]
    stats = json.loads((out / "stats.json").read_text())
    kept, rejected, quarantine = _outputs(out)
    t = stats["totals"]
    assert t["input"] + t["added_reversed"] == t["kept"] + t["rejected"] + t["quarantined"]
    assert (kept, rejected, len(quarantine)) == (t["kept"], t["rejected"], t["quarantined"])
    read = sum(len(list(read_pairs(p, k, None, None))) for p, k in bitext_files(files))
    assert t["input"] == read
    assert {f["path"] for f in stats["files"]["failed"]} == {
        q["path"] for q in quarantine if q.get("scope") == "file"
    }
    assert (out / "_COMPLETE.json").is_file()


def test_io_module_reads_no_more_than_asked(tmp_path):
    """A 10 MB line is read as one record, not split or dropped."""
    big = "word " * 2_000_000
    path = tmp_path / "big.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "b", "text": big}) + "\n")
    ((_, obj),) = list(iter_jsonl(path))
    assert obj["text"] == big and len(big) > io.DEFAULT_BUFFER_SIZE

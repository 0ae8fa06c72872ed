"""data bitext filter on damaged and odd inputs (issue #13): bad files are quarantined as files, an unknown
language is a user error before reading, repeated ids do not break caps, outputs are per run with a marker."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest

from data_helpers import read_gz_jsonl
from hostile_inputs import DE, EN, _half
from linguabridge.config import BitextConfig
from linguabridge.data.bitext.filter import filter_pairs

CFG = BitextConfig(semantic="none", dedup="none")
TSV = "".join(f"{EN} ({i})\t{DE} ({i})\n" for i in range(30))


def _cli(*args):
    code = "from linguabridge.cli.main import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def _accounting(stats: dict) -> None:
    t = stats["totals"]
    assert t["input"] + t["added_reversed"] == t["kept"] + t["rejected"] + t["quarantined"]


@pytest.mark.parametrize("code", ["xx_Fake", "deu_Latm"])
def test_an_unknown_language_is_a_user_error_before_reading(tmp_path, code):
    src = tmp_path / "pairs.tsv"
    src.write_text(TSV, encoding="utf-8")
    out = tmp_path / "out"
    res = _cli(
        "data", "bitext", "filter", str(src), "--out", str(out), "--src-lang", code, "--tgt-lang", "de"
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"unknown language code '{code}'" in res.stderr and "linguabridge languages" in res.stderr
    if code == "deu_Latm":
        assert "did you mean 'deu_Latn'" in res.stderr
    assert not out.exists()


def test_repeated_ids_are_renamed_and_caps_count_pairs(tmp_path):
    rows = [{"id": "same", "src": f"{EN} ({i})", "tgt": f"{DE} ({i})"} for i in range(4)]
    src = tmp_path / "pairs.en-de.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    stats = filter_pairs([src], tmp_path / "out", CFG.model_copy(update={"max_per_direction": 2}))
    kept = read_gz_jsonl(tmp_path / "out" / "kept")
    assert len(kept) == 2 and stats["rejected"] == {"over_direction_cap": 2}  # was: kept 0 of 4
    ids = [r["id"] for r in kept + read_gz_jsonl(tmp_path / "out" / "rejected")]
    assert sorted(ids) == ["same", "same#2", "same#3", "same#4"] and stats["duplicate_ids"] == {"renamed": 3}
    _accounting(stats)


@pytest.mark.parametrize(
    ("name", "data", "partial"),
    [
        ("t.en-de.tsv.gz", _half(gzip.compress(TSV.encode())), True),
        ("p.en-de.tsv.gz", TSV.encode(), False),
        ("f.en-de.parquet", b"PAR1 not parquet", False),
        ("b.tmx", b"<tmx><body><tu>", False),
        ("u.en-de.tsv", TSV.encode("utf-16"), False),
    ],
)
def test_a_damaged_file_is_quarantined_as_a_file_and_the_run_goes_on(tmp_path, capsys, name, data, partial):
    good = tmp_path / "good.en-de.tsv"
    good.write_text("Good morning, everyone.\tGuten Morgen, alle zusammen.\n", encoding="utf-8")
    bad = tmp_path / name
    bad.write_bytes(data)
    stats = filter_pairs([good, bad], tmp_path / "out", CFG)
    quarantine = [json.loads(x) for x in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    (entry,) = [q for q in quarantine if q.get("scope") == "file"]
    assert entry["path"] == str(bad) and ("partial file" in entry["reason"]) == partial
    assert stats["files"]["failed"][0]["path"] == str(bad)
    assert any(r["src"].startswith("Good morning") for r in read_gz_jsonl(tmp_path / "out" / "kept"))
    assert f"warning: {bad}" in capsys.readouterr().err
    _accounting(stats)


def test_mostly_quarantined_file_is_reported(tmp_path, capsys):
    src = tmp_path / "pairs.en-de.tsv"
    src.write_text("one column only\n" * 5 + f"{EN}\t{DE}\n", encoding="utf-8")
    stats = filter_pairs([src], tmp_path / "out", CFG)
    (report,) = stats["files"]["mostly_quarantined"]
    assert report["records"] == 6 and report["quarantined"] == 5
    assert "5 of 6 records quarantined" in capsys.readouterr().err


def test_outputs_are_per_run_with_a_marker_and_stats_are_byte_identical(tmp_path):
    src = tmp_path / "pairs.en-de.tsv"
    src.write_text(TSV, encoding="utf-8")
    out = tmp_path / "out"
    filter_pairs([src], out, CFG)
    first = {
        n: (out / n).read_bytes() for n in ("stats.json", "quarantine.jsonl", "kept/part-00000.jsonl.gz")
    }
    assert (out / "_COMPLETE.json").is_file() and "seconds" in json.loads((out / "timings.json").read_text())
    filter_pairs([src], out, CFG)
    assert first == {n: (out / n).read_bytes() for n in first}

    class Broken:  # an encoder that fails mid-run
        name = "broken"

        def encode(self, texts):
            raise RuntimeError("encoder died")

    with pytest.raises(RuntimeError):
        filter_pairs(
            [src], out, CFG.model_copy(update={"semantic": "margin", "min_pool": 2}), encoder=Broken()
        )
    assert not (out / "_COMPLETE.json").exists()
    assert not (out / "stats.json").exists() and not (out / "kept").exists()  # no stale result left behind

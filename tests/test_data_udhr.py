"""The curation quality report on real text (UDHR, ../shared): the issue's targets, asserted."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "eval_curation_udhr.py"


@pytest.mark.shared
def test_udhr_quality_report_meets_targets(shared_dir, tmp_path):
    udhr = shared_dir / "data" / "udhr" / "udhr-articles-1-15.jsonl"
    if not udhr.is_file():
        pytest.skip("UDHR file absent")
    spec = importlib.util.spec_from_file_location("eval_curation_udhr", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    report = mod.main(["--udhr", str(udhr), "--out", str(tmp_path)])
    assert report["recall_clean"] >= 0.9
    assert report["precision"] >= 0.95
    removed = report["removed_share"]
    assert removed["near_dup"] >= 0.95 and removed["exact_dup"] == 1.0
    assert removed["wrong_language"] >= 0.95 and removed["garbage"] == 1.0 and removed["boilerplate"] == 1.0
    assert len(report["lid_documents"]) == 29
    assert min(report["lid_documents"].values()) >= 0.97, report["lid_documents"]
    assert "near_duplicate" not in report["clean_lost_reasons"]  # no clean document merged with another

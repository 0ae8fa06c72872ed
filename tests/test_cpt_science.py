"""The forgetting science script runs end to end (at a few steps; the real run takes minutes)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_science_forgetting_script_runs_and_reports(tmp_path):
    spec = importlib.util.spec_from_file_location("science", ROOT / "scripts" / "science_forgetting.py")
    science = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(science)
    args = ["--out", str(tmp_path), "--seeds", "0", "--new", "tha_Thai", "npi_Deva", "--vocab", "512"]
    args += [
        "--hidden",
        "32",
        "--pretrain-steps",
        "4",
        "--cpt-steps",
        "4",
        "--eval-every",
        "2",
        "--micro-batch",
        "4",
    ]
    report = science.main(args)
    summary = report["summary"]
    for run in ("a_new_only", "b_replay"):
        assert set(summary[run]["languages"]) == {"eng_Latn", "zho_Hans", "tha_Thai", "npi_Deva"}
        assert summary[run]["learning_new"] > 0  # even 4 steps lower the new languages' loss
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["summary"]["verdict"] == summary["verdict"]
    assert "(a) new only" in (tmp_path / "results.md").read_text()

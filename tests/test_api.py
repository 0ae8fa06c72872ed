"""The Python API takes what the CLI takes and gives the same result; the README's example runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import linguabridge as lb
from linguabridge.errors import LinguabridgeError

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_light_and_lists_the_api():
    code = "import sys, linguabridge as lb; print('torch' in sys.modules, lb.__all__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("False")  # no torch, no transformers until a function is used
    for name in ("clean", "filter_bitext", "plan_mixture", "train_stage", "evaluate", "build_report", "run"):
        assert name in out and callable(getattr(lb, name))


def test_clean_takes_iso_codes_like_the_cli(tmp_path):
    web = lb.demo_file("web.jsonl")
    api_stats = lb.clean([web], tmp_path / "api", languages=["en", "de", "id"], progress=False)
    assert api_stats["totals"]["kept"] > 0  # iso codes were once "not targeted" for every document
    cli = [
        sys.executable,
        "-m",
        "linguabridge.cli.main",
        "data",
        "clean",
        str(web),
        "--out",
        str(tmp_path / "cli"),
    ]
    subprocess.run([*cli, "--languages", "en,de,id"], check=True, capture_output=True)
    for rel in ("stats.json", "quarantine.jsonl", "kept/part-00000.jsonl.gz", "rejected/part-00000.jsonl.gz"):
        assert (tmp_path / "api" / rel).read_bytes() == (tmp_path / "cli" / rel).read_bytes(), rel


def test_overrides_as_dict_or_strings_and_errors_as_the_cli_prints_them():
    assert lb.load_config("demo", {"data.min_words": 7}).data.min_words == 7
    assert lb.load_config(None, ["cpt_stage1.optim.lr=2e-5"]).cpt_stage1.optim.lr == 2e-5
    with pytest.raises(LinguabridgeError) as exc:
        lb.load_config(None, {"cpt_stage1.seq_len": 0})
    assert exc.value.message.startswith("--set cpt_stage1.seq_len=0:")
    with pytest.raises(LinguabridgeError):
        lb.language_codes("en,xx_Fake")


def test_readme_example_runs_as_written(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Python API") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "recipes").symlink_to(ROOT / "recipes")
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env={**os.environ}
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "kept of" in proc.stdout and "('stage1'" in proc.stdout

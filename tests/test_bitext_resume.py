"""bitext filter killed with -9 mid-run: no completion marker and no stale result are left, and the same
command run again gives byte-identical outputs (as tests/test_data_resume.py checks for data clean)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

OUTPUTS = ("stats.json", "quarantine.jsonl", "kept/part-00000.jsonl.gz", "rejected/part-00000.jsonl.gz")


def _cli(files: list[Path], out: Path) -> list[str]:
    code = "from linguabridge.cli.main import main; main()"
    return [sys.executable, "-c", code, "data", "bitext", "filter", *map(str, files), "--out", str(out),
            "--semantic", "none"]  # fmt: skip


def _snapshot(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in OUTPUTS}


def test_kill_minus_9_then_rerun_is_byte_identical(tmp_path):
    demo = Path(str(resources.files("linguabridge").joinpath("assets/demo/parallel.jsonl")))
    files = []
    for i in range(6):  # repeated ids and pairs across files: renames and duplicates are part of the bytes
        files.append(tmp_path / "in" / f"part{i}.jsonl")
        files[-1].parent.mkdir(exist_ok=True)
        shutil.copy(demo, files[-1])
    ref = tmp_path / "ref"
    subprocess.run(_cli(files, ref), check=True, capture_output=True, timeout=300)
    out = tmp_path / "out"
    subprocess.run(_cli(files[:1], out), check=True, capture_output=True, timeout=300)  # an earlier result
    proc = subprocess.Popen(_cli(files, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    spill = out / "_work" / "eng_Latn-ind_Latn.jsonl"  # pass 1 is under way
    deadline = time.time() + 120
    while not spill.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the kill must land mid-run"
    assert not (out / "_COMPLETE.json").exists()
    assert not (out / "stats.json").exists() and not (out / "kept").exists()  # the earlier result is gone
    subprocess.run(_cli(files, out), check=True, capture_output=True, timeout=300)
    assert _snapshot(out) == _snapshot(ref)
    assert (out / "_COMPLETE.json").is_file() and not (out / "_work").exists()

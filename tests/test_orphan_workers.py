"""kill -9 of a parallel `data clean`: its worker processes die with it, and the rerun is byte-identical."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data_helpers import prose, write_jsonl
from linguabridge.config import DataConfig
from linguabridge.data.clean import clean

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # field 4 of /proc/PID/stat: the parent's id
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _outputs(out: Path) -> dict[str, bytes]:
    files = [out / "stats.json", out / "quarantine.jsonl", *sorted((out / "kept").glob("*"))]
    files += sorted((out / "rejected").glob("*"))
    return {str(f.relative_to(out)): f.read_bytes() for f in files}


def test_workers_die_with_a_killed_parent_and_the_rerun_is_identical(tmp_path):
    files = []
    for s in range(8):
        rows = [{"id": f"s{s}d{d}", "text": prose(s * 1000 + d, sentences=9)} for d in range(150)]
        files.append(write_jsonl(tmp_path / "in" / f"part{s}.jsonl", rows))
    ref = tmp_path / "ref"
    clean(files, ref, DataConfig(), ["eng_Latn"], progress=False)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "linguabridge.cli.main", "data", "clean", *map(str, files)]
    cmd += ["--out", str(out), "--languages", "eng_Latn", "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = out / "_work" / "shard-00000" / "_DONE.json"
    deadline = time.time() + 180
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    workers = _children(proc.pid)
    assert proc.poll() is None and workers, "the kill must land while workers run"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 15
    while any(_alive(w) for w in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)], "orphaned workers kept running"
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert _outputs(out) == _outputs(ref)
    assert not list(out.rglob("*.tmp")), "a finished run leaves no temporary file"

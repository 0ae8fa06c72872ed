"""Sharded execution: kill -9 mid-run then the same command gives byte-identical outputs; workers agree."""

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

OUTPUTS = ("stats.json", "quarantine.jsonl")


def _corpus(root: Path, shards: int = 8, docs: int = 120) -> list[Path]:
    files = []
    for s in range(shards):
        rows = [{"id": f"s{s}d{d}", "text": prose(s * 1000 + d, sentences=9)} for d in range(docs)]
        rows.append({"id": f"s{s}dup", "text": prose(999_999, sentences=9)})  # the same text in every shard
        rows.append({"id": f"s{s}near", "text": prose(888_888) + f" Shard {s}."})  # near-duplicates
        files.append(write_jsonl(root / f"part{s}.jsonl", rows))
    with open(files[3], "ab") as f:
        f.write(b'{"broken json\n')
    return files


def _snapshot(out: Path) -> dict[str, bytes]:
    files = (
        [out / n for n in OUTPUTS] + sorted((out / "kept").glob("*")) + sorted((out / "rejected").glob("*"))
    )
    return {str(f.relative_to(out)): f.read_bytes() for f in files}


def _cli(files: list[Path], out: Path) -> list[str]:
    code = "from linguabridge.cli.main import main; main()"
    return [
        sys.executable,
        "-c",
        code,
        "data",
        "clean",
        *map(str, files),
        "--out",
        str(out),
        "--languages",
        "eng_Latn",
    ]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    files = _corpus(root / "in")
    ref = root / "ref"
    stats = clean(files, ref, DataConfig(), ["eng_Latn"], progress=False)
    return root, files, ref, stats


def test_kill_minus_9_then_resume_is_byte_identical(setup):
    root, files, ref, stats = setup
    out = root / "killed"
    env = {**os.environ, "PYTHONHASHSEED": "random"}
    proc = subprocess.Popen(_cli(files, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = out / "_work" / "shard-00000" / "_DONE.json"
    deadline = time.time() + 120
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert first.exists() and not (out / "_COMPLETE.json").exists(), "the kill must land mid-run"
    done_before = sorted(p.parent.name for p in (out / "_work").glob("shard-*/_DONE.json"))
    assert len(done_before) < len(files)
    subprocess.run(_cli(files, out), env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert _snapshot(out) == _snapshot(ref)
    assert not (out / "_work").exists()
    t = stats["totals"]
    assert t["input"] == 8 * 122 + 1 and t["quarantined"] == 1
    assert stats["steps"]["dedup"]["dropped:exact_duplicate"] == 7
    assert stats["steps"]["dedup"]["dropped:near_duplicate"] == 7


def test_parallel_workers_give_the_same_bytes(setup):
    root, files, ref, _ = setup
    out = root / "parallel"
    clean(files, out, DataConfig(workers=2), ["eng_Latn"], progress=False)
    assert _snapshot(out) == _snapshot(ref)


@pytest.mark.slow
def test_ray_local_cluster_gives_the_same_bytes(setup):
    """The cluster path (``data.executor: ray``) on a local Ray instance: same shards, same bytes."""
    ray = pytest.importorskip("ray")
    root, files, ref, _ = setup
    out = root / "ray"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        clean(files, out, DataConfig(executor="ray"), ["eng_Latn"], progress=False)
    finally:
        ray.shutdown()
    assert _snapshot(out) == _snapshot(ref)

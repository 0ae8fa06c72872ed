"""``data synth`` killed with SIGKILL mid-run against a slow loopback server, then rerun: the outputs are
byte-identical to an uninterrupted run's, and no request whose result was cached is sent again."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from synth_server import Reply, ScriptedServer, completion

N = 12
# What differs between invocations by design: the cache's timestamps and what this invocation did.
PER_INVOCATION = {"cache.sqlite", "cache.sqlite-wal", "cache.sqlite-shm", "last_run.json"}
WORDS = [
    "river",
    "lantern",
    "harvest",
    "compass",
    "orchard",
    "glacier",
    "meadow",
    "harbour",
    "festival",
    "valley",
]


def _answer(body: dict, headers) -> Reply:
    """The same text for the same prompt, different across prompts (so none is a duplicate of another)."""
    digest = hashlib.sha256(json.dumps(body["messages"]).encode()).digest()
    words = [WORDS[b % len(WORDS)] for b in digest[:24]]
    text = "Once upon a time the people of a small town by the sea kept a simple custom. " + " ".join(
        f"They spoke about the {w} as if it were an old friend." for w in words
    )
    return Reply(200, completion(text), delay=0.25)


def _cmd(out: Path, url: str, words: Path) -> list[str]:
    return [sys.executable, "-m", "linguabridge.cli.main", "data", "synth", "--out", str(out), "--languages",
            "eng_Latn", "--family", "story,explanation", "--n", str(N), "--endpoint", url, "--model", "m",
            "--keywords", f"eng_Latn={words}", "--seed", "3", "--concurrency", "2",
            "--set", "synthetic.min_words=5", "--set", "synthetic.api_key_env=LB_NONE"]  # fmt: skip


def _files(out: Path) -> dict[str, bytes]:
    return {
        str(f.relative_to(out)): f.read_bytes()
        for f in sorted(out.rglob("*"))
        if f.is_file() and f.name not in PER_INVOCATION
    }


def test_kill_minus_9_then_rerun_is_byte_identical_and_sends_nothing_twice(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    server = ScriptedServer(_answer)
    env = {**os.environ, "PYTHONHASHSEED": "random"}
    try:
        ref = tmp_path / "ref"
        subprocess.run(_cmd(ref, server.url, words), env=env, check=True, capture_output=True, timeout=300)
        assert len(server.keys()) == N  # one request per planned prompt

        out = tmp_path / "killed"
        start = len(server.keys())
        proc = subprocess.Popen(_cmd(out, server.url, words), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)  # fmt: skip
        deadline = time.time() + 120
        while len(server.keys()) - start < N // 2 and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
        assert not (out / "_COMPLETE.json").exists(), "the kill must land mid-run"
        with sqlite3.connect(out / "cache.sqlite") as db:
            cached = {row[0] for row in db.execute("SELECT key FROM results")}
        assert 0 < len(cached) < N
        # a writer killed mid-file leaves its temporary file (io.temp_path): the rerun must not keep it
        (out / "accepted").mkdir(exist_ok=True)
        (out / "accepted" / "part-00000_jsonl_gz.99999.tmp").write_bytes(b"half a file")

        before = len(server.keys())
        subprocess.run(_cmd(out, server.url, words), env=env, check=True, capture_output=True, timeout=300)
        resent = server.keys()[before:]
    finally:
        server.close()
    assert not set(resent) & cached  # no request whose result was cached went out again
    assert len(resent) == len(set(resent)) == N - len(cached)
    assert _files(out) == _files(ref)
    assert {"stats.json", "plan.jsonl", "failed.jsonl", "_COMPLETE.json"} <= set(_files(out))
    complete = json.loads((out / "_COMPLETE.json").read_text())
    assert complete["planned"] == N and complete["failed"] == 0
    assert complete["accepted"] + complete["rejected"] == N
    last = json.loads((out / "last_run.json").read_text())
    assert last["cached_before"] == len(cached) and last["requests"]["sent"] == N - len(cached)

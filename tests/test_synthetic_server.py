"""Synthetic generation end to end against real OpenAI-compatible servers on loopback.

The server under test is either a small HTTP server written here that generates with a tiny Qwen2 model in
process, or ``transformers serve`` with the same model (when FastAPI/uvicorn are installed), behind a proxy that
injects failures: HTTP 500, 429 with Retry-After, a response slower than the client's timeout, and one request
that always fails. Checked: no request is answered twice, no result is lost, every failure is counted, a rerun
retries only what failed, and a run killed mid-way resumes without re-sending what it had stored.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from linguabridge.config import SyntheticConfig
from linguabridge.data.generation import request_key
from linguabridge.data.synthetic.run import run_synthetic

API_KEY = "sk-test-do-not-log-4242"


class FlakyOpenAIServer:
    """``POST /v1/chat/completions``. ``plan[i]`` lists the actions for the successive attempts of the i-th
    distinct request to arrive (an HTTP status such as "500" or "429", or "timeout"; after the list: "ok"). Every attempt is logged with the
    request key the client computes (sha256 of messages, params, model)."""

    def __init__(self, answer, plan=None, delay: float = 0.0, hang_s: float = 12.0):
        self.answer, self.plan, self.delay, self.hang_s = answer, dict(plan or {}), delay, hang_s
        self.lock = threading.Lock()
        self.order: dict[str, int] = {}
        self.attempts: Counter = Counter()
        self.log: list[tuple[str, int, str]] = []  # (key, attempt, action)
        self.auth: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                params = {k: v for k, v in body.items() if k not in ("model", "messages")}
                key = request_key(body["messages"], params, body["model"])
                with server.lock:
                    server.order.setdefault(key, len(server.order))
                    server.attempts[key] += 1
                    n = server.attempts[key]
                    actions = server.plan.get(server.order[key], [])
                    action = actions[n - 1] if n <= len(actions) else "ok"
                    server.log.append((key, n, action))
                    server.auth.add(self.headers.get("Authorization", ""))
                if action == "timeout":
                    time.sleep(server.hang_s)  # the client has given up by now
                    return self._send(504, {"error": "late"})
                if action.isdigit():  # an injected HTTP error status
                    extra = {"Retry-After": "0"} if action == "429" else {}
                    return self._send(int(action), {"error": {"message": f"injected {action}"}}, extra)
                time.sleep(server.delay)
                text = server.answer(body)
                self._send(200, {"choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": text}}],
                                 "usage": {"completion_tokens": len(text.split())}})  # fmt: skip

            def _send(self, status, obj, headers=None):
                data = json.dumps(obj).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and closed the connection

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def ok_keys(self) -> Counter:
        with self.lock:
            return Counter(k for k, _, a in self.log if a == "ok")

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ------------------------------------------------------------------------------------------- the models
@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory, qwen_tokenizer):
    from linguabridge.config import ModelConfig
    from linguabridge.models import build_tiny_qwen2

    path = tmp_path_factory.mktemp("tiny-chat")
    model = build_tiny_qwen2(ModelConfig(), len(qwen_tokenizer), seed=0)
    model.config.use_cache = True
    model.save_pretrained(path)
    qwen_tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def in_process_answer(tiny_chat_model):
    """Real generation with the tiny model (random weights: the text is noise, the serving path is real)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_chat_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_chat_model).eval()

    def answer(body: dict) -> str:  # called from the server's threads concurrently, as a real server would
        inputs = tok.apply_chat_template(body["messages"], add_generation_prompt=True, return_tensors="pt",
                                         return_dict=True)  # fmt: skip
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=body.get("max_tokens", 8), do_sample=True,
                                 pad_token_id=tok.eos_token_id)  # fmt: skip
        return tok.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)

    return answer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def transformers_serve(tiny_chat_model):
    """``transformers serve`` on loopback with the tiny model; skipped without FastAPI/uvicorn."""
    if not all(importlib.util.find_spec(m) for m in ("fastapi", "uvicorn")):
        pytest.skip("transformers serve needs `pip install transformers[serving]`")
    exe = shutil.which("transformers") or str(Path(sys.executable).with_name("transformers"))
    port = _free_port()
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen(
        [exe, "serve", str(tiny_chat_model), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.skip("transformers serve exited at start")
                time.sleep(0.2)
        else:
            pytest.fail("transformers serve did not come up within 120 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _forward_to(url: str):
    def answer(body: dict) -> str:
        req = urllib.request.Request(f"{url}/v1/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())["choices"][0]["message"]["content"]

    return answer


@pytest.fixture(params=["in-process", pytest.param("transformers-serve", marks=pytest.mark.slow)])
def served(request, tiny_chat_model):
    """(answer function, model name the server expects)."""
    if request.param == "in-process":
        return request.getfixturevalue("in_process_answer"), "tiny-qwen2-chat"
    return _forward_to(request.getfixturevalue("transformers_serve")), str(tiny_chat_model)


# -------------------------------------------------------------------------------------------- the tests
def _cfg(tmp_path, url, **kw) -> SyntheticConfig:
    words = tmp_path / "words.txt"
    words.write_text("river\nlantern\nharvest\ncompass\norchard\nglacier\n", encoding="utf-8")
    base = dict(
        endpoint=url, model="tiny-qwen2-chat", families=["story", "explanation"], n_per_language=10,
        keyword_files={"eng_Latn": str(words)}, max_tokens=8, concurrency=3, timeout_s=10.0, max_retries=2,
        api_key_env="LB_TEST_KEY",
    )  # fmt: skip
    return SyntheticConfig(**(base | kw))


def _jsonl(path: Path) -> list[dict]:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_failures_retried_counted_and_nothing_lost(tmp_path, served, monkeypatch):
    monkeypatch.setenv("LB_TEST_KEY", API_KEY)
    answer, model_name = served
    plan = {1: ["500"], 2: ["429"], 3: ["timeout"], 4: ["500", "500", "500"]}  # request #4 never succeeds
    server = FlakyOpenAIServer(answer, plan)
    try:
        cfg = _cfg(tmp_path, server.url, model=model_name)
        stats = run_synthetic(cfg, ["eng_Latn"], tmp_path / "out", seed=0)
        req = stats["requests"]
        assert req["sent"] == 10 and req["succeeded"] == 9 and req["failed"] == 1
        assert req["retries"] == 5 and req["attempts"] == 15
        assert req["errors"] == {"http_429": 1, "http_500": 4, "timeout": 1}
        ok = server.ok_keys()
        assert len(ok) == 9 and set(ok.values()) == {1}  # no request answered twice
        assert stats["accepted"] + sum(stats["rejected"].values()) == 9  # every answer checked and kept
        (failed,) = _jsonl(tmp_path / "out" / "failed.jsonl")
        assert failed["error"].startswith("http_500") and failed["attempts"] == 3
        assert server.auth == {f"Bearer {API_KEY}"}  # the key goes in the header...
        for f in (tmp_path / "out").rglob("*"):
            if f.is_file() and f.suffix != ".gz":
                assert API_KEY.encode() not in f.read_bytes(), f  # ...and nowhere else

        server.plan.clear()  # the server is healthy again: the rerun sends only the failed request
        before = len(server.log)
        again = run_synthetic(cfg, ["eng_Latn"], tmp_path / "out", seed=0)
        assert [k for k, _, _ in server.log[before:]] == [failed["key"]]
        assert again["cached_before"] == 9 and again["failed"] == 0
        assert again["accepted"] + sum(again["rejected"].values()) == 10
        assert set(server.ok_keys().values()) == {1} and len(server.ok_keys()) == 10
    finally:
        server.close()


def test_unauthorised_is_a_final_failure_naming_the_variable(tmp_path, in_process_answer, monkeypatch):
    monkeypatch.setenv("LB_TEST_KEY", API_KEY)
    server = FlakyOpenAIServer(in_process_answer, {0: ["401"] * 5, 1: ["401"] * 5})
    try:
        stats = run_synthetic(
            _cfg(tmp_path, server.url, n_per_language=2), ["eng_Latn"], tmp_path / "o", seed=0
        )
        assert stats["requests"]["failed"] == 2 and stats["requests"]["retries"] == 0  # 401 is not retried
        errors = [r["error"] for r in _jsonl(tmp_path / "o" / "failed.jsonl")]
        assert len(errors) == 2
        assert all("http_401" in e and "$LB_TEST_KEY" in e and API_KEY not in e for e in errors)
    finally:
        server.close()


def test_killed_run_resumes_without_resending(tmp_path, in_process_answer):
    server = FlakyOpenAIServer(in_process_answer, delay=0.3)
    out = tmp_path / "out"
    words = tmp_path / "words.txt"
    words.write_text("river\nlantern\nharvest\ncompass\norchard\n", encoding="utf-8")
    sets = [
        "synthetic.max_tokens=8",
        "synthetic.concurrency=2",
        "synthetic.api_key_env=LB_NONE",
    ]
    cmd = [sys.executable, "-m", "linguabridge.cli.main", "data", "synth", "--out", str(out), "--languages",
           "eng_Latn", "--family", "story,explanation", "--n", "16", "--endpoint", server.url, "--model", "tiny",
           "--keywords", f"eng_Latn={words}", "--seed", "0"] + [a for s in sets for a in ("--set", s)]  # fmt: skip
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while sum(server.ok_keys().values()) < 6 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
        time.sleep(0.5)  # let in-flight server threads finish logging
        with sqlite3.connect(out / "cache.sqlite") as db:
            stored = {row[0] for row in db.execute("SELECT key FROM results")}
        answered = set(server.ok_keys())
        assert 6 <= len(answered) < 16 and stored <= answered
        assert len(answered - stored) <= 2  # at most the requests in flight when it died (concurrency 2)

        before = len(server.log)
        from linguabridge.config import RunConfig
        from linguabridge.recipe import apply_overrides

        syn = RunConfig.model_validate(apply_overrides({}, sets)).synthetic.model_copy(update={"endpoint": server.url, "model": "tiny", "n_per_language": 16,
                                       "families": ["story", "explanation"],
                                       "keyword_files": {"eng_Latn": str(words)}})  # fmt: skip
        stats = run_synthetic(syn, ["eng_Latn"], out, seed=0)
        resent = {k for k, _, _ in server.log[before:]}
        assert not resent & stored  # nothing that was stored is requested again
        assert stats["cached_before"] == len(stored) and stats["failed"] == 0
        assert stats["accepted"] + sum(stats["rejected"].values()) == 16  # nothing lost
        assert len(server.ok_keys()) == 16
        twice = [k for k, n in server.ok_keys().items() if n > 1]
        assert set(twice) <= answered - stored  # only requests in flight at the kill were answered twice
    finally:
        server.close()

"""Synthetic generation against hostile servers and hostile command lines (issue #13).

Every request ends as a result or as a failure with a reason, never as a traceback; the API key is stored
nowhere (every byte of every output file, the SQLite cache included, and the client's log lines); no wait
is unbounded; a command that generated nothing exits 2 with one line.
"""

from __future__ import annotations

import gzip
import json
import logging
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import get_args

import pytest
from typer.testing import CliRunner

from linguabridge.cli.main import app
from linguabridge.config import SyntheticConfig, SyntheticFamily
from linguabridge.data.generation import Outcome, Request, RunCounters
from linguabridge.data.openai_backend import (
    REDACTED,
    BadReply,
    OpenAIBackend,
    parse_reply,
    redact,
    retry_after_s,
)
from linguabridge.data.synthetic.prompts import load_families
from linguabridge.data.synthetic.run import failure_verdict, run_synthetic
from linguabridge.errors import ConfigError, LinguabridgeError
from synth_server import Reply, ScriptedServer, completion

KEY = "sk-hostile-test-key-0123456789abcdef"
PARAGRAPH = (
    "The river ran past the old orchard where the lantern makers lived. Every autumn, when the harvest was in, "
    "they carried their lanterns down to the water and set them floating, one for each family in the valley. "
    "Children followed the lights along the bank with a compass, pretending to chart a new country, and the "
    "old people sat on the stones and told the stories their own grandparents had told them long ago."
)


def _cfg(tmp_path: Path, url: str, **kw) -> SyntheticConfig:
    words = tmp_path / "words.txt"
    words.write_text("river\nlantern\nharvest\ncompass\norchard\nglacier\n", encoding="utf-8")
    base = dict(
        endpoint=url, model="m", families=["story", "explanation"], n_per_language=4, max_tokens=8,
        keyword_files={"eng_Latn": str(words)}, concurrency=2, timeout_s=5.0, max_retries=2,
        retry_wait_max_s=0.5, api_key_env="LB_HOSTILE_KEY",
    )  # fmt: skip
    return SyntheticConfig(**(base | kw))


def _every_byte(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (SQLite and its WAL included), gzip members decompressed too."""
    out = {}
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            data = f.read_bytes()
            out[str(f.relative_to(folder))] = data + (gzip.decompress(data) if f.suffix == ".gz" else b"")
    return out


# ------------------------------------------------------------------------------------------------ units
def test_redact_removes_the_key_and_credential_shapes_but_not_prose():
    text = (
        f"echo: Authorization: Bearer {KEY}; api_key={KEY}&x=1 {{'api-key': 'other-secret-value'}} "
        "basic dXNlcjpwYXNz https://user:hunter2hunter2@host/v1 sk-anotherkeyanotherkey1234"
    )
    got = redact(text, [KEY])
    assert KEY not in got and "other-secret-value" not in got and "dXNlcjpwYXNz" not in got
    assert "hunter2" not in got and "sk-anotherkey" not in got and got.count(REDACTED) >= 6
    assert redact("the bearer of good news", [KEY], credentials=False) == "the bearer of good news"
    assert redact(f"a model echoing {KEY}", [KEY], credentials=False) == f"a model echoing {REDACTED}"
    assert redact("no-key EMPTY", ["no-key"]) == "no-key EMPTY"  # placeholders are not secrets


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "86400"}, 86400.0),  # returned as asked: the backend caps it
        ({"retry-after": "inf"}, float("inf")),
        ({"retry-after": "-5"}, 0.0),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_read_whatever_the_server_sends(headers, expected):
    assert retry_after_s(headers) == expected


def test_retry_after_as_an_http_date():
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 < retry_after_s({"retry-after": when}) <= 31


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>", "not JSON"),
        (b"[1, 2]", "a JSON list"),
        (b'{"choices": {"0": 1}}', "no 'choices' list"),
        (b'{"choices": []}', "'choices' is empty"),
        (b'{"choices": ["x"]}', "choices[0] is a str"),
        (b'{"choices": [{"message": "hello"}]}', "message is a str"),
        (b'{"choices": [{"message": {"content": [{"type": "text", "text": "hi"}]}}]}', "content is a list"),
        (b'{"choices": [{"message": {"content": 3}}]}', "content is a int"),
        (b'{"choices": [{"message": {"content": "a\\ud800b"}}]}', "not valid Unicode"),  # sqlite refused it
    ],
)
def test_unusable_replies_say_what_is_wrong(body, reason):
    with pytest.raises(BadReply, match=reason.replace("[", r"\[").replace("]", r"\]")):
        parse_reply(body)


def test_usable_reply_keeps_only_numbers_in_usage():
    body = {"choices": [{"message": {"content": None}, "finish_reason": 7}],
            "usage": {"completion_tokens": 3, "leak": "Bearer x", "flag": True}}  # fmt: skip
    assert parse_reply(json.dumps(body).encode()) == ("", None, {"completion_tokens": 3})


def test_log_lines_of_the_client_and_its_children_are_redacted(caplog):
    from linguabridge.data.openai_backend import _redacted_logs

    caplog.set_level(logging.DEBUG)
    with _redacted_logs([KEY]):
        for name in ("openai._base_client", "httpx2", "httpcore2.created.later"):
            logging.getLogger(name).debug("headers: %s", {"Authorization": f"Bearer {KEY}"})
        logging.getLogger("httpx2").debug("mapping form %(auth)s", {"auth": f"Bearer {KEY}"})
    logging.getLogger("openai._base_client").debug("after the run: %s", "untouched")
    assert caplog.text.count(REDACTED) == 4 and KEY not in caplog.text and "untouched" in caplog.text
    assert f"mapping form Bearer {REDACTED}" in caplog.text


def test_families_setting_names_the_prompt_families():
    assert set(get_args(SyntheticFamily)) == set(load_families())


def test_failure_verdict_threshold(tmp_path):
    (tmp_path / "failed.jsonl").write_text('{"key": "k", "error": "http_500: boom"}\n', encoding="utf-8")
    assert failure_verdict({"failed": 0, "planned": 10}, tmp_path, 0.1) is None
    warning = failure_verdict({"failed": 1, "planned": 10}, tmp_path, 0.1)
    assert "1 of 10 requests failed (first: http_500: boom)" in warning and "failed.jsonl" in warning
    with pytest.raises(LinguabridgeError, match="2 of 10 requests failed") as exc:
        failure_verdict({"failed": 2, "planned": 10}, tmp_path, 0.1)
    assert "max_failed_share" in exc.value.hint
    with pytest.raises(LinguabridgeError, match="^nothing generated: 3 of 3"):
        failure_verdict({"failed": 3, "planned": 3}, tmp_path, 1.0)  # all failed: always an error


# --------------------------------------------------------------------------------------- hostile server
def test_key_echoed_with_retry_after_86400_is_stored_nowhere_and_the_run_ends(tmp_path, monkeypatch, caplog):
    """Errors echo the Authorization header with Retry-After: 86400 (and inf); answers echo it in the text,
    the finish reason and the usage. The key must be in no byte under the output folder and in no log line;
    every wait is capped, so the run ends within its bound."""
    monkeypatch.setenv("LB_HOSTILE_KEY", KEY)
    order: dict[str, int] = {}
    attempts: dict[str, int] = {}

    def reply(body, headers):
        auth = headers.get("Authorization", "")
        key = json.dumps(body["messages"])
        i = order.setdefault(key, len(order))
        attempts[key] = attempts.get(key, 0) + 1
        if i % 2 == 0 and attempts[key] <= 2:  # every other request: two refusals echoing the headers
            after = "86400" if attempts[key] == 1 else "inf"
            return Reply(429, {"error": {"message": f"rate limited for {auth}", "headers": dict(headers)}},
                         {"Retry-After": after})  # fmt: skip
        if i == 3:
            return Reply(400, f"invalid header Authorization: {auth} (api_key={KEY})".encode())
        text = f"{PARAGRAPH} Your key was {auth} and {KEY}."
        return Reply(200, completion(text) | {"usage": {"note": auth, "completion_tokens": 9}})

    server = ScriptedServer(reply)
    cfg = _cfg(tmp_path, server.url, max_retries=3, retry_wait_max_s=0.3)
    bound = cfg.n_per_language * (
        cfg.timeout_s * (cfg.max_retries + 1) + cfg.retry_wait_max_s * cfg.max_retries
    )
    caplog.set_level(logging.DEBUG)
    try:
        t0 = time.monotonic()
        stats = run_synthetic(cfg, ["eng_Latn"], tmp_path / "out", seed=0)
        elapsed = time.monotonic() - t0
    finally:
        server.close()
    assert server.auth == {f"Bearer {KEY}"}  # the key did go where it belongs
    assert elapsed < min(bound, 20), elapsed  # 86400 s and inf were capped at 0.3 s
    assert stats["requests"]["retries"] == 4 and stats["failed"] == 1  # the 400 is final, the 429s retried
    assert stats["accepted"] + sum(stats["rejected"].values()) + stats["failed"] == stats["planned"]
    files = _every_byte(tmp_path / "out")
    assert {"cache.sqlite", "failed.jsonl", "stats.json", "plan.jsonl", "_COMPLETE.json"} <= set(files)
    leaks = [name for name, data in files.items() if KEY.encode() in data]
    assert not leaks, leaks
    assert KEY not in caplog.text
    (failed,) = [json.loads(x) for x in (tmp_path / "out" / "failed.jsonl").read_text().splitlines()]
    assert failed["error"].startswith("http_400: invalid header Authorization: Bearer [REDACTED]")
    outputs = (files["accepted/part-00000.jsonl.gz"] + files["rejected/part-00000.jsonl.gz"]).decode(
        "utf-8", "replace"
    )
    assert f"Your key was Bearer {REDACTED} and {REDACTED}." in outputs  # the rest of the text is kept


def test_credentials_in_the_endpoint_url_are_not_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("LB_HOSTILE_KEY", KEY)

    class Down:
        def run(self, requests, on_outcome):
            for r in requests:
                on_outcome(Outcome(r.key, None, "connection: refused"))
            return RunCounters(sent=len(requests), failed=len(requests))

    endpoint = f"https://user:{KEY}@llm.example/v1?api-key=other-secret-value"
    stats = run_synthetic(_cfg(tmp_path, endpoint), ["eng_Latn"], tmp_path / "out", seed=0, backend=Down())
    assert stats["config"]["endpoint"] == f"https://user:{REDACTED}@llm.example/v1?api-key={REDACTED}"
    assert not [
        n for n, d in _every_byte(tmp_path / "out").items() if KEY.encode() in d or b"other-secret" in d
    ]


def test_a_server_trickling_bytes_is_cut_at_timeout_s(tmp_path):
    """The client's own timeout is per socket read: a body sent a byte at a time never tripped it."""
    server = ScriptedServer(lambda body, headers: Reply(200, completion(PARAGRAPH), delay=30))
    try:
        t0 = time.monotonic()
        stats = run_synthetic(_cfg(tmp_path, server.url, n_per_language=2, timeout_s=1.0, max_retries=1),
                              ["eng_Latn"], tmp_path / "out", seed=0)  # fmt: skip
        elapsed = time.monotonic() - t0
    finally:
        server.close()
    assert stats["failed"] == 2 and stats["requests"]["errors"] == {"timeout": 4}
    assert elapsed < 10, elapsed


# ---------------------------------------------------------------------------------------------- the CLI
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--family", "poem"], "--family poem: Input should be 'explanation', 'story' or 'fewshot'"),
        (["--family", "story,"], "--family story,: Input should be"),
        (["--n", "0"], "--n 0: Input should be greater than or equal to 1"),
        (["--concurrency", "-3"], "--concurrency -3: Input should be greater than or equal to 1"),
        (["--endpoint", "ftp://host"], "endpoint 'ftp://host' is not an http(s) URL"),
        (["--languages", "xx_Nope"], "xx_Nope"),
    ],
)
def test_bad_command_line_values_are_one_line_errors(tmp_path, args, message):
    base = ["data", "synth", "--out", str(tmp_path / "o"), "--languages", "eng_Latn", "--endpoint",
            "http://127.0.0.1:9/v1", "--model", "m", "--family", "story", "--keywords",
            f"eng_Latn={_cfg(tmp_path, '').keyword_files['eng_Latn']}"]  # fmt: skip
    res = CliRunner().invoke(app, base + args)
    assert isinstance(res.exception, LinguabridgeError), res.output
    assert message in res.exception.message
    if isinstance(res.exception, ConfigError) and message.startswith("--"):
        assert res.exception.hint.startswith(f"fix {args[0]}")


def test_nothing_generated_exits_2_with_one_line(tmp_path):
    server = ScriptedServer(lambda body, headers: Reply(500, {"error": "down"}))
    words = tmp_path / "words.txt"
    words.write_text("river\nlantern\nharvest\ncompass\norchard\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "linguabridge.cli.main", "data", "synth", "--out", str(tmp_path / "o"),
           "--languages", "eng_Latn", "--family", "story", "--n", "2", "--endpoint", server.url, "--model", "m",
           "--keywords", f"eng_Latn={words}", "--set", "synthetic.max_retries=1",
           "--set", "synthetic.retry_wait_max_s=0"]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        server.close()
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: nothing generated: 2 of 2 requests failed (first: http_500:")
    assert str(tmp_path / "o" / "failed.jsonl") in line and "Traceback" not in proc.stderr
    assert (tmp_path / "o" / "_COMPLETE.json").is_file()  # the outputs are a complete set all the same


def test_judge_backend_is_the_same_bounded_redacting_client(tmp_path, monkeypatch):
    """The DPO judge builds an OpenAIBackend from its own settings: the same retries, caps and redaction."""
    from linguabridge.data.generation import RequestCache
    from linguabridge.train.preferences import build_judge_pairs

    monkeypatch.setenv("LB_JUDGE_KEY", KEY)
    server = ScriptedServer(lambda body, headers: Reply(503, f"overloaded ({headers.get('Authorization')})",
                                                        {"Retry-After": "86400"}))  # fmt: skip
    items = [{"id": "a", "language": "eng_Latn", "prompt": [{"role": "user", "content": "Hi?"}],
              "candidates": ["Hello.", "Bonjour."]}]  # fmt: skip
    backend = OpenAIBackend(server.url, "LB_JUDGE_KEY", max_retries=1, timeout_s=5, retry_wait_max_s=0.2)
    dropped: list[dict] = []
    try:
        t0 = time.monotonic()
        pairs, counters = build_judge_pairs(items, backend, tmp_path / "judge.sqlite", "j", rejected=dropped)
        assert time.monotonic() - t0 < 10
    finally:
        server.close()
    assert pairs == [] and counters["failed"] == 2 and counters["retries"] == 2
    assert dropped[0]["reject_reason"] == "fewer_than_2_scored_candidates"
    assert "http_503" in dropped[0]["judge_failures"][0]
    assert KEY.encode() not in b"".join(_every_byte(tmp_path).values())
    cache = RequestCache(tmp_path / "judge.sqlite")
    assert all(KEY not in (cache.failure(k) or {}).get("error", "") for k in server.keys())  # noqa: SIM118 - a method, not a dict
    cache.close()


def test_requests_are_counted_once_each(tmp_path):
    server = ScriptedServer(lambda body, headers: Reply(200, completion(PARAGRAPH)))
    reqs = [Request.make([{"role": "user", "content": f"q{i}"}], {"max_tokens": 4}, "m") for i in range(5)]
    outcomes = []
    try:
        counters = OpenAIBackend(server.url, "LB_NONE", concurrency=3).run(reqs, outcomes.append)
    finally:
        server.close()
    assert sorted(o.key for o in outcomes) == sorted(r.key for r in reqs)
    assert counters.to_json() == {
        "sent": 5,
        "attempts": 5,
        "retries": 0,
        "succeeded": 5,
        "failed": 0,
        "errors": {},
    }

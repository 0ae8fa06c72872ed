"""Fuzz: a server replying with arbitrary statuses, JSON shapes, bytes and Retry-After values. No traceback;
every request ends as a result or as a failure with a reason, and every planned output as accepted, rejected
or failed."""

from __future__ import annotations

import hashlib
import json
import string
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linguabridge.config import SyntheticConfig
from linguabridge.data.generation import Request
from linguabridge.data.openai_backend import OpenAIBackend
from linguabridge.data.synthetic.run import run_synthetic
from synth_server import Reply, ScriptedServer

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=12,
)
# Near-valid chat completions (each field of the right shape or of any other) as well as anything at all.
TEXT = st.text(max_size=400) | st.just("a\ud800b")  # a lone surrogate: valid JSON, not valid UTF-8
MESSAGE = st.fixed_dictionaries(
    {"role": st.just("assistant"), "content": TEXT | JSON}, optional={"tool_calls": JSON}
)
CHOICE = st.fixed_dictionaries(
    {"message": MESSAGE | MESSAGE | JSON}, optional={"finish_reason": st.just("stop") | JSON, "index": JSON}
)
COMPLETION = st.fixed_dictionaries(
    {"choices": st.lists(CHOICE | CHOICE | JSON, max_size=2) | JSON},
    optional={"usage": st.dictionaries(st.text(max_size=12), JSON, max_size=3) | JSON, "error": JSON},
)
RETRY_AFTER = st.sampled_from(
    ["0", "86400", "inf", "-1", "nan", "Wed, 21 Oct 2015 07:28:00 GMT", "soon", ""]
) | (st.text(alphabet=string.ascii_letters + string.digits + " .:-+", max_size=20))
REPLY = st.builds(
    lambda status, body, after: Reply(status, body, {"Retry-After": after} if after is not None else {}),
    st.sampled_from([200, 200, 200, 400, 401, 404, 408, 429, 500, 503]),
    COMPLETION | COMPLETION | JSON | st.binary(max_size=60),
    st.none() | RETRY_AFTER,
)


@pytest.fixture(scope="module")
def server():
    """One server for every example; ``server.replies`` is what the current example serves."""
    srv = ScriptedServer(lambda body, headers: _pick(srv.replies, body))
    yield srv
    srv.close()


def _pick(replies: list[Reply], body: dict) -> Reply:
    """The same reply for the same prompt, whichever order concurrent requests arrive in."""
    digest = hashlib.sha256(json.dumps(body["messages"]).encode()).digest()
    return replies[digest[0] % len(replies)]


FAST = dict(timeout_s=2.0, max_retries=1, retry_wait_max_s=0.0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(replies=st.lists(REPLY, min_size=1, max_size=4))
def test_every_request_ends_with_a_result_or_a_reason(server, replies):
    server.replies = replies
    reqs = [
        Request.make([{"role": "user", "content": f"prompt {i}"}], {"max_tokens": 4}, "m") for i in range(6)
    ]
    outcomes = []
    counters = OpenAIBackend(server.url, "LB_NONE", concurrency=3, **FAST).run(reqs, outcomes.append)
    assert sorted(o.key for o in outcomes) == sorted(r.key for r in reqs)  # one outcome each
    for o in outcomes:
        if o.text is None:
            assert isinstance(o.error, str) and o.error.strip()
        else:
            assert isinstance(o.text, str) and o.error is None
            assert o.finish_reason is None or isinstance(o.finish_reason, str)
            assert o.usage is None or all(isinstance(v, (int, float)) for v in o.usage.values())
    assert counters.succeeded + counters.failed == counters.sent == len(reqs)
    assert 1 <= counters.attempts <= 2 * len(reqs)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(replies=st.lists(REPLY, min_size=1, max_size=3))
def test_every_planned_output_is_accepted_rejected_or_failed(server, replies):
    server.replies = replies
    with tempfile.TemporaryDirectory() as tmp:
        words = Path(tmp) / "words.txt"
        words.write_text("river\nlantern\nharvest\ncompass\norchard\n", encoding="utf-8")
        cfg = SyntheticConfig(endpoint=server.url, model="m", families=["story", "fewshot"], n_per_language=4,
                              keyword_files={"eng_Latn": str(words)}, api_key_env="LB_NONE", min_words=3,
                              **FAST)  # fmt: skip
        samples = Path(tmp) / "samples.jsonl"
        chat = [{"role": "user", "content": "Why?"}, {"role": "assistant", "content": "Because."}]
        samples.write_text(
            "\n".join(json.dumps({"language": "eng_Latn", "messages": chat}) for _ in range(3))
        )
        stats = run_synthetic(cfg, ["eng_Latn"], Path(tmp) / "out", seed=0, fewshot_paths=[samples])
        assert stats["accepted"] + sum(stats["rejected"].values()) + stats["failed"] == stats["planned"] == 4
        failed = [json.loads(x) for x in (Path(tmp) / "out" / "failed.jsonl").read_text().splitlines()]
        assert len(failed) == stats["failed"] and all(f["error"] for f in failed)
        assert (Path(tmp) / "out" / "_COMPLETE.json").is_file()

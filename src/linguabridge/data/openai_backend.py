"""Chat completions from any OpenAI-compatible server (vLLM, SGLang, ``transformers serve``, hosted APIs)
through ``openai.AsyncOpenAI``: bounded concurrency, a request-rate limit on every attempt, bounded retries,
a count of every attempt and error kind, and the API key redacted from whatever the server sends back."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import math
import os
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from linguabridge.data.generation import Outcome, Request, RunCounters
from linguabridge.errors import LinguabridgeError, require

# ------------------------------------------------------------------------------------------------ secrets
REDACTED = "[REDACTED]"
# Credentials a server may echo in an error body, whoever's they are: bearer/basic tokens, key=value and
# "api_key": "..." fields, OpenAI-style sk- keys, passwords in URLs.
_CREDENTIALS = (
    (re.compile(r"\b(bearer|basic)(\s+)[\w.~+/=-]+", re.IGNORECASE), rf"\1\2{REDACTED}"),
    (
        re.compile(
            r"""\b(api[-_]?key|x-api-key|access[-_]?token|authorization)(["']?\s*[:=]\s*["']?)"""
            r"""(?!bearer\b|basic\b|\[REDACTED)[^\s"',;&]+""",
            re.IGNORECASE,
        ),
        rf"\1\2{REDACTED}",
    ),  # fmt: skip
    (re.compile(r"\bsk-[\w-]{16,}"), REDACTED),
    (re.compile(r"(?<=://)([^/\s:@]+):[^/\s@]+@"), rf"\1:{REDACTED}@"),
)
_MIN_SECRET_CHARS = 8  # shorter "keys" are placeholders (no-key, EMPTY); replacing them would mangle text


def redact(text: str, secrets: Iterable[str] = (), credentials: bool = True) -> str:
    """``text`` with every secret and (``credentials``) anything shaped like a credential replaced.

    Applied where server text enters our records (outcomes, hence the cache, ``failed.jsonl`` and outputs)
    and to the openai/httpx log lines. Generated text is redacted with ``credentials=False``: a model may
    well write "the bearer of", and only an echo of our own key is a leak there."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET_CHARS:
            text = text.replace(secret, REDACTED)
    if credentials:
        for pattern, replacement in _CREDENTIALS:
            text = pattern.sub(replacement, text)
    return text


@contextlib.contextmanager
def _redacted_logs(secrets: list[str], prefixes=("openai", "httpx2", "httpcore2", "httpx", "httpcore")):
    """Redact the log records of the HTTP stack while a run lasts. Done in the record factory rather than
    with logger filters: a filter sees only its own logger's records, and httpcore creates its loggers
    lazily, on the first connection."""
    make = logging.getLogRecordFactory()

    def redacted_record(name, level, fn, lno, msg, args, *rest, **kwargs):
        if name.split(".")[0] in prefixes:
            if len(args or ()) == 1 and isinstance(args[0], dict) and args[0]:
                args = args[0]  # logging's "%(name)s" form, as LogRecord itself unwraps it
            try:
                msg, args = redact(str(msg) % args if args else str(msg), secrets), ()
            except (
                TypeError,
                ValueError,
                KeyError,
            ):  # a malformed record: what it holds, redacted all the same
                msg, args = redact(f"{msg} {args}", secrets), ()
        return make(name, level, fn, lno, msg, args, *rest, **kwargs)

    logging.setLogRecordFactory(redacted_record)
    try:
        yield
    finally:
        logging.setLogRecordFactory(make)


# ---------------------------------------------------------------------------------------------- openai
class RateLimiter:
    """At most ``rate`` request starts per second, evenly spaced (shared by all concurrent workers)."""

    def __init__(self, rate: float | None):
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


RETRY_STATUSES = frozenset({408, 409, 429})  # and every 5xx; as the openai client retries
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.5, 8.0  # the openai client's backoff: 0.5 s doubling up to 8 s


def retry_after_s(headers) -> float | None:
    """The wait a response asks for (``retry-after-ms``, ``retry-after`` in seconds or as an HTTP date), or
    None when it asks for none or for nothing readable. ``inf`` and huge values come back as they are: the
    caller caps them."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            try:
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError, OverflowError, IndexError):
                continue
        if math.isnan(seconds):
            continue
        return max(0.0, seconds)
    return None


class BadReply(ValueError):
    """A 200 whose body is not a chat completion we can use (not retried: the server would say it again)."""


def parse_reply(body: bytes) -> tuple[str, str | None, dict | None]:
    """``(content, finish_reason, usage)`` of a chat-completion body, or :class:`BadReply` saying what is wrong.

    Checked here rather than trusting the client's models, which are built without validation: a body of
    any shape must end as a result or as a failure with a reason, never as an exception elsewhere."""
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadReply(f"body is not JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise BadReply(f"body is a JSON {type(obj).__name__}, not an object")
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices:
        raise BadReply("no 'choices' list" if not isinstance(choices, list) else "'choices' is empty")
    choice = choices[0]
    if not isinstance(choice, dict):
        raise BadReply(f"choices[0] is a {type(choice).__name__}, not an object")
    message = choice.get("message")
    if not isinstance(message, dict):
        raise BadReply(f"choices[0].message is a {type(message).__name__}, not an object")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise BadReply(f"choices[0].message.content is a {type(content).__name__}, not a string")
    if content and not _is_utf8(content):
        raise BadReply("choices[0].message.content is not valid Unicode (a lone surrogate escape)")
    finish = choice.get("finish_reason")
    usage = obj.get("usage")
    usage = {k: v for k, v in usage.items() if isinstance(v, (int, float)) and not isinstance(v, bool)} if (
        isinstance(usage, dict)) else None  # fmt: skip
    return content or "", finish if isinstance(finish, str) and _is_utf8(finish) else None, usage


def _is_utf8(text: str) -> bool:
    """False for JSON's lone surrogate escapes ("\\ud800"): text no UTF-8 file or SQLite row can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class OpenAIBackend:
    """Chat completions from an OpenAI-compatible server.

    Every request ends as a result or as a failure with a reason. Retries (timeouts, connection errors,
    408/409/429, 5xx) are ours, not the openai client's (it runs with ``max_retries=0``). Its own loop
    (openai 3.x ``_base_client``) sleeps whatever Retry-After asks up to 120 s per retry (5 retries: 10
    minutes), gives up at once on a longer one, treats ``inf`` as no header, and bounds an attempt only per
    socket read, so a server trickling bytes holds a request for ever. Here each attempt is bounded as a whole by ``timeout_s``
    (``asyncio.wait_for``) and each wait by ``retry_wait_max_s``, so a request takes at most
    ``timeout_s * (max_retries + 1) + retry_wait_max_s * max_retries`` seconds. The API key is read from an
    environment variable and only ever placed in the Authorization header; whatever the server sends back is
    redacted (:func:`redact`) before it is kept or logged."""

    def __init__(
        self,
        endpoint: str,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        requests_per_second: float | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        retry_wait_max_s: float = 60.0,
    ):
        if not endpoint or not endpoint.startswith(("http://", "https://")):
            raise LinguabridgeError(
                f"endpoint {redact(str(endpoint))!r} is not an http(s) URL",
                "e.g. --endpoint http://127.0.0.1:8000/v1",
            )
        self.base_url = endpoint.rstrip("/").removesuffix("/chat/completions")
        self.api_key_env = api_key_env
        self.concurrency, self.rps = concurrency, requests_per_second
        self.timeout_s, self.max_retries, self.retry_wait_max_s = timeout_s, max_retries, retry_wait_max_s

    def run(self, requests: list[Request], on_outcome: Callable[[Outcome], None]) -> RunCounters:
        counters = RunCounters()
        if requests:
            key = os.environ.get(self.api_key_env)
            secrets = [key] if key else []
            with _redacted_logs(secrets):
                asyncio.run(self._run(requests, on_outcome, counters, key, secrets))
        return counters

    async def _run(self, requests, on_outcome, counters: RunCounters, key, secrets) -> None:
        openai = require("openai", "data")
        httpx = require("httpx2", "data")  # the HTTP client openai is built on
        limiter = RateLimiter(self.rps)
        sem = asyncio.Semaphore(self.concurrency)
        # Without a key (local servers need none) no Authorization header is sent; the placeholder only keeps
        # the client from falling back to $OPENAI_API_KEY when another variable is configured.
        headers = {} if key else {"Authorization": openai.omit}
        async with openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=key or "no-key",
            max_retries=0,  # see the class docstring
            timeout=self.timeout_s,
            http_client=openai.DefaultAsyncHttpxClient(limits=httpx.Limits(max_connections=self.concurrency)),
        ) as client:

            async def one(req: Request) -> None:
                async with sem:
                    counters.sent += 1
                    outcome = _redacted(
                        await self._request(openai, client, limiter, req, headers, counters), secrets
                    )
                counters.retries += max(0, outcome.attempts - 1)
                if outcome.text is None:
                    counters.failed += 1
                else:
                    counters.succeeded += 1
                on_outcome(outcome)

            await asyncio.gather(*(one(r) for r in requests))

    async def _request(self, openai, client, limiter, req: Request, headers, counters) -> Outcome:
        """One request, retried until it succeeds, fails for good or has used its retries."""
        attempt = 0
        while True:
            attempt += 1
            await limiter.wait()
            counters.attempts += 1
            try:
                raw = await asyncio.wait_for(
                    client.chat.completions.with_raw_response.create(
                        model=req.model, messages=req.messages, extra_headers=headers, **req.params
                    ),
                    self.timeout_s,
                )
                text, finish, usage = parse_reply(raw.http_response.content)
                return Outcome(req.key, text, None, attempt, finish, usage)
            except (BadReply, TimeoutError, openai.OpenAIError) as exc:
                failure = self._failure(openai, exc)
            counters.errors[failure.kind] += 1
            if not failure.retry or attempt > self.max_retries:
                return Outcome(req.key, None, failure.error, attempt)
            wait = failure.wait
            if wait is None:
                wait = min(BACKOFF_FIRST_S * 2 ** (attempt - 1), BACKOFF_MAX_S) * random.uniform(0.75, 1.0)
            await asyncio.sleep(min(wait, self.retry_wait_max_s))

    def _failure(self, openai, exc: Exception) -> _Failure:
        if isinstance(exc, (TimeoutError, openai.APITimeoutError)):
            return _Failure("timeout", f"timeout after {self.timeout_s:g} s", retry=True)
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            error = f"http_{status}: {exc.response.text[:_KEEP_CHARS]}".replace("\n", " ")
            if status in (401, 403):
                error += f" (check the key in ${self.api_key_env})"
            retry = status in RETRY_STATUSES or status >= 500
            return _Failure(f"http_{status}", error, retry, retry_after_s(exc.response.headers))
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return _Failure("connection", f"connection: {type(cause).__name__}: {cause}", retry=True)
        if isinstance(exc, BadReply):
            return _Failure("bad_response", f"bad response: {exc}")
        return _Failure("bad_response", f"bad response: {type(exc).__name__}: {exc}")  # other client errors


@dataclass
class _Failure:
    kind: str  # the error count it adds to: timeout, connection, http_NNN, bad_response
    error: str
    retry: bool = False
    wait: float | None = None  # what the server asked for (Retry-After), before the cap


_KEEP_CHARS = 10_000  # of a server's error text, redacted and then cut to 300 characters


def _redacted(outcome: Outcome, secrets: list[str]) -> Outcome:
    """The outcome as it may be kept: the key and credentials gone from everything the server sent."""
    if outcome.text is not None:
        outcome.text = redact(outcome.text, secrets, credentials=False)
    if outcome.error is not None:
        outcome.error = redact(outcome.error[:_KEEP_CHARS], secrets)[:300]  # cut after: no key half kept
    if outcome.finish_reason is not None:
        outcome.finish_reason = redact(outcome.finish_reason, secrets)[:40]
    return outcome

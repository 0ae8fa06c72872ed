"""Generation requests, the on-disk request cache that makes runs resumable, and the in-process backend.

A backend has ``run(requests, on_outcome) -> RunCounters`` and calls ``on_outcome`` once per request:

- :class:`~linguabridge.data.openai_backend.OpenAIBackend`: any OpenAI-compatible ``/chat/completions``
  endpoint (vLLM, SGLang, ``transformers serve``, hosted APIs), bounded retries, the API key redacted.
- :class:`HFBackend`: in-process ``transformers`` generation for small local models.
- :class:`RequestCache`: SQLite (stdlib; atomic commits survive a kill) keyed by ``sha256(messages, params,
  model)``. Each result is committed the moment it arrives, so a rerun after a crash sends only the requests
  that have no result; a request in flight at the moment of the crash is the only one that can be sent again.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from linguabridge.errors import LinguabridgeError, require


def request_key(messages: list[dict], params: dict, model: str) -> str:
    """Stable hash of what decides a response: the prompt, the sampling parameters and the model."""
    blob = json.dumps(
        {"messages": messages, "params": params, "model": model}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass
class Request:
    key: str
    messages: list[dict]
    params: dict  # temperature, top_p, max_tokens, seed
    model: str
    meta: dict = field(default_factory=dict)  # family, language, slots: not part of the key

    @classmethod
    def make(cls, messages: list[dict], params: dict, model: str, meta: dict | None = None) -> Request:
        return cls(request_key(messages, params, model), messages, params, model, meta or {})


@dataclass
class Outcome:
    key: str
    text: str | None  # None when the request failed for good
    error: str | None = None
    attempts: int = 1
    finish_reason: str | None = None
    usage: dict | None = None


@dataclass
class RunCounters:
    """What a backend did: every attempt, retry and error kind is counted."""

    sent: int = 0  # requests started (unique keys)
    attempts: int = 0  # HTTP calls / generate calls, retries included
    retries: int = 0
    succeeded: int = 0
    failed: int = 0  # requests with no result after all retries
    errors: Counter = field(default_factory=Counter)  # by kind: timeout, http_500, connection...

    def to_json(self) -> dict:
        return {
            "sent": self.sent,
            "attempts": self.attempts,
            "retries": self.retries,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "errors": dict(sorted(self.errors.items())),
        }


# ------------------------------------------------------------------------------------------------ cache
class RequestCache:
    """Results and last failures per request key, in one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)  # autocommit: every put is durable
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, text TEXT NOT NULL, finish_reason TEXT,"
            " usage TEXT, attempts INTEGER, created REAL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS failures (key TEXT PRIMARY KEY, error TEXT, attempts INTEGER, created REAL)"
        )

    def keys(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT key FROM results")}

    def get(self, key: str) -> dict | None:
        row = self._db.execute(
            "SELECT text, finish_reason, usage, attempts FROM results WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        return {
            "text": row[0],
            "finish_reason": row[1],
            "usage": json.loads(row[2] or "null"),
            "attempts": row[3],
        }

    def failure(self, key: str) -> dict | None:
        row = self._db.execute("SELECT error, attempts FROM failures WHERE key = ?", (key,)).fetchone()
        return {"error": row[0], "attempts": row[1]} if row else None

    def record(self, outcome: Outcome) -> None:
        now = time.time()
        if outcome.text is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?)",
                (
                    outcome.key,
                    outcome.text,
                    outcome.finish_reason,
                    json.dumps(outcome.usage),
                    outcome.attempts,
                    now,
                ),
            )
            self._db.execute("DELETE FROM failures WHERE key = ?", (outcome.key,))
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?)",
                (outcome.key, outcome.error, outcome.attempts, now),
            )

    def close(self) -> None:
        self._db.close()


# ---------------------------------------------------------------------------------------------- hf local
class HFBackend:
    """Generation with a local transformers model (chat template applied), in batches on one device."""

    def __init__(
        self, model_path: str, device: str = "cpu", batch_size: int = 4, trust_remote_code: bool = False
    ):
        transformers = require("transformers", "train")
        self.torch = require("torch", "train")
        try:
            self.tok = transformers.AutoTokenizer.from_pretrained(model_path)
            self.model = transformers.AutoModelForCausalLM.from_pretrained(
                model_path, use_safetensors=True, trust_remote_code=trust_remote_code
            )
        except OSError as exc:
            raise LinguabridgeError(
                f"cannot load model {model_path!r}: {str(exc).splitlines()[0]}",
                "give a local directory with config.json, *.safetensors and a tokenizer with a chat template",
            ) from None
        self.tok.padding_side = "left"
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        self.model.to(device).eval()
        self.device, self.batch_size = device, batch_size

    def run(self, requests: list[Request], on_outcome: Callable[[Outcome], None]) -> RunCounters:
        counters = RunCounters()
        groups: dict[str, list[Request]] = {}
        for r in requests:  # one generate() call needs one set of sampling parameters
            groups.setdefault(
                json.dumps({k: v for k, v in r.params.items() if k != "seed"}, sort_keys=True), []
            ).append(r)
        for batch_reqs in (
            g[i : i + self.batch_size] for g in groups.values() for i in range(0, len(g), self.batch_size)
        ):
            counters.sent += len(batch_reqs)
            counters.attempts += 1
            try:
                texts = self._generate(batch_reqs)
            except (RuntimeError, ValueError) as exc:  # e.g. out of memory, a template that fails
                counters.errors["generate_error"] += 1
                for r in batch_reqs:
                    counters.failed += 1
                    on_outcome(Outcome(r.key, None, f"generate: {exc}"[:200]))
                continue
            for r, (text, finish) in zip(batch_reqs, texts, strict=True):
                counters.succeeded += 1
                on_outcome(Outcome(r.key, text, None, 1, finish))
        return counters

    def _generate(self, batch: list[Request]) -> list[tuple[str, str]]:
        torch = self.torch
        params = batch[0].params
        inputs = self.tok.apply_chat_template(
            [r.messages for r in batch],
            add_generation_prompt=True,
            padding=True,
            return_tensors="pt",
            return_dict=True,
        ).to(self.device)
        # One seed per batch (from its requests' seeds): the same plan and batch size give the same text.
        torch.manual_seed(int(hashlib.sha256("".join(r.key for r in batch).encode()).hexdigest()[:8], 16))
        temperature = float(params.get("temperature", 0.0))
        with torch.no_grad():
            out = self.model.generate(
                **inputs,
                do_sample=temperature > 0,
                temperature=temperature if temperature > 0 else None,
                top_p=params.get("top_p") if temperature > 0 else None,
                max_new_tokens=int(params.get("max_tokens", 256)),
                pad_token_id=self.tok.pad_token_id,
            )
        new = out[:, inputs["input_ids"].shape[1] :]
        result = []
        for row in new:
            ended = bool((row == self.tok.eos_token_id).any()) if self.tok.eos_token_id is not None else False
            result.append((self.tok.decode(row, skip_special_tokens=True), "stop" if ended else "length"))
        return result

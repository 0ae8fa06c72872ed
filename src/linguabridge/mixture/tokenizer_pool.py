"""A pool of tokenizer processes for the inventory and the token shards: the Rust ``tokenizers`` backend.

The Hugging Face wrapper (``tokenizer(texts)``) builds Python lists of dicts around every batch; the shards
only need ids, so workers call the Rust tokenizer's ``encode_batch_fast`` directly. Work is spread over
``workers`` spawned processes (one core each; the tokenizer's own thread pool is switched off inside them so
they do not oversubscribe), fed in order with a bounded number of tasks in flight so memory stays flat
however large the corpus is.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from linguabridge.errors import LinguabridgeError

ENCODE_BATCH = 1024  # documents per encode_batch_fast call


_SPECS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class EncoderSpec:
    """What a worker needs to rebuild the tokenizer: its ``tokenizer.json`` and the end-of-document id (the
    end-of-text token, ``tokenizer.document_separator``; ``eos_token`` names it for the manifest)."""

    tokenizer_json: str
    eos_id: int
    name: str
    eos_token: str = ""

    @classmethod
    def from_tokenizer(cls, tokenizer) -> EncoderSpec:
        # Serialising a 150k-token vocabulary takes ~0.3 s: reuse it while the tokenizer is unchanged.
        try:
            cached = _SPECS.get(tokenizer)
        except TypeError:  # an object that cannot be weakly referenced or hashed: no cache
            return cls._build_spec(tokenizer)
        if cached is not None and cached[0] == len(tokenizer):
            return cached[1]
        spec = cls._build_spec(tokenizer)
        _SPECS[tokenizer] = (len(tokenizer), spec)
        return spec

    @classmethod
    def _build_spec(cls, tokenizer) -> EncoderSpec:
        name = getattr(tokenizer, "name_or_path", type(tokenizer).__name__)
        if not getattr(tokenizer, "is_fast", False):
            raise LinguabridgeError(
                f"tokenizer {name!r} has no fast (Rust) backend",
                "use a tokenizer that ships tokenizer.json (every modern HF model does)",
            )
        from linguabridge.tokenizer import document_separator

        separator = document_separator(tokenizer)
        if separator is None:
            raise LinguabridgeError(
                f"tokenizer {name!r} has no end-of-text or EOS token to put between documents",
                "set tokenizer.eos_token",
            )
        return cls(tokenizer.backend_tokenizer.to_str(), separator[0], str(name), separator[1])

    @cached_property
    def sha(self) -> str:
        return hashlib.sha256(self.tokenizer_json.encode("utf-8")).hexdigest()[:16]

    def build(self):
        from tokenizers import Tokenizer

        tok = Tokenizer.from_str(self.tokenizer_json)
        tok.no_truncation()
        tok.no_padding()
        # "<|endoftext|>" typed inside a document is text, not a document boundary.
        tok.encode_special_tokens = True
        return tok

    def file(self) -> Path:
        """The tokenizer JSON in the cache, for worker processes to load (a path is all they are sent:
        megabytes of start-up arguments would go through the spawn pipe)."""
        from linguabridge.tokenizer import cache_dir

        path = cache_dir() / "encoders" / f"{self.sha}.json"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(self.tokenizer_json, encoding="utf-8")
            tmp.replace(path)
        return path


_WORKER: dict[str, Any] = {}


def _init_worker(spec: EncoderSpec, single_thread: bool) -> None:
    if single_thread:
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    if _WORKER.get("sha") != spec.sha:
        _WORKER.update(sha=spec.sha, tokenizer=spec.build(), eos=spec.eos_id)


def _init_from_file(path: str, sha: str, eos_id: int, name: str) -> None:
    from linguabridge.runtime import die_with_parent

    die_with_parent()
    spec = EncoderSpec(Path(path).read_text(encoding="utf-8"), eos_id, name)
    if spec.sha != sha:
        raise RuntimeError(f"{path} changed while tokenizing (sha {spec.sha}, expected {sha})")
    _init_worker(spec, single_thread=True)


def worker_tokenizer():
    """The tokenizer of the current worker (or of this process when ``workers == 1``)."""
    return _WORKER["tokenizer"]


def worker_eos() -> int:
    return _WORKER["eos"]


def encode_lengths(texts: list[str]) -> list[int]:
    """Tokens per text, without EOS."""
    tok = worker_tokenizer()
    out: list[int] = []
    for start in range(0, len(texts), ENCODE_BATCH):
        out.extend(len(e.ids) for e in tok.encode_batch_fast(texts[start : start + ENCODE_BATCH], False))
    return out


def imap_with_tokenizer(fn: Callable, tasks: Iterable, spec: EncoderSpec, workers: int) -> Iterator:
    """``fn(task)`` for every task, results in task order; ``workers > 1`` runs them in spawned processes
    with at most two tasks per worker in flight (the task iterator is consumed lazily)."""
    if workers <= 1:
        _init_worker(spec, single_thread=False)
        for task in tasks:
            yield fn(task)
        return
    # spawn, not fork: forking after the Rust tokenizer or torch has started threads can deadlock the child.
    ctx = mp.get_context("spawn")
    args = (str(spec.file()), spec.sha, spec.eos_id, spec.name)
    try:
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_from_file, initargs=args) as pool:
            pending: deque = deque()
            for task in tasks:
                pending.append(pool.submit(fn, task))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
    except BrokenProcessPool as exc:
        raise LinguabridgeError(
            f"a tokenizer worker process died ({exc})",
            "a script that uses workers > 1 must run its work under `if __name__ == '__main__':` "
            "(spawned workers import it again), or set workers: 1",
        ) from None

"""Decontamination: documents that share a long n-gram with an evaluation set are dropped (or flagged).

Evaluation texts are every string field of every record in the bundled demo eval files
(``assets/demo/eval_*.jsonl``) and the files the user lists in ``data.decontam_files``. Tokens are lower-cased
words, and single characters inside scripts without spaces; n-grams (13 words by default, as GPT-3's
decontamination; 26 characters in unspaced scripts) are compared as 64-bit rolling hashes (vectorised; exact
up to hash collisions).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path

import numpy as np
import regex
import xxhash

from linguabridge.data.segment import NO_SPACE
from linguabridge.errors import ConfigError
from linguabridge.io import iter_jsonl

# One token per character of an unspaced script, else a run of letters/digits/marks (marks stay in words).
_TOKENS = regex.compile(
    r"[\u0e00-\u0e7f\u0e80-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
    r"\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+(?:\p{M}+[^\W_]*)*|\p{M}+"
)
_P = np.uint64(0x100000001B3)


def tokens(text: str) -> list[str]:
    return _TOKENS.findall(text.lower())


def ngram_hashes(toks: list[str], n: int, vocab: dict[str, int] | None = None) -> np.ndarray:
    """Rolling 64-bit hashes of the token n-grams. With ``vocab`` (token -> id), tokens outside it get id 0:
    a dictionary lookup instead of hashing every token of every document (n-grams with them match nothing)."""
    if len(toks) < n:
        return np.empty(0, dtype=np.uint64)
    if vocab is None:
        ids = np.fromiter(
            (xxhash.xxh3_64_intdigest(t.encode("utf-8")) for t in toks), dtype=np.uint64, count=len(toks)
        )
    else:
        get = vocab.get
        ids = np.fromiter((get(t, 0) for t in toks), dtype=np.uint64, count=len(toks))
    h = ids[: len(ids) - n + 1].copy()
    with np.errstate(over="ignore"):
        for k in range(1, n):
            h = h * _P + ids[k : len(ids) - n + 1 + k]
    return h


def _strings(obj) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def bundled_eval_files() -> list[Path]:
    demo = resources.files("linguabridge").joinpath("assets/demo")
    if not demo.is_dir():
        return []
    return sorted(
        Path(str(p)) for p in demo.iterdir() if p.name.startswith("eval_") and p.name.endswith(".jsonl")
    )


class Decontaminator:
    name = "decontamination"

    def __init__(
        self, files: Iterable[str | Path] = (), n: int = 13, mode: str = "drop", bundled: bool = True
    ):
        self.n, self.mode = n, mode
        paths = (bundled_eval_files() if bundled else []) + [Path(f) for f in files]
        chunks: list[np.ndarray] = []
        self.sources: list[str] = []
        self.vocab: dict[str, int] = {}  # eval token -> odd 64-bit id (never 0, the id of unknown tokens)
        for path in paths:
            if not path.is_file():
                raise ConfigError(f"decontamination file not found: {path}", "fix data.decontam_files")
            for _, obj in iter_jsonl(path):
                if isinstance(obj, dict):
                    for s in _strings(obj):
                        toks = tokens(s)
                        w = self.window(s)
                        if len(toks) >= w:
                            for t in toks:
                                self.vocab.setdefault(t, xxhash.xxh3_64_intdigest(t.encode("utf-8")) | 1)
                            chunks.append(ngram_hashes(toks, w, self.vocab))
            self.sources.append(path.name)
        self.index = np.unique(np.concatenate(chunks)) if chunks else np.empty(0, dtype=np.uint64)

    def window(self, text: str) -> int:
        """n tokens; 2n for text in an unspaced script, whose tokens are characters (13 Thai characters are
        about 4 words: too short to mean contamination)."""
        return 2 * self.n if NO_SPACE.search(text) else self.n

    def __len__(self) -> int:
        return len(self.index)

    def overlap(self, text: str) -> int:
        """How many of the document's n-grams occur in an evaluation set."""
        if not len(self.index):
            return 0
        h = ngram_hashes(tokens(text), self.window(text), self.vocab)
        return int(np.isin(h, self.index, assume_unique=False).sum()) if len(h) else 0

    def __call__(self, doc, a, rules, scores: dict) -> str | None:
        hits = self.overlap(a.text)
        if hits:
            scores["eval_ngram_hits"] = hits
            if self.mode == "drop":
                return "eval_contamination"
            doc.metadata["contaminated"] = True
        return None


def describe(d: Decontaminator) -> dict:
    return {"ngram": d.n, "mode": d.mode, "files": d.sources, "ngrams_indexed": len(d)}


__all__ = ["Decontaminator", "bundled_eval_files", "describe", "ngram_hashes", "tokens"]

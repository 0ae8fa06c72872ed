"""Reading token shards: the document index as numpy columns, memory-mapped shards, held-out documents.

On disk (``DIR/tokens/``): ``shard-NNNNN.npy`` (flat uint32 ids, each document followed by EOS),
``index.npz`` (one entry per document: shard, offset, length incl. EOS, language, source, held-out flag,
bytes) and ``index.jsonl`` (the same rows with document ids, for people and tools).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from linguabridge.errors import LinguabridgeError


def shard_path(tokens_dir: str | Path, shard: int) -> Path:
    return Path(tokens_dir) / f"shard-{shard:05d}.npy"


def load_index(tokens_dir: str | Path) -> list[dict]:
    """The index rows (with document ids), as written to ``index.jsonl``."""
    with open(Path(tokens_dir) / "index.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@dataclass
class TokenIndex:
    """Per-document columns; ``language``/``source`` index into :attr:`languages`/:attr:`sources`."""

    shard: np.ndarray
    offset: np.ndarray
    length: np.ndarray
    language: np.ndarray
    source: np.ndarray
    heldout: np.ndarray
    nbytes: np.ndarray
    languages: list[str]
    sources: list[str]
    eos_id: int

    COLUMNS = ("shard", "offset", "length", "language", "source", "heldout", "nbytes")

    @classmethod
    def load(cls, tokens_dir: str | Path) -> TokenIndex:
        path = Path(tokens_dir) / "index.npz"
        if not path.is_file():
            raise LinguabridgeError(f"no token index at {path}", "run the tokens stage first")
        with np.load(path, allow_pickle=False) as z:
            cols = {c: z[c] for c in cls.COLUMNS}
            return cls(
                **cols,
                languages=[str(x) for x in z["languages"]],
                sources=[str(x) for x in z["sources"]],
                eos_id=int(z["eos_id"]),
            )

    def save(self, tokens_dir: str | Path) -> None:
        path = Path(tokens_dir) / "index.npz"
        tmp = path.with_name("index.tmp.npz")
        np.savez(
            tmp,
            **{c: getattr(self, c) for c in self.COLUMNS},
            languages=np.array(self.languages, dtype=str),
            sources=np.array(self.sources, dtype=str),
            eos_id=np.array(self.eos_id),
        )
        tmp.replace(path)

    def __len__(self) -> int:
        return len(self.length)


class TokenStore:
    """Memory-mapped shards, opened on first use (so each DataLoader worker maps its own)."""

    def __init__(self, tokens_dir: str | Path):
        self.dir = Path(tokens_dir)
        self._maps: dict[int, np.ndarray] = {}

    def read(self, shard: int, start: int, length: int) -> np.ndarray:
        arr = self._maps.get(shard)
        if arr is None:
            arr = self._maps[shard] = np.load(shard_path(self.dir, shard), mmap_mode="r")
        return arr[start : start + length]

    def __getstate__(self) -> dict:  # memmaps are reopened after pickling (DataLoader workers)
        return {"dir": self.dir, "_maps": {}}


def heldout_documents(tokens_dir: str | Path) -> dict[str, list[tuple[np.ndarray, int]]]:
    """Held-out (token ids, utf-8 bytes) per language, for validation loss and bits per byte."""
    index = TokenIndex.load(tokens_dir)
    store = TokenStore(tokens_dir)
    out: dict[str, list] = defaultdict(list)
    for i in np.flatnonzero(index.heldout):
        ids = store.read(int(index.shard[i]), int(index.offset[i]), int(index.length[i]))
        out[index.languages[index.language[i]]].append(
            (np.asarray(ids, dtype=np.int64), int(index.nbytes[i]))
        )
    return dict(out)

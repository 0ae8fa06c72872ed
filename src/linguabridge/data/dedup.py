"""Deduplication across the whole corpus: exact (normalised hash) and near-duplicate MinHash-LSH.

Two passes, so shards filter in parallel while duplicates are found globally:
1. per shard, :class:`MinHasher` computes a MinHash signature from the document's shared analysis (shingles
   are n-grams of segmented words; at least 5 characters for a language whose segmenter fell back to characters)
   and :func:`exact_key` an exact key;
   :class:`SignatureWriter` stores them beside the shard;
2. :func:`global_dedup` reads every shard's signatures in shard order and keeps the first document of each
   exact group and each near-duplicate cluster (:class:`NearDuplicateIndex`). The result depends only on input
   order.

:class:`NearDuplicateIndex` is also the near-duplicate check of parallel text (``data/bitext/``) and of synthetic
outputs (``data/synthetic/``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path

import numpy as np
import regex
import xxhash

from linguabridge.data.text import Analysis
from linguabridge.io import write_json

_PUNCT = regex.compile(r"[^\w\p{M}]+|_+")  # keeps combining marks (Thai vowels, Devanagari signs)
NUM_PERM = 128
SHINGLE = 3


def exact_key(text: str) -> int:
    """64-bit hash of the text with case, punctuation and spacing removed."""
    return xxhash.xxh3_64_intdigest(_PUNCT.sub(" ", text.lower()).strip().encode("utf-8"))


class MinHasher:
    """datasketch MinHash with shared permutations and xxhash (datasketch's default sha1 is ~5x slower).

    Bitext and synthetic checks pass datasketch's default (``datasketch.hashfunc.sha1_hash32``): they have
    always hashed with it, and another hash gives other signatures, hence other near-duplicate decisions.
    """

    def __init__(
        self,
        num_perm: int = NUM_PERM,
        seed: int = 1,
        n: int = SHINGLE,
        hashfunc: Callable[[bytes], int] = xxhash.xxh32_intdigest,
    ):
        from datasketch import MinHash

        self._MinHash = MinHash
        self.num_perm, self.seed, self.n, self.hashfunc = num_perm, seed, n, hashfunc
        self._perms = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations

    def shingles(self, a: Analysis) -> set[bytes]:
        words = a.lower_words
        n = max(self.n, 5) if a.segmenter.name == "chars" else self.n
        if len(words) <= n:
            return {" ".join(words).encode("utf-8")}
        return {" ".join(words[i : i + n]).encode("utf-8") for i in range(len(words) - n + 1)}

    def signature(self, shingles: Iterable[bytes]) -> np.ndarray:
        m = self._MinHash(
            num_perm=self.num_perm,
            seed=self.seed,
            hashfunc=self.hashfunc,
            permutations=self._perms,
            scheme="affine32",
        )
        m.update_batch(list(shingles))
        return m.hashvalues.astype(np.uint32)

    def __call__(self, a: Analysis) -> np.ndarray:
        return self.signature(self.shingles(a))


class NearDuplicateIndex:
    """datasketch MinHashLSH whose every candidate is confirmed by its estimated Jaccard similarity; the match
    is the earliest-added entry at least ``threshold`` similar, so decisions depend only on insertion order.

    Bands are weighted to recall (a false positive costs one verification, a false negative leaves a
    duplicate). ``recall_margin`` lowers the banding's threshold by that much (to 0.2 at least) to widen the
    net further: the banding alone misses a fair share of pairs just above the threshold (bitext and synthetic
    checks use 0.2).
    """

    def __init__(self, threshold: float, num_perm: int = NUM_PERM, recall_margin: float = 0.0):
        from datasketch import MinHashLSH
        from datasketch.lean_minhash import LeanMinHash

        self._Lean = LeanMinHash
        self.threshold = threshold
        lsh_threshold = max(0.2, threshold - recall_margin) if recall_margin else threshold
        self.lsh = MinHashLSH(threshold=lsh_threshold, num_perm=num_perm, weights=(0.2, 0.8))
        self.keys: list[Hashable] = []
        self.signatures: list[np.ndarray] = []  # rows of memory-mapped shard files stay on disk

    def _lean(self, sig: np.ndarray):
        return self._Lean(seed=1, hashvalues=np.asarray(sig, dtype=np.uint64), scheme="affine32")

    def find(self, sig: np.ndarray) -> Hashable | None:
        """Key of the earliest entry at least ``threshold`` similar to ``sig``, or None."""
        for i in sorted(self.lsh.query(self._lean(sig))):
            if np.mean(self.signatures[i] == sig) >= self.threshold:
                return self.keys[i]
        return None

    def add(self, key: Hashable, sig: np.ndarray) -> None:
        self.lsh.insert(len(self.keys), self._lean(sig), check_duplication=False)
        self.keys.append(key)
        self.signatures.append(sig)


class SignatureWriter:
    """Per-shard signatures: ``exact.npy``, ``minhash.npy`` (uint32 [n, num_perm]) and ``ids.json``."""

    def __init__(self, folder: Path, num_perm: int = NUM_PERM):
        self.folder = Path(folder)
        self.num_perm = num_perm
        self.ids: list[str] = []
        self.exact: list[int] = []
        self.minhash: list[np.ndarray] = []

    def add(self, doc_id: str, key: int, sig: np.ndarray | None) -> None:
        self.ids.append(doc_id)
        self.exact.append(key)
        self.minhash.append(sig if sig is not None else np.zeros(self.num_perm, dtype=np.uint32))

    def close(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        np.save(self.folder / "exact.npy", np.asarray(self.exact, dtype=np.uint64))
        sig = np.stack(self.minhash) if self.minhash else np.zeros((0, self.num_perm), dtype=np.uint32)
        np.save(self.folder / "minhash.npy", sig)
        write_json(self.folder / "ids.json", self.ids)


def global_dedup(shard_dirs: list[Path], mode: str, threshold: float, out_dir: Path) -> dict:
    """Decide, for every signed document of every shard, keep or duplicate-of; writes one JSON per shard.

    Decision rows are ``[reason | null, duplicate_of_id | null, cluster_size]`` in the shard's signature order.
    """
    index = NearDuplicateIndex(threshold) if mode == "minhash" else None
    first_exact: dict[int, tuple[int, int]] = {}
    all_ids: list[list[str]] = []
    decisions: list[list[list]] = []
    counts = {"exact_duplicate": 0, "near_duplicate": 0, "kept": 0}
    for s, folder in enumerate(shard_dirs):
        ids = json.loads((folder / "ids.json").read_text("utf-8"))
        exact = np.load(folder / "exact.npy")
        mh = np.load(folder / "minhash.npy", mmap_mode="r")  # random access for verification, not in RAM
        all_ids.append(ids)
        rows: list[list] = []
        for r in range(len(ids)):
            key = int(exact[r])
            if mode != "none" and key in first_exact:
                ks, kr = first_exact[key]
                rows.append(["exact_duplicate", all_ids[ks][kr], 0])
                (rows if ks == s else decisions[ks])[kr][2] += 1
                counts["exact_duplicate"] += 1
                continue
            if index is not None:
                best = index.find(mh[r])
                if best is not None:
                    cs, cr = best
                    rows.append(["near_duplicate", all_ids[cs][cr], 0])
                    (rows if cs == s else decisions[cs])[cr][2] += 1
                    counts["near_duplicate"] += 1
                    continue
                index.add((s, r), mh[r])
            if mode != "none":
                first_exact[key] = (s, r)
            rows.append([None, None, 1])
            counts["kept"] += 1
        decisions.append(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    for s, rows in enumerate(decisions):
        write_json(out_dir / f"shard-{s:05d}.json", rows)
    return counts

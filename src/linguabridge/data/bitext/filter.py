"""The bitext filter's driver: three passes so memory stays bounded by one language pair at a time.

1. per-pair rules, cheapest first (each rejection names its rule, :mod:`.rules`): ``empty_side``, ``too_long``,
   ``copy``, ``char_length_ratio``, ``word_length_ratio``, ``{src,tgt}_wrong_script``, ``{src,tgt}_wrong_language``,
   ``number_mismatch``, ``url_mismatch``, ``too_much_punctuation``, ``terminal_punctuation_mismatch``, then
   ``exact_duplicate`` and ``near_duplicate`` (first occurrence wins; X->Y and Y->X count as the same pair).
   Survivors are spilled to one file per language pair.
2. per language pair (:mod:`.scoring`): sentence embeddings and the ratio margin (``data/embeddings.py``) over
   blocks of up to ``margin_pool`` pairs (``low_margin``), then the optional QE hook (``low_qe``).
3. balancing (:mod:`.balance`): directions as given / both / split, and per-direction caps keeping the
   best-scored pairs (``over_direction_cap``).

Every input ends in ``kept/``, ``rejected/`` (with ``reject_reason``) or ``quarantine.jsonl``; ``stats.json``
counts all of it per direction and per rule, with timings.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from linguabridge.data.bitext.balance import balance
from linguabridge.data.bitext.readers import read_bitext
from linguabridge.data.bitext.rules import RULES, PairDeduplicator, PairRules, language_pair
from linguabridge.data.bitext.scoring import load_qe_scorer, score_bucket
from linguabridge.data.embeddings import CachedEncoder, get_encoder
from linguabridge.io import JsonlWriter, Quarantined, write_json


def _default_config():
    from linguabridge.config import BitextConfig

    return BitextConfig()


def filter_pairs(
    paths: Iterable[str | Path],
    out_dir: str | Path,
    cfg=None,
    *,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    fmt: str = "auto",
    columns: str | None = None,
    seed: int = 0,
    encoder=None,
) -> dict:
    """Filter pairs from ``paths`` into ``out_dir/{kept,rejected}/``, ``quarantine.jsonl`` and ``stats.json``.

    ``cfg`` is a :class:`linguabridge.config.BitextConfig` (defaults when None); ``encoder`` overrides the
    configured sentence encoder (anything with ``encode(list[str]) -> ndarray``).
    """
    cfg = cfg or _default_config()
    out = Path(out_dir)
    work = out / "_work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    rules = PairRules(cfg)
    dedup = PairDeduplicator(cfg.dedup, cfg.near_dup_threshold)
    per_dir: dict[str, Counter] = defaultdict(Counter)
    rejected_by: Counter = Counter()
    bucket_sizes: Counter = Counter()
    spills: dict[str, object] = {}
    n_in = n_quarantined = 0

    def reject(writer, pair, reason, **extra):
        writer.write(pair | {"reject_reason": reason} | extra)
        per_dir[f"{pair['src_lang']}-{pair['tgt_lang']}"][f"rejected:{reason}"] += 1
        rejected_by[reason] += 1

    with (
        JsonlWriter(out / "kept" / "part-00000.jsonl.gz") as kept,
        JsonlWriter(out / "rejected" / "part-00000.jsonl.gz") as rejected,
        JsonlWriter(out / "quarantine.jsonl") as quarantine,
    ):
        # ---- pass 1: per-pair rules and dedup, survivors spilled per language pair
        try:
            for pair in read_bitext(paths, src_lang, tgt_lang, fmt, columns):
                if isinstance(pair, Quarantined):
                    quarantine.write(pair)
                    n_quarantined += 1
                    continue
                n_in += 1
                per_dir[f"{pair['src_lang']}-{pair['tgt_lang']}"]["input"] += 1
                scores: dict = {}
                reason = rules.judge(pair, scores)
                dup_of = None
                if reason is None:
                    reason, dup_of = dedup.check(pair)
                pair = pair | ({"scores": scores} if scores else {})
                if reason is not None:
                    reject(rejected, pair, reason, **({"duplicate_of": dup_of} if dup_of else {}))
                    continue
                bucket = language_pair(pair)
                if bucket not in spills:
                    spills[bucket] = open(work / f"{bucket}.jsonl", "w", encoding="utf-8")  # noqa: SIM115
                spills[bucket].write(json.dumps(pair, ensure_ascii=False) + "\n")
                bucket_sizes[bucket] += 1
        finally:
            for fh in spills.values():
                fh.close()
        t_rules = time.perf_counter() - t0

        # ---- pass 2 + 3: semantic scores per language pair, then directions and caps
        encoder_obj = None
        if cfg.semantic == "margin" and any(n >= cfg.min_pool for n in bucket_sizes.values()):
            base = encoder if encoder is not None else get_encoder(cfg.encoder)
            encoder_obj = CachedEncoder(base, batch_size=cfg.encoder_batch)
        qe = load_qe_scorer(cfg.qe_scorer) if cfg.qe_scorer else None
        t_sem = 0.0
        semantic = Counter()
        kept_pairs = 0
        for bucket in sorted(bucket_sizes):
            with open(work / f"{bucket}.jsonl", encoding="utf-8") as fh:
                pairs = [json.loads(line) for line in fh]
            ts = time.perf_counter()
            verdicts = score_bucket(pairs, encoder_obj, cfg, qe)
            t_sem += time.perf_counter() - ts
            if cfg.semantic == "margin":
                semantic["scored" if len(pairs) >= cfg.min_pool else "unscored_small_bucket"] += len(pairs)
            survivors: list[dict] = []
            for pair, (reason, scores) in zip(pairs, verdicts, strict=True):
                if scores:
                    pair["scores"] = pair.get("scores", {}) | scores
                if reason is not None:
                    reject(rejected, pair, reason)
                else:
                    survivors.append(pair)
            kept_pairs += len(survivors)
            for direction, pair, within_cap in balance(survivors, cfg, seed):
                if within_cap:
                    kept.write(pair)
                    per_dir[direction]["kept"] += 1
                else:
                    reject(rejected, pair, "over_direction_cap")
        shutil.rmtree(work, ignore_errors=True)
        total = time.perf_counter() - t0
        stats = {
            "inputs": n_in,
            "quarantined": n_quarantined,
            "kept": kept.count,
            "kept_input_pairs": kept_pairs,
            "rejected": {r: rejected_by[r] for r in sorted(rejected_by, key=_rule_order)},
            "directions": {k: _dir_stats(v) for k, v in sorted(per_dir.items())},
            "rule_notes": dict(rules.counters),
            "semantic": {
                "method": cfg.semantic,
                "encoder": encoder_obj.name if encoder_obj else None,
                "k": cfg.margin_k,
                "min_margin": cfg.min_margin,
                **semantic,
                "texts_encoded": encoder_obj.encoded if encoder_obj else 0,
                "seconds": round(t_sem, 3),
                "pairs_per_s": round(semantic["scored"] / t_sem, 2) if t_sem > 0 else None,
            },
            "seconds": {"rules": round(t_rules, 3), "semantic": round(t_sem, 3), "total": round(total, 3)},
            "pairs_per_s": round(n_in / total, 2) if total > 0 else None,
            "config": cfg.model_dump(),
        }
    write_json(out / "stats.json", stats)
    return stats


def _rule_order(reason: str) -> int:
    base = reason.removeprefix("src_").removeprefix("tgt_")
    return RULES.index(base) if base in RULES else len(RULES)


def _dir_stats(c: Counter) -> dict:
    rejected = {k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("rejected:")}
    return {"input": c.get("input", 0), "kept": c.get("kept", 0), "rejected": dict(sorted(rejected.items()))}

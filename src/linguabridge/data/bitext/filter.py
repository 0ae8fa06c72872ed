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

Every input ends in ``kept/``, ``rejected/`` (with ``reject_reason``) or ``quarantine.jsonl`` (a file that cannot
be read on gets one ``"scope": "file"`` entry there, after the pairs read before the damage: ``data/intake.py``);
``stats.json`` counts all of it per direction and per rule (``totals``: ``input + added_reversed = kept +
rejected + quarantined``) and lists failed and mostly-quarantined files, also printed on stderr. Pairs that
share an id with an earlier one are renamed ``ID#2``, ``ID#3``... (``metadata.original_id``), so caps and
``duplicate_of`` never confuse two pairs. Timings go to ``timings.json``, so ``stats.json`` is byte-identical
between runs of the same inputs.

Outputs are per run: a run first removes the previous run's marker and outputs, writes everything under
``_work/`` and moves it into place, then writes ``_COMPLETE.json`` last. A folder without the marker holds no
valid result (a killed run); rerunning the command starts afresh and gives the same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from linguabridge.data.bitext.balance import balance
from linguabridge.data.bitext.readers import bitext_files, check_languages, read_pairs
from linguabridge.data.bitext.rules import RULES, PairDeduplicator, PairRules, language_pair
from linguabridge.data.bitext.scoring import load_qe_scorer, score_bucket
from linguabridge.data.embeddings import CachedEncoder, get_encoder
from linguabridge.data.execution import MARKER
from linguabridge.data.intake import FileTally, merge_reports, warn
from linguabridge.io import JsonlWriter, Quarantined, write_json

OUTPUTS = ("kept", "rejected", "quarantine.jsonl", "stats.json", "timings.json")


def _default_config():
    from linguabridge.config import BitextConfig

    return BitextConfig()


class _UniqueIds:
    """Renames a pair whose id an earlier pair has to ``ID#k`` (the first free k from 2), in input order."""

    def __init__(self):
        self.seen: set[str] = set()
        self.renamed = 0

    def __call__(self, pair: dict) -> dict:
        pid = pair["id"]
        if pid in self.seen:
            k = 2
            while f"{pid}#{k}" in self.seen:
                k += 1
            pair = pair | {"id": f"{pid}#{k}", "metadata": pair["metadata"] | {"original_id": pid}}
            self.renamed += 1
        self.seen.add(pair["id"])
        return pair


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
    """Filter pairs from ``paths`` into ``out_dir/{kept,rejected}/``, ``quarantine.jsonl``, ``stats.json`` and
    ``timings.json``, then ``_COMPLETE.json``. Returns the stats with the timings under ``"timings"``.

    ``cfg`` is a :class:`linguabridge.config.BitextConfig` (defaults when None); ``encoder`` overrides the
    configured sentence encoder (anything with ``encode(list[str]) -> ndarray``). Unknown languages, formats and
    missing inputs fail before any output is touched.
    """
    cfg = cfg or _default_config()
    src_lang, tgt_lang = check_languages(src_lang, tgt_lang)
    files = bitext_files(paths, fmt)
    out = Path(out_dir)
    (out / MARKER).unlink(missing_ok=True)  # first: from here on the folder holds no valid result
    for name in OUTPUTS:
        _remove(out / name)
    work = out / "_work"
    shutil.rmtree(work, ignore_errors=True)
    staged = work / "out"
    staged.mkdir(parents=True)
    t0 = time.perf_counter()
    rules = PairRules(cfg)
    dedup = PairDeduplicator(cfg.dedup, cfg.near_dup_threshold)
    unique = _UniqueIds()
    per_dir: dict[str, Counter] = defaultdict(Counter)
    rejected_by: Counter = Counter()
    bucket_sizes: Counter = Counter()
    spills: dict[str, object] = {}
    tallies: list[FileTally] = []
    n_in = n_quarantined = 0

    def reject(writer, pair, reason, **extra):
        writer.write(pair | {"reject_reason": reason} | extra)
        per_dir[f"{pair['src_lang']}-{pair['tgt_lang']}"][f"rejected:{reason}"] += 1
        rejected_by[reason] += 1

    with (
        JsonlWriter(staged / "kept" / "part-00000.jsonl.gz") as kept,
        JsonlWriter(staged / "rejected" / "part-00000.jsonl.gz") as rejected,
        JsonlWriter(staged / "quarantine.jsonl") as quarantine,
    ):
        # ---- pass 1: per-pair rules and dedup, survivors spilled per language pair
        try:
            for path, kind in files:
                tallies.append(FileTally(str(path)))
                for pair in read_pairs(path, kind, src_lang, tgt_lang, columns):
                    tallies[-1].add(pair)
                    if isinstance(pair, Quarantined):
                        quarantine.write(pair)
                        n_quarantined += 1
                        continue
                    n_in += 1
                    pair = unique(pair)
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
        kept_pairs = oriented = 0
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
                oriented += 1
                if within_cap:
                    kept.write(pair)
                    per_dir[direction]["kept"] += 1
                else:
                    reject(rejected, pair, "over_direction_cap")
    total = time.perf_counter() - t0
    files_report = merge_reports(t.report() for t in tallies)
    stats = {
        "inputs": n_in,
        "quarantined": n_quarantined,
        "kept": kept.count,
        "kept_input_pairs": kept_pairs,
        "totals": {
            "input": n_in + n_quarantined,
            "kept": kept.count,
            "rejected": rejected.count,
            "quarantined": n_quarantined,
            "added_reversed": oriented - kept_pairs,
        },
        "rejected": {r: rejected_by[r] for r in sorted(rejected_by, key=_rule_order)},
        "directions": {k: _dir_stats(v) for k, v in sorted(per_dir.items())},
        "rule_notes": dict(rules.counters),
        "duplicate_ids": {"renamed": unique.renamed},
        "files": files_report,
        "semantic": {
            "method": cfg.semantic,
            "encoder": encoder_obj.name if encoder_obj else None,
            "k": cfg.margin_k,
            "min_margin": cfg.min_margin,
            **semantic,
            "texts_encoded": encoder_obj.encoded if encoder_obj else 0,
        },
        "config": cfg.model_dump(),
    }
    timings = {
        "seconds": {"rules": round(t_rules, 3), "semantic": round(t_sem, 3), "total": round(total, 3)},
        "pairs_per_s": round(n_in / total, 2) if total > 0 else None,
        "semantic_pairs_per_s": round(semantic["scored"] / t_sem, 2) if t_sem > 0 else None,
    }
    write_json(staged / "stats.json", stats)
    write_json(staged / "timings.json", timings)
    for name in OUTPUTS:
        os.replace(staged / name, out / name)
    shutil.rmtree(work, ignore_errors=True)
    warn(files_report, str(out / "quarantine.jsonl"))
    if unique.renamed:
        print(
            f"warning: {unique.renamed} pairs had the id of an earlier one: renamed ID#2, ID#3... "
            "(metadata.original_id keeps the id)",
            file=sys.stderr,
        )
    write_json(out / MARKER, {"files": len(files), "pairs": n_in, "kept": kept.count})
    return stats | {"timings": timings}


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _rule_order(reason: str) -> int:
    base = reason.removeprefix("src_").removeprefix("tgt_")
    return RULES.index(base) if base in RULES else len(RULES)


def _dir_stats(c: Counter) -> dict:
    rejected = {k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("rejected:")}
    return {"input": c.get("input", 0), "kept": c.get("kept", 0), "rejected": dict(sorted(rejected.items()))}

"""Bitext filter quality on real text: UDHR pairs with English, with planted errors, scored per language pair.

    python scripts/eval_bitext_udhr.py [--udhr ../shared/data/udhr/udhr-articles-1-15.jsonl] [--out DIR]
        [--languages tha_Thai,kaz_Cyrl] [--set min_margin=0.99] [--seed 0]

Gold pairs: the UDHR is parallel by article. Inside an article, paragraphs are paired with English only when both
have the same number of paragraphs AND every paragraph pair's length ratio is within a band around the
language's whole-text ratio (a shifted paragraph, as in the Vietnamese preamble, fails the band); paragraphs are
split further into sentence pairs only under the same two conditions. Articles that cannot be aligned this way
are left out (counted), never guessed.

Planted errors per language (seeded; shares of its good pairs): misaligned pairs (a sentence with another
sentence's translation), wrong-language sides (the same segment from another UDHR language), copies (target =
source), truncations (one side cut to 30-60%), near-duplicates (a good pair again with a small edit) and exact
duplicates. Expected: every good pair kept (its first occurrence), every planted pair rejected.

Writes ``DIR/report.json`` and ``DIR/report.md``: precision/recall/F1 of kept pairs per language pair and
overall, the rule that caught each kind of planted error, and a sweep of the margin threshold.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from linguabridge.config import BitextConfig
from linguabridge.data.bitext.filter import filter_pairs
from linguabridge.data.langid import confusable_languages
from linguabridge.io import JsonlWriter
from linguabridge.languages import get_language

DEFAULT_UDHR = Path(__file__).resolve().parents[2] / "shared" / "data" / "udhr" / "udhr-articles-1-15.jsonl"
_SENT = re.compile(r"(?<=[.!?؟।။።៕])\s+|(?<=[。！？])")
BAND = (0.5, 2.0)  # a paragraph/sentence pair's length ratio relative to the language's whole-text ratio
MAX_SEGMENT = 600  # characters: longer units are not realistic bitext segments
NOISE = {"misaligned": 0.12, "wrong_language": 0.06, "copy": 0.05, "truncated": 0.06, "near_duplicate": 0.05,
         "exact_duplicate": 0.04}  # fmt: skip


def load_udhr(path: Path) -> dict[str, dict[int, str]]:
    by_lang: dict[str, dict[int, str]] = defaultdict(dict)
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            by_lang[row["lang"]][row["article"]] = row["text"]
    return by_lang


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(text) if s.strip()]


def _in_band(pairs: list[tuple[str, str]], expected: float) -> bool:
    return all(BAND[0] < (len(x) / max(1, len(e))) / expected < BAND[1] for e, x in pairs)


def build_gold(udhr: dict[str, dict[int, str]], langs: list[str]) -> tuple[list[dict], Counter]:
    """Aligned (English, X) segment pairs, with counts of how each unit was aligned or left out."""
    eng = udhr["eng_Latn"]
    how: Counter = Counter()
    gold: list[dict] = []
    for lang in langs:
        arts = sorted(set(eng) & set(udhr[lang]))
        ratio = sum(len(udhr[lang][a]) for a in arts) / sum(len(eng[a]) for a in arts)
        for art in arts:
            ep, xp = eng[art].split("\n"), udhr[lang][art].split("\n")
            if len(ep) != len(xp) or not _in_band(list(zip(ep, xp, strict=True)), ratio):
                units = [(" ".join(ep), " ".join(xp))]
                kind = "article"
            else:
                units, kind = list(zip(ep, xp, strict=True)), "paragraph"
            for u, (e, x) in enumerate(units):
                es, xs = _sentences(e), _sentences(x)
                para_ratio = len(x) / max(1, len(e))
                if len(es) == len(xs) > 1 and _in_band(list(zip(es, xs, strict=True)), para_ratio):
                    segs, seg_kind = list(zip(es, xs, strict=True)), "sentence"
                else:
                    segs, seg_kind = [(e, x)], kind
                for s, (es_, xs_) in enumerate(segs):
                    if max(len(es_), len(xs_)) > MAX_SEGMENT:
                        how[f"left_out_long_{seg_kind}"] += 1
                        continue
                    how[seg_kind] += 1
                    gold.append({"id": f"{lang}.{art:02d}.{u}.{s}", "lang": lang, "en": es_, "x": xs_})
    return gold, how


def _truncate(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    keep = rng.uniform(0.3, 0.6)
    if len(words) >= 4:
        return " ".join(words[: max(1, int(len(words) * keep))])
    return text[: max(1, int(len(text) * keep))]  # scripts without spaces: cut characters


def _near_edit(text: str, rng: random.Random) -> str:
    """A small real edit (one word dropped or two swapped; characters where there are no spaces). Case and
    punctuation changes are not used: they are exact duplicates once normalised."""
    words = text.split(" ")
    if len(words) >= 4:
        i = rng.randrange(1, len(words) - 1)
        if rng.random() < 0.5:
            return " ".join(words[:i] + words[i + 1 :])
        words[i], words[i + 1] = words[i + 1], words[i]
        return " ".join(words)
    i = rng.randrange(1, len(text) - 1)
    return text[:i] + text[i + 1 :]


def _long_enough(g: dict) -> bool:
    """Near-duplicates are planted on long pairs only: one edit in a 6-word sentence makes a different one."""
    return all(len(t.split(" ")) >= 12 or (len(t.split(" ")) < 4 and len(t) >= 40) for t in (g["en"], g["x"]))


def plant(gold: list[dict], udhr: dict, seed: int) -> tuple[list[dict], dict[str, dict]]:
    """Bitext records (half en->X, half X->en) with planted errors, and the truth per record id."""
    rng = random.Random(seed)
    by_lang: dict[str, list[dict]] = defaultdict(list)
    for g in gold:
        by_lang[g["lang"]].append(g)
    other_langs = sorted(set(udhr) - {"eng_Latn"})
    records: list[dict] = []
    truth: dict[str, dict] = {}

    def rec(rid, lang, en, x, expected, kind, pair_lang=None):
        forward = int(rng.random() < 0.5)
        pair_lang = pair_lang or lang
        r = {"id": rid, "src_lang": "eng_Latn", "tgt_lang": lang, "src": en, "tgt": x}
        if not forward:
            r = {"id": rid, "src_lang": lang, "tgt_lang": "eng_Latn", "src": x, "tgt": en}
        truth[rid] = {"expected": expected, "kind": kind, "lang": pair_lang}
        return r

    for lang in sorted(by_lang):
        good = by_lang[lang]
        n = len(good)
        out = [rec(g["id"], lang, g["en"], g["x"], "keep", "clean") for g in good]
        k = {kind: max(1, round(share * n)) for kind, share in NOISE.items()}
        for i in range(k["misaligned"]):
            a, b = rng.sample(good, 2)
            out.append(rec(f"{lang}.mis{i}", lang, a["en"], b["x"], "drop", "misaligned"))
        for i in range(k["wrong_language"]):
            g = rng.choice(good)
            art = int(g["id"].split(".")[1])
            # Not a language LID cannot tell from this one (Malay for Indonesian): the claim could be right.
            near = confusable_languages(lang)
            wrong = rng.choice([o for o in other_langs if o != lang and o not in near and art in udhr[o]])
            seg = udhr[wrong][art].split("\n")[0][: MAX_SEGMENT - 50]
            out.append(rec(f"{lang}.wl{i}", lang, g["en"], seg, "drop", "wrong_language"))
        for i in range(k["copy"]):
            g = rng.choice(good)
            out.append(rec(f"{lang}.copy{i}", lang, g["en"], g["en"], "drop", "copy"))
        for i in range(k["truncated"]):
            g = rng.choice(good)
            en, x = (
                (g["en"], _truncate(g["x"], rng)) if rng.random() < 0.5 else (_truncate(g["en"], rng), g["x"])
            )
            out.append(rec(f"{lang}.trunc{i}", lang, en, x, "drop", "truncated"))
        rng.shuffle(out)
        # Duplicates come after their originals, so "first occurrence wins" is the expected outcome.
        long_pairs = [g for g in good if _long_enough(g)] or good
        for i in range(k["near_duplicate"]):
            g = rng.choice(long_pairs)
            en, x = (
                (_near_edit(g["en"], rng), g["x"])
                if rng.random() < 0.5
                else (g["en"], _near_edit(g["x"], rng))
            )
            out.append(rec(f"{lang}.near{i}", lang, en, x, "drop", "near_duplicate"))
        for i in range(k["exact_duplicate"]):
            g = rng.choice(good)
            out.append(rec(f"{lang}.dup{i}", lang, g["en"], g["x"], "drop", "exact_duplicate"))
        records.extend(out)
    return records, truth


def prf(kept: set[str], ids: list[str], truth: dict) -> dict:
    tp = sum(1 for i in ids if i in kept and truth[i]["expected"] == "keep")
    fp = sum(1 for i in ids if i in kept and truth[i]["expected"] == "drop")
    fn = sum(1 for i in ids if i not in kept and truth[i]["expected"] == "keep")
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0, 4),
            "pairs": len(ids), "good": tp + fn, "kept": tp + fp}  # fmt: skip


def _read(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def sweep(kept: list[dict], rejected: list[dict], truth: dict, thresholds: list[float]) -> list[dict]:
    """F1 if the margin threshold were different (other rules fixed): needs each pair's margin score."""
    candidates = [(r, r["scores"]["margin"]) for r in kept + rejected
                  if r.get("reject_reason") in (None, "low_margin") and "margin" in r.get("scores", {})]  # fmt: skip
    decided = {r["id"] for r in kept} - {r["id"] for r, _ in candidates}
    ids = list(truth)
    out = []
    for th in thresholds:
        keep = decided | {r["id"] for r, m in candidates if m >= th}
        per = {lang: prf(keep, [i for i in ids if truth[i]["lang"] == lang], truth)["f1"]
               for lang in sorted({t["lang"] for t in truth.values()})}  # fmt: skip
        out.append({"min_margin": th, **{k: v for k, v in prf(keep, ids, truth).items() if k != "pairs"},
                    "worst_pair_f1": min(per.values())})  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--udhr", type=Path, default=DEFAULT_UDHR)
    ap.add_argument("--out", type=Path, default=Path("runs/eval_bitext_udhr"))
    ap.add_argument("--languages", default="", help="comma-separated; default: every non-English language")
    ap.add_argument("--set", action="append", default=[], help="BitextConfig override key=value (repeatable)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not args.udhr.is_file():
        sys.exit(f"UDHR file not found: {args.udhr} (pass --udhr)")
    udhr = load_udhr(args.udhr)
    langs = [get_language(x).code for x in args.languages.split(",") if x] or sorted(set(udhr) - {"eng_Latn"})
    cfg = BitextConfig(**{k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)})
    gold, how = build_gold(udhr, langs)
    records, truth = plant(gold, udhr, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    with JsonlWriter(args.out / "input.jsonl") as w:
        for r in records:
            w.write(r)
    t0 = time.perf_counter()
    stats = filter_pairs([args.out / "input.jsonl"], args.out / "filtered", cfg)
    seconds = time.perf_counter() - t0
    kept = _read(args.out / "filtered" / "kept" / "part-00000.jsonl.gz")
    rejected = _read(args.out / "filtered" / "rejected" / "part-00000.jsonl.gz")
    kept_ids = {r["id"] for r in kept}
    ids = list(truth)
    per_pair = {f"eng_Latn-{lang}": prf(kept_ids, [i for i in ids if truth[i]["lang"] == lang], truth)
                for lang in langs}  # fmt: skip
    caught: dict[str, Counter] = defaultdict(Counter)
    for r in rejected:
        caught[truth[r["id"]]["kind"]][r["reject_reason"]] += 1
    for r in kept:
        caught[truth[r["id"]]["kind"]]["KEPT"] += 1
    report = {
        "overall": prf(kept_ids, ids, truth),
        "worst_pair": min(per_pair.items(), key=lambda kv: kv[1]["f1"]),
        "pairs_below_0.8": [k for k, v in per_pair.items() if v["f1"] < 0.8],
        "per_pair": per_pair,
        "planted_caught_by": {k: dict(v.most_common()) for k, v in sorted(caught.items())},
        "gold_alignment": dict(how),
        "margin_sweep": sweep(kept, rejected, truth, [0.97, 0.98, 0.985, 0.99, 0.995, 1.0, 1.01]),
        "seconds": round(seconds, 1),
        "filter_pairs_per_s": stats["timings"]["pairs_per_s"],
        "semantic": stats["semantic"] | {"pairs_per_s": stats["timings"]["semantic_pairs_per_s"]},
        "config": {k: v for k, v in cfg.model_dump().items() if k in dict(s.split("=", 1) for s in args.set)},
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (args.out / "report.md").write_text(_markdown(report))
    print(_markdown(report))
    return report


def _markdown(rep: dict) -> str:
    o = rep["overall"]
    lines = [
        f"Overall: P {o['precision']:.3f}  R {o['recall']:.3f}  F1 {o['f1']:.3f}  ({o['pairs']} pairs, "
        f"{o['good']} good); worst pair {rep['worst_pair'][0]} F1 {rep['worst_pair'][1]['f1']:.3f}; "
        f"filter {rep['seconds']} s ({rep['filter_pairs_per_s']} pairs/s; semantic "
        f"{rep['semantic']['pairs_per_s']} pairs/s)",
        "",
        "| pair | pairs | good | kept | precision | recall | F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, v in rep["per_pair"].items():
        lines.append(f"| {k} | {v['pairs']} | {v['good']} | {v['kept']} | {v['precision']:.3f} | "
                     f"{v['recall']:.3f} | {v['f1']:.3f} |")  # fmt: skip
    lines += ["", "| planted kind | caught by (count) |", "|---|---|"]
    for kind, by in rep["planted_caught_by"].items():
        lines.append(f"| {kind} | {', '.join(f'{r} {n}' for r, n in by.items())} |")
    lines += ["", "| min_margin | precision | recall | F1 | worst pair F1 |", "|---|---|---|---|---|"]
    for s in rep["margin_sweep"]:
        lines.append(f"| {s['min_margin']} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | "
                     f"{s['worst_pair_f1']:.3f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

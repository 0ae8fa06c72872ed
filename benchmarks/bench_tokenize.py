"""Tokenization throughput: linguabridge's shard writer against raw ``tokenizers.Tokenizer.encode_batch``.

Both tokenize the same multilingual text (the bundled demo corpus, repeated to ``--mb`` megabytes) with the
real Qwen2 tokenizer on one core (``TOKENIZERS_PARALLELISM=false``). The raw figure is ``encode_batch`` alone
on texts already in memory; linguabridge's figure is the whole stage: read the JSONL file, tokenize, append
EOS, write the shard, the index and the inventory. Target: the pipeline keeps >= 80% of the raw rate.
``--workers N`` also times N worker processes (tokens/s in total and per core, process start included).
Each figure is given per wall second and per CPU second (this process plus its workers): on a machine
shared with other jobs the CPU figure is the steadier measure of what one core does.

    python benchmarks/bench_tokenize.py [--mb 8] [--repeats 3] [--workers 2] [--json out.json]
"""

from __future__ import annotations

import os

os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one core per process: rates are per core

import argparse
import json
import resource
import shutil
import tempfile
import time
from importlib import resources
from pathlib import Path


def demo_texts() -> list[tuple[str, str]]:
    """(language, text) of the demo web documents that curation keeps (their true language)."""
    demo = Path(str(resources.files("linguabridge").joinpath("assets/demo")))
    truth = {}
    for line in (demo / "web_truth.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        truth[r["id"]] = r
    out = []
    for line in (demo / "web.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        if truth[d["id"]]["expected"] == "keep":
            out.append((truth[d["id"]]["language"], d["text"]))
    return out


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the worker processes)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def best_of(fns: dict, repeats: int) -> dict[str, tuple[float, float]]:
    """Best wall time and best CPU time of each function. Rounds interleave the functions so a busy moment
    on a shared machine hits all alike; CPU time is what a core spent, whatever else the machine ran."""
    best = {name: (float("inf"), float("inf")) for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            w0, c0 = time.perf_counter(), cpu_seconds()
            fn()
            wall, cpu = time.perf_counter() - w0, cpu_seconds() - c0
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=8.0, help="megabytes of text to tokenize")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="also time this many worker processes (0: skip)")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()

    from tokenizers import Tokenizer

    from linguabridge.mixture.shard_writer import tokenize_documents
    from linguabridge.tokenizer import load_tokenizer

    tok = load_tokenizer("qwen2")
    base = demo_texts()
    size = sum(len(t.encode()) for _, t in base)
    copies = max(1, int(args.mb * 1e6 / size))
    docs = [(f"d{k}-{i}", lang, text) for k in range(copies) for i, (lang, text) in enumerate(base)]
    texts = [text for _, _, text in docs]
    nbytes = sum(len(t.encode()) for t in texts)

    work = Path(tempfile.mkdtemp(prefix="bench-tokenize-"))
    corpus = work / "kept.jsonl"
    with open(corpus, "w", encoding="utf-8") as fh:
        for doc_id, lang, text in docs:
            fh.write(
                json.dumps({"id": doc_id, "text": text, "metadata": {"language": lang}}, ensure_ascii=False)
            )
            fh.write("\n")

    raw = Tokenizer.from_str(tok.backend_tokenizer.to_str())
    n_tokens = sum(len(e.ids) for e in raw.encode_batch(texts, add_special_tokens=False))

    def raw_encode_batch():
        for s in range(0, len(texts), 1024):
            raw.encode_batch(texts[s : s + 1024], add_special_tokens=False)

    def raw_encode_batch_fast():
        for s in range(0, len(texts), 1024):
            raw.encode_batch_fast(texts[s : s + 1024], add_special_tokens=False)

    def hf_wrapper():
        for s in range(0, len(texts), 1024):
            tok(texts[s : s + 1024], add_special_tokens=False)

    def pipeline(workers: int):
        def run():
            out = work / f"tokens-{workers}"
            shutil.rmtree(out, ignore_errors=True)
            summary = tokenize_documents([corpus], tok, out, set(), docs_per_shard=2000, workers=workers)
            assert summary["total_tokens"] == n_tokens + len(docs)  # ids + one EOS per document

        return run

    pipeline(1)()  # warm the file cache and the encoder once
    results: dict = {"text_mb": round(nbytes / 1e6, 2), "documents": len(docs), "tokens": n_tokens}
    timed = {
        "raw_encode_batch": raw_encode_batch,
        "raw_encode_batch_fast": raw_encode_batch_fast,
        "hf_tokenizer_call": hf_wrapper,
        "linguabridge_1_worker": pipeline(1),
    }
    if args.workers > 1:
        timed[f"linguabridge_{args.workers}_workers"] = pipeline(args.workers)
    for name, (wall, cpu) in best_of(timed, args.repeats).items():
        cores = args.workers if name.endswith("_workers") else 1
        results[name] = {
            "wall_seconds": round(wall, 3),
            "tokens_per_s": round(n_tokens / wall),
            "tokens_per_s_per_core": round(n_tokens / wall / cores),
            "cpu_seconds": round(cpu, 3),
            "tokens_per_cpu_s": round(n_tokens / cpu),
        }
    ours, raw = results["linguabridge_1_worker"], results["raw_encode_batch"]
    results["linguabridge_vs_raw_encode_batch"] = {
        "wall": round(ours["tokens_per_s"] / raw["tokens_per_s"], 3),
        "cpu": round(ours["tokens_per_cpu_s"] / raw["tokens_per_cpu_s"], 3),
    }
    results["cpu_count"] = os.cpu_count()
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

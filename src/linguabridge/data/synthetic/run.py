"""Step 2 and the run: generate what the request cache lacks, then check and write every planned output in
plan order (``accepted/``, ``rejected/``, ``failed.jsonl``, ``plan.jsonl``, ``stats.json``)."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from pathlib import Path

from linguabridge.data.generation import HFBackend, OpenAIBackend, Request, RequestCache, RunCounters
from linguabridge.data.records import Document
from linguabridge.data.synthetic.checks import OutputChecker
from linguabridge.data.synthetic.prompts import fewshot_pools, keyword_pools, plan_requests
from linguabridge.errors import ConfigError
from linguabridge.io import JsonlWriter, write_json
from linguabridge.languages import get_language


def make_backend(cfg):
    if cfg.backend == "hf":
        if not cfg.model:
            raise ConfigError("the hf backend needs a model directory", "pass --model PATH")
        return HFBackend(cfg.model, batch_size=cfg.hf_batch_size)
    if not cfg.endpoint:
        raise ConfigError("the openai backend needs an endpoint", "pass --endpoint http://HOST:PORT/v1")
    if not cfg.model:
        raise ConfigError("the openai backend needs the served model's name", "pass --model NAME")
    return OpenAIBackend(
        cfg.endpoint,
        cfg.api_key_env,
        cfg.concurrency,
        cfg.requests_per_second,
        cfg.timeout_s,
        cfg.max_retries,
    )


def run_synthetic(
    cfg, languages: list[str], out_dir: str | Path, seed: int = 0, backend=None, fewshot_paths=None
) -> dict:
    """Plan, generate what the cache lacks, check, and write ``accepted/``, ``rejected/``, ``failed.jsonl``,
    ``plan.jsonl`` and ``stats.json`` under ``out_dir``. Safe to rerun: cached results are never re-requested."""
    t0 = time.perf_counter()
    out = Path(out_dir)
    languages = [get_language(x).code for x in languages]
    if not languages:
        raise ConfigError("no languages to generate for", "pass --languages or set synthetic.languages")
    model = cfg.model or "unknown"
    keywords = keyword_pools(cfg, languages, list(cfg.families))
    samples = fewshot_pools(fewshot_paths or [], languages) if "fewshot" in cfg.families else {}
    requests = plan_requests(cfg, languages, model, seed, keywords, samples)
    with JsonlWriter(out / "plan.jsonl") as w:
        for r in requests:
            w.write({"key": r.key, **r.meta, "messages": r.messages, "params": r.params})
    cache_db = RequestCache(out / "cache.sqlite")
    try:
        have = cache_db.keys()
        unique: dict[str, Request] = {}
        for r in requests:
            unique.setdefault(r.key, r)
        todo = [r for k, r in unique.items() if k not in have]
        counters = RunCounters()
        if todo:
            backend = backend or make_backend(cfg)
            counters = backend.run(todo, cache_db.record)
        stats = _write_outputs(cfg, requests, cache_db, out)
    finally:
        cache_db.close()
    stats |= {
        "planned": len(requests),
        "cached_before": len(unique) - len(todo),
        "requests": counters.to_json(),
        "seconds": round(time.perf_counter() - t0, 3),
        "model": model,
        "config": {k: v for k, v in cfg.model_dump().items() if k != "api_key_env"},
    }
    write_json(out / "stats.json", stats)
    return stats


def _write_outputs(cfg, requests: list[Request], cache_db: RequestCache, out: Path) -> dict:
    checker = OutputChecker(cfg)
    reasons: Counter = Counter()
    per_lang: dict[str, Counter] = defaultdict(Counter)
    with (
        JsonlWriter(out / "accepted" / "part-00000.jsonl.gz") as accepted,
        JsonlWriter(out / "rejected" / "part-00000.jsonl.gz") as rejected,
        JsonlWriter(out / "failed.jsonl") as failed,
    ):
        for r in requests:
            lang, family = r.meta["language"], r.meta["family"]
            result = cache_db.get(r.key)
            if result is None:
                why = cache_db.failure(r.key) or {
                    "error": "no result (not sent: run interrupted)",
                    "attempts": 0,
                }
                failed.write({"key": r.key, **r.meta, **why})
                per_lang[lang]["failed"] += 1
                continue
            reason, info = checker.check(r, result["text"])
            meta = {"source": "synthetic", "family": family, "language": lang, "model": r.model,
                    "request_key": r.key, "slots": r.meta["slots"], **info}  # fmt: skip
            doc = Document(f"synth-{r.key[:16]}-{r.meta['index']}", result["text"], meta)
            if reason is None:
                accepted.write(doc)
                per_lang[lang]["accepted"] += 1
            else:
                rejected.write(doc.to_json() | {"reject_reason": reason})
                reasons[reason] += 1
                per_lang[lang][f"rejected:{reason}"] += 1
        return {
            "accepted": accepted.count,
            "rejected": dict(sorted(reasons.items())),
            "failed": failed.count,
            "languages": {k: dict(sorted(v.items())) for k, v in sorted(per_lang.items())},
        }

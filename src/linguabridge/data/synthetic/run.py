"""Step 2 and the run: generate what the request cache lacks, then check and write every planned output in
plan order. Layout of ``OUT``::

    plan.jsonl                 every planned request (key, family, language, slots, messages, params)
    cache.sqlite               every result and last failure by request key (reruns send nothing twice)
    accepted/part-00000.jsonl.gz, rejected/part-00000.jsonl.gz (with reject_reason), failed.jsonl
    stats.json                 counts and config: the same bytes for the same plan and results
    last_run.json              what this invocation did (seconds, requests sent, retries, cache hits)
    _COMPLETE.json             written last: the files above are one consistent set

Each file is written atomically (temporary file, then rename) and the marker is removed before any of them
is rewritten, so a run killed at any point leaves either a complete set or no marker; rerunning the same
command then finishes the set, byte-identical to a run that was never interrupted.
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from pathlib import Path

from linguabridge.data.generation import HFBackend, Request, RequestCache, RunCounters
from linguabridge.data.openai_backend import OpenAIBackend, redact
from linguabridge.data.records import Document
from linguabridge.data.synthetic.checks import OutputChecker
from linguabridge.data.synthetic.prompts import fewshot_pools, keyword_pools, plan_requests
from linguabridge.errors import ConfigError, LinguabridgeError
from linguabridge.io import JsonlWriter, iter_jsonl, sha256_file, write_json
from linguabridge.languages import get_language

MARKER = "_COMPLETE.json"


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
        cfg.retry_wait_max_s,
    )


def run_synthetic(
    cfg, languages: list[str], out_dir: str | Path, seed: int = 0, backend=None, fewshot_paths=None
) -> dict:
    """Plan, generate what the cache lacks, check, and write the outputs of the module docstring under
    ``out_dir``; returns ``stats.json`` and ``last_run.json`` in one dict. Safe to rerun: cached results are
    never re-requested, failed ones are."""
    t0 = time.perf_counter()
    out = Path(out_dir)
    languages = [get_language(x).code for x in languages]
    if not languages:
        raise ConfigError("no languages to generate for", "pass --languages or set synthetic.languages")
    model = cfg.model or "unknown"
    keywords = keyword_pools(cfg, languages, list(cfg.families))
    samples = fewshot_pools(fewshot_paths or [], languages) if "fewshot" in cfg.families else {}
    requests = plan_requests(cfg, languages, model, seed, keywords, samples)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).unlink(missing_ok=True)  # the set is about to change: complete again only at the end
    for partial in [*out.glob("*.tmp"), *out.glob("accepted/*.tmp"), *out.glob("rejected/*.tmp")]:
        partial.unlink(missing_ok=True)  # left by a killed writer (io.temp_path)
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
    stats |= {"planned": len(requests), "model": model, "config": _public_config(cfg)}
    write_json(out / "stats.json", stats)
    last_run = {
        "cached_before": len(unique) - len(todo),
        "requests": counters.to_json(),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    write_json(out / "last_run.json", last_run)
    write_json(
        out / MARKER,
        {"plan_sha256": sha256_file(out / "plan.jsonl"), "planned": len(requests), "accepted": stats["accepted"],
         "rejected": sum(stats["rejected"].values()), "failed": stats["failed"]},
    )  # fmt: skip
    return stats | last_run


def _public_config(cfg) -> dict:
    """The config as ``stats.json`` keeps it: no key variable, no credentials in the endpoint URL."""
    config = {k: v for k, v in cfg.model_dump().items() if k != "api_key_env"}
    if config.get("endpoint"):
        config["endpoint"] = redact(config["endpoint"], [os.environ.get(cfg.api_key_env) or ""])
    return config


def failure_verdict(stats: dict, out_dir: str | Path, max_failed_share: float) -> str | None:
    """What ``data synth`` says about failed requests: nothing when none failed, a warning line when at most
    ``max_failed_share`` of the plan failed, a :class:`LinguabridgeError` (exit 2) when more did or when
    nothing at all was generated. Outputs are written in every case, and a rerun retries only the failures."""
    failed, planned = stats["failed"], stats["planned"]
    if not failed:
        return None
    where = Path(out_dir) / "failed.jsonl"
    first = next((obj for _, obj in iter_jsonl(where) if isinstance(obj, dict)), {})
    summary = f"{failed} of {planned} requests failed (first: {first.get('error', 'unknown')}); see {where}"
    retry = "rerun the same command to retry only the failed requests (results so far are cached)"
    if failed == planned:
        raise LinguabridgeError(
            f"nothing generated: {summary}", f"check --endpoint, --model and the key; {retry}"
        )
    if failed > max_failed_share * planned:
        raise LinguabridgeError(
            summary, f"{retry}; synthetic.max_failed_share ({max_failed_share:g}) sets how many may fail"
        )
    return f"{summary}; {retry}"


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

"""Synthetic text: Marco's three prompt families, planned deterministically, generated resumably, checked.

1. **Plan** (:func:`plan_requests`): for each language, ``n`` requests spread over the families; each fills its
   family's template (``assets/synthetic/families.yaml``) with slot values (``assets/synthetic/slots/``, extendable
   per language and by the user), keywords (a word list or mined from the user's corpus) or few-shot samples,
   all drawn by a seeded sampler. The same config and seed give the same requests, hence the same keys.
2. **Generate** (:func:`run_synthetic`): requests whose key is not yet in the on-disk cache go to the backend
   (``data/generation.py``); each result is committed as it arrives.
3. **Check and write**: in plan order, each cached output is accepted or rejected with a reason: ``empty``,
   ``refusal``, ``mentions_sample``, ``bad_format``, ``too_short``, ``wrong_language``, ``low_language_score``,
   ``exact_duplicate``, ``near_duplicate``. Requests with no result are listed in ``failed.jsonl``.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from linguabridge.data.generation import HFBackend, OpenAIBackend, Request, RequestCache, RunCounters
from linguabridge.data.langid import confusable_languages, get_identifier
from linguabridge.data.records import Document, read_documents, stable_id
from linguabridge.data.text import Analysis
from linguabridge.data.thresholds import stop_words as rules_stop_words
from linguabridge.errors import ConfigError, LinguabridgeError
from linguabridge.io import JsonlWriter, iter_jsonl, write_json
from linguabridge.languages import get_language

FAMILIES = ("explanation", "story", "fewshot")
_MENTIONS_SAMPLE = re.compile(r"\b(given|created|generated|new) sample\b", re.IGNORECASE)
_TURN = re.compile(r"^\s*(User|Assistant)\s*:\s*", re.MULTILINE | re.IGNORECASE)


# ------------------------------------------------------------------------------------------- prompt data
def _asset(path: str) -> str:
    return resources.files("linguabridge").joinpath(f"assets/synthetic/{path}").read_text(encoding="utf-8")


@cache
def load_families() -> dict[str, dict]:
    return yaml.safe_load(_asset("families.yaml"))


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"{path}: cannot read slot pools ({exc})", "a YAML mapping of slot -> list"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: slot pools must be a mapping of slot -> list", "see assets/synthetic/slots"
        )
    return data


def load_slots(language: str, extra_files: Iterable[str | Path] = ()) -> dict[str, list]:
    """Default pools, then the language's own file, then the user's files (each appends, or replaces with
    ``replace: true``). A user file may also hold per-language sections: ``{tha_Thai: {scene: [...]}}``."""
    pools: dict[str, list] = yaml.safe_load(_asset("slots/default.yaml"))
    layers: list[dict] = []
    lang_file = resources.files("linguabridge").joinpath(f"assets/synthetic/slots/{language}.yaml")
    if lang_file.is_file():
        layers.append(yaml.safe_load(lang_file.read_text(encoding="utf-8")) or {})
    for f in extra_files:
        data = _read_yaml(Path(f))
        layers.append({k: v for k, v in data.items() if not _is_language_key(k)})
        layers.extend(v for k, v in data.items() if _is_language_key(k) and get_language(k).code == language)
    for layer in layers:
        replace = bool(layer.get("replace", False))
        for slot, values in layer.items():
            if slot == "replace":
                continue
            if not isinstance(values, list):
                raise ConfigError(f"slot {slot!r} must be a list", "write slot: [value, value, ...]")
            pools[slot] = list(values) if replace else pools.get(slot, []) + list(values)
    return pools


def _is_language_key(key: str) -> bool:
    try:
        get_language(key)
    except LinguabridgeError:
        return False
    return "_" in key


# ---------------------------------------------------------------------------------------------- keywords
def read_word_list(path: str | Path) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"keyword list not found: {p}", "one keyword per line, UTF-8")
    words = [w.strip() for w in p.read_text(encoding="utf-8").splitlines()]
    return list(dict.fromkeys(w for w in words if w and not w.startswith("#")))


def keywords_from_corpus(
    paths: Iterable[str | Path], language: str, limit: int = 2000, max_doc_share: float = 0.3
) -> list[str]:
    """Content words of the user's documents in ``language`` (``metadata.language``, else language ID).

    Kept: words in at least two documents but in at most ``max_doc_share`` of them, not in the curation stage's
    stop-word table, at least 3 characters (2 in Han, kana and Hangul); ranked by document frequency. Words are
    the curation stage's script-aware (segmented) words. Keywords are then drawn uniformly from this pool."""
    stop = stop_words(language)
    min_chars = 2 if get_language(language).script_code in ("Hans", "Hant", "Jpan", "Hang") else 3
    df: Counter = Counter()
    docs = 0
    lid = None
    for doc in read_documents(paths):
        if not isinstance(doc, Document):
            continue
        lang = doc.metadata.get("language")
        if lang is None:  # raw documents: identify them (curated ones carry metadata.language)
            lid = lid or get_identifier("py3langid")
            lang = lid.predict(doc.text[:2000]).language
        if lang != language:
            continue
        docs += 1
        words = Analysis(doc.text, language).non_symbol_words
        df.update({w.lower() for w in words if w.isalpha() and len(w) >= min_chars} - stop)
    top = max(2, int(docs * max_doc_share))
    ranked = sorted((w for w, n in df.items() if 2 <= n <= top), key=lambda w: (-df[w], w))
    return ranked[:limit]


@cache
def stop_words(language: str) -> frozenset[str]:
    """The curation stage's stop words of ``language``, lower-cased (keywords are compared lower-cased)."""
    return frozenset(w.lower() for w in rules_stop_words(language))


def keyword_pools(cfg, languages: list[str], families: list[str]) -> dict[str, list[str]]:
    """Keywords per language, from ``keyword_files`` first, else mined from ``keyword_corpus``."""
    if not any("keywords" in load_families()[f].get("needs", []) for f in families):
        return {}
    out = {}
    for lang in languages:
        path = next((p for k, p in cfg.keyword_files.items() if get_language(k).code == lang), None)
        words = read_word_list(path) if path else []
        if not words and cfg.keyword_corpus:
            words = keywords_from_corpus(cfg.keyword_corpus, lang)
        if len(words) < cfg.keywords_per_prompt:
            raise ConfigError(
                f"only {len(words)} keywords for {lang} (need at least {cfg.keywords_per_prompt})",
                "give a word list (--keywords LANG=FILE, data.synthetic.keyword_files) or a corpus with "
                "documents in that language (--corpus, data.synthetic.keyword_corpus)",
            )
        out[lang] = words
    return out


def fewshot_pools(paths: Iterable[str | Path], languages: list[str]) -> dict[str, list[list[dict]]]:
    """Chat samples ``{language, messages}`` per language for the few-shot family."""
    out: dict[str, list[list[dict]]] = defaultdict(list)
    for path in paths:
        for _, obj in iter_jsonl(path):
            if (
                not isinstance(obj, dict)
                or not isinstance(obj.get("messages"), list)
                or not obj.get("language")
            ):
                continue
            try:
                lang = get_language(obj["language"]).code
            except LinguabridgeError:
                continue
            turns = [m for m in obj["messages"] if m.get("role") in ("user", "assistant")]
            if lang in languages and len(turns) >= 2:
                out[lang].append(turns[:2])
    return out


def format_sample(turns: list[dict]) -> str:
    return "\n".join(f"{'User' if m['role'] == 'user' else 'Assistant'}: {m['content']}" for m in turns)


def parse_sample(text: str) -> list[dict] | None:
    """``User: ... Assistant: ...`` -> chat messages, or None when the output is not in that format."""
    parts = _TURN.split(text.strip())
    if len(parts) < 5 or parts[0].strip():
        return None
    roles = [p.lower() for p in parts[1::2]]
    contents = [c.strip() for c in parts[2::2]]
    if roles[:2] != ["user", "assistant"] or not all(contents[:2]):
        return None
    return [{"role": r, "content": c} for r, c in zip(roles, contents, strict=True)]


# -------------------------------------------------------------------------------------------------- plan
def plan_requests(
    cfg,
    languages: list[str],
    model: str,
    seed: int,
    keywords: dict[str, list[str]] | None = None,
    samples: dict[str, list[list[dict]]] | None = None,
) -> list[Request]:
    """The deterministic list of requests: ``cfg.n_per_language`` per language, families in turn."""
    families = load_families()
    unknown = [f for f in cfg.families if f not in families]
    if unknown:
        raise ConfigError(f"unknown synthetic families {unknown}", f"use {', '.join(families)}")
    requests: list[Request] = []
    for lang in languages:
        language = get_language(lang)
        pools = load_slots(language.code, cfg.slot_files)
        for i in range(cfg.n_per_language):
            family = cfg.families[i % len(cfg.families)]
            rng = random.Random(f"{seed}:{language.code}:{family}:{i}")
            slots = _fill(family, families[family], pools, rng, language, cfg, keywords or {}, samples or {})
            try:
                prompt = families[family]["prompt"].format(**slots)
            except KeyError as exc:
                raise ConfigError(
                    f"family {family!r} needs slot {exc.args[0]!r}, which no slot pool for {language.code} has",
                    "add it to a slot file (data.synthetic.slot_files)",
                ) from None
            params = {
                "temperature": cfg.temperature,
                "top_p": cfg.top_p,
                "max_tokens": cfg.max_tokens,
                "seed": int(stable_id(str(seed), language.code, family, str(i))[:8], 16),
            }
            meta = {"family": family, "language": language.code, "index": i}
            meta["slots"] = {k: v for k, v in slots.items() if k not in ("samples", "language")}
            requests.append(Request.make([{"role": "user", "content": prompt}], params, model, meta))
    return requests


def _fill(family, spec, pools, rng, language, cfg, keywords, samples) -> dict:
    slots: dict = {"language": language.name}
    for slot, values in pools.items():
        if values:
            slots[slot] = rng.choice(values)
    if "length" in slots:
        slots["min_length"], slots["max_length"] = slots.pop("length")
    needs = spec.get("needs", [])
    if "keywords" in needs:
        slots["keywords"] = ", ".join(rng.sample(keywords[language.code], cfg.keywords_per_prompt))
    if "samples" in needs:
        pool = samples.get(language.code, [])
        if len(pool) < cfg.shots:
            raise ConfigError(
                f"few-shot family: {len(pool)} chat samples for {language.code}, need {cfg.shots}",
                "add samples ({language, messages} JSONL) with data.synthetic.fewshot_samples or drop the family",
            )
        chosen = rng.sample(pool, cfg.shots)
        slots["samples"] = "\n\n".join(f"Sample {j + 1}:\n{format_sample(s)}" for j, s in enumerate(chosen))
        slots["n_samples"] = cfg.shots
    return slots


# ---------------------------------------------------------------------------------------------- checks
@cache
def refusal_patterns() -> re.Pattern:
    lines = [line.strip() for line in _asset("refusals.txt").splitlines()]
    return re.compile("|".join(f"(?:{p})" for p in lines if p and not p.startswith("#")), re.IGNORECASE)


class OutputChecker:
    """Accept/reject generated text; remembers accepted outputs for exact and near-duplicate checks."""

    def __init__(self, cfg, lid=None):
        from datasketch.hashfunc import sha1_hash32

        from linguabridge.data.dedup import MinHasher, NearDuplicateIndex, exact_key

        self.cfg = cfg
        self.lid = lid or get_identifier("py3langid")
        self._exact_key = exact_key
        self.seen: set = set()
        self.hasher = MinHasher(n=3, hashfunc=sha1_hash32)
        self.index = NearDuplicateIndex(cfg.near_dup_threshold, recall_margin=0.2)

    def check(self, request: Request, text: str) -> tuple[str | None, dict]:
        lang = request.meta["language"]
        info: dict = {}
        if not text.strip():
            return "empty", info
        if refusal_patterns().search(text):
            return "refusal", info
        if request.meta["family"] == "fewshot":
            if _MENTIONS_SAMPLE.search(text):
                return "mentions_sample", info
            messages = parse_sample(text)
            if messages is None:
                return "bad_format", info
            info["messages"] = messages
        analysis = Analysis(text, lang)
        if len(analysis.non_symbol_words) < self.cfg.min_words:
            return "too_short", info
        pred = self.lid.predict(text)
        info["language_score"] = round(pred.score, 4)
        if pred.language != lang and pred.language not in confusable_languages(lang):
            info["predicted_language"] = pred.language
            return "wrong_language", info
        if pred.score < self.cfg.min_language_score:
            return "low_language_score", info
        key = (lang, self._exact_key(text))
        if key in self.seen:
            return "exact_duplicate", info
        sig = self.hasher(analysis)
        if self.index.find(sig) is not None:
            return "near_duplicate", info
        self.seen.add(key)
        self.index.add(request.key, sig)
        return None, info


# -------------------------------------------------------------------------------------------------- run
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
        raise ConfigError("no languages to generate for", "pass --languages or set data.synthetic.languages")
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


__all__ = [
    "FAMILIES",
    "OutputChecker",
    "RunCounters",
    "keyword_pools",
    "keywords_from_corpus",
    "load_families",
    "load_slots",
    "plan_requests",
    "run_synthetic",
]

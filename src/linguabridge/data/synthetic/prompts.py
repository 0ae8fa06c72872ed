"""Step 1 of synthetic text: Marco's prompt families filled from slot pools, keywords and few-shot samples into a
deterministic list of requests (:func:`plan_requests`)."""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from linguabridge.data.generation import Request
from linguabridge.data.langid import get_identifier
from linguabridge.data.records import Document, read_documents, stable_id
from linguabridge.data.text import Analysis
from linguabridge.data.thresholds import stop_words as rules_stop_words
from linguabridge.errors import ConfigError, LinguabridgeError
from linguabridge.io import iter_jsonl
from linguabridge.languages import get_language

_TURN = re.compile(r"^\s*(User|Assistant)\s*:\s*", re.MULTILINE | re.IGNORECASE)


# ------------------------------------------------------------------------------------------- prompt data
def asset_text(path: str) -> str:
    """A file of ``assets/synthetic/`` (prompt families, slot pools, refusal patterns)."""
    return resources.files("linguabridge").joinpath(f"assets/synthetic/{path}").read_text(encoding="utf-8")


@cache
def load_families() -> dict[str, dict]:
    return yaml.safe_load(asset_text("families.yaml"))


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
    pools: dict[str, list] = yaml.safe_load(asset_text("slots/default.yaml"))
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
                "give a word list (--keywords LANG=FILE, synthetic.keyword_files) or a corpus with "
                "documents in that language (--corpus, synthetic.keyword_corpus)",
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
                    "add it to a slot file (synthetic.slot_files)",
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
                "add samples ({language, messages} JSONL) with synthetic.fewshot_samples or drop the family",
            )
        chosen = rng.sample(pool, cfg.shots)
        slots["samples"] = "\n\n".join(f"Sample {j + 1}:\n{format_sample(s)}" for j, s in enumerate(chosen))
        slots["n_samples"] = cfg.shots
    return slots

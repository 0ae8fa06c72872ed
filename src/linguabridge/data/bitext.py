"""Parallel text: filter sentence pairs, balance directions, render pairs as pretraining documents.

Filtering runs in three passes so memory stays bounded by one language pair at a time:

1. per-pair rules, cheapest first (each rejection names its rule): ``empty_side``, ``too_long``, ``copy``,
   ``char_length_ratio``, ``word_length_ratio``, ``{src,tgt}_wrong_script``, ``{src,tgt}_wrong_language``,
   ``number_mismatch``, ``url_mismatch``, ``too_much_punctuation``, ``terminal_punctuation_mismatch``, then
   ``exact_duplicate`` and ``near_duplicate`` (first occurrence wins; X->Y and Y->X count as the same pair).
   Survivors are spilled to one file per language pair.
2. per language pair: sentence embeddings and the ratio margin (``data/embeddings.py``) over blocks of up to
   ``margin_pool`` pairs (``low_margin``), then the optional QE hook (``low_qe``).
3. balancing: directions as given / both / split, and per-direction caps keeping the best-scored pairs
   (``over_direction_cap``).

Every input ends in ``kept/``, ``rejected/`` (with ``reject_reason``) or ``quarantine.jsonl``; ``stats.json``
counts all of it per direction and per rule, with timings.
"""

from __future__ import annotations

import importlib
import json
import random
import re
import shutil
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

from linguabridge.data.bitext_readers import read_bitext
from linguabridge.data.dedup import MinHasher, NearDuplicateIndex, exact_key
from linguabridge.data.embeddings import CachedEncoder, get_encoder, margin_scores
from linguabridge.data.langid import confusable_languages, get_identifier
from linguabridge.data.records import Document, stable_id
from linguabridge.data.text import Analysis
from linguabridge.errors import ConfigError, LinguabridgeError
from linguabridge.io import JsonlWriter, Quarantined, iter_jsonl, read_asset_table, write_json
from linguabridge.languages import get_language

# Marco-LLM Table 13 (◇ = line break). {src}/{tgt} are language *names*; {input}/{output} the sentences.
TEMPLATES = {
    "A": "{src} phrase: {input}\n{tgt} phrase: {output}",
    "B": "{src} text: {input}\n{tgt} text: {output}",
    "C": "Translate the text from {src} to {tgt}:\n{src} text: {input}\n{tgt} text: {output}",
    "D": "Translate the words from {src} to {tgt}:\n{src} words: {input}\n{tgt} words: {output}",
    "E": "Convert the phrase from {src} to {tgt}:\n{src} phrase: {input}\n{tgt} phrase: {output}",
    "F": "Render the {src} sentence {input} to {tgt}: {output}",
    "G": "Provide the translation of the sentence {input} from {src} to {tgt}: {output}",
    "H": "Change the phrase {input} to {tgt}, the translated phrase is: {output}",
    "I": "Please change the sentence {input} to {tgt}, and the resulting translation is: {output}",
    "J": "Change the phrase {input} to {tgt}, resulting in: {output}",
    "K": "The sentence {input} in {src} means {output} in {tgt}",
}
RULES = (
    "empty_side",
    "too_long",
    "copy",
    "char_length_ratio",
    "word_length_ratio",
    "wrong_script",
    "wrong_language",
    "number_mismatch",
    "url_mismatch",
    "too_much_punctuation",
    "terminal_punctuation_mismatch",
    "exact_duplicate",
    "near_duplicate",
    "low_margin",
    "low_qe",
    "over_direction_cap",
)


def _default_config():
    from linguabridge.config import BitextConfig

    return BitextConfig()


# ------------------------------------------------------------------------------------ per-language tables
@cache
def _length_factors() -> dict[str, tuple[float, float | None]]:
    return {
        r["key"]: (float(r["chars"]), float(r["words"]) if r["words"] else None)
        for r in read_asset_table("bitext/length_factors.tsv")
    }


def length_factor(lang: str) -> tuple[float, float | None]:
    """(chars, words) per English unit; words is None for scripts written without spaces (the table lists
    every such script, so anything it lacks is spaced)."""
    table = _length_factors()
    script = get_language(lang).script_code
    if lang in table:
        return table[lang]
    return table.get(script, (1.0, 1.0))


@cache
def _scripts() -> dict[str, tuple[tuple[str, ...], str]]:
    return {
        r["script"]: (tuple(p.strip() for p in r["unicode"].split(",")), r["terminal"] or "")
        for r in read_asset_table("bitext/scripts.tsv")
    }


def script_info(lang: str) -> tuple[tuple[str, ...], str]:
    """(Unicode name prefixes of the language's script, its sentence-final punctuation)."""
    language = get_language(lang)
    # Unlisted scripts: the registry's script name is the Unicode block name ("Georgian" -> "GEORGIAN").
    return _scripts().get(language.script_code, ((language.script.upper(),), ""))


@lru_cache(maxsize=65536)
def _char_name(c: str) -> str:
    return unicodedata.name(c, "")


def script_fraction(text: str, lang: str) -> float:
    """Share of the letters of ``text`` that belong to the language's script (1.0 when there are none)."""
    prefixes = script_info(lang)[0]
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 1.0
    return sum(1 for c in letters if _char_name(c).startswith(prefixes)) / len(letters)


def _lid_languages(lid) -> frozenset[str] | None:
    """Languages the LID backend can predict, when it says; claims outside it get only the script check."""
    labels = getattr(lid, "languages", None)
    if labels is None:
        model = getattr(lid, "_model", None)  # py3langid's identifier keeps its labels in nb_classes
        labels = getattr(model, "nb_classes", None)
    if labels is None:
        return None
    out = set()
    for label in labels:
        try:
            out.add(get_language(str(label)).code)
        except LinguabridgeError:
            continue
    return frozenset(out)


# ------------------------------------------------------------------------------------------ pair rules
_NUMBER = re.compile(r"\d+(?:[.,\u00a0\u202f ]\d+)*")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_CLOSERS = "\"'»”’)]}」』】）›"
_COPY_NORM = re.compile(r"[\W_]+", re.UNICODE)


def numbers(text: str) -> set[str]:
    """Numbers as ASCII digit strings, separators dropped (``1,000`` == ``1 000`` == ``١٠٠٠``)."""
    out = set()
    for match in _NUMBER.finditer(text):
        digits = "".join(str(unicodedata.decimal(c)) for c in match.group() if c.isdecimal())
        out.add(digits.lstrip("0") or "0")
    return out


def urls(text: str) -> set[str]:
    return {u.rstrip(".,;:!?)]}").lower() for u in _URL.findall(text)}


def punct_ratio(text: str) -> float:
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0
    return sum(1 for c in chars if unicodedata.category(c)[0] in "PS") / len(chars)


def _ends(text: str, terminal: str) -> str:
    """'terminal', 'open' (ends in a letter or digit) or 'other' (a comma, colon...)."""
    last = text.rstrip().rstrip(_CLOSERS)[-1:]
    if not last:
        return "other"
    if last in terminal:
        return "terminal"
    return "open" if unicodedata.category(last)[0] in "LNM" else "other"


@dataclass
class PairRules:
    """The per-pair rules of pass 1. ``judge`` returns the reason a pair is dropped, or None."""

    cfg: object  # BitextConfig
    lid: object | None = None
    lid_langs: frozenset[str] | None = None
    counters: Counter = field(default_factory=Counter)

    def __post_init__(self):
        if self.cfg.language_id and self.lid is None:
            self.lid = get_identifier(self.cfg.lid_backend)
            self.lid_langs = _lid_languages(self.lid)

    def judge(self, pair: dict, scores: dict) -> str | None:
        cfg = self.cfg
        src, tgt, sl, tl = pair["src"], pair["tgt"], pair["src_lang"], pair["tgt_lang"]
        if not src.strip() or not tgt.strip():
            return "empty_side"
        if max(len(src), len(tgt)) > cfg.max_chars:
            return "too_long"
        if _COPY_NORM.sub("", src.casefold()) == _COPY_NORM.sub("", tgt.casefold()):
            return "copy"
        (fc_s, fw_s), (fc_t, fw_t) = length_factor(sl), length_factor(tl)
        if _ratio(len(src) / fc_s, len(tgt) / fc_t, cfg.ratio_slack) > cfg.max_char_ratio:
            return "char_length_ratio"
        ws, wt = Analysis(src, sl).non_symbol_words, Analysis(tgt, tl).non_symbol_words
        if max(len(ws), len(wt)) > cfg.max_words:
            return "too_long"
        if fw_s and fw_t and _ratio(len(ws) / fw_s, len(wt) / fw_t, cfg.ratio_slack / 4) > cfg.max_word_ratio:
            return "word_length_ratio"
        for side, text, lang in (("src", src, sl), ("tgt", tgt, tl)):
            if script_fraction(text, lang) < cfg.min_script_fraction:
                return f"{side}_wrong_script"
        if self.lid is not None:
            for side, text, lang in (("src", src, sl), ("tgt", tgt, tl)):
                reason = self._language(side, text, lang, scores)
                if reason:
                    return reason
        if len(numbers(src) ^ numbers(tgt)) > cfg.max_number_mismatch:
            return "number_mismatch"
        if cfg.check_urls and urls(src) != urls(tgt):
            return "url_mismatch"
        if max(punct_ratio(src), punct_ratio(tgt)) > cfg.max_punct_ratio:
            return "too_much_punctuation"
        if cfg.terminal_punctuation:
            term_s, term_t = script_info(sl)[1], script_info(tl)[1]
            if term_s and term_t and {_ends(src, term_s), _ends(tgt, term_t)} == {"terminal", "open"}:
                return "terminal_punctuation_mismatch"
        return None

    def _language(self, side: str, text: str, lang: str, scores: dict) -> str | None:
        if len(text) < self.cfg.lid_min_chars:
            self.counters["lid_skipped_short"] += 1
            return None
        if self.lid_langs is not None and lang not in self.lid_langs:
            self.counters["lid_unsupported_language"] += 1
            return None
        pred = self.lid.predict(text)
        scores[f"lid_{side}"] = round(pred.score, 4)
        if pred.language is None or pred.language == lang:
            return None
        if pred.language in confusable_languages(lang):
            return None
        if pred.score < self.cfg.lid_min_score:
            self.counters["lid_low_confidence_disagreement"] += 1
            return None
        scores[f"lid_{side}_predicted"] = pred.language
        return f"{side}_wrong_language"


def _ratio(a: float, b: float, slack: float) -> float:
    a, b = a + slack, b + slack
    return max(a, b) / max(min(a, b), 1e-9)


class PairDeduplicator:
    """Exact (normalised text of both sides) and near-duplicate (MinHash over both sides) pairs.

    Shingles are tagged with their language, so X->Y and Y->X versions of one pair collide.
    """

    def __init__(self, mode: str, threshold: float, seed: int = 1):
        from datasketch.hashfunc import sha1_hash32

        self.mode = mode
        self.seen: dict[tuple, str] = {}
        self.index = NearDuplicateIndex(threshold, recall_margin=0.2) if mode == "minhash" else None
        # the curation stage's shingles
        self.hasher = MinHasher(seed=seed, n=3, hashfunc=sha1_hash32) if mode == "minhash" else None

    def check(self, pair: dict) -> tuple[str | None, str | None]:
        """(reason, id of the pair it duplicates); registers pairs that pass."""
        if self.mode == "none":
            return None, None
        sides = sorted(((pair["src_lang"], pair["src"]), (pair["tgt_lang"], pair["tgt"])))
        key = tuple((lang, exact_key(text)) for lang, text in sides)
        if key in self.seen:
            return "exact_duplicate", self.seen[key]
        sig = None
        if self.index is not None:
            grams = [
                lang.encode() + b":" + g
                for lang, text in sides
                for g in self.hasher.shingles(Analysis(text, lang))
            ]
            sig = self.hasher.signature(grams)
            hit = self.index.find(sig)
            if hit is not None:
                return "near_duplicate", hit
        self.seen[key] = pair["id"]
        if sig is not None:
            self.index.add(pair["id"], sig)
        return None, None


# ------------------------------------------------------------------------------------------- scoring
def load_qe_scorer(spec: str) -> Callable[[list[dict]], list[float]]:
    """``module:function``: called with a batch of pairs, returns one score per pair (higher is better).

    For COMET-Kiwi, for example, a two-line function that calls ``comet.load_from_checkpoint(path).predict(
    [{"src": p["src"], "mt": p["tgt"]} for p in pairs]).scores``.
    """
    module, _, name = spec.partition(":")
    if not name:
        raise ConfigError(f"qe_scorer {spec!r} is not 'module:function'", "e.g. my_qe:score_pairs")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"cannot load qe_scorer {spec!r}: {exc}", "check the module is importable"
        ) from None
    return fn


def _bucket(pair: dict) -> str:
    a, b = sorted((pair["src_lang"], pair["tgt_lang"]))
    return f"{a}-{b}"


def _blocks(n: int, pool: int) -> list[tuple[int, int]]:
    """Near-equal blocks of at most ``pool`` (never a tiny leftover block with too few neighbours)."""
    count = max(1, -(-n // pool))
    edges = [round(i * n / count) for i in range(count + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def score_bucket(pairs: list[dict], encoder, cfg, qe=None) -> list[tuple[str | None, dict]]:
    """(reason or None, scores) per pair of one language pair, in order."""
    out: list[tuple[str | None, dict]] = [(None, {}) for _ in pairs]
    if cfg.semantic == "margin" and len(pairs) >= cfg.min_pool:
        lo_lang = _bucket(pairs[0]).split("-")[0]
        for start, end in _blocks(len(pairs), cfg.margin_pool):
            block = pairs[start:end]
            # Orient every pair the same way so each side's neighbours are in one language.
            xs = [p["src"] if p["src_lang"] == lo_lang else p["tgt"] for p in block]
            ys = [p["tgt"] if p["src_lang"] == lo_lang else p["src"] for p in block]
            cos, margin = margin_scores(encoder.encode(xs), encoder.encode(ys), cfg.margin_k)
            for i in range(len(block)):
                scores = {"cosine": round(float(cos[i]), 4), "margin": round(float(margin[i]), 4)}
                out[start + i] = ("low_margin" if margin[i] < cfg.min_margin else None, scores)
    if qe is not None:
        alive = [i for i, (reason, _) in enumerate(out) if reason is None]
        values = list(qe([pairs[i] for i in alive])) if alive else []
        if len(values) != len(alive):
            raise LinguabridgeError(
                f"qe_scorer returned {len(values)} scores for {len(alive)} pairs", "return one score per pair"
            )
        for i, value in zip(alive, values, strict=True):
            out[i][1]["qe"] = round(float(value), 4)
            if value < cfg.min_qe:
                out[i] = ("low_qe", out[i][1])
    return out


# ------------------------------------------------------------------------------------------ balancing
def _reverse(pair: dict) -> dict:
    return pair | {
        "id": f"{pair['id']}~rev",
        "src_lang": pair["tgt_lang"],
        "tgt_lang": pair["src_lang"],
        "src": pair["tgt"],
        "tgt": pair["src"],
    }


def orient(pair: dict, mode: str, seed: int) -> list[dict]:
    """The pair as given (``as_given``), in both directions (``both``), or in one direction drawn from a
    seeded hash of its id (``split``: each language pair ends up about half X->Y and half Y->X)."""
    if mode == "both":
        return [pair, _reverse(pair)]
    if mode == "split":
        lo = _bucket(pair).split("-")[0]
        want_lo_first = int(stable_id(str(seed), pair["id"]), 16) % 2 == 0
        return [pair if (pair["src_lang"] == lo) == want_lo_first else _reverse(pair)]
    return [pair]


def _cap_for(direction: str, cfg) -> int | None:
    return cfg.direction_caps.get(direction, cfg.max_per_direction)


def _rank_key(pair: dict, seed: int) -> tuple[float, str]:
    margin = pair.get("scores", {}).get("margin")
    return (-(margin if margin is not None else float("inf")), stable_id(str(seed), pair["id"]))


# --------------------------------------------------------------------------------------------- driver
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
                bucket = _bucket(pair)
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
            by_direction: dict[str, list[dict]] = defaultdict(list)
            for pair in survivors:
                for oriented in orient(pair, cfg.directions, seed):
                    by_direction[f"{oriented['src_lang']}-{oriented['tgt_lang']}"].append(oriented)
            for direction in sorted(by_direction):
                items = by_direction[direction]
                cap = _cap_for(direction, cfg)
                over: set[str] = set()
                if cap is not None and len(items) > cap:
                    over = {p["id"] for p in sorted(items, key=lambda p: _rank_key(p, seed))[cap:]}
                for pair in items:
                    if pair["id"] in over:
                        reject(rejected, pair, "over_direction_cap")
                    else:
                        kept.write(pair)
                        per_dir[direction]["kept"] += 1
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


# ------------------------------------------------------------------------------------------ rendering
def read_kept(pair_dir: str | Path) -> Iterator[dict]:
    """Pairs from a filter output folder's ``kept/`` shards, in order."""
    files = sorted((Path(pair_dir) / "kept").glob("*.jsonl*"))
    if not files:
        raise LinguabridgeError(
            f"{pair_dir}: no kept/*.jsonl.gz", "run `linguabridge data bitext filter` first"
        )
    for path in files:
        for _, obj in iter_jsonl(path):
            if isinstance(obj, dict):
                yield obj


def _check_templates(templates: str) -> str:
    unknown = sorted(set(templates) - set(TEMPLATES))
    if not templates or unknown:
        raise ConfigError(
            f"parallel templates {templates!r}: unknown ids {''.join(unknown) or '(none given)'}",
            f"use letters from {''.join(TEMPLATES)} (Marco Table 13)",
        )
    return templates


def render_pairs(
    pairs: Iterable[dict], seed: int, templates: str = "ABCDEFGHIJK", pairs_per_document: int = 1
) -> Iterator[Document]:
    """Pairs -> pretraining documents, one template per document drawn by a seeded sampler.

    With ``pairs_per_document > 1``, consecutive pairs of one direction are packed into a document (blank
    line between them). Metadata keeps the template id, the direction and the pair ids.
    """
    _check_templates(templates)
    if pairs_per_document < 1:
        raise ConfigError("pairs_per_document must be >= 1", "set data.bitext.pairs_per_document")
    rng = random.Random(seed)
    buffers: dict[str, list[dict]] = defaultdict(list)

    def emit(group: list[dict]) -> Document:
        tid = rng.choice(templates)
        src, tgt = get_language(group[0]["src_lang"]), get_language(group[0]["tgt_lang"])
        text = "\n\n".join(
            TEMPLATES[tid].format(src=src.name, tgt=tgt.name, input=p["src"], output=p["tgt"]) for p in group
        )
        ids = [p["id"] for p in group]
        doc_id = f"{ids[0]}-{tid}" if len(ids) == 1 else f"{stable_id(*ids)}-{tid}"
        meta = {"source": "parallel", "language": tgt.code, "src_lang": src.code, "template": tid}
        return Document(doc_id, text, meta | {"pair_ids": ids})

    for pair in pairs:
        key = f"{pair['src_lang']}-{pair['tgt_lang']}"
        buffers[key].append(pair)
        if len(buffers[key]) == pairs_per_document:
            yield emit(buffers.pop(key))
    for key in sorted(buffers):
        yield emit(buffers[key])


def render_dir(
    pair_dir: str | Path, out_dir: str | Path, seed: int, templates: str = "ABCDEFGHIJK", pairs_per_document=1
) -> dict:
    """Render a filter output folder into ``out_dir/part-00000.jsonl.gz`` and ``out_dir/stats.json``."""
    out = Path(out_dir)
    counts: Counter = Counter()
    pairs = 0
    with JsonlWriter(out / "part-00000.jsonl.gz") as writer:
        for doc in render_pairs(read_kept(pair_dir), seed, templates, pairs_per_document):
            writer.write(doc)
            counts[doc.metadata["template"]] += 1
            pairs += len(doc.metadata["pair_ids"])
        stats = {"documents": writer.count, "pairs": pairs, "templates": dict(sorted(counts.items()))}
    write_json(out / "stats.json", stats)
    return stats


__all__ = [
    "TEMPLATES",
    "PairDeduplicator",
    "PairRules",
    "filter_pairs",
    "orient",
    "read_kept",
    "render_dir",
    "render_pairs",
    "score_bucket",
]

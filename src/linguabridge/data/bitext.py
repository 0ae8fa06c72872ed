"""Parallel text: filter sentence pairs and render them as pretraining documents with the Marco templates."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from linguabridge.data.langid import get_identifier
from linguabridge.data.records import Document, JsonlWriter, Quarantined, iter_jsonl, stable_id, write_json
from linguabridge.data.text import normalise
from linguabridge.errors import LinguabridgeError
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


def read_pairs(paths: Iterable[str | Path]) -> Iterable[dict | Quarantined]:
    """Pairs ``{id, src_lang, tgt_lang, src, tgt}`` from JSONL; languages canonicalised."""
    for path in paths:
        for lineno, obj in iter_jsonl(path):
            if isinstance(obj, Quarantined):
                yield obj
                continue
            try:
                yield {
                    "id": str(obj.get("id") or stable_id(str(path), str(lineno))),
                    "src_lang": get_language(obj["src_lang"]).code,
                    "tgt_lang": get_language(obj["tgt_lang"]).code,
                    "src": normalise(str(obj["src"])),
                    "tgt": normalise(str(obj["tgt"])),
                }
            except (KeyError, LinguabridgeError) as exc:
                yield Quarantined(str(path), lineno, f"bad pair: {exc}", str(obj))


def _char_len(text: str, lang: str) -> float:
    # Han/Japanese/Korean/Thai characters carry ~2-3x the content of a Latin character.
    dense = {"Hans": 3.0, "Hant": 3.0, "Jpan": 2.5, "Hang": 2.0, "Thai": 1.2}
    return len(text) * dense.get(get_language(lang).script_code, 1.0)


def judge_pair(pair: dict, seen: set, lid, max_ratio: float = 2.5) -> str | None:
    """Why a pair is dropped, or None to keep it."""
    src, tgt = pair["src"], pair["tgt"]
    if not src or not tgt:
        return "empty_side"
    if src.strip().lower() == tgt.strip().lower():
        return "copy"
    ls, lt = _char_len(src, pair["src_lang"]), _char_len(tgt, pair["tgt_lang"])
    if max(ls, lt) / max(1.0, min(ls, lt)) > max_ratio:
        return "length_ratio"
    for side, lang in (("src", pair["src_lang"]), ("tgt", pair["tgt_lang"])):
        pred = lid.predict(pair[side])
        if pred.language != lang:
            return f"{side}_language_mismatch"
    key = (src.lower(), tgt.lower())
    if key in seen:
        return "duplicate_pair"
    seen.add(key)
    return None


def filter_pairs(paths: Iterable[str | Path], out_dir: str | Path) -> dict:
    """Write ``kept/``, ``rejected/`` (with ``reject_reason``) and ``stats.json`` per direction and reason."""
    out = Path(out_dir)
    lid = get_identifier("py3langid")
    seen: set = set()
    counts: dict[str, Counter] = defaultdict(Counter)
    with (
        JsonlWriter(out / "kept" / "part-00000.jsonl.gz") as kept,
        JsonlWriter(out / "rejected" / "part-00000.jsonl.gz") as rejected,
        JsonlWriter(out / "quarantine.jsonl") as quarantine,
    ):
        for pair in read_pairs(paths):
            if isinstance(pair, Quarantined):
                quarantine.write(pair)
                counts["_quarantine"]["quarantined"] += 1
                continue
            direction = f"{pair['src_lang']}-{pair['tgt_lang']}"
            reason = judge_pair(pair, seen, lid)
            if reason is None:
                kept.write(pair)
                counts[direction]["kept"] += 1
            else:
                rejected.write(pair | {"reject_reason": reason})
                counts[direction][f"rejected:{reason}"] += 1
    stats = {"directions": {k: dict(v) for k, v in sorted(counts.items())}}
    write_json(out / "stats.json", stats)
    return stats


def render_pairs(pairs: Iterable[dict], seed: int, templates: str = "ABCDEFGHIJK") -> Iterable[Document]:
    """Turn each pair into one document with a template drawn by a seeded sampler (id kept in metadata)."""
    rng = random.Random(seed)
    for pair in pairs:
        tid = rng.choice(templates)
        src_lang, tgt_lang = get_language(pair["src_lang"]), get_language(pair["tgt_lang"])
        text = TEMPLATES[tid].format(
            src=src_lang.name, tgt=tgt_lang.name, input=pair["src"], output=pair["tgt"]
        )
        yield Document(
            f"{pair['id']}-{tid}",
            text,
            {"source": "parallel", "language": tgt_lang.code, "src_lang": src_lang.code, "template": tid},
        )

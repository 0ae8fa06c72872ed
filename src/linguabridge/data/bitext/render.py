"""Kept pairs as pretraining documents with the 11 Marco templates (Marco-LLM Table 13)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

from linguabridge.data.records import Document, stable_id
from linguabridge.errors import ConfigError, LinguabridgeError
from linguabridge.io import JsonlWriter, iter_jsonl, write_json
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

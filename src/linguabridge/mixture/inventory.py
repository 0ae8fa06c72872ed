"""Inventory: tokens per (source, language) of the curated data with the target tokenizer, and held-out ids.

Documents are streamed from the curated JSONL shards (never all in memory) and tokenized in parallel
(:mod:`linguabridge.mixture.tokenizer_pool`). ``exact`` tokenizes every document. ``estimate`` tokenizes a seeded
sample (every document whose id hashes below ``sample_rate``, plus the first documents of every cell so small
cells are measured too) and scales each cell's tokens per byte to all its bytes: a ratio estimator, whose
relative standard error is reported per row. Held-out documents are always counted exactly.
"""

from __future__ import annotations

import json
import math
import random
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from linguabridge.data.records import to_document
from linguabridge.errors import LinguabridgeError
from linguabridge.io import Quarantined, expand_inputs, iter_jsonl, temp_path, write_json
from linguabridge.languages import canonical
from linguabridge.mixture.tokenizer_pool import EncoderSpec, encode_lengths, imap_with_tokenizer

DEFAULT_KINDS = ("parallel", "knowledge", "synthetic")
MIN_SAMPLE_DOCS = 32  # estimate mode: documents always tokenized per cell, so small cells get an estimate
BATCH_DOCS = 2048  # documents per task sent to a worker


@dataclass(slots=True)
class CuratedDoc:
    id: str
    text: str
    language: str  # canonical code
    source: str  # a kind (parallel, knowledge, synthetic) or, for web text, the language
    split: str = "train"  # "heldout" when the corpus keeps it apart itself (man pages, by page name)


def iter_curated(
    files: Iterable[str | Path], source_kinds: Iterable[str] = DEFAULT_KINDS
) -> Iterator[CuratedDoc]:
    """Stream curated documents in a stable order. A curated file is our own output, so a bad line or a
    document without a language is an error naming file and line, not something to skip."""
    kinds = set(source_kinds)
    codes: dict[str, str] = {}
    for path in expand_inputs(files):
        for lineno, obj in iter_jsonl(path):
            if isinstance(obj, Quarantined):
                raise LinguabridgeError(
                    f"{path}:{lineno}: {obj.reason}",
                    "curated files come from the data stage: rerun it with --force",
                )
            doc_id, text, meta = obj.get("id"), obj.get("text"), obj.get("metadata")
            if doc_id is None or not isinstance(text, str) or not isinstance(meta, dict):
                doc = to_document(obj, str(path), lineno)  # not the curated shape: the general reader
                if isinstance(doc, Quarantined):
                    raise LinguabridgeError(f"{path}:{lineno}: {doc.reason}", "give every document a 'text'")
                doc_id, text, meta = doc.id, doc.text, doc.metadata
            lang = meta.get("language")
            if not isinstance(lang, str):
                raise LinguabridgeError(
                    f"{path}:{lineno}: document {str(doc_id)!r} has no metadata.language",
                    "the data stage labels every kept document; rerun it or add the language",
                )
            if lang not in codes:
                try:
                    codes[lang] = canonical(lang)
                except LinguabridgeError as exc:
                    raise LinguabridgeError(f"{path}:{lineno}: {exc.message}", exc.hint) from None
            kind = meta.get("source", "web")
            source = kind if kind in kinds else codes[lang]
            yield CuratedDoc(str(doc_id), text, codes[lang], source, str(meta.get("split") or "train"))


def select_heldout(docs: Iterable, per_language: int, seed: int) -> set[str]:
    """Ids of held-out web documents: a seeded choice of ``per_language`` per language, carved out before
    planning and packing. A language with at most ``2 * per_language`` documents keeps all of them for
    training (see :func:`heldout_gaps`). Takes :class:`CuratedDoc` or ``Document`` items.

    Documents the corpus itself marks ``split: heldout`` are held out, and a language that has any keeps
    exactly those: its corpus chose them (the real corpus by page name, the same pages in every language)."""
    by_lang: dict[str, list[str]] = defaultdict(list)
    heldout: set[str] = set()
    given: set[str] = set()  # languages whose held-out documents the corpus chose
    for d in docs:
        lang = d.language if isinstance(d, CuratedDoc) else d.metadata["language"]
        source = d.source if isinstance(d, CuratedDoc) else d.metadata.get("source", "web")
        split = d.split if isinstance(d, CuratedDoc) else d.metadata.get("split")
        if split == "heldout":
            heldout.add(d.id)
            given.add(lang)
        elif source in (lang, "web"):
            by_lang[lang].append(d.id)
    for lang in sorted(set(by_lang) - given):
        ids = sorted(by_lang[lang])
        random.Random(f"{seed}-{lang}").shuffle(ids)
        if per_language and len(ids) > per_language * 2:
            heldout.update(ids[:per_language])
    return heldout


@dataclass
class _Cell:
    """Running sums for one (source, language): all documents, and the tokenized sample."""

    documents: int = 0
    bytes: int = 0
    heldout_documents: int = 0
    heldout_tokens: int = 0
    n: int = 0  # sampled training documents
    x: float = 0.0  # their bytes
    y: float = 0.0  # their tokens (without EOS)
    xx: float = 0.0
    yy: float = 0.0
    xy: float = 0.0


@dataclass
class Inventory:
    """Tokens per (source, language); ``tokens`` count training documents only and include one EOS each."""

    mode: str
    rows: list[dict]
    tokenizer: str = ""
    tokenizer_sha: str = ""
    sample_rate: float = 1.0
    notes: list[str] = field(default_factory=list)

    def sources(self) -> dict[str, dict]:
        """Totals per source (the plan's ``available``)."""
        out: dict[str, dict] = {}
        for r in self.rows:
            s = out.setdefault(r["source"], {"documents": 0, "tokens": 0, "heldout_tokens": 0, "bytes": 0})
            for k in s:
                s[k] += r[k]
        return out

    def available(self) -> dict[str, int]:
        return {k: v["tokens"] for k, v in self.sources().items()}

    def to_json(self) -> dict:
        meta = {k: v for k, v in asdict(self).items() if k != "rows"}
        return meta | {
            "total_tokens": sum(r["tokens"] for r in self.rows),
            "sources": self.sources(),
            "rows": self.rows,
        }

    def write(self, out_dir: str | Path) -> None:
        """``inventory.json`` (rows and per-source totals) and ``inventory.tsv`` (the same rows, a table)."""
        out = Path(out_dir)
        write_json(out / "inventory.json", self.to_json())
        cols = list(self.rows[0]) if self.rows else ["source", "language", "tokens"]
        lines = ["\t".join(cols)] + ["\t".join(str(r[c]) for c in cols) for r in self.rows]
        tmp = temp_path(out / "inventory.tsv")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(out / "inventory.tsv")


def read_available(path: str | Path) -> dict[str, float]:
    """Tokens per source from an ``inventory.json`` (or a folder holding one, e.g. a run's ``mixture/``).

    Anything that is not the file :meth:`Inventory.write` wrote is a one-line error naming the file."""
    path = Path(path)
    if path.is_dir():
        path = path / "inventory.json"
    fix = "pass the inventory.json that `linguabridge mix inventory --out DIR` writes (or a run's mixture/)"
    if not path.is_file():
        raise LinguabridgeError(f"inventory not found: {path}", "run `linguabridge mix inventory` first")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LinguabridgeError(f"{path}: not an inventory (invalid JSON: {exc})", fix) from None
    sources = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(sources, dict) or not sources:
        raise LinguabridgeError(f"{path}: not an inventory (no 'sources' table)", fix)
    out: dict[str, float] = {}
    for name, entry in sources.items():
        tokens = entry.get("tokens") if isinstance(entry, dict) else None
        if isinstance(tokens, bool) or not isinstance(tokens, (int, float)) or not math.isfinite(tokens) or tokens < 0:
            raise LinguabridgeError(
                f"{path}: source {name!r} has no valid token count ({tokens!r})", f"{fix}; it may be incomplete"
            )
        out[name] = tokens
    return out


def _sampled(doc_id: str, seed: int, rate: float) -> bool:
    return zlib.crc32(f"{seed}:{doc_id}".encode()) < rate * 2**32


def _count_task(task: tuple[list, list[str]]) -> tuple[list, list[int]]:
    meta, texts = task
    return meta, encode_lengths(texts)


def count_tokens(
    files: Iterable[str | Path],
    tokenizer,
    heldout: set[str],
    *,
    source_kinds: Iterable[str] = DEFAULT_KINDS,
    mode: str = "exact",
    sample_rate: float = 0.01,
    workers: int = 1,
    seed: int = 0,
) -> Inventory:
    """Count (or, ``mode="estimate"``, estimate) training tokens per (source, language), EOS included."""
    if mode not in ("exact", "estimate"):
        raise LinguabridgeError(f"unknown inventory mode {mode!r}", "use exact or estimate")
    spec = EncoderSpec.from_tokenizer(tokenizer)
    cells: dict[tuple[str, str], _Cell] = defaultdict(_Cell)

    def tasks() -> Iterator[tuple[list, list[str]]]:
        meta: list = []
        texts: list[str] = []
        for d in iter_curated(files, source_kinds):
            key = (d.source, d.language)
            cell = cells[key]
            nbytes = len(d.text.encode("utf-8"))
            held = d.id in heldout
            if held:
                cell.heldout_documents += 1
            else:
                cell.documents += 1
                cell.bytes += nbytes
            if (
                held
                or mode == "exact"
                or cell.documents <= MIN_SAMPLE_DOCS
                or _sampled(d.id, seed, sample_rate)
            ):
                meta.append((key, held, nbytes))
                texts.append(d.text)
                if len(texts) >= BATCH_DOCS:
                    yield meta, texts
                    meta, texts = [], []
        if texts:
            yield meta, texts

    for meta, lengths in imap_with_tokenizer(_count_task, tasks(), spec, workers):
        for (key, held, nbytes), n in zip(meta, lengths, strict=True):
            cell = cells[key]
            if held:
                cell.heldout_tokens += n + 1
            else:
                cell.n += 1
                cell.x += nbytes
                cell.y += n
                cell.xx += nbytes * nbytes
                cell.yy += n * n
                cell.xy += nbytes * n

    rows = []
    for (source, language), c in sorted(cells.items()):
        row = {"source": source, "language": language, "documents": c.documents, "bytes": c.bytes}
        if mode == "exact":
            tokens = int(c.y) + c.documents
        else:
            ratio = c.y / c.x if c.x else 0.0
            tokens = round(ratio * c.bytes) + c.documents
            row |= {"sampled_documents": c.n, "rel_stderr": _ratio_rel_stderr(c, ratio)}
        rows.append(
            row
            | {"tokens": tokens, "heldout_documents": c.heldout_documents, "heldout_tokens": c.heldout_tokens}
        )
    return Inventory(mode, rows, spec.name, spec.sha, 1.0 if mode == "exact" else sample_rate)


def _ratio_rel_stderr(c: _Cell, ratio: float) -> float | None:
    """Relative standard error of a ratio estimate of tokens per byte (with finite-population correction);
    None when the sample is too small to say."""
    if c.n >= c.documents:
        return 0.0
    if c.n < 2 or not c.y or not c.x:
        return None
    # sum of squared residuals of y - R x over the sample
    ss = c.yy - 2 * ratio * c.xy + ratio * ratio * c.xx
    var_r = max(ss, 0.0) / (c.n - 1) / c.n / (c.x / c.n) ** 2
    fpc = max(0.0, 1 - c.n / c.documents) if c.documents else 0.0
    return math.sqrt(var_r * fpc) / ratio


def heldout_gaps(inventory: Inventory) -> list[str]:
    """Languages with web training documents but no held-out documents (too few to spare)."""
    web = {r["language"] for r in inventory.rows if r["source"] == r["language"]}
    held = {r["language"] for r in inventory.rows if r["source"] == r["language"] and r["heldout_documents"]}
    return sorted(web - held)

"""The web-text curation chain: normalise -> URL filter -> language ID -> quality -> dedup.

Every input record ends in exactly one of ``kept/``, ``rejected/`` (with ``metadata.reject_reason``) or
``quarantine.jsonl`` (unparseable lines with file and line), and ``stats.json`` counts them per language,
step and reason.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from linguabridge.config import DataConfig
from linguabridge.data.dedup import Deduplicator
from linguabridge.data.filters import QualityFilter, UrlFilter
from linguabridge.data.langid import get_identifier
from linguabridge.data.records import Document, JsonlWriter, Quarantined, read_documents, write_json
from linguabridge.data.text import Analysis, normalise
from linguabridge.languages import get_language


class Stats:
    """Counts per step (in/out/reasons) and per language (kept/rejected by reason)."""

    def __init__(self):
        self.steps: dict[str, Counter] = defaultdict(Counter)
        self.languages: dict[str, Counter] = defaultdict(Counter)
        self.totals: Counter = Counter()

    def step(self, name: str, kept: bool, reason: str | None) -> None:
        self.steps[name]["in"] += 1
        self.steps[name]["out" if kept else f"dropped:{reason}"] += 1

    def to_json(self) -> dict:
        return {
            "totals": dict(self.totals),
            "steps": {k: dict(v) for k, v in self.steps.items()},
            "languages": {k: dict(sorted(v.items())) for k, v in sorted(self.languages.items())},
        }


def clean_documents(
    docs: Iterable[Document | Quarantined],
    cfg: DataConfig,
    languages: list[str],
    out_dir: str | Path,
    progress: bool = True,
) -> dict:
    """Run the chain over ``docs`` and write kept/rejected shards, quarantine and stats to ``out_dir``."""
    from tqdm.auto import tqdm

    out = Path(out_dir)
    targets = set(languages)
    url_filter = UrlFilter(cfg.url_blocklist)
    quality = QualityFilter(cfg)
    lid = get_identifier("py3langid")
    dedup = Deduplicator(cfg.dedup, cfg.minhash_threshold)
    stats = Stats()
    kept_w = JsonlWriter(out / "kept" / "part-00000.jsonl.gz")
    rej_w = JsonlWriter(out / "rejected" / "part-00000.jsonl.gz")
    quar_w = JsonlWriter(out / "quarantine.jsonl")
    try:
        for doc in tqdm(docs, desc="clean", unit="doc", disable=not progress):
            stats.totals["input"] += 1
            if isinstance(doc, Quarantined):
                quar_w.write(doc)
                stats.totals["quarantined"] += 1
                continue
            reason, language = _judge(doc, cfg, targets, url_filter, quality, lid, dedup, stats)
            lang_key = language or "und"
            if reason is None:
                kept_w.write(doc)
                stats.totals["kept"] += 1
                stats.languages[lang_key]["kept"] += 1
            else:
                doc.metadata["reject_reason"] = reason
                rej_w.write(doc)
                stats.totals["rejected"] += 1
                stats.languages[lang_key][f"rejected:{reason}"] += 1
    except BaseException:
        for w in (kept_w, rej_w, quar_w):
            w.abort()
        raise
    for w in (kept_w, rej_w, quar_w):
        w.close()
    result = stats.to_json()
    write_json(out / "stats.json", result)
    return result


def _judge(doc, cfg, targets, url_filter, quality, lid, dedup, stats) -> tuple[str | None, str | None]:
    """The reason ``doc`` is rejected (None = keep) and its language."""
    doc.text = normalise(doc.text)
    doc.metadata.setdefault("source", "web")
    analysis = Analysis(doc.text)
    ok, reason = url_filter(doc, analysis)
    stats.step("url", ok, reason)
    if not ok:
        return reason, None
    if not doc.text:
        stats.step("language", False, "empty")
        return "empty", None
    pred = lid.predict(doc.text)
    doc.metadata["language"] = pred.language
    doc.metadata["language_score"] = round(pred.score, 4)
    if pred.language not in targets:
        stats.step("language", False, "language_not_targeted")
        return "language_not_targeted", pred.language
    if pred.score < cfg.min_language_score:
        stats.step("language", False, "low_language_score")
        return "low_language_score", pred.language
    stats.step("language", True, None)
    analysis.script = get_language(pred.language).script_code
    ok, reason = quality(doc, analysis)
    stats.step("quality", ok, reason)
    if not ok:
        return reason, pred.language
    ok, reason, dup_of = dedup.check(doc.id, analysis)
    stats.step("dedup", ok, reason)
    if not ok:
        doc.metadata["duplicate_of"] = dup_of
        return reason, pred.language
    return None, pred.language


def clean(
    inputs: list[str | Path],
    out_dir: str | Path,
    cfg: DataConfig,
    languages: list[str],
    progress: bool = True,
) -> dict:
    """``linguabridge data clean``: curate JSONL inputs (files or folders) into ``out_dir``."""
    return clean_documents(read_documents(inputs), cfg, languages, out_dir, progress)

"""The web-text curation chain, FineWeb-2's cascade per language, sharded and resumable.

normalise -> URL block-list -> language ID (+ per-language score, script consistency) -> Gopher repetition
-> FineWeb lines -> Gopher quality (stop words) -> KenLM perplexity (optional) -> decontamination -> PII
-> exact + MinHash dedup across the whole corpus.

Every input record ends in exactly one of ``kept/``, ``rejected/`` (with ``metadata.reject_reason`` and the
filter scores) or ``quarantine.jsonl`` (unparseable lines with file and line; a file that cannot be read on gets
one ``"scope": "file"`` entry, and the records read before the damage go on: see ``data/intake.py``);
``stats.json`` counts them per language x step x reason and lists failed and mostly-quarantined files (also
printed on stderr). Documents that share an id with an earlier one are renamed ``ID#2``, ``ID#3``... in input
order (``metadata.original_id`` keeps the id; ``stats.duplicate_ids`` counts them), so ids stay unique and
``duplicate_of`` is never ambiguous. Layout of a run (``_work/`` is removed once the run completes)::

    OUT/_work/plan.json              inputs and config fingerprint (a different plan starts afresh)
    OUT/_work/shard-00000/           pass 1: candidates, rejected, quarantine, signatures, ids, stats, _DONE.json
    OUT/_work/ids/                   pass 2a: renames of repeated ids, _DONE.json
    OUT/_work/dedup/                 pass 2b: keep / duplicate-of decisions for every candidate, _DONE.json
    OUT/kept/part-00000.jsonl.gz     pass 3: one part per input file (+ _DONE marker in _work/final-00000/)
    OUT/rejected/part-00000.jsonl.gz
    OUT/quarantine.jsonl, OUT/stats.json, OUT/_COMPLETE.json (the run's marker, written last)

Shard and pass markers inside ``_work/`` are ``_DONE.json``; a run folder from before the run-level marker was
``_COMPLETE.json`` (its ``_DONE.json`` at the top) counts as not complete and is curated afresh.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import shutil
import sys
from collections import defaultdict
from importlib import resources
from pathlib import Path

from linguabridge import __version__
from linguabridge.config import DataConfig
from linguabridge.data.decontam import Decontaminator, describe
from linguabridge.data.dedup import MinHasher, SignatureWriter, exact_key, global_dedup
from linguabridge.data.execution import MARKER, SHARD_MARKER, is_done, mark_done, run_shards
from linguabridge.data.filters import (
    FineWebLines,
    GopherQuality,
    GopherRepetition,
    PerplexityFilter,
    ScriptConsistency,
    UrlFilter,
)
from linguabridge.data.intake import FileTally, merge_reports, warn
from linguabridge.data.langid import get_identifier
from linguabridge.data.pii import redact
from linguabridge.data.readers import list_inputs, read_file
from linguabridge.data.records import Document
from linguabridge.data.segment import get_segmenter, rules_off
from linguabridge.data.text import Analysis, normalise
from linguabridge.data.thresholds import RulesBook
from linguabridge.data.unique_ids import renamed, unique_ids
from linguabridge.io import JsonlWriter, Quarantined, iter_jsonl, write_json
from linguabridge.provenance import fingerprint

UND = "und"  # language of documents rejected before language ID


# ------------------------------------------------------------------------------------------- accounting
class Stats:
    """Counts per step, per language and per language x step x reason; mergeable across shards."""

    def __init__(self):
        self.totals: dict[str, int] = defaultdict(int)
        self.steps: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.languages: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.by_language: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
        self.pii: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.segmenters: dict[str, dict] = {}
        self.rules: dict[str, dict] = {}  # thresholds each language was judged with (for reports, re-tuning)
        self.files: dict[str, list] = {"failed": [], "mostly_quarantined": []}  # data/intake.py reports

    def step(self, name: str, lang: str, reason: str | None) -> None:
        key = "out" if reason is None else reason
        self.steps[name]["in"] += 1
        self.steps[name]["out" if reason is None else f"dropped:{reason}"] += 1
        self.by_language[lang][name]["in"] += 1
        self.by_language[lang][name][key] += 1

    def final(self, lang: str, reason: str | None) -> None:
        self.totals["kept" if reason is None else "rejected"] += 1
        self.languages[lang]["kept" if reason is None else f"rejected:{reason}"] += 1

    def to_json(self) -> dict:
        def plain(d):
            return {k: plain(v) for k, v in sorted(d.items())} if isinstance(d, dict) else d

        return {
            "totals": {k: self.totals.get(k, 0) for k in ("input", "kept", "rejected", "quarantined")},
            "steps": plain(self.steps),
            "languages": plain(self.languages),
            "by_language": plain(self.by_language),
            "pii": plain(self.pii),
            "segmenters": plain(self.segmenters),
            "rules": plain(self.rules),
            "files": self.files,
        }

    def merge(self, data: dict) -> None:
        for k, v in data["totals"].items():
            self.totals[k] += v
        for name, c in data["steps"].items():
            for k, v in c.items():
                self.steps[name][k] += v
        for lang, c in data["languages"].items():
            for k, v in c.items():
                self.languages[lang][k] += v
        for lang, steps in data["by_language"].items():
            for name, c in steps.items():
                for k, v in c.items():
                    self.by_language[lang][name][k] += v
        for lang, c in data["pii"].items():
            for k, v in c.items():
                self.pii[lang][k] += v
        self.segmenters.update(data["segmenters"])
        self.rules.update(data["rules"])
        self.files = merge_reports([self.files, data["files"]])


# ------------------------------------------------------------------------------------------------ chain
class Chain:
    """The per-document filter cascade (everything but dedup), built once per process."""

    def __init__(self, cfg: DataConfig, languages: list[str]):
        self.cfg = cfg
        self.targets = set(languages)
        self.rules = RulesBook(cfg.rules_file, cfg.thresholds, cfg.source_thresholds)
        self.url = UrlFilter(cfg.url_blocklist)
        self.lid = get_identifier(cfg.lid_backend)
        self.script = ScriptConsistency(cfg.min_script_ratio)
        self.filters = [GopherRepetition(), FineWebLines(), GopherQuality(cfg.min_words, cfg.max_words)]
        if cfg.kenlm_models:
            self.filters.append(PerplexityFilter(cfg.kenlm_models))
        self.decontam = (
            Decontaminator(cfg.decontam_files, cfg.decontam_ngram, cfg.decontaminate)
            if cfg.decontaminate != "none"
            else None
        )
        self.minhash = MinHasher(n=cfg.minhash_ngram) if cfg.dedup == "minhash" else None
        self.disabled = tuple(cfg.disabled_segmenters)

    def judge(self, doc: Document, stats: Stats) -> tuple[str | None, str, Analysis | None]:
        """(reject reason or None, language, analysis). Writes language, scores, PII counts into metadata."""
        doc.text = normalise(doc.text, self.cfg.fix_text)
        doc.metadata.setdefault("source", "web")
        if not doc.text.strip():
            reason = doc.metadata.pop("skip_reason", None) or "empty"
            stats.step("read", UND, reason)
            return reason, UND, None
        stats.step("read", UND, None)
        reason = self.url(doc)
        stats.step("url", UND, reason)
        if reason:
            return reason, UND, None
        pred = self.lid.predict(doc.text)
        lang = pred.language or UND
        doc.metadata["language"] = lang
        doc.metadata["language_score"] = round(pred.score, 4)
        if pred.resolved_by:
            doc.metadata["language_resolved_by"] = pred.resolved_by
        source = doc.metadata["source"]
        rules = self.rules.get(lang, source)  # a source with its own thresholds (man pages) is judged by them
        scores: dict = {}
        doc.metadata["scores"] = scores
        if lang not in self.targets:
            reason = "language_not_targeted"
        elif pred.score < rules.language_score:
            reason = "low_language_score"
        stats.step("language", lang, reason)
        if reason:
            return reason, lang, None
        seg = get_segmenter(lang, self.disabled)
        off = rules_off(seg)
        if off:
            rules = self._relaxed(lang, rules, off)
        if lang not in stats.segmenters:
            stats.segmenters[lang] = {"segmenter": seg.name, "fallback": seg.fallback, "rules_off": list(off)}
        if self.rules.label(lang, source) not in stats.rules:
            used = {k: (None if v == float("inf") else v) for k, v in dataclasses.asdict(rules).items()}
            used["stop_words"] = len(rules.stop_words)
            stats.rules[self.rules.label(lang, source)] = used
        a = Analysis(doc.text, lang, seg)
        reason = self.script(doc, a, rules, scores)
        stats.step("script", lang, reason)
        if reason:
            return reason, lang, a
        for f in self.filters:
            reason = f(doc, a, rules, scores)
            stats.step(f.name, lang, reason)
            if reason:
                return reason, lang, a
        if self.decontam is not None:
            reason = self.decontam(doc, a, rules, scores)
            stats.step("decontamination", lang, reason)
            if reason:
                return reason, lang, a
        if self.cfg.pii:
            text, counts = redact(doc.text, lang)
            if counts:
                doc.text = text
                doc.metadata["pii"] = counts
                for k, v in counts.items():
                    stats.pii[lang][k] += v
                a = Analysis(doc.text, lang, seg)  # signatures must see the text that is written
        return None, lang, a

    @functools.cache  # noqa: B019 - one chain per process, a few languages
    def _relaxed(self, lang: str, rules, off: tuple[str, ...]):
        changes: dict = {}
        if "stop_words" in off:
            changes["min_stop_words"] = 0
        if "avg_word_length" in off:
            changes.update(min_avg_word_length=0.0, max_avg_word_length=float("inf"))
        return dataclasses.replace(rules, **changes)


_CHAINS: dict[str, Chain] = {}


def _chain_key(cfg: DataConfig, languages: list[str]) -> str:
    return cfg.model_dump_json() + ",".join(languages)


def _chain(cfg: DataConfig, languages: list[str]) -> Chain:
    key = _chain_key(cfg, languages)
    if key not in _CHAINS:
        _CHAINS.clear()
        _CHAINS[key] = Chain(cfg, languages)
    return _CHAINS[key]


# ------------------------------------------------------------------------------------------------ passes
def filter_shard(index: int, path: str, work: str, cfg: DataConfig, languages: list[str]) -> None:
    """Pass 1 for one input file: filter, write candidates/rejected/quarantine and signatures."""
    folder = Path(work) / f"shard-{index:05d}"
    if is_done(folder):
        return
    chain = _chain(cfg, languages)
    stats = Stats()
    tally = FileTally(str(path))
    sigs = SignatureWriter(folder / "signatures")
    ids: list[list[str]] = []  # ["r" | "c", id] of every document in input order (pass 2a)
    with (
        JsonlWriter(folder / "candidates.jsonl.gz") as cand,
        JsonlWriter(folder / "rejected.jsonl.gz") as rej,
        JsonlWriter(folder / "quarantine.jsonl") as quar,
    ):
        for item in read_file(path, cfg.text_key, cfg.id_key):
            stats.totals["input"] += 1
            tally.add(item)
            if isinstance(item, Quarantined):
                quar.write(item)
                stats.totals["quarantined"] += 1
                continue
            reason, lang, a = chain.judge(item, stats)
            if reason is not None:
                item.metadata["reject_reason"] = reason
                rej.write(item)
                ids.append(["r", item.id])
                stats.final(lang, reason)
                continue
            sig = chain.minhash(a) if chain.minhash is not None else None
            sigs.add(item.id, exact_key(item.text), sig)
            cand.write(item)
            ids.append(["c", item.id])
    sigs.close()
    stats.files = tally.report()
    write_json(folder / "ids.json", ids)
    write_json(folder / "stats.json", stats.to_json())
    mark_done(folder, {"input": str(path), "candidates": len(sigs.ids)})


def finalize_shard(index: int, work: str, out: str) -> None:
    """Pass 3 for one shard: apply the global dedup decisions, write kept/ and rejected/ parts."""
    work_p, out_p = Path(work), Path(out)
    marker = work_p / f"final-{index:05d}"
    if is_done(marker):
        return
    shard = work_p / f"shard-{index:05d}"
    decisions = json.loads((work_p / "dedup" / f"shard-{index:05d}.json").read_text("utf-8"))
    renames = json.loads((work_p / "ids" / f"shard-{index:05d}.json").read_text("utf-8"))
    stats = Stats()
    with (
        JsonlWriter(out_p / "kept" / f"part-{index:05d}.jsonl.gz") as kept,
        JsonlWriter(out_p / "rejected" / f"part-{index:05d}.jsonl.gz") as rej,
    ):
        for n, (_, obj) in enumerate(iter_jsonl(shard / "rejected.jsonl.gz")):
            rej.write(renamed(obj, renames["r"].get(str(n))))
        for n, ((_, obj), (reason, dup_of, cluster)) in enumerate(
            zip(iter_jsonl(shard / "candidates.jsonl.gz"), decisions, strict=True)
        ):
            obj = renamed(obj, renames["c"].get(str(n)))
            lang = obj["metadata"].get("language", UND)
            stats.step("dedup", lang, reason)
            stats.final(lang, reason)
            if reason is None:
                obj["metadata"]["dup_cluster_size"] = cluster
                kept.write(obj)
            else:
                obj["metadata"]["reject_reason"] = reason
                obj["metadata"]["duplicate_of"] = dup_of
                rej.write(obj)
    write_json(marker / "stats.json", stats.to_json())
    mark_done(marker, {"kept": kept.count, "rejected": rej.count})


# ------------------------------------------------------------------------------------------------- entry
def _fingerprint(files: list[Path], cfg: DataConfig, languages: list[str]) -> str:
    skip = {"workers", "executor", "inputs", "parallel", "sft", "parallel_templates", "bitext", "synthetic"}
    fields = cfg.model_dump(exclude=skip)  # what changes the web output; not how it runs
    ident = [[str(f.resolve()), f.stat().st_size] for f in files]
    assets = resources.files("linguabridge").joinpath("assets/data")
    tables = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(assets.iterdir(), key=str)}
    return fingerprint([ident, fields, languages, tables, __version__])


def clean(
    inputs: list[str | Path],
    out_dir: str | Path,
    cfg: DataConfig,
    languages: list[str],
    progress: bool = True,
) -> dict:
    """``linguabridge data clean``: curate inputs (files or folders, any supported kind) into ``out_dir``.

    Resumable: re-running the same command after a kill finishes the missing shards only; a completed run
    returns its stats without work. Changing inputs or rules starts afresh.
    """
    files = list_inputs(inputs)
    out = Path(out_dir)
    work = out / "_work"
    fp = _fingerprint(files, cfg, languages)
    done = out / MARKER
    if done.is_file() and json.loads(done.read_text("utf-8")).get("fingerprint") == fp:
        shutil.rmtree(work, ignore_errors=True)
        return json.loads((out / "stats.json").read_text("utf-8"))
    plan = work / "plan.json"
    if not plan.is_file() or json.loads(plan.read_text("utf-8")).get("fingerprint") != fp:
        for stale in (work, out / "kept", out / "rejected"):
            shutil.rmtree(stale, ignore_errors=True)
        for stale in (done, out / SHARD_MARKER, out / "stats.json", out / "quarantine.jsonl"):
            stale.unlink(missing_ok=True)
        write_json(plan, {"fingerprint": fp, "inputs": [str(f) for f in files]})

    n = len(files)
    run_shards(
        filter_shard,
        [(i, str(f), str(work), cfg, languages) for i, f in enumerate(files)],
        cfg.workers,
        cfg.executor,
        "filter",
        progress,
    )
    ids_dir = work / "ids"
    if not is_done(ids_dir):
        mark_done(ids_dir, {"renamed": unique_ids(work, n)})
    dedup_dir = work / "dedup"
    if not is_done(dedup_dir):
        shard_sigs = [work / f"shard-{i:05d}" / "signatures" for i in range(n)]
        counts = global_dedup(shard_sigs, cfg.dedup, cfg.minhash_threshold, dedup_dir)
        mark_done(dedup_dir, counts)
    run_shards(
        finalize_shard,
        [(i, str(work), str(out)) for i in range(n)],
        cfg.workers,
        cfg.executor,
        "dedup",
        progress,
    )

    stats = Stats()
    with JsonlWriter(out / "quarantine.jsonl") as quar:
        for i in range(n):
            stats.merge(json.loads((work / f"shard-{i:05d}" / "stats.json").read_text("utf-8")))
            stats.merge(json.loads((work / f"final-{i:05d}" / "stats.json").read_text("utf-8")))
            for _, obj in iter_jsonl(work / f"shard-{i:05d}" / "quarantine.jsonl"):
                quar.write(obj)
    result = stats.to_json()
    result["shards"] = n
    result["duplicate_ids"] = {"renamed": json.loads((ids_dir / SHARD_MARKER).read_text("utf-8"))["renamed"]}
    built = _CHAINS.get(_chain_key(cfg, languages))  # this process ran the shards (workers == 1)
    decontam = built.decontam if built else None
    if decontam is None and cfg.decontaminate != "none":
        decontam = Decontaminator(cfg.decontam_files, cfg.decontam_ngram, cfg.decontaminate)
    result["decontamination"] = describe(decontam) if decontam else {"mode": "none"}
    result["lid_backend"] = cfg.lid_backend
    warn(result["files"], str(out / "quarantine.jsonl"))
    if result["duplicate_ids"]["renamed"]:
        print(
            f"warning: {result['duplicate_ids']['renamed']} documents had the id of an earlier one: renamed ID#2, "
            "ID#3... (metadata.original_id keeps the id)",
            file=sys.stderr,
        )
    write_json(out / "stats.json", result)
    write_json(done, {"fingerprint": fp, "shards": n})
    shutil.rmtree(work, ignore_errors=True)
    return result

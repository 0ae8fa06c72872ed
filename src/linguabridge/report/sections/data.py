"""Data: the curation funnel per language, duplicates, language-ID scores, bitext, synthetic outputs."""

from __future__ import annotations

import statistics
from collections import defaultdict

from linguabridge.report import plots
from linguabridge.report.blocks import (
    Cell,
    Figure,
    Missing,
    Para,
    Part,
    Section,
    SideBySide,
    Table,
    fmt_num,
    num,
    pct,
    tokens,
)
from linguabridge.report.inputs import RunData, by_tier, language_name, tier_of

# Reading every curated shard of a real crawl would take minutes; the score distributions need a sample only.
MAX_SCANNED_RECORDS = 200_000
SYNTHETIC_STATS = ("data/synthetic/stats.json", "data/synth/stats.json", "synthetic/stats.json")


def build(run: RunData) -> Section:
    sec = Section("data", "Data")
    stats = run.web_stats
    scan = _scan_web_shards(run)
    sec.parts = [
        _funnel(run, stats, scan),
        _duplicates(stats),
        _langid(run, scan),
        _counts_part(
            "Bitext kept and rejected per language pair",
            "direction",
            run.parallel_stats,
            "data/parallel/stats.json",
            lambda k: k.replace("-", " → ", 1),
        ),
        _synthetic(run),
    ]
    return sec


# ------------------------------------------------------------------------------------------ counts
def split_counts(counts: dict) -> tuple[int, dict[str, int]]:
    """(kept, {reason: n}) from a stage's counter dict (``kept``/``accepted``, ``rejected:<reason>``)."""
    kept, reasons = 0, {}
    for key, n in counts.items():
        if not isinstance(n, (int, float)) or isinstance(n, bool):
            continue
        if key in ("kept", "accepted"):
            kept += int(n)
        elif key.startswith(("rejected:", "dropped:")):
            reason = key.split(":", 1)[1]
            reasons[reason] = reasons.get(reason, 0) + int(n)
        elif key == "rejected":
            reasons["unspecified"] = reasons.get("unspecified", 0) + int(n)
    return kept, reasons


def _group_dict(stats: dict | None, preferred: tuple[str, ...]) -> dict[str, dict]:
    """The per-group counters of a stats file: the first of ``preferred`` keys holding {group: {count}}."""
    if not isinstance(stats, dict):
        return {}
    for key in preferred + tuple(stats):
        groups = stats.get(key)
        if (
            isinstance(groups, dict)
            and groups
            and all(isinstance(v, dict) for v in groups.values())
            and any(split_counts(v)[0] or split_counts(v)[1] for v in groups.values())
        ):
            return groups
    return {}


def _count_table(groups: dict[str, dict], label: str, show=lambda k: k, languages: bool = False) -> Table:
    reasons = sorted({r for c in groups.values() for r in split_counts(c)[1]})
    keys = by_tier(groups) if languages else sorted(groups)
    headers = [label] + (["name", "tier"] if languages else [])
    headers += ["in", "kept", "kept %", "rejected"] + [f"rejected: {r}" for r in reasons]
    rows = []
    for key in keys:
        kept, rej = split_counts(groups[key])
        total = kept + sum(rej.values())
        row = [Cell(show(key))] + ([language_name(key), tier_of(key) or ""] if languages else [])
        row += [num(total), num(kept), pct(kept / total if total else None), num(sum(rej.values()))]
        row += [num(rej.get(r, 0)) for r in reasons]
        rows.append(row)
    return Table(headers, rows)


def _counts_part(title: str, label: str, stats, rel: str, show=lambda k: k) -> Part:
    groups = _group_dict(stats, ("directions", "pairs", "languages", "families"))
    if not groups:
        return Part(title, [Missing(f"{title.lower()} ({rel})")])
    kept = sum(split_counts(c)[0] for c in groups.values())
    rejected = sum(sum(split_counts(c)[1].values()) for c in groups.values())
    intro = Para(
        f"{fmt_num(kept)} kept and {fmt_num(rejected)} rejected over {len(groups)} {label}s ({rel})."
    )
    return Part(title, [intro, _count_table(groups, label, show)])


# ------------------------------------------------------------------------------------------ web text
def _scan_web_shards(run: RunData) -> dict:
    """Language-ID scores and characters per identified language from the kept/rejected shards."""
    from linguabridge.io import iter_jsonl

    scores: dict[str, list[float]] = defaultdict(list)
    chars = {"kept": defaultdict(int), "rejected": defaultdict(int)}
    seen, complete = 0, True
    for part in ("kept", "rejected"):
        for path in sorted((run.dir / "data" / "web" / part).glob("*.jsonl*")):
            try:
                for _, rec in iter_jsonl(path):
                    if not isinstance(rec, dict):
                        continue
                    seen += 1
                    meta = rec.get("metadata") if isinstance(rec.get("metadata"), dict) else {}
                    lang = meta.get("language") or "und"
                    if isinstance(meta.get("language_score"), (int, float)):
                        scores[lang].append(float(meta["language_score"]))
                    chars[part][lang] += len(rec.get("text") or "")
                    if seen >= MAX_SCANNED_RECORDS:
                        complete = False
                        break
            except (OSError, EOFError, ValueError) as exc:  # a truncated .gz, an unreadable shard
                run.problems.append(f"{path.relative_to(run.dir)}: unreadable ({exc}); scores are partial")
                complete = False
            if not complete:
                break
        if not complete:
            break
    return {"scores": dict(scores), "chars": chars, "complete": complete, "seen": seen}


def _funnel(run: RunData, stats, scan) -> Part:
    title = "Curation funnel per language"
    langs = run.dict_at(stats, "languages")
    if not langs:
        return Part(title, [Missing("the web-text funnel (data/web/stats.json)")])
    blocks = []
    totals = run.dict_at(stats, "totals")
    if totals:
        blocks.append(
            Para(
                "Documents: "
                + ", ".join(f"{k} {fmt_num(v)}" for k, v in totals.items() if isinstance(v, (int, float)))
                + ". Languages are the identified language of each document (und: none identified)."
            )
        )
    reasons = sorted({r for c in langs.values() for r in split_counts(c)[1]})
    have_chars = scan["complete"] and scan["seen"] > 0
    inventory = run.inventory
    headers = ["language", "name", "tier", "docs in", "kept", "kept %", "rejected"]
    headers += [f"rejected: {r}" for r in reasons]
    headers += (["chars in", "chars kept"] if have_chars else []) + ["tokens kept"]
    rows = []
    order = by_tier(langs)
    for lang in order:
        kept, rej = split_counts(langs[lang])
        total = kept + sum(rej.values())
        row = [lang, language_name(lang), tier_of(lang) or ""]
        row += [num(total), num(kept), pct(kept / total if total else None), num(sum(rej.values()))]
        row += [num(rej.get(r, 0)) for r in reasons]
        if have_chars:
            c_kept = scan["chars"]["kept"].get(lang, 0)
            row += [num(c_kept + scan["chars"]["rejected"].get(lang, 0)), num(c_kept)]
        inv = inventory.get(lang) if isinstance(inventory.get(lang), dict) else {}
        tok = sum(
            v for k, v in inv.items() if k in ("tokens", "heldout_tokens") and isinstance(v, (int, float))
        )
        row.append(tokens(tok) if inv else Cell("–"))
        rows.append(row)
    blocks.append(
        Table(
            headers, rows, caption="tokens kept: train + held-out tokens of the kept documents (tokens stage)"
        )
    )
    steps = run.dict_at(stats, "steps")
    if steps:
        srows = []
        for name, c in steps.items():
            if not isinstance(c, dict):
                continue
            dropped = {k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("dropped:")}
            srows.append(
                [
                    name,
                    num(c.get("in")),
                    num(c.get("out")),
                    num(sum(dropped.values())),
                    ", ".join(f"{k} {fmt_num(v)}" for k, v in sorted(dropped.items())) or "–",
                ]
            )
        blocks.append(
            Table(["step", "in", "out", "dropped", "dropped by reason"], srows, caption="Chain steps")
        )
    if plots.available():
        uri = plots.funnel(
            order,
            [split_counts(langs[lang])[0] for lang in order],
            {r: [split_counts(langs[lang])[1].get(r, 0) for lang in order] for r in reasons},
        )
        if uri:
            fig = Figure(uri, "documents kept and rejected per language")
            steps_table = blocks.pop() if isinstance(blocks[-1], Table) and steps else None
            blocks.append(SideBySide([steps_table, fig]) if steps_table else fig)
    return Part(title, blocks)


def _duplicates(stats) -> Part:
    title = "Duplicate rates"
    langs = stats.get("languages") if isinstance(stats, dict) else None
    if not isinstance(langs, dict):
        return Part(title, [Missing("duplicate counts (data/web/stats.json)")])
    blocks = []
    steps = stats.get("steps") if isinstance(stats.get("steps"), dict) else {}
    for name, c in steps.items():
        if "dedup" in name and isinstance(c, dict) and c.get("in"):
            removed = c["in"] - c.get("out", c["in"])
            blocks.append(
                Para(
                    f"Step {name}: {fmt_num(c['in'])} documents in, {fmt_num(removed)} removed as duplicates "
                    f"({100 * removed / c['in']:.1f}%)."
                )
            )
    dup_reasons = sorted({r for c in langs.values() for r in split_counts(c)[1] if "dup" in r})
    if not dup_reasons:
        blocks.append(Para("No document in this run was rejected as a duplicate."))
        return Part(title, blocks)
    rows = []
    for lang in by_tier(langs):
        kept, rej = split_counts(langs[lang])
        total = kept + sum(rej.values())
        dups = sum(rej.get(r, 0) for r in dup_reasons)
        rows.append([lang, tier_of(lang) or "", num(total)] + [num(rej.get(r, 0)) for r in dup_reasons] + [
            pct(dups / total if total else None, style="warn" if total and dups / total > 0.2 else None)
        ])  # fmt: skip
    blocks.append(
        Table(
            ["language", "tier", "docs in", *dup_reasons, "duplicate rate"],
            rows,
            caption="duplicate rate: duplicates / documents in, per identified language (over 20% in yellow)",
        )
    )
    return Part(title, blocks)


def _langid(run: RunData, scan) -> Part:
    title = "Language-ID score distributions"
    scores = scan["scores"]
    if not scores:
        return Part(
            title, [Missing("language-ID scores (metadata.language_score in data/web/kept|rejected)")]
        )
    # Thresholds are per language (FineWeb-2 style, stats.json "rules"); older runs had one global value.
    rules = (run.web_stats or {}).get("rules") or {}
    legacy = run.dict_at(run.recipe, "data").get("min_language_score")
    thresholds = {
        lang: (rules.get(lang) or {}).get("language_score", legacy)
        if isinstance(rules.get(lang), dict)
        else legacy
        for lang in scores
    }
    blocks = []
    if not scan["complete"]:
        blocks.append(Para(f"From the first {fmt_num(scan['seen'])} documents of the curated shards."))
    rows = []
    for lang in by_tier(scores):
        s = sorted(scores[lang])
        threshold = thresholds.get(lang)
        below = sum(v < threshold for v in s) / len(s) if isinstance(threshold, (int, float)) else None
        rows.append(
            [
                lang,
                tier_of(lang) or "",
                num(len(s)),
                num(s[0], 3),
                num(statistics.quantiles(s, n=10, method="inclusive")[0] if len(s) > 1 else s[0], 3),
                num(statistics.median(s), 3),
                num(statistics.fmean(s), 3),
                num(threshold, 3) if isinstance(threshold, (int, float)) else "",
                pct(below),
            ]
        )
    table = Table(
        ["language", "tier", "docs", "min", "p10", "median", "mean", "threshold", "below threshold"],
        rows,
        caption="Scores of the identified language, all documents that reached language ID",
    )
    uri = (
        plots.langid_scores({lang: scores[lang] for lang in by_tier(scores)}, thresholds)
        if plots.available()
        else None
    )
    blocks.append(
        SideBySide([table, Figure(uri, "language-ID score distribution per language")]) if uri else table
    )
    return Part(title, blocks)


def _synthetic(run: RunData) -> Part:
    title = "Synthetic outputs accepted and rejected"
    for rel in SYNTHETIC_STATS:
        stats = run.json(rel)
        if stats is not None:
            return _counts_part(title, "group", stats, rel)
    return Part(title, [Missing("synthetic-data outputs (data/synthetic/stats.json)")])

"""Evaluation: per-language x benchmark table with deltas against the base model, tier summary per
checkpoint, the translation direction matrix, and the protocol of every number.

Accuracy-like metrics are shown as percentages with one decimal (as leaderboards and ``tables.md`` do),
deltas in points. Every delta carries ± its standard error and is coloured only beyond two of them.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from typing import NamedTuple

from linguabridge.report import plots
from linguabridge.report.blocks import (
    SIGNIFICANT_SE,
    Cell,
    Figure,
    Missing,
    Para,
    Part,
    Section,
    Table,
    beyond_noise,
    delta_se,
    fmt_num,
    num,
)
from linguabridge.report.inputs import TIER_NAMES, RunData, by_tier, language_name, tier_of
from linguabridge.report.sections.eval_stats import (
    STDERR_NOTE,
    combined_se,
    is_fraction,
    lower_is_better,
    row_stderr,
    value_cell,
)

# The translation metric drawn as the direction matrix, first one present wins.
MATRIX_METRICS = ("chrf++", "chrf", "bleu", "spbleu", "comet")
PROTOCOL_KEYS = ("task", "language", "direction", "metric", "value", "split", "shots", "n", "prompt", "harness",
                 "checkpoint", "stderr", "example", "prompt_name", "source_language")  # fmt: skip
SHORT = 60  # characters of a protocol cell shown before it collapses


def _direction(row: dict) -> tuple[str, str] | None:
    d = row.get("direction")
    if isinstance(d, str) and d.count("-") == 1:
        src, tgt = d.split("-")
        return src, tgt
    return None


class Bench(NamedTuple):
    """One benchmark column: a task's metric under one protocol (rows under another protocol never mix)."""

    task: str
    metric: str
    split: str
    shots: str
    style: str


def bench_of(row: dict) -> Bench:
    return Bench(
        str(row["task"]),
        str(row.get("metric", "value")),
        str(row.get("split", "")),
        str(row.get("shots", "")),
        str(row.get("prompt_style", "")),
    )


class Results:
    """The rows of eval/results.json indexed by checkpoint, benchmark (task, metric, protocol) and language."""

    def __init__(self, rows: list[dict]):
        self.rows = rows
        self.checkpoints = list(dict.fromkeys(str(r.get("checkpoint", "model")) for r in rows))
        self.base = (
            "base"
            if "base" in self.checkpoints
            else (self.checkpoints[0] if len(self.checkpoints) > 1 else None)
        )
        self.final = self.checkpoints[-1] if self.checkpoints else None
        self.benchmarks = list(dict.fromkeys(bench_of(r) for r in rows))
        # A translation row counts for its target language; several directions into one language are averaged.
        cells = defaultdict(list)
        for r in rows:
            lang = r.get("language") or (_direction(r) or (None, None))[1] or "all"
            cells[(str(r.get("checkpoint", "model")), bench_of(r), lang)].append(r)
        self.value = {k: statistics.fmean(float(r["value"]) for r in v) for k, v in cells.items()}
        self.stderr = {k: combined_se([row_stderr(r) for r in v]) for k, v in cells.items()}
        self.languages = by_tier({k[2] for k in self.value})
        # The protocol joins a column's name only where one task's metric was measured under several.
        protocols = defaultdict(set)
        for b in self.benchmarks:
            protocols[(b.task, b.metric)].add(b[2:])
        self._ambiguous = {k for k, v in protocols.items() if len(v) > 1}

    def get(self, ckpt, bench: Bench, lang):
        return self.value.get((ckpt, bench, lang))

    def change(self, ckpt, bench: Bench, lang, against=None) -> tuple[float, float | None] | None:
        """``ckpt`` − ``against`` (default the base) and its standard error, or None when one is missing."""
        against = against or self.base
        v, b = self.get(ckpt, bench, lang), self.get(against, bench, lang)
        if v is None or b is None:
            return None
        se, base_se = self.stderr.get((ckpt, bench, lang)), self.stderr.get((against, bench, lang))
        return v - b, None if se is None or base_se is None else math.hypot(se, base_se)

    def significant(self, d: float, se: float | None, bench: Bench) -> int:
        """+1 a gain, −1 a loss beyond ``SIGNIFICANT_SE`` standard errors, 0 otherwise (or no stderr)."""
        if not beyond_noise(d, se):
            return 0
        return (-1 if lower_is_better(bench.metric) else 1) * (1 if d > 0 else -1)

    def name(self, b: Bench) -> str:
        if (b.task, b.metric) not in self._ambiguous:
            return f"{b.task} {b.metric}"
        proto = ", ".join(x for x in (b.split, f"{b.shots}-shot" if b.shots else "", b.style) if x)
        return f"{b.task} {b.metric} ({proto})"

    def header(self, b: Bench) -> str:
        return (
            self.name(b)
            + (" (%)" if is_fraction(b.metric) else "")
            + (" ↓" if lower_is_better(b.metric) else "")
        )


def build(run: RunData) -> Section:
    sec = Section("evaluation", "Evaluation")
    rows = run.eval_rows
    if not rows:
        sec.parts = [Part("Per-language results", [Missing("evaluation results (eval/results.json)")])]
        return sec
    res = Results(rows)
    sec.intro = [
        Para(
            f"{len(rows)} numbers over {len(res.benchmarks)} benchmark metrics, {len(res.languages)} languages "
            f"and checkpoints {', '.join(res.checkpoints)}. Final checkpoint: {res.final}"
            + (
                f"; deltas are against {res.base}."
                if res.base
                else "; no base-model results to compare with."
            )
        )
    ]
    sec.parts = [_per_language(res), _tiers(res), _matrix(res), _protocol(run, res)]
    return sec


def _per_language(res: Results) -> Part:
    headers = ["language", "name", "tier"]
    for b in res.benchmarks:
        headers.append(res.header(b))
        if res.base:
            headers.append("Δ ± se")
    rows = []
    for lang in res.languages:
        row = [lang, language_name(lang), tier_of(lang) or ""]
        for b in res.benchmarks:
            row.append(value_cell(res.get(res.final, b, lang), b.metric))
            if res.base:
                change = res.change(res.final, b, lang)
                d, se = change if change else (None, None)
                row.append(delta_se(d, se, lower_is_better(b.metric), is_fraction(b.metric)))
        rows.append(row)
    return Part(
        f"Per language x benchmark: {res.final}" + (f" vs {res.base}" if res.base else ""),
        [
            Table(
                headers,
                rows,
                caption="(%): percent, Δ in points. ↓: lower is better. Δ = final − base: green a gain, red a "
                f"loss beyond {SIGNIFICANT_SE:g} standard errors. Translation scores count for the target "
                "language (mean over directions into it).",
            ),
            Para(STDERR_NOTE),
        ],
    )


def _tier_change(res: Results, ckpt: str, against: str, b: Bench, langs: list[str]):
    """Mean change over ``langs`` and its standard error, with the per-language changes."""
    changes = [c for lang in langs if (c := res.change(ckpt, b, lang, against)) is not None]
    if not changes:
        return None, None, []
    return statistics.fmean(d for d, _ in changes), combined_se([se for _, se in changes]), changes


def _tiers(res: Results) -> Part:
    """Per benchmark and tier: the mean at every checkpoint, the change of each stage, and base -> final."""
    steps = list(zip(res.checkpoints, res.checkpoints[1:], strict=False)) if len(res.checkpoints) > 2 else []
    headers = ["benchmark", "tier", "languages"] + [f"mean @ {c}" for c in res.checkpoints]
    headers += [f"Δ {a} → {c}" for a, c in steps]
    if res.base:
        headers += [f"Δ {res.base} → {res.final}", "gained", "lost"]
    rows = []
    for b in res.benchmarks:
        pct, lower = is_fraction(b.metric), lower_is_better(b.metric)
        for tier in ("high", "low", None):
            langs = [
                lang
                for lang in res.languages
                if tier_of(lang) == tier and res.get(res.final, b, lang) is not None
            ]
            if not langs:
                continue
            row = [res.header(b), TIER_NAMES[tier], num(len(langs))]
            for c in res.checkpoints:
                vals = [v for lang in langs if (v := res.get(c, b, lang)) is not None]
                row.append(value_cell(statistics.fmean(vals) if vals else None, b.metric))
            for a, c in steps:
                d, se, _ = _tier_change(res, c, a, b, langs)
                row.append(delta_se(d, se, lower, pct))
            if res.base:
                d, se, changes = _tier_change(res, res.final, res.base, b, langs)
                signs = [res.significant(x, x_se, b) for x, x_se in changes]
                judged = all(x_se is not None for _, x_se in changes)  # else "–": nothing to judge against
                row += [
                    delta_se(d, se, lower, pct),
                    num(signs.count(1) if judged else None),
                    num(signs.count(-1) if judged else None, style="loss" if -1 in signs else None),
                ]
            rows.append(row)
    caption = "means over the languages of each tier, per checkpoint; Δ ± se as in the table above"
    if res.base:
        caption += f"; gained / lost: languages whose change is beyond {SIGNIFICANT_SE:g} standard errors"
    return Part("Tier summary: high- vs low-resource", [Table(headers, rows, caption=caption)])


def _matrix(res: Results) -> Part:
    """One source x target matrix per translation task (and protocol), for its preferred metric."""
    title = "Translation direction matrix"
    trans = [r for r in res.rows if _direction(r)]
    groups: dict[tuple, list[str]] = defaultdict(list)
    for r in trans:
        b = bench_of(r)
        if b.metric not in groups[(b.task, *b[2:])]:
            groups[(b.task, *b[2:])].append(b.metric)
    if not groups:
        return Part(title, [Missing("translation results (rows with a direction in eval/results.json)")])
    blocks = []
    for (task, *proto), metrics in groups.items():
        metric = next((m for m in MATRIX_METRICS if m in metrics), metrics[0])
        blocks += _one_matrix(
            res, Bench(task, metric, *proto), [r for r in trans if bench_of(r) == Bench(task, metric, *proto)]
        )
    return Part(title, blocks)


def _one_matrix(res: Results, bench: Bench, rows: list[dict]) -> list:
    def matrix(ckpt):
        cells = defaultdict(list)
        for r in rows:
            if str(r.get("checkpoint", "model")) == ckpt:
                cells[_direction(r)].append(float(r["value"]))
        return {k: statistics.fmean(v) for k, v in cells.items()}

    final = matrix(res.final)
    srcs = by_tier({s for s, _ in final})
    tgts = by_tier({t for _, t in final})
    name = res.name(bench)
    blocks = [
        Para(
            f"{name} per direction (rows: source, columns: target) for {res.final}"
            + (f", and its change against {res.base}." if res.base else ".")
        )
    ]
    grid = [[final.get((s, t)) for t in tgts] for s in srcs]
    table_rows = [[s] + [num(v, 3) for v in line] for s, line in zip(srcs, grid, strict=True)]
    blocks.append(Table(["source \\ target", *tgts], table_rows, caption=f"{name} at {res.final}"))
    base = matrix(res.base) if res.base else {}
    if plots.available():
        panels = [(grid, f"{bench.metric} ({res.final})", False)]
        if base:
            dgrid = [
                [None if final.get((s, t)) is None or base.get((s, t)) is None else final[(s, t)] - base[(s, t)]
                 for t in tgts]
                for s in srcs
            ]  # fmt: skip
            panels.append((dgrid, f"Δ {bench.metric}: {res.final} − {res.base}", True))
        uri = plots.heatmaps(panels, srcs, tgts)
        if uri:
            blocks.append(Figure(uri, f"{name} per translation direction"))
    return blocks


def _collapsible(full: str, summary: str | None = None) -> Cell:
    """Short text as it is; long text as a summary that opens to the whole of it."""
    if summary is None and len(full) <= SHORT:
        return Cell(full)
    return Cell(summary or full[: SHORT - 1] + "…", details=full)


def _prompt_cell(rs: list[dict]) -> Cell:
    """The prompt template's name and shots, opening to every distinct prompt (Flores: one per direction)."""
    prompts = list(dict.fromkeys("–" if r.get("prompt") is None else str(r["prompt"]) for r in rs))
    if len(prompts) == 1 and len(prompts[0]) <= SHORT:
        return Cell(prompts[0])
    names = list(dict.fromkeys(str(r["prompt_name"]) for r in rs if r.get("prompt_name")))
    styles = list(dict.fromkeys(str(r["prompt_style"]) for r in rs if r.get("prompt_style")))
    shots = ", ".join(dict.fromkeys(f"{r.get('shots', 0)}-shot" for r in rs))
    name = ", ".join(names + styles) or prompts[0].split("\n")[0][:40] + "…"
    count = f", {len(prompts)} prompts" if len(prompts) > 1 else ""
    return _collapsible("\n\n".join(prompts), f"{name} ({shots}{count})")


def _protocol(run: RunData, res: Results) -> Part:
    """One row per benchmark metric: split, shots, harness, prompt, items, and any extra protocol field."""
    groups = defaultdict(list)
    for r in res.rows:
        groups[(str(r["task"]), str(r.get("metric", "value")))].append(r)
    rows = []
    for (task, metric), rs in groups.items():

        def vals(key, rs=rs):
            return ", ".join(dict.fromkeys("–" if r.get(key) is None else str(r.get(key)) for r in rs))

        ns = [r["n"] for r in rs if isinstance(r.get("n"), (int, float))]
        extra = sorted({k for r in rs for k in r} - set(PROTOCOL_KEYS))
        others = "; ".join(f"{k}={vals(k)}" for k in extra) or "–"
        rows.append(
            [
                task,
                metric,
                vals("split"),
                vals("shots"),
                vals("harness"),
                Cell(f"{fmt_num(min(ns))}–{fmt_num(max(ns))}" if ns and min(ns) != max(ns) else fmt_num(ns[0]) if ns else "–",
                     min(ns) if ns else None),
                _prompt_cell(rs),
                _collapsible(others.replace("; ", "\n"), others[: SHORT - 1] + "…" if len(others) > SHORT else None),
            ]
        )  # fmt: skip
    versions = run.eval_packages
    blocks = [
        Table(
            ["task", "metric", "split", "shots", "harness", "items (n)", "prompt", "other protocol fields"],
            rows,
        )
    ]
    if isinstance(versions, dict) and versions:
        blocks.append(Para("Evaluated with " + ", ".join(f"{k} {v}" for k, v in versions.items()) + "."))
    all_rows = [
        [
            str(r.get("checkpoint", "")),
            str(r["task"]),
            str(r.get("language", "")),
            str(r.get("direction") or ""),
            str(r.get("metric", "")),
            value_cell(float(r["value"]), str(r.get("metric", ""))),
            str(r.get("split", "")),
            num(r.get("shots")),
            num(r.get("n")),
            str(r.get("harness", "")),
        ]
        for r in res.rows
    ]
    blocks.append(
        Table(
            [
                "checkpoint",
                "task",
                "language",
                "direction",
                "metric",
                "value",
                "split",
                "shots",
                "n",
                "harness",
            ],
            all_rows,
            caption=f"Every number of eval/results.json with its protocol ({len(all_rows)} rows)",
            in_markdown=False,
            collapsed=True,
        )
    )
    return Part("Protocol of every number", blocks)

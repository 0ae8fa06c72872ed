"""Evaluation: per-language x benchmark table with deltas against the base model, tier summary, the
translation direction matrix, and the protocol of every number."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import NamedTuple

from linguabridge.report import plots
from linguabridge.report.blocks import Cell, Figure, Missing, Para, Part, Section, Table, delta, fmt_num, num
from linguabridge.report.inputs import TIER_NAMES, RunData, by_tier, language_name, tier_of

# Metrics where a smaller number is better; every other metric (accuracy, BLEU, chrF, F1, ...) is larger-better.
LOWER_IS_BETTER = {
    "loss",
    "bpb",
    "bits_per_byte",
    "perplexity",
    "ppl",
    "word_perplexity",
    "byte_perplexity",
    "ter",
}
# The translation metric drawn as the direction matrix, first one present wins.
MATRIX_METRICS = ("chrf++", "chrf", "bleu", "spbleu", "comet")
PROTOCOL_KEYS = ("task", "language", "direction", "metric", "value", "split", "shots", "n", "prompt", "harness",
                 "checkpoint")  # fmt: skip


def lower_is_better(metric: str) -> bool:
    return str(metric).lower() in LOWER_IS_BETTER


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
            cells[(str(r.get("checkpoint", "model")), bench_of(r), lang)].append(float(r["value"]))
        self.value = {k: statistics.fmean(v) for k, v in cells.items()}
        self.languages = by_tier({k[2] for k in self.value})
        # The protocol joins a column's name only where one task's metric was measured under several.
        protocols = defaultdict(set)
        for b in self.benchmarks:
            protocols[(b.task, b.metric)].add(b[2:])
        self._ambiguous = {k for k, v in protocols.items() if len(v) > 1}

    def get(self, ckpt, bench: Bench, lang):
        return self.value.get((ckpt, bench, lang))

    def name(self, b: Bench) -> str:
        if (b.task, b.metric) not in self._ambiguous:
            return f"{b.task} {b.metric}"
        proto = ", ".join(x for x in (b.split, f"{b.shots}-shot" if b.shots else "", b.style) if x)
        return f"{b.task} {b.metric} ({proto})"


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
        headers.append(res.name(b) + (" ↓" if lower_is_better(b.metric) else ""))
        if res.base:
            headers.append("Δ")
    rows = []
    for lang in res.languages:
        row = [lang, language_name(lang), tier_of(lang) or ""]
        for b in res.benchmarks:
            v = res.get(res.final, b, lang)
            row.append(num(v))
            if res.base:
                base = res.get(res.base, b, lang)
                row.append(delta(None if v is None or base is None else v - base, lower_is_better(b.metric)))
        rows.append(row)
    return Part(
        f"Per language x benchmark: {res.final}" + (f" vs {res.base}" if res.base else ""),
        [
            Table(
                headers,
                rows,
                caption="↓: lower is better. Δ = final − base, green a gain, red a loss for that metric. "
                "Translation scores count for the target language (mean over directions into it).",
            )
        ],
    )


def _tiers(res: Results) -> Part:
    headers = ["benchmark", "tier", "languages"] + [f"mean @ {c}" for c in res.checkpoints]
    if res.base:
        headers += ["mean Δ", "gained", "lost"]
    rows = []
    for b in res.benchmarks:
        for tier in ("high", "low", None):
            langs = [
                lang
                for lang in res.languages
                if tier_of(lang) == tier and res.get(res.final, b, lang) is not None
            ]
            if not langs:
                continue
            row = [res.name(b), TIER_NAMES[tier], num(len(langs))]
            for c in res.checkpoints:
                vals = [v for lang in langs if (v := res.get(c, b, lang)) is not None]
                row.append(num(statistics.fmean(vals) if vals else None))
            if res.base:
                ds = [
                    res.get(res.final, b, lang) - base
                    for lang in langs
                    if (base := res.get(res.base, b, lang)) is not None
                ]
                sign = -1 if lower_is_better(b.metric) else 1
                row += [
                    delta(statistics.fmean(ds) if ds else None, lower_is_better(b.metric)),
                    num(sum(sign * d > 1e-12 for d in ds)),
                    num(
                        sum(sign * d < -1e-12 for d in ds),
                        style="loss" if any(sign * d < -1e-12 for d in ds) else None,
                    ),
                ]
            rows.append(row)
    return Part(
        "Tier summary: high- vs low-resource",
        [Table(headers, rows, caption="means over the languages of each tier, per checkpoint")],
    )


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
        prompt = vals("prompt")
        rows.append(
            [
                task,
                metric,
                vals("split"),
                vals("shots"),
                vals("harness"),
                Cell(f"{fmt_num(min(ns))}–{fmt_num(max(ns))}" if ns and min(ns) != max(ns) else fmt_num(ns[0]) if ns else "–",
                     min(ns) if ns else None),
                Cell(prompt if len(prompt) <= 90 else prompt[:87] + "…", title=prompt),
                "; ".join(f"{k}={vals(k)}" for k in extra) or "–",
            ]
        )  # fmt: skip
    versions = (run.eval_results or {}).get("versions")
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
            num(float(r["value"])),
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

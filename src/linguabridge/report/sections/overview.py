"""The page's opening lines: what went in, what was trained, and per tier what was gained or lost."""

from __future__ import annotations

import statistics

from linguabridge.report import plots
from linguabridge.report.blocks import Figure, Para, beyond_noise, delta_se, fmt_num, fmt_tokens
from linguabridge.report.inputs import TIER_NAMES, RunData, tier_of
from linguabridge.report.sections.data import split_counts
from linguabridge.report.sections.eval_stats import combined_se, is_fraction, lower_is_better
from linguabridge.report.sections.evaluation import Results
from linguabridge.report.sections.training import Timeline

# The metric that stands for a task in the overview chart when a task reports several, first one present wins.
PREFERRED_METRICS = ("bpb", "chrf++", "acc_norm", "acc", "f1", "bleu")
MAX_OVERVIEW_PANELS = 4


def build(run: RunData) -> list:
    lines = []
    langs = run.recipe.get("languages") if isinstance(run.recipe.get("languages"), list) else []
    if langs:
        tiers = [tier_of(str(lang)) for lang in langs]
        lines.append(
            f"Languages: {len(langs)} ({tiers.count('high')} high-resource, {tiers.count('low')} low-resource"
            + (f", {len(langs) - tiers.count('high') - tiers.count('low')} other" if None in tiers else "")
            + f"); model {run.dict_at(run.recipe, 'model').get('name_or_path', '–')}."
        )
    stats = run.web_stats
    if isinstance(stats, dict) and isinstance(stats.get("languages"), dict):
        kept = sum(split_counts(c)[0] for c in stats["languages"].values() if isinstance(c, dict))
        total = kept + sum(
            sum(split_counts(c)[1].values()) for c in stats["languages"].values() if isinstance(c, dict)
        )
        lines.append(f"Web documents: {fmt_num(kept)} kept of {fmt_num(total)} judged.")
    trained = []
    tl = Timeline(run)
    for s in tl.stages:
        span = tl.end[s] - tl.start[s]
        trained.append(
            f"{s} {fmt_tokens(span)} tokens" if tl.unit == "tokens" else f"{s} {fmt_num(span)} steps"
        )
    if trained:
        lines.append("Trained: " + ", ".join(trained) + ".")
    secs = [m.get("seconds") for m in run.markers().values() if isinstance(m.get("seconds"), (int, float))]
    if secs:
        lines.append(f"Wall time: {sum(secs) / 60:.1f} min over {len(secs)} stages.")
    lines += _headline(run)
    blocks: list = [Para(line) for line in lines]
    chart = _delta_chart(run)
    if chart:
        blocks.append(chart)
    return blocks


def _delta_chart(run: RunData) -> Figure | None:
    """Gains and losses per language for one metric of each task (the question the report answers first)."""
    res = Results(run.eval_rows)
    if not res.rows or not res.base or not plots.available():
        return None
    by_task: dict[str, list] = {}
    for bench in res.benchmarks:
        by_task.setdefault(bench.task, []).append(bench)
    panels = []
    for benches in by_task.values():
        metrics = [b.metric for b in benches]
        metric = next((m for m in PREFERRED_METRICS if m in metrics), metrics[0])
        bench = next(b for b in benches if b.metric == metric)
        changes = [(lang, c) for lang in res.languages if (c := res.change(res.final, bench, lang))]
        if changes:
            scale = 100 if is_fraction(metric) else 1  # accuracy in points, as in the tables
            panels.append(
                (
                    res.header(bench),
                    [lang for lang, _ in changes],
                    [d * scale for _, (d, _) in changes],
                    lower_is_better(metric),
                    [beyond_noise(d, se) for _, (d, se) in changes],
                )
            )
    panels = panels[:MAX_OVERVIEW_PANELS]
    uri = plots.delta_bars(panels, {lang: tier_of(lang) for lang in res.languages})
    if not uri:
        return None
    more = len(by_task) > MAX_OVERVIEW_PANELS
    return Figure(uri, "change per language against the base model", f"{res.final} vs {res.base}"
                  + ("; the first tasks only, all of them under Evaluation" if more else ""))  # fmt: skip


def _headline(run: RunData) -> list[str]:
    """Per benchmark: how many languages of each tier gained or lost between the base and final checkpoints."""
    res = Results(run.eval_rows)
    if not res.rows or not res.base:
        return []
    out = []
    for b in res.benchmarks:
        parts = []
        for tier in ("high", "low", None):
            changes = [
                c for lang in res.languages if tier_of(lang) == tier and (c := res.change(res.final, b, lang))
            ]
            if not changes:
                continue
            if any(se is None for _, se in changes):  # direction only: nothing to judge it against
                sign = -1 if lower_is_better(b.metric) else 1
                better = sum(sign * d > 1e-12 for d, _ in changes)
                verdict = f"{better}/{len(changes)} improved (no standard error)"
            else:
                gained = sum(res.significant(d, se, b) == 1 for d, se in changes)
                verdict = f"{gained}/{len(changes)} gained beyond 2 se"
            mean = delta_se(
                statistics.fmean(d for d, _ in changes), combined_se([se for _, se in changes]),
                lower_is_better(b.metric), is_fraction(b.metric),
            )  # fmt: skip
            parts.append(f"{TIER_NAMES[tier]} {verdict} (mean Δ {mean.text})")
        if parts:
            out.append(f"{res.header(b)}, {res.final} vs {res.base}: " + "; ".join(parts) + ".")
    return out

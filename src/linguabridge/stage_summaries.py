"""The lines the console prints when a stage ends, from the summary dict it returned (``_COMPLETE.json``).

Each ``describe_<stage>(summary, seconds)`` returns a few short lines: what came in and went out and why,
the figures a user checks first (tokens per source, held-out bpb before -> after per tier, eval deltas per
tier) and where the outputs are. Summaries written by an older version may lack a field: it is left out.
"""

from __future__ import annotations

from collections.abc import Callable

TOP = 5  # reasons / sources shown on one line


def _n(v: float) -> str:
    """Counts the way people read them: 950, 12.3k, 4.1M, 2.0B."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= size:
            return f"{v / size:.1f}{unit}"
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.3g}"


def _top(counts: dict[str, float], k: int = TOP) -> str:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{name} {_n(v)}" for name, v in items[:k])
    return shown + (f", +{len(items) - k} more" if len(items) > k else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _tier_name(tier: str) -> str:
    return {"high": "high-resource", "low": "low-resource"}.get(tier, tier)


def describe_data(s: dict, seconds: float) -> list[str]:
    web = s.get("web", {})
    lines = [
        f"web: {web.get('kept', 0)} of {web.get('input', 0)} documents kept, {web.get('rejected', 0)} rejected"
        + (f" ({web.get('input', 0) / seconds:.0f} docs/s)" if seconds > 0 else "")
    ]
    if s.get("web_rejected_by_reason"):
        lines.append(f"top rejections: {_top(s['web_rejected_by_reason'])}")
    par = s.get("parallel")
    if par:
        rejected = par.get("rejected", {})
        lines.append(
            f"parallel: {par['pairs_kept']} pairs kept in {par['directions']} directions, "
            f"{sum(rejected.values())} rejected" + (f" ({_top(rejected)})" if rejected else "")
        )
    return lines + ["outputs: data/web/kept, data/parallel/rendered; per-step counts in data/web/stats.json"]


def describe_mixture(s: dict, seconds: float) -> list[str]:
    lines = []
    for stage, sources in s.get("planned_tokens", {}).items():
        lines.append(
            f"{stage}: {_n(sum(sources.values()))} tokens from {len(sources)} sources: {_top(sources)}"
        )
    lines += [f"note: {note}" for note in s.get("notes", [])]
    return lines + ["outputs: mixture/plan.json, mixture/inventory.tsv"]


def describe_tokens(s: dict, seconds: float) -> list[str]:
    lines = [
        f"{_n(s.get('total_tokens', 0))} tokens in {s.get('documents', 0)} documents, "
        + _plural(s.get("shards", 0), "shard")
        + (f" ({s['reused_shards']} reused)" if s.get("reused_shards") else "")
        + (f" ({s['total_tokens'] / seconds:.0f} tokens/s)" if seconds > 0 and s.get("total_tokens") else "")
    ]
    if s.get("tokens_by_source"):
        lines.append(f"per source: {_top(s['tokens_by_source'], 8)}")
    return lines + ["outputs: tokens/ (shards and index), tokens/inventory.tsv"]


def _bpb_lines(s: dict) -> list[str]:
    return [
        f"held-out bpb {_tier_name(tier)}: {v['before']:.3f} -> {v['after']:.3f}"
        for tier, v in s.get("heldout_bpb_by_tier", {}).items()
    ]


def describe_cpt(stage: str) -> Callable[[dict, float], list[str]]:
    def describe(s: dict, seconds: float) -> list[str]:
        resumed = f", resumed from {s['resumed_from']}" if s.get("resumed_from") else ""
        lines = [f"{s.get('steps', 0)} steps, {_n(s.get('tokens', 0))} tokens{resumed}"]
        if s.get("forgetting_events"):
            lines.append(f"forgetting guard: {s['forgetting_events']} events (see {stage}/metrics.jsonl)")
        return (
            lines + _bpb_lines(s) + [f"outputs: {stage}/model, {stage}/metrics.jsonl, {stage}/summary.json"]
        )

    return describe


def describe_sft(s: dict, seconds: float) -> list[str]:
    loss = f", train loss {s['train_loss']:.3f}" if s.get("train_loss") is not None else ""
    dropped = s.get("dropped_no_answer_within_seq_len")
    lines = [f"{s.get('steps', 0)} steps on {s.get('examples', 0)} conversations{loss}"]
    if dropped:
        lines.append(f"{dropped} conversations dropped: their answer lies beyond seq_len")
    return lines + ["outputs: sft/model, sft/metrics.jsonl, sft/summary.json"]


def describe_dpo(s: dict, seconds: float) -> list[str]:
    lines = [f"{s.get('steps', 0)} steps on {s.get('pairs', 0)} preference pairs ({s.get('reference', '?')})"]
    before, after = s.get("before") or {}, s.get("after") or {}
    for key, label in (
        ("loss", "loss"),
        ("rewards/margins", "reward margin"),
        ("rewards/accuracies", "accuracy"),
    ):
        if before.get(key) is not None and after.get(key) is not None:
            lines.append(
                f"{label}: {before[key]:.3f} -> {after[key]:.3f} on {s.get('margin_pairs', '?')} pairs"
            )
    return lines + ["outputs: dpo/model, dpo/metrics.jsonl, dpo/summary.json"]


def describe_eval(s: dict, seconds: float) -> list[str]:
    checkpoints = s.get("checkpoints", [])
    lines = [f"{s.get('rows', 0)} result rows for {len(checkpoints)} checkpoints: {', '.join(checkpoints)}"]
    deltas = s.get("deltas_by_tier", {})
    if deltas and len(checkpoints) > 1:
        lines.append(f"{checkpoints[-1]} vs {checkpoints[0]} (mean over languages):")
        for tier, by_metric in deltas.items():
            shown = ", ".join(f"{k} {v:+.3g}" for k, v in sorted(by_metric.items()))
            lines.append(f"  {_tier_name(tier)}: {shown}")
    return lines + ["outputs: eval/results.json, eval/tables.md"]


def describe_report(s: dict, seconds: float) -> list[str]:
    files = s.get("files", [])
    return [
        f"{len(files)} files: {', '.join(files[:3])}"
        + (f", +{len(files) - 3} more" if len(files) > 3 else "")
    ]

"""Per-language tables grouped by Marco tier, and deltas against a baseline model's results.

Continual pretraining should lift the low-resource languages without costing the high-resource ones
(catastrophic forgetting). A delta is only computed between rows with the same protocol (task, language,
direction, metric, split, shots, prompt style); rows whose protocol differs are listed, not compared, and
rows scored on a different number of items are flagged. ``match_protocol`` makes a new evaluation use
the baseline's protocol, so that comparing against a run's own results compares every row.
Deltas carry ± one standard error of the difference, sqrt(se_new^2 + se_base^2) from the rows' ``stderr``.
"""

from __future__ import annotations

import math
from collections import defaultdict

from linguabridge.config import EvalConfig, EvalTaskConfig
from linguabridge.errors import LinguabridgeError
from linguabridge.eval.translation import direction_matrices, matrix_markdown
from linguabridge.languages import get_language

FRACTION_METRICS = {"acc", "acc_norm", "acc_bytes", "exact_match", "f1"}  # shown as percentages
LOWER_IS_BETTER = {"loss", "bpb"}
TIERS = (("high", "high-resource"), ("low", "low-resource"), (None, "other languages"))
PROTOCOL_KEYS = ("split", "shots", "prompt_style")
SIGNIFICANT_SE = 2.0  # a delta beyond this many standard errors is marked


def _label(doc: dict) -> str:
    return doc.get("checkpoint") or doc["model"]


def _key(row: dict) -> tuple:
    return (row.get("checkpoint"), row["task"], row["language"], row.get("direction"), row["metric"])


def _shown(value: float, metric: str) -> str:
    return f"{100 * value:.1f}" if metric in FRACTION_METRICS else f"{value:.2f}"


def deltas(results: dict, baseline: dict) -> list[dict]:
    """One entry per row of ``results`` that ``baseline`` also has (checkpoint label ignored)."""
    base = {_key(r)[1:]: r for r in baseline["rows"]}
    out = []
    for r in results["rows"]:
        b = base.get(_key(r)[1:])
        if b is None:
            continue
        entry = {k: r.get(k) for k in ("task", "language", "direction", "metric", "split", "shots")}
        entry["tier"] = _tier(r["language"])
        mismatch = [k for k in PROTOCOL_KEYS if r.get(k) != b.get(k)]
        if mismatch:
            entry["protocol_differs"] = {k: [b.get(k), r.get(k)] for k in mismatch}
        else:
            entry |= {"value": r["value"], "baseline": b["value"], "delta": r["value"] - b["value"]}
        if r.get("n") != b.get("n"):
            entry["n_differs"] = [b.get("n"), r.get("n")]
        out.append(entry)
    return out


def match_protocol(cfg: EvalConfig, baseline: dict, explicit: set[str] = frozenset()) -> list[str]:
    """Give every task of ``cfg`` named alone the protocol its ``baseline`` rows were scored with.

    A task named alone runs lm-eval's default protocol and the global ``prompt_style``, which need not be
    what the baseline run used (the demo scores with ``script-aware``), and then no row compares. Fields in
    ``explicit`` (``prompt_style``, ``limit``) were set by the user and are kept. Returns one note per change.
    """
    protocols: dict[str, set[tuple]] = defaultdict(set)
    limits: dict[str, set] = defaultdict(set)
    for r in baseline["rows"]:
        protocols[r["task"]].add((r.get("split"), r.get("shots"), r.get("prompt_style")))
        limits[r["task"]].add(r.get("limit"))
    notes, tasks, matched = [], [], set()
    for entry in cfg.tasks:
        found = protocols.get(entry, set()) if isinstance(entry, str) else set()
        if len(found) != 1:  # not in the baseline, several protocols, or a suite entry with its own protocol
            tasks.append(entry)
            continue
        split, shots, style = next(iter(found))
        if "prompt_style" in explicit:
            style = None
        tasks.append(EvalTaskConfig(task=entry, split=split, shots=shots, prompt_style=style))
        matched |= limits[entry]
        notes.append(
            f"{entry}: the baseline's protocol ({split} split, {shots}-shot, {style or cfg.prompt_style})"
        )
    cfg.tasks = tasks
    if "limit" not in explicit and len(matched) == 1 and (limit := next(iter(matched))) is not None:
        cfg.limit = limit
        notes.append(f"limit: {limit} items per task and language, as the baseline")
    return notes


def _tier(code: str) -> str | None:
    try:
        return get_language(code).tier
    except LinguabridgeError:
        return None


def _comparable(rows: list[dict], base_rows: list[dict]) -> list[dict]:
    """The baseline rows scored under the same protocol as their counterpart in ``rows``."""
    ours = {_key(r)[1:]: r for r in rows}
    return [
        b
        for b in base_rows
        if (r := ours.get(_key(b)[1:])) is not None and all(r.get(k) == b.get(k) for k in PROTOCOL_KEYS)
    ]


def _cells(rows: list[dict]) -> dict[tuple[str, str], dict[str, list[dict]]]:
    cells: dict[tuple[str, str], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        cells[(r["task"], r["metric"])][r["language"]].append(r)
    return cells


def language_table(results: dict, baseline: dict | None = None) -> str:
    """Markdown: languages down (grouped high / low / other), task:metric across, tier means at the bottom.

    Translation rows are folded into their target language (mean over directions into it).
    """
    cells = _cells(results["rows"])
    base_cells = _cells(_comparable(results["rows"], (baseline or {}).get("rows", [])))
    columns = sorted(cells)
    if not columns:
        return "(no results)\n"
    header = "| tier | language | " + " | ".join(f"{t} {m}" for t, m in columns) + " |"
    lines = [header, "|---" * (len(columns) + 2) + "|"]
    languages = sorted({lang for col in cells.values() for lang in col})
    for tier, tier_name in TIERS:
        members = [lang for lang in languages if _tier(lang) == tier]
        if not members:
            continue
        for lang in members:
            lines.append(
                f"| {tier_name} | {lang} | "
                + " | ".join(_cell(cells, base_cells, c, [lang]) for c in columns)
                + " |"
            )
        lines.append(
            f"| **{tier_name} mean** | ({len(members)}) | "
            + " | ".join(_cell(cells, base_cells, c, members) for c in columns)
            + " |"
        )
    return "\n".join(lines) + "\n"


def _mean_and_se(rows: list[dict]) -> tuple[float, float | None]:
    """Mean of the rows' values and its standard error (None unless every row has one)."""
    mean = sum(r["value"] for r in rows) / len(rows)
    ses = [r.get("stderr") for r in rows]
    if not all(isinstance(se, (int, float)) for se in ses):
        return mean, None
    return mean, math.sqrt(sum(se * se for se in ses)) / len(rows)


def _cell(cells, base_cells, column, langs: list[str]) -> str:
    task, metric = column
    rows = [r for lang in langs for r in cells[column].get(lang, [])]
    if not rows:
        return "·"
    mean, se = _mean_and_se(rows)
    text = _shown(mean, metric)
    base = [r for lang in langs for r in base_cells.get(column, {}).get(lang, [])]
    if base and len(base) == len(rows):
        base_mean, base_se = _mean_and_se(base)
        diff = mean - base_mean
        scale = 100 if metric in FRACTION_METRICS else 1
        if se is None or base_se is None:
            text += f" ({diff * scale:+.1f})"
        else:
            diff_se = math.hypot(se, base_se)
            mark = " *" if abs(diff) > SIGNIFICANT_SE * diff_se else ""
            text += f" ({diff * scale:+.1f} ± {diff_se * scale:.1f}{mark})"
    return text


def render_tables(results: dict, baseline: dict | None = None) -> str:
    """Everything a reader wants beside results.json: the tier table (with deltas) and direction matrices."""
    parts = [f"# Evaluation of {results['model']}", ""]
    if baseline is not None:
        parts += [
            f"Deltas in parentheses are against {_label(baseline)} (same task x language x metric), "
            f"± one standard error of the difference where the rows have one; * marks a delta beyond "
            f"{SIGNIFICANT_SE:g} standard errors. Accuracy-like metrics are percentages, deltas in points.",
            "",
        ]
    for checkpoint in dict.fromkeys(r.get("checkpoint") for r in results["rows"]):
        subset = {
            "model": results["model"],
            "rows": [r for r in results["rows"] if r.get("checkpoint") == checkpoint],
        }
        against = None if baseline is not None and checkpoint == _label(baseline) else baseline
        parts += [f"## Per language, grouped by tier ({checkpoint})", "", language_table(subset, against)]
        for (task, metric), matrix in direction_matrices(subset["rows"]).items():
            parts += [
                f"### {task} {metric} by direction ({checkpoint})",
                "",
                matrix_markdown(matrix, f"{task} {metric}"),
                "",
            ]
    if baseline is not None:
        found = deltas(results, baseline)
        differ = [d for d in found if "protocol_differs" in d]
        if differ:
            parts += [
                "## Not compared (protocol differs from the baseline)",
                "",
                "Evaluate with `linguabridge eval ... --baseline BASELINE/results.json`: tasks named alone "
                "then take the baseline's protocol.",
                "",
            ]
            parts += [f"- {_where(d)}: {d['protocol_differs']}" for d in differ]
        n_differ = [d for d in found if "n_differs" in d]
        if n_differ:
            parts += ["", "## Scored on a different number of items (n: baseline, this model)", ""]
            parts += [f"- {_where(d)}: n {d['n_differs'][0]} vs {d['n_differs'][1]}" for d in n_differ]
    return "\n".join(parts) + "\n"


def _where(d: dict) -> str:
    return " ".join(str(x) for x in (d["task"], d.get("direction") or d["language"], d["metric"]))


def checkpoint_tables(results: dict, baseline_label: str = "base") -> str:
    """Tables of a whole run (every checkpoint), each with deltas against the ``baseline_label`` checkpoint."""
    base_rows = [r for r in results["rows"] if r.get("checkpoint") == baseline_label]
    baseline = (
        {"model": baseline_label, "checkpoint": baseline_label, "rows": base_rows} if base_rows else None
    )
    return render_tables(results, baseline)

"""Per-language tables grouped by Marco tier, and deltas against a baseline model's results.

Continual pretraining should lift the low-resource languages without costing the high-resource ones
(catastrophic forgetting). A delta is only computed between rows with the same protocol (task, language,
direction, metric, split, shots, prompt style); rows whose protocol differs are listed, not compared.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from linguabridge.errors import LinguabridgeError
from linguabridge.eval.translation import direction_matrices, matrix_markdown
from linguabridge.languages import get_language

FRACTION_METRICS = {"acc", "acc_norm", "acc_bytes", "exact_match", "f1"}  # shown as percentages
LOWER_IS_BETTER = {"loss", "bpb"}
TIERS = (("high", "high-resource"), ("low", "low-resource"), (None, "other languages"))
PROTOCOL_KEYS = ("split", "shots", "prompt_style")


def load_results(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LinguabridgeError(
            f"cannot read results {path}: {exc}", "give a results.json written by `linguabridge eval`"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise LinguabridgeError(
            f"{path}: not a results.json (no 'results' list)",
            "give a results.json written by `linguabridge eval`",
        )
    return data


def _key(row: dict) -> tuple:
    return (row.get("checkpoint"), row["task"], row["language"], row.get("direction"), row["metric"])


def _shown(value: float, metric: str) -> str:
    return f"{100 * value:.1f}" if metric in FRACTION_METRICS else f"{value:.2f}"


def deltas(results: dict, baseline: dict) -> list[dict]:
    """One entry per row of ``results`` that ``baseline`` also has (checkpoint label ignored)."""
    base = {_key(r)[1:]: r for r in baseline["results"]}
    out = []
    for r in results["results"]:
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
        out.append(entry)
    return out


def _tier(code: str) -> str | None:
    try:
        return get_language(code).tier
    except LinguabridgeError:
        return None


def language_table(results: dict, baseline: dict | None = None) -> str:
    """Markdown: languages down (grouped high / low / other), task:metric across, tier means at the bottom.

    Translation rows are folded into their target language (mean over directions into it).
    """
    cells: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in results["results"]:
        cells[(r["task"], r["metric"])][r["language"]].append(r["value"])
    base_cells: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in (baseline or {}).get("results", []):
        base_cells[(r["task"], r["metric"])][r["language"]].append(r["value"])
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


def _cell(cells, base_cells, column, langs: list[str]) -> str:
    task, metric = column
    values = [v for lang in langs for v in cells[column].get(lang, [])]
    if not values:
        return "·"
    mean = sum(values) / len(values)
    text = _shown(mean, metric)
    base = [v for lang in langs for v in base_cells.get(column, {}).get(lang, [])]
    if base and len(base) == len(values):
        diff = mean - sum(base) / len(base)
        scale = 100 if metric in FRACTION_METRICS else 1
        text += f" ({diff * scale:+.1f})"
    return text


def render_tables(results: dict, baseline: dict | None = None) -> str:
    """Everything a reader wants beside results.json: the tier table (with deltas) and direction matrices."""
    parts = [f"# Evaluation of {results['model']}", ""]
    if baseline is not None:
        parts += [
            f"Deltas in parentheses are against {baseline['model']} (same task x language x metric).",
            "",
        ]
    for checkpoint in dict.fromkeys(r.get("checkpoint") for r in results["results"]):
        subset = {
            "model": results["model"],
            "results": [r for r in results["results"] if r.get("checkpoint") == checkpoint],
        }
        against = None if baseline is not None and checkpoint == baseline["model"] else baseline
        parts += [f"## Per language, grouped by tier ({checkpoint})", "", language_table(subset, against)]
        for (task, metric), matrix in direction_matrices(subset["results"]).items():
            parts += [
                f"### {task} {metric} by direction ({checkpoint})",
                "",
                matrix_markdown(matrix, f"{task} {metric}"),
                "",
            ]
    if baseline is not None:
        differ = [d for d in deltas(results, baseline) if "protocol_differs" in d]
        if differ:
            parts += ["## Not compared (protocol differs from the baseline)", ""]
            parts += [f"- {d['task']} {d['language']} {d['metric']}: {d['protocol_differs']}" for d in differ]
    return "\n".join(parts) + "\n"


def checkpoint_tables(results: dict, baseline_label: str = "base") -> str:
    """Tables of a whole run (every checkpoint), each with deltas against the ``baseline_label`` checkpoint."""
    base_rows = [r for r in results["results"] if r.get("checkpoint") == baseline_label]
    baseline = {"model": baseline_label, "results": base_rows} if base_rows else None
    return render_tables(results, baseline)

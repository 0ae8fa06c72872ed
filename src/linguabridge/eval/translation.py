"""Translation results as direction matrices: source languages down, target languages across.

Generation and scoring happen in lm-eval (``eval/tasks/flores.py``); this turns the per-direction rows of
``results.json`` into the any-to-any view the Marco paper reports, with row/column averages.
"""

from __future__ import annotations

from collections import defaultdict


def direction_matrices(rows: list[dict]) -> dict[tuple[str, str], dict[str, dict[str, float]]]:
    """``{(task, metric): {source: {target: value}}}`` for every translation row."""
    out: dict[tuple[str, str], dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        if "direction" in r:
            out[(r["task"], r["metric"])][r["source_language"]][r["language"]] = r["value"]
    return {k: {s: dict(t) for s, t in v.items()} for k, v in out.items()}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def matrix_markdown(matrix: dict[str, dict[str, float]], title: str) -> str:
    sources = sorted(matrix)
    targets = sorted({t for row in matrix.values() for t in row})
    head = f"| {title} (source \\ target) | " + " | ".join(targets) + " | mean |"
    lines = [head, "|---" * (len(targets) + 2) + "|"]
    for s in sources:
        cells = [f"{matrix[s][t]:.1f}" if t in matrix[s] else "·" for t in targets]
        mean = _mean(list(matrix[s].values()))
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {mean:.1f} |")
    col_means = [_mean([matrix[s][t] for s in sources if t in matrix[s]]) for t in targets]
    overall = _mean([v for row in matrix.values() for v in row.values()])
    lines.append(
        "| mean | "
        + " | ".join(f"{m:.1f}" if m is not None else "·" for m in col_means)
        + f" | {overall:.1f} |"
    )
    return "\n".join(lines)

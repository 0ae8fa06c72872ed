"""Collect every stage's outputs under a run directory into ``report/index.html`` (+ ``summary.md``).

Plots are matplotlib PNGs embedded as data URIs, so the page needs no network and no sibling files.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

TRAIN_STAGES = ["cpt_stage1", "cpt_stage2", "sft", "dpo"]


def _read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def training_plot(run_dir: Path) -> str | None:
    """Loss and learning rate of every training stage on one token/step axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.5))
    offset, drawn = 0, False
    for stage in TRAIN_STAGES:
        rows = [r for r in _read_jsonl(run_dir / stage / "metrics.jsonl") if "loss" in r and "step" in r]
        if not rows:
            continue
        xs = [offset + r["step"] for r in rows]
        ax1.plot(xs, [r["loss"] for r in rows], label=stage)
        ax2.plot(xs, [r.get("learning_rate", float("nan")) for r in rows], label=stage)
        offset = xs[-1]
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax1.set(title="training loss", xlabel="optimizer step (all stages)", ylabel="loss")
    ax2.set(title="learning rate", xlabel="optimizer step (all stages)")
    ax1.legend()
    return _png(fig)


def build_report(run_dir: str | Path, formats: list[str] = ("html", "md")) -> list[Path]:
    run_dir = Path(run_dir)
    out = run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    sections: list[tuple[str, str]] = []
    md: list[str] = [f"# linguabridge run report: {run_dir.name}", ""]

    stats = _read_json(run_dir / "data" / "web" / "stats.json")
    if stats:
        rows = []
        for lang, c in stats["languages"].items():
            rejected = {k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("rejected:")}
            rows.append(
                [
                    lang,
                    c.get("kept", 0),
                    sum(rejected.values()),
                    ", ".join(f"{k}={v}" for k, v in sorted(rejected.items())),
                ]
            )
        sections.append(("Data: curation funnel", _table(["language", "kept", "rejected", "reasons"], rows)))
        md += ["## Data", "", f"Totals: {stats['totals']}", ""]

    plan = _read_json(run_dir / "mixture" / "plan.json")
    if plan:
        rows = [
            [s["name"], s["available"], s["used"], f"{100 * s['utilisation']:.1f}%"] for s in plan["sources"]
        ]
        sections.append(
            (
                "Mixture: planned vs available tokens",
                _table(["source", "available", "used", "utilisation"], rows),
            )
        )
        md += ["## Mixture", "", "| source | available | used | utilisation |", "|---|---|---|---|"]
        md += [f"| {r[0]} | {r[1]:.0f} | {r[2]:.0f} | {r[3]} |" for r in rows] + [""]

    img = training_plot(run_dir)
    if img:
        sections.append(("Training", f'<img alt="training curves" src="{img}">'))

    results = _read_json(run_dir / "eval" / "results.json")
    if results:
        rows = [
            [
                r["checkpoint"],
                r["task"],
                r.get("direction", r["language"]),
                r["metric"],
                r["value"],
                r["split"],
                r["shots"],
                r["n"],
                r.get("harness"),
            ]
            for r in results["results"]
        ]
        sections.append(
            (
                "Evaluation",
                _table(
                    ["checkpoint", "task", "language", "metric", "value", "split", "shots", "n", "harness"],
                    rows,
                ),
            )
        )
        md += ["## Evaluation", "", f"{len(rows)} result rows in eval/results.json", ""]

    body = "\n".join(f"<section><h2>{html.escape(t)}</h2>{c}</section>" for t, c in sections)
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>linguabridge report</title>'
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:3px 6px}img{max-width:100%}</style></head>"
        f"<body><h1>linguabridge run report: {html.escape(run_dir.name)}</h1>{body}</body></html>\n"
    )
    written = []
    if "html" in formats:
        (out / "index.html").write_text(page, encoding="utf-8")
        written.append(out / "index.html")
    if "md" in formats:
        (out / "summary.md").write_text("\n".join(md), encoding="utf-8")
        written.append(out / "summary.md")
    return written

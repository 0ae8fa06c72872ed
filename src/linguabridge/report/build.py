"""Collect every stage's outputs under a run directory into ``report/index.html`` and ``report/summary.md``.

The page is self-contained: plots are PNGs embedded as data URIs, the CSS and the table-sorting script are
inline, and nothing is fetched from the network. Every input is read defensively (``report/inputs.py``):
a stage that has not run, or an older file without a newer field, turns into a "not available in this run"
note, never an exception.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

from linguabridge.errors import ConfigError, LinguabridgeError
from linguabridge.report import html, markdown, plots
from linguabridge.report.blocks import Missing, Part, Section
from linguabridge.report.inputs import RunData
from linguabridge.report.sections import data, evaluation, facts, mixture, overview, training

FORMATS = {"html": "index.html", "md": "summary.md"}
SECTIONS: list[tuple[str, str, Callable[[RunData], Section]]] = [
    ("data", "Data", data.build),
    ("mixture", "Mixture", mixture.build),
    ("training", "Training", training.build),
    ("evaluation", "Evaluation", evaluation.build),
    ("facts", "Run facts", facts.build),
]


def _guarded(run: RunData, sid: str, title: str, builder) -> Section:
    """A section, or a note naming the error: one unexpected input must not cost the whole report."""
    try:
        return builder(run)
    except Exception as exc:  # shown on the page and listed under input problems, not swallowed
        where = traceback.extract_tb(exc.__traceback__)[-1]
        msg = f"{exc.__class__.__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})"
        run.problems.append(f"section {title!r} could not be built: {msg}")
        return Section(
            sid, title, [Part(title, [Missing(f"this section could not be built ({msg})", "a report bug")])]
        )


def build_sections(run: RunData) -> list[Section]:
    sections = [_guarded(run, sid, title, fn) for sid, title, fn in SECTIONS]
    try:
        intro = overview.build(run)
    except Exception as exc:  # the overview only repeats numbers shown below; keep the page
        intro = [Missing(f"the overview ({exc.__class__.__name__}: {exc})", "a report bug")]
        run.problems.append(f"the overview could not be built: {exc.__class__.__name__}: {exc}")
    if not plots.available():
        intro.append(Missing("plots", "matplotlib is not installed (pip install 'linguabridge[report]')"))
    problems = facts.problems_part(run)
    if problems:
        sections[-1].parts.append(problems)
    return [Section("overview", "Overview", intro=intro), *sections]


def _write(path: Path, text: str) -> None:
    """Write to a temporary name and rename, so a kill never leaves a truncated report."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def build_report(run_dir: str | Path, formats: Iterable[str] = ("html", "md")) -> list[Path]:
    """Write the report of ``run_dir`` in ``formats`` (``html`` and/or ``md``) under ``run_dir/report/``."""
    run_dir = Path(run_dir)
    formats = [f.strip() for f in formats if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ConfigError(
            f"unknown report format {', '.join(map(repr, unknown)) or '(none)'}",
            f"use one or more of: {', '.join(FORMATS)} (e.g. --format html,md)",
        )
    if not run_dir.is_dir():
        raise LinguabridgeError(
            f"run directory not found: {run_dir}", "pass the --out directory of a run or demo"
        )
    run = RunData(run_dir)
    sections = build_sections(run)
    name = str(run.recipe.get("name") or run_dir.name)
    title = f"linguabridge run report: {name}"
    subtitle = f"Run directory {run_dir.resolve()}"
    out = run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in dict.fromkeys(formats):
        path = out / FORMATS[fmt]
        _write(
            path,
            html.page(title, subtitle, sections)
            if fmt == "html"
            else markdown.document(title, subtitle, sections),
        )
        written.append(path)
    return written

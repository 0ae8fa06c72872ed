"""``linguabridge report``: the run report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from linguabridge.cli.common import out
from linguabridge.errors import LinguabridgeError


def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by `run` or `demo`.")],
    fmt: Annotated[str, typer.Option("--format", help="html, md or html,md.")] = "html,md",
) -> None:
    """Write RUN_DIR/report/index.html (self-contained) and/or summary.md from a run's outputs."""
    from linguabridge.report.build import build_report

    if not run_dir.is_dir():
        raise LinguabridgeError(f"run directory not found: {run_dir}", "pass the --out directory of a run")
    for p in build_report(run_dir, formats=fmt.split(",")):
        out.print(str(p))

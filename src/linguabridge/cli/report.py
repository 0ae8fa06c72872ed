"""``linguabridge report``: the run report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from linguabridge.cli.common import out


def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by `run` or `demo`.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="html (RUN_DIR/report/index.html, one self-contained page), md (RUN_DIR/report/summary.md, "
            "to paste into an issue or model card), or both: html,md.",
        ),
    ] = "html,md",
) -> None:
    """Write the run report: data funnel, mixture plan, training curves, per-language evaluation, run facts.

    Reads whatever the run's stages wrote; a stage that has not run shows as "not available in this run".
    The HTML page embeds its plots and needs no network to view.

    Example: linguabridge report runs/demo --format html
    """
    from linguabridge import api

    for p in api.build_report(run_dir, formats=fmt):
        out.print(str(p))

"""``linguabridge data ...``: curation of web text and parallel text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from linguabridge.cli.common import SetOpt, out

app = typer.Typer(help="Data stage: curate web text and parallel text.", no_args_is_help=True)


@app.command("clean")
def clean(
    inputs: Annotated[list[Path], typer.Argument(help="JSONL(.gz/.zst) files or folders of them.")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Writes kept/, rejected/, quarantine.jsonl, stats.json.")
    ],
    languages: Annotated[
        str, typer.Option("--languages", help="Target languages (codes, 'marco', 'tier:low').")
    ] = "marco",
    config: Annotated[Path | None, typer.Option(help="Recipe whose `data` section sets the rules.")] = None,
    set_: SetOpt = None,
) -> None:
    """Curate raw web text: normalise, URL filter, language ID, quality rules, dedup; nothing dropped silently."""
    from linguabridge.config import RunConfig, _codes, load_recipe
    from linguabridge.data.clean import clean as run_clean

    cfg = load_recipe(config, set_) if config else RunConfig()
    stats = run_clean(list(inputs), out_dir, cfg.data, _codes(languages.split(",")))
    out.print_json(json.dumps(stats["totals"]))

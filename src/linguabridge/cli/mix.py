"""``linguabridge mix ...``: count tokens per source and plan the mixture."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from linguabridge.cli.common import out, set_option

app = typer.Typer(
    help="Mixture stage: count tokens per source, plan tokens per source and stage.", no_args_is_help=True
)


def _tokens(n: float) -> str:
    return f"{n / 1e9:,.2f}B" if n >= 1e8 else f"{n:,.0f}"


@app.command("plan")
def plan(
    recipe: Annotated[
        str, typer.Argument(help="Recipe with a `mixture` section (e.g. recipes/marco/mixture.yaml).")
    ],
    as_json: Annotated[
        bool,
        typer.Option("--json", help='Print {"stages": [...], "sources": [...]} (token counts as integers).'),
    ] = False,
    inventory: Annotated[
        Path | None,
        typer.Option(
            help="Plan on measured tokens: an inventory.json from `mix inventory` or a run's mixture/."
        ),
    ] = None,
    set_: set_option("mixture.stages.0.tokens=1e9") = None,
) -> None:
    """Plan tokens per source per stage (shares, epochs, utilisation); refuses infeasible plans with the fix.

    What the recipe's `mixture` section sets:
    - strategy: explicit (a stage's shares sum to 1), temperature (fixed shares; the rest spread by available^(1/temperature): 1 = proportional, large = uniform) or unimax (the rest as uniform as max_epochs allows)
    - per stage: tokens, shares, sources, max_epochs, and its own strategy / temperature
    - source_max_epochs: passes over a source across all stages
    - redistribute_shortfall: true gives a capped source's shortfall to the others (listed); false refuses the plan with the fix

    Example: linguabridge mix plan recipes/marco/mixture.yaml --set mixture.stages.1.temperature=5
    """
    from linguabridge import api

    result = api.plan_mixture(recipe, inventory=inventory, overrides=set_)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return
    for st in result.stages:
        t = Table("source", "tokens", "share", "epochs", title=f"{st.name}: {_tokens(st.tokens)} tokens")
        for s in st.sources:
            t.add_row(s.name, _tokens(s.tokens), f"{100 * s.share:.2f}%", f"{s.epochs:.3f}")
        out.print(t)
    t = Table("source", "available", "used", "utilisation", title="sources (all stages)")
    for s in result.sources:
        t.add_row(s["name"], _tokens(s["available"]), _tokens(s["used"]), f"{100 * s['utilisation']:.1f}%")
    out.print(t)
    if result.redistributed:
        t = Table("stage", "source", "wanted", "planned", title="redistributed shortfall")
        for r in result.redistributed:
            t.add_row(r["stage"], r["source"], _tokens(r["wanted"]), _tokens(r["planned"]))
        out.print(t)


@app.command("inventory")
def inventory_cmd(
    inputs: Annotated[list[Path], typer.Argument(help="Curated JSONL(.gz/.zst) files or folders of them.")],
    tokenizer: Annotated[
        str, typer.Option(help="`qwen2` (built offline) or an HF tokenizer path.")
    ] = "qwen2",
    estimate: Annotated[
        float | None,
        typer.Option(
            help="Tokenize only this fraction of documents, in (0, 1], and scale by bytes (e.g. 0.01)."
        ),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Tokenizer processes.")] = 1,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write inventory.json and inventory.tsv here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the inventory as JSON.")] = False,
) -> None:
    """Count tokens per (source, language) with the target tokenizer: exact, or estimated from a sample.

    Example: linguabridge mix inventory runs/demo/data/web/kept --estimate 0.1 --out inventory/
    """
    from linguabridge import api

    inv = api.count_tokens(inputs, tokenizer=tokenizer, estimate=estimate, workers=workers, out=out_dir)
    if as_json:
        print(json.dumps(inv.to_json(), ensure_ascii=False))
        return
    t = Table("source", "language", "documents", "tokens", "bytes", title=f"inventory ({inv.mode})")
    for r in inv.rows:
        t.add_row(r["source"], r["language"], f"{r['documents']:,}", f"{r['tokens']:,}", f"{r['bytes']:,}")
    out.print(t)

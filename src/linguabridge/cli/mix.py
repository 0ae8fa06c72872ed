"""``linguabridge mix ...``: the mixture plan."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from linguabridge.cli.common import SetOpt, load_cli_recipe, out
from linguabridge.errors import LinguabridgeError

app = typer.Typer(help="Mixture stage: plan tokens per source and stage.", no_args_is_help=True)


@app.command("plan")
def plan(
    recipe: Annotated[
        str, typer.Argument(help="Recipe with a `mixture` section (e.g. recipes/marco/mixture.yaml).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    set_: SetOpt = None,
) -> None:
    """Plan tokens per source per stage (epochs, utilisation); refuses infeasible plans with the fix."""
    from linguabridge.mixture.plan import make_plan

    cfg = load_cli_recipe(recipe, set_)
    if cfg.mixture.available is None:
        raise LinguabridgeError(
            "the recipe gives no mixture.available token counts",
            "add them, or plan inside a run (`linguabridge run`)",
        )
    result = make_plan(cfg.mixture, {})
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return
    for st in result.stages:
        t = Table("source", "tokens", "share", "epochs", title=f"{st.name}: {st.tokens:,.0f} tokens")
        for s in st.sources:
            t.add_row(s.name, f"{s.tokens:,.0f}", f"{100 * s.share:.2f}%", f"{s.epochs:.3f}")
        out.print(t)
    t = Table("source", "available", "used", "utilisation", title="sources")
    for s in result.sources:
        t.add_row(s["name"], f"{s['available']:,.0f}", f"{s['used']:,.0f}", f"{100 * s['utilisation']:.1f}%")
    out.print(t)

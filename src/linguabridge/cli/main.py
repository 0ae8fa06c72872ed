"""``linguabridge`` command line: the top-level commands and the registration of each stage family.

Each family lives in its own module (``data``, ``mix``, ``train``, ``evaluate``, ``report``); every
command parses arguments and calls one library function.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from linguabridge.cli import chat, data, evaluate, mix, report, synth, train
from linguabridge.cli.common import SetOpt, load_cli_recipe, out, resolve_recipe_path
from linguabridge.errors import LinguabridgeError, did_you_mean

app = typer.Typer(
    help="Extend an LLM to many more languages: curate data, plan the mixture, continually pretrain "
    "(stage I/II), run SFT and DPO, evaluate and report. Start with `linguabridge demo --out runs/demo`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data.app, name="data")
data.app.command("synth")(synth.synth_cmd)
app.add_typer(mix.app, name="mix")
app.add_typer(train.app, name="train")
app.add_typer(evaluate.app, name="eval")
app.command("report")(report.report_cmd)
app.command("chat")(chat.chat_cmd)


@app.command()
def languages(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
    marco: Annotated[bool, typer.Option("--marco", help="Only the 29 Marco-LLM languages.")] = False,
) -> None:
    """List known languages: canonical code, ISO 639-1 alias, names, script and Marco tier."""
    from linguabridge.languages import all_languages, marco_languages

    langs = marco_languages() if marco else all_languages()
    if as_json:
        print(json.dumps([lang.to_dict() for lang in langs], ensure_ascii=False))
        return
    table = Table("code", "iso639_1", "name", "native name", "script", "tier")
    for lang in langs:
        table.add_row(
            lang.code, lang.iso639_1 or "", lang.name, lang.native_name or "", lang.script, lang.tier or ""
        )
    out.print(table)


@app.command()
def run(
    recipe: Annotated[str, typer.Argument(help="Recipe YAML (or a built-in name: demo, marco).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory; every stage writes DIR/<stage>/.")],
    only: Annotated[
        str | None, typer.Option(help="Comma-separated stages to run (others must be complete).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Rerun stages even if complete.")] = False,
    set_: SetOpt = None,
) -> None:
    """Run the whole pipeline from a recipe; completed stages are skipped, an interrupted run resumes."""
    from linguabridge.config import recipe_files
    from linguabridge.pipeline import run_pipeline
    from linguabridge.stages import STAGE_NAMES, STAGES

    cfg = load_cli_recipe(recipe, set_)
    stages = only.split(",") if only else None
    for s in stages or []:
        if s not in STAGE_NAMES:
            raise LinguabridgeError(
                f"unknown stage {s!r}", did_you_mean(s, STAGE_NAMES) or f"stages: {', '.join(STAGE_NAMES)}"
            )
    run_pipeline(
        cfg, out_dir, STAGES, only=stages, force=force, recipe_files=recipe_files(resolve_recipe_path(recipe))
    )
    out.print(f"report: {out_dir / 'report' / 'index.html'}")


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory.")] = Path("runs/demo"),
    force: Annotated[bool, typer.Option(help="Rerun stages even if complete.")] = False,
    set_: SetOpt = None,
) -> None:
    """Run every stage on the embedded default (tiny Qwen2, real Qwen2 tokenizer, bundled corpus) on CPU."""
    run(recipe="demo", out_dir=out_dir, only=None, force=force, set_=set_)


def main() -> None:
    """Entry point: user errors print one line (problem -- fix) and exit 2, never a traceback."""
    from linguabridge.runtime import tune_malloc

    tune_malloc()
    try:
        app()
    except LinguabridgeError as exc:
        Console(stderr=True).print(
            f"[red]error:[/red] {exc.message}" + (f" -- {exc.hint}" if exc.hint else ""),
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(2)


if __name__ == "__main__":
    main()

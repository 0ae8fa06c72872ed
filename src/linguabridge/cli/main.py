"""``linguabridge`` command line: the top-level commands and the registration of each stage family.

Each family lives in its own module (``data``, ``mix``, ``train``, ``evaluate``, ``report``); every
command parses arguments and calls one library function.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from linguabridge.cli import chat, data, evaluate, mix, report, synth, train
from linguabridge.cli.common import SetOpt, out
from linguabridge.errors import LinguabridgeError

app = typer.Typer(
    help="Extend an LLM to many more languages: curate data, plan the mixture, continually pretrain "
    "(stage I/II), run SFT and DPO, evaluate and report. Start with `linguabridge demo --out runs/demo`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"linguabridge {version('linguabridge')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            help="Show the libraries' full output (bars, log dicts, warnings) on the terminal too.",
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="Print only each stage's summary and errors.")
    ] = False,
) -> None:
    """Extend an LLM to many more languages."""
    from linguabridge import console

    if verbose and quiet:
        raise typer.BadParameter("--verbose and --quiet exclude each other")
    console.set_verbosity(console.VERBOSE if verbose else console.QUIET if quiet else console.NORMAL)


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
    """List known languages: canonical code, ISO 639-1 alias, names, script and Marco tier.

    Example: linguabridge languages --marco --json
    """
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
    """Run the whole pipeline from a recipe; completed stages are skipped, an interrupted run resumes.

    Example: linguabridge run recipes/marco/run.yaml --out runs/marco --set cpt_stage1.optim.lr=2e-5
    """
    from linguabridge import api

    stages = only.split(",") if only else None
    t0 = time.time()
    index = api.run(recipe, out_dir, only=stages, force=force, overrides=set_)
    _closing_panel(out_dir, time.time() - t0)
    if index is None:
        out.print(
            f"done: {', '.join(stages or [])} in {out_dir} (report not rebuilt: add 'report' to --only)"
        )
    else:
        out.print(f"report: {index}")


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory.")] = Path("runs/demo"),
    force: Annotated[bool, typer.Option(help="Rerun stages even if complete.")] = False,
    set_: SetOpt = None,
) -> None:
    """Run every stage on the embedded default (tiny Qwen2, real Qwen2 tokenizer, bundled corpus) on CPU.

    Example: linguabridge demo --out runs/demo
    """
    run(recipe="demo", out_dir=out_dir, only=None, force=force, set_=set_)


def _closing_panel(run_dir: Path, seconds: float) -> None:
    """What ran and for how long, read back from the stages' completion markers."""
    from linguabridge.console import closing_panel
    from linguabridge.pipeline import MARKER
    from linguabridge.stages import STAGE_NAMES

    rows = []
    for name in STAGE_NAMES:
        marker = run_dir / name / MARKER
        if marker.is_file():
            rows.append(f"{name:<11} {json.loads(marker.read_text())['seconds']:>8.1f}s")
    if rows:
        closing_panel(f"run complete in {seconds:.0f}s", [*rows, f"run directory: {run_dir}"])


def main() -> None:
    """Entry point: user errors print one line (problem -- fix) and exit 2, never a traceback."""
    from linguabridge.runtime import tune_malloc

    tune_malloc()
    try:
        app()
    except LinguabridgeError as exc:
        _fail(exc.message, exc.hint)
    except ModuleNotFoundError as exc:  # an optional dependency of this command is missing
        from linguabridge.errors import extra_for

        module = (exc.name or "").split(".")[0]
        extra = extra_for(module)
        if extra is None:
            raise
        _fail(
            f"this command needs {module!r}, which is not installed", f"pip install 'linguabridge[{extra}]'"
        )
    except OSError as exc:
        if exc.filename is None:
            raise
        # a path the user gave cannot be used (an --out that is a file, a read-only folder, a full disk)
        problem = (
            "a file is in the way where a folder is needed"
            if isinstance(exc, (FileExistsError, NotADirectoryError))
            else exc.strerror or type(exc).__name__
        )
        _fail(
            f"cannot use {exc.filename}: {problem}",
            "give a path you can write to (for --out: a folder, new or existing)",
        )


def _fail(message: str, hint: str | None) -> None:
    # escaped: messages quote user text and hints such as "[mixture.yaml]" that rich would eat as markup
    text = f"[red]error:[/red] {escape(message)}" + (f" -- {escape(hint)}" if hint else "")
    Console(stderr=True).print(text, highlight=False, soft_wrap=True)
    sys.exit(2)


if __name__ == "__main__":
    main()

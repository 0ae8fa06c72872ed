"""``linguabridge eval``: evaluate a checkpoint; ``eval fetch`` downloads benchmark data; ``eval compare``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from linguabridge.cli.common import out, set_option
from linguabridge.errors import LinguabridgeError

app = typer.Typer(  # its help is eval_cmd's docstring
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback(invoke_without_command=True)
def eval_cmd(
    ctx: typer.Context,
    model: Annotated[
        str | None, typer.Option("--model", help="Checkpoint directory (HF format) or 'tiny-qwen2'.")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Directory for results.json and tables.md.")
    ] = None,
    suite: Annotated[
        str | None,
        typer.Option(
            "--recipe",
            "--suite",
            help="Recipe (path or built-in name) whose eval section (tasks with their protocol) is used.",
        ),
    ] = None,
    tasks: Annotated[
        str | None,
        typer.Option(help="Comma-separated tasks, each with lm-eval's default protocol (xcopa,belebele)."),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Local benchmark data: DIR/<task>/... or one task's files.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Items per task and language (quick looks).")] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            help="A baseline's results.json: deltas per task x language; tasks named alone take its protocol."
        ),
    ] = None,
    set_: set_option("eval.batch_size=16") = None,
) -> None:
    """Evaluate a model; writes OUT/results.json (one row per task x language x metric, with its protocol).

    A task named alone runs with lm-eval's default protocol for it (XCOPA: test split, zero-shot, lm-eval's
    prompt); a --recipe (recipes/marco/eval_base.yaml) applies the Marco Table 4 protocol. Other
    settings (backend: hf|vllm, batch size, prompt style...) go through --set eval.KEY=VALUE.

    Example: linguabridge eval --model runs/demo/dpo/model --tasks xcopa --data-dir ../shared/data --out eval/
    """
    if ctx.invoked_subcommand is not None:
        return
    if all(v is None for v in (model, out_dir, suite, tasks, data_dir, limit, baseline, set_)):
        typer.echo(ctx.get_help())  # `linguabridge eval` alone: what it does and how to call it
        raise typer.Exit()
    if model is None or out_dir is None:
        raise LinguabridgeError(
            "eval needs --model and --out",
            "e.g. linguabridge eval --model DIR --tasks xcopa --data-dir DATA --out EVAL",
        )
    from linguabridge import api

    notes: list[str] = []
    res = api.evaluate(model, out_dir, tasks=tasks, suite=suite, data_dir=data_dir, limit=limit,
                       baseline=baseline, overrides=set_, notes=notes)  # fmt: skip
    for note in notes:
        out.print(note)
    out.print(
        f"{len(res['rows'])} rows -> {out_dir / 'results.json'} (lm-eval's format: results_lm_eval.json; "
        f"tables: {out_dir / 'tables.md'})"
    )


@app.command("fetch")
def fetch_cmd(
    tasks: Annotated[list[str], typer.Argument(help="Tasks to download (xcopa belebele flores ...).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Data directory (then pass it as --data-dir).")],
    languages: Annotated[
        str | None, typer.Option(help="Comma-separated languages (default: every language the task defines).")
    ] = None,
) -> None:
    """Download official benchmark data from the Hugging Face Hub into the layout `eval --data-dir` reads.

    Example: linguabridge eval fetch xcopa belebele --out data/ --languages tha_Thai,vie_Latn
    """
    from linguabridge.eval.fetch import fetch

    langs = [c.strip() for c in languages.split(",")] if languages else None
    for task in tasks:
        paths = fetch(task, out_dir, langs)
        out.print(f"{task}: {len(paths)} files under {out_dir / task}")


@app.command("compare")
def compare_cmd(
    results: Annotated[Path, typer.Argument(help="results.json of the model under test.")],
    baseline: Annotated[Path, typer.Option(help="results.json of the baseline (e.g. the base model).")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the markdown here instead of printing it.")
    ] = None,
) -> None:
    """Per-language table grouped by tier with deltas against a baseline (forgetting vs gains).

    Rows are compared only under the same protocol (split, shots, prompt style) and flagged when their
    number of items differs; evaluate with --baseline to take the baseline's protocol.

    Example: linguabridge eval compare runs/demo/eval/dpo/results.json --baseline runs/demo/eval/base/results.json
    """
    from linguabridge.eval.compare import render_tables
    from linguabridge.eval.results import load_results

    text = render_tables(load_results(results), load_results(baseline))
    if out_file is None:
        print(text)
    else:
        out_file.write_text(text, encoding="utf-8")
        out.print(f"-> {out_file}")


__all__ = ["app", "eval_cmd"]

"""``linguabridge eval``: evaluate a checkpoint; ``eval fetch`` downloads benchmark data; ``eval compare``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from linguabridge.cli.common import SetOpt, load_cli_recipe, out
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
        str | None, typer.Option(help="Suite recipe: its eval section (tasks with their protocol) is used.")
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
    set_: SetOpt = None,
) -> None:
    """Evaluate a model; writes OUT/results.json (one row per task x language x metric, with its protocol).

    A task named alone runs with lm-eval's default protocol for it (XCOPA: test split, zero-shot, lm-eval's
    prompt); a --suite recipe (recipes/marco/eval_base.yaml) applies the Marco Table 4 protocol. Other
    settings (backend: hf|vllm, batch size, prompt style...) go through --set eval.KEY=VALUE.
    """
    if ctx.invoked_subcommand is not None:
        return
    if model is None or out_dir is None:
        raise LinguabridgeError(
            "eval needs --model and --out",
            "e.g. linguabridge eval --model DIR --tasks xcopa --data-dir DATA --out EVAL",
        )
    from linguabridge.eval.runner import evaluate
    from linguabridge.models import TINY, load_model
    from linguabridge.tokenizer import load_tokenizer

    cfg = load_cli_recipe(suite, set_) if suite else _default_recipe(set_)
    ev = cfg.eval
    if tasks:
        ev.tasks = [t.strip() for t in tasks.split(",") if t.strip()]
    if data_dir is not None:
        ev.data_dir = str(data_dir)
    if limit is not None:
        ev.limit = limit
    if baseline is not None:
        ev.baseline = str(baseline)
    if ev.baseline:
        from linguabridge.eval.compare import match_protocol
        from linguabridge.eval.results import load_results

        given = {o.split("=", 1)[0].strip() for o in set_ or []}
        explicit = {k for k in ("prompt_style", "limit") if f"eval.{k}" in given or suite}
        explicit |= {"limit"} if limit is not None else set()
        for note in match_protocol(ev, load_results(Path(ev.baseline)), explicit):
            out.print(note)
    from linguabridge.eval.suites import resolve_tasks

    resolve_tasks(ev)  # missing data or a bad protocol fails here, before the model loads
    tok = load_tokenizer(cfg.tokenizer.name_or_path if model == TINY else model, cfg.model.trust_remote_code)
    cfg.model.name_or_path = model
    loaded = (
        None
        if ev.backend == "vllm" and model != TINY
        else load_model(cfg.model, vocab_size=len(tok), seed=cfg.seed)
    )
    path = None if model == TINY else model
    res = evaluate(loaded, tok, ev, None, out_dir / "results.json", model, model_path=path, model_name=model)
    out.print(
        f"{len(res['rows'])} rows -> {out_dir / 'results.json'} (lm-eval's format: results_lm_eval.json; "
        f"tables: {out_dir / 'tables.md'})"
    )


def _default_recipe(overrides):
    from linguabridge.recipe import apply_overrides, validate_recipe

    return validate_recipe(apply_overrides({}, overrides or []), overrides=overrides)


@app.command("fetch")
def fetch_cmd(
    tasks: Annotated[list[str], typer.Argument(help="Tasks to download (xcopa belebele flores ...).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Data directory (then pass it as --data-dir).")],
    languages: Annotated[
        str | None, typer.Option(help="Comma-separated languages (default: every language the task defines).")
    ] = None,
) -> None:
    """Download official benchmark data from the Hugging Face Hub into the layout `eval --data-dir` reads."""
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
    """
    from linguabridge.eval.compare import render_tables
    from linguabridge.eval.results import load_results

    text = render_tables(load_results(results), load_results(baseline))
    if out_file is None:
        print(text)
    else:
        out_file.write_text(text, encoding="utf-8")
        out.print(f"-> {out_file}")


__all__ = ["app", "eval_cmd", "load_cli_recipe"]

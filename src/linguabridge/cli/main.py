"""``linguabridge`` command line. Each command parses arguments and calls one library function."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from linguabridge.errors import LinguabridgeError

app = typer.Typer(
    help="Extend an LLM to many more languages: curate data, plan the mixture, continually pretrain "
    "(stage I/II), run SFT and DPO, evaluate and report. Start with `linguabridge demo --out runs/demo`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Data stage: curate web text and parallel text.", no_args_is_help=True)
mix_app = typer.Typer(help="Mixture stage: plan tokens per source and stage.", no_args_is_help=True)
train_app = typer.Typer(help="Training stages: CPT stage I/II, SFT, DPO.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(mix_app, name="mix")
app.add_typer(train_app, name="train")
out = Console()

SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a recipe value: --set cpt_stage1.optim.lr=2e-5 (repeatable).")]


def _recipe(path: str, overrides: list[str] | None):
    from linguabridge.config import builtin_recipe, load_recipe

    p = Path(path)
    if not p.exists() and "/" not in path and not path.endswith((".yaml", ".yml")):
        p = builtin_recipe(path)
    return load_recipe(p, overrides or [])


# -------------------------------------------------------------------------------------------- top level
@app.command()
def languages(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
    marco: Annotated[bool, typer.Option("--marco", help="Only the 29 Marco-LLM languages.")] = False,
) -> None:
    """List known languages: canonical code, ISO 639-1 alias, names, script and Marco tier."""
    from linguabridge.languages import all_languages, marco_languages

    langs = marco_languages() if marco else all_languages()
    if as_json:
        out.print_json(json.dumps([lang.to_dict() for lang in langs], ensure_ascii=False))
        return
    table = Table("code", "iso639_1", "name", "native name", "script", "tier")
    for lang in langs:
        table.add_row(lang.code, lang.iso639_1 or "", lang.name, lang.native_name or "", lang.script, lang.tier or "")
    out.print(table)


@app.command()
def run(
    recipe: Annotated[str, typer.Argument(help="Recipe YAML (or a built-in name: demo, marco).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory; every stage writes DIR/<stage>/.")],
    only: Annotated[str | None, typer.Option(help="Comma-separated stages to run (others must be complete).")] = None,
    force: Annotated[bool, typer.Option(help="Rerun stages even if complete.")] = False,
    set_: SetOpt = None,
) -> None:
    """Run the whole pipeline from a recipe; completed stages are skipped, an interrupted run resumes."""
    from linguabridge.pipeline import run_pipeline
    from linguabridge.stages import STAGE_NAMES, STAGES

    cfg = _recipe(recipe, set_)
    stages = only.split(",") if only else None
    for s in stages or []:
        if s not in STAGE_NAMES:
            from linguabridge.errors import did_you_mean

            raise LinguabridgeError(f"unknown stage {s!r}", did_you_mean(s, STAGE_NAMES) or f"stages: {', '.join(STAGE_NAMES)}")
    run_pipeline(cfg, out_dir, STAGES, only=stages, force=force)
    out.print(f"report: {out_dir / 'report' / 'index.html'}")


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory.")] = Path("runs/demo"),
    force: Annotated[bool, typer.Option(help="Rerun stages even if complete.")] = False,
    set_: SetOpt = None,
) -> None:
    """Run every stage on the embedded default (tiny Qwen2, real Qwen2 tokenizer, bundled corpus) on CPU."""
    run(recipe="demo", out_dir=out_dir, only=None, force=force, set_=set_)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by `run` or `demo`.")],
    fmt: Annotated[str, typer.Option("--format", help="html, md or html,md.")] = "html,md",
) -> None:
    """Write RUN_DIR/report/index.html (self-contained) and/or summary.md from a run's outputs."""
    from linguabridge.report.build import build_report

    if not run_dir.is_dir():
        raise LinguabridgeError(f"run directory not found: {run_dir}", "pass the --out directory of a run")
    for p in build_report(run_dir, formats=fmt.split(",")):
        out.print(str(p))


@app.command("eval")
def eval_cmd(
    model: Annotated[str, typer.Option("--model", help="Checkpoint directory (or 'tiny-qwen2').")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for results.json.")],
    tasks: Annotated[str, typer.Option(help="Comma-separated tasks.")] = "demo_flores",
    limit: Annotated[int | None, typer.Option(help="Items per task (quick looks).")] = None,
) -> None:
    """Evaluate a model on multilingual tasks; writes OUT/results.json with the protocol of every number."""
    from linguabridge.config import EvalConfig, ModelConfig
    from linguabridge.eval.runner import evaluate
    from linguabridge.models import load_model
    from linguabridge.tokenizer import load_tokenizer

    tok = load_tokenizer("qwen2" if model == "tiny-qwen2" else model)
    m = load_model(ModelConfig(name_or_path=model), vocab_size=len(tok))
    res = evaluate(m, tok, EvalConfig(tasks=tasks.split(","), limit=limit), None, out_dir / "results.json", model)
    out.print(f"{len(res['results'])} rows -> {out_dir / 'results.json'}")


# ------------------------------------------------------------------------------------------------- data
@data_app.command("clean")
def data_clean(
    inputs: Annotated[list[Path], typer.Argument(help="JSONL(.gz/.zst) files or folders of them.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Writes kept/, rejected/, quarantine.jsonl, stats.json.")],
    languages_: Annotated[str, typer.Option("--languages", help="Target languages (codes, 'marco', 'tier:low').")] = "marco",
    config: Annotated[Path | None, typer.Option(help="Recipe whose `data` section sets the rules.")] = None,
    set_: SetOpt = None,
) -> None:
    """Curate raw web text: normalise, URL filter, language ID, quality rules, dedup; nothing dropped silently."""
    from linguabridge.config import RunConfig, _codes, load_recipe
    from linguabridge.data.clean import clean

    cfg = load_recipe(config, set_) if config else RunConfig()
    stats = clean(list(inputs), out_dir, cfg.data, _codes(languages_.split(",")))
    out.print_json(json.dumps(stats["totals"]))


# ---------------------------------------------------------------------------------------------- mixture
@mix_app.command("plan")
def mix_plan(
    recipe: Annotated[str, typer.Argument(help="Recipe with a `mixture` section (e.g. recipes/marco/mixture.yaml).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    set_: SetOpt = None,
) -> None:
    """Plan tokens per source per stage (epochs, utilisation); refuses infeasible plans with the fix."""
    from linguabridge.mixture.plan import make_plan

    cfg = _recipe(recipe, set_)
    if cfg.mixture.available is None:
        raise LinguabridgeError("the recipe gives no mixture.available token counts", "add them, or plan inside a run (`linguabridge run`)")
    plan = make_plan(cfg.mixture, {})
    if as_json:
        print(json.dumps(plan.to_json(), ensure_ascii=False))
        return
    for st in plan.stages:
        t = Table("source", "tokens", "share", "epochs", title=f"{st.name}: {st.tokens:,.0f} tokens")
        for s in st.sources:
            t.add_row(s.name, f"{s.tokens:,.0f}", f"{100 * s.share:.2f}%", f"{s.epochs:.3f}")
        out.print(t)
    t = Table("source", "available", "used", "utilisation", title="sources")
    for s in plan.sources:
        t.add_row(s["name"], f"{s['available']:,.0f}", f"{s['used']:,.0f}", f"{100 * s['utilisation']:.1f}%")
    out.print(t)


# ------------------------------------------------------------------------------------------------ train
@train_app.command("stage")
def train_stage(
    recipe: Annotated[str, typer.Argument(help="Recipe YAML.")],
    stage: Annotated[str, typer.Option(help="cpt_stage1, cpt_stage2, sft or dpo.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory holding the earlier stages.")],
    set_: SetOpt = None,
) -> None:
    """Run one training stage of a run (its inputs must be complete); resumes from its last checkpoint."""
    run(recipe=recipe, out_dir=out_dir, only=stage, force=False, set_=set_)


def main() -> None:
    """Entry point: user errors print one line (problem -- fix) and exit 2, never a traceback."""
    try:
        app()
    except LinguabridgeError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc.message}" + (f" -- {exc.hint}" if exc.hint else ""), highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()

"""``linguabridge eval``: evaluate a checkpoint on multilingual tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from linguabridge.cli.common import out


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
    res = evaluate(
        m, tok, EvalConfig(tasks=tasks.split(","), limit=limit), None, out_dir / "results.json", model
    )
    out.print(f"{len(res['results'])} rows -> {out_dir / 'results.json'}")

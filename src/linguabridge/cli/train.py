"""``linguabridge train ...``: the training stages of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from linguabridge.cli.common import SetOpt

app = typer.Typer(help="Training stages: CPT stage I/II, SFT, DPO.", no_args_is_help=True)


@app.command("stage")
def stage(
    recipe: Annotated[str, typer.Argument(help="Recipe YAML.")],
    stage: Annotated[str, typer.Option(help="cpt_stage1, cpt_stage2, sft or dpo.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory holding the earlier stages.")],
    set_: SetOpt = None,
) -> None:
    """Run one training stage of a run (its inputs must be complete); resumes from its last checkpoint."""
    from linguabridge.cli.main import run

    run(recipe=recipe, out_dir=out_dir, only=stage, force=False, set_=set_)

"""Helpers shared by the CLI modules: the console, the --set option, recipe loading by path or name."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

out = Console()
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a recipe value: --set cpt_stage1.optim.lr=2e-5 (repeatable)."),
]


def load_cli_recipe(path: str, overrides: list[str] | None):
    """A recipe by path, or a built-in one by name (``demo``, ``marco``)."""
    from linguabridge.config import load_recipe, resolve_recipe

    return load_recipe(resolve_recipe(path), overrides or [])


ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="Recipe whose `data` section sets the rules (defaults otherwise)."),
]


def recipe_or_defaults(config: Path | None, overrides: list[str] | None):
    """The recipe at ``config`` with ``overrides``, or the defaults with them (``--set`` works without one)."""
    from linguabridge.config import apply_overrides, load_recipe, validate_recipe

    if config:
        return load_recipe(config, overrides)
    return validate_recipe(apply_overrides({}, overrides or []), overrides=overrides)

"""Helpers shared by the CLI modules: the console, the --set option, recipe loading by path or name."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

out = Console()


def set_option(example: str):
    """The repeatable ``--set KEY=VALUE`` option, with an example of a key this command reads."""
    return Annotated[
        list[str] | None,
        typer.Option("--set", help=f"Override a recipe value (repeatable), e.g. --set {example}"),
    ]


SetOpt = set_option("cpt_stage1.optim.lr=2e-5")  # commands that run training stages


def load_cli_recipe(path: str, overrides: list[str] | None):
    """A recipe by path, or a built-in one by name (``demo``, ``marco``)."""
    from linguabridge.recipe import load_recipe, resolve_recipe

    return load_recipe(resolve_recipe(path), overrides or [])


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--recipe", "--config", help="Recipe (path or built-in name) whose settings apply (defaults otherwise)."
    ),
]


def recipe_or_defaults(config: Path | None, overrides: list[str] | None):
    """The recipe at ``config`` (a path or built-in name) with ``overrides``, or the defaults with them."""
    from linguabridge import api

    return api.load_config(config, overrides)

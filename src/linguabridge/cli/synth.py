"""``linguabridge data synth``: synthetic text from Marco's three prompt families."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, get_args

import typer
from rich.console import Console
from rich.markup import escape

from linguabridge.cli.common import ConfigOpt, out, recipe_or_defaults, set_option


def synth_cmd(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Writes accepted/, rejected/, failed.jsonl, stats.json.")
    ],
    languages: Annotated[str | None, typer.Option(help="Languages, e.g. tha_Thai,kaz_Cyrl.")] = None,
    family: Annotated[
        str | None, typer.Option(help="explanation, story, fewshot (comma-separated) or 'all'.")
    ] = None,
    n: Annotated[
        int | None, typer.Option("--n", help="Requests per language, spread over the families.")
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Served model name (openai) or model directory (hf).")
    ] = None,
    backend: Annotated[
        str | None, typer.Option(help="'openai' (HTTP) or 'hf' (in-process transformers).")
    ] = None,
    keywords: Annotated[
        list[str] | None, typer.Option(help="LANG=FILE word list, one keyword a line (repeatable).")
    ] = None,
    corpus: Annotated[
        list[Path] | None, typer.Option(help="JSONL documents to mine keywords from (repeatable).")
    ] = None,
    fewshot_samples: Annotated[
        list[Path] | None, typer.Option(help="Chat JSONL {language, messages} for the fewshot family.")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight at once.")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampler seed; default: the recipe seed.")] = None,
    config: ConfigOpt = None,
    set_: set_option("synthetic.temperature=0.7") = None,
) -> None:
    """Generate synthetic text with Marco's three prompt families through an LLM server or a local model.

    Resumable: every request is keyed by a hash of (prompt, params, model) and cached in OUT/cache.sqlite, so a
    rerun after a crash sends only what is missing. The API key is read from $OPENAI_API_KEY (or
    synthetic.api_key_env) and never logged. Outputs failing the checks (language, length, refusals,
    duplicates) are kept in rejected/ with their reason. Exit status 2 when nothing was generated or more than
    synthetic.max_failed_share of the requests failed (a warning when fewer did): see OUT/failed.jsonl.

    Example: linguabridge data synth --family story --languages th,kk --n 100 --endpoint http://localhost:8000/v1 --model NAME --out synth/
    """
    from linguabridge.config import SyntheticFamily
    from linguabridge.data.synthetic.run import failure_verdict, run_synthetic
    from linguabridge.stages import resolve_inputs

    cfg = recipe_or_defaults(config, set_)
    update: dict = {}
    if family:
        update["families"] = list(get_args(SyntheticFamily)) if family == "all" else family.split(",")
    for key, value in (("n_per_language", n), ("endpoint", endpoint), ("model", model), ("backend", backend),
                       ("concurrency", concurrency)):  # fmt: skip
        if value is not None:
            update[key] = value
    if keywords:
        pairs = [k.split("=", 1) for k in keywords]
        if any(len(p) != 2 for p in pairs):
            raise typer.BadParameter("write --keywords LANG=FILE, e.g. tha_Thai=thai_words.txt")
        update["keyword_files"] = dict(pairs)
    if corpus:
        update["keyword_corpus"] = [str(c) for c in corpus]
    syn = _with_options(cfg.synthetic, update)
    langs = languages.split(",") if languages else (syn.languages or cfg.languages)
    samples = [str(p) for p in fewshot_samples] if fewshot_samples else syn.fewshot_samples
    stats = run_synthetic(syn, langs, out_dir, cfg.seed if seed is None else seed,
                          fewshot_paths=resolve_inputs(samples, "sft.jsonl"))  # fmt: skip
    keys = ("planned", "cached_before", "accepted", "rejected", "failed", "requests")
    out.print_json(json.dumps({k: stats[k] for k in keys}))
    warning = failure_verdict(stats, out_dir, syn.max_failed_share)  # raises (exit 2) past the threshold
    if warning:
        Console(stderr=True).print(
            f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True
        )


# The option that sets each synthetic key, for errors about a value given on the command line.
_OPTION_OF = {"families": "--family", "n_per_language": "--n", "endpoint": "--endpoint", "model": "--model",
              "backend": "--backend", "concurrency": "--concurrency", "keyword_files": "--keywords",
              "keyword_corpus": "--corpus"}  # fmt: skip


def _with_options(synthetic, update: dict):
    """The recipe's synthetic section with the command-line values; a bad value is a one-line error naming
    the option that gave it."""
    from pydantic import ValidationError

    from linguabridge.config import SyntheticConfig
    from linguabridge.errors import ConfigError

    try:
        return SyntheticConfig.model_validate(synthetic.model_dump() | update)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        option = _OPTION_OF.get(field, f"synthetic.{field}")
        got = ",".join(update[field]) if isinstance(update.get(field), list) else update.get(field)
        raise ConfigError(
            f"{option} {got}: {err['msg'].removeprefix('Value error, ')}",
            f"fix {option} (linguabridge data synth --help describes it)",
        ) from None

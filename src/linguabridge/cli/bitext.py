"""``linguabridge data bitext filter|render``: parallel text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from linguabridge.cli.common import ConfigOpt, out, set_option

app = typer.Typer(help="Parallel text: filter sentence pairs, render them with the Marco templates.",
                  no_args_is_help=True)  # fmt: skip


@app.command("filter")
def filter_cmd(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Bitext files or folders: .jsonl(.gz/.zst), .parquet, .tsv, .tmx, Moses NAME.l1-l2.l1."
        ),
    ],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Writes kept/, rejected/, quarantine.jsonl, stats.json.")
    ],
    src_lang: Annotated[str | None, typer.Option(help="Source language when the files do not say.")] = None,
    tgt_lang: Annotated[str | None, typer.Option(help="Target language when the files do not say.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="auto, jsonl, parquet, tsv, tmx or moses.")] = "auto",
    columns: Annotated[str | None, typer.Option(help="TSV column names, e.g. 'score,src,tgt'.")] = None,
    semantic: Annotated[
        str | None,
        typer.Option(help="'margin' (sentence-encoder margin scoring) or 'none'; default: config."),
    ] = None,
    config: ConfigOpt = None,
    set_: set_option("data.bitext.min_margin=1.0") = None,
) -> None:
    """Filter sentence pairs: length ratios, copies, script and language ID per side, numbers/URLs/punctuation,
    exact and near duplicates, margin-scored sentence embeddings, per-direction caps. Every rejected pair keeps
    its reason (data.bitext.* in a recipe, or --set data.bitext.min_margin=1.0).

    Example: linguabridge data bitext filter opus/en-vi.tsv --src-lang en --tgt-lang vi --columns src,tgt --out pairs/
    """
    from linguabridge import api

    stats = api.filter_bitext(inputs, out_dir, src_lang=src_lang, tgt_lang=tgt_lang, fmt=fmt, columns=columns,
                              semantic=semantic, recipe=config, overrides=set_)  # fmt: skip
    keys = ("inputs", "kept", "quarantined", "rejected")
    out.print_json(json.dumps({k: stats[k] for k in keys} | {"pairs_per_s": stats["timings"]["pairs_per_s"]}))


@app.command("render")
def render_cmd(
    pair_dir: Annotated[Path, typer.Argument(help="A `bitext filter` output folder (reads its kept/).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Writes part-00000.jsonl.gz and stats.json.")],
    templates: Annotated[
        str | None, typer.Option(help="Template ids from Marco Table 13 (A-K); default: config.")
    ] = None,
    pairs_per_document: Annotated[int | None, typer.Option(help="Pairs packed into one document.")] = None,
    seed: Annotated[int | None, typer.Option(help="Template sampler seed; default: the recipe seed.")] = None,
    config: ConfigOpt = None,
    set_: set_option("data.bitext.pairs_per_document=4") = None,
) -> None:
    """Render kept pairs as pretraining documents with the 11 Marco templates (language names; template drawn
    by a seeded sampler and kept in metadata.template).

    Example: linguabridge data bitext render pairs/ --out rendered/ --templates ABC --pairs-per-document 4
    """
    from linguabridge import api

    stats = api.render_bitext(pair_dir, out_dir, templates, pairs_per_document, seed, recipe=config, overrides=set_)
    out.print_json(json.dumps(stats))

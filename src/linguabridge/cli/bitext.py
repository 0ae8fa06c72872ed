"""``linguabridge data bitext filter|render`` and ``linguabridge data synth``: parallel and synthetic text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from linguabridge.cli.common import SetOpt, out

app = typer.Typer(help="Parallel text: filter sentence pairs, render them with the Marco templates.",
                  no_args_is_help=True)  # fmt: skip

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="Recipe whose `data` section sets the rules (defaults otherwise)."),
]


def _recipe(config: Path | None, overrides: list[str] | None):
    from linguabridge.config import RunConfig, apply_overrides, load_recipe, validate_recipe

    if config:
        return load_recipe(config, overrides)
    return validate_recipe(apply_overrides({}, overrides or [])) if overrides else RunConfig()


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
    set_: SetOpt = None,
) -> None:
    """Filter sentence pairs: length ratios, copies, script and language ID per side, numbers/URLs/punctuation,
    exact and near duplicates, margin-scored sentence embeddings, per-direction caps. Every rejected pair keeps
    its reason (data.bitext.* in a recipe, or --set data.bitext.min_margin=1.0)."""
    from linguabridge.data.bitext import filter_pairs

    cfg = _recipe(config, set_)
    bitext = (
        cfg.data.bitext if semantic is None else cfg.data.bitext.model_copy(update={"semantic": semantic})
    )
    stats = filter_pairs(inputs, out_dir, bitext, src_lang=src_lang, tgt_lang=tgt_lang, fmt=fmt,
                         columns=columns, seed=cfg.seed)  # fmt: skip
    keys = ("inputs", "kept", "quarantined", "rejected", "pairs_per_s")
    out.print_json(json.dumps({k: stats[k] for k in keys}))


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
    set_: SetOpt = None,
) -> None:
    """Render kept pairs as pretraining documents with the 11 Marco templates (language names; template drawn
    by a seeded sampler and kept in metadata.template)."""
    from linguabridge.data.bitext import render_dir

    cfg = _recipe(config, set_)
    stats = render_dir(
        pair_dir,
        out_dir,
        cfg.seed if seed is None else seed,
        templates or cfg.data.parallel_templates,
        pairs_per_document or cfg.data.bitext.pairs_per_document,
    )
    out.print_json(json.dumps(stats))


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
    set_: SetOpt = None,
) -> None:
    """Generate synthetic text with Marco's three prompt families through an LLM server or a local model.

    Resumable: every request is keyed by a hash of (prompt, params, model) and cached in OUT/cache.sqlite, so a
    rerun after a crash sends only what is missing. The API key is read from $OPENAI_API_KEY (or
    synthetic.api_key_env) and never logged. Outputs failing the checks (language, length, refusals,
    duplicates) are kept in rejected/ with their reason."""
    from linguabridge.config import SyntheticConfig
    from linguabridge.data.synthetic import run_synthetic
    from linguabridge.stages import resolve_inputs

    cfg = _recipe(config, set_)
    update: dict = {}
    if family:
        update["families"] = list(SyntheticConfig().families) if family == "all" else family.split(",")
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
    syn = SyntheticConfig.model_validate(cfg.synthetic.model_dump() | update)
    langs = languages.split(",") if languages else (syn.languages or cfg.languages)
    samples = [str(p) for p in fewshot_samples] if fewshot_samples else syn.fewshot_samples
    stats = run_synthetic(syn, langs, out_dir, cfg.seed if seed is None else seed,
                          fewshot_paths=resolve_inputs(samples, "sft.jsonl"))  # fmt: skip
    keys = ("planned", "cached_before", "accepted", "rejected", "failed", "requests")
    out.print_json(json.dumps({k: stats[k] for k in keys}))

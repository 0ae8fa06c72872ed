"""``linguabridge data ...``: curation of web text (and, from other modules, parallel and synthetic text)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from linguabridge.cli.common import ConfigOpt, out, set_option

app = typer.Typer(help="Data stage: curate web text and parallel text.", no_args_is_help=True)

InputsArg = Annotated[
    list[Path],
    typer.Argument(
        help="Files or folders: JSONL(.gz/.zst), Parquet, .txt, Common Crawl WARC/WET (.warc.gz, .wet.gz)."
    ),
]
LanguagesOpt = Annotated[
    str, typer.Option("--languages", help="Target languages (codes, 'marco', 'tier:high', 'tier:low').")
]


@app.command("clean")
def clean(
    inputs: InputsArg,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Writes kept/, rejected/, quarantine.jsonl, stats.json.")
    ],
    languages: LanguagesOpt = "marco",
    config: ConfigOpt = None,
    workers: Annotated[int | None, typer.Option(help="Local processes (one shard per input file).")] = None,
    text_key: Annotated[
        str | None, typer.Option(help="JSONL/Parquet field of the text (data.text_key; default 'text').")
    ] = None,
    id_key: Annotated[str | None, typer.Option(help="Field of the id (data.id_key; default 'id').")] = None,
    set_: set_option("data.min_words=30") = None,
) -> None:
    """Curate raw web text: normalise, URL filter, language ID, per-language quality rules, decontamination,
    PII, dedup across the whole corpus. Nothing is dropped silently; a killed run resumes where it stopped.

    Example: linguabridge data clean raw/ --out curated/ --languages en,th,vi --text-key content --workers 4
    """
    from linguabridge import api

    stats = api.clean(inputs, out_dir, languages, recipe=config, overrides=set_, workers=workers,
                      text_key=text_key, id_key=id_key)  # fmt: skip
    out.print_json(json.dumps(stats["totals"]))


@app.command("thresholds")
def thresholds(
    inputs: InputsArg,
    out_file: Annotated[Path, typer.Option("--out", help="Rules TSV to write (use it as data.rules_file).")],
    languages: LanguagesOpt = "marco",
    quantile: Annotated[float, typer.Option(min=0, max=0.5, help="Tail share each rule rejects in the sample.")] = 0.05,
    limit: Annotated[int | None, typer.Option(min=1, help="Read at most this many documents.")] = None,
    min_docs: Annotated[int, typer.Option(min=1, help="Skip languages with fewer sample documents.")] = 20,
) -> None:
    """Derive per-language thresholds from a sample of (mostly clean) text: every rule is measured on every
    document and set at the sample's percentile, so a new language gets sensible thresholds without tuning.

    Example: linguabridge data thresholds sample/ --out rules.tsv --languages th,lo --min-docs 50
    """
    from linguabridge import api

    counts = api.calibrate_thresholds(inputs, out_file, languages, quantile, limit, min_docs)
    skipped = {k: n for k, n in counts.items() if n < min_docs}
    if skipped:
        out.print(f"left out (fewer than {min_docs} documents): {', '.join(f'{k} {n}' for k, n in skipped.items())}")
    out.print_json(json.dumps(counts))

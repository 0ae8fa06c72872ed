"""``linguabridge data ...``: curation of web text (and, from other modules, parallel and synthetic text)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from linguabridge.cli.common import SetOpt, out, recipe_or_defaults

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
    config: Annotated[Path | None, typer.Option(help="Recipe whose `data` section sets the rules.")] = None,
    workers: Annotated[int | None, typer.Option(help="Local processes (one shard per input file).")] = None,
    text_key: Annotated[
        str | None, typer.Option(help="JSONL/Parquet field of the text (data.text_key; default 'text').")
    ] = None,
    id_key: Annotated[str | None, typer.Option(help="Field of the id (data.id_key; default 'id').")] = None,
    set_: SetOpt = None,
) -> None:
    """Curate raw web text: normalise, URL filter, language ID, per-language quality rules, decontamination,
    PII, dedup across the whole corpus. Nothing is dropped silently; a killed run resumes where it stopped."""
    from linguabridge.config import _codes
    from linguabridge.data.clean import clean as run_clean

    # --set works with or without a recipe: `--set data.min_words=30 --set data.rules_file=rules.tsv`
    cfg = recipe_or_defaults(config, set_)
    given = {"workers": workers, "text_key": text_key, "id_key": id_key}
    data = cfg.data.model_copy(update={k: v for k, v in given.items() if v is not None})
    stats = run_clean(list(inputs), out_dir, data, _codes(languages.split(",")))
    out.print_json(json.dumps(stats["totals"]))


@app.command("thresholds")
def thresholds(
    inputs: InputsArg,
    out_file: Annotated[Path, typer.Option("--out", help="Rules TSV to write (use it as data.rules_file).")],
    languages: LanguagesOpt = "marco",
    quantile: Annotated[float, typer.Option(help="Tail share each rule rejects in the sample.")] = 0.05,
    limit: Annotated[int | None, typer.Option(help="Read at most this many documents.")] = None,
    min_docs: Annotated[int, typer.Option(help="Skip languages with fewer sample documents.")] = 20,
) -> None:
    """Derive per-language thresholds from a sample of (mostly clean) text: every rule is measured on every
    document and set at the sample's percentile, so a new language gets sensible thresholds without tuning."""
    from linguabridge.config import _codes
    from linguabridge.data.calibrate import derive_rules, measure, write_rules_table

    samples = measure(list(inputs), _codes(languages.split(",")), limit=limit)
    kept = {k: v for k, v in samples.items() if len(v) >= min_docs}
    rows = derive_rules(kept, quantile)
    write_rules_table(rows, out_file)
    out.print_json(json.dumps({k: len(v) for k, v in sorted(samples.items())}))


# Parallel text (cli/bitext.py): `data bitext filter|render`; `data synth` (cli/synth.py) is registered in cli/main.py.
from linguabridge.cli import bitext  # noqa: E402

app.add_typer(bitext.app, name="bitext")

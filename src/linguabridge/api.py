"""The Python API: each pipeline step as one function that takes what the CLI takes.

Paths are ``str`` or ``Path``; languages are codes in any accepted spelling (``"en,de,id"``, ``["en", "deu"]``,
``"marco"``, ``"tier:low"``); ``recipe`` is a YAML path, a built-in name (``demo``, ``marco``), a
:class:`~linguabridge.config.RunConfig`, or None for the defaults; ``overrides`` are ``--set`` strings
(``["data.min_words=30"]``) or a dict (``{"data.min_words": 30}``). Errors are
:class:`~linguabridge.errors.LinguabridgeError` with ``message`` and ``hint``, as the CLI prints them.

The CLI commands are thin wrappers over these functions, so a notebook and a terminal behave the same::

    import linguabridge as lb
    stats = lb.clean(["raw/"], "curated/", languages="en,de,id")
    plan = lb.plan_mixture("recipes/marco/mixture.yaml", inventory=lb.count_tokens(["curated/kept"]))
    lb.run("demo", "runs/demo")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from linguabridge.config import RunConfig

Overrides = list[str] | Mapping[str, Any] | None


def _set_strings(overrides: Overrides) -> list[str]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        import json

        return [f"{k}={json.dumps(v)}" for k, v in overrides.items()]  # JSON is YAML: values parse back
    return list(overrides)


def load_config(recipe: str | Path | RunConfig | None = None, overrides: Overrides = None) -> RunConfig:
    """A validated :class:`RunConfig`: a recipe file or built-in name, a config, or the defaults; plus overrides."""
    from linguabridge.recipe import apply_overrides, load_recipe, resolve_recipe, validate_recipe

    sets = _set_strings(overrides)
    if isinstance(recipe, RunConfig):
        return validate_recipe(apply_overrides(recipe.model_dump(mode="json"), sets), overrides=sets)
    if recipe is None:
        return validate_recipe(apply_overrides({}, sets), overrides=sets)
    return load_recipe(resolve_recipe(str(recipe)), sets)


def language_codes(spec: str | Iterable[str]) -> list[str]:
    """Canonical codes for ``"en,de"``, ``["en", "deu_Latn"]``, ``"marco"``, ``"tier:high"`` (unknown: an error)."""
    from linguabridge.config import _codes

    items = spec.split(",") if isinstance(spec, str) else list(spec)
    return _codes([s.strip() for s in items if s.strip()])


def demo_file(name: str = "web.jsonl") -> Path:
    """A file of the bundled demo corpus: ``web.jsonl`` (web text, 16 languages with planted noise),
    ``parallel.jsonl`` (sentence pairs), ``sft.jsonl`` (chats)."""
    from linguabridge.stages import resolve_inputs

    return resolve_inputs(["demo"], name)[0]


# ------------------------------------------------------------------------------------------------ data
def clean(
    inputs: Iterable[str | Path],
    out: str | Path,
    languages: str | Iterable[str] = "marco",
    recipe: str | Path | RunConfig | None = None,
    overrides: Overrides = None,
    workers: int | None = None,
    text_key: str | None = None,
    id_key: str | None = None,
    progress: bool = True,
) -> dict:
    """Curate web text (``linguabridge data clean``); returns the stats (``stats["totals"]``: kept, rejected...).

    ``text_key`` / ``id_key`` name the input fields (default ``data.text_key`` / ``data.id_key``)."""
    from linguabridge.data.clean import clean as run_clean

    cfg = load_config(recipe, overrides)
    given = {"workers": workers, "text_key": text_key, "id_key": id_key}
    data = cfg.data.model_copy(update={k: v for k, v in given.items() if v is not None})
    return run_clean([Path(p) for p in inputs], Path(out), data, language_codes(languages), progress)


def calibrate_thresholds(
    inputs: Iterable[str | Path],
    out: str | Path,
    languages: str | Iterable[str] = "marco",
    quantile: float = 0.05,
    limit: int | None = None,
    min_docs: int = 20,
) -> dict[str, int]:
    """Per-language thresholds from a sample of mostly clean text (``linguabridge data thresholds``): writes the
    rules TSV ``out`` (use it as ``data.rules_file``); returns sample documents per language. A language with
    fewer than ``min_docs`` documents is left out; if that leaves none, nothing is written and it is an error."""
    from linguabridge.data.calibrate import derive_rules, measure, write_rules_table
    from linguabridge.errors import LinguabridgeError

    samples = measure([Path(p) for p in inputs], language_codes(languages), limit=limit)
    counts = {k: len(v) for k, v in sorted(samples.items())}
    kept = {k: v for k, v in samples.items() if len(v) >= min_docs}
    if not kept:
        have = ", ".join(f"{k} {n}" for k, n in counts.items()) or "no document in a target language"
        raise LinguabridgeError(
            f"no language has the {min_docs} sample documents a threshold needs (have: {have})",
            "give more text, or lower --min-docs (thresholds from a handful of documents are noise)",
        )
    write_rules_table(derive_rules(kept, quantile), Path(out))
    return counts


def filter_bitext(
    inputs: Iterable[str | Path],
    out: str | Path,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    fmt: str = "auto",
    columns: str | None = None,
    semantic: str | None = None,
    recipe: str | Path | RunConfig | None = None,
    overrides: Overrides = None,
) -> dict:
    """Filter sentence pairs (``linguabridge data bitext filter``); returns the stats."""
    from linguabridge.data.bitext.filter import filter_pairs

    cfg = load_config(recipe, overrides)
    bitext = cfg.data.bitext if semantic is None else cfg.data.bitext.model_copy(update={"semantic": semantic})
    return filter_pairs([Path(p) for p in inputs], Path(out), bitext, src_lang=src_lang, tgt_lang=tgt_lang,
                        fmt=fmt, columns=columns, seed=cfg.seed)  # fmt: skip


def render_bitext(
    pair_dir: str | Path,
    out: str | Path,
    templates: str | None = None,
    pairs_per_document: int | None = None,
    seed: int | None = None,
    recipe: str | Path | RunConfig | None = None,
    overrides: Overrides = None,
) -> dict:
    """Render kept pairs with the 11 Marco templates (``linguabridge data bitext render``); returns the stats."""
    from linguabridge.data.bitext.render import render_dir

    cfg = load_config(recipe, overrides)
    return render_dir(
        Path(pair_dir),
        Path(out),
        cfg.seed if seed is None else seed,
        templates or cfg.data.parallel_templates,
        pairs_per_document or cfg.data.bitext.pairs_per_document,
    )


# --------------------------------------------------------------------------------------------- mixture
def count_tokens(
    inputs: Iterable[str | Path],
    tokenizer: str = "qwen2",
    estimate: float | None = None,
    workers: int = 1,
    out: str | Path | None = None,
):
    """Tokens per (source, language) with the target tokenizer (``linguabridge mix inventory``).

    ``estimate`` in (0, 1] tokenizes that fraction of documents and scales by bytes. Returns the
    :class:`~linguabridge.mixture.inventory.Inventory` (written to ``out`` when given)."""
    from linguabridge.errors import LinguabridgeError
    from linguabridge.mixture.inventory import count_tokens as count
    from linguabridge.tokenizer import load_tokenizer

    if estimate is not None and not 0 < estimate <= 1:
        raise LinguabridgeError(
            f"estimate {estimate:g} is not a fraction in (0, 1]", "e.g. estimate=0.01 tokenizes 1% of documents"
        )
    inv = count(
        [Path(p) for p in inputs],
        load_tokenizer(tokenizer),
        set(),
        mode="exact" if estimate is None else "estimate",
        sample_rate=1.0 if estimate is None else estimate,
        workers=workers,
    )
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        inv.write(out)
    return inv


def plan_mixture(
    recipe: str | Path | RunConfig,
    inventory: str | Path | Any | None = None,
    overrides: Overrides = None,
):
    """Tokens per source per stage (``linguabridge mix plan``); refuses infeasible plans with the fix.

    ``inventory``: an ``inventory.json`` (or its folder), an :class:`Inventory`, or None to use the recipe's
    ``mixture.available``. Returns the :class:`~linguabridge.mixture.plan.Plan` (``.to_json()``, ``.notes``)."""
    from linguabridge.errors import LinguabridgeError
    from linguabridge.mixture.inventory import Inventory, read_available
    from linguabridge.mixture.plan import make_plan

    cfg = load_config(recipe, overrides)
    measured: dict[str, float] = {}
    if isinstance(inventory, Inventory):
        measured = dict(inventory.available())
    elif inventory is not None:
        measured = read_available(inventory)
    if measured:
        cfg.mixture.available = None
    elif cfg.mixture.available is None:
        raise LinguabridgeError(
            f"{recipe}: the recipe gives no mixture.available token counts",
            "add them, pass an inventory, or plan inside a run (`linguabridge run`)",
        )
    try:
        return make_plan(cfg.mixture, measured)
    except LinguabridgeError as exc:
        raise LinguabridgeError(f"{recipe}: {exc.message}", exc.hint) from None


# ------------------------------------------------------------------------------------------- run, train
def run(
    recipe: str | Path,
    out: str | Path,
    only: str | Iterable[str] | None = None,
    force: bool = False,
    overrides: Overrides = None,
) -> Path | None:
    """Run the pipeline (``linguabridge run``); returns the report's index.html (None when ``only`` left it out)."""
    from linguabridge.pipeline import run_recipe

    stages = only.split(",") if isinstance(only, str) else (list(only) if only else None)
    return run_recipe(recipe, Path(out), only=stages, force=force, overrides=_set_strings(overrides))


def train_stage(recipe: str | Path, stage: str, out: str | Path, overrides: Overrides = None) -> Path:
    """Run one training stage of a run (``linguabridge train stage``); returns its model directory."""
    run(recipe, out, only=[stage], overrides=overrides)
    return Path(out) / stage / "model"


# -------------------------------------------------------------------------------------------- evaluate
def evaluate(
    model: str | Path,
    out: str | Path,
    tasks: str | Iterable[str] | None = None,
    suite: str | Path | None = None,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    baseline: str | Path | None = None,
    overrides: Overrides = None,
    notes: list[str] | None = None,
) -> dict:
    """Evaluate a checkpoint (``linguabridge eval``): writes ``out/results.json`` (+ lm-eval's format and
    tables) and returns it. A task named alone takes lm-eval's default protocol (or the baseline's, when
    ``baseline`` is given: what was adopted is appended to ``notes``)."""
    from linguabridge.eval.runner import evaluate as run_eval
    from linguabridge.eval.suites import resolve_tasks
    from linguabridge.models import TINY, load_model
    from linguabridge.models.sources import resolve_source
    from linguabridge.tokenizer import load_tokenizer

    sets = _set_strings(overrides)
    cfg = load_config(suite, sets)
    ev = cfg.eval
    if tasks:
        ev.tasks = [t.strip() for t in (tasks.split(",") if isinstance(tasks, str) else tasks) if t.strip()]
    if data_dir is not None:
        ev.data_dir = str(data_dir)
    if limit is not None:
        ev.limit = limit
    if baseline is not None:
        ev.baseline = str(baseline)
    if ev.baseline:
        from linguabridge.eval.compare import match_protocol
        from linguabridge.eval.results import load_results

        given = {o.split("=", 1)[0].strip() for o in sets}
        explicit = {k for k in ("prompt_style", "limit") if f"eval.{k}" in given or suite}
        explicit |= {"limit"} if limit is not None else set()
        adopted = match_protocol(ev, load_results(Path(ev.baseline)), explicit)
        if notes is not None:
            notes.extend(adopted)
    resolve_tasks(ev)  # missing data or a bad protocol fails here, before the model loads
    model = str(model)
    folder = resolve_source(model)[0]  # a .gguf file or smollm2-135m: its cached conversion
    tok = load_tokenizer(cfg.tokenizer.name_or_path if model == TINY else folder, cfg.model.trust_remote_code)
    cfg.model.name_or_path = model
    loaded = (
        None
        if ev.backend == "vllm" and model != TINY
        else load_model(cfg.model, vocab_size=len(tok), seed=cfg.seed)
    )
    out = Path(out)
    path = None if model == TINY else folder
    return run_eval(loaded, tok, ev, None, out / "results.json", model, model_path=path, model_name=model)


# ---------------------------------------------------------------------------------------------- report
def build_report(run_dir: str | Path, formats: str | Iterable[str] = ("html", "md")) -> list[Path]:
    """Write the run report (``linguabridge report``); returns the files written."""
    from linguabridge.report.build import build_report as build

    return build(Path(run_dir), formats=formats.split(",") if isinstance(formats, str) else list(formats))


__all__ = [
    "build_report",
    "calibrate_thresholds",
    "clean",
    "count_tokens",
    "demo_file",
    "evaluate",
    "filter_bitext",
    "language_codes",
    "load_config",
    "plan_mixture",
    "render_bitext",
    "run",
    "train_stage",
]

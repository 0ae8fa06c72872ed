"""The pipeline's stages as thin functions over the library, in the order ``run``/``demo`` executes them.

clean (``data``) -> plan (``mixture``) -> tokenize (``tokens``) -> ``cpt_stage1`` -> ``cpt_stage2``
-> ``sft`` -> ``dpo`` -> ``eval`` -> ``report``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from linguabridge import stage_summaries as say
from linguabridge.config import CPTConfig, RunConfig, TrainStageConfig
from linguabridge.console import progress
from linguabridge.errors import LinguabridgeError
from linguabridge.io import write_json
from linguabridge.languages import get_language

DEMO_ASSETS = "assets/demo"


@dataclass
class Stage:
    """One step of the pipeline: what it runs, what its result depends on, how it restarts."""

    name: str
    run: Callable[[RunConfig, Path], dict]
    config_keys: tuple[
        str, ...
    ]  # config sections ("data") or single keys ("eval.data_dir") its result depends on
    after: tuple[str, ...] = ()
    clean_on_retry: bool = True  # data stages restart from scratch; training stages keep checkpoints
    distributed: bool = False  # every process of a torchrun/accelerate launch runs it (training stages)
    always: bool = False  # cheap and derived from the others (report): rerun every time
    describe: Callable[[dict, float], list[str]] | None = (
        None  # summary, seconds -> the lines printed at its end
    )


def resolve_inputs(paths: list[str], demo_file: str) -> list[Path]:
    """``demo`` names a file of the bundled corpus; anything else is a path."""
    from importlib import resources

    out = []
    for p in paths:
        if p == "demo":
            out.append(Path(str(resources.files("linguabridge").joinpath(f"{DEMO_ASSETS}/{demo_file}"))))
        else:
            out.append(Path(p))
    return out


# ------------------------------------------------------------------------------------------------ data
def stage_data(cfg: RunConfig, run_dir: Path) -> dict:
    from linguabridge.data.bitext.filter import filter_pairs
    from linguabridge.data.bitext.render import render_dir
    from linguabridge.data.clean import clean

    out = run_dir / "data"
    web = clean(resolve_inputs(cfg.data.inputs, "web.jsonl"), out / "web", cfg.data, cfg.languages)
    summary = {"web": web["totals"], "web_rejected_by_reason": _rejections(web["steps"])}
    if cfg.data.parallel:
        bt = cfg.data.bitext
        pairs_in = resolve_inputs(cfg.data.parallel, "parallel.jsonl")
        par = filter_pairs(pairs_in, out / "parallel", bt, seed=cfg.seed)
        rendered = render_dir(
            out / "parallel",
            out / "parallel" / "rendered",
            cfg.seed,
            cfg.data.parallel_templates,
            bt.pairs_per_document,
        )
        summary["parallel"] = {
            "pairs_kept": par["kept"],
            "rejected": par["rejected"],
            "directions": len(par["directions"]),
            "documents": rendered["documents"],
            "semantic": bt.semantic,
        }
    return summary


def _rejections(steps: dict) -> dict[str, int]:
    """Documents dropped per reason over all curation steps (stats.json's ``dropped:<reason>`` counters)."""
    out: dict[str, int] = defaultdict(int)
    for counters in steps.values():
        for key, n in counters.items():
            if key.startswith("dropped:"):
                out[key.removeprefix("dropped:")] += n
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def curated_files(run_dir: Path) -> list[Path]:
    """The curated document files (web kept + rendered parallel) in a stable order; read them streamed."""
    files = sorted((run_dir / "data" / "web" / "kept").glob("*.jsonl*"))
    files += sorted((run_dir / "data" / "parallel" / "rendered").glob("*.jsonl*"))
    if not files:
        raise LinguabridgeError(f"no curated documents under {run_dir / 'data'}", "run the data stage first")
    return files


def _tokenizer(cfg: RunConfig):
    """The recipe's tokenizer; a GGUF file or built-in model name gives the tokenizer of its conversion."""
    from linguabridge.models.sources import resolve_source
    from linguabridge.tokenizer import load_tokenizer

    return load_tokenizer(resolve_source(cfg.tokenizer.name_or_path)[0], cfg.model.trust_remote_code)


# --------------------------------------------------------------------------------------------- mixture
def stage_mixture(cfg: RunConfig, run_dir: Path) -> dict:
    from linguabridge.mixture.inventory import count_tokens, heldout_gaps, iter_curated, select_heldout
    from linguabridge.mixture.plan import make_plan

    m, files = cfg.mixture, curated_files(run_dir)
    heldout = select_heldout(iter_curated(files, m.source_kinds), m.heldout_docs_per_language, cfg.seed)
    inventory = count_tokens(
        files, _tokenizer(cfg), heldout, source_kinds=m.source_kinds, mode=m.inventory,
        sample_rate=m.sample_rate, workers=m.workers, seed=cfg.seed,
    )  # fmt: skip
    out = run_dir / "mixture"
    inventory.write(out)
    write_json(out / "heldout_ids.json", sorted(heldout))
    plan = make_plan(m, inventory.available())
    plan.notes += [f"no held-out documents for {lang}: too few to spare" for lang in heldout_gaps(inventory)]
    write_json(out / "plan.json", plan.to_json(details=True))
    planned = {s.name: {src.name: src.tokens for src in s.sources} for s in plan.stages}
    return {
        "stages": [s.name for s in plan.stages],
        "sources": len(plan.sources),
        "notes": plan.notes,
        "planned_tokens": planned,
    }


def load_plan(run_dir: Path):
    from linguabridge.mixture.plan import Plan, SourcePlan, StagePlan

    data = json.loads((run_dir / "mixture" / "plan.json").read_text())
    stages = [
        StagePlan(s["name"], s["tokens"], [SourcePlan(**src) for src in s["sources"]]) for s in data["stages"]
    ]
    return Plan(stages, data["sources"], data.get("notes", []), data.get("redistributed", []))


# ---------------------------------------------------------------------------------------------- tokens
def stage_tokens(cfg: RunConfig, run_dir: Path) -> dict:
    from linguabridge.mixture.shard_writer import tokenize_documents

    m = cfg.mixture
    heldout = set(json.loads((run_dir / "mixture" / "heldout_ids.json").read_text()))
    inv = tokenize_documents(
        curated_files(run_dir), _tokenizer(cfg), run_dir / "tokens", heldout,
        source_kinds=m.source_kinds, docs_per_shard=m.docs_per_shard, workers=m.workers,
    )  # fmt: skip
    planned = json.loads((run_dir / "mixture" / "inventory.json").read_text())
    have = {k: v["tokens"] for k, v in inv["sources"].items()}
    if planned["mode"] == "exact" and {k: v["tokens"] for k, v in planned["sources"].items()} != have:
        raise LinguabridgeError(
            "token shards disagree with the inventory the plan used", "rerun with --force"
        )
    keys = ("total_tokens", "documents", "shards", "reused_shards")
    est = {k: v["tokens"] for k, v in planned["sources"].items()}
    error = max((abs(have.get(k, 0) - n) / n for k, n in est.items() if n), default=0.0)
    return {k: inv[k] for k in keys} | {
        "inventory_mode": planned["mode"],
        "inventory_max_rel_error": error,
        "tokens_by_source": have,
    }


# ---------------------------------------------------------------------------------------------- models
STAGE_ORDER = ["cpt_stage1", "cpt_stage2", "sft", "dpo"]


def init_source(cfg: RunConfig, stage: str) -> str:
    """Where a training stage starts: ``base``, a previous stage's ``model/`` or a path."""
    init = getattr(cfg, stage).init_from
    if init == "previous":
        i = STAGE_ORDER.index(stage)
        return "base" if i == 0 else STAGE_ORDER[i - 1]
    return init


def load_stage_model(cfg: RunConfig, run_dir: Path, source: str, tokenizer):
    from linguabridge.models import load_model

    if source == "base":
        return load_model(
            cfg.model,
            vocab_size=len(tokenizer),
            seed=cfg.seed,
            eos_token_id=tokenizer.eos_token_id,
            tokenizer=tokenizer,
        )
    path = run_dir / source / "model" if source in STAGE_ORDER else Path(source)
    if not path.is_dir():
        raise LinguabridgeError(
            f"no model at {path}", f"run stage {source!r} first, or set init_from to a model path"
        )
    return load_model(cfg.model, path=path)


def _seed(cfg: RunConfig, tc: TrainStageConfig) -> int:
    return tc.seed if tc.seed is not None else cfg.seed


def stage_cpt(name: str):
    def run(cfg: RunConfig, run_dir: Path) -> dict:
        from linguabridge.train.cpt import run_cpt

        tc: CPTConfig = getattr(cfg, name)
        tok = _tokenizer(cfg)
        model = load_stage_model(cfg, run_dir, init_source(cfg, name), tok)
        plan = load_plan(run_dir).stage(tc.mixture_stage or "")
        summary = run_cpt(tc, plan, run_dir / "tokens", model, tok, run_dir / name, _seed(cfg, tc))
        return {k: summary[k] for k in ("steps", "tokens", "resumed_from")} | {
            "forgetting_events": len(summary["forgetting_guard"]["events"]),
            "heldout_bpb_by_tier": _bpb_by_tier(summary["tradeoff"]["languages"]),
        }

    return run


def _bpb_by_tier(languages: dict[str, dict]) -> dict[str, dict[str, float]]:
    """Mean held-out bits per byte at the start and end of a CPT stage, per tier (run_cpt's tradeoff table)."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in languages.values():
        groups[row["tier"] or "other"].append(row)
    return {
        tier: {
            "before": sum(r["start_bpb"] for r in rows) / len(rows),
            "after": sum(r["end_bpb"] for r in rows) / len(rows),
        }
        for tier, rows in sorted(groups.items())
    }


def _conversations(cfg: RunConfig) -> list[dict]:
    from linguabridge.train.chats import load_conversations

    return load_conversations(resolve_inputs(cfg.conversations, "sft.jsonl"))


def stage_sft(cfg: RunConfig, run_dir: Path) -> dict:
    from linguabridge.train.post import run_sft
    from linguabridge.train.sft_data import build_sft_set, default_eval_files

    tok = _tokenizer(cfg)
    model = load_stage_model(cfg, run_dir, init_source(cfg, "sft"), tok)
    seed = _seed(cfg, cfg.sft)
    convs = build_sft_set(
        cfg.sft.post.data, _conversations(cfg), run_dir / "data" / "parallel" / "kept",
        default_eval_files(cfg.eval.data_dir), run_dir / "sft", seed, cfg.mixture.groups,
    )  # fmt: skip
    return run_sft(cfg.sft, convs, model, tok, run_dir / "sft", seed)


def stage_dpo(cfg: RunConfig, run_dir: Path) -> dict:
    from linguabridge.train.post import run_dpo
    from linguabridge.train.preferences import build_preference_set

    tok = _tokenizer(cfg)
    model = load_stage_model(cfg, run_dir, init_source(cfg, "dpo"), tok)
    seed = _seed(cfg, cfg.dpo)
    pairs = build_preference_set(
        cfg.dpo.post.preferences, _conversations(cfg), run_dir / "data" / "parallel" / "kept",
        model, tok, run_dir / "dpo", seed,
    )  # fmt: skip
    return run_dpo(cfg.dpo, pairs, model, tok, run_dir / "dpo", seed)


# ------------------------------------------------------------------------------------------ eval/report
def _checkpoint_name(cfg: RunConfig, run_dir: Path, label: str) -> str:
    """What ``load_stage_model`` loads for ``label``: the base model's name, a stage's model/ or a path."""
    if label == "base":
        return cfg.model.name_or_path
    return str(run_dir / label / "model") if label in STAGE_ORDER else label


def stage_eval(cfg: RunConfig, run_dir: Path) -> dict:
    from linguabridge.eval.compare import checkpoint_tables  # per tier, deltas vs the base checkpoint
    from linguabridge.eval.results import results_doc
    from linguabridge.eval.runner import evaluate

    tok = _tokenizer(cfg)
    rows: list[dict] = []
    names = {}
    with progress("eval", len(cfg.eval.stages), unit="checkpoints") as bar:
        for label in cfg.eval.stages:
            bar.update(info=label)
            model = load_stage_model(cfg, run_dir, label, tok)
            names[label] = _checkpoint_name(cfg, run_dir, label)
            res = evaluate(
                model, tok, cfg.eval, run_dir / "tokens", run_dir / "eval" / label / "results.json", label,
                model_name=names[label],
            )  # fmt: skip
            rows += res["rows"]
            bar.update(advance=1)
    final = cfg.eval.stages[-1]
    result = results_doc(names[final], rows, checkpoints=names)
    write_json(run_dir / "eval" / "results.json", result)
    (run_dir / "eval" / "tables.md").write_text(checkpoint_tables(result), encoding="utf-8")
    first, last = cfg.eval.stages[0], final
    return {
        "rows": len(rows),
        "checkpoints": cfg.eval.stages,
        "deltas_by_tier": deltas_by_tier(rows, first, last),
    }


def _tier(code: str) -> str:
    try:
        return get_language(code).tier or "other"
    except LinguabridgeError:
        return "other"


def deltas_by_tier(rows: list[dict], first: str, last: str) -> dict[str, dict[str, float]]:
    """``last`` minus ``first`` per tier and ``task metric``, averaged over the rows both checkpoints have."""

    def values(label: str) -> dict[tuple, float]:
        keys = ("task", "language", "metric", "direction", "subset")
        return {tuple(r.get(k) for k in keys): r["value"] for r in rows if r.get("checkpoint") == label}

    before, after = values(first), values(last)
    groups: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for key in sorted(before.keys() & after.keys(), key=str):
        task, lang, metric = key[:3]
        groups[_tier(lang)][f"{task} {metric}"].append(after[key] - before[key])
    return {
        tier: {name: sum(d) / len(d) for name, d in sorted(by.items())} for tier, by in sorted(groups.items())
    }


def stage_report(cfg: RunConfig, run_dir: Path) -> dict:
    from linguabridge.report.build import build_report
    from linguabridge.report.model_card import write_model_cards

    cards = write_model_cards(run_dir)  # each final checkpoint's README.md, with its own evaluation
    paths = build_report(run_dir, formats=cfg.report.formats)
    return {"files": [str(p.relative_to(run_dir)) for p in [*paths, *cards]]}


STAGES: list[Stage] = [
    Stage("data", stage_data, ("data", "languages"), describe=say.describe_data),
    Stage(
        "mixture",
        stage_mixture,
        ("data", "languages", "mixture", "tokenizer"),
        after=("data",),
        describe=say.describe_mixture,
    ),
    # Token shards resume per shard (tokens/_shards.json guards against stale ones), so no clean on retry.
    Stage(
        "tokens",
        stage_tokens,
        ("data", "languages", "mixture", "tokenizer"),
        ("mixture",),
        clean_on_retry=False,
        describe=say.describe_tokens,
    ),
    Stage(
        "cpt_stage1",
        stage_cpt("cpt_stage1"),
        ("model", "tokenizer", "mixture", "cpt_stage1"),
        ("tokens",),
        clean_on_retry=False,
        distributed=True,
        describe=say.describe_cpt("cpt_stage1"),
    ),
    Stage(
        "cpt_stage2",
        stage_cpt("cpt_stage2"),
        ("model", "tokenizer", "cpt_stage2"),
        ("cpt_stage1",),
        clean_on_retry=False,
        distributed=True,
        describe=say.describe_cpt("cpt_stage2"),
    ),
    Stage(
        "sft",
        stage_sft,
        ("model", "tokenizer", "sft", "conversations", "eval.data_dir"),  # decontaminated against eval data
        ("cpt_stage2",),
        clean_on_retry=False,
        distributed=True,
        describe=say.describe_sft,
    ),
    Stage(
        "dpo",
        stage_dpo,
        ("model", "tokenizer", "dpo", "conversations"),
        ("sft",),
        clean_on_retry=False,
        distributed=True,
        describe=say.describe_dpo,
    ),
    Stage("eval", stage_eval, ("model", "tokenizer", "eval"), ("dpo",), describe=say.describe_eval),
    # The report only reads the other stages' outputs: cheap, so it is rebuilt on every run.
    Stage("report", stage_report, ("report",), ("eval",), always=True, describe=say.describe_report),
]
STAGE_NAMES = [s.name for s in STAGES]

"""Run facts: the recipe, versions, seeds, hardware and wall time per stage (from the completion markers)."""

from __future__ import annotations

import json

from linguabridge.report import plots
from linguabridge.report.blocks import (
    Cell,
    Figure,
    Missing,
    Para,
    Part,
    Pre,
    Section,
    Table,
    num,
    pct,
)
from linguabridge.report.inputs import TRAIN_STAGES, RunData

HARDWARE_KEYS = ("platform", "cpu_count", "cuda", "gpu", "gpus", "gpu_count", "device", "hostname", "memory")
RECIPE_SOURCE_KEYS = ("recipe", "recipe_path", "recipe_files", "source")


def build(run: RunData) -> Section:
    sec = Section("facts", "Run facts")
    sec.parts = [_recipe(run), _versions(run), _wall_time(run)]
    return sec


def problems_part(run: RunData) -> Part | None:
    """Inputs that exist but could not be read (called last, after every section has read its files)."""
    if not run.problems:
        return None
    return Part("Input problems", [Para(p) for p in dict.fromkeys(run.problems)])


def _recipe(run: RunData) -> Part:
    title = "Recipe and seeds"
    r = run.recipe
    if not r:
        return Part(title, [Missing("the resolved recipe (recipe.resolved.json)")])
    facts = run.facts
    model = run.dict_at(r, "model")
    data = run.dict_at(r, "data")
    rows = [["run name", str(r.get("name", "–"))]]
    sources = [str(facts.get(k) or r.get(k)) for k in RECIPE_SOURCE_KEYS if facts.get(k) or r.get(k)]
    rows.append(["recipe files", ", ".join(sources) + "; resolved: recipe.resolved.json" if sources
                 else "recipe.resolved.json (the recipe after inherit and --set overrides)"])  # fmt: skip
    langs = r.get("languages") if isinstance(r.get("languages"), list) else []
    rows.append(["languages", f"{len(langs)}: {', '.join(map(str, langs))}" if langs else "–"])
    rows.append(["model", str(model.get("name_or_path", "–"))])
    tiny = model.get("tiny") if model.get("name_or_path") == "tiny-qwen2" else None
    if isinstance(tiny, dict):
        rows.append(["tiny model shape", ", ".join(f"{k}={v}" for k, v in tiny.items())])
    rows.append(["tokenizer", str(run.dict_at(r, "tokenizer").get("name_or_path", "–"))])
    for key in ("inputs", "parallel", "sft"):
        if data.get(key):
            rows.append([f"data.{key}", ", ".join(map(str, data[key]))])
    rows.append(["seed (run)", str(r.get("seed", "–"))])
    for stage in TRAIN_STAGES:
        if stage in r:
            own = run.dict_at(r, stage).get("seed")
            rows.append(
                [f"seed ({stage})", f"{run.stage_seed(stage)}" + ("" if own is not None else " (the run's)")]
            )
    return Part(
        title,
        [
            Table(["fact", "value"], rows),
            Pre("recipe.resolved.json", json.dumps(r, indent=2, ensure_ascii=False)),
        ],
    )


def _versions(run: RunData) -> Part:
    title = "Versions and hardware"
    facts = dict(run.facts)
    known = {k.replace("_", "-") for k in facts}
    for k, v in run.eval_packages.items():
        if k.replace("_", "-") not in known:  # eval spells lm-eval as lm_eval
            facts[k] = v
    if not facts:
        return Part(title, [Missing("run facts (run_facts.json)")])
    hw = [[k, "–" if facts[k] is None else str(facts[k])] for k in HARDWARE_KEYS if k in facts]
    if "cuda" in facts and facts["cuda"] is None:
        hw = [row if row[0] != "cuda" else ["cuda", "none (CPU run)"] for row in hw]
    skip = set(HARDWARE_KEYS) | set(RECIPE_SOURCE_KEYS)
    versions = [[k, str(v)] for k, v in facts.items() if k not in skip and not isinstance(v, (dict, list))]
    return Part(title, [Table(["package", "version"], versions), Table(["hardware", "value"], hw)])


def _wall_time(run: RunData) -> Part:
    title = "Wall time per stage"
    markers = run.markers()
    timed = {s: m["seconds"] for s, m in markers.items() if isinstance(m.get("seconds"), (int, float))}
    if not timed:
        return Part(title, [Missing("stage completion markers (<stage>/_COMPLETE.json)")])
    total = sum(timed.values())
    rows = []
    for s, m in markers.items():
        summary = m.get("summary")
        brief = json.dumps(summary, ensure_ascii=False) if summary else "–"
        secs = timed.get(s)
        rows.append(
            [
                s,
                num(secs, 4),
                pct(secs / total if secs is not None and total else None),
                str(m.get("fingerprint", "–")),
                Cell(brief if len(brief) <= 100 else brief[:97] + "…", title=brief),
            ]
        )
    blocks = [
        Para(f"Total {total:.1f} s ({total / 60:.1f} min) over {len(timed)} completed stages."),
        Table(["stage", "seconds", "share", "config fingerprint", "stage summary"], rows),
    ]
    if plots.available():
        uri = plots.wall_time(list(timed), list(timed.values()))
        if uri:
            blocks.append(Figure(uri, "wall time per stage"))
    return Part(title, blocks)

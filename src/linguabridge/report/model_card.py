"""Model cards: each final checkpoint's ``README.md`` says what it is, in the Hub's model-card format.

Written by the report stage (the last one), so the card carries the evaluation of its own checkpoint: the
base model, the languages, the stages it went through, the data of its stage and its scores against the base.
TRL's own card (``checkpoints/README.md``, "a fine-tuned version of [None]") is replaced by the same text.
"""

from __future__ import annotations

from pathlib import Path

from linguabridge.config import CPT_STAGES, POST_STAGES
from linguabridge.io import temp_path
from linguabridge.languages import get_language
from linguabridge.report.inputs import RunData, language_name

KIND = {"cpt_stage1": "continual pretraining, stage I", "cpt_stage2": "continual pretraining, stage II",
        "sft": "supervised fine-tuning", "dpo": "preference optimisation (DPO)"}  # fmt: skip


def _iso(code: str) -> str:
    try:
        return get_language(code).iso639_1 or code
    except Exception:  # a code the registry does not know stays as written
        return code


def _chain(run: RunData, stage: str) -> list[str]:
    """The stages this checkpoint descends from, base first."""
    order = [*CPT_STAGES, *POST_STAGES]
    chain, current = [stage], stage
    while True:
        init = run.dict_at(run.recipe, current).get("init_from", "previous")
        if init == "previous":
            i = order.index(current)
            init = order[i - 1] if i else "base"
        if init not in order:
            return ["base", *reversed(chain)]
        chain.append(init)
        current = init


def _data_lines(run: RunData, stage: str) -> list[str]:
    if stage in CPT_STAGES:
        name = run.dict_at(run.recipe, stage).get("mixture_stage")
        plan = next((s for s in (run.plan or {}).get("stages", []) if s.get("name") == name), None)
        if not plan:
            return ["- mixture plan: not available in this run"]
        top = sorted(plan.get("sources", []), key=lambda s: -s.get("tokens", 0))
        lines = [f"- {plan.get('tokens', 0):,} tokens from mixture stage `{name}`:"]
        lines += [f"  - {language_name(s['name'])}: {s['tokens']:,} tokens ({100 * s['share']:.1f}%)" for s in top]
        return lines
    stats = run.json("sft/data_stats.json" if stage == "sft" else "dpo/pairs_stats.json") or {}
    per = stats.get("per_language") or {}
    what = "examples" if stage == "sft" else "preference pairs"
    total = stats.get("examples", stats.get("pairs", sum(per.values()) if per else None))
    lines = [f"- {total if total is not None else 'unknown number of'} {what}"]
    lines += [f"  - {language_name(k)}: {v}" for k, v in sorted(per.items())]
    return lines


def _eval_lines(run: RunData, stage: str) -> list[str]:
    rows = [r for r in run.eval_rows if r.get("checkpoint") == stage]
    if not rows:
        return ["Not evaluated in this run (add the stage to `eval.stages`)."]
    base = {(r["task"], r["language"], r["metric"]): r["value"] for r in run.eval_rows if r.get("checkpoint") == "base"}
    out = ["| task | language | metric | value | n | vs base |", "|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["task"], r["language"], r["metric"])):
        b = base.get((r["task"], r["language"], r["metric"]))
        delta = f"{r['value'] - b:+.4g}" if b is not None else ""
        n = r.get("n", "")
        out.append(f"| {r['task']} | {language_name(r['language'])} | {r['metric']} | {r['value']:.4g} | {n} | {delta} |")
    return out


def model_card(run: RunData, stage: str) -> str:
    recipe = run.recipe
    base = run.dict_at(recipe, "model").get("name_or_path", "unknown")
    langs = recipe.get("languages") or []
    chain = _chain(run, stage)
    front = ["---", "library_name: transformers", "pipeline_tag: text-generation"]
    if base and base != "tiny-qwen2":
        front.append(f"base_model: {base}")
    if langs:
        front += ["language:", *[f"- {_iso(c)}" for c in langs]]
    front += ["tags:", "- linguabridge", "- multilingual", f"- {stage.replace('_', '-')}", "---", ""]
    body = [
        f"# {recipe.get('name', 'run')}: {stage}",
        "",
        f"{KIND.get(stage, stage).capitalize()} of `{base}` with linguabridge, the Marco-LLM recipe "
        "(arXiv 2412.04003).",
        "",
        f"Stages: {' -> '.join(chain)}. Languages: {', '.join(language_name(c) for c in langs) or 'not recorded'}.",
        "",
        "## Training data of this stage",
        "",
        *_data_lines(run, stage),
        "",
        "## Evaluation",
        "",
        *_eval_lines(run, stage),
        "",
        "## Use",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "",
        f'tokenizer = AutoTokenizer.from_pretrained("{stage}/model")',
        f'model = AutoModelForCausalLM.from_pretrained("{stage}/model")',
        "```",
        "",
    ]
    return "\n".join(front + body)


def write_model_cards(run_dir: str | Path) -> list[Path]:
    """Write ``<stage>/model/README.md`` for every trained stage (and replace TRL's checkpoints card)."""
    run = RunData(run_dir)
    written = []
    for stage in (*CPT_STAGES, *POST_STAGES):
        model_dir = run.dir / stage / "model"
        if not model_dir.is_dir():
            continue
        card = model_card(run, stage)
        for target in (model_dir / "README.md", run.dir / stage / "checkpoints" / "README.md"):
            if target.parent.is_dir():
                tmp = temp_path(target)
                tmp.write_text(card, encoding="utf-8")
                tmp.replace(target)
                written.append(target)
    return written

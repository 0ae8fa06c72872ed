"""Mixture: planned vs available tokens per source and stage (Table 1 style), utilisation, epochs, the plan."""

from __future__ import annotations

from linguabridge.config import CPT_STAGES
from linguabridge.report import plots
from linguabridge.report.blocks import Cell, Figure, Missing, Para, Part, Section, Table, fmt_num, num, tokens
from linguabridge.report.inputs import RunData, by_tier, tier_of

# More passes than this over one source is flagged: returns from repeated data fall off after ~4 epochs
# (Muennighoff et al. 2023, "Scaling Data-Constrained Language Models"). Overridable: report.repeat_warn_epochs.
DEFAULT_REPEAT_WARN_EPOCHS = 4.0


def _num(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def build(run: RunData) -> Section:
    sec = Section("mixture", "Mixture")
    plan = run.plan if isinstance(run.plan, dict) else None
    stages = [s for s in (plan or {}).get("stages") or [] if isinstance(s, dict) and s.get("name")]
    if not stages:
        sec.parts = [Part("Planned vs available tokens", [Missing("the mixture plan (mixture/plan.json)")])]
        return sec
    warn = _num(run.dict_at(run.recipe, "report").get("repeat_warn_epochs")) or DEFAULT_REPEAT_WARN_EPOCHS
    names = [s["name"] for s in stages]
    planned: dict[tuple[str, str], float] = {}
    epochs: dict[tuple[str, str], float] = {}
    shares: dict[tuple[str, str], float] = {}
    for st in stages:
        for src in st.get("sources") or []:
            if isinstance(src, dict) and src.get("name"):
                key = (st["name"], src["name"])
                planned[key] = _num(src.get("tokens")) or 0.0
                if _num(src.get("epochs")) is not None:
                    epochs[key] = _num(src["epochs"])
                if _num(src.get("share")) is not None:
                    shares[key] = _num(src["share"])
    totals = {s.get("name"): s for s in plan.get("sources") or [] if isinstance(s, dict)}
    inventory = run.inventory
    source_names = list(dict.fromkeys([n for _, n in planned] + list(totals)))
    langs = [s for s in source_names if tier_of(s) is not None or "_" in s]
    source_names = by_tier(langs) + [s for s in source_names if s not in langs]
    realised = _realised(run, names)

    headers = ["group", "source", "available"]
    for n in names:
        headers += [f"{n} planned", f"{n} share", f"{n} epochs"] + (
            [f"{n} realised"] if n in realised else []
        )
    headers += ["used", "utilisation"]
    rows, flagged = [], []
    for s in source_names:
        t = totals.get(s, {})
        avail = _num(t.get("available"))
        if avail is None and isinstance(inventory.get(s), dict):
            avail = _num(inventory[s].get("tokens"))
        used = _num(t.get("used"))
        if used is None:
            used = sum(planned.get((n, s), 0.0) for n in names)
        util = _num(t.get("utilisation"))
        if util is None and avail:
            util = used / avail
        row = [_group(s), s, tokens(avail)]
        over = False
        for n in names:
            ep = epochs.get((n, s))
            hot = ep is not None and ep > warn
            over |= hot
            row += [
                tokens(planned.get((n, s))),
                _share(shares.get((n, s))),
                num(ep, 3, "warn" if hot else None),
            ]
            if n in realised:
                row.append(tokens(realised[n].get(s)))
        hot_total = util is not None and util > warn
        over |= hot_total
        row += [
            tokens(used),
            Cell("–" if util is None else f"{100 * util:.1f}%", util, "warn" if hot_total else None),
        ]
        if over:
            flagged.append((s, util, max((epochs.get((n, s)) or 0.0) for n in names)))
            row[1] = Cell(s, style="warn")
        rows.append(row)
    blocks = [
        Para(
            "Stage budgets: "
            + ", ".join(f"{s['name']} {fmt_num(_num(s.get('tokens')))} tokens" for s in stages)
            + ". Available = training tokens of each source after curation (held-out documents excluded); "
            "used = planned tokens over all stages; utilisation = used / available (Marco-LLM Table 1), so "
            "200% means the run reads the source's data twice."
        ),
        Table(
            headers,
            rows,
            caption=f"over-repeated, highlighted: more than {warn:g} epochs in a stage or utilisation above "
            f"{100 * warn:.0f}% (report.repeat_warn_epochs)",
        ),
    ]
    if flagged:
        blocks.append(
            Para(
                f"Over-repeated (read more than {warn:g} times): "
                + "; ".join(
                    f"{s} (utilisation {100 * (u or 0):.0f}%, up to {fmt_num(e, 3)} epochs in one stage)"
                    for s, u, e in flagged
                )  # fmt: skip
                + "."
            )
        )
    else:
        blocks.append(Para(f"No source is read more than {warn:g} times."))
    notes = [n for n in plan.get("notes") or [] if n]
    if notes:
        blocks.append(Para("Planner notes: " + "; ".join(str(n) for n in notes)))
    moved = [r for r in plan.get("redistributed") or [] if isinstance(r, dict)]
    if moved:
        rows = [[str(r.get("stage", "")), str(r.get("source", "")), tokens(_num(r.get("wanted"))),
                 tokens(_num(r.get("planned")))] for r in moved]  # fmt: skip
        blocks.append(
            Table(
                ["stage", "source", "wanted", "planned"], rows, caption="Shortfalls the planner redistributed"
            )
        )
    inv = run.json("mixture/inventory.json") or {}  # the inventory the plan used says whether it estimated
    if isinstance(inv, dict) and inv.get("mode") and inv.get("mode") != "exact":
        blocks.append(
            Para(
                f"Available tokens are estimated ({inv['mode']}, sample rate {fmt_num(inv.get('sample_rate'))})."
            )
        )
    if plots.available():
        uri = plots.mixture_plan(names, source_names, {s: tier_of(s) for s in source_names}, planned)
        if uri:
            blocks.append(Figure(uri, "the mixture plan per stage"))
    sec.parts = [Part("Planned vs available tokens per source and stage", blocks)]
    return sec


def _group(source: str) -> str:
    tier = tier_of(source)
    return {"high": "high-resource", "low": "low-resource"}.get(tier, "language" if "_" in source else source)


def _share(v) -> Cell:
    return Cell("–" if v is None else f"{100 * v:.1f}%", v)


def _realised(run: RunData, plan_stages: list[str]) -> dict[str, dict]:
    """Tokens per source each CPT stage actually served (its summary), keyed by the plan stage it realised."""
    out = {}
    for stage in CPT_STAGES:
        got = run.summary(stage).get("realised_tokens")
        name = run.dict_at(run.recipe, stage).get("mixture_stage")
        if isinstance(got, dict) and name in plan_stages:
            out[name] = got
    return out

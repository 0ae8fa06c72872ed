"""Training: loss and LR over tokens across stages, held-out loss / bits per byte per language by tier,
throughput and MFU, forgetting-guard events, SFT and DPO curves.

Over 400 lines on purpose: the section's seven parts share one :class:`Timeline` (the stages laid end to end
on a token axis) and read top to bottom in the order the page shows them; split up, each part would need the
timeline and the stage list passed around again for no gain in reading.
"""

from __future__ import annotations

import json
import math
import statistics

from linguabridge import metric_keys as mk
from linguabridge.report import plots
from linguabridge.report.blocks import (
    Cell,
    Figure,
    Missing,
    Para,
    Part,
    Section,
    Table,
    delta,
    fmt_num,
    fmt_tokens,
    num,
    pct,
    tokens,
)
from linguabridge.report.inputs import TIER_NAMES, TRAIN_STAGES, RunData, by_tier, language_name, tier_of

POST_METRICS = {  # (metric key, label, better: "up"/"down"/None, drawn) for the post-training stages
    "sft": [
        (mk.LOSS, "loss", "down", True),
        ("mean_token_accuracy", "token accuracy", "up", True),
        ("entropy", "entropy", None, False),
    ],
    "dpo": [
        (mk.LOSS, "loss", "down", True),
        ("rewards/margins", "reward margin (chosen - rejected)", "up", True),
        ("rewards/accuracies", "reward accuracy", "up", True),
        ("rewards/chosen", "reward chosen", "up", False),
        ("rewards/rejected", "reward rejected", "down", False),
    ],
}


def _f(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _is_train_row(r: dict) -> bool:
    return _f(r.get(mk.LOSS)) is not None and _f(r.get(mk.STEP)) is not None and mk.EVENT not in r


class Timeline:
    """Places every stage's rows on one axis: tokens seen since the start of the run (steps as a fallback)."""

    def __init__(self, run: RunData):
        self.stages = [s for s in TRAIN_STAGES if run.metrics(s)]
        self.tps = {s: _f(run.summary(s).get("tokens_per_step")) for s in self.stages}
        has_tokens = all(any(self._own_x(s, r) is not None for r in run.metrics(s)) for s in self.stages)
        self.unit = "tokens" if has_tokens else "steps"
        self.start, self.end = {}, {}
        offset = 0.0
        for s in self.stages:
            xs = [x for r in run.metrics(s) if (x := self._local(s, r)) is not None]
            self.start[s] = offset
            total = _f(run.summary(s).get("tokens")) if self.unit == "tokens" else None
            self.end[s] = offset + max(xs + [total or 0.0])
            offset = self.end[s]

    def _own_x(self, stage: str, r: dict) -> float | None:
        for key in (mk.TOKENS, mk.NUM_TOKENS):  # CPT logs tokens; TRL logs cumulative num_tokens
            if _f(r.get(key)) is not None:
                return _f(r[key])
        if self.tps.get(stage) and _f(r.get(mk.STEP)) is not None:
            return self.tps[stage] * r[mk.STEP]
        return None

    def _local(self, stage: str, r: dict) -> float | None:
        return self._own_x(stage, r) if self.unit == "tokens" else _f(r.get(mk.STEP))

    def x(self, stage: str, r: dict) -> float | None:
        local = self._local(stage, r)
        return None if local is None else self.start[stage] + local

    @property
    def label(self) -> str:
        return (
            "tokens since the start of CPT stage I"
            if self.unit == "tokens"
            else "optimizer steps (all stages)"
        )


def build(run: RunData) -> Section:
    sec = Section("training", "Training")
    tl = Timeline(run)
    if not tl.stages:
        sec.parts = [Part("Loss and learning rate", [Missing("training metrics (<stage>/metrics.jsonl)")])]
        return sec
    sec.parts = [
        _curves(run, tl),
        _per_language_train(run, tl),
        _heldout(run, tl),
        _throughput(run, tl),
        _forgetting(run, tl),
        _post(run),
    ]
    return sec


# ------------------------------------------------------------------------------------------ loss / LR
def _curves(run: RunData, tl: Timeline) -> Part:
    curves, rows = [], []
    markers = run.markers()
    for s in tl.stages:
        pts = [(x, r) for r in run.metrics(s) if _is_train_row(r) and (x := tl.x(s, r)) is not None]
        pts.sort(key=lambda p: p[0])
        losses = [r[mk.LOSS] for _, r in pts]
        lrs = [_f(r.get(mk.LEARNING_RATE)) for _, r in pts]
        if pts:
            curves.append(
                {
                    "stage": s,
                    "x": [x for x, _ in pts],
                    "loss": losses,
                    "lr": [math.nan if v is None else v for v in lrs],
                    "start": tl.start[s],
                    "end": tl.end[s],
                    "unit": tl.unit,
                }
            )
        steps = max((r[mk.STEP] for r in run.metrics(s) if _f(r.get(mk.STEP)) is not None), default=None)
        lr_known = [v for v in lrs if v is not None]
        rows.append(
            [
                s,
                num(steps),
                tokens(tl.end[s] - tl.start[s]) if tl.unit == "tokens" else Cell("–"),
                num(losses[0] if losses else None),
                num(losses[-1] if losses else None),
                num(min(losses) if losses else None),
                num(max(lr_known) if lr_known else None, 3),
                num(lr_known[-1] if lr_known else None, 3),
                num(_f(markers.get(s, {}).get("seconds")), 4),
            ]
        )
    blocks = [
        Table(
            [
                "stage",
                "steps",
                "tokens",
                "first loss",
                "last loss",
                "min loss",
                "peak LR",
                "final LR",
                "wall s",
            ],
            rows,
        )
    ]
    if plots.available():
        for uri, alt in (
            (plots.training_curves(curves, tl.label), "training loss and learning rate over the run"),
            (plots.per_stage_loss(curves), "training loss per stage"),
        ):
            if uri:
                blocks.append(Figure(uri, alt))
    return Part("Loss and learning rate over tokens, all stages on one axis", blocks)


def _language_tokens(run: RunData, stage: str, rows: list[dict], lang: str) -> float | None:
    """Tokens a stage trained on in ``lang``: the summary's count, else the last logged running total."""
    summary = run.summary(stage)
    for key in ("language_tokens", "realised_tokens"):
        got = summary.get(key)
        if isinstance(got, dict) and _f(got.get(lang)) is not None:
            return _f(got[lang])
    vals = [v for r in rows if (v := _f(r.get(mk.language_tokens(lang)))) is not None]
    return vals[-1] if vals else None


def _per_language_train(run: RunData, tl: Timeline) -> Part:
    """Training loss per language at the start and end of each stage, and the tokens it saw per language."""
    title = "Training loss and tokens per language"
    per_stage = {}
    for s in tl.stages:
        rows = [r for r in run.metrics(s) if _is_train_row(r)]
        langs = {k.removeprefix(mk.LANGUAGE_LOSS) for r in rows for k in r if k.startswith(mk.LANGUAGE_LOSS)}
        if langs:
            per_stage[s] = (rows, langs)
    if not per_stage:
        return Part(title, [Missing("per-language training loss (loss/<lang> in the CPT metrics)")])
    langs = by_tier(set().union(*(ls for _, ls in per_stage.values())))
    headers = ["language", "tier"]
    for s in per_stage:
        headers += [f"{s} tokens", f"{s} loss (first)", f"{s} loss (last)", f"{s} Δ"]
    rows_out = []
    for lang in langs:
        row = [lang, tier_of(lang) or ""]
        for s, (rows, _) in per_stage.items():
            vals = [v for r in rows if (v := _f(r.get(mk.language_loss(lang)))) is not None]
            k = max(1, min(3, len(vals) // 4))  # a few logged windows at each end smooth single-batch noise
            first = statistics.fmean(vals[:k]) if vals else None
            last = statistics.fmean(vals[-k:]) if vals else None
            row += [tokens(_language_tokens(run, s, rows, lang)), num(first), num(last)]
            row.append(delta(None if first is None or last is None else last - first, lower_is_better=True))
        rows_out.append(row)
    return Part(
        title,
        [
            Table(
                headers,
                rows_out,
                caption="loss from the packed training batches (tokens of each language); first/last: mean of "
                "the first/last few logged values of the stage",
            )
        ],
    )


# ------------------------------------------------------------------------------------------ held-out
def _heldout_points(run: RunData, tl: Timeline) -> dict[str, dict[str, list[tuple[float, float, float]]]]:
    """{stage: {language: [(x, loss, bpb), ...]}} from the ``heldout/<lang>/<metric>`` rows."""
    out: dict[str, dict[str, list]] = {}
    for s in tl.stages:
        for r in run.metrics(s):
            x = tl.x(s, r)
            langs = {k.split("/")[1] for k in r if k.startswith(mk.HELDOUT) and k.count("/") == 2}
            for lang in langs:
                loss, bpb = _f(r.get(mk.heldout(lang, "loss"))), _f(r.get(mk.heldout(lang, "bpb")))
                if x is not None and (loss is not None or bpb is not None):
                    out.setdefault(s, {}).setdefault(lang, []).append((x, loss, bpb))
    for per_lang in out.values():
        for pts in per_lang.values():
            pts.sort(key=lambda p: p[0])
    return out


def _heldout(run: RunData, tl: Timeline) -> Part:
    title = "Held-out loss and bits per byte per language, by tier"
    pts = _heldout_points(run, tl)
    if not pts:
        return Part(title, [Missing("held-out measurements (heldout/<lang>/bpb rows in the CPT metrics)")])
    stages = [s for s in tl.stages if s in pts]
    langs = by_tier({lang for per in pts.values() for lang in per})
    metric = (
        "bpb" if any(p[2] is not None for per in pts.values() for v in per.values() for p in v) else "loss"
    )
    idx = 2 if metric == "bpb" else 1

    def first(stage, lang):
        v = [p[idx] for p in pts[stage].get(lang, []) if p[idx] is not None]
        return v[0] if v else None

    def last(stage, lang):
        v = [p[idx] for p in pts[stage].get(lang, []) if p[idx] is not None]
        return v[-1] if v else None

    headers = ["language", "name", "tier", f"{metric} at start"] + [f"after {s}" for s in stages]
    headers += [f"Δ {s}" for s in stages] + ["Δ total", "Δ total %"]
    rows = []
    for lang in langs:
        start = first(stages[0], lang)
        ends = [last(s, lang) for s in stages]
        row = [lang, language_name(lang), tier_of(lang) or "", num(start)] + [num(e) for e in ends]
        for s in stages:
            a, b = first(s, lang), last(s, lang)
            row.append(delta(None if a is None or b is None else b - a, lower_is_better=True))
        end = next((e for e in reversed(ends) if e is not None), None)
        d = None if start is None or end is None else end - start
        row += [delta(d, lower_is_better=True), pct(d / start if d is not None and start else None)]
        rows.append(row)
    blocks = [
        Para(
            f"Held-out documents of each language (carved out before packing), measured at the start of each "
            f"stage and every eval_every steps; {'bits per byte (comparable across tokenizers)' if metric == 'bpb' else 'loss'}, "
            "lower is better. Green: the language improved, red: it regressed."
        ),
        Table(headers, rows),
        _tradeoff(stages, langs, first, last, metric),
    ]
    if plots.available():
        series = {}
        for lang in langs:
            xs, ys = [], []
            for s in stages:
                for p in pts[s].get(lang, []):
                    if p[idx] is not None:
                        xs.append(p[0])
                        ys.append(p[idx])
            series[lang] = (xs, ys)
        boundaries = [tl.start[s] for s in stages[1:]]
        uri = plots.heldout_curves(series, {lang: tier_of(lang) for lang in langs}, boundaries, tl.label)
        if uri:
            blocks.append(Figure(uri, f"held-out {metric} per language over the run"))
    return Part(title, blocks)


def _tradeoff(stages, langs, first, last, metric) -> Table:
    """Per stage and tier: the mean change and how many languages gained or lost (the forgetting trade-off)."""
    rows = []
    for s in stages:
        for tier in ("high", "low", None):
            ds = [
                last(s, lang) - first(s, lang)
                for lang in langs
                if tier_of(lang) == tier and first(s, lang) is not None and last(s, lang) is not None
            ]
            if not ds:
                continue
            rows.append(
                [
                    s,
                    TIER_NAMES[tier],
                    num(len(ds)),
                    delta(statistics.fmean(ds), lower_is_better=True),
                    num(sum(d < 0 for d in ds)),
                    num(sum(d > 0 for d in ds), style="loss" if any(d > 0 for d in ds) else None),
                ]
            )
    return Table(
        ["stage", "tier", "languages", f"mean Δ {metric}", "improved", "regressed"],
        rows,
        caption="Trade-off per stage: low-resource gain against high-resource loss",
    )


# ------------------------------------------------------------------------------------------ throughput
def _logged(ms: list[dict], key: str) -> tuple[list, list]:
    """(steps, values) of the rows that log ``key``."""
    pts = [(r.get(mk.STEP), r[key]) for r in ms if _f(r.get(key)) is not None]
    return [p[0] for p in pts], [p[1] for p in pts]


def _throughput(run: RunData, tl: Timeline) -> Part:
    stats, panels, peaks = [], [], set()
    markers = run.markers()
    for s in tl.stages:
        ms = run.metrics(s)
        final = next((r for r in reversed(ms) if _f(r.get(mk.TRAIN_RUNTIME))), {})
        runtime = _f(final.get(mk.TRAIN_RUNTIME))
        source = "trainer"
        if runtime is None and _f(markers.get(s, {}).get("seconds")):
            runtime, source = markers[s]["seconds"], "stage wall time"
        n_tok = tl.end[s] - tl.start[s] if tl.unit == "tokens" else None
        t_steps, tput = _logged(ms, mk.TOKENS_PER_S)
        _, tflops = _logged(ms, mk.TFLOPS_PER_DEVICE)
        m_steps, mfu = _logged(ms, mk.MFU)
        start = next((r for r in ms if r.get(mk.EVENT) in (mk.START, mk.RESUMED)), {})
        peaks.add(_f(start.get(mk.PEAK_TFLOPS)))
        flops = _f(final.get(mk.TOTAL_FLOS))
        sps = _f(final.get(mk.TRAIN_SAMPLES_PER_SECOND))
        stats.append((s, runtime, source, n_tok, tput, tflops, sps, flops, mfu))
        if tput:
            panels.append(("tokens/s", s, t_steps, tput))
        if mfu:
            panels.append(("MFU", s, m_steps, mfu))
    any_tput, any_tflops = any(st[4] for st in stats), any(st[5] for st in stats)
    headers = ["stage", "runtime s", "runtime from", "tokens/s (tokens / runtime)"]
    headers += ["tokens/s (logged, mean)"] if any_tput else []
    headers += ["TFLOP/s per device (logged, mean)"] if any_tflops else []
    headers += ["samples/s", "FLOP/s (HF total_flos / runtime)", "MFU (logged, mean)"]
    rows = []
    for s, runtime, source, n_tok, tput, tflops, sps, flops, mfu in stats:
        row = [s, num(runtime, 4), source if runtime else "–"]
        row.append(num(n_tok / runtime if n_tok and runtime else None, 4))
        if any_tput:
            row.append(num(statistics.fmean(tput) if tput else None, 4))
        if any_tflops:
            row.append(num(statistics.fmean(tflops) if tflops else None, 4))
        fps = flops / runtime if flops and runtime else None
        row += [num(sps, 4), Cell("–" if fps is None else f"{fps:.3g}", fps)]
        row.append(pct(statistics.fmean(mfu)) if mfu else Cell("not logged"))
        rows.append(row)
    peak = sorted(p for p in peaks if p)
    blocks = [
        Table(
            headers,
            rows,
            caption="runtime and FLOPs from the trainer's final log row (train_runtime, total_flos); MFU as the "
            "trainer logs it (model FLOPs over the device's dense bf16 peak"
            + (f": {', '.join(fmt_num(p) for p in peak)} TFLOP/s" if peak else "; none known for this device")
            + ")",
        )
    ]
    if plots.available() and panels:
        uri = plots.metric_panels(panels[:4])
        if uri:
            blocks.append(Figure(uri, "throughput and MFU per step"))
    return Part("Throughput and MFU", blocks)


# ------------------------------------------------------------------------------------------ forgetting
ROUTINE_EVENTS = {mk.BASELINE, mk.START}  # logged by every CPT run; not worth a row in the report


def _forgetting(run: RunData, tl: Timeline) -> Part:
    title = "Forgetting-guard events"
    cpt = [s for s in tl.stages if any(k.startswith(mk.HELDOUT) for r in run.metrics(s) for k in r)]
    logged = [(s, r) for s in tl.stages for r in run.metrics(s) if r.get(mk.EVENT)]
    events = [(s, r) for s, r in logged if r[mk.EVENT] == mk.FORGETTING]
    others = [(s, r) for s, r in logged if r[mk.EVENT] not in (mk.FORGETTING, *ROUTINE_EVENTS)]
    if not cpt and not logged:
        return Part(title, [Missing("the forgetting guard (held-out rows and events in the CPT metrics)")])
    margins = {s: run.dict_at(run.recipe, s).get("forgetting_margin") for s in cpt}
    margin_text = ", ".join(
        f"{s}: {fmt_num(100 * m, 3)}%" for s, m in margins.items() if isinstance(m, (int, float))
    )
    blocks = [
        Para(
            "The guard compares each guarded (high-resource) language's held-out loss with the starting model's "
            "and logs an event when it rises by more than the margin"
            + (f" ({margin_text})." if margin_text else ".")
        )
    ]
    if events:
        rows = []
        for s, r in events:
            reg = _f(r.get(mk.REGRESSION))
            x = tl.x(s, r)
            margin = _f(r.get(mk.MARGIN))
            rows.append(
                [
                    s,
                    num(_f(r.get(mk.STEP))),
                    Cell(fmt_tokens(x) if x is not None and tl.unit == "tokens" else "–", x),
                    str(r.get(mk.LANGUAGE, "")),
                    num(_f(r.get(mk.BASELINE_HELDOUT_LOSS))),
                    num(_f(r.get(mk.HELDOUT_LOSS))),
                    pct(reg, style="loss" if reg and reg > 0 else None),
                    pct(margin),
                    str(r.get(mk.ACTION) or "–"),
                ]
            )
        headers = ["stage", "step", "at tokens", "language", "baseline loss", "held-out loss", "regression"]
        blocks.append(Table(headers + ["margin", "action"], rows))
    else:
        blocks.append(
            Para("No forgetting-guard event in this run: no guarded language regressed past the margin.")
        )
    if others:
        rows = []
        for s, r in others:
            rest = {k: v for k, v in r.items() if k not in (mk.STEP, mk.EVENT)}
            brief = json.dumps(rest, ensure_ascii=False, default=str)
            rows.append(
                [
                    s,
                    num(_f(r.get(mk.STEP))),
                    str(r[mk.EVENT]),
                    Cell(brief if len(brief) <= 120 else brief[:117] + "…", title=brief),
                ]
            )
        blocks.append(Table(["stage", "step", "event", "details"], rows, caption="Other training events"))
    return Part(title, blocks)


# ------------------------------------------------------------------------------------------ SFT / DPO
def _post(run: RunData) -> Part:
    title = "SFT and DPO curves"
    rows, panels, warnings = [], [], []
    for stage, metrics in POST_METRICS.items():
        ms = [r for r in run.metrics(stage) if _f(r.get(mk.STEP)) is not None and mk.TRAIN_RUNTIME not in r]
        for key, label, better, drawn in metrics:
            pts = [(r[mk.STEP], r[key]) for r in ms if _f(r.get(key)) is not None]
            if not pts:
                continue
            vals = [v for _, v in pts]
            tail = vals[-max(1, len(vals) // 4) :]
            change = vals[-1] - vals[0]
            rows.append(
                [
                    stage,
                    label,
                    num(len(vals)),
                    num(vals[0]),
                    num(vals[-1]),
                    delta(change, lower_is_better=better == "down") if better else num(change, 3),
                    num(statistics.fmean(tail)),
                    num(min(vals)),
                    num(max(vals)),
                ]
            )
            if drawn:
                panels.append((label, stage, [p[0] for p in pts], vals))
            if key == mk.LOSS and len(vals) > 1 and statistics.fmean(tail) > vals[0]:
                warnings.append(
                    f"Warning: {stage} loss rose, {fmt_num(vals[0])} -> {fmt_num(vals[-1])} (mean of the last quarter "
                    f"{fmt_num(statistics.fmean(tail))}) over {len(vals)} logged steps: the stage did not learn its "
                    f"objective. Try a lower {stage}.optim.lr{' or a larger dpo.beta' if stage == 'dpo' else ''}, "
                    "or more steps."
                )
    if not rows:
        return Part(title, [Missing("SFT/DPO metrics (sft/metrics.jsonl, dpo/metrics.jsonl)")])
    blocks = [
        Table(
            [
                "stage",
                "metric",
                "logged steps",
                "first",
                "last",
                "last - first",
                "mean of last quarter",
                "min",
                "max",
            ],
            rows,
            caption="DPO reward margin = reward(chosen) - reward(rejected); reward accuracy = share of pairs "
            "where chosen beats rejected. Green/red: the change went the desired way or not.",
        )
    ]
    blocks += [Para(w) for w in warnings]
    if plots.available():
        uri = plots.metric_panels(panels)
        if uri:
            blocks.append(Figure(uri, "SFT and DPO curves"))
    missing = [s for s in POST_METRICS if not any(r[0] == s for r in rows)]
    blocks += [Missing(f"{s} metrics ({s}/metrics.jsonl)") for s in missing]
    return Part(title, blocks)

"""The report's charts, drawn with matplotlib and embedded as PNG data URIs (no file beside the page).

Every function returns a data URI, or None when there is nothing to draw. Charts label languages by code
(ASCII), so no font with every script is needed.
"""

from __future__ import annotations

import base64
import io
import math

STAGE_COLOURS = {
    "cpt_stage1": "#4C72B0",
    "cpt_stage2": "#55A868",
    "sft": "#C44E52",
    "dpo": "#8172B2",
}
TIER_COLOURS = {"high": "#4C72B0", "low": "#DD8452", None: "#8C8C8C"}
DPI = 100


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # headless: the report is built on servers and in CI
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {"font.size": 9, "axes.titlesize": 10, "axes.spines.top": False, "axes.spines.right": False}
    )
    return plt


def _uri(fig) -> str:
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


# ------------------------------------------------------------------------------------------ data
def funnel(languages: list[str], kept: list[int], reasons: dict[str, list[int]]) -> str | None:
    """Documents per language as stacked bars: kept, then each reject reason."""
    if not languages:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.6, 0.2 * len(languages) + 1.6), layout="constrained")
    ys = range(len(languages))
    ax.barh(ys, kept, color="#55A868", label="kept")
    left = list(kept)
    cmap = plt.get_cmap("tab10")
    for i, (reason, counts) in enumerate(sorted(reasons.items())):
        ax.barh(ys, counts, left=left, color=cmap((i + 3) % 10), label=f"rejected: {reason}")
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set_yticks(list(ys), languages)
    ax.invert_yaxis()
    ax.set_xlabel("documents")
    ax.set_title("Documents per identified language: kept and rejected by reason")
    fig.legend(loc="outside lower center", fontsize=8, frameon=False, ncols=min(4, len(reasons) + 1))
    return _uri(fig)


def langid_scores(scores: dict[str, list[float]], thresholds: dict[str, float | None]) -> str | None:
    """Language-ID confidence per identified language as box plots, with each language's keep threshold."""
    langs = [lang for lang, s in scores.items() if s]
    if not langs:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 0.2 * len(langs) + 1.2))
    ax.boxplot([scores[lang] for lang in langs], orientation="horizontal", widths=0.6, flierprops={"ms": 3})
    ax.set_yticks(range(1, len(langs) + 1), langs)
    ax.invert_yaxis()
    marks = [(i, thresholds.get(lang)) for i, lang in enumerate(langs, start=1)]
    marks = [(i, t) for i, t in marks if isinstance(t, (int, float))]
    if marks:
        ax.scatter([t for _, t in marks], [i for i, _ in marks], marker="|", s=160, color="#C44E52",
                   label="keep threshold", zorder=3)  # fmt: skip
        # outside the axes: inside, it covered the box of a low-scoring language
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("language-ID score")
    ax.set_title("Language-ID score per identified language")
    return _uri(fig)


def delta_bars(panels: list[tuple[str, list[str], list[float], bool, list[bool]]], tiers: dict) -> str | None:
    """Per benchmark, the change of each language against the base model; green a gain, red a loss, grey
    within two standard errors (or none known).

    ``panels``: (title, languages, deltas, lower_is_better, beyond_noise). Two panels per row.
    """
    if not panels:
        return None
    plt = _plt()
    n_rows = (len(panels) + 1) // 2
    height = max(0.17 * max(len(p[1]) for p in panels) + 1.0, 2.0)
    fig, axes = plt.subplots(
        n_rows, 2 if len(panels) > 1 else 1, figsize=(12, height * n_rows), squeeze=False
    )
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, (title, langs, deltas, lower, clear) in zip(axes.flat, panels, strict=False):
        colours = [
            ("#4C9A5B" if (-d if lower else d) > 0 else "#C44E52") if c else "#B0B0B0"
            for d, c in zip(deltas, clear, strict=True)
        ]
        ax.barh(range(len(langs)), deltas, height=0.7, color=colours)
        ax.set_ylim(max(len(p[1]) for p in panels) - 0.5, -0.5)  # same bar thickness in every panel
        ax.set_yticks(range(len(langs)), langs, fontsize=8)
        for tick, lang in zip(ax.get_yticklabels(), langs, strict=True):
            tick.set_color(TIER_COLOURS.get(tiers.get(lang), "#333333"))
        ax.axvline(0, color="#555555", lw=0.8)
        ax.set_title(title + (" (lower is better)" if lower else ""))
    fig.suptitle(
        "Change per language against the base model (grey: within 2 standard errors; "
        "labels: blue high-resource, orange low-resource)"
    )
    fig.tight_layout()
    return _uri(fig)


# ------------------------------------------------------------------------------------------ mixture
def mixture_plan(
    stages: list[str], sources: list[str], tiers: dict[str, str | None], planned: dict[tuple[str, str], float]
) -> str | None:
    """Planned tokens per stage (stacked by source) and the share of each source per stage."""
    if not stages or not sources:
        return None
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 0.22 * len(sources) + 2.6), width_ratios=[1, 1.6])
    cmap = plt.get_cmap("tab20")
    colours = {s: cmap(i % 20) for i, s in enumerate(sources)}
    bottom = [0.0] * len(stages)
    for s in sources:
        vals = [planned.get((st, s), 0.0) for st in stages]
        ax1.bar(stages, vals, bottom=bottom, color=colours[s], label=s, width=0.6)
        bottom = [a + b for a, b in zip(bottom, vals, strict=True)]
    ax1.set_ylabel("planned tokens")
    ax1.set_title("Token budget per stage, by source")
    ax1.legend(fontsize=7, ncols=2 if len(sources) > 14 else 1, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    # Shares side by side per source, so the stage I -> II shift is visible; tiers split by dotted lines.
    width = 0.8 / len(stages)
    ys = range(len(sources))
    palette = list(STAGE_COLOURS.values())
    for i, st in enumerate(stages):
        total = sum(planned.get((st, s), 0.0) for s in sources) or 1.0
        ax2.barh(
            [y + i * width for y in ys],
            [100 * planned.get((st, s), 0.0) / total for s in sources],
            height=width,
            label=st,
            color=palette[i % len(palette)],
        )
    ax2.set_yticks([y + width * (len(stages) - 1) / 2 for y in ys], sources)
    for y in range(1, len(sources)):
        if tiers.get(sources[y]) != tiers.get(sources[y - 1]):
            ax2.axhline(y - 0.5 + width * (len(stages) - 1) / 2, color="#999999", ls=":", lw=1)
    ax2.invert_yaxis()
    ax2.set_xlabel("share of the stage's tokens (%)")
    ax2.set_title("Share per source and stage (high-resource, low-resource, other sources)")
    ax2.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return _uri(fig)


# ------------------------------------------------------------------------------------------ training
def training_curves(curves: list[dict], x_label: str) -> str | None:
    """Loss and learning rate of every stage on one x axis; ``curves``: {stage, x, loss, lr, start, end}."""
    if not curves:
        return None
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 5.6), sharex=True, height_ratios=[2, 1])
    pref = None  # DPO's loss is a preference loss (~0.69 at the start), not comparable to LM loss: own axis
    for c in curves:
        colour = STAGE_COLOURS.get(c["stage"])
        if c["stage"] == "dpo":
            pref = ax1.twinx()
            pref.spines["right"].set_visible(True)
            pref.plot(c["x"], c["loss"], color=colour, lw=1.4, label="dpo (right axis)")
            pref.set_ylabel("DPO loss (right axis)", color=colour)
        else:
            ax1.plot(c["x"], c["loss"], color=colour, lw=1.4, label=c["stage"])
        if any(_finite(v) for v in c["lr"]):
            ax2.plot(c["x"], c["lr"], color=colour, lw=1.4)
        for ax in (ax1, ax2):
            ax.axvspan(c["start"], c["end"], color=colour, alpha=0.06, lw=0)
        ax1.text((c["start"] + c["end"]) / 2, 1.0, c["stage"], transform=ax1.get_xaxis_transform(),
                 ha="center", va="bottom", fontsize=8, color=colour)  # fmt: skip
    ax1.set_ylabel("training loss (LM stages)")
    handles, labels = ax1.get_legend_handles_labels()
    if pref is not None:
        h2, l2 = pref.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax1.legend(handles, labels, loc="lower left", fontsize=8)
    ax2.set_ylabel("learning rate")
    ax2.set_xlabel(x_label)
    ax2.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    return _uri(fig)


def per_stage_loss(curves: list[dict]) -> str | None:
    """One small panel per stage (loss over the stage's own tokens), so short stages stay readable."""
    if len(curves) < 2:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(curves), figsize=(12, 2.6))
    for ax, c in zip(axes, curves, strict=True):
        ax.plot([x - c["start"] for x in c["x"]], c["loss"], color=STAGE_COLOURS.get(c["stage"]), lw=1.2)
        ax.set_title(c["stage"])
        ax.set_xlabel(c.get("unit", "tokens") + " in stage")
    axes[0].set_ylabel("loss")
    fig.tight_layout()
    return _uri(fig)


def heldout_curves(series: dict[str, tuple[list, list]], tiers: dict, boundaries: list, x_label: str):
    """Held-out bits per byte per language over the run, one panel per tier."""
    groups = {}
    for lang in series:
        groups.setdefault(tiers.get(lang), []).append(lang)
    if not groups:
        return None
    order = [t for t in ("high", "low", None) if t in groups]
    plt = _plt()
    fig, axes = plt.subplots(1, len(order), figsize=(12, 4.2), sharey=True, squeeze=False)
    names = {"high": "high-resource", "low": "low-resource", None: "other"}
    for ax, tier in zip(axes[0], order, strict=True):
        cmap = plt.get_cmap("tab20")
        for i, lang in enumerate(sorted(groups[tier])):
            xs, ys = series[lang]
            ax.plot(xs, ys, marker="o", ms=2.5, lw=1.1, color=cmap(i % 20), label=lang)
        for b in boundaries:
            ax.axvline(b, color="#999999", ls=":", lw=1)
        ax.set_title(f"held-out bits per byte: {names[tier]}")
        ax.set_xlabel(x_label)
        ax.legend(fontsize=7, ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    axes[0][0].set_ylabel("bits per byte")
    fig.tight_layout()
    return _uri(fig)


def metric_panels(panels: list[tuple[str, str, list, list]], title: str | None = None) -> str | None:
    """Small line charts side by side; ``panels``: (title, stage, xs, ys)."""
    panels = [p for p in panels if any(_finite(v) for v in p[3])]
    if not panels:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(min(12.5, 2.9 * len(panels)), 2.6), squeeze=False)
    for ax, (name, stage, xs, ys) in zip(axes[0], panels, strict=True):
        ax.plot(xs, ys, color=STAGE_COLOURS.get(stage), marker="o", ms=2.5, lw=1.2)
        ax.set_title(f"{stage}: {name}")
        ax.set_xlabel("step")
        if name.startswith("reward margin"):
            ax.axhline(0, color="#999999", lw=0.8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _uri(fig)


# ------------------------------------------------------------------------------------------ evaluation
def heatmaps(panels: list[tuple[list[list[float | None]], str, bool]], rows: list[str], cols: list[str]):
    """Source x target matrices (``panels``: matrix, title, diverging) with each value written in its cell.

    Grey cells were not evaluated. Small matrices sit side by side; large ones (any-to-any) one per row.
    """
    if not rows or not cols or not panels:
        return None
    import numpy as np

    plt = _plt()
    side = len(cols) <= 12
    cell_w, cell_h = (0.6, 0.42) if len(cols) <= 30 else (0.4, 0.3)
    w = min(12.5, 1.6 + cell_w * len(cols)) if not side else min(6.2, 1.6 + cell_w * len(cols))
    h = 1.4 + cell_h * len(rows)
    n = len(panels)
    fig, axes = plt.subplots(
        1 if side else n,
        n if side else 1,
        figsize=(w * (n if side else 1), h * (1 if side else n)),
        squeeze=False,
    )
    for ax, (matrix, title, diverging) in zip(axes.flat, panels, strict=True):
        data = np.array([[np.nan if v is None else v for v in r] for r in matrix], dtype=float)
        ax.set_facecolor("#EEEEEE")
        finite = data[np.isfinite(data)]
        if diverging:
            lim = float(np.max(np.abs(finite))) if finite.size else 0.0
            lim = lim or 1.0
            cmap, vmin, vmax = plt.get_cmap("RdYlGn"), -lim, lim
        else:
            cmap, vmin = plt.get_cmap("viridis"), 0.0
            vmax = (float(finite.max()) if finite.size else 0.0) or 1.0
        im = ax.imshow(data, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
        ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right")
        ax.set_yticks(range(len(rows)), rows)
        ax.set_xlabel("target language")
        ax.set_ylabel("source language")
        for i in range(len(rows)):
            for j in range(len(cols)):
                v = data[i, j]
                if not np.isfinite(v):
                    continue
                r, g, b_, _ = cmap((v - vmin) / (vmax - vmin))
                ink = "black" if 0.299 * r + 0.587 * g + 0.114 * b_ > 0.5 else "white"  # readable on the cell
                txt = f"{v:+.3g}" if diverging else f"{v:.3g}"
                ax.text(j, i, txt, ha="center", va="center", fontsize=7, color=ink)
        ax.set_title(title)
        fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    fig.tight_layout()
    return _uri(fig)


# ------------------------------------------------------------------------------------------ run facts
def wall_time(stages: list[str], seconds: list[float]) -> str | None:
    if not stages:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(stages) + 1.0))
    ax.barh(stages, seconds, color=[STAGE_COLOURS.get(s, "#8C8C8C") for s in stages])
    ax.invert_yaxis()
    ax.set_xlabel("wall time (s)")
    ax.set_xlim(0, max(seconds) * 1.15 or 1.0)
    for y, s in enumerate(seconds):
        ax.text(s, y, f" {s:.1f}s", va="center", fontsize=8)
    ax.set_title("Wall time per stage (from _COMPLETE.json)")
    return _uri(fig)

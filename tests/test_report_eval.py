"""The report's evaluation section: ± and colouring only beyond two standard errors, percent units as in
tables.md, base -> SFT -> DPO per tier, collapsed prompts, and the language-ID legend off the boxes."""

from __future__ import annotations

import json
from pathlib import Path

import html5lib
import pytest

from linguabridge.eval.compare import checkpoint_tables
from linguabridge.report import plots
from linguabridge.report.build import build_report

FLORES_PROMPT = "Translate the text from {src} to {tgt}:\n{src} text: {source}\n{tgt} text:"


def _rows() -> list[dict]:
    rows = []
    copa = {"task": "demo_copa", "metric": "acc", "split": "test", "shots": 0, "prompt_style": "script-aware",
            "prompt": "{premise} because {alternative}", "prompt_name": "lm-eval's prompt",
            "harness": "lm-eval 0.4.13"}  # fmt: skip
    for ckpt, tha, zho in (("base", 0.5, 0.5), ("sft", 0.75, 0.55), ("dpo", 0.75, 0.6)):
        # 4 items and no stderr (closed form applies); 1000 items with lm-eval's stderr
        rows.append(copa | {"language": "tha_Thai", "value": tha, "n": 4, "checkpoint": ckpt})
        se = (zho * (1 - zho) / 999) ** 0.5
        rows.append(
            copa | {"language": "zho_Hans", "value": zho, "n": 1000, "stderr": se, "checkpoint": ckpt}
        )
        for src, tgt in (("eng_Latn", "zho_Hans"), ("zho_Hans", "eng_Latn"), ("eng_Latn", "tha_Thai")):
            prompt = FLORES_PROMPT.format(src=src, tgt=tgt, source="{source}")
            rows.append({"task": "demo_flores", "language": tgt, "direction": f"{src}-{tgt}",
                         "source_language": src, "metric": "chrf++", "value": 20.0 + len(ckpt), "n": 4,
                         "stderr": 3.0, "split": "devtest", "shots": 0, "prompt_style": "script-aware",
                         "prompt": prompt, "prompt_name": "Marco template C", "harness": "lm-eval 0.4.13",
                         "checkpoint": ckpt})  # fmt: skip
    return rows


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    doc = {"format": 2, "model": "run/dpo/model", "checkpoints": {"base": "tiny-qwen2", "sft": "run/sft/model",
           "dpo": "run/dpo/model"}, "packages": {"lm-eval": "0.4.13"}, "rows": _rows()}  # fmt: skip
    (run / "eval").mkdir()
    (run / "eval/results.json").write_text(json.dumps(doc), encoding="utf-8")
    page = build_report(run, formats=["html"])[0].read_text(encoding="utf-8")
    doc = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(page)
    return run, next(s for s in doc.iter("section") if s.get("id") == "evaluation")


def _cells(section, cls: str | None = None) -> list[str]:
    return [
        "".join(td.itertext())
        for td in section.iter("td")
        if cls is None or cls in (td.get("class") or "").split()
    ]


def _table(section, caption_start: str):
    return next(
        t for t in section.iter("table") if "".join(t.find("caption").itertext()).startswith(caption_start)
    )


def test_a_delta_on_four_items_is_not_coloured_one_on_a_thousand_is(report):
    _, section = report
    table = _table(section, "(%): percent")
    row = {
        "".join(tr[0].itertext()): ["".join(td.itertext()) for td in tr]
        for tr in table.iter("tr")
        if tr[0].tag == "td"
    }
    # tha: 0.5 -> 0.75 on 4 items: se sqrt(.5*.5/4) and sqrt(.75*.25/4) -> ± 33.1 points, not coloured
    assert row["tha_Thai"][3:5] == ["75.0", "+25.0 ± 33.1"]
    assert "+25.0 ± 33.1" not in _cells(table, "gain") + _cells(table, "loss")
    # zho: 0.5 -> 0.6 on 1000 items: ± 2.2 points, a gain
    assert "+10.0 ± 2.2" in _cells(table, "gain")
    # chrF++ -1 with stderr 3 on each side: shown with ±, not coloured
    assert "-1 ± 4.2" in row["eng_Latn"] and "-1 ± 4.2" not in _cells(table, "loss")
    text = " ".join(section.itertext())
    assert "√(p(1−p)/n)" in text and "bootstrap over sentences" in text


def test_accuracy_is_a_percentage_in_the_page_and_in_tables_md(report):
    run, section = report
    assert "demo_copa acc (%)" in " ".join(section.itertext())
    md = checkpoint_tables(json.loads((run / "eval/results.json").read_text(encoding="utf-8")))
    assert "| 75.0 (+25.0)" in md  # tables.md: percent with one decimal, as on the page
    assert "75.0" in _cells(section)


def test_tier_summary_shows_each_stage_base_sft_dpo(report):
    _, section = report
    table = _table(section, "means over the languages")
    headers = ["".join(th.itertext()) for th in table.iter("th")]
    for h in ("mean @ base", "mean @ sft", "mean @ dpo", "Δ base → sft", "Δ sft → dpo", "Δ base → dpo"):
        assert h in headers, h
    high = next(
        ["".join(td.itertext()) for td in tr]
        for tr in table.iter("tr")
        if [("".join(td.itertext())) for td in tr][:2] == ["demo_copa acc (%)", "high-resource"]
    )
    assert high[3:6] == ["50.0", "55.0", "60.0"]
    assert high[6:9] == ["+5.0 ± 2.2", "+5.0 ± 2.2", "+10.0 ± 2.2"]  # base -> sft, sft -> dpo, base -> dpo
    assert high[9:] == ["1", "0"]  # zho gained beyond 2 se


def test_prompts_collapse_to_their_template_name_and_shots(report):
    _, section = report
    details = [d for d in section.iter("details") if d.find("summary") is not None]
    summaries = {"".join(d.find("summary").itertext()): d for d in details}
    flores = summaries["Marco template C, script-aware (0-shot, 3 prompts)"]
    full = "".join(flores.find("pre").itertext())
    assert full.count("Translate the text from") == 3 and "eng_Latn text: {source}" in full
    assert "{premise} because {alternative}" in _cells(section)  # a short prompt stays as it is


def test_language_id_legend_sits_outside_the_boxes(monkeypatch):
    figures = []
    monkeypatch.setattr(plots, "_uri", lambda fig: figures.append(fig) or "data:")
    scores = {lang: [0.1, 0.2, 0.3] for lang in ("eng_Latn", "tha_Thai", "zho_Hans")}
    plots.langid_scores(scores, {lang: 0.5 for lang in scores})
    fig = figures[0]
    fig.canvas.draw()
    ax = fig.axes[0]
    legend, axes_box = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= axes_box.x1  # right of the plotting area: it covers no row


def test_old_results_files_still_make_the_section(tmp_path: Path):
    run = tmp_path / "run"
    (run / "eval").mkdir(parents=True)
    old = {"model": "dpo", "versions": {"lm-eval": "0.4.12"}, "results": _rows()}
    (run / "eval/results.json").write_text(json.dumps(old), encoding="utf-8")
    page = build_report(run, formats=["html"])[0].read_text(encoding="utf-8")
    assert "+10.0 ± 2.2" in page and "lm-eval 0.4.12" in page


def test_overview_counts_and_draws_only_changes_beyond_two_standard_errors(report, monkeypatch):
    from matplotlib.colors import to_hex

    from linguabridge.report.inputs import RunData
    from linguabridge.report.sections import overview

    run, _ = report
    text = " ".join(" ".join(p.text for p in overview.build(RunData(run)) if hasattr(p, "text")).split())
    assert (
        "demo_copa acc (%), dpo vs base: high-resource 1/1 gained beyond 2 se (mean Δ +10.0 ± 2.2); "
        "low-resource 0/1 gained beyond 2 se (mean Δ +25.0 ± 33.1)."
    ) in text
    figures = []
    monkeypatch.setattr(plots, "_uri", lambda fig: figures.append(fig) or "data:")
    overview.build(RunData(run))
    copa = next(ax for ax in figures[0].axes if ax.get_title().startswith("demo_copa"))
    bars = {
        t.get_text(): to_hex(p.get_facecolor())
        for t, p in zip(copa.get_yticklabels(), copa.patches, strict=True)
    }
    assert bars == {"zho_Hans": "#4c9a5b", "tha_Thai": "#b0b0b0"}  # green beyond 2 se, grey within
    assert [p.get_width() for p in copa.patches] == pytest.approx([10.0, 25.0])  # points, as in the tables

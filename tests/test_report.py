"""The run report: a well-formed, self-contained page with every section and the run's own numbers, built from
small synthetic run directories (today's stage output formats), and robust to missing or damaged inputs."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
from pathlib import Path

import html5lib
import pytest
from typer.testing import CliRunner

from linguabridge.cli.main import app
from linguabridge.report import build as report_build
from linguabridge.report.build import build_report

SECTIONS = ("overview", "data", "mixture", "training", "evaluation", "facts")
PARTS = (
    "Curation funnel per language",
    "Duplicate rates",
    "Language-ID score distributions",
    "Bitext kept and rejected per language pair",
    "Synthetic outputs accepted and rejected",
    "Planned vs available tokens per source and stage",
    "Loss and learning rate over tokens, all stages on one axis",
    "Training loss and tokens per language",
    "Held-out loss and bits per byte per language, by tier",
    "Throughput and MFU",
    "Forgetting-guard events",
    "SFT and DPO curves",
    "Per language x benchmark: dpo vs base",
    "Tier summary: high- vs low-resource",
    "Translation direction matrix",
    "Protocol of every number",
    "Recipe and seeds",
    "Versions and hardware",
    "Wall time per stage",
)
LANGS = ("eng_Latn", "tha_Thai", "kaz_Cyrl")


# ------------------------------------------------------------------------------------------ a synthetic run
def _json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")


def _jsonl(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _heldout(step, tokens, scale):
    row = {"step": step, "tokens": tokens}
    for i, lang in enumerate(LANGS):
        row[f"heldout/{lang}/loss"] = (10.0 + i) * scale
        row[f"heldout/{lang}/bpb"] = (3.0 + i) * scale
    return row


def make_run(root: Path) -> Path:
    """A complete run in the formats the stages write today, with numbers the report must show."""
    run = root / "run"
    _json(
        run / "recipe.resolved.json",
        {
            "name": "synth",
            "seed": 77,
            "languages": list(LANGS),
            "model": {"name_or_path": "tiny-qwen2", "tiny": {"hidden_size": 64}},
            "tokenizer": {"name_or_path": "qwen2"},
            "data": {"inputs": ["web.jsonl"], "min_language_score": 0.6},
            "cpt_stage1": {"mixture_stage": "stage1", "forgetting_margin": 0.05, "seed": None},
            "cpt_stage2": {"mixture_stage": "stage2", "forgetting_margin": 0.05, "seed": None},
            "sft": {"seed": 99},
            "dpo": {"seed": None},
            "report": {"formats": ["html", "md"], "repeat_warn_epochs": 4.0},
        },
    )
    _json(
        run / "run_facts.json",
        {"python": "3.11.7", "torch": "2.13.0", "cpu_count": 2, "cuda": "NVIDIA H100 80GB"},
    )
    _json(
        run / "data/web/stats.json",
        {
            "totals": {"input": 4900, "kept": 4321, "rejected": 579},
            "steps": {
                "language": {"in": 4900, "out": 4829, "dropped:language_not_targeted": 71},
                "dedup": {
                    "in": 4829,
                    "out": 4379,
                    "dropped:near_duplicate": 150,
                    "dropped:exact_duplicate": 300,
                },
            },
            "languages": {
                "eng_Latn": {"kept": 2000, "rejected:too_few_words": 58, "rejected:near_duplicate": 150},
                "tha_Thai": {"kept": 1500, "rejected:exact_duplicate": 300},
                "kaz_Cyrl": {"kept": 821},
                "swh_Latn": {"rejected:language_not_targeted": 71},
            },
        },
    )
    shard = run / "data/web/kept/part-00000.jsonl.gz"
    shard.parent.mkdir(parents=True)
    with gzip.open(shard, "wt", encoding="utf-8") as f:
        for i, score in enumerate((0.91, 0.97, 0.99, 0.42)):
            meta = {"language": LANGS[i % 3], "language_score": score}
            f.write(json.dumps({"id": str(i), "text": "x" * 10, "metadata": meta}) + "\n")
    _json(
        run / "data/parallel/stats.json",
        {"directions": {"eng_Latn-tha_Thai": {"kept": 77, "rejected:copy": 3}}},
    )
    _json(
        run / "data/synthetic/stats.json",
        {"languages": {"tha_Thai": {"accepted": 12, "rejected:wrong_language": 5}}},
    )
    plan_sources = [
        ("eng_Latn", 2000.0, 6.5),
        ("tha_Thai", 1000.0, 1.5),
        ("kaz_Cyrl", 500.0, 0.5),
        ("parallel", 500.0, 0.2),
    ]
    _json(
        run / "mixture/plan.json",
        {
            "stages": [
                {"name": st, "tokens": 4000.0, "sources": [
                    {"name": n, "tokens": t, "share": t / 4000, "epochs": e} for n, t, e in plan_sources
                ]}
                for st in ("stage1", "stage2")
            ],
            "sources": [
                {"name": "eng_Latn", "available": 308, "used": 4000.0, "utilisation": 12.987},
                {"name": "tha_Thai", "available": 1333, "used": 2000.0, "utilisation": 1.5},
                {"name": "kaz_Cyrl", "available": 2000, "used": 1000.0, "utilisation": 0.5},
                {"name": "parallel", "available": 5000, "used": 1000.0, "utilisation": 0.2},
            ],
            "notes": [],
            "redistributed": [{"stage": "stage2", "source": "kaz_Cyrl", "wanted": 812.0, "planned": 500.0}],
        },
    )  # fmt: skip
    _json(
        run / "tokens/inventory.json",
        {"sources": {lang: {"tokens": 900, "heldout_tokens": 100} for lang in LANGS}},
    )
    # The keys the CPT runner writes (train/metric_keys.py); stage I logs only some of them (no TFLOP/s, no
    # start/baseline events), stage II all of them.
    old = {"throughput/mfu": 0.4123, "throughput/tokens_per_s": 12345.0}
    new = {"throughput/mfu": 0.4123, "throughput/tokens_per_s": 12345.0, "throughput/tflops_per_device": 0.0271,
           "throughput/tokens_per_s_per_device": 12345.0}  # fmt: skip
    for s, scale, lr, keys in (("cpt_stage1", 1.0, 3e-3, old), ("cpt_stage2", 0.9, 1.5e-3, new)):
        rows = [_heldout(0, 0, scale)]
        if keys is new:
            rows = [{"step": 0, "event": "start", "tokens_per_step": 512, "peak_tflops": 989.0},
                    {**rows[0], "event": "baseline"}]  # fmt: skip
        rows += [
            {"step": i, "tokens": 512 * i, "loss": 11.0 - 0.25 * i, "learning_rate": lr / i, **keys,
             "loss/eng_Latn": 10.5, "tokens/eng_Latn": 300.0}
            for i in range(1, 5)
        ]  # fmt: skip
        rows.append(_heldout(4, 2048, scale * 0.9))
        rows.append({"step": 4, "tokens": 2048, "train_runtime": 8.0, "total_flos": 1.6e9,
                     "train_samples_per_second": 2.0})  # fmt: skip
        _jsonl(run / s / "metrics.jsonl", rows)
        _json(run / s / "summary.json", {"steps": 4, "tokens": 2048, "tokens_per_step": 512,
                                        "realised_tokens": {"eng_Latn": 1000, "tha_Thai": 500}})  # fmt: skip
    with (run / "cpt_stage1/metrics.jsonl").open("a") as f:
        f.write(json.dumps({"step": 4, "event": "forgetting", "language": "eng_Latn", "baseline_heldout_loss": 9.0,
                            "heldout_loss": 9.7479, "regression": 0.0831}) + "\n")  # fmt: skip
    with (run / "cpt_stage2/metrics.jsonl").open("a") as f:
        f.write(json.dumps({"step": 4, "event": "forgetting", "language": "eng_Latn", "baseline_heldout_loss": 9.0,
                            "heldout_loss": 9.6399, "regression": 0.0711, "margin": 0.05,
                            "action": "save"}) + "\n")  # fmt: skip
        f.write(json.dumps({"step": 3, "event": "checkpoint_rejected", "path": "checkpoint-3"}) + "\n")
    _jsonl(
        run / "sft/metrics.jsonl",
        [{"step": i, "loss": 9.0 - i, "learning_rate": 1e-3, "mean_token_accuracy": 0.1 * i, "num_tokens": 300.0 * i}
         for i in range(1, 4)],
    )  # fmt: skip
    _jsonl(
        run / "dpo/metrics.jsonl",
        [{"step": i, "loss": 0.69 - 0.05 * i, "learning_rate": 5e-4, "num_tokens": 400.0 * i,
          "rewards/margins": 0.259 * i, "rewards/accuracies": 0.25 * i, "rewards/chosen": 0.1 * i,
          "rewards/rejected": -0.1 * i} for i in range(1, 4)],
    )  # fmt: skip
    rows = []
    for ckpt, shift in (("base", 0.0), ("dpo", 1.0)):
        for i, lang in enumerate(LANGS):
            rows.append({"task": "heldout", "language": lang, "metric": "bpb", "value": 3.0 + i - 0.5 * shift,
                         "split": "heldout", "shots": 0, "n": 2, "prompt": None, "harness": "linguabridge",
                         "checkpoint": ckpt, "stderr": 0.1})  # fmt: skip
        for direction, value in (
            ("eng_Latn-tha_Thai", 40.0 - 6.7 * shift),
            ("tha_Thai-eng_Latn", 20.0 + shift),
        ):
            rows.append({"task": "flores", "language": direction.split("-")[1], "direction": direction,
                         "metric": "chrf++", "value": value, "split": "devtest", "shots": 0, "n": 3,
                         "prompt": "Translate {src} to {tgt}: {text}", "harness": "linguabridge+sacrebleu",
                         "checkpoint": ckpt, "stderr": 1.5})  # fmt: skip
    _json(run / "eval/results.json", {"model": "dpo", "versions": {"sacrebleu": "2.6.0"}, "results": rows})
    for i, stage in enumerate(
        ("data", "mixture", "tokens", "cpt_stage1", "cpt_stage2", "sft", "dpo", "eval")
    ):
        _json(run / stage / "_COMPLETE.json", {"stage": stage, "fingerprint": f"fp{i}", "seconds": 12.5 + i,
                                               "summary": {"n": i}})  # fmt: skip
    return run


# ------------------------------------------------------------------------------------------ checks
def parse_strict(page: str):
    """Parse as the browser's HTML5 algorithm does; any parse error (unclosed/misnested tag) fails."""
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    return parser.parse(page)


def assert_self_contained(doc, report_dir: Path) -> int:
    """Every image is an embedded PNG, every link an anchor on the page or an existing file; nothing remote."""
    ids = {el.get("id") for el in doc.iter() if el.get("id")}
    images = 0
    for el in doc.iter():
        for attr in ("src", "href"):
            ref = el.get(attr)
            if ref is None:
                continue
            assert not ref.startswith(("http:", "https:", "//")), f"network reference {ref[:80]}"
            if ref.startswith("data:image/png;base64,"):
                assert base64.b64decode(ref.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
                images += 1
            elif ref.startswith("#"):
                assert ref[1:] in ids, f"anchor {ref} has no target"
            else:
                assert (report_dir / ref).is_file(), f"missing file {ref}"
    for script in doc.iter("script"):
        assert script.get("src") is None
    return images


def text_of(doc) -> str:
    return " ".join(t.strip() for t in doc.itertext() if t.strip())


def cells(doc, cls: str) -> list[str]:
    return ["".join(td.itertext()) for td in doc.iter("td") if cls in (td.get("class") or "").split()]


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("report"))
    paths = build_report(run)
    return run, paths


# ------------------------------------------------------------------------------------------ tests
def test_full_run_report_is_well_formed_self_contained_and_complete(full_report):
    run, paths = full_report
    assert paths == [run / "report/index.html", run / "report/summary.md"]
    page = paths[0].read_text(encoding="utf-8")
    doc = parse_strict(page)
    assert assert_self_contained(doc, run / "report") >= 8  # funnel, lang-ID, mixture, curves, held-out, ...
    assert [s.get("id") for s in doc.iter("section")] == list(SECTIONS)
    titles = ["".join(h.itertext()) for h in doc.iter("h3")]
    for part in PARTS:
        assert part in titles, part
    text = text_of(doc)
    assert "not available in this run" not in text and "could not be built" not in text
    assert "Web documents: 4,321 kept of 4,900 judged" in text


def test_numbers_from_the_run_appear_where_they_belong(full_report):
    run, paths = full_report
    doc = parse_strict(paths[0].read_text(encoding="utf-8"))
    text = text_of(doc)
    # data: funnel counts, duplicates, lang-ID threshold, bitext and synthetic counts
    assert "removed as duplicates (9.3%)" in text  # 450 of 4,829 at the dedup step
    assert "below threshold" in text and " 0.6 " in f" {text} ".replace(
        "\n", " "
    )  # per-language keep threshold shown
    assert "77 kept and 3 rejected over 1 directions" in text
    assert "12 kept and 5 rejected" in text
    # mixture: eng_Latn is read 13 times: flagged; kaz_Cyrl is not
    warned = cells(doc, "warn")
    assert "eng_Latn" in warned and "1298.7%" in warned and "6.5" in warned
    assert "kaz_Cyrl" not in warned
    assert "Shortfalls the planner redistributed" in text and "812" in text
    # training: MFU, logged throughput, forgetting event, DPO margin, seeds
    assert "41.2%" in text and "12,345" in text  # MFU and logged tokens/s
    assert {"8.3%", "7.1%"} <= set(cells(doc, "loss"))  # both stages' forgetting events, coloured as losses
    assert "9.64" in text and "save" in text and "checkpoint_rejected" in text and "989 TFLOP/s" in text
    assert "0.0271" in text  # logged TFLOP/s per device
    assert "0.777" in text  # last DPO reward margin
    # evaluation: bpb fell (gain), eng->tha chrF++ fell (loss) beyond 2 standard errors; tha->eng rose
    # within them (not coloured); the protocol is shown
    assert "-0.5 ± 0.14" in cells(doc, "gain")
    assert "-6.7 ± 2.1" in cells(doc, "loss")
    assert "+1 ± 2.1" in text and "+1 ± 2.1" not in cells(doc, "gain") + cells(doc, "loss")
    assert "Translate {src} to {tgt}: {text}" in text and "devtest" in text
    # run facts
    assert "NVIDIA H100 80GB" in text and "99" in text and "12.5" in text


def test_a_metric_measured_under_two_protocols_gives_two_columns_never_an_average():
    from linguabridge.report.sections.evaluation import Results

    row = {"task": "xcopa", "language": "tha_Thai", "metric": "acc", "checkpoint": "base"}
    res = Results(
        [
            row | {"value": 0.6, "split": "test", "shots": 0},
            row | {"value": 0.7, "split": "validation", "shots": 5},
        ]
    )
    assert sorted(res.name(b) for b in res.benchmarks) == [
        "xcopa acc (test, 0-shot)",
        "xcopa acc (validation, 5-shot)",
    ]
    assert sorted(res.get("base", b, "tha_Thai") for b in res.benchmarks) == [0.6, 0.7]


def test_markdown_summary_has_the_tables_without_images(full_report):
    run, paths = full_report
    md = paths[1].read_text(encoding="utf-8")
    for title in ("## Data", "## Mixture", "## Training", "## Evaluation", "## Run facts"):
        assert title in md
    assert "| eng_Latn | English | high | 2,208 | 2,000 |" in md
    assert "data:image" not in md and "<" not in md.replace("<wbr>", "")
    assert "Every number of eval/results.json" not in md  # the long reference table stays on the page


def test_empty_run_says_what_is_missing(tmp_path):
    (tmp_path / "run").mkdir()
    page = build_report(tmp_path / "run", formats=["html"])[0].read_text(encoding="utf-8")
    doc = parse_strict(page)
    assert assert_self_contained(doc, tmp_path / "run/report") == 0
    for sid in SECTIONS[1:]:
        section = next(s for s in doc.iter("section") if s.get("id") == sid)
        assert "not available in this run" in text_of(section), sid
    assert not (tmp_path / "run/report/summary.md").exists()


def test_damaged_and_unexpected_inputs_never_crash_and_are_listed(tmp_path):
    run = make_run(tmp_path)
    with (run / "cpt_stage1/metrics.jsonl").open("a") as f:
        f.write("{not json\n")
    _json(
        run / "data/web/stats.json", {"languages": ["eng_Latn"], "steps": "?"}
    )  # a shape the report never saw
    (run / "mixture/plan.json").write_text("{truncated", encoding="utf-8")
    results = json.loads((run / "eval/results.json").read_text())
    results["results"].append({"task": "xcopa", "language": "tha_Thai", "metric": "acc"})  # no value
    _json(run / "eval/results.json", results)
    doc = parse_strict(build_report(run, formats=["html"])[0].read_text(encoding="utf-8"))
    text = text_of(doc)
    assert "could not be built" not in text
    assert "cpt_stage1/metrics.jsonl: 1 line(s) not JSON objects (first at line 9)" in text
    assert "mixture/plan.json: unreadable" in text
    assert "1 row(s) without a task or numeric value" in text
    assert "The web-text funnel (data/web/stats.json): not available in this run." in text


def test_a_failing_section_costs_only_that_section(tmp_path, monkeypatch):
    def broken(run):
        raise KeyError("surprise")

    sections = [(sid, title, broken if sid == "mixture" else fn) for sid, title, fn in report_build.SECTIONS]
    monkeypatch.setattr(report_build, "SECTIONS", sections)
    doc = parse_strict(build_report(make_run(tmp_path), formats=["html"])[0].read_text(encoding="utf-8"))
    text = text_of(doc)
    assert "This section could not be built (KeyError: 'surprise'" in text
    assert "Per language x benchmark: dpo vs base" in text  # later sections still there


def test_tables_carry_numeric_sort_keys_for_the_inline_sorter(full_report):
    _, paths = full_report
    doc = parse_strict(paths[0].read_text(encoding="utf-8"))
    assert all("sortable" in t.get("class", "") for t in doc.iter("table"))
    script = "".join(s.text or "" for s in doc.iter("script"))
    assert "data-sort" in script and "aria-sort" in script
    kept = [td.get("data-sort") for td in doc.iter("td") if "".join(td.itertext()) == "2,000"]
    assert kept and all(float(v) == 2000 for v in kept)


def test_cli_report_md_and_bad_format(tmp_path):
    run = make_run(tmp_path)
    result = CliRunner().invoke(app, ["report", str(run), "--format", "md"])
    assert result.exit_code == 0, result.output
    assert (run / "report/summary.md").is_file() and not (run / "report/index.html").exists()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from linguabridge.cli.main import main; main()",
            "report",
            str(run),
            "--format",
            "pdf",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "unknown report format 'pdf'" in proc.stderr and "html, md" in proc.stderr


def test_throughput_and_mfu_come_from_the_keys_the_cpt_runner_writes(tmp_path):
    from linguabridge import metric_keys as mk

    run = tmp_path / "run"
    rows = [{"step": i, "tokens": 512 * i, "loss": 11.0 - i, "learning_rate": 1e-3} for i in range(1, 4)]
    # spellings nothing in linguabridge writes (other trainers' names, MFU as a percentage): not read
    _jsonl(run / "cpt_stage1/metrics.jsonl", [r | {"tokens_per_second": 777.0, "mfu": 41.23} for r in rows])
    text = text_of(parse_strict(build_report(run, formats=["html"])[0].read_text(encoding="utf-8")))
    assert "not logged" in text and "41.2%" not in text and "777" not in text
    # the runner's keys: MFU is a fraction, shown as a percentage
    _jsonl(run / "cpt_stage1/metrics.jsonl", [r | {mk.TOKENS_PER_S: 777.0, mk.MFU: 0.4123} for r in rows])
    text = text_of(parse_strict(build_report(run, formats=["html"])[0].read_text(encoding="utf-8")))
    assert "41.2%" in text and "777" in text

"""Each final checkpoint's README.md names its base model, languages, stages, data and evaluation."""

from __future__ import annotations

import json

from linguabridge.report.model_card import write_model_cards


def _w(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)


def test_model_card_of_an_sft_checkpoint(tmp_path):
    run = tmp_path / "run"
    _w(run / "recipe.resolved.json", {"name": "smollm2", "languages": ["ind_Latn", "vie_Latn"],
                                      "model": {"name_or_path": "HuggingFaceTB/SmolLM2-135M"},
                                      "sft": {"init_from": "cpt_stage2"}, "cpt_stage2": {"init_from": "cpt_stage1"},
                                      "cpt_stage1": {"init_from": "base"}})  # fmt: skip
    _w(run / "sft" / "data_stats.json", {"examples": 12, "per_language": {"ind_Latn": 7, "vie_Latn": 5}})
    rows = [
        {
            "task": "xcopa",
            "language": "ind_Latn",
            "metric": "acc",
            "value": 0.55,
            "n": 100,
            "checkpoint": "base",
        },
        {
            "task": "xcopa",
            "language": "ind_Latn",
            "metric": "acc",
            "value": 0.61,
            "n": 100,
            "checkpoint": "sft",
        },
    ]
    _w(run / "eval" / "results.json", {"format": 2, "rows": rows, "packages": {}})
    (run / "sft" / "model").mkdir(parents=True)
    (run / "sft" / "checkpoints").mkdir()
    _w(run / "sft" / "checkpoints" / "README.md", "This model is a fine-tuned version of [None]")
    written = write_model_cards(run)
    assert sorted(p.relative_to(run).as_posix() for p in written) == [
        "sft/checkpoints/README.md",
        "sft/model/README.md",
    ]
    card = (run / "sft" / "model" / "README.md").read_text()
    assert "base_model: HuggingFaceTB/SmolLM2-135M" in card
    assert "language:\n- id\n- vi\n" in card
    assert "Stages: base -> cpt_stage1 -> cpt_stage2 -> sft." in card
    assert "- 12 examples" in card and "Indonesian: 7" in card
    assert "| xcopa | Indonesian | acc | 0.61 | 100 | +0.06 |" in card
    assert "[None]" not in (run / "sft" / "checkpoints" / "README.md").read_text()

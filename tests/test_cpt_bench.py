"""The GPU benchmark script runs end to end at tiny size on CPU and reports what the closing note needs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_benchmark_tiny_reports_tokens_per_second_and_mfu_for_every_configuration(tmp_path):
    bench = _load(ROOT / "benchmarks" / "bench_cpt_gpu.py")
    out = tmp_path / "bench.json"
    result = bench.main(
        ["--tiny", "--steps", "2", "--warmup", "1", "--peak-tflops", "1.0", "--out", str(out)]
    )
    assert out.is_file() and result["seq_len"] == 256
    rows = {r["config"]: r for r in result["results"]}
    assert set(rows) == {"hf_baseline", "cpt", "cpt_fast"}
    for r in rows.values():
        assert r["tokens_per_s"] > 0 and r["timed_steps"] == 2
        assert r["mfu"] == pytest.approx(r["tflops_per_s"] / 1.0)  # against the given 1 TFLOP/s peak
    assert rows["hf_baseline"]["speedup_vs_baseline"] == 1.0
    assert rows["cpt_fast"]["options"] == []  # torch.compile and Liger apply on CUDA only


def test_word_tokenizer_maps_words_to_ids():
    bench = _load(ROOT / "benchmarks" / "bench_cpt_gpu.py")
    tok = bench.word_tokenizer(100)
    assert tok("w5 w17 w98", add_special_tokens=False)["input_ids"] == [5, 17, 98]
    assert tok.eos_token_id == 99

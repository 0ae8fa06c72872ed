"""Monitoring pieces: FLOPs and MFU, device peaks, per-language meters, the forgetting guard (held-out
scoring itself is models/heldout.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from linguabridge.models.heldout import heldout_losses, pack_heldout
from linguabridge.train.monitor import (
    QWEN2_SHAPES,
    ForgettingGuard,
    LanguageMeter,
    ModelShape,
    mfu,
    peak_tflops,
    shape_for,
    tradeoff,
)


def _tiny(vocab=97, **kw):
    from toy_cpt import tiny_qwen2

    return tiny_qwen2(vocab, 0, **kw)


def test_matmul_params_match_the_linear_layers_of_a_real_model():
    import torch

    model = _tiny(hidden=48, layers=3, heads=6, kv_heads=2, intermediate=80)
    linear = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    shape = ModelShape.from_config(model.config)
    assert shape.matmul_params() == linear  # q, k, v, o, gate, up, down per layer + the LM head
    assert shape.flops_per_token(128) == 6 * linear + 12 * 3 * 48 * 128


def test_qwen2_shapes_give_the_published_parameter_counts():
    # Qwen2 model cards: 1.54B, 7.62B, 72.7B parameters (biases and norms are < 0.1%)
    for name, billions in (("Qwen/Qwen2-1.5B", 1.54), ("qwen2-7b", 7.62), ("Qwen2-72B-Instruct", 72.7)):
        assert shape_for(name).total_params() / 1e9 == pytest.approx(billions, rel=0.01), name
    s = QWEN2_SHAPES["qwen2-1.5b"]
    n = 28 * (1536 * 1536 * 2 + 1536 * 256 * 2 + 3 * 1536 * 8960) + 1536 * 151936
    assert s.flops_per_token(4096) == 6 * n + 12 * 28 * 1536 * 4096


def test_device_peaks_and_mfu():
    assert peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert peak_tflops("NVIDIA L40S") == 362.0 and peak_tflops("NVIDIA L4") == 121.0
    assert peak_tflops("h200") == 989.0 and peak_tflops("cpu") is None
    assert mfu(10_000, 1e10, 989.0, 2) == pytest.approx(1e14 / (2 * 989e12))
    assert mfu(10_000, 1e10, None, 1) is None


def test_pack_heldout_scores_every_token_but_the_first_exactly_once():
    docs = {"a": [(np.arange(1, 30), 30), (np.arange(40, 45), 5)], "b": [(np.arange(50, 61), 11)]}
    langs, rows, nbytes = pack_heldout(docs, seq_len=8, max_docs=8)
    assert langs == ["a", "b"] and nbytes == {"a": 35, "b": 11}
    scored = {}
    for ids, pred, lang in zip(rows.input_ids, rows.predict, rows.lang, strict=True):
        assert len(ids) == 8
        for t, p, li in zip(ids, pred, lang, strict=True):
            if p:
                scored.setdefault(langs[li], []).append(t)
    assert sorted(scored["a"]) == list(range(2, 30)) + list(range(41, 45))
    assert sorted(scored["b"]) == list(range(51, 61))


def test_heldout_loss_of_packed_documents_equals_scoring_each_alone():
    """Packing must not let documents see each other: the per-language loss equals per-document runs."""
    import torch

    model = _tiny(vocab=97).eval()
    rng = np.random.default_rng(0)
    docs = {
        lang: [(rng.integers(1, 97, size=int(n)), int(n) * 2) for n in rng.integers(5, 30, size=4)]
        for lang in ("x", "y")
    }
    got = heldout_losses(model, docs, max_docs=8, seq_len=64, batch_size=2)
    for lang, items in docs.items():
        nats, count = 0.0, 0
        for ids, _ in items:
            x = torch.as_tensor(ids[None])
            with torch.no_grad():
                logits = model(input_ids=x, use_cache=False).logits
            nats += torch.nn.functional.cross_entropy(logits[0, :-1], x[0, 1:], reduction="sum").item()
            count += len(ids) - 1
        assert got[lang]["loss"] == pytest.approx(nats / count, rel=1e-5)
        assert got[lang]["tokens"] == count
        assert got[lang]["bpb"] == pytest.approx(nats / math.log(2) / sum(b for _, b in items), rel=1e-5)


def test_language_meter_means_and_cumulative_tokens():
    import torch

    meter = LanguageMeter(["a", "b", "c"])
    loss = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    lang = torch.tensor([[0, 0, 1, -1]])  # -1: padding
    mask = torch.tensor([[True, True, True, False]])
    meter.add(loss, lang, mask)
    assert meter.collect() == {"loss/a": 1.5, "loss/b": 3.0, "tokens/a": 2, "tokens/b": 1}
    meter.add(loss, torch.tensor([[1, 1, 1, 1]]), mask)
    assert meter.collect() == {"loss/b": 2.0, "tokens/a": 2, "tokens/b": 4}


def test_forgetting_guard_and_tradeoff():
    base = {"eng": {"loss": 2.0, "bpb": 1.0}, "tha": {"loss": 4.0, "bpb": 2.0}}
    guard = ForgettingGuard(base, ["eng"], margin=0.05, action="save")
    assert guard.check(10, {"eng": {"loss": 2.09}, "tha": {"loss": 9.0}}) == []  # +4.5%: within the margin
    ev = guard.check(20, {"eng": {"loss": 2.2}, "tha": {"loss": 3.0}})
    assert len(ev) == 1 and ev[0]["language"] == "eng" and ev[0]["regression"] == pytest.approx(0.1)
    end = {"eng": {"loss": 2.2, "bpb": 1.1}, "tha": {"loss": 3.0, "bpb": 1.5}}
    t = tradeoff(base, end, {"eng": "high", "tha": "low"}.get)
    assert t["mean_delta_loss"] == {"high": pytest.approx(0.2), "low": pytest.approx(-1.0)}

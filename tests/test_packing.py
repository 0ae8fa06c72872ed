"""The packed dataset realises the plan exactly, isolates documents, serves any step directly, splits over ranks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from linguabridge.errors import LinguabridgeError
from linguabridge.mixture.inventory import iter_curated, select_heldout
from linguabridge.mixture.packing import PackedDataset
from linguabridge.mixture.plan import Plan, SourcePlan, StagePlan, make_plan
from linguabridge.mixture.shard_reader import TokenStore, load_index
from linguabridge.mixture.shard_writer import tokenize_documents
from linguabridge.recipe import load_recipe
from test_mixture_corpus import write_demo_corpus

DEMO_RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "demo" / "run.yaml"


@pytest.fixture(scope="module")
def built(tmp_path_factory, qwen_tokenizer) -> tuple[Path, Plan]:
    """Demo corpus -> token shards -> the demo recipe's plan on the measured inventory."""
    files = write_demo_corpus(tmp_path_factory.mktemp("corpus"))
    heldout = select_heldout(iter_curated(files), 2, seed=1234)
    out = tmp_path_factory.mktemp("tokens")
    summary = tokenize_documents(files, qwen_tokenizer, out, heldout, docs_per_shard=128)
    plan = make_plan(
        load_recipe(DEMO_RECIPE).mixture, {k: v["tokens"] for k, v in summary["sources"].items()}
    )
    return out, plan


def _shares(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()}


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
@pytest.mark.parametrize("num_tokens", [None, 128 * 4 * 13])
def test_realised_shares_equal_planned_shares(built, stage, num_tokens):
    tokens_dir, plan = built
    st = plan.stage(stage)
    ds = PackedDataset(tokens_dir, st, seq_len=128, seed=1, num_tokens=num_tokens)
    # Count what a full epoch actually serves, independently of the dataset's own accounting.
    rows = load_index(tokens_dir)
    served: Counter = Counter()
    for i in range(len(ds)):
        for doc, _, n in ds.segments(i):
            assert rows[doc]["split"] == "train"
            served[rows[doc]["source"]] += n
    assert served == Counter(ds.realised_tokens())
    planned = _shares({s.name: s.tokens for s in st.sources if s.tokens})
    realised = _shares(dict(served))
    assert set(realised) == set(planned)
    for name, share in planned.items():
        assert abs(realised[name] - share) < 0.005, (name, realised[name], share)
    assert sum(served.values()) == (num_tokens or st.tokens)
    assert ds.stats()["padding_fraction"] < 0.01


def test_documents_repeat_in_whole_epochs(built):
    tokens_dir, plan = built
    ds = PackedDataset(tokens_dir, plan.stage("stage1"), seq_len=128, seed=1)
    rows = load_index(tokens_dir)
    eng = [i for i, r in enumerate(rows) if r["source"] == "eng_Latn" and r["split"] == "train"]
    repeats = Counter(int(d) for d in ds.piece_doc)
    epochs = ds.epochs["eng_Latn"]
    assert 3 < epochs < 4
    assert {repeats[d] for d in eng} <= {3, 4}  # three full passes, then part of a fourth


def test_items_are_packed_with_per_document_positions_and_labels(built):
    tokens_dir, plan = built
    ds = PackedDataset(tokens_dir, plan.stage("stage1"), seq_len=256, seed=2)
    rows = load_index(tokens_dir)
    shards = {}
    multi = 0
    for i in range(len(ds)):
        item = ds[i]
        assert {k: tuple(v.shape) for k, v in item.items()} == dict.fromkeys(
            ("input_ids", "position_ids", "labels", "token_lang"), (256,)
        )
        at = 0
        segs = ds.segments(i)
        multi += len(segs) > 1
        for doc, off, n in segs:
            r = rows[doc]
            shard = shards.setdefault(r["shard"], np.load(tokens_dir / f"shard-{r['shard']:05d}.npy"))
            want = shard[r["offset"] + off : r["offset"] + off + n]
            assert item["input_ids"][at : at + n].tolist() == want.tolist()
            assert item["position_ids"][at : at + n].tolist() == list(range(n))
            assert (
                item["labels"][at] == -100 and item["labels"][at + 1 : at + n].tolist() == want[1:].tolist()
            )
            assert set(item["token_lang"][at : at + n].tolist()) == {ds.languages.index(r["language"])}
            at += n
        assert at == 256
    assert multi > len(ds) // 2  # most sequences really pack several documents


def test_packed_logits_equal_per_document_logits(built, qwen_tokenizer):
    import torch

    from linguabridge.config import ModelConfig
    from linguabridge.models import build_tiny_qwen2

    tokens_dir, plan = built
    ds = PackedDataset(tokens_dir, plan.stage("stage1"), seq_len=256, seed=3)
    model = build_tiny_qwen2(ModelConfig(), vocab_size=len(qwen_tokenizer), seed=0).eval()
    worst, control, checked = 0.0, 0.0, 0
    with torch.no_grad():
        for i in range(4):
            item = ds[i]
            ids, pos = item["input_ids"][None], item["position_ids"][None]
            packed = model(input_ids=ids, position_ids=pos, use_cache=False).logits[0]
            concat = model(input_ids=ids, use_cache=False).logits[0]  # plain concatenation: cross-talk
            at = 0
            for _, _, n in ds.segments(i):
                alone = model(input_ids=ids[:, at : at + n], use_cache=False).logits[0]
                worst = max(worst, (packed[at : at + n] - alone).abs().max().item())
                if at:
                    control = max(control, (concat[at : at + n] - alone).abs().max().item())
                at += n
                checked += 1
    assert checked >= 8
    assert worst < 1e-5
    assert control > 1e-3  # the check can fail: without per-document positions documents attend to each other


def test_any_step_is_served_directly_and_deterministically(built, monkeypatch):
    tokens_dir, plan = built
    st = plan.stage("stage2")
    first = PackedDataset(tokens_dir, st, seq_len=128, seed=4)
    reads = []
    original = TokenStore.read

    def counting(self, shard, start, length):
        reads.append((shard, start, length))
        return original(self, shard, start, length)

    monkeypatch.setattr(TokenStore, "read", counting)
    resumed = PackedDataset(tokens_dir, st, seq_len=128, seed=4)  # a restart: nothing read yet
    assert reads == []
    last = len(resumed) - 1
    item = resumed[last]
    assert len(reads) == len(resumed.segments(last))  # only that step's own documents
    assert all(np.array_equal(item[k], first[last][k]) for k in item)
    for i in reversed(range(len(first))):
        assert np.array_equal(resumed[i]["input_ids"], first[i]["input_ids"])
    other = PackedDataset(tokens_dir, st, seq_len=128, seed=5)
    assert not all(np.array_equal(other[i]["input_ids"], first[i]["input_ids"]) for i in range(len(first)))


def test_ranks_take_interleaved_slices_of_the_global_order(built):
    tokens_dir, plan = built
    st = plan.stage("stage1")
    n = 128 * 2 * 20
    whole = PackedDataset(tokens_dir, st, seq_len=128, seed=6, num_tokens=n)
    ranks = [PackedDataset(tokens_dir, st, 128, 6, num_tokens=n, rank=r, world_size=2) for r in (0, 1)]
    assert [len(r) for r in ranks] == [20, 20] and len(whole) == 40
    for i in range(20):
        for r in (0, 1):
            assert np.array_equal(ranks[r][i]["input_ids"], whole[2 * i + r]["input_ids"])
    total = Counter(ranks[0].realised_tokens()) + Counter(ranks[1].realised_tokens())
    assert total == Counter(whole.realised_tokens())
    with pytest.raises(LinguabridgeError, match="do not split evenly over 2 ranks"):
        PackedDataset(tokens_dir, st, 128, 6, num_tokens=128 * 41, rank=0, world_size=2)


def test_padding_only_in_the_last_sequence(built):
    tokens_dir, plan = built
    ds = PackedDataset(tokens_dir, plan.stage("stage1"), seq_len=128, seed=7, num_tokens=128 * 30 + 50)
    assert len(ds) == 31 and ds.padding_tokens == 78
    last = ds[30]
    assert (last["labels"][50:] == -100).all() and (last["token_lang"][50:] == -1).all()
    assert all((ds[i]["token_lang"] >= 0).all() for i in range(30))


def test_a_planned_source_missing_from_the_shards_is_a_clear_error(built):
    tokens_dir, _ = built
    st = StagePlan("s", 1000, [SourcePlan("eng_Latn", 500, 0.5, 0.1), SourcePlan("knowledge", 500, 0.5, 0.1)])
    with pytest.raises(LinguabridgeError, match="plans 500 tokens of 'knowledge' but the token shards"):
        PackedDataset(tokens_dir, st, 128, 0)

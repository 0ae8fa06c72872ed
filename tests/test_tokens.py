"""Inventory and token shards: exact counts, estimates, shards + index, parallel = serial, resume per shard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from linguabridge.mixture.inventory import count_tokens, iter_curated, select_heldout
from linguabridge.mixture.shard_reader import TokenIndex, heldout_documents, load_index
from linguabridge.mixture.shard_writer import tokenize_documents
from test_mixture_corpus import write_demo_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[list[Path], set[str]]:
    files = write_demo_corpus(tmp_path_factory.mktemp("corpus"))
    return files, select_heldout(iter_curated(files), 2, seed=3)


@pytest.fixture(scope="module")
def shards(corpus, qwen_tokenizer, tmp_path_factory) -> tuple[Path, dict]:
    files, heldout = corpus
    out = tmp_path_factory.mktemp("tokens")
    return out, tokenize_documents(files, qwen_tokenizer, out, heldout, docs_per_shard=100)


def test_shards_hold_every_document_with_eos_and_its_index(corpus, shards, qwen_tokenizer):
    files, heldout = corpus
    out, summary = shards
    docs = list(iter_curated(files))
    rows = load_index(out)
    assert summary["shards"] == len(list(out.glob("shard-*.npy"))) == -(-len(docs) // 100) > 1
    assert [r["id"] for r in rows] == [d.id for d in docs]
    eos = qwen_tokenizer.eos_token_id
    for d, r in zip(docs, rows, strict=True):
        ids = np.load(out / f"shard-{r['shard']:05d}.npy", mmap_mode="r")[
            r["offset"] : r["offset"] + r["length"]
        ]
        want = qwen_tokenizer(d.text, add_special_tokens=False)["input_ids"] + [eos]
        assert ids.tolist() == want
        assert (r["language"], r["source"]) == (d.language, d.source)
        assert r["split"] == ("heldout" if d.id in heldout else "train")
        assert r["bytes"] == len(d.text.encode("utf-8"))
    index = TokenIndex.load(out)
    assert index.length.tolist() == [r["length"] for r in rows] and index.eos_id == eos
    assert [index.languages[i] for i in index.language] == [r["language"] for r in rows]


def test_inventory_matches_the_shards_and_excludes_heldout(corpus, shards, qwen_tokenizer):
    files, heldout = corpus
    out, summary = shards
    inv = count_tokens(files, qwen_tokenizer, heldout)
    written = json.loads((out / "inventory.json").read_text())
    assert inv.rows == written["rows"]
    assert inv.available() == {k: v["tokens"] for k, v in summary["sources"].items()}
    rows = load_index(out)
    train = sum(r["length"] for r in rows if r["split"] == "train")
    assert sum(inv.available().values()) == train
    assert sum(r["heldout_documents"] for r in inv.rows) == len(heldout) == 32
    assert (out / "inventory.tsv").read_text().splitlines()[0].startswith("source\tlanguage\tdocuments")


def test_estimate_mode_is_close_to_exact(tmp_path, qwen_tokenizer):
    # 600 documents per language so that sampling 20% really samples (the first 32 are always measured).
    files = write_demo_corpus(tmp_path / "c")
    docs = [d for d in iter_curated(files) if d.source in ("eng_Latn", "tha_Thai")]
    big = tmp_path / "big.jsonl"
    with open(big, "w", encoding="utf-8") as fh:
        for k in range(50):
            for d in docs:
                meta = {"language": d.language}
                fh.write(json.dumps({"id": f"{d.id}-{k}", "text": d.text, "metadata": meta}) + "\n")
    exact = count_tokens([big], qwen_tokenizer, set()).available()
    est = count_tokens([big], qwen_tokenizer, set(), mode="estimate", sample_rate=0.2, seed=1)
    for row in est.rows:
        assert row["sampled_documents"] < 0.4 * row["documents"]
        assert row["tokens"] == pytest.approx(exact[row["source"]], rel=0.03)
        assert 0 < row["rel_stderr"] < 0.03
    assert est.mode == "estimate" and est.sample_rate == 0.2


def test_end_of_text_typed_in_a_document_is_not_a_boundary(tmp_path, qwen_tokenizer):
    f = tmp_path / "k.jsonl"
    f.write_text(json.dumps({"id": "x", "text": "a <|endoftext|> b", "metadata": {"language": "en"}}) + "\n")
    tokenize_documents([f], qwen_tokenizer, tmp_path / "t", set())
    ids = np.load(tmp_path / "t" / "shard-00000.npy").tolist()
    assert ids.count(qwen_tokenizer.eos_token_id) == 1 and ids[-1] == qwen_tokenizer.eos_token_id


def test_parallel_workers_write_identical_shards(corpus, shards, qwen_tokenizer, tmp_path):
    files, heldout = corpus
    out, _ = shards
    summary = tokenize_documents(files, qwen_tokenizer, tmp_path, heldout, docs_per_shard=100, workers=2)
    assert summary["shards"] > 1
    for f in sorted(out.glob("shard-*")) + [out / "index.jsonl", out / "inventory.json"]:
        assert (tmp_path / f.name).read_bytes() == f.read_bytes(), f.name
    assert (
        count_tokens(files, qwen_tokenizer, heldout, workers=2).rows
        == count_tokens(files, qwen_tokenizer, heldout).rows
    )


def test_resume_rewrites_only_missing_shards_and_stale_ones_are_dropped(
    corpus, shards, qwen_tokenizer, tmp_path
):
    files, heldout = corpus
    out, first = shards
    work = tmp_path / "t"
    work.mkdir()
    for f in out.iterdir():
        (work / f.name).write_bytes(f.read_bytes())
    # a run killed while writing shard 2: its index part never got its final name
    (work / "shard-00002.index.jsonl").rename(work / "shard-00002.index.jsonl.tmp")
    (work / "shard-00002.npy").write_bytes(b"garbage")
    again = tokenize_documents(files, qwen_tokenizer, work, heldout, docs_per_shard=100)
    assert again["reused_shards"] == first["shards"] - 1
    for f in sorted(out.glob("shard-*")) + [out / "index.jsonl"]:
        assert (work / f.name).read_bytes() == f.read_bytes(), f.name
    # another held-out set makes every old shard stale: all are rewritten, none reused
    other = tokenize_documents(files, qwen_tokenizer, work, set(), docs_per_shard=100)
    assert other["reused_shards"] == 0
    assert all(r["split"] == "train" for r in load_index(work))


def test_heldout_documents_per_language(corpus, shards):
    _, heldout = corpus
    out, _ = shards
    held = heldout_documents(out)
    assert sum(len(v) for v in held.values()) == len(heldout)
    assert all(len(v) == 2 for v in held.values()) and len(held) == 16
    ids, nbytes = held["tha_Thai"][0]
    assert ids.dtype == np.int64 and nbytes > 0 and ids[-1] == 151643


def test_shards_manifest_names_no_machine_path(tmp_path, qwen_tokenizer):
    import json

    from linguabridge.mixture.shard_writer import MANIFEST, _portable, tokenize_documents
    from linguabridge.tokenizer import cache_dir

    src = tmp_path / "docs.jsonl"
    src.write_text('{"id": "a", "text": "hello world", "metadata": {"language": "eng_Latn"}}\n')
    tokenize_documents([src], qwen_tokenizer, tmp_path / "tokens", set())
    manifest = json.loads((tmp_path / "tokens" / MANIFEST).read_text())
    assert not manifest["tokenizer"].startswith("/"), manifest
    assert len(manifest["tokenizer_sha"]) == 16
    assert _portable(str(cache_dir() / "qwen2-tokenizer-v2")) == "$LINGUABRIDGE_CACHE/qwen2-tokenizer-v2"
    assert _portable("Qwen/Qwen2-0.5B") == "Qwen/Qwen2-0.5B"

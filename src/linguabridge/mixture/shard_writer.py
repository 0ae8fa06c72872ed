"""Writing token shards: curated documents -> flat token arrays + an index, in parallel, resumable per shard.

Documents are streamed in a stable order and cut into shards of ``docs_per_shard`` documents, so shard
``k`` always holds the same documents whatever the number of workers. Each worker tokenizes one shard with
the Rust tokenizer, appends the end-of-text token after every document and writes ``shard-k.npy``, ``shard-k.columns.npz``
and ``shard-k.index.jsonl`` (temporary names, each renamed when complete, the rows last). A killed run
keeps its finished shards: the next run re-reads the stream but sends only missing shards to the workers.
``_shards.json`` fingerprints the inputs, tokenizer and held-out set; shards from different inputs are
deleted, never mixed in. At the end the per-shard parts are merged into ``index.jsonl`` / ``index.npz``
and ``inventory.json``.

Reading them back: :mod:`~linguabridge.mixture.shard_reader` (index, memory maps, held-out documents) and
:mod:`~linguabridge.mixture.packing` (the packed training sequences).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from linguabridge.errors import LinguabridgeError
from linguabridge.io import expand_inputs, temp_path, write_json
from linguabridge.mixture.inventory import DEFAULT_KINDS, Inventory, iter_curated
from linguabridge.mixture.shard_reader import TokenIndex, shard_path
from linguabridge.mixture.tokenizer_pool import (
    ENCODE_BATCH,
    EncoderSpec,
    imap_with_tokenizer,
    worker_eos,
    worker_tokenizer,
)
from linguabridge.provenance import fingerprint

MANIFEST = "_shards.json"


def _index_part(out: Path, shard: int) -> Path:
    return out / f"shard-{shard:05d}.index.jsonl"


def _columns_part(out: Path, shard: int) -> Path:
    return out / f"shard-{shard:05d}.columns.npz"


def _write_shard(task: tuple[str, int, list[tuple[str, str, str, str, bool]]]) -> tuple[int, int, int]:
    """Tokenize one shard's documents; write its token array, its index columns and its index rows
    (worker side). The rows file is written last: a shard counts as done once it exists."""
    out_dir, shard, docs = task
    out = Path(out_dir)
    tok, eos = worker_tokenizer(), worker_eos()
    ids: list[list[int]] = []
    for start in range(0, len(docs), ENCODE_BATCH):
        texts = [d[1] for d in docs[start : start + ENCODE_BATCH]]
        ids.extend(e.ids for e in tok.encode_batch_fast(texts, False))
    lengths = np.fromiter((len(x) + 1 for x in ids), dtype=np.uint32, count=len(ids))
    offsets = np.cumsum(lengths, dtype=np.uint64) - lengths
    flat = np.fromiter(
        itertools.chain.from_iterable(itertools.chain(x, (eos,)) for x in ids),
        dtype=np.uint32,
        count=int(lengths.sum()),
    )
    nbytes = [len(d[1].encode("utf-8")) for d in docs]
    npy = shard_path(out, shard)
    with open(temp_path(npy), "wb") as fh:
        np.save(fh, flat)
    os.replace(temp_path(npy), npy)
    cols = _columns_part(out, shard)
    with open(temp_path(cols), "wb") as fh:
        np.savez(
            fh,
            offset=offsets,
            length=lengths,
            nbytes=np.asarray(nbytes, dtype=np.uint64),
            heldout=np.asarray([d[4] for d in docs], dtype=bool),
            language=np.asarray([d[2] for d in docs], dtype=str),
            source=np.asarray([d[3] for d in docs], dtype=str),
        )
    os.replace(temp_path(cols), cols)
    part = _index_part(out, shard)
    with open(temp_path(part), "w", encoding="utf-8") as fh:
        for (doc_id, _, language, source, held), off, n, b in zip(
            docs, offsets, lengths, nbytes, strict=True
        ):
            row = {
                "shard": shard,
                "offset": int(off),
                "length": int(n),
                "id": doc_id,
                "language": language,
                "source": source,
                "split": "heldout" if held else "train",
                "bytes": b,
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(temp_path(part), part)
    return shard, len(docs), int(flat.size)


def _fingerprint(
    files: list[Path], spec: EncoderSpec, heldout: set[str], kinds: Iterable[str], per_shard: int
) -> str:
    inputs = [[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    return fingerprint(
        {
            "inputs": inputs,
            "tokenizer": spec.sha,
            "separator": spec.eos_id,
            "heldout": sorted(heldout),
            "kinds": sorted(kinds),
            "docs_per_shard": per_shard,
        }
    )


def _portable(name: str) -> str:
    """The tokenizer's name without this machine's paths: the run directory can be copied elsewhere."""
    from linguabridge.tokenizer import cache_dir

    path = Path(name)
    if not path.is_absolute():
        return name  # a hub name
    try:
        return "$LINGUABRIDGE_CACHE/" + path.resolve().relative_to(cache_dir().resolve()).as_posix()
    except ValueError:
        return path.name  # a local folder: its name (tokenizer_sha identifies the exact files)


def _clear(out: Path) -> None:
    for f in out.iterdir():
        if f.name.startswith(("shard-", "index.", "inventory.")) or f.name == MANIFEST:
            f.unlink()


def tokenize_documents(
    files: Iterable[str | Path],
    tokenizer,
    out_dir: str | Path,
    heldout: set[str],
    *,
    source_kinds: Iterable[str] = DEFAULT_KINDS,
    docs_per_shard: int = 50_000,
    workers: int = 1,
) -> dict:
    """Write token shards and the index for the curated documents in ``files``; returns a summary with the
    inventory of what was written (``sources``: train tokens per source) and how many shards were reused."""
    files = expand_inputs(files)
    spec = EncoderSpec.from_tokenizer(tokenizer)
    kinds = tuple(source_kinds)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fp = _fingerprint(files, spec, heldout, kinds, docs_per_shard)
    manifest = out / MANIFEST
    if manifest.is_file() and json.loads(manifest.read_text()).get("fingerprint") != fp:
        _clear(out)  # shards of other inputs or another tokenizer: never mix them in
    write_json(
        manifest,
        {
            "fingerprint": fp,
            "tokenizer": _portable(spec.name),
            "tokenizer_sha": spec.sha,
            # the end-of-text token between documents, and the tokenizer's EOS (a chat model's end of turn)
            "separator": {"id": spec.eos_id, "token": spec.eos_token, "eos_token": str(tokenizer.eos_token)},
            "docs_per_shard": docs_per_shard,
        },
    )

    state = {"shards": 0, "reused": 0}

    def tasks() -> Iterator[tuple[str, int, list]]:
        batch: list = []
        for d in itertools.chain(iter_curated(files, kinds), [None]):
            if d is not None:
                batch.append((d.id, d.text, d.language, d.source, d.id in heldout))
            if batch and (d is None or len(batch) == docs_per_shard):
                shard = state["shards"]
                state["shards"] += 1
                done = (_index_part(out, shard), _columns_part(out, shard), shard_path(out, shard))
                if all(f.is_file() for f in done):
                    state["reused"] += 1
                else:
                    yield str(out), shard, batch
                batch = []

    for _ in imap_with_tokenizer(_write_shard, tasks(), spec, workers):
        pass
    inventory = _merge(out, state["shards"], spec)
    inventory.write(out)
    return {
        "total_tokens": sum(r["tokens"] + r["heldout_tokens"] for r in inventory.rows),
        "documents": sum(r["documents"] + r["heldout_documents"] for r in inventory.rows),
        "shards": state["shards"],
        "reused_shards": state["reused"],
        "sources": inventory.sources(),
    }


def _merge(out: Path, shards: int, spec: EncoderSpec) -> Inventory:
    """Join the per-shard parts into ``index.jsonl`` (bytes copied) and ``index.npz`` (columns
    concatenated, names mapped to sorted ids), and count tokens per (source, language), all vectorised."""
    tmp = temp_path(out / "index.jsonl")
    with open(tmp, "wb") as dst:
        for shard in range(shards):
            with open(_index_part(out, shard), "rb") as src:
                shutil.copyfileobj(src, dst)
    tmp.replace(out / "index.jsonl")
    parts = []
    for shard in range(shards):
        with np.load(_columns_part(out, shard), allow_pickle=False) as z:
            parts.append({k: z[k] for k in z.files})
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}
    if not cat:
        raise LinguabridgeError(f"no documents to tokenize for {out}", "check the curated inputs")
    # Names sorted so a language's id is the same in every run over the same data.
    languages, lang = np.unique(cat["language"], return_inverse=True)
    sources, src = np.unique(cat["source"], return_inverse=True)
    TokenIndex(
        shard=np.repeat(np.arange(shards, dtype=np.uint32), [len(p["length"]) for p in parts]),
        offset=cat["offset"],
        length=cat["length"],
        language=lang.astype(np.uint16),
        source=src.astype(np.uint16),
        heldout=cat["heldout"],
        nbytes=cat["nbytes"],
        languages=[str(x) for x in languages],
        sources=[str(x) for x in sources],
        eos_id=spec.eos_id,
    ).save(out)
    cell = src.astype(np.int64) * len(languages) + lang
    held = cat["heldout"]
    n = len(sources) * len(languages)

    def total(weights, mask) -> np.ndarray:
        return np.bincount(cell[mask], weights=weights[mask] if weights is not None else None, minlength=n)

    length = cat["length"].astype(np.float64)
    sums = {
        "documents": total(None, ~held),
        "bytes": total(cat["nbytes"].astype(np.float64), ~held),
        "tokens": total(length, ~held),
        "heldout_documents": total(None, held),
        "heldout_tokens": total(length, held),
    }
    rows = []
    for c in np.flatnonzero(sums["documents"] + sums["heldout_documents"]):
        s, lg = divmod(int(c), len(languages))
        rows.append(
            {"source": str(sources[s]), "language": str(languages[lg])}
            | {k: int(v[c]) for k, v in sums.items()}
        )
    return Inventory("exact", rows, spec.name, spec.sha)

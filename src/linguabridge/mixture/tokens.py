"""Token shards and the plan-exact packed dataset.

On disk (``DIR/tokens/``): ``shard-NNNNN.npy`` (flat uint32 token ids, each document followed by EOS) and
``index.jsonl`` (one row per document: shard, offset, length incl. EOS, id, language, source, split, bytes).
Held-out documents (``split: heldout``) are carved out per language before any packing.

:class:`PackedDataset` turns one stage of the plan into fixed-length sequences: which documents (and
repeats) go into which sequence depends only on the plan, the index and a seed, so any step can be served
without replaying earlier ones. Position ids restart at every document so, with no attention mask and no
KV cache, documents never attend to each other.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from linguabridge.data.records import Document, write_json
from linguabridge.mixture.plan import StagePlan


def doc_source(doc: Document) -> str:
    """The mixture source of a document: its kind, or its language for web text."""
    kind = doc.metadata.get("source", "web")
    return doc.metadata["language"] if kind == "web" else kind


def select_heldout(docs: Iterable[Document], per_language: int, seed: int) -> set[str]:
    """Ids of held-out web documents: a seeded choice of ``per_language`` per language, carved out before
    planning and packing. A language with too few documents keeps all of them for training."""
    by_lang: dict[str, list[str]] = defaultdict(list)
    for d in docs:
        if d.metadata.get("source", "web") == "web":
            by_lang[d.metadata["language"]].append(d.id)
    heldout: set[str] = set()
    for lang in sorted(by_lang):
        ids = sorted(by_lang[lang])
        random.Random(f"{seed}-{lang}").shuffle(ids)
        if len(ids) > per_language * 2:
            heldout.update(ids[:per_language])
    return heldout


def _encode(docs: list[Document], tokenizer, batch_size: int) -> Iterable[tuple[Document, list[int]]]:
    eos = tokenizer.eos_token_id
    for start in range(0, len(docs), batch_size):
        batch = docs[start : start + batch_size]
        enc = tokenizer([d.text for d in batch], add_special_tokens=False)["input_ids"]
        for d, ids in zip(batch, enc, strict=True):
            yield d, [*ids, eos]


def count_tokens(
    docs: list[Document], tokenizer, heldout: set[str], batch_size: int = 256
) -> dict[str, dict]:
    """Inventory: training tokens and documents per source (held-out excluded), EOS included."""
    inventory: dict[str, dict] = defaultdict(lambda: {"tokens": 0, "documents": 0, "heldout_tokens": 0})
    for d, ids in _encode(docs, tokenizer, batch_size):
        inv = inventory[doc_source(d)]
        if d.id in heldout:
            inv["heldout_tokens"] += len(ids)
        else:
            inv["tokens"] += len(ids)
            inv["documents"] += 1
    return dict(inventory)


def tokenize_documents(
    docs: list[Document], tokenizer, out_dir: str | Path, heldout: set[str], batch_size: int = 256
) -> dict:
    """Tokenize documents into one shard + index; returns the inventory (train tokens per source)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, chunks, offset = [], [], 0
    for d, ids in _encode(docs, tokenizer, batch_size):
        chunks.append(np.asarray(ids, dtype=np.uint32))
        rows.append(
            {
                "shard": 0,
                "offset": offset,
                "length": len(ids),
                "id": d.id,
                "language": d.metadata["language"],
                "source": doc_source(d),
                "split": "heldout" if d.id in heldout else "train",
                "bytes": len(d.text.encode("utf-8")),
            }
        )
        offset += len(ids)
    tokens = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint32)
    np.save(out / "shard-00000.npy", tokens)
    with open(out / "index.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    inventory: dict[str, dict] = defaultdict(lambda: {"tokens": 0, "documents": 0, "heldout_tokens": 0})
    for row in rows:
        inv = inventory[row["source"]]
        if row["split"] == "train":
            inv["tokens"] += row["length"]
            inv["documents"] += 1
        else:
            inv["heldout_tokens"] += row["length"]
    result = {"total_tokens": int(tokens.size), "documents": len(rows), "sources": dict(inventory)}
    write_json(out / "inventory.json", result)
    return result


def load_index(tokens_dir: str | Path) -> list[dict]:
    with open(Path(tokens_dir) / "index.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@dataclass
class Segment:
    doc: int  # row in the index
    start: int  # token offset inside the document
    length: int


class PackedDataset:
    """Map-style dataset of packed training sequences realising one stage of the plan exactly.

    Items: ``input_ids``, ``position_ids``, ``labels`` (first token of every segment masked: it cannot be
    predicted from another document) and ``token_lang`` (per-token index into :attr:`languages`).
    """

    def __init__(
        self, tokens_dir: str | Path, stage: StagePlan, seq_len: int, seed: int, num_tokens: int | None = None
    ):
        self.dir = Path(tokens_dir)
        self.seq_len = seq_len
        self.index = load_index(self.dir)
        self.tokens = np.load(self.dir / "shard-00000.npy", mmap_mode="r")
        self.languages = sorted({r["language"] for r in self.index})
        self._lang_id = {lang: i for i, lang in enumerate(self.languages)}
        budget = num_tokens if num_tokens is not None else int(stage.tokens)
        self.sequences = self._layout(stage, budget, seed)

    def _layout(self, stage: StagePlan, budget: int, seed: int) -> list[list[Segment]]:
        rng = random.Random(seed)
        by_source: dict[str, list[int]] = defaultdict(list)
        for i, row in enumerate(self.index):
            if row["split"] == "train":
                by_source[row["source"]].append(i)
        scale = budget / stage.tokens if stage.tokens else 0.0
        pieces: list[Segment] = []
        for src in stage.sources:
            want = round(src.tokens * scale)
            docs = by_source.get(src.name, [])
            if want <= 0:
                continue
            if not docs:
                raise ValueError(f"plan asks {want} tokens of {src.name!r} but the token shards have none")
            taken, epoch = 0, 0
            while taken < want:
                order = docs[:]
                random.Random(seed * 1000 + epoch).shuffle(order)  # a fresh order each epoch
                for i in order:
                    n = min(self.index[i]["length"], want - taken)
                    pieces.append(Segment(i, 0, n))
                    taken += n
                    if taken >= want:
                        break
                epoch += 1
        rng.shuffle(pieces)
        # Cut the stream of pieces into sequences of seq_len; a document crossing a boundary is split.
        sequences: list[list[Segment]] = []
        current: list[Segment] = []
        room = self.seq_len
        for piece in pieces:
            start, left = piece.start, piece.length
            while left > 0:
                n = min(left, room)
                current.append(Segment(piece.doc, start, n))
                start, left, room = start + n, left - n, room - n
                if room == 0:
                    sequences.append(current)
                    current, room = [], self.seq_len
        self.dropped_tokens = self.seq_len - room if current else 0  # the incomplete tail (< one sequence)
        return sequences

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, i: int) -> dict:
        import torch

        ids, pos, lang, labels = [], [], [], []
        for seg in self.sequences[i]:
            row = self.index[seg.doc]
            off = row["offset"] + seg.start
            chunk = self.tokens[off : off + seg.length].astype(np.int64)
            ids.append(chunk)
            pos.append(np.arange(seg.length, dtype=np.int64))
            lang.append(np.full(seg.length, self._lang_id[row["language"]], dtype=np.int64))
            lab = chunk.copy()
            lab[0] = -100
            labels.append(lab)
        return {
            "input_ids": torch.from_numpy(np.concatenate(ids)),
            "position_ids": torch.from_numpy(np.concatenate(pos)),
            "labels": torch.from_numpy(np.concatenate(labels)),
            "token_lang": torch.from_numpy(np.concatenate(lang)),
        }

    def realised_tokens(self) -> dict[str, int]:
        """Tokens per source actually served by the layout (for checking against the plan)."""
        counts: dict[str, int] = defaultdict(int)
        for seq in self.sequences:
            for seg in seq:
                counts[self.index[seg.doc]["source"]] += seg.length
        return dict(counts)


def heldout_documents(tokens_dir: str | Path) -> dict[str, list[tuple[np.ndarray, int]]]:
    """Held-out (token ids, utf-8 bytes) per language, for validation loss and bits per byte."""
    index = load_index(tokens_dir)
    tokens = np.load(Path(tokens_dir) / "shard-00000.npy", mmap_mode="r")
    out: dict[str, list] = defaultdict(list)
    for row in index:
        if row["split"] == "heldout":
            out[row["language"]].append(
                (
                    np.asarray(tokens[row["offset"] : row["offset"] + row["length"]], dtype=np.int64),
                    row["bytes"],
                )
            )
    return dict(out)


def write_plan(path: str | Path, plan) -> None:
    write_json(path, plan.to_json())

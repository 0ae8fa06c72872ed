"""The plan-exact packed dataset: one stage of the mixture plan as fixed-length training sequences.

Layout (computed once, vectorised, from the plan, the index and a seed, never from what was read before):

1. each source gets exactly its planned tokens (scaled to ``num_tokens`` by largest remainders): whole
   epochs of its training documents, each epoch in a fresh seeded order, then a seeded prefix of one more
   epoch whose last document is cut to land on the exact count;
2. all those pieces are shuffled together (seeded) into one stream;
3. sequence ``g`` is stream tokens ``[g * seq_len, (g + 1) * seq_len)``; a document crossing the edge
   continues as a new segment in the next sequence. Only the very last sequence can need padding.

So item ``i`` is a binary search and a few slices: resuming at step N reads nothing before it. Position ids
restart at every segment; with no attention mask and no KV cache the model then builds a block-diagonal
mask (see ARCHITECTURE.md), so documents never attend to each other, and the first token of every segment
carries no label (nothing in its sequence predicts it). ``token_lang`` gives each token's language (an index
into :attr:`PackedDataset.languages`; -1 on padding) so training can log loss and tokens per language.

With ``world_size > 1`` rank ``r`` serves global sequences ``r, r + W, r + 2W, ...``: the ranks' step-k
micro-batches together are exactly the single-process global batch of step k.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from linguabridge.errors import LinguabridgeError
from linguabridge.mixture.plan import StagePlan
from linguabridge.mixture.shard_reader import TokenIndex, TokenStore
from linguabridge.mixture.strategies import apportion

IGNORE = -100


class PackedDataset:
    """Map-style dataset of packed sequences realising one stage of the plan exactly.

    Items: ``input_ids``, ``position_ids``, ``labels`` and ``token_lang`` (int64 tensors of ``seq_len``).
    """

    def __init__(
        self,
        tokens_dir: str | Path,
        stage: StagePlan,
        seq_len: int,
        seed: int,
        num_tokens: int | None = None,
        rank: int = 0,
        world_size: int = 1,
    ):
        if seq_len < 1 or world_size < 1 or not 0 <= rank < world_size:
            raise LinguabridgeError(
                f"PackedDataset: seq_len={seq_len}, rank={rank}, world_size={world_size}",
                "seq_len >= 1 and 0 <= rank < world_size",
            )
        self.dir = Path(tokens_dir)
        self.stage = stage.name
        self.seq_len, self.seed, self.rank, self.world_size = seq_len, seed, rank, world_size
        self.index = TokenIndex.load(self.dir)
        self.store = TokenStore(self.dir)
        self.languages = list(self.index.languages)
        budget = int(num_tokens) if num_tokens is not None else int(round(stage.tokens))
        self.planned = self._targets(stage, budget)
        self._layout()
        self.total_tokens = int(self.piece_end[-1]) if len(self.piece_end) else 0
        self.global_sequences = -(-self.total_tokens // seq_len)
        self.padding_tokens = self.global_sequences * seq_len - self.total_tokens
        if self.global_sequences % world_size:
            raise LinguabridgeError(
                f"{self.global_sequences} sequences do not split evenly over {world_size} ranks",
                f"make num_tokens a multiple of seq_len x world_size ({seq_len * world_size})",
            )

    # ------------------------------------------------------------------------------------------ layout
    @staticmethod
    def _targets(stage: StagePlan, budget: int) -> dict[str, int]:
        planned = {s.name: float(s.tokens) for s in stage.sources if s.tokens > 0}
        total = sum(planned.values())
        if budget <= 0 or total <= 0:
            raise LinguabridgeError(
                f"stage {stage.name!r} plans no tokens", "check mixture.stages and the plan"
            )
        return apportion({k: v * budget / total for k, v in planned.items()}, budget)

    def _layout(self) -> None:
        idx = self.index
        train = ~idx.heldout
        docs_parts, len_parts = [], []
        for name, want in self.planned.items():
            if want <= 0:
                continue
            sid = idx.sources.index(name) if name in idx.sources else -1
            docs = np.flatnonzero(train & (idx.source == sid)) if sid >= 0 else np.zeros(0, dtype=np.int64)
            if not docs.size:
                raise LinguabridgeError(
                    f"stage {self.stage!r} plans {want:,} tokens of {name!r} but the token shards in {self.dir} "
                    "hold no training documents of it",
                    "re-plan on this data (rerun the mixture and tokens stages) or drop it from the shares",
                )
            lens = idx.length[docs].astype(np.int64)
            full, rest = divmod(want, int(lens.sum()))
            rng = np.random.default_rng([self.seed, zlib.crc32(name.encode())])
            for _ in range(full):
                perm = rng.permutation(docs.size)
                docs_parts.append(docs[perm])
                len_parts.append(lens[perm])
            if rest:
                perm = rng.permutation(docs.size)
                cum = np.cumsum(lens[perm])
                j = int(np.searchsorted(cum, rest))  # first document reaching the remainder
                part = lens[perm[: j + 1]].copy()
                part[-1] -= int(cum[j]) - rest  # cut the last document to land exactly on the plan
                docs_parts.append(docs[perm[: j + 1]])
                len_parts.append(part)
        doc = np.concatenate(docs_parts)
        length = np.concatenate(len_parts)
        order = np.random.default_rng([self.seed, 0x5EED]).permutation(doc.size)
        # Kept per piece: its document (uint32 while the index allows) and where it ends in the stream;
        # 12 bytes a piece, its length is the difference of two ends.
        doc_type = np.uint32 if len(idx) < 2**32 else np.int64
        self.piece_doc = doc[order].astype(doc_type)
        self.piece_end = np.cumsum(length[order])
        self.epochs = {
            name: want / int(idx.length[train & (idx.source == idx.sources.index(name))].sum())
            for name, want in self.planned.items()
            if want > 0
        }

    # ----------------------------------------------------------------------------------------- serving
    def __len__(self) -> int:
        return self.global_sequences // self.world_size

    def segments(self, i: int) -> list[tuple[int, int, int]]:
        """``(document row, token offset in the document, length)`` of each segment of item ``i``."""
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"item {i} of {len(self)}")
        g = i * self.world_size + self.rank
        a, b = g * self.seq_len, min((g + 1) * self.seq_len, self.total_tokens)
        p = int(np.searchsorted(self.piece_end, a, side="right"))
        out = []
        while a < b:
            start = int(self.piece_end[p - 1]) if p else 0
            n = min(int(self.piece_end[p]), b) - a
            out.append((int(self.piece_doc[p]), a - start, n))
            a += n
            p += 1
        return out

    def __getitem__(self, i: int) -> dict:
        import torch

        S = self.seq_len
        ids = np.full(S, self.index.eos_id, dtype=np.int64)
        pos = np.zeros(S, dtype=np.int64)
        labels = np.full(S, IGNORE, dtype=np.int64)
        lang = np.full(S, -1, dtype=np.int64)
        at = 0
        for doc, off, n in self.segments(i):
            chunk = self.store.read(int(self.index.shard[doc]), int(self.index.offset[doc]) + off, n)
            ids[at : at + n] = chunk
            pos[at : at + n] = np.arange(n)
            labels[at + 1 : at + n] = chunk[1:]
            lang[at : at + n] = self.index.language[doc]
            at += n
        if at < S:  # padding (only ever in the last sequence): its own segment, no labels, no language
            pos[at:] = np.arange(S - at)
        return {
            "input_ids": torch.from_numpy(ids),
            "position_ids": torch.from_numpy(pos),
            "labels": torch.from_numpy(labels),
            "token_lang": torch.from_numpy(lang),
        }

    # ---------------------------------------------------------------------------------------- accounting
    def _segment_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every segment of this rank's sequences as (piece, sequence, length), vectorised."""
        S = self.seq_len
        starts = np.concatenate(([0], self.piece_end[:-1]))
        edges = np.arange(0, self.total_tokens, S, dtype=np.int64)
        cuts = np.union1d(starts, edges)
        seg_len = np.diff(np.append(cuts, self.total_tokens))
        piece = np.searchsorted(self.piece_end, cuts, side="right")
        seq = cuts // S
        mine = (seq % self.world_size) == self.rank
        return piece[mine], seq[mine], seg_len[mine]

    def realised_tokens(self, by: str = "source") -> dict[str, int]:
        """Tokens this rank serves per source (or ``by="language"``), padding excluded."""
        piece, _, seg_len = self._segment_table()
        docs = self.piece_doc[piece]
        col, names = (
            (self.index.source, self.index.sources)
            if by == "source"
            else (self.index.language, self.languages)
        )
        counts = np.bincount(col[docs].astype(np.int64), weights=seg_len, minlength=len(names))
        return {names[k]: int(v) for k, v in enumerate(counts) if v}

    def stats(self) -> dict:
        """Sequences, padding and unlabelled tokens (segment starts) of this rank, and epochs per source."""
        _, _, seg_len = self._segment_table()
        served = len(self) * self.seq_len
        pad = self.padding_tokens if (self.global_sequences - 1) % self.world_size == self.rank else 0
        return {
            "sequences": len(self),
            "tokens": served,
            "padding_tokens": pad,
            "padding_fraction": pad / served if served else 0.0,
            "unlabelled_fraction": (len(seg_len) + pad) / served if served else 0.0,
            "planned_tokens": self.planned,
            "epochs": self.epochs,
        }

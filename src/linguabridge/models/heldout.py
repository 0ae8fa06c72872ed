"""Held-out loss and bits per byte of a causal LM, per language.

One measurement for two callers: the CPT runner's held-out monitor (every ``eval_every`` steps) and the
evaluation stage (``heldout_bpb``); it lives beside the models so that neither train/ nor eval/ imports the
other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class HeldoutBatch:
    """Held-out documents packed into rows of ``seq_len`` (position ids restart per piece)."""

    input_ids: list[list[int]] = field(default_factory=list)
    position_ids: list[list[int]] = field(default_factory=list)
    predict: list[list[int]] = field(default_factory=list)  # 1 where the token is scored
    lang: list[list[int]] = field(default_factory=list)


def pack_heldout(docs_by_lang: dict, seq_len: int, max_docs: int) -> tuple[list[str], HeldoutBatch, dict]:
    """Pack every language's first ``max_docs`` held-out documents for batched scoring.

    A document longer than ``seq_len`` is cut into pieces; each later piece starts with the previous token
    as unscored context, so every token but the document's first is scored exactly once, with context.
    Returns (languages, packed rows, utf-8 bytes per language)."""
    langs = sorted(docs_by_lang)
    rows = HeldoutBatch()
    cur: tuple[list, list, list, list] = ([], [], [], [])
    nbytes: dict[str, int] = {}

    def flush():
        nonlocal cur
        if cur[0]:
            pad = seq_len - len(cur[0])
            rows.input_ids.append(cur[0] + [0] * pad)
            rows.position_ids.append(cur[1] + list(range(pad)))  # padding is its own segment, unscored
            rows.predict.append(cur[2] + [0] * pad)
            rows.lang.append(cur[3] + [0] * pad)
        cur = ([], [], [], [])

    for li, lang in enumerate(langs):
        nbytes[lang] = 0
        for ids, doc_bytes in docs_by_lang[lang][:max_docs]:
            ids = [int(t) for t in ids]
            nbytes[lang] += int(doc_bytes)
            start = 0
            while start < len(ids):
                ctx = 1 if start else 0
                piece = ids[start - ctx : start - ctx + seq_len]
                if len(cur[0]) + len(piece) > seq_len:
                    flush()
                cur[0].extend(piece)
                cur[1].extend(range(len(piece)))
                cur[2].extend([0] + [1] * (len(piece) - 1))
                cur[3].extend([li] * len(piece))
                start = start - ctx + len(piece)
    flush()
    return langs, rows, nbytes


def heldout_losses(
    model, heldout: dict, max_docs: int = 8, seq_len: int = 1024, batch_size: int = 1, bf16: bool = False
) -> dict[str, dict[str, float]]:
    """Mean token loss and bits per byte per language on held-out documents.

    Bits per byte = total nats / ln 2 / utf-8 bytes of the scored documents: comparable across tokenizers.
    Every process must call this when the model is sharded (FSDP/ZeRO-3 forward passes are collective)."""
    import torch

    if not heldout:
        return {}
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    langs, rows, nbytes = pack_heldout(heldout, seq_len, max_docs)
    nats = torch.zeros(len(langs), dtype=torch.float64, device=device)
    count = torch.zeros(len(langs), dtype=torch.float64, device=device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16 and device.type == "cuda")
    with torch.no_grad(), autocast:
        for b in range(0, len(rows.input_ids), batch_size):
            sl = slice(b, b + batch_size)
            ids = torch.tensor(rows.input_ids[sl], device=device)
            pos = torch.tensor(rows.position_ids[sl], device=device)
            # targets shifted left (the last position predicts nothing): no copy of the logits
            predict = (
                torch.tensor([r[1:] + [0] for r in rows.predict[sl]], device=device).reshape(-1).double()
            )
            lang = torch.tensor([r[1:] + [0] for r in rows.lang[sl]], device=device).reshape(-1)
            target = torch.nn.functional.pad(ids[:, 1:], (0, 1)).reshape(-1)
            logits = model(input_ids=ids, position_ids=pos, use_cache=False).logits
            ce = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]).float(), target, reduction="none"
            )
            nats.index_add_(0, lang, ce.to(torch.float64) * predict)
            count.index_add_(0, lang, predict)
    model.train(was_training)
    out = {}
    for lang, s, c in zip(langs, nats.tolist(), count.tolist(), strict=True):
        out[lang] = {"loss": s / max(1.0, c), "bpb": s / math.log(2) / max(1, nbytes[lang]), "tokens": int(c)}
    return out

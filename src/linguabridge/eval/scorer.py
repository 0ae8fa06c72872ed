"""Log-likelihood scoring and greedy generation on a Hugging Face causal LM, on token ids.

What makes it faster than lm-eval's HFLM with the same numbers:
- the LM head runs only at the scored positions (the base model's last hidden states are gathered first), and
  the float32 log-softmax over the vocabulary runs in chunks of positions, so memory stays bounded with 150k+
  vocabularies;
- requests that share their context (the choices of one item) form a group: the context is run once into a
  KV cache, which every continuation of the group then reads; groups batched together run their common start
  (the same few-shot examples) once too;
- batches are filled up to a token budget, groups sorted by length.

Padding cannot change a score: prefixes and continuations are padded on the right only, and every padded key
is masked (weight exactly 0), so a real token sees the same keys, at the same positions, in any batch. What
can differ is float summation order inside the kernels (~1e-7), hence the 1e-5 invariance test.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

HEAD_CHUNK = 256  # scored positions per LM-head call: 256 x 151k float32 logits = 155 MB


@dataclass(frozen=True)
class Scored:
    """One continuation's log-likelihood and whether greedy decoding would have produced it."""

    logprob: float
    is_greedy: bool


def _split(context: Sequence[int], continuation: Sequence[int], max_length: int) -> tuple[tuple, list]:
    """(prefix, tail): the model reads prefix + tail, scoring every tail position against ``continuation``.

    The same truncation as HFLM: the last ``max_length`` tokens of context + continuation minus one.
    """
    inp = (list(context) + list(continuation))[-(max_length + 1) :][:-1]
    cut = len(inp) - len(continuation)
    return tuple(inp[:cut]), inp[cut:]


def _common_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _batches(groups: list[tuple], max_tokens: int) -> list[list[tuple]]:
    """Groups -> batches of at most ``max_tokens`` tokens run (at least one group each).

    A batch runs its groups' common prefix once, each group's rest of the prefix, then every continuation;
    the expanded KV cache (continuations x whole prefix) is held to 4x the budget. Groups with an empty
    prefix never share a batch with others: a row of padding alone would give NaN keys.
    """
    batches: list[list[tuple]] = []
    current: list[tuple] = []
    common = 0
    for group in groups:
        shared = min(common, _common_length(current[0][0], group[0])) if current else len(group[0])
        trial = current + [group]
        prefix_len = max(len(g[0]) for g in trial)
        tails = [t for g in trial for _, t in g[1]]
        tail_len = max(len(t) for t in tails)
        cost = shared + len(trial) * (prefix_len - shared) + len(tails) * tail_len
        held = len(tails) * (prefix_len + tail_len)
        mixed = current and (len(current[0][0]) == 0) != (len(group[0]) == 0)
        if current and (cost > max_tokens or held > 4 * max_tokens or mixed):
            batches.append(current)
            current, common = [group], len(group[0])
        else:
            current, common = trial, shared
    if current:
        batches.append(current)
    return batches


def _right_pad(rows: list[Sequence[int]], width: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


class Scorer:
    """Scores and generates on ``model`` (a ``*ForCausalLM``), in its dtype and on its device."""

    def __init__(self, model, max_length: int, max_batch_tokens: int = 8192, pad_token_id: int = 0):
        self.model = model.eval()
        self.base = model.base_model  # the transformer without its LM head
        self.head = model.get_output_embeddings()
        self.max_length = max_length
        self.max_batch_tokens = max_batch_tokens
        self.pad = pad_token_id
        # transformers 5.2x renamed ``past_key_values`` to ``cache`` (the old name warns); 5.0 knows only the old
        params = inspect.signature(self.base.forward).parameters
        self.cache_kwarg = "cache" if "cache" in params else "past_key_values"

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def _hidden(self, ids, mask, positions, cache):
        out = self.base(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
            use_cache=cache is not None,
            **{self.cache_kwarg: cache},
        )
        return out.last_hidden_state

    def _head_logprobs(
        self, hidden: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Target log-probabilities and greedy hits at ``hidden``'s positions, chunked over positions."""
        logprobs, greedy = [], []
        for start in range(0, hidden.shape[0], HEAD_CHUNK):
            logits = self.head(hidden[start : start + HEAD_CHUNK]).float()
            tgt = targets[start : start + HEAD_CHUNK].to(logits.device)
            logprobs.append(F.log_softmax(logits, dim=-1).gather(-1, tgt[:, None])[:, 0])
            greedy.append(logits.argmax(-1) == tgt)
        return torch.cat(logprobs), torch.cat(greedy)

    def _prefix_cache(self, prefixes: list[tuple], rows: torch.Tensor):
        """KV cache of ``prefixes`` (their common start run once), one row per entry of ``rows``, and its mask."""
        from transformers import DynamicCache

        plen = max(len(p) for p in prefixes)
        if not plen:
            return None, torch.zeros((len(rows), 0), dtype=torch.long)
        common = min(_common_length(prefixes[0], p) for p in prefixes)
        cache = DynamicCache()
        if common:
            ids = torch.tensor([prefixes[0][:common]])
            self._hidden(ids, torch.ones_like(ids), torch.arange(common)[None, :], cache)
            cache.batch_select_indices(torch.zeros(len(prefixes), dtype=torch.long, device=self.device))
        rests, rmask = _right_pad([p[common:] for p in prefixes], plen - common, self.pad)
        mask = torch.cat([torch.ones((len(prefixes), common), dtype=torch.long), rmask], dim=1)
        if plen > common:
            positions = (common + torch.arange(plen - common)).expand(len(prefixes), -1)
            self._hidden(rests, mask, positions, cache)
        cache.batch_select_indices(rows.to(self.device))
        return cache, mask[rows]

    @torch.inference_mode()
    def loglikelihood(self, requests: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[Scored]:
        """Each (context tokens, continuation tokens) -> the continuation's summed log-probability."""
        by_prefix: dict[tuple, list[tuple[int, list[int]]]] = defaultdict(list)
        targets = {}
        for i, (context, continuation) in enumerate(requests):
            prefix, tail = _split(context, continuation, self.max_length)
            by_prefix[prefix].append((i, tail))
            targets[i] = list(continuation)[-len(tail) :]
        # longest first, ties by tokens: a deterministic order whatever the requests' order (less padding;
        # items of a task with fixed few-shot examples then share their start within every batch)
        groups = sorted(by_prefix.items(), key=lambda g: (-len(g[0]), -max(len(t) for _, t in g[1]), g[0]))
        results: dict[int, Scored] = {}
        for batch in _batches(groups, self.max_batch_tokens):
            prefixes = [p for p, _ in batch]
            members = [(g, i, tail) for g, (_, reqs) in enumerate(batch) for i, tail in reqs]
            cache, pmask = self._prefix_cache(prefixes, torch.tensor([g for g, _, _ in members]))
            tlen = max(len(t) for _, _, t in members)
            tids, tmask = _right_pad([t for _, _, t in members], tlen, self.pad)
            starts = torch.tensor([len(prefixes[g]) for g, _, _ in members])
            positions = starts[:, None] + torch.arange(tlen)[None, :]
            hidden = self._hidden(tids, torch.cat([pmask, tmask], dim=1), positions, cache)
            keep = tmask.bool().to(hidden.device)
            flat_targets = torch.tensor([t for _, i, _ in members for t in targets[i]])
            logprobs, greedy = self._head_logprobs(hidden[keep], flat_targets)
            at = 0
            for _, i, tail in members:
                n = len(tail)
                results[i] = Scored(float(logprobs[at : at + n].sum()), bool(greedy[at : at + n].all()))
                at += n
        return [results[i] for i in range(len(requests))]

    @torch.inference_mode()
    def greedy(
        self,
        contexts: Sequence[Sequence[int]],
        max_new_tokens: int,
        stop: Callable[[list[int]], bool] = lambda _: False,
        eos_token_id: int | None = None,
    ) -> list[list[int]]:
        """Greedy continuations of each context, batched with a KV cache.

        A sequence ends when ``stop(generated tokens)`` is true, after ``eos_token_id`` or at
        ``max_new_tokens``. Batches of similar lengths are padded on the left, with the padding masked and
        the positions counted from each sequence's first real token, so a sequence decodes as it would alone.
        """
        from transformers import DynamicCache

        order = sorted(range(len(contexts)), key=lambda i: -len(contexts[i]))
        results: dict[int, list[int]] = {}
        budget = max(1, self.max_batch_tokens)
        at = 0
        while at < len(order):
            width = len(contexts[order[at]]) + max_new_tokens
            size = max(1, budget // max(1, width))
            idx = order[at : at + size]
            at += size
            ctx = [list(contexts[i]) for i in idx]
            clen = max(len(c) for c in ctx)
            ids = torch.full((len(ctx), clen), self.pad, dtype=torch.long)
            mask = torch.zeros((len(ctx), clen), dtype=torch.long)
            for r, c in enumerate(ctx):
                ids[r, clen - len(c) :] = torch.tensor(c, dtype=torch.long)
                mask[r, clen - len(c) :] = 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            cache = DynamicCache()
            generated: list[list[int]] = [[] for _ in ctx]
            alive = list(range(len(ctx)))
            step_ids = ids
            for _ in range(max_new_tokens):
                hidden = self._hidden(step_ids, mask, positions, cache)
                nxt = self.head(hidden[:, -1]).float().argmax(-1).tolist()
                still = []
                for r, tok in enumerate(nxt):
                    seq = generated[alive[r]]
                    seq.append(tok)
                    if tok != eos_token_id and not stop(seq):
                        still.append(r)
                if not still:
                    break
                keep = torch.tensor(still)
                cache.batch_select_indices(keep.to(self.device))
                alive = [alive[r] for r in still]
                mask = torch.cat([mask[keep], torch.ones((len(still), 1), dtype=torch.long)], dim=1)
                positions = positions[keep][:, -1:] + 1
                step_ids = torch.tensor([[nxt[r]] for r in still])
            for r, i in enumerate(idx):
                results[i] = generated[r]
        return [results[i] for i in range(len(contexts))]

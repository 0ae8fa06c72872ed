"""Pass 3 of the bitext filter: directions (as given / both / split) and per-direction caps."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from linguabridge.data.bitext.rules import language_pair
from linguabridge.data.records import stable_id


def _reverse(pair: dict) -> dict:
    return pair | {
        "id": f"{pair['id']}~rev",
        "src_lang": pair["tgt_lang"],
        "tgt_lang": pair["src_lang"],
        "src": pair["tgt"],
        "tgt": pair["src"],
    }


def orient(pair: dict, mode: str, seed: int) -> list[dict]:
    """The pair as given (``as_given``), in both directions (``both``), or in one direction drawn from a
    seeded hash of its id (``split``: each language pair ends up about half X->Y and half Y->X)."""
    if mode == "both":
        return [pair, _reverse(pair)]
    if mode == "split":
        lo = language_pair(pair).split("-")[0]
        want_lo_first = int(stable_id(str(seed), pair["id"]), 16) % 2 == 0
        return [pair if (pair["src_lang"] == lo) == want_lo_first else _reverse(pair)]
    return [pair]


def _cap_for(direction: str, cfg) -> int | None:
    return cfg.direction_caps.get(direction, cfg.max_per_direction)


def _rank_key(pair: dict, seed: int) -> tuple[float, str]:
    margin = pair.get("scores", {}).get("margin")
    return (-(margin if margin is not None else float("inf")), stable_id(str(seed), pair["id"]))


def balance(pairs: list[dict], cfg, seed: int) -> Iterator[tuple[str, dict, bool]]:
    """``(direction, pair, within_cap)`` for the oriented pairs of one language pair, directions sorted; over a
    direction's cap, the best-scored pairs (margin, then a seeded hash) are the ones within it."""
    by_direction: dict[str, list[dict]] = defaultdict(list)
    for pair in pairs:
        for oriented in orient(pair, cfg.directions, seed):
            by_direction[f"{oriented['src_lang']}-{oriented['tgt_lang']}"].append(oriented)
    for direction in sorted(by_direction):
        items = by_direction[direction]
        cap = _cap_for(direction, cfg)
        over: set[int] = set()  # positions, not ids: two pairs with one id must not share a verdict
        if cap is not None and len(items) > cap:
            ranked = sorted(range(len(items)), key=lambda i: (_rank_key(items[i], seed), i))
            over = set(ranked[cap:])
        for i, pair in enumerate(items):
            yield direction, pair, i not in over

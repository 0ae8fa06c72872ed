"""How a stage's token budget is divided: temperature sampling, UniMax, water-filling, integer apportionment.

Each is a few lines of arithmetic that no maintained library exposes on its own (the toolkits that have them,
e.g. OLMo-core's source mixture, are whole training frameworks), so they live here, tested against hand
computed cases.
"""

from __future__ import annotations

import math

from linguabridge.errors import LinguabridgeError


def temperature_weights(available: dict[str, float], temperature: float) -> dict[str, float]:
    """Shares proportional to ``available ** (1 / T)``: T=1 keeps the natural proportions, large T is uniform
    (XLM-R's alpha = 1/T). Sources with no data get nothing."""
    raw = {k: (v ** (1.0 / temperature) if v > 0 else 0.0) for k, v in available.items()}
    total = sum(raw.values())
    if total <= 0:
        return dict.fromkeys(available, 0.0)
    return {k: v / total for k, v in raw.items()}


def unimax(budget: float, caps: dict[str, float]) -> dict[str, float]:
    """UniMax (Chung et al., 2023, Algorithm 1): a uniform budget per source, except that no source gets
    more than its cap (available x max epochs); what a small source cannot take goes to the larger ones.

    Visits sources from the smallest cap up, giving each ``min(cap, remaining / sources left)``.
    """
    out: dict[str, float] = {}
    left = budget
    order = sorted(caps, key=lambda k: (caps[k], k))
    for i, name in enumerate(order):
        give = min(caps[name], left / (len(order) - i))
        out[name] = give
        left -= give
    if left > 1e-6 * max(budget, 1.0):
        raise LinguabridgeError(
            f"unimax: the sources hold {budget - left:,.0f} tokens under their epoch caps, "
            f"the stage needs {budget:,.0f}",
            "raise max_epochs, add data or sources, or lower the stage's tokens",
        )
    return {k: out[k] for k in caps}


def water_fill(
    targets: dict[str, float], caps: dict[str, float], weights: dict[str, float]
) -> dict[str, float]:
    """Cap every target and give the overflow to sources with room, in proportion to ``weights``.

    Repeats until the overflow is placed: a source filled to its cap in one round drops out of the next, so it
    ends after at most one round per source. Raises when no source has room left.
    """
    out = {k: min(v, caps[k]) for k, v in targets.items()}
    overflow = sum(targets.values()) - sum(out.values())
    tol = 1e-9 * max(sum(targets.values()), 1.0)
    while overflow > tol:
        room = {k: caps[k] - out[k] for k in out if caps[k] - out[k] > tol and weights.get(k, 0) > 0}
        if not room:
            raise LinguabridgeError(
                f"not enough data: {overflow:,.0f} tokens of shortfall and no source with room under its cap",
                "raise max_epochs, add data, or lower the stage's tokens",
            )
        total_w = sum(weights[k] for k in room)
        placed = 0.0
        for k, r in room.items():
            give = min(r, overflow * weights[k] / total_w)
            out[k] += give
            placed += give
        overflow -= placed
    return out


def apportion(targets: dict[str, float], total: int, caps: dict[str, float] | None = None) -> dict[str, int]:
    """Whole tokens per source summing exactly to ``total`` (largest remainder method), never above a cap."""
    caps = caps or {}
    floors = {k: math.floor(v + 1e-9) for k, v in targets.items()}
    short = total - sum(floors.values())
    order = sorted(targets, key=lambda k: (-(targets[k] - floors[k]), k))
    for k in reversed(order):  # float error can put the floors one token above the total
        if short >= 0:
            break
        if floors[k] > 0:
            floors[k] -= 1
            short += 1
    for k in order:
        if short <= 0:
            break
        if k not in caps or floors[k] + 1 <= math.floor(caps[k] + 1e-9):
            floors[k] += 1
            short -= 1
    if short > 0:
        raise LinguabridgeError(
            f"cannot place {short} tokens without passing a cap", "raise max_epochs or lower the budget"
        )
    return floors

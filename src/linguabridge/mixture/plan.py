"""A mixture plan: tokens per source per stage, epochs and utilisation, checked before anything is packed.

Sources are languages (web text, named by canonical code) and kinds (``parallel``, ``knowledge``,
``synthetic``). A stage declares shares over sources and groups (a group's share is split uniformly over its
languages, as Marco-LLM does); the plan refuses shares that need more epochs than ``max_epochs`` allows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from linguabridge.config import MixtureConfig
from linguabridge.errors import LinguabridgeError
from linguabridge.languages import canonical


@dataclass
class SourcePlan:
    name: str
    tokens: float
    share: float
    epochs: float


@dataclass
class StagePlan:
    name: str
    tokens: float
    sources: list[SourcePlan] = field(default_factory=list)


@dataclass
class Plan:
    stages: list[StagePlan]
    sources: list[dict]  # {name, available, used, utilisation}
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"stages": [asdict(s) for s in self.stages], "sources": self.sources, "notes": self.notes}

    def stage(self, name: str) -> StagePlan:
        for s in self.stages:
            if s.name == name:
                return s
        raise LinguabridgeError(f"plan has no stage {name!r}", "check mixture.stages")


def expand_shares(
    shares: dict[str, float], cfg: MixtureConfig, available: dict[str, float]
) -> dict[str, float]:
    """Share per source after splitting groups over their languages."""
    out: dict[str, float] = {}
    for key, share in shares.items():
        if key in cfg.groups:
            group = cfg.groups[key]
            langs = group.languages
            if group.split == "uniform":
                weights = {lang: 1.0 for lang in langs}
            else:
                weights = {lang: available.get(lang, 0.0) for lang in langs}
            total = sum(weights.values()) or 1.0
            for lang in langs:
                out[lang] = out.get(lang, 0.0) + share * weights[lang] / total
        else:
            name = key if key in cfg.source_kinds else canonical(key)
            out[name] = out.get(name, 0.0) + share
    return out


def make_plan(cfg: MixtureConfig, available: dict[str, float]) -> Plan:
    """Plan every stage; ``available`` is tokens per source (measured inventory or ``cfg.available``)."""
    if cfg.available is not None:
        available = {
            (k if k in cfg.source_kinds else canonical(k)): float(v) for k, v in cfg.available.items()
        }
    notes: list[str] = []
    stages: list[StagePlan] = []
    used: dict[str, float] = {}
    for st in cfg.stages:
        shares = expand_shares(st.shares, cfg, available)
        plan = StagePlan(st.name, float(st.tokens))
        shortfall = 0.0
        for name, share in shares.items():
            want = share * st.tokens
            have = available.get(name, 0.0)
            cap = have * st.max_epochs
            if share > 0 and want > cap + 1e-6 * max(want, 1.0):
                if not cfg.redistribute_shortfall:
                    raise LinguabridgeError(
                        f"mixture stage {st.name!r}: {name} needs {want:,.0f} tokens but has {have:,.0f} "
                        f"(max_epochs {st.max_epochs} allows {cap:,.0f})",
                        "lower its share, raise max_epochs, add data, or set mixture.redistribute_shortfall: true",
                    )
                shortfall += want - cap
                notes.append(f"{st.name}: {name} capped at {cap:,.0f} tokens ({st.max_epochs} epochs)")
                want = cap
            plan.sources.append(SourcePlan(name, want, share, want / have if have else 0.0))
        if shortfall:
            # Give the shortfall to sources with headroom, in proportion to their shares.
            room = {s.name: available.get(s.name, 0.0) * st.max_epochs - s.tokens for s in plan.sources}
            open_sources = [s for s in plan.sources if room[s.name] > 0]
            weight = sum(s.share for s in open_sources)
            if weight <= 0 or sum(room.values()) < shortfall:
                raise LinguabridgeError(
                    f"mixture stage {st.name!r}: not enough data in total", "add data or lower the budget"
                )
            for s in open_sources:
                s.tokens += min(room[s.name], shortfall * s.share / weight)
            notes.append(f"{st.name}: redistributed {shortfall:,.0f} tokens of shortfall")
        for s in plan.sources:
            have = available.get(s.name, 0.0)
            s.share = s.tokens / st.tokens if st.tokens else 0.0
            s.epochs = s.tokens / have if have else 0.0
            used[s.name] = used.get(s.name, 0.0) + s.tokens
        stages.append(plan)
    sources = [
        {
            "name": name,
            "available": available.get(name, 0.0),
            "used": used.get(name, 0.0),
            "utilisation": used.get(name, 0.0) / available[name] if available.get(name) else 0.0,
        }
        for name in list(dict.fromkeys([*available, *used]))
    ]
    return Plan(stages, sources, notes)

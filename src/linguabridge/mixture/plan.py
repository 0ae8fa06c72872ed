"""A mixture plan: whole tokens per source per stage, epochs and utilisation, checked before anything is packed.

Sources are languages (web text, named by canonical code) and kinds (``parallel``, ``knowledge``,
``synthetic``). A stage fixes shares of sources and groups (a group's share is split over its languages,
uniformly as Marco-LLM does, or in proportion to their data) and may leave the rest to a strategy:
temperature sampling or UniMax. Every source is capped at ``max_epochs`` passes within a stage and, if
``source_max_epochs`` names it, at that many passes over all stages. A plan that needs more is refused with
the numbers, or, with ``redistribute_shortfall``, the shortfall goes to sources with room and is reported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from linguabridge.config import MixtureConfig, MixtureStageConfig
from linguabridge.errors import LinguabridgeError
from linguabridge.languages import canonical
from linguabridge.mixture.strategies import apportion, temperature_weights, unimax, water_fill


@dataclass
class SourcePlan:
    name: str
    tokens: int
    share: float  # of the stage's tokens
    epochs: float  # passes over the source's available tokens in this stage


@dataclass
class StagePlan:
    name: str
    tokens: int
    sources: list[SourcePlan] = field(default_factory=list)


@dataclass
class Plan:
    stages: list[StagePlan]
    sources: list[dict]  # {name, available, used, utilisation}; utilisation = used / available
    notes: list[str] = field(default_factory=list)
    redistributed: list[dict] = field(default_factory=list)  # {stage, source, wanted, planned}

    def to_json(self, details: bool = False) -> dict:
        """The plan as ``{"stages": [...], "sources": [...]}``; ``details`` adds notes and redistribution."""
        out: dict = {"stages": [asdict(s) for s in self.stages], "sources": self.sources}
        if details:
            out |= {"notes": self.notes, "redistributed": self.redistributed}
        return out

    def stage(self, name: str) -> StagePlan:
        for s in self.stages:
            if s.name == name:
                return s
        raise LinguabridgeError(
            f"plan has no stage {name!r}", f"mixture.stages has {', '.join(s.name for s in self.stages)}"
        )


def source_name(key: str, cfg: MixtureConfig) -> str:
    """A kind stays as written; anything else is a language and becomes its canonical code."""
    return key if key in cfg.source_kinds else canonical(key)


def expand_shares(
    shares: dict[str, float], cfg: MixtureConfig, available: dict[str, float]
) -> dict[str, float]:
    """Share per source after splitting groups over their languages."""
    out: dict[str, float] = {}
    for key, share in shares.items():
        if key in cfg.groups:
            group = cfg.groups[key]
            if group.split == "uniform":
                weights = dict.fromkeys(group.languages, 1.0)
            else:
                weights = {lang: available.get(lang, 0.0) for lang in group.languages}
            total = sum(weights.values())
            if total <= 0:
                raise LinguabridgeError(
                    f"mixture group {key!r} is split in proportion to its data but has none",
                    "add data for its languages or use split: uniform",
                )
            for lang in group.languages:
                out[lang] = out.get(lang, 0.0) + share * weights[lang] / total
        else:
            name = source_name(key, cfg)
            out[name] = out.get(name, 0.0) + share
    return out


def expand_sources(keys: list[str], cfg: MixtureConfig) -> list[str]:
    """Source names for a list of languages, groups and kinds (groups expand to their languages)."""
    out: list[str] = []
    for key in keys:
        out.extend(cfg.groups[key].languages if key in cfg.groups else [source_name(key, cfg)])
    return list(dict.fromkeys(out))


def resolve_available(cfg: MixtureConfig, measured: dict[str, float]) -> dict[str, float]:
    """Tokens per source: ``mixture.available`` when the recipe gives it (planning on paper), else measured."""
    if cfg.available is not None:
        return {source_name(k, cfg): float(v) for k, v in cfg.available.items()}
    return {k: float(v) for k, v in measured.items()}


def _total_caps(cfg: MixtureConfig) -> dict[str, float]:
    return {
        name: epochs for key, epochs in cfg.source_max_epochs.items() for name in expand_sources([key], cfg)
    }


def _stage_targets(
    st: MixtureStageConfig, cfg: MixtureConfig, available: dict[str, float], caps: dict[str, float]
) -> dict[str, float]:
    """Float tokens per source before caps: the fixed shares plus what the strategy spreads."""
    budget = float(st.tokens)
    targets = {k: s * budget for k, s in expand_shares(st.shares, cfg, available).items()}
    strategy = st.strategy or cfg.strategy
    rest = 1.0 - sum(st.shares.values())
    if strategy == "explicit" or rest <= 1e-9:
        return targets
    pool = expand_sources(st.sources, cfg) if st.sources else list(available)
    pool = [k for k in pool if k not in targets]
    if not pool:
        raise LinguabridgeError(
            f"mixture stage {st.name!r}: fixed shares sum to {1 - rest:.4f} and no source is left for "
            f"{strategy} to spread the rest over",
            "list sources under the stage's `sources`, or make the shares sum to 1",
        )
    if strategy == "temperature":
        temperature = cfg.temperature if st.temperature is None else st.temperature
        weights = temperature_weights({k: available.get(k, 0.0) for k in pool}, temperature)
        targets |= {k: rest * budget * w for k, w in weights.items()}
    else:
        targets |= unimax(rest * budget, {k: caps[k] for k in pool})
    return targets


def make_plan(cfg: MixtureConfig, available: dict[str, float]) -> Plan:
    """Plan every stage; ``available`` is tokens per source (measured inventory) unless the recipe gives it."""
    available = resolve_available(cfg, available)
    total_caps = _total_caps(cfg)
    notes: list[str] = []
    redistributed: list[dict] = []
    stages: list[StagePlan] = []
    used: dict[str, float] = {}

    for st in cfg.stages:
        budget = int(round(st.tokens))
        names = set(available) | set(expand_sources([*st.shares, *st.sources], cfg))
        caps, why = {}, {}
        for k in names:
            have = available.get(k, 0.0)
            caps[k], why[k] = have * st.max_epochs, f"max_epochs {st.max_epochs:g} in this stage"
            if k in total_caps and have * total_caps[k] - used.get(k, 0.0) < caps[k]:
                caps[k] = max(0.0, have * total_caps[k] - used.get(k, 0.0))
                why[k] = (
                    f"source_max_epochs {total_caps[k]:g} over all stages, {used.get(k, 0.0):,.0f} used before"
                )
        targets = _stage_targets(st, cfg, available, caps)
        tol = 1e-9 * max(budget, 1)
        over = [k for k, t in targets.items() if t > caps[k] + tol]
        if over:
            if not cfg.redistribute_shortfall:
                k = over[0]
                more = f" (and {len(over) - 1} more: {', '.join(over[1:4])})" if len(over) > 1 else ""
                raise LinguabridgeError(
                    f"mixture stage {st.name!r} is infeasible: {k} needs {targets[k]:,.0f} tokens but has "
                    f"{available.get(k, 0.0):,.0f}, and {why[k]} allows {caps[k]:,.0f}{more}",
                    "lower its share, raise the epoch cap, add data, or set mixture.redistribute_shortfall: true",
                )
            placed = water_fill(targets, caps, weights=targets)
            shortfall = sum(targets[k] - caps[k] for k in over)
            for k in targets:
                if abs(placed[k] - targets[k]) >= 0.5:
                    redistributed.append(
                        {
                            "stage": st.name,
                            "source": k,
                            "wanted": round(targets[k]),
                            "planned": round(placed[k]),
                        }
                    )
            notes.append(
                f"{st.name}: {', '.join(over)} capped ({why[over[0]]}); {shortfall:,.0f} tokens of shortfall "
                "given to the other sources in proportion to their shares"
            )
            targets = placed
        tokens = apportion(targets, budget, caps)
        plan = StagePlan(st.name, budget)
        for k, n in tokens.items():
            have = available.get(k, 0.0)
            plan.sources.append(SourcePlan(k, n, n / budget, n / have if have else 0.0))
            used[k] = used.get(k, 0.0) + n
        stages.append(plan)

    sources = []
    for name in dict.fromkeys([*available, *used]):
        have, took = available.get(name, 0.0), used.get(name, 0.0)
        sources.append(
            {
                "name": name,
                "available": int(round(have)),
                "used": int(round(took)),
                "utilisation": took / have if have else 0.0,  # caps keep used at 0 where nothing is available
            }
        )
    return Plan(stages, sources, notes, redistributed)

"""SFT data builders: translation instructions from filtered bitext, the few-shot "rarer sample" synthetic
family, language balancing through the mixture planner, and decontamination against the evaluation sets.

Every builder returns what it kept and what it dropped with a reason, so a run can say where each example went.
Conversations are ``{"id", "language", "messages", "source"}``; ``language`` is the language of the answer.
"""

from __future__ import annotations

import csv
import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import cache
from importlib import resources

from linguabridge.errors import ConfigError, LinguabridgeError, require
from linguabridge.languages import canonical, get_language


# ------------------------------------------------------------------------------ translation instructions
@cache
def instruction_templates() -> dict[str, str]:
    """Translation instructions per instruction language (assets/sft_instructions.tsv; ``\\n`` = line break).

    Templates that name languages after a preposition would need inflected names in many languages, so those use
    "Source language: X" labels, which take the plain name.
    """
    text = resources.files("linguabridge").joinpath("assets/sft_instructions.tsv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    return {canonical(r["language"]): r["template"].replace("\\n", "\n") for r in rows}


@cache
def language_name(lang: str, in_language: str) -> str:
    """The name of ``lang`` written in ``in_language`` (CLDR data through Babel); English name as a fallback."""
    target, where = get_language(lang), get_language(in_language)
    require("babel", "train")
    from babel import Locale, UnknownLocaleError

    base = where.iso639_1 or where.iso639_3
    for ident in (f"{base}_{where.script_code}", base):
        try:
            names = Locale.parse(ident).languages
            break
        except (UnknownLocaleError, ValueError):
            continue
    else:
        return target.name
    key = target.iso639_1 or target.iso639_3
    return names.get(f"{key}_{target.script_code}") or names.get(key) or target.name


def translation_prompt(text: str, src_lang: str, tgt_lang: str, instruction_lang: str) -> str:
    """A translation request written in ``instruction_lang``, language names in that language."""
    template = instruction_templates().get(canonical(instruction_lang))
    if template is None:
        raise LinguabridgeError(
            f"no translation instruction for {instruction_lang}",
            "add a row to assets/sft_instructions.tsv or choose another instruction language",
        )
    return template.format(
        src=language_name(src_lang, instruction_lang),
        tgt=language_name(tgt_lang, instruction_lang),
        text=text,
    )


def check_instruction_languages(choices: list[str]) -> list[str]:
    """``source`` / ``target`` / language codes; explicit codes must have a template (fail before any work)."""
    out = []
    for choice in choices:
        if choice in ("source", "target"):
            out.append(choice)
            continue
        code = canonical(choice)
        if code not in instruction_templates():
            raise ConfigError(
                f"sft.post.data.instruction_languages: no instruction template for {code}",
                f"have: {', '.join(sorted(instruction_templates()))}; or add a row to assets/sft_instructions.tsv",
            )
        out.append(code)
    if not out:
        raise ConfigError("sft.post.data.instruction_languages is empty", "e.g. [eng_Latn, source, target]")
    return out


def translation_instructions(
    pairs: Iterable[dict],
    seed: int,
    instruction_languages: list[str] = ("eng_Latn", "source", "target"),
    both_directions: bool = True,
    limit: int | None = None,
) -> tuple[list[dict], Counter]:
    """Chats asking to translate one side of a filtered pair into the other (both directions if asked).

    The instruction language is drawn per example from ``instruction_languages``; ``source``/``target`` stand
    for the pair's languages and fall back to English where no template exists (counted in the stats).
    """
    rng = random.Random(seed)
    choices = check_instruction_languages(list(instruction_languages))
    pairs = list(pairs)
    if limit is not None and limit < len(pairs):
        pairs = rng.sample(pairs, limit)
    stats: Counter = Counter()
    out = []
    for pair in pairs:
        directions = [(pair["src_lang"], pair["tgt_lang"], pair["src"], pair["tgt"])]
        if both_directions:
            directions.append((pair["tgt_lang"], pair["src_lang"], pair["tgt"], pair["src"]))
        for src_lang, tgt_lang, text, answer in directions:
            choice = rng.choice(choices)
            inst = {"source": src_lang, "target": tgt_lang}.get(choice, choice)
            if inst not in instruction_templates():
                stats["instruction_fallback_eng_Latn"] += 1
                inst = "eng_Latn"
            stats[f"instruction:{inst}"] += 1
            out.append(
                {
                    "id": f"tr-{pair['id']}-{src_lang}-{tgt_lang}",
                    "language": tgt_lang,
                    "source": "translation",
                    "metadata": {"src_lang": src_lang, "instruction_language": inst, "pair_id": pair["id"]},
                    "messages": [
                        {"role": "user", "content": translation_prompt(text, src_lang, tgt_lang, inst)},
                        {"role": "assistant", "content": answer},
                    ],
                }
            )
    stats["built"] = len(out)
    return out, stats


# ------------------------------------------------------------------ few-shot "rarer sample" family (§5.3)
def load_synthetic_chats(paths: list, lid=None) -> tuple[list[dict], list[dict]]:
    """Chats from the synthetic stage's few-shot family (``data/synthetic/``, prompt in
    ``assets/synthetic/families.yaml``): its accepted documents hold ``User: ... / Assistant: ...`` text, parsed
    with the same parser it checks outputs with. Chat records (``messages``) are taken as they are. Other
    families' documents are not chats and are skipped (counted); unparseable samples come back rejected.

    ``paths``: the synthetic stage's output folders (their ``accepted/``) or JSONL files.
    """
    from pathlib import Path

    from linguabridge.data.synthetic.prompts import parse_sample
    from linguabridge.io import Quarantined, expand_inputs, iter_jsonl
    from linguabridge.train.chats import check_chat

    files = []
    for p in map(Path, paths):
        files += expand_inputs([p / "accepted" if (p / "accepted").is_dir() else p])
    kept, rejected = [], []
    for path in files:
        for lineno, obj in iter_jsonl(path):
            where = f"{path}:{lineno}"
            if isinstance(obj, Quarantined):
                rejected.append({"id": where, "reject_reason": obj.reason})
                continue
            meta = obj.get("metadata") or {}
            if "messages" in obj:
                kept.append(check_chat(obj, where, len(kept)) | {"source": obj.get("source", "synthetic")})
                continue
            if meta.get("family") != "fewshot":
                rejected.append(
                    {"id": obj.get("id") or where, "reject_reason": f"not_a_chat_family:{meta.get('family')}"}
                )
                continue
            turns = parse_sample(obj.get("text", ""))
            lang = meta.get("language") or obj.get("language")
            if turns is None or not lang:
                rejected.append({"id": obj.get("id") or where, "reject_reason": "not_user_assistant_format"})
                continue
            kept.append(
                {
                    "id": str(obj.get("id") or where),
                    "language": canonical(lang),
                    "source": "synthetic_fewshot",
                    "metadata": {"request_key": meta.get("request_key"), "model": meta.get("model")},
                    "messages": turns[:2],
                }
            )
    return kept, rejected


# ------------------------------------------------------------------------------------ language balancing
def balance_languages(
    conversations: list[dict],
    shares: dict[str, float],
    examples: int | None = None,
    max_epochs: float = 3.0,
    groups: dict | None = None,
    seed: int = 0,
) -> tuple[list[dict], dict]:
    """Resample chats so languages follow ``shares`` (languages or mixture groups), planned by the mixture
    planner in units of examples: a language short of its share repeats up to ``max_epochs`` and the rest of
    its share goes to languages with room, exactly as the pretraining mixture does with tokens."""
    from linguabridge.config import MixtureConfig, MixtureStageConfig
    from linguabridge.mixture.plan import make_plan
    from linguabridge.mixture.strategies import apportion

    by_lang: dict[str, list[dict]] = defaultdict(list)
    for conv in conversations:
        by_lang[conv["language"]].append(conv)
    total = examples or len(conversations)
    mix = MixtureConfig(
        groups=groups or {},
        stages=[MixtureStageConfig(name="sft", tokens=total, shares=shares, max_epochs=max_epochs)],
        redistribute_shortfall=True,
        source_kinds=[],
    )
    full_plan = make_plan(mix, {lang: float(len(convs)) for lang, convs in by_lang.items()})
    plan = full_plan.stage("sft")
    targets = apportion({s.name: s.tokens for s in plan.sources}, total)
    rng = random.Random(seed)
    out: list[dict] = []
    for lang, want in sorted(targets.items()):
        pool = by_lang.get(lang, [])
        if not pool or want <= 0:
            continue
        full, rest = divmod(want, len(pool))
        chosen = pool * full + rng.sample(pool, rest)
        out.extend(chosen)
    rng.shuffle(out)
    report = {
        "examples": len(out),
        "per_language": {
            lang: {"available": len(by_lang.get(lang, [])), "planned": n} for lang, n in targets.items()
        },
        "dropped_languages": sorted(set(by_lang) - {lang for lang, n in targets.items() if n > 0}),
        "notes": full_plan.notes,  # languages capped at max_epochs, shortfall redistributed
    }
    return out, report


# ---------------------------------------------------------------------------------------- decontamination
def decontaminate(
    conversations: list[dict], eval_files: list, n: int = 13, bundled: bool = True
) -> tuple[list[dict], list[dict]]:
    """Drop chats sharing an ``n``-gram with an evaluation set (every message is checked), with the curation
    stage's :class:`~linguabridge.data.decontam.Decontaminator` (same tokens and n-gram index)."""
    from linguabridge.data.decontam import Decontaminator

    dec = Decontaminator(eval_files, n=n, mode="drop", bundled=bundled)
    kept, rejected = [], []
    for conv in conversations:
        hits = sum(dec.overlap(m["content"]) for m in conv["messages"])
        if hits:
            rejected.append(conv | {"reject_reason": "eval_contamination", "eval_ngram_hits": hits})
        else:
            kept.append(conv)
    return kept, rejected


# ------------------------------------------------------------------------------------------- the SFT set
def default_eval_files(data_dir: str | None) -> list:
    """Evaluation files to decontaminate against besides the bundled demo sets: every JSONL under
    ``eval.data_dir``."""
    from pathlib import Path

    return sorted(Path(data_dir).rglob("*.jsonl")) if data_dir and Path(data_dir).is_dir() else []


def build_sft_set(
    cfg,
    chats: list[dict],
    parallel_dir,
    eval_files: list,
    out_dir,
    seed: int,
    groups: dict | None = None,
) -> list[dict]:
    """Chats + translation instructions + synthetic samples -> balanced -> decontaminated.

    ``cfg`` is an :class:`~linguabridge.config.SFTDataConfig`. Writes ``data.jsonl`` (the training set),
    ``data_rejected.jsonl`` (every dropped example with its reason) and ``data_stats.json`` into ``out_dir``.
    """
    from pathlib import Path

    from linguabridge.io import iter_jsonl, write_built

    out_dir = Path(out_dir)
    stats: dict = {"chats": len(chats)}
    rejected: list[dict] = []
    convs = [c | {"source": c.get("source", "chat")} for c in chats]
    if cfg.translation_pairs:
        files = sorted(Path(parallel_dir).glob("*.jsonl*")) if Path(parallel_dir).is_dir() else []
        if not files:
            raise LinguabridgeError(
                f"sft.post.data.translation_pairs is set but {parallel_dir} has no filtered bitext",
                "run the data stage with data.parallel inputs, or set translation_pairs: 0",
            )
        pairs = [obj for f in files for _, obj in iter_jsonl(f) if isinstance(obj, dict)]
        built, tstats = translation_instructions(
            pairs, seed, cfg.instruction_languages, cfg.both_directions, cfg.translation_pairs
        )
        convs += built
        stats["translation"] = dict(tstats)
    if cfg.synthetic:
        from linguabridge.data.langid import get_identifier

        synth, bad = load_synthetic_chats(cfg.synthetic, get_identifier("py3langid"))
        convs += synth
        rejected += bad
        stats["synthetic"] = {"kept": len(synth), "rejected": len(bad)}
    if cfg.balance:
        convs, stats["balance"] = balance_languages(
            convs, cfg.balance, cfg.examples, cfg.max_epochs, groups, seed
        )
    if cfg.decontaminate:
        convs, contaminated = decontaminate(convs, eval_files, cfg.ngram)
        rejected += contaminated
        stats["decontamination"] = {
            "eval_files": ["bundled demo eval sets"] + [str(f) for f in eval_files],
            "ngram": cfg.ngram,
            "dropped": len(contaminated),
        }
    stats["examples"] = len(convs)
    stats["per_language"] = dict(sorted(Counter(c["language"] for c in convs).items()))
    stats["per_source"] = dict(sorted(Counter(c["source"] for c in convs).items()))
    write_built(out_dir, "data", convs, rejected, stats)
    return convs

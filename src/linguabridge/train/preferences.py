"""Preference-pair builders for DPO: language consistency, translation quality, and an LLM judge.

Pairs are TRL's conversational preference format ``{"prompt": [...], "chosen": [assistant], "rejected":
[assistant]}`` plus ``id``, ``language``, ``builder`` and what decided the label. Every builder also returns
the items it could not turn into a trustworthy pair, each with a reason.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from linguabridge.errors import LinguabridgeError, require
from linguabridge.languages import get_language


# ---------------------------------------------------------------------------------- language consistency
def parallel_group(conv: dict) -> str | None:
    """Chats that ask the same thing in different languages share a group: an explicit ``group`` field, or ids
    that differ only by the language code (``sft-eng_Latn-01`` / ``sft-tha_Thai-01``, ``udhr.eng_Latn.01``)."""
    if conv.get("group") is not None:
        return str(conv["group"])
    lang = conv.get("language", "")
    return conv["id"].replace(lang, "{lang}") if lang and lang in conv["id"] else None


_SENTENCE_END = re.compile(r"[.!?。！？؟।]+\s*")


def _middle_cut(text: str) -> int:
    """Offset of the sentence boundary nearest the middle of ``text`` (the middle itself for one sentence)."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text) if 0 < m.end() < len(text.rstrip())]
    return min(ends, key=lambda e: abs(e - len(text) / 2)) if ends else max(1, len(text) // 2)


def code_switch(answer: str, other: str) -> str:
    """The first half of ``answer`` continued by the second half of ``other`` (cut at sentence boundaries when
    there are some): the reply of a model that drifts out of the requested language mid-answer."""
    return answer[: _middle_cut(answer)].rstrip() + " " + other[_middle_cut(other) :].lstrip()


def build_language_consistency_pairs(
    conversations: list[dict],
    seed: int,
    code_switch_fraction: float = 0.0,
    lid=None,
    rejected: list[dict] | None = None,
) -> list[dict]:
    """The answer in the requested language (chosen) vs an off-target or code-switched answer (rejected).

    The off-target answer is the same request answered in another language when the chats are parallel (see
    :func:`parallel_group`), else another language's answer. Both sides are checked by language ID: the chosen
    answer must be identified as the requested language and the foreign text as another one; failures go to
    ``rejected`` with a reason instead of becoming mislabelled pairs.
    """
    from linguabridge.data.langid import get_identifier

    lid = lid or get_identifier("py3langid")
    rng = random.Random(seed)
    by_lang: dict[str, list[dict]] = defaultdict(list)
    by_group: dict[str, dict[str, dict]] = defaultdict(dict)
    for conv in conversations:
        by_lang[conv["language"]].append(conv)
        group = parallel_group(conv)
        if group is not None:
            by_group[group][conv["language"]] = conv
    langs = sorted(by_lang)
    drops = rejected if rejected is not None else []
    pairs = []
    for conv in conversations:
        lang, msgs = conv["language"], conv["messages"]
        if msgs[-1]["role"] != "assistant" or len(langs) < 2:
            drops.append({"id": conv["id"], "reject_reason": "no_other_language"})
            continue
        answer = msgs[-1]["content"]
        pred = lid.predict(answer)
        if pred.language != lang:
            drops.append(
                {"id": conv["id"], "reject_reason": f"chosen_identified_as_{pred.language or pred.label}"}
            )
            continue
        siblings = {k: v for k, v in by_group.get(parallel_group(conv) or "", {}).items() if k != lang}
        other_lang = rng.choice(sorted(siblings) or [x for x in langs if x != lang])
        other = siblings.get(other_lang) or rng.choice(by_lang[other_lang])
        foreign = other["messages"][-1]["content"]
        foreign_pred = lid.predict(foreign)
        if foreign_pred.language == lang:  # e.g. ind_Latn vs zsm_Latn: not a clear off-target answer
            drops.append({"id": conv["id"], "reject_reason": f"foreign_answer_identified_as_{lang}"})
            continue
        kind = "code_switched" if rng.random() < code_switch_fraction else "off_target"
        bad = code_switch(answer, foreign) if kind == "code_switched" else foreign
        pairs.append(
            {
                "id": f"{conv['id']}-vs-{other['id']}",
                "builder": "language_consistency",
                "language": lang,
                "rejected_kind": kind,
                "rejected_language": other_lang,
                "parallel": other_lang in siblings,
                "lid": {"chosen": pred.language, "foreign": foreign_pred.language},
                "prompt": msgs[:-1],
                "chosen": [{"role": "assistant", "content": answer}],
                "rejected": [{"role": "assistant", "content": bad}],
            }
        )
    return pairs


# ------------------------------------------------------------------------------------ translation quality
def chrf_pp(hypothesis: str, reference: str) -> float:
    """Sentence chrF++ (sacrebleu, character n-grams plus word bigrams): works for every script."""
    sacrebleu = require("sacrebleu", "eval")
    return sacrebleu.sentence_chrf(hypothesis, [reference], word_order=2).score


QEScorer = Callable[
    [str, str, str, str], float
]  # (source, hypothesis, src_lang, tgt_lang) -> higher is better


def build_translation_quality_pairs(
    items: list[dict],
    min_margin: float = 5.0,
    qe: QEScorer | None = None,
    instruction_language: str = "eng_Latn",
    rejected: list[dict] | None = None,
) -> list[dict]:
    """Best vs worst candidate translation per source.

    ``items``: ``{"id", "src_lang", "tgt_lang", "src", "ref", "candidates": [str, ...]}``. Candidates are scored
    with chrF++ against ``ref``, or by ``qe`` (a quality-estimation model, no reference needed). A pair is made
    only when best and worst differ by ``min_margin`` points or more: a near tie is noise, not a preference.
    """
    from linguabridge.train.sft_data import translation_prompt

    drops = rejected if rejected is not None else []
    pairs = []
    for item in items:
        cands = list(dict.fromkeys(c.strip() for c in item["candidates"] if c and c.strip()))
        if len(cands) < 2:
            drops.append({"id": item["id"], "reject_reason": "fewer_than_2_distinct_candidates"})
            continue
        if qe is not None:
            scores = [qe(item["src"], c, item["src_lang"], item["tgt_lang"]) for c in cands]
        else:
            scores = [chrf_pp(c, item["ref"]) for c in cands]
        best = max(range(len(cands)), key=scores.__getitem__)
        worst = min(range(len(cands)), key=scores.__getitem__)
        if scores[best] - scores[worst] < min_margin:
            drops.append({"id": item["id"], "reject_reason": "candidates_too_close", "scores": scores})
            continue
        prompt = translation_prompt(item["src"], item["src_lang"], item["tgt_lang"], instruction_language)
        pairs.append(
            {
                "id": f"tq-{item['id']}",
                "builder": "translation_quality",
                "language": item["tgt_lang"],
                "scorer": "qe" if qe is not None else "chrf++",
                "scores": {"chosen": scores[best], "rejected": scores[worst]},
                "prompt": [{"role": "user", "content": prompt}],
                "chosen": [{"role": "assistant", "content": cands[best]}],
                "rejected": [{"role": "assistant", "content": cands[worst]}],
            }
        )
    return pairs


def sample_translation_candidates(
    model, tokenizer, pairs: list[dict], n: int, seed: int, instruction_language: str = "eng_Latn", **gen
) -> list[dict]:
    """Translation-quality items: ``n`` sampled translations per filtered pair from the model being aligned."""
    from linguabridge.chat import generate_replies
    from linguabridge.train.sft_data import translation_prompt

    items = []
    for i, pair in enumerate(pairs):
        prompt = translation_prompt(pair["src"], pair["src_lang"], pair["tgt_lang"], instruction_language)
        replies = generate_replies(
            model,
            tokenizer,
            [{"role": "user", "content": prompt}],
            n=n,
            temperature=1.0,
            seed=seed + i,
            **gen,
        )
        items.append(
            {
                "id": pair["id"],
                "src_lang": pair["src_lang"],
                "tgt_lang": pair["tgt_lang"],
                "src": pair["src"],
                "ref": pair["tgt"],
                "candidates": [r.text for r in replies],
            }
        )
    return items


# ------------------------------------------------------------------------------------------------- judge
JUDGE_PROMPT = (
    "You are grading an assistant's answer. The user wrote in {language} and the answer must be in {language}; "
    "an answer in another language, or mixing languages, is poor whatever its content. Rate helpfulness, "
    "correctness and language on a scale from 1 (worst) to 10 (best).\n\n"
    "[User]\n{question}\n\n[Answer]\n{answer}\n\nReply with only: Score: <1-10>"
)
JUDGE_PARAMS = {"temperature": 0.0, "max_tokens": 16}
_SCORE = re.compile(r"score\s*[:：]\s*(\d+(?:\.\d+)?)", re.I)


def judge_requests(items: list[dict], model: str) -> list:
    """One judge request per (prompt, candidate), keyed like synthetic generation (messages, params, model)."""
    from linguabridge.data.generation import Request

    out = []
    for item in items:
        question = "\n".join(m["content"] for m in item["prompt"] if m["role"] == "user")
        for j, cand in enumerate(item["candidates"]):
            prompt = JUDGE_PROMPT.format(
                language=get_language(item["language"]).name, question=question, answer=cand
            )
            out.append(
                Request.make(
                    [{"role": "user", "content": prompt}],
                    JUDGE_PARAMS,
                    model,
                    {"item": item["id"], "candidate": j},
                )
            )
    return out


def parse_judge_score(text: str | None) -> float | None:
    m = _SCORE.search(text or "")
    return float(m.group(1)) if m else None


def build_judge_pairs(
    items: list[dict],
    backend,
    cache_path: str | Path,
    model: str,
    min_gap: float = 1.0,
    rejected: list[dict] | None = None,
) -> tuple[list[dict], dict]:
    """Highest- vs lowest-scored candidate per prompt, scored by an LLM judge.

    ``items``: ``{"id", "language", "prompt": [messages], "candidates": [str, ...]}``. ``backend`` is a
    generation backend (``data/openai_backend.OpenAIBackend`` for any OpenAI-compatible server, or
    ``HFBackend``); requests go through the same SQLite request cache as synthetic generation, so a rerun
    sends only what has no answer yet. Returns the pairs and the request counters.
    """
    from linguabridge.data.generation import RequestCache, RunCounters

    drops = rejected if rejected is not None else []
    for item in items:  # duplicates and blanks would waste judge calls and make ties
        item["candidates"] = list(dict.fromkeys(c.strip() for c in item["candidates"] if c and c.strip()))
    requests = judge_requests(items, model)
    cache = RequestCache(cache_path)
    try:
        have = cache.keys()
        todo = list({r.key: r for r in requests if r.key not in have}.values())
        counters = backend.run(todo, cache.record) if todo else RunCounters()
        results = {r.key: cache.get(r.key) for r in requests}
        failures = {
            k: cache.failure(k) for k, v in results.items() if v is None
        }  # why a candidate is unscored
    finally:
        cache.close()
    by_item: dict[str, list] = defaultdict(list)
    for r in requests:
        by_item[r.meta["item"]].append(
            (parse_judge_score((results[r.key] or {}).get("text")), r.meta["candidate"])
        )
    pairs = []
    for item in items:
        scored = [(s, j) for s, j in by_item[item["id"]] if s is not None]
        if len(scored) < 2:
            errors = [
                f["error"] for r in requests if r.meta["item"] == item["id"] and (f := failures.get(r.key))
            ]
            drops.append({"id": item["id"], "reject_reason": "fewer_than_2_scored_candidates"}
                         | ({"judge_failures": errors} if errors else {}))  # fmt: skip
            continue
        best, worst = max(scored), min(scored)
        if best[0] - worst[0] < min_gap:
            drops.append({"id": item["id"], "reject_reason": "judge_tie", "scores": [s for s, _ in scored]})
            continue
        pairs.append(
            {
                "id": f"judge-{item['id']}",
                "builder": "judge",
                "language": item["language"],
                "judge": model,
                "scores": {"chosen": best[0], "rejected": worst[0]},
                "prompt": item["prompt"],
                "chosen": [{"role": "assistant", "content": item["candidates"][best[1]]}],
                "rejected": [{"role": "assistant", "content": item["candidates"][worst[1]]}],
            }
        )
    return pairs, counters.to_json()


# ---------------------------------------------------------------------------------------- the DPO set
def build_preference_set(
    cfg, conversations: list[dict], parallel_dir, model, tokenizer, out_dir, seed: int
) -> list[dict]:
    """Run the builders named in ``cfg.builders`` (a :class:`~linguabridge.config.PreferenceConfig`).

    Candidates for translation quality and the judge are sampled from ``model`` (the SFT checkpoint DPO starts
    from), so the pairs contrast what this model actually says. Writes ``pairs.jsonl``,
    ``pairs_rejected.jsonl`` (every item that gave no pair, with its reason) and ``pairs_stats.json``.
    """
    from collections import Counter

    from linguabridge.io import iter_jsonl, write_built

    out_dir = Path(out_dir)
    rng = random.Random(seed)
    pairs: list[dict] = []
    rejected: list[dict] = []
    stats: dict = {}
    for builder in cfg.builders:
        drops: list[dict] = []
        if builder == "language_consistency":
            built = build_language_consistency_pairs(
                conversations, seed, cfg.code_switch_fraction, rejected=drops
            )
        elif builder == "translation_quality":
            files = sorted(Path(parallel_dir).glob("*.jsonl*")) if Path(parallel_dir).is_dir() else []
            bitext = [obj for f in files for _, obj in iter_jsonl(f) if isinstance(obj, dict)]
            if not bitext:
                raise LinguabridgeError(
                    f"translation_quality needs filtered bitext in {parallel_dir}",
                    "run the data stage with data.parallel",
                )
            chosen = rng.sample(bitext, min(cfg.translation_pairs, len(bitext)))
            items = sample_translation_candidates(
                model, tokenizer, chosen, cfg.candidates, seed, max_new_tokens=cfg.candidate_max_tokens
            )
            built = build_translation_quality_pairs(items, cfg.min_chrf_margin, rejected=drops)
        elif builder == "judge":
            if not cfg.judge_endpoint or not cfg.judge_model:
                raise LinguabridgeError(
                    "the judge builder needs dpo.post.preferences.judge_endpoint and judge_model",
                    "point it at an OpenAI-compatible server, or drop 'judge' from builders",
                )
            from linguabridge.chat import generate_replies
            from linguabridge.data.openai_backend import OpenAIBackend

            backend = OpenAIBackend(cfg.judge_endpoint, cfg.judge_api_key_env)
            picked = rng.sample(conversations, min(cfg.judge_prompts, len(conversations)))
            items = [
                {
                    "id": c["id"],
                    "language": c["language"],
                    "prompt": c["messages"][:-1],
                    "candidates": [
                        r.text
                        for r in generate_replies(
                            model,
                            tokenizer,
                            c["messages"][:-1],
                            n=cfg.candidates,
                            temperature=1.0,
                            seed=seed + i,
                            max_new_tokens=cfg.candidate_max_tokens,
                        )
                    ],
                }
                for i, c in enumerate(picked)
            ]
            built, stats["judge_requests"] = build_judge_pairs(
                items, backend, out_dir / "judge_cache.sqlite", cfg.judge_model, rejected=drops
            )
        else:  # the config's Literal makes this unreachable from a recipe
            raise LinguabridgeError(f"unknown preference builder {builder!r}")
        pairs += built
        rejected += [d | {"builder": builder} for d in drops]
        stats[builder] = {"pairs": len(built), "rejected": dict(Counter(d["reject_reason"] for d in drops))}
    stats["pairs"] = len(pairs)
    stats["per_language"] = dict(sorted(Counter(p["language"] for p in pairs).items()))
    write_built(out_dir, "pairs", pairs, rejected, stats)
    return pairs

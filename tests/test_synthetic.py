"""Synthetic text: prompt families and slot pools as data, deterministic planning, output checks, the request
cache, and the in-process transformers backend (tiny Qwen2, no download)."""

from __future__ import annotations

import asyncio
import gzip
import json
import time

import pytest

from linguabridge.config import SyntheticConfig
from linguabridge.data.generation import Outcome, Request, RequestCache, request_key
from linguabridge.data.openai_backend import RateLimiter
from linguabridge.data.synthetic.checks import OutputChecker
from linguabridge.data.synthetic.prompts import (
    keywords_from_corpus,
    load_families,
    load_slots,
    parse_sample,
    plan_requests,
)
from linguabridge.data.synthetic.run import run_synthetic
from linguabridge.errors import ConfigError

EN_TEXT = (
    "Photosynthesis is the process that green plants use to turn sunlight into food. Inside each leaf, tiny "
    "structures called chloroplasts capture light and use its energy to join water and carbon dioxide. The result "
    "is sugar, which the plant stores or burns for growth, and oxygen, which it releases into the air we breathe. "
    "Without this quiet chemistry, almost every food chain on Earth would collapse within a few seasons."
)
DE_TEXT = (
    "Die Photosynthese ist der Vorgang, mit dem grüne Pflanzen Sonnenlicht in Nahrung verwandeln. In jedem Blatt "
    "fangen winzige Chloroplasten das Licht ein und verbinden Wasser und Kohlendioxid zu Zucker. Dabei entsteht "
    "Sauerstoff, den die Pflanze an die Luft abgibt, die wir atmen. Ohne diese stille Chemie würden fast alle "
    "Nahrungsketten der Erde innerhalb weniger Jahreszeiten zusammenbrechen."
)


def words_file(tmp_path, words=("river", "lantern", "harvest", "compass", "orchard", "glacier")):
    path = tmp_path / "words.txt"
    path.write_text("# keywords\n" + "\n".join(words) + "\n", encoding="utf-8")
    return path


def cfg_for(tmp_path, **kw) -> SyntheticConfig:
    base = {"keyword_files": {"en": str(words_file(tmp_path))}, "n_per_language": 6, "min_words": 40}
    return SyntheticConfig(**(base | kw))


def test_families_are_data_with_their_slots():
    fams = load_families()
    assert set(fams) >= {"explanation", "story", "fewshot"}
    for slot in ("{role_1}", "{subject}", "{role_2}", "{keywords}", "{language}"):
        assert slot in fams["explanation"]["prompt"]
    for slot in ("{passage_type}", "{scene}", "{min_length}", "{max_length}", "{style}", "{ending}"):
        assert slot in fams["story"]["prompt"]
    assert "{samples}" in fams["fewshot"]["prompt"] and "given sample" in fams["fewshot"]["prompt"]


def test_slot_pools_extend_per_language_and_from_user_files(tmp_path):
    default = load_slots("eng_Latn")
    thai = load_slots("tha_Thai")
    assert set(default["scene"]) < set(thai["scene"])
    assert any("Loy Krathong" in s for s in thai["scene"])
    user = tmp_path / "mine.yaml"
    user.write_text(
        "style: [in the voice of a sports commentator]\nkaz_Cyrl:\n  replace: true\n  ending: [a proverb]\n",
        encoding="utf-8",
    )
    kk = load_slots("kaz_Cyrl", [user])
    assert kk["ending"] == ["a proverb"] and "in the voice of a sports commentator" in kk["style"]
    assert any("yurt" in s for s in kk["scene"])  # the bundled Kazakh file still applies
    assert load_slots("eng_Latn", [user])["ending"] == default["ending"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("style: not-a-list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a list"):
        load_slots("eng_Latn", [bad])


def test_plan_is_deterministic_and_prompts_are_filled(tmp_path):
    cfg = cfg_for(tmp_path, families=["explanation", "story"], n_per_language=8)
    kw = {"eng_Latn": ["river", "lantern", "harvest", "compass", "orchard"],
          "tha_Thai": ["แม่น้ำ", "ตะเกียง", "เก็บเกี่ยว", "เข็มทิศ", "สวนผลไม้"]}  # fmt: skip
    a = plan_requests(cfg, ["eng_Latn", "tha_Thai"], "m", seed=1, keywords=kw)
    b = plan_requests(cfg, ["eng_Latn", "tha_Thai"], "m", seed=1, keywords=kw)
    c = plan_requests(cfg, ["eng_Latn", "tha_Thai"], "m", seed=2, keywords=kw)
    assert [r.key for r in a] == [r.key for r in b] and len({r.key for r in a}) == 16
    assert not {r.key for r in a} & {r.key for r in c}
    assert [r.meta["family"] for r in a[:4]] == ["explanation", "story", "explanation", "story"]
    story = next(r for r in a if r.meta["family"] == "story" and r.meta["language"] == "tha_Thai")
    prompt = story.messages[0]["content"]
    assert "in Thai" in prompt and "{" not in prompt
    assert sum(k in prompt for k in kw["tha_Thai"]) == cfg.keywords_per_prompt
    assert story.meta["slots"]["min_length"] < story.meta["slots"]["max_length"]
    assert story.key == request_key(story.messages, story.params, "m")


def test_fewshot_plan_needs_samples(tmp_path):
    samples = {"eng_Latn": [[{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": f"A{i}"}]
                            for i in range(4)]}  # fmt: skip
    cfg = cfg_for(tmp_path, families=["fewshot"], n_per_language=2)
    (req, _) = plan_requests(cfg, ["eng_Latn"], "m", 0, samples=samples)
    text = req.messages[0]["content"]
    assert text.count("User: Q") == 3 and "Sample 3:" in text and "in English" in text
    with pytest.raises(ConfigError, match="0 chat samples for tha_Thai"):
        plan_requests(cfg, ["tha_Thai"], "m", 0, samples=samples)


def test_keywords_from_corpus_skip_function_words(tmp_path):
    docs = tmp_path / "corpus.jsonl"
    topics = ["volcano erupted near village", "volcano ash covered village fields", "glacier melted slowly",
              "glacier river flooded valley", "festival lanterns glowed", "lanterns floated down river"]  # fmt: skip
    rows = [{"id": str(i), "text": f"The {t} and the people of the town saw it.", "metadata": {"language": "eng_Latn"}}
            for i, t in enumerate(topics)]  # fmt: skip
    rows.append({"id": "x", "text": "Die Leute sahen den Vulkan.", "metadata": {"language": "deu_Latn"}})
    docs.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    words = keywords_from_corpus([docs], "eng_Latn", max_doc_share=0.4)
    assert {"volcano", "glacier", "lanterns", "village", "river"} <= set(words)
    assert "the" not in words and "saw" not in words  # in every document: not a keyword
    assert "vulkan" not in words


def test_output_checks_each_reason():
    cfg = SyntheticConfig(min_words=20)
    checker = OutputChecker(cfg)

    def req(family="story", lang="eng_Latn", i=0):
        return Request.make(
            [{"role": "user", "content": f"p{i}"}], {}, "m", {"family": family, "language": lang}
        )

    assert checker.check(req(), EN_TEXT) == (None, {"language_score": pytest.approx(1.0, abs=0.05)})
    assert checker.check(req(i=1), EN_TEXT)[0] == "exact_duplicate"
    assert checker.check(req(i=2), EN_TEXT.replace("quiet ", "").replace("tiny ", ""))[0] == "near_duplicate"
    assert checker.check(req(i=3), DE_TEXT) == ("wrong_language", {"language_score": pytest.approx(1.0, abs=0.05),
                                                                  "predicted_language": "deu_Latn"})  # fmt: skip
    assert checker.check(req(lang="deu_Latn", i=4), DE_TEXT)[0] is None
    assert checker.check(req(i=5), "Too short to be useful.")[0] == "too_short"
    assert checker.check(req(i=6), "I'm sorry, but I can't write that story. " + EN_TEXT)[0] == "refusal"
    assert checker.check(req(i=7), "  \n")[0] == "empty"
    sample = (
        "User: Why do cats purr?\nAssistant: Cats purr when the muscles of the voice box twitch very quickly, "
        "which makes the air vibrate as they breathe in and out. Most cats purr when they feel safe and warm, "
        "but some also purr when they are hurt, because the steady rhythm seems to calm them down."
    )
    reason, info = checker.check(req("fewshot", i=8), sample)
    assert reason is None and [m["role"] for m in info["messages"]] == ["user", "assistant"]
    assert checker.check(req("fewshot", i=9), "Here is the created sample. " + sample)[0] == "mentions_sample"
    assert checker.check(req("fewshot", i=10), EN_TEXT + " Another fact.")[0] == "bad_format"
    assert parse_sample("User: hi\nAssistant: hello") == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]


def test_request_cache_persists_and_failures_clear(tmp_path):
    db = RequestCache(tmp_path / "c.sqlite")
    db.record(Outcome("k1", None, "http_500: boom", 3))
    db.record(Outcome("k2", "text two", None, 1, "stop", {"completion_tokens": 2}))
    db.close()
    db = RequestCache(tmp_path / "c.sqlite")
    assert db.keys() == {"k2"} and db.failure("k1") == {"error": "http_500: boom", "attempts": 3}
    db.record(Outcome("k1", "text one", None, 2))
    assert db.keys() == {"k1", "k2"} and db.failure("k1") is None
    assert db.get("k2")["usage"] == {"completion_tokens": 2}
    db.close()


def test_rate_limiter_spaces_request_starts():
    async def starts():
        limiter = RateLimiter(20.0)
        t0 = time.monotonic()
        await asyncio.gather(*(limiter.wait() for _ in range(5)))
        return time.monotonic() - t0

    assert asyncio.run(starts()) >= 0.19


class CountingBackend:
    """Wraps a backend and records which request keys reach it."""

    def __init__(self, inner):
        self.inner, self.keys = inner, []

    def run(self, requests, on_outcome):
        self.keys += [r.key for r in requests]
        return self.inner.run(requests, on_outcome)


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory, qwen_tokenizer):
    from linguabridge.config import ModelConfig
    from linguabridge.models import build_tiny_qwen2

    path = tmp_path_factory.mktemp("tiny-chat")
    model = build_tiny_qwen2(ModelConfig(), len(qwen_tokenizer), seed=0)
    model.save_pretrained(path)
    qwen_tokenizer.save_pretrained(path)
    return path


def test_hf_backend_end_to_end_and_rerun_sends_nothing(tmp_path, tiny_chat_model):
    from linguabridge.data.generation import HFBackend

    cfg = cfg_for(tmp_path, backend="hf", model=str(tiny_chat_model), n_per_language=4, max_tokens=12,
                  families=["story", "explanation"])  # fmt: skip
    backend = CountingBackend(HFBackend(str(tiny_chat_model), batch_size=2))
    stats = run_synthetic(cfg, ["eng_Latn"], tmp_path / "out", seed=0, backend=backend)
    assert len(backend.keys) == 4 and stats["requests"]["succeeded"] == 4 and stats["failed"] == 0
    # a random-weight model writes noise: every output is checked and kept with its reason, none lost
    assert stats["accepted"] + sum(stats["rejected"].values()) == 4
    with gzip.open(tmp_path / "out" / "rejected" / "part-00000.jsonl.gz", "rt") as fh:
        rows = [json.loads(line) for line in fh]
    # which check noise fails depends on the BLAS/thread layout that decoded it; any content-quality reason is right
    noise_reasons = {
        "empty",
        "too_short",
        "wrong_language",
        "low_language_score",
        "exact_duplicate",
        "near_duplicate",
    }
    assert all(r["reject_reason"] in noise_reasons for r in rows), [r["reject_reason"] for r in rows]
    assert all(r["metadata"]["family"] in ("story", "explanation") for r in rows)
    again = run_synthetic(cfg, ["eng_Latn"], tmp_path / "out", seed=0, backend=backend)
    assert len(backend.keys) == 4 and again["cached_before"] == 4 and again["requests"]["sent"] == 0


def test_missing_slot_is_a_clear_error(tmp_path):
    empty = tmp_path / "no_scenes.yaml"
    empty.write_text("replace: true\nscene: []\n", encoding="utf-8")
    cfg = cfg_for(tmp_path, families=["story"], slot_files=[str(empty)])
    with pytest.raises(ConfigError, match="needs slot 'scene'"):
        plan_requests(cfg, ["eng_Latn"], "m", 0, keywords={"eng_Latn": ["a", "b", "c", "d"]})

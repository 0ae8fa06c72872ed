"""Preference builders on real multilingual text: the labels must be right, and what cannot be labelled is
rejected with a reason (UDHR from ../shared when present, the bundled demo chats otherwise)."""

from __future__ import annotations

import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import pytest

from linguabridge.data.langid import get_identifier
from linguabridge.languages import get_language
from linguabridge.train.chats import load_conversations
from linguabridge.train.preferences import (
    build_judge_pairs,
    build_language_consistency_pairs,
    build_translation_quality_pairs,
    chrf_pp,
    parallel_group,
)
from linguabridge.train.sft_data import language_name

DEMO = Path(str(resources.files("linguabridge").joinpath("assets/demo")))
LANGS = [
    "eng_Latn",
    "zho_Hans",
    "arb_Arab",
    "rus_Cyrl",
    "tha_Thai",
    "vie_Latn",
    "npi_Deva",
    "kaz_Cyrl",
    "ind_Latn",
    "zsm_Latn",
]


def _udhr(shared_dir: Path) -> dict[tuple[str, int], str]:
    rows = [
        json.loads(x) for x in (shared_dir / "data/udhr/udhr-articles-1-15.jsonl").read_text().splitlines()
    ]
    return {(r["lang"], r["article"]): r["text"] for r in rows}


def _udhr_chats(shared_dir: Path) -> list[dict]:
    """A request in language L (article N) answered in L (article N+1): parallel across languages by N."""
    udhr = _udhr(shared_dir)
    return [
        {
            "id": f"udhr.{lang}.{n:02d}",
            "language": lang,
            "messages": [
                {"role": "user", "content": udhr[lang, n].split("\n")[0]},
                {"role": "assistant", "content": udhr[lang, n + 1]},
            ],
        }
        for lang in LANGS
        for n in range(1, 9)
    ]


def _check_language_consistency(convs: list[dict]) -> dict:
    lid = get_identifier("py3langid")
    dropped: list[dict] = []
    pairs = build_language_consistency_pairs(convs, seed=7, code_switch_fraction=0.5, rejected=dropped)
    by_id = {c["id"]: c for c in convs}
    assert len(pairs) + len(dropped) == len(convs)  # every chat is a pair or a reason
    assert all(d["reject_reason"] for d in dropped)
    kinds = {"off_target": 0, "code_switched": 0}
    for p in pairs:
        conv = by_id[p["id"].split("-vs-")[0]]
        lang = conv["language"]
        assert p["language"] == lang and p["prompt"] == conv["messages"][:-1]
        chosen, rejected = p["chosen"][0]["content"], p["rejected"][0]["content"]
        assert chosen == conv["messages"][-1]["content"]
        assert lid.predict(chosen).language == lang  # chosen: the requested language
        other = by_id[p["id"].split("-vs-")[1]]
        assert other["language"] == p["rejected_language"] != lang
        assert p["parallel"] and parallel_group(other) == parallel_group(conv)  # same request, other language
        foreign = other["messages"][-1]["content"]
        if p["rejected_kind"] == "off_target":
            assert rejected == foreign and lid.predict(rejected).language != lang
        else:  # code-switched: starts in the requested language, drifts into the other one
            assert rejected != chosen and rejected != foreign
            head = len(os.path.commonprefix([rejected, chosen]))
            tail = len(os.path.commonprefix([rejected[::-1], foreign[::-1]]))
            assert (
                head > 0 and tail > 0 and head + tail >= len(rejected) - 1
            )  # chosen's start + foreign's end
            assert lid.predict(rejected[-tail:]).language != lang
        kinds[p["rejected_kind"]] += 1
    assert kinds["off_target"] > 0 and kinds["code_switched"] > 0
    return {"pairs": len(pairs), "dropped": dropped, **kinds}


def test_language_consistency_pairs_on_udhr(shared_dir):
    res = _check_language_consistency(_udhr_chats(shared_dir))
    assert res["pairs"] >= 0.8 * 80
    # Indonesian and Malay confuse language ID: such chats are dropped with the reason, never mislabelled
    reasons = {d["reject_reason"] for d in res["dropped"]}
    assert reasons <= {"chosen_identified_as_zsm_Latn", "chosen_identified_as_ind_Latn",
                       "foreign_answer_identified_as_ind_Latn", "foreign_answer_identified_as_zsm_Latn"}  # fmt: skip


def test_language_consistency_pairs_on_demo_chats():
    res = _check_language_consistency(load_conversations([DEMO / "sft.jsonl"]))
    assert res["pairs"] >= 56  # 64 chats in 8 languages


def _degrade(text: str) -> str:
    """A good but imperfect translation: the reference without its last clause."""
    cut = max(text.rfind(","), text.rfind("，"), text.rfind("、"), int(len(text) * 0.85))
    return text[:cut]


def test_translation_quality_pairs_pick_best_and_worst_by_chrf(shared_dir):
    udhr = _udhr(shared_dir)
    items, expect = [], {}
    for lang in [
        "zho_Hans",
        "tha_Thai",
        "rus_Cyrl",
        "arb_Arab",
        "deu_Latn",
        "kaz_Cyrl",
        "npi_Deva",
        "jpn_Jpan",
    ]:
        for n in (1, 3, 6):
            ref = udhr[lang, n]
            cands = {
                "near_reference": _degrade(ref),
                "wrong_article": udhr[lang, n + 5],
                "untranslated": udhr["eng_Latn", n],
                "half": ref[: len(ref) // 2],
            }
            items.append({"id": f"{lang}-{n}", "src_lang": "eng_Latn", "tgt_lang": lang, "src": udhr["eng_Latn", n],
                          "ref": ref, "candidates": list(cands.values())})  # fmt: skip
            expect[f"tq-{lang}-{n}"] = cands
    dropped: list[dict] = []
    pairs = build_translation_quality_pairs(items, min_margin=5.0, rejected=dropped)
    assert len(pairs) == len(items) and not dropped
    for p in pairs:
        cands = expect[p["id"]]
        assert p["chosen"][0]["content"] == cands["near_reference"].strip()  # candidates are stripped
        assert p["rejected"][0]["content"] in (cands["wrong_article"].strip(), cands["untranslated"].strip())
        assert p["scores"]["chosen"] - p["scores"]["rejected"] >= 5.0
        item = next(i for i in items if f"tq-{i['id']}" == p["id"])
        assert p["prompt"][0]["content"].endswith(item["src"])
        assert language_name(p["language"], "eng_Latn") in p["prompt"][0]["content"]


def test_translation_quality_ties_are_rejected_and_qe_hook_is_used():
    lid = get_identifier("py3langid")
    ru = "Этот дом очень маленький, но в нём живёт большая и дружная семья."
    en = "This house is very small, but a big and friendly family lives in it."
    item = {"id": "x", "src_lang": "eng_Latn", "tgt_lang": "rus_Cyrl", "src": en, "ref": ru,
            "candidates": [ru[:-1] + "!", ru]}  # fmt: skip
    dropped: list[dict] = []
    assert build_translation_quality_pairs([item], min_margin=50, rejected=dropped) == []
    assert dropped[0]["reject_reason"] == "candidates_too_close"

    def qe(src, hyp, src_lang, tgt_lang):  # reference-free: reward the target language
        return 1.0 if lid.predict(hyp).language == tgt_lang else 0.0

    item2 = item | {"ref": "", "candidates": [en, ru]}
    pairs = build_translation_quality_pairs([item2], min_margin=0.5, qe=qe)
    assert pairs[0]["chosen"][0]["content"] == ru and pairs[0]["rejected"][0]["content"] == en
    assert pairs[0]["scorer"] == "qe"
    assert chrf_pp(ru, ru) == pytest.approx(100.0)


class _JudgeServer:
    """OpenAI-compatible /v1/chat/completions that grades like a strict judge: 9 when the answer is in the
    requested language (by language ID), 2 otherwise. The first request gets an HTTP 500 (retried)."""

    def __init__(self):
        self.calls = 0
        lid = get_identifier("py3langid")
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.calls += 1
                if server.calls == 1:
                    return self._send(500, {"error": "injected"})
                prompt = body["messages"][0]["content"]
                lang = re.search(r"answer must be in (.+?);", prompt).group(1)
                answer = prompt.split("[Answer]\n", 1)[1].rsplit("\n\nReply with only", 1)[0]
                pred = lid.predict(answer).language
                score = 9 if pred and get_language(pred).name == lang else 2
                self._send(200, {"choices": [{"message": {"role": "assistant", "content": f"Score: {score}"},
                                              "finish_reason": "stop"}]})  # fmt: skip

            def _send(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_judge_pairs_through_an_openai_compatible_server_cached_and_resumable(tmp_path):
    from linguabridge.data.openai_backend import OpenAIBackend

    convs = [c for c in load_conversations([DEMO / "sft.jsonl"]) if c["id"].endswith(("-01", "-02", "-03"))]
    by_group = {}
    for c in convs:
        by_group.setdefault(parallel_group(c), {})[c["language"]] = c
    items = []
    for c in convs:
        other = by_group[parallel_group(c)]["eng_Latn" if c["language"] != "eng_Latn" else "zho_Hans"]
        items.append({"id": c["id"], "language": c["language"], "prompt": c["messages"][:-1],
                      "candidates": [other["messages"][-1]["content"], c["messages"][-1]["content"]]})  # fmt: skip
    server = _JudgeServer()
    try:
        backend = OpenAIBackend(server.url, max_retries=2, timeout_s=20, concurrency=4)
        dropped: list[dict] = []
        pairs, counters = build_judge_pairs(
            items, backend, tmp_path / "judge.sqlite", "judge-x", rejected=dropped
        )
        assert len(pairs) == len(items) and not dropped
        for p, c in zip(pairs, convs, strict=True):
            assert (
                p["chosen"][0]["content"] == c["messages"][-1]["content"]
            )  # the answer in the asked language
            assert p["scores"] == {"chosen": 9.0, "rejected": 2.0}
        assert counters["sent"] == 2 * len(items) and counters["retries"] == 1 and counters["failed"] == 0
        calls = server.calls
        again, counters2 = build_judge_pairs(items, backend, tmp_path / "judge.sqlite", "judge-x")
        assert again == pairs and server.calls == calls and counters2["sent"] == 0  # all from the cache
    finally:
        server.close()


def test_build_preference_set_writes_pairs_rejections_and_stats(tmp_path, qwen_tokenizer):
    """The DPO stage's builder run: language consistency on the demo chats plus translation quality with
    candidates sampled from a (random, tiny) model; every item ends as a pair or a rejection with a reason."""
    from linguabridge.config import ModelConfig, PreferenceConfig
    from linguabridge.io import JsonlWriter
    from linguabridge.models import build_tiny_qwen2
    from linguabridge.train.preferences import build_preference_set

    bitext = [json.loads(x) for x in (DEMO / "parallel.jsonl").read_text().splitlines()][:3]
    with JsonlWriter(tmp_path / "kept" / "part-00000.jsonl.gz") as w:
        for p in bitext:
            w.write(p)
    cfg = PreferenceConfig(builders=["language_consistency", "translation_quality"], translation_pairs=3,
                           candidates=2, candidate_max_tokens=6, min_chrf_margin=0.0)  # fmt: skip
    model = build_tiny_qwen2(ModelConfig(), len(qwen_tokenizer), seed=0)
    chats = load_conversations([DEMO / "sft.jsonl"])
    pairs = build_preference_set(
        cfg, chats, tmp_path / "kept", model, qwen_tokenizer, tmp_path / "dpo", seed=0
    )
    stats = json.loads((tmp_path / "dpo" / "pairs_stats.json").read_text())
    written = (tmp_path / "dpo" / "pairs.jsonl").read_text().splitlines()
    rejected = [json.loads(x) for x in (tmp_path / "dpo" / "pairs_rejected.jsonl").read_text().splitlines()]
    assert len(written) == len(pairs) == stats["pairs"]
    lc, tq = stats["language_consistency"], stats["translation_quality"]
    assert lc["pairs"] + sum(lc["rejected"].values()) == len(chats)
    assert tq["pairs"] + sum(tq["rejected"].values()) == 3
    assert all(r["reject_reason"] and r["builder"] for r in rejected)
    assert {p["builder"] for p in pairs} <= {"language_consistency", "translation_quality"}

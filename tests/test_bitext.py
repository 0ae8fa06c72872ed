"""Bitext filters (one rule at a time), dedup, margin scoring, balancing, accounting and rendering."""

from __future__ import annotations

import gzip
import json
import sys
import types
import zlib

import numpy as np
import pytest

from linguabridge.config import BitextConfig, DataConfig
from linguabridge.data.bitext.balance import orient
from linguabridge.data.bitext.filter import filter_pairs
from linguabridge.data.bitext.render import TEMPLATES, render_dir, render_pairs
from linguabridge.data.bitext.rules import (
    PairDeduplicator,
    PairRules,
    length_factor,
    numbers,
    script_fraction,
)
from linguabridge.data.embeddings import CachedEncoder, margin_scores
from linguabridge.errors import ConfigError

EN = "The doctor told him to rest for three days before going back to work."
DE = "Der Arzt sagte ihm, er solle sich drei Tage ausruhen, bevor er wieder arbeiten geht."
RU = "Врач сказал ему отдохнуть три дня, прежде чем вернуться на работу."
TH = "หมอบอกให้เขาพักผ่อนสามวันก่อนกลับไปทำงาน"
ZH = "医生让他休息三天再回去工作。"
IT = "Il medico gli ha detto di riposare per tre giorni prima di tornare al lavoro."


def pair(src, tgt, sl="eng_Latn", tl="deu_Latn", pid="p"):
    return {"id": pid, "src_lang": sl, "tgt_lang": tl, "src": src, "tgt": tgt}


@pytest.fixture(scope="module")
def rules():
    return PairRules(BitextConfig(semantic="none"))


def judge(rules, p):
    return rules.judge(p, {})


def test_good_pairs_pass_every_rule(rules):
    for p in (
        pair(EN, DE),
        pair(EN, RU, tl="rus_Cyrl"),
        pair(EN, TH, tl="tha_Thai"),
        pair(ZH, EN, "zho_Hans", "eng_Latn"),
        pair(
            "Call 112 or visit https://example.org/help now.",
            "Rufen Sie 112 an oder besuchen Sie https://example.org/help.",
        ),
    ):
        assert judge(rules, p) is None, p


@pytest.mark.parametrize(
    ("src", "tgt", "tl", "reason"),
    [
        ("", DE, "deu_Latn", "empty_side"),
        (EN, "   ", "deu_Latn", "empty_side"),
        (EN * 20, DE * 20, "deu_Latn", "too_long"),
        (EN, EN.upper() + "!", "deu_Latn", "copy"),
        (EN, "Der Arzt sagte ihm", "deu_Latn", "char_length_ratio"),  # truncated target
        (
            EN + " " + EN,
            ZH + ZH,
            "zho_Hans",
            None,
        ),  # density factors: 2x Chinese chars is not a length problem
        (EN, RU, "deu_Latn", "tgt_wrong_script"),
        (EN, IT, "deu_Latn", "tgt_wrong_language"),  # same script, wrong language
        (
            "The meeting moved from 14 May to 21 June 2024.",
            "Das Treffen wurde vom 3. März auf den 9. April 1998 verschoben.",
            "deu_Latn",
            "number_mismatch",
        ),
        (
            "Read the guide at https://example.org/a before you start.",
            "Lesen Sie die Anleitung auf https://example.com/b bevor Sie anfangen.",
            "deu_Latn",
            "url_mismatch",
        ),
        ("!!! ??? ... ### ***", "!!! ??? ... ### ***!", "deu_Latn", "copy"),  # nothing but symbols: no text
        (
            "The committee approved the new budget for schools and hospitals.",
            "Der Ausschuss genehmigte den neuen Haushalt für Schulen und die städtischen",
            "deu_Latn",
            "terminal_punctuation_mismatch",
        ),
    ],
)
def test_each_rule_names_its_reason(rules, src, tgt, tl, reason):
    assert judge(rules, pair(src, tgt, tl=tl)) == reason


def test_punctuation_heavy_side():
    rules = PairRules(BitextConfig(semantic="none", language_id=False))
    p = pair("Hello there, my friend!", "Hallo!!! ??? ... ### *** %%% &&& $$$ !!!", tl="deu_Latn")
    assert rules.judge(p, {}) == "too_much_punctuation"


def test_script_and_length_tables():
    assert script_fraction("Привет мир", "rus_Cyrl") == 1.0
    assert script_fraction("Hello мир", "rus_Cyrl") == pytest.approx(3 / 8)
    assert script_fraction("こんにちは世界", "jpn_Jpan") == 1.0  # kana + Han both count as Japanese
    assert length_factor("zho_Hans")[0] < 0.5 and length_factor("zho_Hans")[1] is None
    assert length_factor("glg_Latn") == (1.1, 1.0)  # no row of its own: the Latin-script row
    assert numbers("१२३ and 1,000 and ٤٥") == {"123", "1000", "45"}


def test_every_script_without_spaces_has_a_length_row_without_word_ratio():
    # length_factor falls back to (1.0, 1.0) for unlisted scripts: that is only right for spaced ones.
    from linguabridge.io import read_asset_table

    unspaced = {r["script_code"] for r in read_asset_table("eval/scripts.tsv") if r["spaces"] == "no"}
    rows = {r["key"]: r["words"] for r in read_asset_table("bitext/length_factors.tsv")}
    assert unspaced and all(rows.get(script) == "" for script in unspaced)


def test_lid_ignores_short_sides_and_accepts_confusable_languages():
    rules = PairRules(BitextConfig(semantic="none"))
    # Indonesian that py3langid calls Malay is in the claimed language's group: agreement
    ind = "Setiap orang berhak atas kebebasan berpikir, berkeyakinan dan beragama."
    assert (
        rules.judge(
            pair("Everyone has the right to freedom of thought and religion.", ind, tl="ind_Latn"), {}
        )
        is None
    )
    assert rules.judge(pair("Yes, please.", "Ja, bitte.", tl="deu_Latn"), {}) is None  # too short for LID
    assert rules.counters["lid_skipped_short"] >= 2


def test_dedup_exact_reversed_and_near():
    d = PairDeduplicator("minhash", 0.7)
    long_en = "Everyone has the right to rest and leisure, including reasonable limitation of working hours."
    long_de = "Jeder hat das Recht auf Erholung und Freizeit und insbesondere auf eine vernünftige Begrenzung der Arbeitszeit."
    assert d.check(pair(long_en, long_de, pid="a")) == (None, None)
    # the same pair the other way round, with case/punctuation noise: an exact duplicate of "a"
    rev = pair(long_de.upper(), long_en + "!", "deu_Latn", "eng_Latn", pid="b")
    assert d.check(rev) == ("exact_duplicate", "a")
    near = pair(long_en.replace("reasonable ", ""), long_de, pid="c")
    assert d.check(near)[0] == "near_duplicate"
    other = pair("The museum opens at nine on weekdays.", "Das Museum öffnet werktags um neun.", pid="d")
    assert d.check(other) == (None, None)
    assert PairDeduplicator("exact", 0.7).check(near) == (None, None)


def test_margin_scores_separate_translations_from_misalignments():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(12, 16))
    topic = rng.normal(size=16) * 3  # all sentences share a topic: raw cosines bunch together
    x = base + topic
    y = base + topic + rng.normal(scale=0.3, size=base.shape)
    y[[3, 7]] = y[[7, 3]]  # two misaligned pairs
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    cos, margin = margin_scores(x.astype(np.float32), y.astype(np.float32), k=4)
    good = [i for i in range(12) if i not in (3, 7)]
    assert cos.min() > 0.5  # a raw cosine threshold cannot tell them apart...
    assert margin[good].min() > 1.0 > margin[[3, 7]].max()  # ...the margin can
    with pytest.raises(ValueError):
        margin_scores(x[:3], y[:4])


class MeaningEncoder:
    """Test double of a perfect multilingual encoder: a sentence and its translation share a meaning vector
    (all vectors also share a topic, so raw cosines bunch together as real ones do). Counts texts encoded."""

    name = "meaning-table"

    def __init__(self, groups):
        self.meaning = {text: k for k, group in enumerate(groups) for text in group}
        self.calls = 0

    def encode(self, texts):
        self.calls += len(texts)
        out = np.full((len(texts), 32), 0.4, dtype=np.float32)
        for i, t in enumerate(texts):
            k = self.meaning.get(t, zlib.crc32(t.encode()) % 32)
            out[i, k] += 1.0
            out[i, zlib.crc32(t.encode()) % 32] += 0.1  # the two languages are not identical
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_cached_encoder_encodes_each_text_once():
    enc = MeaningEncoder([])
    cached = CachedEncoder(enc, max_entries=3, batch_size=2)
    a = cached.encode(["x1 text", "x2 text", "x1 text"])
    assert enc.calls == 2 and np.allclose(a[0], a[2])
    cached.encode(["x1 text", "x3 text", "x4 text"])
    assert enc.calls == 4 and len(cached._cache) == 3  # LRU bound holds


def _write(tmp_path, rows, name="in.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def _read(path):
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


SENTS = [
    (
        "The river flooded the old bridge last spring.",
        "Der Fluss überflutete letzten Frühling die alte Brücke.",
    ),
    ("My sister plays the violin in an orchestra.", "Meine Schwester spielt Geige in einem Orchester."),
    (
        "We bought fresh bread at the market this morning.",
        "Wir haben heute Morgen frisches Brot auf dem Markt gekauft.",
    ),
    ("The library closes early on Fridays.", "Die Bibliothek schließt freitags früh."),
    ("He forgot his umbrella on the train again.", "Er hat seinen Regenschirm wieder im Zug vergessen."),
    ("The children built a snowman in the garden.", "Die Kinder bauten im Garten einen Schneemann."),
]


def test_filter_accounts_for_every_pair_and_balances_directions(tmp_path):
    rows = [pair(e, d, pid=f"g{i}") for i, (e, d) in enumerate(SENTS)]
    rows.append(pair(SENTS[0][0], SENTS[0][0], pid="copy"))
    rows.append(pair(SENTS[1][1], SENTS[1][0], "deu_Latn", "eng_Latn", pid="dup-reversed"))
    path = _write(tmp_path, rows)
    (tmp_path / "bad.jsonl").write_text('{"src": "x"\n', encoding="utf-8")
    cfg = BitextConfig(semantic="none", directions="both", max_per_direction=4)
    stats = filter_pairs([path, tmp_path / "bad.jsonl"], tmp_path / "out", cfg, seed=3)
    kept = _read(tmp_path / "out" / "kept" / "part-00000.jsonl.gz")
    rejected = _read(tmp_path / "out" / "rejected" / "part-00000.jsonl.gz")
    assert stats["inputs"] == 8 and stats["quarantined"] == 1
    assert {r["id"]: r["reject_reason"] for r in rejected if r["reject_reason"] != "over_direction_cap"} == {
        "copy": "copy",
        "dup-reversed": "exact_duplicate",
    }
    # 6 good pairs in both directions = 12 oriented pairs, capped at 4 per direction
    assert stats["kept_input_pairs"] == 6 and stats["kept"] == 8 == len(kept)
    assert directions_of(kept) == {"eng_Latn-deu_Latn": 4, "deu_Latn-eng_Latn": 4}
    assert sum(r["reject_reason"] == "over_direction_cap" for r in rejected) == 4
    assert stats["rejected"] == {"copy": 1, "exact_duplicate": 1, "over_direction_cap": 4}
    assert stats["directions"]["eng_Latn-deu_Latn"]["input"] == 7
    # nothing lost: every input is kept (in some direction), rejected or quarantined
    accounted = {r["id"].removesuffix("~rev") for r in kept + rejected}
    assert accounted == {r["id"] for r in rows}
    assert not (tmp_path / "out" / "_work").exists()


def directions_of(rows):
    out: dict[str, int] = {}
    for r in rows:
        key = f"{r['src_lang']}-{r['tgt_lang']}"
        out[key] = out.get(key, 0) + 1
    return out


def test_semantic_stage_uses_margin_and_qe_hook(tmp_path, monkeypatch):
    rows = [pair(e, d, pid=f"g{i}") for i, (e, d) in enumerate(SENTS)]
    rows.append(pair(SENTS[2][0], SENTS[4][1], pid="misaligned"))
    path = _write(tmp_path, rows)
    module = types.ModuleType("my_qe")
    module.score = lambda pairs: [0.0 if p["id"] == "g5" else 1.0 for p in pairs]
    monkeypatch.setitem(sys.modules, "my_qe", module)
    enc = MeaningEncoder(SENTS)
    cfg = BitextConfig(min_pool=4, min_margin=1.0, qe_scorer="my_qe:score", min_qe=0.5)
    stats = filter_pairs([path], tmp_path / "out", cfg, encoder=enc)
    rejected = {r["id"]: r for r in _read(tmp_path / "out" / "rejected" / "part-00000.jsonl.gz")}
    kept = _read(tmp_path / "out" / "kept" / "part-00000.jsonl.gz")
    assert rejected["misaligned"]["reject_reason"] == "low_margin"
    assert rejected["misaligned"]["scores"]["margin"] < 1.0
    assert rejected["g5"]["reject_reason"] == "low_qe" and rejected["g5"]["scores"]["qe"] == 0.0
    assert all(r["scores"]["margin"] >= 1.0 and "qe" in r["scores"] for r in kept)
    assert stats["semantic"]["scored"] == 7 and stats["semantic"]["encoder"] == "meaning-table"
    assert enc.calls == 12  # every distinct text encoded once (two texts occur twice)
    with pytest.raises(ConfigError, match="module:function"):
        filter_pairs([path], tmp_path / "out2", BitextConfig(qe_scorer="nocolon"), encoder=enc)


def test_small_language_pairs_are_kept_unscored_and_counted(tmp_path):
    path = _write(tmp_path, [pair(e, d, pid=f"g{i}") for i, (e, d) in enumerate(SENTS[:3])])
    stats = filter_pairs([path], tmp_path / "out", BitextConfig(min_pool=8), encoder=MeaningEncoder(SENTS))
    assert stats["kept"] == 3 and stats["semantic"]["unscored_small_bucket"] == 3


def test_orient_modes():
    p = pair(EN, DE, pid="x")
    assert orient(p, "as_given", 0) == [p]
    both = orient(p, "both", 0)
    assert [q["src_lang"] for q in both] == ["eng_Latn", "deu_Latn"] and both[1]["src"] == DE
    ids = [f"id{i}" for i in range(200)]
    split = [orient(pair(EN, DE, pid=i), "split", 7)[0]["src_lang"] for i in ids]
    assert 70 < split.count("eng_Latn") < 130  # about half each way...
    assert split == [orient(pair(EN, DE, pid=i), "split", 7)[0]["src_lang"] for i in ids]  # ...reproducibly


def test_config_validates_direction_caps():
    cfg = BitextConfig(direction_caps={"en-th": 5})
    assert cfg.direction_caps == {"eng_Latn-tha_Thai": 5}
    with pytest.raises(ValueError):
        BitextConfig(direction_caps={"english": 5})
    assert DataConfig().bitext.semantic == "margin"


def test_render_templates_names_seed_and_packing(tmp_path):
    pairs = [pair(e, d, pid=f"g{i}") for i, (e, d) in enumerate(SENTS)]
    pairs.append(pair(ZH, EN, "zho_Hans", "eng_Latn", pid="z"))
    docs = list(render_pairs(pairs, seed=5))
    assert len(docs) == 7 and len(TEMPLATES) == 11
    for doc, p in zip(docs, pairs, strict=True):
        tid = doc.metadata["template"]
        assert doc.id == f"{p['id']}-{tid}" and doc.metadata["pair_ids"] == [p["id"]]
        assert p["src"] in doc.text and p["tgt"] in doc.text
        assert doc.metadata["source"] == "parallel" and doc.metadata["language"] == p["tgt_lang"]
    z = docs[-1]
    assert "Chinese (Simplified)" in z.text or z.metadata["template"] in "HIJ"  # names, never codes
    assert "zho_Hans" not in z.text and "eng_Latn" not in z.text
    assert [d.text for d in render_pairs(pairs, seed=5)] == [d.text for d in docs]
    rng_ids = {d.metadata["template"] for d in render_pairs(pairs * 20, seed=1)}
    assert rng_ids == set("ABCDEFGHIJK")
    only_c = list(render_pairs(pairs[:2], seed=0, templates="C"))
    assert only_c[0].text == (
        f"Translate the text from English to German:\nEnglish text: {SENTS[0][0]}\nGerman text: {SENTS[0][1]}"
    )
    packed = list(render_pairs(pairs, seed=0, pairs_per_document=4))
    assert [len(d.metadata["pair_ids"]) for d in packed] == [4, 2, 1]  # per direction, leftovers flushed
    assert packed[0].text.count("\n\n") == 3
    with pytest.raises(ConfigError, match="unknown ids Z"):
        list(render_pairs(pairs, seed=0, templates="AZ"))


def test_render_dir_reads_filter_output(tmp_path):
    rows = [pair(e, d, pid=f"g{i}") for i, (e, d) in enumerate(SENTS)]
    filter_pairs([_write(tmp_path, rows)], tmp_path / "f", BitextConfig(semantic="none"))
    stats = render_dir(tmp_path / "f", tmp_path / "r", seed=0, pairs_per_document=2)
    assert stats["documents"] == 3 and stats["pairs"] == 6 and sum(stats["templates"].values()) == 3
    assert len(_read(tmp_path / "r" / "part-00000.jsonl.gz")) == 3


def test_cli_filter_then_render(tmp_path):
    from typer.testing import CliRunner

    from linguabridge.cli.main import app

    tsv = tmp_path / "pairs.en-de.tsv"
    tsv.write_text("".join(f"{e}\t{d}\n" for e, d in SENTS) + f"{EN}\t{EN}\n", encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(app, ["data", "bitext", "filter", str(tsv), "--out", str(tmp_path / "f"),
                              "--semantic", "none", "--set", "data.bitext.directions=both"])  # fmt: skip
    assert res.exit_code == 0, res.output
    stats = json.loads((tmp_path / "f" / "stats.json").read_text())
    assert stats["kept"] == 12 and stats["rejected"] == {"copy": 1}
    res = runner.invoke(app, ["data", "bitext", "render", str(tmp_path / "f"), "--out", str(tmp_path / "r"),
                              "--templates", "AK", "--pairs-per-document", "3"])  # fmt: skip
    assert res.exit_code == 0, res.output
    docs = _read(tmp_path / "r" / "part-00000.jsonl.gz")
    assert len(docs) == 4 and {d["metadata"]["template"] for d in docs} <= {"A", "K"}
    res = runner.invoke(
        app, ["data", "bitext", "render", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]
    )
    assert res.exit_code != 0 and "run `linguabridge data bitext filter` first" in str(res.exception)

"""Filters, segmentation, language ID, PII and thresholds: behaviour per rule and parity with datatrove."""

from __future__ import annotations

import random

import pytest

from linguabridge.data.calibrate import derive_rules, write_rules_table
from linguabridge.data.filters import (
    FineWebLines,
    GopherQuality,
    GopherRepetition,
    ScriptConsistency,
    UrlFilter,
)
from linguabridge.data.filters.gopher import _NGrams
from linguabridge.data.langid import get_identifier
from linguabridge.data.pii import redact
from linguabridge.data.records import Document
from linguabridge.data.segment import get_segmenter, words
from linguabridge.data.text import Analysis, normalise
from linguabridge.data.thresholds import RulesBook
from linguabridge.errors import ConfigError
from linguabridge.languages import marco_languages


def _run(f, text, lang="eng_Latn", **over):
    rules = RulesBook(overrides={lang: over} if over else None).get(lang)
    scores: dict = {}
    return f(Document("d", text), Analysis(text, lang), rules, scores), scores


def test_ngram_repetition_matches_datatrove_definitions():
    dt = pytest.importorskip("datatrove.pipeline.filters.gopher_repetition_filter")
    rng = random.Random(0)
    for trial in range(40):
        vocab = [f"w{i}" * rng.randint(1, 3) for i in range(rng.randint(3, 30))]
        ws = [rng.choice(vocab) for _ in range(rng.randint(10, 200))]
        grams = _NGrams(ws)
        for n in range(5, 11):
            assert grams.duplicated_chars(n) == dt.find_all_duplicate(ws, n), (trial, n)
        for n in (2, 3, 4):
            ref = dt.find_top_duplicate(dt.get_n_grams(ws, n))
            top = max(__import__("collections").Counter(dt.get_n_grams(ws, n)).values())
            assert grams.top_share(n) == (ref if top > 1 else 0), (trial, n)


def test_gopher_and_fineweb_rules_reject_what_they_should():
    good = (
        "\n".join(
            "The right of every person to take part in the government of the country is equal for all."
            for _ in range(1)
        )
        + " "
        + " ".join(
            f"Each citizen has a duty to the community number {i} in which the person lives."
            for i in range(6)
        )
    )
    assert _run(GopherQuality(20), good)[0] is None
    assert _run(GopherQuality(20), "word " * 10)[0] == "too_few_words"
    assert _run(GopherQuality(5), "# tag " * 30)[0] == "too_many_hashes"
    assert _run(GopherQuality(5), " ".join(["xylophone quintessential"] * 20))[0] in {
        "avg_word_length_high",
        "stop_words",
    }
    reason, scores = _run(
        GopherQuality(20),
        good.replace(" the ", " ")
        .replace(" to ", " ")
        .replace(" of ", " ")
        .replace(" and ", " ")
        .replace(" with ", " ")
        .replace(" have ", " ")
        .replace("The ", ""),
    )
    assert reason == "stop_words" and scores["stop_words"] < 2
    assert _run(GopherRepetition(), "\n".join(["Same line here."] * 5 + ["Other."]))[0] == "dup_line_frac"
    assert _run(GopherRepetition(), "buy now " * 60)[0] == "top_2_gram"
    assert _run(FineWebLines(), "\n".join(f"menu item {i}" for i in range(20)))[0] == "line_punct_ratio"
    listy = "\n".join(f"Item {i}." for i in range(40))
    assert _run(FineWebLines(), listy)[0] == "list_ratio"


def test_script_consistency():
    assert _run(ScriptConsistency(), "Всеобщая декларация прав человека", "eng_Latn")[0] == "script_mismatch"
    assert _run(ScriptConsistency(), "Всеобщая декларация прав человека", "rus_Cyrl")[0] is None
    assert _run(ScriptConsistency(), "人人生而自由，在尊严和权利上一律平等。", "zho_Hans")[0] is None


def test_url_filter(tmp_path):
    block = tmp_path / "block.txt"
    block.write_text("# mine\nbad.example\n/^ads\\./\n")
    f = UrlFilter([block])
    assert f(Document("1", "t", {"url": "https://sub.bad.example/x"})) == "url_blocklist"
    assert f(Document("1", "t", {"url": "http://ads.news.org/"})) == "url_blocklist"
    assert f(Document("1", "t", {"url": "http://porn-site.example/"})) == "url_blocklist"  # default list
    assert f(Document("1", "t", {"url": "https://notbad.example/"})) is None
    assert f(Document("1", "t")) is None


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("tha_Thai", "มนุษย์ทั้งหลายเกิดมามีอิสระ", ["มนุษย์", "ทั้งหลาย", "เกิด", "มา", "มีอิสระ"]),
        ("zho_Hans", "人人生而自由", ["人人", "生而自由"]),
        ("jpn_Jpan", "すべての人間は", ["すべて", "の", "人間", "は"]),
        ("lao_Laoo", "ມະນຸດທຸກຄົນ", ["ມະນຸດ", "ທຸກ", "ຄົນ"]),
        ("mya_Mymr", "လူတိုင်း", ["လူ", "တိုင်း"]),
        ("npi_Deva", "सबै व्यक्ति", ["सबै", "व्यक्ति"]),  # vowel signs stay inside words
    ],
)
def test_segmenters_give_real_words(lang, text, expected):
    seg = get_segmenter(lang)
    if seg.fallback:
        pytest.skip(seg.fallback)
    assert words(text, seg) == expected


def test_khmer_segmenter_and_fallback_reason():
    seg = get_segmenter("khm_Khmr")
    if seg.fallback is None:
        assert len(words("មនុស្សទាំងអស់កើតមកមានសេរីភាព", seg)) >= 4
    off = get_segmenter("tha_Thai", ("pythainlp",))
    assert off.name == "chars" and "disabled" in off.fallback
    assert words("แมว กิน", off) == ["แ", "ม", "ว", "ก", "ิ", "น"]


def test_language_id_codes_and_confusable_markers():
    lid = get_identifier("py3langid")
    assert lid.predict("Tiếng Việt là ngôn ngữ chính thức của Việt Nam.").language == "vie_Latn"
    ind = "Bahwa pengakuan atas martabat alamiah karena itu pemerintah harus bisa menjamin hak yang sama."
    zsm = "Bahawa pengiktirafan keluhuran kerana itu kerajaan hendaklah menjamin hak yang sama."
    assert lid.predict(ind).language == "ind_Latn" and lid.predict(ind).resolved_by == "markers:ind_zsm"
    assert lid.predict(zsm).language == "zsm_Latn"


def test_normalise_nfc_controls_spaces():
    assert normalise("Vie\u0302\u0323t\x00  Nam\u200b \r\n\n\n x ") == "Việt Nam\n\nx"


def test_pii_placeholders_and_counts():
    text = "Mail a.b@mail.example.org, server 192.168.1.20 or 2001:db8::1, phone +1 (555) 123-4567. In 1948 we had 30 articles; 10.5 percent."
    out, counts = redact(text)
    assert counts == {
        "email": 1,
        "ip": 1,
        "phone": 1,
    }  # 2001:db8::1 has "::", kept out of the simple v6 shape
    assert "<EMAIL>" in out and "<IP_ADDRESS>" in out and "<PHONE>" in out
    assert "1948" in out and "10.5" in out and "30 articles" in out
    assert redact("version 1.2.3.4567 and 999.1.1.1")[1] == {}


def test_rules_table_covers_marco_and_overrides(tmp_path):
    book = RulesBook()
    for lang in marco_languages():
        r = book.get(lang.code)
        assert r.source and r.stop_words, lang.code
    assert book.get("tha_Thai").language_score == 0.9 and book.get("zho_Hans").max_avg_word_length == 5
    assert book.get("fin_Latn").source.startswith("fineweb-2") and book.get("xho_Latn").source.startswith(
        "gopher"
    )
    over = RulesBook(overrides={"th": {"language_score": 0.5}, "*": {"dup_line_frac": 0.9}})
    assert over.get("tha_Thai").language_score == 0.5 and over.get("eng_Latn").dup_line_frac == 0.9
    with pytest.raises(ConfigError, match="unknown key"):
        RulesBook(overrides={"tha_Thai": {"langauge_score": 0.5}}).get("tha_Thai")
    rows = derive_rules(
        {"eng_Latn": [{"avg_word_length": 4 + i / 100, "language_score": 0.9} for i in range(100)]}
    )
    assert 4.0 < rows["eng_Latn"]["min_avg_word_length"] < 4.1 < 4.9 < rows["eng_Latn"]["max_avg_word_length"]
    path = tmp_path / "rules.tsv"
    write_rules_table(rows, path)
    derived = RulesBook(str(path)).get("eng_Latn")
    assert derived.min_avg_word_length == rows["eng_Latn"]["min_avg_word_length"]
    assert derived.dup_line_frac >= 0.3  # repetition rules never stricter than Gopher's

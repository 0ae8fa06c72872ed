"""Bitext readers: every format yields canonical {id, src_lang, tgt_lang, src, tgt}; bad records are quarantined."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from linguabridge.data.bitext.readers import detect_format, languages_from_name, read_bitext
from linguabridge.errors import LinguabridgeError
from linguabridge.io import Quarantined


def _split(items):
    pairs = [x for x in items if isinstance(x, dict)]
    bad = [x for x in items if isinstance(x, Quarantined)]
    return pairs, bad


def test_jsonl_flat_and_opus_translation_dict(tmp_path):
    path = tmp_path / "mixed.jsonl"
    rows = [
        {"id": "a", "src_lang": "en", "tgt_lang": "th", "src": " Hello  world ", "tgt": "สวัสดีชาวโลก"},
        {"translation": {"en": "Good morning", "fr": "Bonjour"}, "LASER_similarity": 1.2},
        {"translation": {"en_XX": "Thank you", "kk_KZ": "Рақмет"}},
        {"source": "Yes", "target": "Ja", "src_lang": "eng_Latn", "tgt_lang": "xx_Nope"},
        {"src": "no languages", "tgt": "keine Sprachen"},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\nnot json\n")
    pairs, bad = _split(list(read_bitext([path])))
    assert [(p["src_lang"], p["tgt_lang"]) for p in pairs] == [
        ("eng_Latn", "tha_Thai"),
        ("eng_Latn", "fra_Latn"),
        ("eng_Latn", "kaz_Cyrl"),
    ]
    assert pairs[0]["src"] == "Hello world" and pairs[0]["id"] == "a"
    assert pairs[1]["metadata"] == {"LASER_similarity": 1.2}
    reasons = sorted(q.reason.split(":")[0] for q in bad)
    assert len(bad) == 3 and reasons[0] == "bad JSON"
    assert any("unknown language" in q.reason for q in bad)
    assert any("no languages" in q.reason for q in bad)
    # --src-lang/--tgt-lang fill in what records lack; the claimed direction of a dict is respected
    pairs2, _ = _split(list(read_bitext([path], src_lang="fr", tgt_lang="en")))
    assert ("fra_Latn", "eng_Latn", "Bonjour", "Good morning") in [
        (p["src_lang"], p["tgt_lang"], p["src"], p["tgt"]) for p in pairs2
    ]


def test_tsv_positional_header_columns_and_names(tmp_path):
    plain = tmp_path / "corpus.en-de.tsv"
    plain.write_text("Hello\tHallo\nOne\ttwo\tthree\n\nBye\tTschüss\n", encoding="utf-8")
    pairs, bad = _split(list(read_bitext([plain])))
    assert [(p["src"], p["tgt"], p["tgt_lang"]) for p in pairs] == [
        ("Hello", "Hallo", "deu_Latn"),
        ("Bye", "Tschüss", "deu_Latn"),
    ]
    assert len(bad) == 1 and bad[0].line == 2 and "expected 2" in bad[0].reason
    header = tmp_path / "with_header.tsv"
    header.write_text("src_lang\ttgt_lang\tsrc\ttgt\nen\tvi\tThanks\tCảm ơn\n", encoding="utf-8")
    (p,) = list(read_bitext([header]))
    assert (p["src_lang"], p["tgt_lang"], p["tgt"]) == ("eng_Latn", "vie_Latn", "Cảm ơn")
    wikimatrix = tmp_path / "WikiMatrix.en-ru.tsv.gz"
    with gzip.open(wikimatrix, "wt", encoding="utf-8") as fh:
        fh.write("1.07\tCats sleep.\tКошки спят.\n")
    (p,) = list(read_bitext([wikimatrix], columns="score,src,tgt"))
    assert (p["src"], p["tgt"], p["tgt_lang"], p["metadata"]) == (
        "Cats sleep.",
        "Кошки спят.",
        "rus_Cyrl",
        {"score": "1.07"},
    )


def test_tmx_inline_codes_header_direction_and_multilingual_units(tmp_path):
    path = tmp_path / "memory.tmx"
    path.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4"><header srclang="fr" datatype="plaintext" segtype="sentence" adminlang="en"
 creationtool="t" creationtoolversion="1" o-tmf="x"/>
<body>
 <tu tuid="t1"><tuv xml:lang="en"><seg>Press <bpt i="1">&lt;b&gt;</bpt>Save<ept i="1">&lt;/b&gt;</ept> now.</seg></tuv>
     <tuv xml:lang="fr-FR"><seg>Appuyez sur <hi>Enregistrer</hi> maintenant.</seg></tuv></tu>
 <tu><tuv xml:lang="en"><seg>One</seg></tuv><tuv xml:lang="de"><seg>Eins</seg></tuv>
     <tuv xml:lang="fr"><seg>Un</seg></tuv></tu>
 <tu><tuv xml:lang="en"><seg>Only English</seg></tuv></tu>
</body></tmx>""",
        encoding="utf-8",
    )
    items = list(read_bitext([path]))
    first = items[0]
    assert isinstance(first, dict) and first["id"] == "t1"
    # header srclang decides the direction; inline native codes are dropped, <hi> text is kept
    assert (first["src_lang"], first["src"]) == ("fra_Latn", "Appuyez sur Enregistrer maintenant.")
    assert (first["tgt_lang"], first["tgt"]) == ("eng_Latn", "Press Save now.")
    assert isinstance(items[1], dict) and items[1]["src"] == "Un"  # header source + the other language
    assert isinstance(items[2], Quarantined) and "fewer than two languages" in items[2].reason
    chosen = [x for x in read_bitext([path], src_lang="en", tgt_lang="de") if isinstance(x, dict)]
    assert [(p["src"], p["tgt"]) for p in chosen] == [("One", "Eins")]
    bad = tmp_path / "broken.tmx"
    bad.write_text("<tmx><body><tu></body>", encoding="utf-8")
    (entry,) = read_bitext([bad])  # a bad file is quarantined as a file (issue #13), the run goes on
    assert entry.scope == "file" and entry.path == str(bad) and "invalid TMX" in entry.reason


def test_moses_pair_read_once_and_length_mismatch_quarantines_the_pair_of_files(tmp_path):
    (tmp_path / "news.en-kk.en").write_text("Hello\nGood night\n", encoding="utf-8")
    (tmp_path / "news.en-kk.kk").write_text("Сәлем\nҚайырлы түн\n", encoding="utf-8")
    assert detect_format(tmp_path / "news.en-kk.kk") == "moses"
    pairs = list(read_bitext([tmp_path / "news.en-kk.en", tmp_path / "news.en-kk.kk"]))
    assert [(p["src_lang"], p["tgt_lang"], p["tgt"]) for p in pairs] == [
        ("eng_Latn", "kaz_Cyrl", "Сәлем"),
        ("eng_Latn", "kaz_Cyrl", "Қайырлы түн"),
    ]
    (tmp_path / "short.en-kk.en").write_text("a\nb\nc\n", encoding="utf-8")
    (tmp_path / "short.en-kk.kk").write_text("а\nб\n", encoding="utf-8")
    (entry,) = read_bitext([tmp_path / "short.en-kk.kk"])  # counted before reading: no pair is trusted
    assert entry.scope == "file" and entry.path == str(tmp_path / "short.en-kk.en")
    assert re.search("has 3 lines but .* has 2", entry.reason) and "no record could be read" in entry.reason


def test_parquet_with_translation_struct(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "id": ["p1", "p2"],
            "translation": [{"en": "Water", "zh": "水"}, {"en": "Fire", "zh": "火"}],
        }
    )
    path = tmp_path / "opus.parquet"
    pq.write_table(table, path)
    pairs = list(read_bitext([path]))
    assert [(p["id"], p["src_lang"], p["tgt_lang"], p["tgt"]) for p in pairs] == [
        ("p1", "eng_Latn", "zho_Hans", "水"),
        ("p2", "eng_Latn", "zho_Hans", "火"),
    ]


def test_names_folders_and_errors(tmp_path):
    assert languages_from_name(tmp_path / "ccaligned.en_XX-th_TH.tsv") == ("eng_Latn", "tha_Thai")
    assert languages_from_name(tmp_path / "opus.eng_Latn-npi_Deva.jsonl") == ("eng_Latn", "npi_Deva")
    assert languages_from_name(tmp_path / "corpus.tsv") is None
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.en-fr.tsv").write_text("Yes\tOui\n", encoding="utf-8")
    (folder / "notes.md").write_text("ignored", encoding="utf-8")
    assert [p["tgt"] for p in read_bitext([folder])] == ["Oui"]
    with pytest.raises(LinguabridgeError, match="cannot tell the bitext format"):
        list(read_bitext([folder / "notes.md"]))
    with pytest.raises(LinguabridgeError, match="input not found"):
        list(read_bitext([tmp_path / "missing.tsv"]))
